// Package web signs people in to server-rendered relying parties of the
// xszz IdP: authorization code flow with PKCE S256, state and nonce, an
// encrypted session cookie over a server-side SessionStore, silent refresh,
// RP-initiated logout that ends the IdP session too, and a back-channel
// logout receiver that ends local sessions by sid or sub.
//
//	auth, err := web.New(p, &web.Config{ClientID: "office", ClientSecret: secret,
//		RedirectURL: "https://office.xszz.example/callback",
//		PostLogoutRedirectURL: "https://office.xszz.example/", CookieKey: key})
//	mux.HandleFunc("GET /login", auth.Login)
//	mux.HandleFunc("GET /callback", auth.Callback)
//	mux.HandleFunc("POST /logout", auth.Logout)
//	mux.HandleFunc("POST /backchannel-logout", auth.BackChannelLogout)
//	mux.Handle("/", auth.Require(app))
package web

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"html"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/xszz/xszz/sdk"
)

const (
	loginCookieTTL  = 10 * time.Minute
	refreshAhead    = 30 * time.Second
	maxLogoutTokens = 100_000
)

// Config configures sign-in for a server-side relying party.
type Config struct {
	// ClientID and ClientSecret of the confidential client (required).
	ClientID, ClientSecret string
	// RedirectURL is the registered redirect URI served by Auth.Callback
	// (required). If it is https, cookies are Secure and use the __Host-
	// prefix.
	RedirectURL string
	// Scopes requested. Default: openid profile phone org offline_access.
	Scopes []string
	// CookieKey is the 32-byte AES-256-GCM key for the session and login
	// cookies (required). Share it between replicas; rotate it to end every
	// session.
	CookieKey []byte
	// Store keeps sessions. Default: NewMemoryStore().
	Store SessionStore
	// SessionLifetime is the absolute session lifetime. Default 8 hours.
	SessionLifetime time.Duration
	// LoginPath is where Require sends visitors without a session.
	// Default "/login".
	LoginPath string
	// PostLogoutRedirectURL is the registered post_logout_redirect_uri
	// (OpenID Connect RP-Initiated Logout 1.0 §2). Optional.
	PostLogoutRedirectURL string
	// CookieName names the session cookie; the login cookie is
	// CookieName + "-login". Default "xszz-session". Browsers do not
	// separate cookies by port, so relying parties sharing a host name
	// (127.0.0.1:8081 and :8082 in development) need different names.
	CookieName string
	// ErrorPage answers a person whose sign-in, session check or sign-out
	// failed: status and an English reason for logs (for example "sign-in
	// expired or not started; please sign in again"), so the relying
	// party can show its own page in its users' language with a way back
	// in. Default: the reason as plain text.
	ErrorPage func(rw http.ResponseWriter, r *http.Request, status int, reason string)
	// Now is the clock. Default: the Provider's clock.
	Now func() time.Time
}

// Auth signs users in with the authorization code flow, PKCE S256, state and
// nonce (OpenID Connect Core 1.0 §3.1; RFC 9700 §2.1.1), keeps their
// session, refreshes their access token, and logs them out. It is safe for
// concurrent use.
type Auth struct {
	p             *sdk.Provider
	oauth         oauth2.Config
	idv           *sdk.IDTokenVerifier
	logout        *sdk.LogoutTokenVerifier
	store         SessionStore
	seal          sealer
	secure        bool
	sessionCookie string
	loginCookie   string
	errorPage     func(rw http.ResponseWriter, r *http.Request, status int, reason string)
	lifetime      time.Duration
	loginPath     string
	postLogout    string
	now           func() time.Time

	refreshLocks [64]sync.Mutex
	seed         maphash.Seed

	jtiMu sync.Mutex
	jtis  map[string]time.Time
}

