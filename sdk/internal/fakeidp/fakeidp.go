// Package fakeidp is an in-process stand-in for the xszz IdP, for the SDK's
// tests: discovery, JWKS (with rotation and failure modes), authorization,
// token, introspection and end-session endpoints. It signs with go-jose.
package fakeidp

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// T is the part of testing.TB the fake IdP uses.
type T interface {
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Cleanup(func())
}

// JWKS failure modes.
const (
	JWKSOK = iota
	JWKS500
	JWKSGarbage
)

// Key is a signing key of the fake IdP.
type Key struct {
	KID     string
	Alg     jose.SignatureAlgorithm
	Private any
	Public  any
}

// Client is a registered client.
type Client struct {
	ID, Secret  string
	RedirectURI string
}

type codeGrant struct {
	clientID, redirectURI, nonce, challenge string
}

// IdP is the fake provider.
type IdP struct {
	Server *httptest.Server
	Issuer string

	mu        sync.Mutex
	keys      []*Key // published in the JWKS
	jwksMode  int
	jwksGate  chan struct{} // if non-nil, JWKS requests wait on it
	codes     map[string]codeGrant
	refresh   map[string]string // refresh token -> client id
	revoked   map[string]bool
	clients   map[string]Client
	sidSeq    int
	lastSID   string
	now       func() time.Time
	userClaim map[string]any

	JWKSRequests          atomic.Int64
	TokenRequests         atomic.Int64
	IntrospectionRequests atomic.Int64
	RefreshRequests       atomic.Int64
}

