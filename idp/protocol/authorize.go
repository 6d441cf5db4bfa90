package protocol

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/ory/fosite"
	"github.com/ory/fosite/token/jwt"

	"github.com/xszz/xszz/idp/account"
	"github.com/xszz/xszz/idp/client"
	"github.com/xszz/xszz/idp/identity"
	"github.com/xszz/xszz/idp/idpweb"
	"github.com/xszz/xszz/idp/mfa"
	"github.com/xszz/xszz/idp/oauth"
	"github.com/xszz/xszz/idp/session"
	"github.com/xszz/xszz/internal/web"
)

// authorize is the authorization endpoint (OIDC Core §3.1.2).
func (s *Protocol) authorize(c echo.Context) error {
	r := c.Request()
	if err := r.ParseForm(); err != nil {
		return &web.Error{Status: http.StatusBadRequest, Code: "invalid_request", Message: "授权请求格式错误", Cause: err}
	}
	return s.startAuthorize(c, r.Form, idpweb.Flow{RequestedAt: s.Now().Unix()}, false)
}

// resume continues a request parked by the login or consent page.
func (s *Protocol) resume(c echo.Context) error {
	f, err := s.Flows.Open(c.QueryParam("flow"))
	if err != nil {
		return &web.Error{Status: http.StatusBadRequest, Code: "invalid_request", Message: "登录流程已过期，请返回原应用重新登录", Cause: err}
	}
	form, err := url.ParseQuery(f.Query)
	if err != nil {
		return &web.Error{Status: http.StatusBadRequest, Code: "invalid_request", Message: "授权请求格式错误", Cause: err}
	}
	return s.startAuthorize(c, form, f, true)
}

// preCheck enforces what fosite is lenient about, before anything can be
// redirected: the client must exist, redirect_uri must be present and match
// a registered URI exactly (fosite falls back to the only registered URI
// and ignores loopback ports; SECURITY.md #1–6), and security-relevant
// parameters must not be repeated.
func (s *Protocol) preCheck(ctx context.Context, form url.Values) (*client.Client, error) {
	for _, k := range []string{"client_id", "redirect_uri"} {
		if len(form[k]) > 1 {
			return nil, &web.Error{Status: http.StatusBadRequest, Code: "invalid_request", Message: "授权请求参数重复"}
		}
	}
	cl, err := s.Clients.Get(ctx, form.Get("client_id"))
	if err != nil {
		return nil, &web.Error{Status: http.StatusBadRequest, Code: "invalid_client", Message: "未知的应用（client_id 无效）", Cause: err}
	}
	ru := form.Get("redirect_uri")
	if ru == "" {
		return nil, &web.Error{Status: http.StatusBadRequest, Code: "invalid_request", Message: "授权请求缺少 redirect_uri"}
	}
	if !slices.Contains(cl.RedirectURIs, ru) {
		return nil, &web.Error{Status: http.StatusBadRequest, Code: "invalid_request", Message: "回调地址（redirect_uri）未在该应用登记，已拒绝跳转"}
	}
	return cl, nil
}

