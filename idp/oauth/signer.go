package oauth

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/ory/fosite/token/jwt"

	"github.com/xszz/xszz/idp/keys"
)

// Keys is the part of the key manager that signs and verifies.
type Keys interface {
	Active(ctx context.Context, alg string) (*keys.Key, error)
	PublicKey(ctx context.Context, kid string) (*keys.Key, error)
}

// headerAlg is a private header member through which a session asks the
// signer for an algorithm; it is removed before signing.
const headerAlg = "xszz_alg"

// MaxTokenSize bounds any JWT the IdP parses (id_token_hint, logout
// hints): go-jose's parser is linear, but nothing legitimate is larger.
const MaxTokenSize = 16 << 10

// Signer signs and verifies the IdP's own JWTs with the managed keys. It
// implements fosite's jwt.Signer, so fosite's ID-token strategy and the
// prompt/id_token_hint validator use it.
type Signer struct {
	keys       Keys
	defaultAlg string
	now        func() time.Time

	mu      sync.Mutex
	signers map[signerKey]jose.Signer
}

type signerKey struct{ kid, typ string }

var _ jwt.Signer = (*Signer)(nil)

// NewSigner returns a signer using defaultAlg when a header asks for none.
func NewSigner(k Keys, defaultAlg string, now func() time.Time) *Signer {
	return &Signer{keys: k, defaultAlg: defaultAlg, now: now, signers: map[signerKey]jose.Signer{}}
}

// joseSigner returns a cached go-jose signer: building one costs more than
// a P-256 signature.
func (s *Signer) joseSigner(k *keys.Key, typ string) (jose.Signer, error) {
	sk := signerKey{k.ID, typ}
	s.mu.Lock()
	defer s.mu.Unlock()
	if js, ok := s.signers[sk]; ok {
		return js, nil
	}
	opts := (&jose.SignerOptions{}).WithType(jose.ContentType(typ))
	js, err := jose.NewSigner(jose.SigningKey{
		Algorithm: jose.SignatureAlgorithm(k.Alg),
		Key:       jose.JSONWebKey{Key: k.Signer, KeyID: k.ID, Algorithm: k.Alg},
	}, opts)
	if err != nil {
		return nil, fmt.Errorf("signer for key %s: %w", k.ID, err)
	}
	if len(s.signers) > 64 { // retired keys: start over rather than grow
		clear(s.signers)
	}
	s.signers[sk] = js
	return js, nil
}

// Sign serialises claims as a compact JWS with the active key of alg.
func (s *Signer) Sign(ctx context.Context, alg, typ string, claims any) (string, error) {
	if alg == "" {
		alg = s.defaultAlg
	}
	k, err := s.keys.Active(ctx, alg)
	if err != nil {
		return "", fmt.Errorf("signing key %s: %w", alg, err)
	}
	js, err := s.joseSigner(k, typ)
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("encode claims: %w", err)
	}
	jws, err := js.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	return jws.CompactSerialize()
}

// Generate implements jwt.Signer for fosite's ID tokens.
func (s *Signer) Generate(ctx context.Context, claims jwt.MapClaims, header jwt.Mapper) (string, string, error) {
	alg, typ := s.defaultAlg, "JWT"
	if header != nil {
		h := header.ToMap()
		if a, ok := h[headerAlg].(string); ok && a != "" {
			alg = a
		}
		if t, ok := h["typ"].(string); ok && t != "" {
			typ = t
		}
	}
	tok, err := s.Sign(ctx, alg, typ, map[string]any(claims))
	if err != nil {
		return "", "", err
	}
	return tok, signatureOf(tok), nil
}

func signatureOf(token string) string {
	if i := strings.LastIndexByte(token, '.'); i >= 0 {
		return token[i+1:]
	}
	return ""
}

// Errors of Verify.
var (
	ErrMalformed = errors.New("malformed token")
	ErrSignature = errors.New("token signature invalid")
	ErrExpired   = errors.New("token expired")
)

