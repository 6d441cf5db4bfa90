package protocol

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/ory/fosite"

	"github.com/xszz/xszz/idp/oauth"
	"github.com/xszz/xszz/idp/oauthstore"
	"github.com/xszz/xszz/internal/sqldb"
)

// userScopes only make sense with a person behind the token.
var userScopes = []string{"openid", "profile", "phone", "org", "offline_access", "cockpit", "admin"}

// grantTypes are the grants the token endpoint serves.
var grantTypes = []string{"authorization_code", "refresh_token", "client_credentials"}

// token is the token endpoint (RFC 6749 §3.2).
func (s *Protocol) token(c echo.Context) error {
	ctx := oauthstore.WithCodeMemo(c.Request().Context())
	w := c.Response()
	sess := oauth.NewSession()
	ar, err := s.Provider.NewAccessRequest(ctx, c.Request(), sess)
	if err != nil {
		// Fosite answers a grant type no handler knows with a bare
		// invalid_request; RFC 6749 §5.2 says unsupported_grant_type.
		if gt := c.Request().PostForm.Get("grant_type"); gt != "" && !slices.Contains(grantTypes, gt) &&
			fosite.ErrorToRFC6749Error(err).ErrorField == fosite.ErrInvalidRequest.ErrorField {
			err = fosite.ErrUnsupportedGrantType.WithHintf("The grant type '%s' is not supported.", gt)
		}
		return s.accessError(c, ar, err)
	}
	switch {
	case ar.GetGrantTypes().ExactOne("client_credentials"):
		for _, sc := range ar.GetRequestedScopes() {
			if slices.Contains(userScopes, sc) {
				return s.accessError(c, ar, fosite.ErrInvalidScope.WithHintf("The scope '%s' needs a signed-in person.", sc))
			}
			ar.GrantScope(sc)
		}
		for _, a := range ar.GetRequestedAudience() {
			ar.GrantAudience(a)
		}
		sess.Subject = ar.GetClient().GetID()
		// The token row is indexed by request id. Fosite's ids are random
		// (UUIDv4), so every row dirtied its own index page; time-ordered
		// ids (UUIDv7) append, and a batch of rows shares one page.
		if id, err := uuid.NewV7(); err == nil {
			ar.SetID(id.String())
		}
	case ar.GetGrantTypes().ExactOne("authorization_code"), ar.GetGrantTypes().ExactOne("refresh_token"):
		// The refresh handler gives the request a clone of the stored
		// session, not the prototype passed in: restate the claims on the
		// session fosite will issue from.
		issued, ok := ar.GetSession().(*oauth.Session)
		if !ok {
			return s.accessError(c, ar, fosite.ErrServerError.WithHintf("unexpected session type %T", ar.GetSession()))
		}
		sess = issued
		// The account may have been disabled, moved or lost a grant since
		// the code or refresh token was issued: check it and restate the
		// claims as they are now.
		id, err := s.Identities.Identity(ctx, sess.Subject)
		if errors.Is(err, sqldb.ErrNotFound) || (err == nil && !id.Account.Active()) {
			// The grant is refused either way; a failed revocation is
			// logged so the remaining tokens can be ended by hand.
			if rerr := s.Provider.Store.RevokeSubject(ctx, sess.Subject); rerr != nil {
				s.Log.ErrorContext(ctx, "revoke grants of a disabled account failed", "err", rerr)
			}
			return s.accessError(c, ar, fosite.ErrInvalidGrant.WithHint("The account is disabled or no longer exists."))
		}
		if err != nil {
			return s.accessError(c, ar, fosite.ErrServerError.WithWrap(err))
		}
		if ar.GetGrantTypes().ExactOne("refresh_token") {
			if err := narrowScopes(ar); err != nil {
				return s.accessError(c, ar, err)
			}
			if req, ok := ar.(*fosite.AccessRequest); ok {
				kept := fosite.Arguments{}
				for _, sc := range req.GrantedScope {
					if sc == "cockpit" && !id.HasGrant("cockpit") {
						continue
					}
					kept = append(kept, sc)
				}
				req.GrantedScope = kept
			}
		}
		s.fillClaims(sess, id, ar.GetGrantedScopes())
		// fosite keeps these from the first issue; a new ID token needs new ones.
		sess.Claims.ExpiresAt = time.Time{}
		sess.Claims.IssuedAt = time.Time{}
		sess.Claims.Audience = nil
	}
	resp, err := s.Provider.NewAccessResponse(ctx, ar)
	if err != nil {
		return s.accessError(c, ar, err)
	}
	s.Metrics.Tokens.WithLabelValues(strings.Join(ar.GetGrantTypes(), " ")).Inc()
	s.Provider.WriteAccessResponse(ctx, w, ar, resp)
	return nil
}