// startAuthorize runs an authorization request; parked carries when it
// first arrived and, for a resumed request, which session it found then.
func (s *Protocol) startAuthorize(c echo.Context, form url.Values, parked idpweb.Flow, resumed bool) error {
	ctx := c.Request().Context()
	requestedAt := time.Unix(parked.RequestedAt, 0).UTC()
	cl, err := s.preCheck(ctx, form)
	if err != nil {
		return err
	}
	// Fosite would process an unsigned request object (even overriding
	// redirect_uri) and answer errors in the response mode asked for, so
	// those parameters never reach it; earlyRefusal answers them.
	forFosite := url.Values{}
	for k, v := range form {
		switch k {
		case "request", "request_uri", "response_mode":
		default:
			forFosite[k] = v
		}
	}
	r := c.Request().Clone(ctx)
	r.Method = http.MethodGet
	r.URL.RawQuery = forFosite.Encode()
	r.Form, r.PostForm = nil, nil
	r.Body = http.NoBody
	r.Header.Del("Content-Type")
	ar, err := s.Provider.NewAuthorizeRequest(ctx, r)
	if err != nil {
		return s.authorizeError(c, ar, err)
	}
	for k, v := range form {
		if len(v) > 1 {
			return s.authorizeError(c, ar, fosite.ErrInvalidRequest.WithHintf("The parameter '%s' was given more than once.", k))
		}
	}
	if !ar.GetResponseTypes().ExactOne("code") {
		return s.authorizeError(c, ar, fosite.ErrUnsupportedResponseType.WithHint("Only response_type=code is supported."))
	}
	if err := earlyRefusal(form, cl); err != nil {
		return s.authorizeError(c, ar, err)
	}
	prompt := strings.Fields(form.Get("prompt"))
	sso, id := s.Browser.Current(c)
	stale := parked.Stale
	if sso != nil && (!s.sessionSatisfies(sso, form, prompt, parked, resumed) || !s.factorsSatisfy(ctx, sso, id, form.Get("acr_values"))) {
		if !resumed {
			stale = sso.ID
		}
		sso = nil
	}
	if sso == nil {
		if slices.Contains(prompt, "none") {
			return s.authorizeError(c, ar, fosite.ErrLoginRequired)
		}
		token := s.Flows.Seal(idpweb.Flow{Query: form.Encode(), RequestedAt: requestedAt.Unix(), Stale: stale})
		return c.Redirect(http.StatusSeeOther, "/login?flow="+url.QueryEscape(token))
	}

	scopes := s.grantableScopes(ar, cl, id)
	if !cl.Trusted {
		ok, err := s.hasConsent(ctx, id.Account.ID, cl.ID, scopes)
		if err != nil {
			return web.Internal(err)
		}
		if !ok || slices.Contains(prompt, "consent") {
			if slices.Contains(prompt, "none") {
				return s.authorizeError(c, ar, fosite.ErrConsentRequired)
			}
			token := s.Flows.Seal(idpweb.Flow{Query: form.Encode(), RequestedAt: requestedAt.Unix(), Stale: stale})
			return c.Redirect(http.StatusSeeOther, "/consent?flow="+url.QueryEscape(token))
		}
	}
	for _, sc := range scopes {
		ar.GrantScope(sc)
	}
	for _, a := range ar.GetRequestedAudience() {
		ar.GrantAudience(a)
	}
	sess := s.newSession(id, sso, cl, ar.GetGrantedScopes(), requestedAt)
	resp, err := s.Provider.NewAuthorizeResponse(ctx, ar, sess)
	if err != nil {
		return s.authorizeError(c, ar, err)
	}
	// RFC 9207: the client can tell which issuer answered.
	resp.AddParameter("iss", s.Issuer)
	s.Provider.WriteAuthorizeResponse(ctx, c.Response(), ar, resp)
	return nil
}

// promptValues are the prompt values the IdP understands.
var promptValues = []string{"none", "login", "consent", "select_account"}

// earlyRefusal finds what fosite refuses only after the person has signed
// in (PKCE, prompt) or does not refuse at all (request objects, other
// response modes), so the client hears of it before anyone is asked to
// sign in, and no request object or request_uri is ever processed or
// fetched (SECURITY.md #12, #18, #19, #34).
func earlyRefusal(form url.Values, cl *client.Client) error {
	switch {
	case form.Get("request") != "":
		return fosite.ErrRequestNotSupported.WithHint("Request objects are not supported; send the parameters in the query.")
	case form.Get("request_uri") != "":
		return fosite.ErrRequestURINotSupported.WithHint("The request_uri parameter is not supported.")
	case form.Get("response_mode") != "" && form.Get("response_mode") != "query":
		return fosite.ErrUnsupportedResponseMode.WithHint("Only response_mode=query is supported.")
	}
	prompt := strings.Fields(form.Get("prompt"))
	for _, p := range prompt {
		if !slices.Contains(promptValues, p) {
			return fosite.ErrInvalidRequest.WithHintf("Unknown prompt value '%s'.", p)
		}
	}
	if slices.Contains(prompt, "none") && len(prompt) > 1 {
		return fosite.ErrInvalidRequest.WithHint("prompt=none cannot be combined with other values.")
	}
	challenge, method := form.Get("code_challenge"), form.Get("code_challenge_method")
	switch {
	case challenge == "" && cl.Public:
		return fosite.ErrInvalidRequest.WithHint("This client must include a code_challenge (PKCE with S256).")
	case challenge == "" && method != "":
		return fosite.ErrInvalidRequest.WithHint("code_challenge_method was given without a code_challenge.")
	case challenge != "" && method != "S256":
		return fosite.ErrInvalidRequest.WithHint("Clients must use code_challenge_method=S256.")
	case challenge != "" && !isS256Challenge(challenge):
		return fosite.ErrInvalidRequest.WithHint("The code_challenge must be a base64url-encoded SHA-256 hash (43 characters).")
	}
	return nil
}