// Verify checks a JWT issued by this IdP: size, structure, an allowed
// asymmetric algorithm, no key-bearing headers, a known kid and the
// signature. It returns the claims and header; expiry is reported as
// ErrExpired together with the claims (expired ID tokens are valid hints).
func (s *Signer) Verify(ctx context.Context, token string) (map[string]any, map[string]any, error) {
	if len(token) > MaxTokenSize || strings.Count(token, ".") != 2 {
		return nil, nil, ErrMalformed
	}
	jws, err := jose.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if len(jws.Signatures) != 1 {
		return nil, nil, ErrMalformed
	}
	h := jws.Signatures[0].Header
	if h.JSONWebKey != nil || h.ExtraHeaders["jku"] != nil || h.ExtraHeaders["x5u"] != nil || h.ExtraHeaders["x5c"] != nil {
		// A token must not name its own verification key (SECURITY.md #30).
		return nil, nil, fmt.Errorf("%w: key-bearing header", ErrMalformed)
	}
	k, err := s.keys.PublicKey(ctx, h.KeyID)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: unknown kid", ErrSignature)
	}
	if k.Alg != h.Algorithm {
		return nil, nil, fmt.Errorf("%w: algorithm does not match key", ErrSignature)
	}
	payload, err := jws.Verify(k.Public)
	if err != nil {
		return nil, nil, ErrSignature
	}
	var claims map[string]any
	dec := json.NewDecoder(strings.NewReader(string(payload)))
	dec.UseNumber()
	if err := dec.Decode(&claims); err != nil {
		return nil, nil, fmt.Errorf("%w: claims", ErrMalformed)
	}
	header := map[string]any{"alg": h.Algorithm, "kid": h.KeyID}
	for k, v := range h.ExtraHeaders {
		header[string(k)] = v
	}
	if exp, ok := numeric(claims["exp"]); ok && s.now().Unix() > exp {
		return claims, header, ErrExpired
	}
	return claims, header, nil
}

func numeric(v any) (int64, bool) {
	switch n := v.(type) {
	case json.Number:
		i, err := n.Int64()
		if err != nil {
			f, ferr := n.Float64()
			return int64(f), ferr == nil
		}
		return i, true
	case float64:
		return int64(n), true
	}
	return 0, false
}

// Decode implements jwt.Signer for fosite's id_token_hint checks.
func (s *Signer) Decode(ctx context.Context, token string) (*jwt.Token, error) {
	claims, header, err := s.Verify(ctx, token)
	// Fosite decodes id_token_hint with it: an access or logout token of
	// this IdP is no ID token.
	if typ, _ := header["typ"].(string); err == nil && typ != "" && !strings.EqualFold(typ, "JWT") {
		err = fmt.Errorf("%w: typ %q is not an ID token", ErrMalformed, typ)
	}
	switch {
	case errors.Is(err, ErrExpired):
		return &jwt.Token{Header: header, Claims: normalise(claims)}, &jwt.ValidationError{Errors: jwt.ValidationErrorExpired, Inner: err}
	case errors.Is(err, ErrSignature):
		return nil, &jwt.ValidationError{Errors: jwt.ValidationErrorSignatureInvalid, Inner: err}
	case err != nil:
		return nil, &jwt.ValidationError{Errors: jwt.ValidationErrorMalformed, Inner: err}
	}
	return &jwt.Token{Header: header, Claims: normalise(claims)}, nil
}

// normalise turns json.Number into float64 as fosite's MapClaims expect.
func normalise(c map[string]any) jwt.MapClaims {
	out := jwt.MapClaims{}
	for k, v := range c {
		if n, ok := v.(json.Number); ok {
			f, _ := n.Float64()
			out[k] = f
			continue
		}
		out[k] = v
	}
	return out
}

// Validate implements jwt.Signer.
func (s *Signer) Validate(ctx context.Context, token string) (string, error) {
	if _, err := s.Decode(ctx, token); err != nil {
		return "", err
	}
	return signatureOf(token), nil
}

// GetSignature implements jwt.Signer.
func (s *Signer) GetSignature(_ context.Context, token string) (string, error) {
	sig := signatureOf(token)
	if sig == "" {
		return "", ErrMalformed
	}
	return sig, nil
}

// Hash implements jwt.Signer: both RS256 and ES256 use SHA-256, which is
// what at_hash and c_hash are computed with.
func (s *Signer) Hash(_ context.Context, in []byte) ([]byte, error) {
	sum := sha256.Sum256(in)
	return sum[:], nil
}

// GetSigningMethodLength implements jwt.Signer.
func (s *Signer) GetSigningMethodLength(context.Context) int { return 256 }