// New starts a fake IdP with one RSA key "rsa-1" and one EC key "ec-1".
func New(t T) *IdP {
	idp := &IdP{
		codes:   map[string]codeGrant{},
		refresh: map[string]string{},
		revoked: map[string]bool{},
		clients: map[string]Client{},
		now:     time.Now,
		userClaim: map[string]any{
			"sub":                   "acct-42",
			"name":                  "张三",
			"phone_number":          "+8613800138000",
			"phone_number_verified": true,
			"org": map[string]any{"id": "320000", "name": "江苏省学生资助管理中心", "level": "province",
				"region_code": "320000", "path": []string{"000000", "320000"}, "kind": "regular"},
			"roles":  []string{"staff"},
			"grants": []string{"cockpit"},
		},
	}
	idp.AddKey(t, "rsa-1", jose.RS256)
	idp.AddKey(t, "ec-1", jose.ES256)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", idp.discovery)
	mux.HandleFunc("GET /jwks", idp.jwks)
	mux.HandleFunc("GET /authorize", idp.authorize)
	mux.HandleFunc("POST /token", idp.token)
	mux.HandleFunc("POST /introspect", idp.introspect)
	mux.HandleFunc("GET /end_session", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	idp.Server = httptest.NewServer(mux)
	idp.Issuer = idp.Server.URL
	t.Cleanup(idp.Server.Close)
	return idp
}

// SetClock sets the clock used for iat/exp.
func (i *IdP) SetClock(now func() time.Time) { i.mu.Lock(); i.now = now; i.mu.Unlock() }

// RegisterClient registers a confidential client.
func (i *IdP) RegisterClient(c Client) { i.mu.Lock(); i.clients[c.ID] = c; i.mu.Unlock() }

// SetUserClaims replaces the claims of the user who signs in.
func (i *IdP) SetUserClaims(c map[string]any) { i.mu.Lock(); i.userClaim = c; i.mu.Unlock() }

// SetJWKSMode makes the JWKS endpoint answer normally, 500 or garbage.
func (i *IdP) SetJWKSMode(m int) { i.mu.Lock(); i.jwksMode = m; i.mu.Unlock() }

// SetJWKSGate makes JWKS requests block until gate is closed (nil: no gate).
func (i *IdP) SetJWKSGate(gate chan struct{}) { i.mu.Lock(); i.jwksGate = gate; i.mu.Unlock() }

// Revoke marks a token inactive for introspection.
func (i *IdP) Revoke(token string) { i.mu.Lock(); i.revoked[token] = true; i.mu.Unlock() }

// LastSID returns the sid of the last session created by /authorize.
func (i *IdP) LastSID() string { i.mu.Lock(); defer i.mu.Unlock(); return i.lastSID }

var (
	keyCacheMu sync.Mutex
	keyCache   = map[string]*Key{}
)

// AddKey generates and publishes a key. Keys are generated once per kid and
// algorithm per process, because RSA key generation is slow.
func (i *IdP) AddKey(t T, kid string, alg jose.SignatureAlgorithm) *Key {
	keyCacheMu.Lock()
	defer keyCacheMu.Unlock()
	if k, ok := keyCache[kid+"/"+string(alg)]; ok {
		i.mu.Lock()
		i.keys = append(i.keys, k)
		i.mu.Unlock()
		return k
	}
	k := &Key{KID: kid, Alg: alg}
	switch alg {
	case jose.RS256:
		pk, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		k.Private, k.Public = pk, &pk.PublicKey
	case jose.ES256:
		pk, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		k.Private, k.Public = pk, &pk.PublicKey
	default:
		t.Fatalf("fakeidp: alg %s", alg)
	}
	keyCache[kid+"/"+string(alg)] = k
	i.mu.Lock()
	i.keys = append(i.keys, k)
	i.mu.Unlock()
	return k
}

// RemoveKey drops a key from the JWKS (it may still be used to sign).
func (i *IdP) RemoveKey(kid string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	for n, k := range i.keys {
		if k.KID == kid {
			i.keys = append(i.keys[:n], i.keys[n+1:]...)
			return
		}
	}
}

// Key returns a key by kid.
func (i *IdP) Key(kid string) *Key {
	i.mu.Lock()
	defer i.mu.Unlock()
	for _, k := range i.keys {
		if k.KID == kid {
			return k
		}
	}
	return nil
}

// Sign signs claims with key k and the given typ ("" for none).
func Sign(t T, k *Key, typ string, claims map[string]any) string {
	opts := &jose.SignerOptions{}
	if typ != "" {
		opts = opts.WithType(jose.ContentType(typ))
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: k.Alg, Key: jose.JSONWebKey{Key: k.Private, KeyID: k.KID}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// AccessClaims returns typical access-token claims for client, at time now;
// over replaces or (with a nil value) deletes entries.
func (i *IdP) AccessClaims(client string, over map[string]any) map[string]any {
	i.mu.Lock()
	now := i.now()
	user := maps.Clone(i.userClaim)
	i.mu.Unlock()
	c := map[string]any{
		"iss": i.Issuer, "sub": user["sub"], "aud": []string{client}, "client_id": client,
		"scope": "openid profile org cockpit", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"jti": randString(), "org": user["org"], "roles": user["roles"], "grants": user["grants"],
	}
	return apply(c, over)
}

// IDClaims returns typical ID-token claims.
func (i *IdP) IDClaims(client, nonce string, over map[string]any) map[string]any {
	i.mu.Lock()
	now := i.now()
	user := maps.Clone(i.userClaim)
	i.mu.Unlock()
	user["iss"], user["aud"], user["iat"], user["exp"], user["auth_time"] = i.Issuer, client, now.Unix(), now.Add(time.Hour).Unix(), now.Unix()
	if nonce != "" {
		user["nonce"] = nonce
	}
	return apply(user, over)
}

// LogoutClaims returns back-channel logout-token claims.
func (i *IdP) LogoutClaims(client, sub, sid string, over map[string]any) map[string]any {
	i.mu.Lock()
	now := i.now()
	i.mu.Unlock()
	c := map[string]any{
		"iss": i.Issuer, "aud": client, "iat": now.Unix(), "exp": now.Add(2 * time.Minute).Unix(), "jti": randString(),
		"events": map[string]any{"http://schemas.openid.net/event/backchannel-logout": map[string]any{}},
	}
	if sub != "" {
		c["sub"] = sub
	}
	if sid != "" {
		c["sid"] = sid
	}
	return apply(c, over)
}

func apply(c, over map[string]any) map[string]any {
	for k, v := range over {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

func randString() string {
	b := make([]byte, 16)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (i *IdP) discovery(w http.ResponseWriter, r *http.Request) {
	u := i.Issuer
	writeJSON(w, map[string]any{
		"issuer": u, "authorization_endpoint": u + "/authorize", "token_endpoint": u + "/token",
		"jwks_uri": u + "/jwks", "end_session_endpoint": u + "/end_session",
		"introspection_endpoint": u + "/introspect", "userinfo_endpoint": u + "/userinfo",
		"revocation_endpoint": u + "/revoke",
	})
}

func (i *IdP) jwks(w http.ResponseWriter, r *http.Request) {
	i.JWKSRequests.Add(1)
	i.mu.Lock()
	gate, mode := i.jwksGate, i.jwksMode
	var set jose.JSONWebKeySet
	for _, k := range i.keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.Public, KeyID: k.KID, Algorithm: string(k.Alg), Use: "sig"})
	}
	i.mu.Unlock()
	if gate != nil {
		<-gate
	}
	switch mode {
	case JWKS500:
		http.Error(w, "boom", http.StatusInternalServerError)
	case JWKSGarbage:
		w.Write([]byte(`{"keys": [{"kty":"RSA","kid":"x"`))
	default:
		writeJSON(w, set)
	}
}

func (i *IdP) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	i.mu.Lock()
	c, ok := i.clients[q.Get("client_id")]
	i.mu.Unlock()
	if !ok || q.Get("redirect_uri") != c.RedirectURI {
		http.Error(w, "bad client or redirect_uri", http.StatusBadRequest)
		return
	}
	if q.Get("response_type") != "code" || q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	code := randString()
	i.mu.Lock()
	i.codes[code] = codeGrant{clientID: c.ID, redirectURI: c.RedirectURI, nonce: q.Get("nonce"), challenge: q.Get("code_challenge")}
	i.mu.Unlock()
	u, _ := url.Parse(c.RedirectURI)
	v := url.Values{"code": {code}, "state": {q.Get("state")}}
	u.RawQuery = v.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
}

func (i *IdP) clientAuth(r *http.Request) (Client, bool) {
	id, secret, ok := r.BasicAuth()
	if !ok {
		return Client{}, false
	}
	id, _ = url.QueryUnescape(id)
	secret, _ = url.QueryUnescape(secret)
	i.mu.Lock()
	c, ok := i.clients[id]
	i.mu.Unlock()
	return c, ok && c.Secret == secret
}

func (i *IdP) token(w http.ResponseWriter, r *http.Request) {
	i.TokenRequests.Add(1)
	c, ok := i.clientAuth(r)
	if !ok {
		w.WriteHeader(http.StatusUnauthorized)
		writeJSON(w, map[string]string{"error": "invalid_client"})
		return
	}
	r.ParseForm()
	var nonce, sid string
	switch r.PostForm.Get("grant_type") {
	case "authorization_code":
		i.mu.Lock()
		g, ok := i.codes[r.PostForm.Get("code")]
		delete(i.codes, r.PostForm.Get("code"))
		i.mu.Unlock()
		sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
		if !ok || g.clientID != c.ID || g.redirectURI != r.PostForm.Get("redirect_uri") ||
			base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge {
			w.WriteHeader(http.StatusBadRequest)
			writeJSON(w, map[string]string{"error": "invalid_grant"})
			return
		}
		nonce = g.nonce
		i.mu.Lock()
		i.sidSeq++
		sid = fmt.Sprintf("sid-%d", i.sidSeq)
		i.lastSID = sid
		i.mu.Unlock()
	case "refresh_token":
		i.RefreshRequests.Add(1)
		rt := r.PostForm.Get("refresh_token")
		i.mu.Lock()
		owner, ok := i.refresh[rt]
		delete(i.refresh, rt) // rotation
		sid = i.lastSID
		i.mu.Unlock()
		if !ok || owner != c.ID {
			w.WriteHeader(http.StatusBadRequest)
			writeJSON(w, map[string]string{"error": "invalid_grant"})
			return
		}
	default:
		w.WriteHeader(http.StatusBadRequest)
		writeJSON(w, map[string]string{"error": "unsupported_grant_type"})
		return
	}
	at := Sign(nil, i.Key("ec-1"), "at+jwt", i.AccessClaims(c.ID, nil))
	idt := Sign(nil, i.Key("rsa-1"), "JWT", i.IDClaims(c.ID, nonce, map[string]any{"sid": sid}))
	rt := randString()
	i.mu.Lock()
	i.refresh[rt] = c.ID
	i.mu.Unlock()
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, map[string]any{"access_token": at, "token_type": "Bearer", "expires_in": 3600,
		"refresh_token": rt, "id_token": idt, "scope": "openid profile org"})
}

func (i *IdP) introspect(w http.ResponseWriter, r *http.Request) {
	i.IntrospectionRequests.Add(1)
	c, ok := i.clientAuth(r)
	if !ok {
		// As the real IdP (RFC 7662 §2.3): a failed client authentication
		// is 401 invalid_client, never an answer about the token.
		w.Header().Set("WWW-Authenticate", `Basic realm="xszz"`)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		writeJSON(w, map[string]string{"error": "invalid_client"})
		return
	}
	r.ParseForm()
	tok := r.PostForm.Get("token")
	i.mu.Lock()
	revoked := i.revoked[tok]
	now := i.now()
	i.mu.Unlock()
	if revoked || tok == "" {
		writeJSON(w, map[string]any{"active": false})
		return
	}
	writeJSON(w, map[string]any{"active": true, "client_id": c.ID, "aud": []string{c.ID}, "sub": "acct-42", "scope": "openid cockpit",
		"exp": now.Add(time.Hour).Unix(), "token_type": "Bearer"})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}
