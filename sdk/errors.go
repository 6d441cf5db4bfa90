package sdk

import (
	"errors"
	"fmt"
	"time"
)

// Sentinel errors returned (wrapped) by the verifiers. Test for them with
// errors.Is; the wrapping error adds detail that is safe to log but should
// not be sent to clients.
var (
	// ErrInvalidConfig means the verifier was built without a required
	// setting (for example an empty ClientID); it refuses every token.
	ErrInvalidConfig = errors.New("sdk: invalid verifier configuration")
	// ErrTokenTooLarge means the raw token exceeded Config.MaxTokenSize and
	// was refused before parsing.
	ErrTokenTooLarge = errors.New("sdk: token too large")
	// ErrMalformedToken means the token is not a well-formed JWS compact
	// serialization (RFC 7515 §7.1) or its JSON is invalid.
	ErrMalformedToken = errors.New("sdk: malformed token")
	// ErrUnsupportedAlgorithm means the "alg" header is not in the allow-list
	// (RFC 8725 §3.1). "none" and HMAC algorithms are never allowed.
	ErrUnsupportedAlgorithm = errors.New("sdk: unsupported signing algorithm")
	// ErrForbiddenHeader means the token carries a header that would let it
	// choose its own key or extend processing ("jku", "x5u", "x5c", "jwk",
	// "crit"); see RFC 8725 §3.10.
	ErrForbiddenHeader = errors.New("sdk: forbidden JOSE header")
	// ErrInvalidType means the "typ" header does not match the kind of token
	// the verifier expects (RFC 9068 §4, RFC 8725 §3.11).
	ErrInvalidType = errors.New("sdk: wrong token type")
	// ErrUnknownKey means no key in the provider's JWKS has the token's
	// "kid", even after a refetch (or the refetch was rate limited).
	ErrUnknownKey = errors.New("sdk: unknown signing key")
	// ErrKeySetUnavailable means the JWKS could not be fetched or parsed.
	ErrKeySetUnavailable = errors.New("sdk: key set unavailable")
	// ErrInvalidSignature means the signature does not verify.
	ErrInvalidSignature = errors.New("sdk: invalid signature")
	// ErrInvalidIssuer means the "iss" claim is not exactly the issuer.
	ErrInvalidIssuer = errors.New("sdk: invalid issuer")
	// ErrInvalidAudience means "aud" does not contain the expected audience,
	// or "azp" names another client (OpenID Connect Core §3.1.3.7).
	ErrInvalidAudience = errors.New("sdk: invalid audience")
	// ErrIssuedInFuture means "iat" is later than now plus the leeway.
	ErrIssuedInFuture = errors.New("sdk: token issued in the future")
	// ErrInvalidNonce means the ID token's "nonce" does not match.
	ErrInvalidNonce = errors.New("sdk: invalid nonce")
	// ErrInvalidLogoutToken means a logout token broke a rule of
	// OpenID Connect Back-Channel Logout 1.0 §2.6 (events, nonce, sid/sub).
	ErrInvalidLogoutToken = errors.New("sdk: invalid logout token")
	// ErrReplayedToken means a logout token's "jti" was seen before.
	ErrReplayedToken = errors.New("sdk: replayed token")
)

// TokenExpiredError reports a token whose "exp" has passed (RFC 7519 §4.1.4).
type TokenExpiredError struct {
	Expiry time.Time
}

// Error says when the token expired.
func (e *TokenExpiredError) Error() string {
	return fmt.Sprintf("sdk: token expired at %s", e.Expiry.UTC().Format(time.RFC3339))
}

// TokenNotYetValidError reports a token whose "nbf" lies in the future
// (RFC 7519 §4.1.5).
type TokenNotYetValidError struct {
	NotBefore time.Time
}

// Error says when the token becomes valid.
func (e *TokenNotYetValidError) Error() string {
	return fmt.Sprintf("sdk: token not valid before %s", e.NotBefore.UTC().Format(time.RFC3339))
}

// MissingClaimError reports a required claim that is absent or empty, for
// example "jti" or "client_id" in an access token (RFC 9068 §2.2).
type MissingClaimError struct {
	Claim string
}

// Error names the missing claim.
func (e *MissingClaimError) Error() string {
	return "sdk: missing required claim " + e.Claim
}
