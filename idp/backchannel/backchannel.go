// Package backchannel tells relying parties that a person was signed out,
// by OpenID Connect Back-Channel Logout 1.0: a signed logout token POSTed
// to each client's registered backchannel_logout_uri, retried with backoff.
//
// Delivery is at-least-once within one process: a job still being retried
// when the process stops is lost, which is why relying parties that must
// see a revocation promptly also introspect (see README, "Revocation").
package backchannel

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/xszz/xszz/idp/client"
)

// Event is the member of the "events" claim that marks a logout token.
const Event = "http://schemas.openid.net/event/backchannel-logout"

// Signer signs logout tokens with the IdP's keys.
type Signer interface {
	Sign(ctx context.Context, alg, typ string, claims any) (string, error)
}

// Clients resolves client ids.
type Clients interface {
	Get(ctx context.Context, id string) (*client.Client, error)
}

// Config tunes delivery.
type Config struct {
	Issuer  string
	Backoff []time.Duration // waits before retries; default 1s, 5s, 30s, 2m, 10m
	Timeout time.Duration   // per POST; default 5s
	Queue   int             // pending deliveries; default 10000
	Workers int             // default 4
}

// Notifier delivers logout tokens.
type Notifier struct {
	cfg     Config
	signer  Signer
	clients Clients
	http    *http.Client
	now     func() time.Time
	log     *slog.Logger
	jobs    chan job
}

type job struct {
	clientID, sub, sid string
	at                 time.Time // when the person was signed out
	attempt            int
}

// New returns a notifier; call Run to start delivering.
func New(cfg Config, signer Signer, clients Clients, httpClient *http.Client, now func() time.Time, log *slog.Logger) *Notifier {
	if len(cfg.Backoff) == 0 {
		cfg.Backoff = []time.Duration{time.Second, 5 * time.Second, 30 * time.Second, 2 * time.Minute, 10 * time.Minute}
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.Queue == 0 {
		cfg.Queue = 10000
	}
	if cfg.Workers == 0 {
		cfg.Workers = 4
	}
	if httpClient == nil {
		// Logout URIs are registered by operators; redirects are not
		// followed so a compromised RP cannot bounce the IdP elsewhere.
		httpClient = &http.Client{Timeout: cfg.Timeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	return &Notifier{cfg: cfg, signer: signer, clients: clients, http: httpClient, now: now, log: log, jobs: make(chan job, cfg.Queue)}
}

// Notify queues a logout for sub (and the SSO session sid, if known) to
// every listed client that registered a back-channel logout URI.
func (n *Notifier) Notify(ctx context.Context, clientIDs []string, sub, sid string) {
	for _, id := range clientIDs {
		select {
		case n.jobs <- job{clientID: id, sub: sub, sid: sid, at: n.now()}:
		default:
			n.log.WarnContext(ctx, "back-channel logout queue full; dropped", "client_id", id)
		}
	}
}

// Run delivers until ctx ends.
func (n *Notifier) Run(ctx context.Context) {
	for range n.cfg.Workers {
		go n.work(ctx)
	}
	<-ctx.Done()
}

func (n *Notifier) work(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case j := <-n.jobs:
			err := n.deliver(ctx, j)
			if err == nil || err == errNoURI {
				continue
			}
			if j.attempt >= len(n.cfg.Backoff) {
				n.log.ErrorContext(ctx, "back-channel logout failed for good", "client_id", j.clientID, "attempts", j.attempt+1, "err", err)
				continue
			}
			n.log.WarnContext(ctx, "back-channel logout failed; will retry", "client_id", j.clientID, "attempt", j.attempt+1, "err", err)
			j.attempt++
			wait := n.cfg.Backoff[j.attempt-1]
			time.AfterFunc(wait, func() {
				select {
				case n.jobs <- j:
				case <-ctx.Done():
				}
			})
		}
	}
}

var errNoURI = fmt.Errorf("client has no back-channel logout URI")

// Deliver signs and posts one logout token (Back-Channel Logout §2.4–2.5)
// for a sign-out happening now.
func (n *Notifier) Deliver(ctx context.Context, clientID, sub, sid string) error {
	return n.deliver(ctx, job{clientID: clientID, sub: sub, sid: sid, at: n.now()})
}

// deliver posts j's logout token. Its iat is the time of the sign-out,
// however late a retry comes, so the relying party can tell the sessions
// it ends (begun by then) from those begun since (sdk/web keeps those);
// exp counts from the signing.
func (n *Notifier) deliver(ctx context.Context, j job) error {
	clientID, sub, sid := j.clientID, j.sub, j.sid
	cl, err := n.clients.Get(ctx, clientID)
	if err != nil {
		return fmt.Errorf("load client %q: %w", clientID, err)
	}
	if cl.BackchannelLogoutURI == "" {
		return errNoURI
	}
	var jti [16]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return fmt.Errorf("jti: %w", err)
	}
	now := n.now()
	claims := map[string]any{
		"iss": n.cfg.Issuer, "aud": cl.ID, "iat": j.at.Unix(), "exp": now.Add(2 * time.Minute).Unix(),
		"jti":    base64.RawURLEncoding.EncodeToString(jti[:]),
		"events": map[string]any{Event: map[string]any{}},
	}
	if sub != "" {
		claims["sub"] = sub
	}
	if sid != "" {
		claims["sid"] = sid
	}
	tok, err := n.signer.Sign(ctx, cl.IDTokenAlg, "logout+jwt", claims)
	if err != nil {
		return fmt.Errorf("sign logout token: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, n.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(pctx, http.MethodPost, cl.BackchannelLogoutURI, strings.NewReader(url.Values{"logout_token": {tok}}.Encode()))
	if err != nil {
		return fmt.Errorf("logout request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := n.http.Do(req)
	if err != nil {
		return fmt.Errorf("post logout token: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("relying party answered %d", resp.StatusCode)
	}
	return nil
}