func isS256Challenge(s string) bool {
	if len(s) != 43 {
		return false
	}
	for _, r := range s {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// sessionSatisfies applies prompt=login and max_age. prompt=login always
// sends a fresh request to the login page; when it comes back, only a
// session started since then counts (a different session, not the one the
// request found, signed in no earlier than the request: sign-in times have
// one-second resolution, so the time alone cannot tell).
func (s *Protocol) sessionSatisfies(sso *session.Session, form url.Values, prompt []string, parked idpweb.Flow, resumed bool) bool {
	if slices.Contains(prompt, "login") {
		if !resumed || sso.ID == parked.Stale || sso.AuthTime.Before(time.Unix(parked.RequestedAt, 0)) {
			return false
		}
	}
	if ma := form.Get("max_age"); ma != "" {
		n, err := strconv.ParseInt(ma, 10, 64)
		if err == nil && n >= 0 && s.Now().Sub(sso.AuthTime) > time.Duration(n)*time.Second {
			return false
		}
	}
	return true
}

// authorizeError answers with a redirect carrying the error when the
// redirect URI is trustworthy, and with an error page otherwise.
func (s *Protocol) authorizeError(c echo.Context, ar fosite.AuthorizeRequester, err error) error {
	ctx := c.Request().Context()
	rfc := fosite.ErrorToRFC6749Error(err)
	if ar == nil || !ar.IsRedirectURIValid() {
		return &web.Error{Status: http.StatusBadRequest, Code: rfc.ErrorField, Message: "授权请求无效：" + rfc.ErrorField, Cause: err}
	}
	if rfc.CodeField >= 500 {
		s.Log.ErrorContext(ctx, "authorize failed", "err", err, "debug", rfc.DebugField)
	}
	// RFC 9207: error responses name the issuer too, so a client talking
	// to several IdPs cannot be fooled by a mix-up.
	s.Provider.WriteAuthorizeError(ctx, issWriter{ResponseWriter: c.Response(), iss: s.Issuer}, ar, err)
	return nil
}

// issWriter adds the iss parameter to the redirect fosite writes.
type issWriter struct {
	http.ResponseWriter
	iss string
}

func (w issWriter) WriteHeader(code int) {
	if loc := w.Header().Get("Location"); loc != "" {
		if u, err := url.Parse(loc); err == nil {
			if u.Fragment != "" {
				f, _ := url.ParseQuery(u.Fragment)
				f.Set("iss", w.iss)
				u.Fragment = f.Encode()
			} else {
				q := u.Query()
				q.Set("iss", w.iss)
				u.RawQuery = q.Encode()
			}
			w.Header().Set("Location", u.String())
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

// grantableScopes decides what the person can be granted: requested scopes
// (fosite already refused scopes the client may not ask for), minus cockpit
// without the grant and admin without the admin role at a trusted client.
func (s *Protocol) grantableScopes(ar fosite.Requester, cl *client.Client, id *identity.Identity) []string {
	var out []string
	for _, sc := range ar.GetRequestedScopes() {
		switch sc {
		case "cockpit":
			if !id.HasGrant("cockpit") {
				continue
			}
		case "admin":
			if id.Account.Role != account.RoleAdmin || !cl.Trusted {
				continue
			}
		case "directory":
			// Read by a platform for itself (client credentials), never
			// on a person's behalf.
			continue
		case "offline_access":
			if !slices.Contains(cl.GrantTypes, "refresh_token") {
				continue
			}
		}
		out = append(out, sc)
	}
	return out
}

// newSession builds what fosite stores with the code and the tokens.
func (s *Protocol) newSession(id *identity.Identity, sso *session.Session, cl *client.Client, scopes []string, requestedAt time.Time) *oauth.Session {
	sess := oauth.NewSession()
	sess.Subject = id.Account.ID
	sess.SID = sso.ID
	sess.AuthTime = sso.AuthTime
	sess.Headers = &jwt.Headers{Extra: map[string]any{"xszz_alg": cl.IDTokenAlg}}
	s.fillClaims(sess, id, scopes)
	claims := sess.Claims
	claims.Subject = id.Account.ID
	claims.AuthTime = sso.AuthTime
	claims.RequestedAt = requestedAt
	claims.AuthenticationMethodsReferences = sso.AMR
	claims.AuthenticationContextClassReference = mfa.ACROf(sso.AMR)
	return sess
}

// fillClaims (re)computes the identity claims from the account as it is
// now; refresh calls it again so a moved or demoted account's new tokens
// say so.
func (s *Protocol) fillClaims(sess *oauth.Session, id *identity.Identity, scopes []string) {
	extra := map[string]any{"sid": sess.SID}
	access := map[string]any{}
	a := id.Account
	if slices.Contains(scopes, "profile") {
		extra["name"] = a.Name
	}
	if slices.Contains(scopes, "phone") {
		extra["phone_number"] = a.Phone
		extra["phone_number_verified"] = true
	}
	if slices.Contains(scopes, "org") {
		extra["org"] = id.Org
		extra["roles"] = id.Roles()
		access["org"] = id.Org
		access["roles"] = id.Roles()
	}
	if slices.Contains(scopes, "cockpit") && id.HasGrant("cockpit") {
		access["grants"] = []string{"cockpit"}
	}
	sess.Claims.Extra = extra
	sess.Access = access
}

func (s *Protocol) hasConsent(ctx context.Context, accountID, clientID string, scopes []string) (bool, error) {
	stored, err := s.Provider.Store.Consent(ctx, accountID, clientID)
	if err != nil {
		return false, err
	}
	have := strings.Fields(stored)
	for _, sc := range scopes {
		if !slices.Contains(have, sc) {
			return false, nil
		}
	}
	return stored != "", nil
}
