package protocol

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/xszz/xszz/idp/client"
	"github.com/xszz/xszz/idp/mfa"
	"github.com/xszz/xszz/idp/oauth"
	"github.com/xszz/xszz/internal/web"
)

// discovery is OpenID Connect Discovery 1.0 §3. It advertises exactly
// what is implemented.
func (s *Protocol) discovery(c echo.Context) error {
	iss := s.Issuer
	authMethods := []string{client.AuthSecretBasic, client.AuthSecretPost, client.AuthPrivateKeyJWT, client.AuthNone}
	doc := map[string]any{
		"issuer":                                           iss,
		"authorization_endpoint":                           iss + oauth.PathAuthorize,
		"token_endpoint":                                   iss + oauth.PathToken,
		"userinfo_endpoint":                                iss + oauth.PathUserinfo,
		"jwks_uri":                                         iss + oauth.PathJWKS,
		"end_session_endpoint":                             iss + oauth.PathLogout,
		"introspection_endpoint":                           iss + oauth.PathIntrospect,
		"revocation_endpoint":                              iss + oauth.PathRevoke,
		"response_types_supported":                         []string{"code"},
		"response_modes_supported":                         []string{"query"},
		"grant_types_supported":                            []string{"authorization_code", "refresh_token", "client_credentials"},
		"subject_types_supported":                          []string{"public"},
		"id_token_signing_alg_values_supported":            []string{"RS256", "ES256"},
		"token_endpoint_auth_methods_supported":            authMethods,
		"token_endpoint_auth_signing_alg_values_supported": []string{"RS256", "ES256"},
		"introspection_endpoint_auth_methods_supported":    authMethods[:3],
		"revocation_endpoint_auth_methods_supported":       authMethods,
		"scopes_supported":                                 client.KnownScopes,
		"claims_supported":                                 []string{"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "amr", "acr", "sid", "name", "phone_number", "phone_number_verified", "org", "roles"},
		"code_challenge_methods_supported":                 []string{"S256"},
		"acr_values_supported":                             []string{mfa.ACROneFactor, mfa.ACRTwoFactor},
		"prompt_values_supported":                          []string{"none", "login", "consent", "select_account"},
		"authorization_response_iss_parameter_supported":   true,
		"request_parameter_supported":                      false,
		"request_uri_parameter_supported":                  false,
		"claims_parameter_supported":                       false,
		"ui_locales_supported":                             []string{"zh-CN"},
		"claims_locales_supported":                         []string{"zh-CN"},
		"display_values_supported":                         []string{"page", "popup", "touch"},
	}
	c.Response().Header().Set("Cache-Control", "public, max-age=300")
	return c.JSON(http.StatusOK, doc)
}

func (s *Protocol) jwks(c echo.Context) error {
	b, err := s.Keys.JWKS(c.Request().Context())
	if err != nil {
		return web.Internal(err)
	}
	// Short enough that a rotation reaches relying parties quickly; the
	// SDK refetches on an unknown kid anyway.
	c.Response().Header().Set("Cache-Control", "public, max-age=60")
	return c.Blob(http.StatusOK, "application/jwk-set+json", b)
}
