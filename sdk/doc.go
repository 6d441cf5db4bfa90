// Package sdk lets a relying party of the xszz identity provider discover
// it, keep its keys, verify its access, ID and logout tokens, and read the
// typed xszz claims (organisation, level, roles, grants).
//
// The shape follows github.com/coreos/go-oidc: discover the provider, build a
// verifier, verify. HTTP-facing helpers live in subpackages: sdk/guard
// (bearer middleware for resource servers), sdk/web (sign-in, sessions and
// logout for server-rendered relying parties), sdk/introspect (RFC 7662
// with a cache), and the nested module sdk/echomw (the guard for echo).
//
//	p, err := sdk.NewProvider(ctx, "https://id.xszz.example")
//	v := p.AccessTokenVerifier(&sdk.Config{ClientID: "office"})
//	claims, err := v.Verify(ctx, rawAccessToken)
//
// Defaults fail closed. A verifier without a client ID refuses every token;
// only RS256 and ES256 are accepted (never "none", never HMAC); tokens
// carrying "jku", "x5u", "x5c", "jwk" or "crit" headers are refused; the raw
// token is size-checked before it is parsed. Options that weaken a check are
// named Insecure….
//
// Specifications:
//   - OpenID Connect Core 1.0, https://openid.net/specs/openid-connect-core-1_0.html
//   - OpenID Connect Discovery 1.0, https://openid.net/specs/openid-connect-discovery-1_0.html
//   - RFC 9068, JWT Profile for OAuth 2.0 Access Tokens
//   - RFC 6750, Bearer Token Usage
//   - RFC 7662, Token Introspection
//   - RFC 7636, PKCE
//   - OpenID Connect RP-Initiated Logout 1.0 and Back-Channel Logout 1.0
//   - RFC 8725, JSON Web Token Best Current Practices
package sdk