// narrowScopes applies a refresh request's scope parameter: it may narrow
// the grant (RFC 6749 §6) but never widen it (SECURITY.md #27).
func narrowScopes(ar fosite.AccessRequester) error {
	raw := ar.GetRequestForm().Get("scope")
	if raw == "" {
		return nil
	}
	asked := strings.Fields(raw)
	for _, sc := range asked {
		if !ar.GetGrantedScopes().Has(sc) {
			return fosite.ErrInvalidScope.WithHintf("The scope '%s' was not granted originally.", sc)
		}
	}
	if req, ok := ar.(*fosite.AccessRequest); ok {
		req.GrantedScope = asked
	}
	return nil
}

func (s *Protocol) accessError(c echo.Context, ar fosite.AccessRequester, err error) error {
	ctx := c.Request().Context()
	// A parallel redemption can also lose between fosite's two reads of
	// the code, which fosite reports as a server error.
	if errors.Is(err, oauthstore.ErrCodeRace) || errors.Is(err, fosite.ErrInvalidatedAuthorizeCode) {
		// A code redeemed twice has leaked: the tokens of the redemption
		// that won are revoked too (RFC 6749 §4.1.2, SECURITY.md #13–14).
		// Fosite does so itself only when it sees the code used before
		// the exchange starts; this request lost later, once the winner
		// had committed.
		if code := c.Request().PostForm.Get("code"); code != "" {
			if rerr := s.Provider.Store.RevokeCodeGrant(ctx, s.Provider.Tokens.AuthorizeCodeSignature(ctx, code)); rerr != nil {
				s.Log.ErrorContext(ctx, "revoke the tokens of a reused code", "err", rerr)
			}
		}
		err = fosite.ErrInvalidGrant.WithHint("The authorization code has already been used.")
	}
	// A replayed private_key_jwt assertion is a failed client
	// authentication (RFC 7523 §3); fosite's jti_known is no OAuth error.
	if errors.Is(err, fosite.ErrJTIKnown) {
		err = fosite.ErrInvalidClient.WithHint("The client assertion was already used.")
	}
	rfc := fosite.ErrorToRFC6749Error(err)
	if rfc.ErrorField == fosite.ErrInvalidClient.ErrorField && oauth.BasicTried(c.Request()) {
		c.Response().Header().Set("WWW-Authenticate", `Basic realm="xszz"`)
	}
	if rfc.CodeField >= 500 {
		s.Log.ErrorContext(ctx, "token request failed", "err", err, "debug", rfc.DebugField)
	} else {
		s.Log.DebugContext(ctx, "token request refused", "error", rfc.ErrorField, "hint", rfc.HintField, "debug", rfc.DebugField, "cause", causeOf(rfc))
	}
	s.Provider.WriteAccessError(ctx, c.Response(), ar, err)
	return nil
}