// New returns sign-in handlers for the provider.
func New(p *sdk.Provider, c *Config) (*Auth, error) {
	if c == nil || c.ClientID == "" || c.ClientSecret == "" || c.RedirectURL == "" {
		return nil, fmt.Errorf("%w: ClientID, ClientSecret and RedirectURL are required", sdk.ErrInvalidConfig)
	}
	if p.Endpoints().AuthorizationEndpoint == "" || p.Endpoints().TokenEndpoint == "" {
		return nil, fmt.Errorf("%w: provider lacks authorization or token endpoint", sdk.ErrInvalidConfig)
	}
	ru, err := url.Parse(c.RedirectURL)
	if err != nil || !ru.IsAbs() {
		return nil, fmt.Errorf("%w: RedirectURL must be absolute", sdk.ErrInvalidConfig)
	}
	seal, err := newSealer(c.CookieKey)
	if err != nil {
		return nil, err
	}
	w := &Auth{
		p: p,
		oauth: oauth2.Config{
			ClientID: c.ClientID, ClientSecret: c.ClientSecret, RedirectURL: c.RedirectURL,
			Endpoint: p.OAuth2Endpoint(), Scopes: c.Scopes,
		},
		store:      c.Store,
		seal:       seal,
		secure:     ru.Scheme == "https",
		lifetime:   c.SessionLifetime,
		loginPath:  c.LoginPath,
		postLogout: c.PostLogoutRedirectURL,
		now:        c.Now,
		seed:       maphash.MakeSeed(),
		jtis:       map[string]time.Time{},
	}
	if len(w.oauth.Scopes) == 0 {
		w.oauth.Scopes = []string{"openid", "profile", "phone", "org", "offline_access"}
	}
	if w.store == nil {
		w.store = NewMemoryStore()
	}
	if w.lifetime <= 0 {
		w.lifetime = 8 * time.Hour
	}
	if w.loginPath == "" {
		w.loginPath = "/login"
	}
	if w.now == nil {
		w.now = p.Now
	}
	vc := &sdk.Config{ClientID: c.ClientID, Now: w.now}
	w.idv = p.IDTokenVerifier(vc)
	w.logout = p.LogoutTokenVerifier(vc)
	w.sessionCookie, w.loginCookie = "xszz-session", "xszz-login"
	w.errorPage = c.ErrorPage
	if w.errorPage == nil {
		w.errorPage = func(rw http.ResponseWriter, _ *http.Request, status int, reason string) {
			http.Error(rw, reason, status)
		}
	}
	if c.CookieName != "" {
		if !validCookieName(c.CookieName) {
			return nil, fmt.Errorf("%w: CookieName %q: use letters, digits, '-' and '_'", sdk.ErrInvalidConfig, c.CookieName)
		}
		w.sessionCookie, w.loginCookie = c.CookieName, c.CookieName+"-login"
	}
	if w.secure {
		w.sessionCookie, w.loginCookie = "__Host-"+w.sessionCookie, "__Host-"+w.loginCookie
	}
	return w, nil
}

type loginState struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	ReturnTo string `json:"r"`
	Expires  int64  `json:"e"`
}

func (w *Auth) setCookie(rw http.ResponseWriter, name, value string, maxAge time.Duration) {
	c := &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true, Secure: w.secure, SameSite: http.SameSiteLaxMode}
	if maxAge > 0 {
		c.MaxAge = int(maxAge / time.Second)
	} else {
		c.MaxAge = -1
	}
	http.SetCookie(rw, c)
}

// safeReturnTo accepts only local absolute paths, so return_to cannot turn
// the relying party into an open redirector.
func safeReturnTo(s string) string {
	if s == "" || s[0] != '/' || strings.HasPrefix(s, "//") || strings.ContainsAny(s, "\\\r\n\t") {
		return "/"
	}
	return s
}

// Login starts sign-in: it stores state, nonce and the PKCE verifier in an
// encrypted short-lived cookie and redirects to the authorization endpoint.
// The query parameter return_to (a local path) is where Callback ends.
func (w *Auth) Login(rw http.ResponseWriter, r *http.Request) {
	ls := loginState{
		State:    randomString(),
		Nonce:    randomString(),
		Verifier: oauth2.GenerateVerifier(),
		ReturnTo: safeReturnTo(r.URL.Query().Get("return_to")),
		Expires:  w.now().Add(loginCookieTTL).Unix(),
	}
	b, _ := json.Marshal(ls)
	w.setCookie(rw, w.loginCookie, w.seal.seal(w.loginCookie, b), loginCookieTTL)
	u := w.oauth.AuthCodeURL(ls.State, oauth2.S256ChallengeOption(ls.Verifier), oauth2.SetAuthURLParam("nonce", ls.Nonce))
	rw.Header().Set("Cache-Control", "no-store")
	http.Redirect(rw, r, u, http.StatusFound)
}

// ctx returns a context carrying the provider's HTTP client for oauth2.
func (w *Auth) ctx(ctx context.Context) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, w.p.HTTPClient())
}

