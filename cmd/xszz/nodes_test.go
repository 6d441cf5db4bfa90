package main

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/xszz/xszz/internal/testenv"
)

// TestStatelessNodes: two nodes on one PostgreSQL and one Redis serve one
// person interchangeably, as two `xszz serve` replicas behind a load
// balancer do. Every step alternates between them.
func TestStatelessNodes(t *testing.T) {
	testenv.Postgres(t)
	testenv.Redis(t)
	t.Parallel()
	env := newSharedEnv(t, postgresBackend)
	a := startNode(t, env)
	// Replicas share one public issuer; B is reached on its own port, as
	// a load balancer would reach it.
	b := startNode(t, env, func(c *Config) { c.IdP.Issuer = a.url })

	c := a.newRP(t)
	p := a.newAccount(t)
	br := a.browser(t)
	req := c.authURL()

	// Authorization request on A, SMS sent by A, code checked by B.
	_, flow := flowOf(br.visit(req.url))
	if flow == "" {
		t.Fatalf("node A did not ask for a sign-in")
	}
	code := br.sendCode(p)
	r := br.do(http.MethodPost, b.url+"/api/v1/login", jsonBody(map[string]string{"phone": p.Phone, "code": code, "flow": flow}),
		map[string]string{"Content-Type": "application/json"})
	if r.Status != http.StatusOK {
		t.Fatalf("login on node B with a code sent by node A: %s", r)
	}
	next, _ := r.json(t)["redirect_to"].(string)
	// Resumed on A with the session node B started.
	q := callback(t, br.visit(a.url+next), callbackURL)
	if q.Get("code") == "" || q.Get("iss") != a.url {
		t.Fatalf("node A after sign-in on B: %v", q)
	}

	// The code is exchanged on B.
	onB := *c.oauth
	onB.Endpoint.TokenURL = b.url + "/oauth2/token"
	tok, err := onB.Exchange(c.ctx, q.Get("code"), oauthVerifier(req))
	if err != nil {
		t.Fatalf("exchange on node B of a code issued by node A: %v", err)
	}
	if idt := c.verify(tok, req.nonce); idt.Subject != p.ID {
		t.Fatalf("ID token from node B: sub %q", idt.Subject)
	}
	if r := b.userinfo(t, http.MethodGet, tok.AccessToken); r.Status != http.StatusOK {
		t.Fatalf("userinfo on node B: %s", r)
	}

	// Refreshed on A; B sees the rotation.
	tok2, err := c.refresh(tok.RefreshToken)
	if err != nil {
		t.Fatalf("refresh on node A: %v", err)
	}
	if got := b.postAs(t, c.id, c.secret, "/oauth2/introspect", url.Values{"token": {tok2.AccessToken}}).json(t); got["active"] != true {
		t.Fatalf("node B introspecting node A's refreshed token: %v", got)
	}
	if got := b.postAs(t, c.id, c.secret, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}); got.Status != http.StatusBadRequest {
		t.Fatalf("node B accepted a refresh token node A rotated out: %s", got)
	}
}