// introspect is RFC 7662. The caller must authenticate as a confidential
// client, in any way the token endpoint accepts; a failed authentication
// is 401 invalid_client (§2.3), never an answer about the token. A client
// learns only about tokens issued to it or meant for it (its id in the
// token's audience); any other token, and a token of a disabled account,
// is inactive.
func (s *Protocol) introspect(c echo.Context) error {
	ctx := c.Request().Context()
	r := c.Request()
	caller, err := s.Provider.AuthenticateClient(ctx, r, r.PostForm)
	if err == nil && caller.Public {
		// A public client's id is no secret: it would let anyone read
		// the tokens issued to that client.
		err = fosite.ErrInvalidClient.WithHint("Public clients cannot introspect tokens.")
	}
	if err != nil {
		return s.clientError(c, err)
	}
	tok := r.PostForm.Get("token")
	if tok == "" {
		return s.clientError(c, fosite.ErrInvalidRequest.WithHint("The token parameter is missing."))
	}
	inactive := func() error {
		c.Response().Header().Set("Cache-Control", "no-store")
		return c.JSON(http.StatusOK, map[string]bool{"active": false})
	}
	use, ar, err := s.Provider.IntrospectToken(ctx, tok, fosite.TokenUse(r.PostForm.Get("token_type_hint")), oauth.NewSession())
	if err != nil {
		// An outage is not an inactive token: a resource server would
		// cache that answer and sign the person out.
		if rfc := fosite.ErrorToRFC6749Error(err); rfc.CodeField >= 500 || errors.Is(err, oauthstore.ErrStorage) {
			return s.serverError(c, err)
		}
		return inactive()
	}
	aud := []string(ar.GetGrantedAudience())
	if len(aud) == 0 {
		// Access tokens carry the client's registered audience when none
		// was asked for (oauth.TokenStrategy).
		aud = ar.GetClient().GetAudience()
	}
	issuedTo := ar.GetClient().GetID()
	switch {
	case issuedTo == caller.ID:
	case use == fosite.AccessToken && slices.Contains(aud, caller.ID):
	default:
		// Refresh tokens only to their own client; access tokens also to
		// the resource servers they are meant for.
		return inactive()
	}
	sub := ar.GetSession().GetSubject()
	if sub != "" && sub != issuedTo {
		active, err := s.Identities.Active(ctx, sub)
		if err != nil && !errors.Is(err, sqldb.ErrNotFound) {
			return s.serverError(c, err)
		}
		if err != nil || !active {
			return inactive()
		}
	}
	out := map[string]any{}
	if extra, ok := ar.GetSession().(fosite.ExtraClaimsSession); ok {
		for k, v := range extra.GetExtraClaims() {
			out[k] = v
		}
	}
	out["active"] = true
	out["client_id"] = issuedTo
	out["aud"] = aud
	out["iss"] = s.Issuer
	out["token_type"] = "Bearer"
	if use == fosite.RefreshToken {
		out["token_type"] = "refresh_token"
	}
	if sub != "" {
		out["sub"] = sub
	}
	if sc := ar.GetGrantedScopes(); len(sc) > 0 {
		out["scope"] = strings.Join(sc, " ")
	}
	exp := ar.GetSession().GetExpiresAt(fosite.AccessToken)
	if use == fosite.RefreshToken {
		exp = ar.GetSession().GetExpiresAt(fosite.RefreshToken)
	}
	if !exp.IsZero() {
		out["exp"] = exp.Unix()
	}
	if at := ar.GetRequestedAt(); !at.IsZero() {
		out["iat"] = at.Unix()
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, out)
}

// clientError answers a refused introspection or revocation request in
// RFC 6749 §5.2's form: a failed client authentication is 401, with a
// Basic challenge when the client tried Basic.
// serverError answers a client of the protocol endpoints in their own
// format (RFC 6749 §5.2's server_error) whatever its Accept header says,
// and logs the cause.
func (s *Protocol) serverError(c echo.Context, err error) error {
	s.Log.ErrorContext(c.Request().Context(), "request failed", "path", c.Path(), "err", err)
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusInternalServerError, map[string]string{"error": "server_error", "error_description": "the server could not answer; try again"})
}

func (s *Protocol) clientError(c echo.Context, err error) error {
	rfc := fosite.ErrorToRFC6749Error(err)
	if rfc.CodeField >= 500 {
		return s.serverError(c, err)
	}
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	if rfc.ErrorField == fosite.ErrInvalidClient.ErrorField {
		rfc.CodeField = http.StatusUnauthorized
		if oauth.BasicTried(c.Request()) {
			h.Set("WWW-Authenticate", `Basic realm="xszz"`)
		}
	}
	s.Log.DebugContext(c.Request().Context(), "client request refused", "path", c.Path(), "error", rfc.ErrorField, "hint", rfc.HintField, "cause", causeOf(rfc))
	return c.JSON(rfc.CodeField, map[string]string{"error": rfc.ErrorField, "error_description": rfc.GetDescription()})
}