// Callback finishes sign-in at the redirect URI: it checks state, exchanges
// the code with the PKCE verifier, verifies the ID token and its nonce,
// starts a fresh session (new ID: no fixation) and redirects (303) to the
// return_to path given to Login.
func (w *Auth) Callback(rw http.ResponseWriter, r *http.Request) {
	rw.Header().Set("Cache-Control", "no-store")
	fail := func(status int, msg string) { w.errorPage(rw, r, status, msg) }
	ck, err := r.Cookie(w.loginCookie)
	if err != nil {
		fail(http.StatusBadRequest, "sign-in expired or not started; please sign in again")
		return
	}
	w.setCookie(rw, w.loginCookie, "", 0) // one use only
	var ls loginState
	plain, err := w.seal.open(w.loginCookie, ck.Value)
	if err != nil || json.Unmarshal(plain, &ls) != nil || w.now().Unix() > ls.Expires {
		fail(http.StatusBadRequest, "sign-in expired or not started; please sign in again")
		return
	}
	q := r.URL.Query()
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(ls.State)) != 1 {
		fail(http.StatusBadRequest, "sign-in state mismatch; please sign in again")
		return
	}
	if e := q.Get("error"); e != "" {
		fail(http.StatusUnauthorized, "sign-in refused: "+printable(e))
		return
	}
	code := q.Get("code")
	if code == "" {
		fail(http.StatusBadRequest, "missing code")
		return
	}
	tok, err := w.oauth.Exchange(w.ctx(r.Context()), code, oauth2.VerifierOption(ls.Verifier))
	if err != nil {
		fail(http.StatusBadGateway, "sign-in failed at the identity provider")
		return
	}
	rawID, _ := tok.Extra("id_token").(string)
	claims, err := w.idv.Verify(r.Context(), rawID, ls.Nonce)
	if err != nil {
		fail(http.StatusUnauthorized, "sign-in failed: the identity token did not verify")
		return
	}
	now := w.now()
	s := &Session{
		ID: randomString(), Subject: claims.Subject, SID: claims.SessionID, Claims: claims, IDToken: rawID,
		AccessToken: tok.AccessToken, AccessTokenExpiry: w.expiry(tok), RefreshToken: tok.RefreshToken,
		Created: now, Expires: now.Add(w.lifetime),
	}
	if err := w.store.Save(r.Context(), s); err != nil {
		fail(http.StatusInternalServerError, "could not start the session")
		return
	}
	w.setCookie(rw, w.sessionCookie, w.seal.seal(w.sessionCookie, []byte(s.ID)), w.lifetime)
	http.Redirect(rw, r, ls.ReturnTo, http.StatusSeeOther)
}

// Session returns the request's session, refreshing its access token first
// if it expires within 30 seconds and a refresh token is at hand. It
// returns ErrNoSession if there is none (or it ended, or the refresh token
// was refused).
func (w *Auth) Session(r *http.Request) (*Session, error) {
	ck, err := r.Cookie(w.sessionCookie)
	if err != nil {
		return nil, ErrNoSession
	}
	id, err := w.seal.open(w.sessionCookie, ck.Value)
	if err != nil {
		return nil, ErrNoSession
	}
	s, err := w.load(r.Context(), string(id))
	if err != nil || !w.needsRefresh(s) {
		return s, err
	}
	return w.refresh(r.Context(), s.ID)
}

func (w *Auth) load(ctx context.Context, id string) (*Session, error) {
	s, err := w.store.Load(ctx, id)
	if err != nil {
		return nil, err
	}
	if !w.now().Before(s.Expires) {
		w.store.Delete(ctx, id)
		return nil, ErrNoSession
	}
	return s, nil
}

func (w *Auth) needsRefresh(s *Session) bool {
	return s.RefreshToken != "" && !s.AccessTokenExpiry.IsZero() && w.now().Add(refreshAhead).After(s.AccessTokenExpiry)
}

// refresh renews the access token. Refreshes of one session are serialized
// in this process, because the IdP rotates refresh tokens and treats reuse
// of an old one as theft (RFC 9700 §4.14.2).
func (w *Auth) refresh(ctx context.Context, id string) (*Session, error) {
	l := &w.refreshLocks[maphash.String(w.seed, id)%uint64(len(w.refreshLocks))]
	l.Lock()
	defer l.Unlock()
	s, err := w.load(ctx, id) // another request may have refreshed already
	if err != nil || !w.needsRefresh(s) {
		return s, err
	}
	tok, err := w.oauth.TokenSource(w.ctx(ctx), &oauth2.Token{RefreshToken: s.RefreshToken}).Token()
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && (re.ErrorCode == "invalid_grant" || re.Response != nil && re.Response.StatusCode == http.StatusBadRequest) {
			w.store.Delete(ctx, id)
			return nil, ErrNoSession
		}
		return nil, fmt.Errorf("web: refresh: %w", err)
	}
	if rawID, _ := tok.Extra("id_token").(string); rawID != "" {
		c, err := w.idv.Verify(ctx, rawID, "")
		if err != nil || c.Subject != s.Subject {
			// OpenID Connect Core §12.2: same iss and sub, or no session.
			w.store.Delete(ctx, id)
			return nil, ErrNoSession
		}
		s.Claims, s.IDToken = c, rawID
		if c.SessionID != "" {
			s.SID = c.SessionID
		}
	}
	s.AccessToken, s.AccessTokenExpiry = tok.AccessToken, w.expiry(tok)
	if tok.RefreshToken != "" {
		s.RefreshToken = tok.RefreshToken
	}
	if err := w.store.Save(ctx, s); err != nil {
		return nil, err
	}
	return s, nil
}

// expiry is the access token's expiry on the Web's clock.
func (w *Auth) expiry(tok *oauth2.Token) time.Time {
	if tok.ExpiresIn > 0 {
		return w.now().Add(time.Duration(tok.ExpiresIn) * time.Second)
	}
	return tok.Expiry
}

type sessionKey struct{}

// SessionFromContext returns the session Require put in ctx.
func SessionFromContext(ctx context.Context) (*Session, bool) {
	s, ok := ctx.Value(sessionKey{}).(*Session)
	return s, ok && s != nil
}

// Require passes requests with a session on to next (see
// SessionFromContext). Without one, GET and HEAD requests are redirected to
// LoginPath with return_to; others get 401.
func (w *Auth) Require(next http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		s, err := w.Session(r)
		switch {
		case err == nil:
			next.ServeHTTP(rw, r.WithContext(context.WithValue(r.Context(), sessionKey{}, s)))
		case !errors.Is(err, ErrNoSession):
			w.errorPage(rw, r, http.StatusBadGateway, "sign-in service unavailable")
		case r.Method == http.MethodGet || r.Method == http.MethodHead:
			http.Redirect(rw, r, w.loginPath+"?return_to="+url.QueryEscape(r.URL.RequestURI()), http.StatusFound)
		default:
			w.errorPage(rw, r, http.StatusUnauthorized, "sign-in required")
		}
	})
}