// revoke is RFC 7009.
func (s *Protocol) revoke(c echo.Context) error {
	ctx := c.Request().Context()
	err := s.Provider.NewRevocationRequest(ctx, c.Request())
	if err != nil {
		rfc := fosite.ErrorToRFC6749Error(err)
		if rfc.ErrorField == fosite.ErrInvalidClient.ErrorField || rfc.ErrorField == fosite.ErrInvalidRequest.ErrorField || rfc.CodeField >= 500 {
			return s.clientError(c, err)
		}
	}
	s.Provider.WriteRevocationResponse(ctx, c.Response(), err)
	return nil
}

// userinfo is OIDC Core §5.3. The token comes in the Authorization header
// or, for POST, the form body (RFC 6750 §2.1–2.2); never in the query.
func (s *Protocol) userinfo(c echo.Context) error {
	ctx := c.Request().Context()
	r := c.Request()
	if r.URL.Query().Has("access_token") {
		return bearerError(c, http.StatusBadRequest, "invalid_request", "access tokens are not accepted in the query string")
	}
	tok := fosite.AccessTokenFromRequest(r)
	if tok == "" {
		c.Response().Header().Set("WWW-Authenticate", `Bearer realm="xszz"`)
		return c.JSON(http.StatusUnauthorized, map[string]string{"error": "invalid_token", "error_description": "no access token"})
	}
	// Access tokens are JWTs; anything else (a refresh token, garbage)
	// is refused here, before fosite looks it up as each kind of token.
	if strings.Count(tok, ".") != 2 {
		return bearerError(c, http.StatusUnauthorized, "invalid_token", "the access token is invalid or expired")
	}
	use, ar, err := s.Provider.IntrospectToken(ctx, tok, fosite.AccessToken, oauth.NewSession(), "openid")
	if err == nil && use != fosite.AccessToken {
		// The token type is only a hint to fosite, which falls back to
		// refresh tokens; a refresh token is no bearer credential.
		err = fosite.ErrRequestUnauthorized
	}
	if errors.Is(err, oauthstore.ErrStorage) {
		return s.serverError(c, err)
	}
	if err != nil {
		rfc := fosite.ErrorToRFC6749Error(err)
		if rfc.ErrorField == fosite.ErrInvalidScope.ErrorField {
			return bearerError(c, http.StatusForbidden, "insufficient_scope", "the token lacks the openid scope")
		}
		return bearerError(c, http.StatusUnauthorized, "invalid_token", "the access token is invalid or expired")
	}
	sub := ar.GetSession().GetSubject()
	scopes := ar.GetGrantedScopes()
	id, err := s.Identities.Profile(ctx, sub, scopes.Has("org"))
	if err != nil && !errors.Is(err, sqldb.ErrNotFound) {
		return s.serverError(c, err) // an outage must not sign relying parties' users out
	}
	if err != nil || !id.Account.Active() {
		return bearerError(c, http.StatusUnauthorized, "invalid_token", "the account is disabled")
	}
	out := map[string]any{"sub": sub}
	if scopes.Has("profile") {
		out["name"] = id.Account.Name
	}
	if scopes.Has("phone") {
		out["phone_number"] = id.Account.Phone
		out["phone_number_verified"] = true
	}
	if scopes.Has("org") {
		out["org"] = id.Org
		out["roles"] = id.Roles()
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, out)
}

func bearerError(c echo.Context, status int, code, desc string) error {
	c.Response().Header().Set("WWW-Authenticate", `Bearer realm="xszz", error="`+code+`", error_description="`+desc+`"`)
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(status, map[string]string{"error": code, "error_description": desc})
}

// causeOf describes the error a fosite error wraps, for debug logs.
func causeOf(rfc *fosite.RFC6749Error) string {
	inner := errors.Unwrap(rfc)
	var in *fosite.RFC6749Error
	if errors.As(inner, &in) {
		return in.ErrorField + ": " + in.HintField
	}
	if inner != nil {
		return inner.Error()
	}
	return ""
}