// Logout ends the local session and then the IdP session: it answers with
// a small page that sends the browser on to the IdP's end_session_endpoint
// with id_token_hint, client_id, state and post_logout_redirect_uri
// (RP-Initiated Logout 1.0 §2), by meta refresh and, should that be
// disabled, a link. It accepts only POST: with SameSite=Lax cookies,
// another site cannot log the user out.
//
// It does not answer the POST with a redirect to the IdP, because the
// Content-Security-Policy directive form-action governs the redirects that
// follow a form submission (CSP Level 3 §6.3.1): a relying party with
// "form-action 'self'" would see its own sign-out blocked and the IdP
// session survive. A navigation started by the answer page is not a form
// submission, so it works under any CSP the relying party sets. Without a
// session or an end_session_endpoint, Logout redirects (303) to
// PostLogoutRedirectURL, or "/".
func (w *Auth) Logout(rw http.ResponseWriter, r *http.Request) {
	rw.Header().Set("Cache-Control", "no-store")
	if r.Method != http.MethodPost {
		rw.Header().Set("Allow", http.MethodPost)
		http.Error(rw, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	var idToken string
	if ck, err := r.Cookie(w.sessionCookie); err == nil {
		if id, err := w.seal.open(w.sessionCookie, ck.Value); err == nil {
			if s, err := w.store.Load(r.Context(), string(id)); err == nil {
				idToken = s.IDToken
			}
			if err := w.store.Delete(r.Context(), string(id)); err != nil {
				// The session lives on: say so rather than pretend.
				w.errorPage(rw, r, http.StatusServiceUnavailable, "could not end the session; please try again")
				return
			}
		}
	}
	w.setCookie(rw, w.sessionCookie, "", 0)
	target := w.EndSessionURL(idToken)
	if target == "" {
		target = w.postLogout
		if target == "" {
			target = "/"
		}
		http.Redirect(rw, r, target, http.StatusSeeOther)
		return
	}
	h := rw.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	h.Set("Referrer-Policy", "no-referrer")
	u := html.EscapeString(target)
	io.WriteString(rw, `<!doctype html>
<html lang="zh-CN"><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="0;url=`+u+`">
<title>正在退出</title>
<p>已退出本系统，正在退出统一身份认证……</p>
<p><a id="continue-logout" href="`+u+`">如未自动跳转，请点此继续</a></p>
</html>
`)
}

// EndSessionURL returns the IdP's end_session_endpoint with id_token_hint,
// client_id, a fresh state and, if configured, post_logout_redirect_uri;
// or "" if the IdP has no such endpoint or idToken is "". Logout uses it;
// a relying party that renders its own sign-out page can too.
func (w *Auth) EndSessionURL(idToken string) string {
	ep := w.p.Endpoints().EndSessionEndpoint
	if ep == "" || idToken == "" {
		return ""
	}
	v := url.Values{"id_token_hint": {idToken}, "client_id": {w.oauth.ClientID}, "state": {randomString()}}
	if w.postLogout != "" {
		v.Set("post_logout_redirect_uri", w.postLogout)
	}
	sep := "?"
	if strings.Contains(ep, "?") {
		sep = "&"
	}
	return ep + sep + v.Encode()
}

// EndSessions ends the relying party's sessions of IdP session sid (if not
// "") and of subject sub (if not ""), as BackChannelLogout does, and
// reports how many ended. The office calls it when it learns otherwise
// that a person must be signed out.
func (w *Auth) EndSessions(ctx context.Context, sub, sid string) (int, error) {
	n, err := w.store.EndSessions(ctx, sub, sid, time.Time{})
	if err != nil {
		return n, fmt.Errorf("web: end sessions: %w", err)
	}
	return n, nil
}

// BackChannelLogout receives logout tokens at the relying party's
// backchannel_logout_uri (Back-Channel Logout 1.0 §2.5). It verifies the
// token (§2.6: signature, iss, aud, iat, exp, typ "logout+jwt", the events
// claim, no nonce, sub or sid, jti not seen before) and ends the matching
// sessions begun by the token's iat, so a logout delivered late leaves a
// session started since alone. It answers 200 on success and 400 otherwise, with
// Cache-Control: no-store (§2.8).
func (w *Auth) BackChannelLogout(rw http.ResponseWriter, r *http.Request) {
	rw.Header().Set("Cache-Control", "no-store")
	if r.Method != http.MethodPost {
		rw.Header().Set("Allow", http.MethodPost)
		http.Error(rw, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	bad := func() {
		rw.Header().Set("Content-Type", "application/json")
		rw.WriteHeader(http.StatusBadRequest)
		rw.Write([]byte(`{"error":"invalid_request"}`))
	}
	r.Body = http.MaxBytesReader(rw, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		bad()
		return
	}
	c, err := w.VerifyLogoutToken(r.Context(), r.PostForm.Get("logout_token"))
	if err != nil {
		bad()
		return
	}
	if _, err := w.store.EndSessions(r.Context(), c.Subject, c.SessionID, c.IssuedAt); err != nil {
		http.Error(rw, "could not end sessions", http.StatusInternalServerError)
		return
	}
	rw.WriteHeader(http.StatusOK)
}

// VerifyLogoutToken checks a back-channel logout token as BackChannelLogout
// does, including jti replay, without ending sessions.
func (w *Auth) VerifyLogoutToken(ctx context.Context, raw string) (*sdk.Claims, error) {
	c, err := w.logout.Verify(ctx, raw)
	if err != nil {
		return nil, err
	}
	now := w.now()
	w.jtiMu.Lock()
	defer w.jtiMu.Unlock()
	if until, seen := w.jtis[c.ID]; seen && now.Before(until) {
		return nil, sdk.ErrReplayedToken
	}
	if len(w.jtis) >= maxLogoutTokens {
		for k, until := range w.jtis {
			if !now.Before(until) {
				delete(w.jtis, k)
			}
		}
		if len(w.jtis) >= maxLogoutTokens {
			return nil, fmt.Errorf("%w: replay cache full", sdk.ErrReplayedToken)
		}
	}
	// Kept past exp by the longest leeway a verifier allows (5 min), so a
	// token still accepted under clock skew cannot be replayed.
	w.jtis[c.ID] = c.Expiry.Add(5 * time.Minute)
	return c, nil
}

// printable keeps only printable ASCII of an IdP's error code before it is
// shown, so a crafted redirect cannot inject text.
func printable(s string) string {
	if len(s) > 64 {
		s = s[:64]
	}
	return strings.Map(func(r rune) rune {
		if r >= 0x21 && r <= 0x7E {
			return r
		}
		return -1
	}, s)
}

func validCookieName(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return s != ""
}
