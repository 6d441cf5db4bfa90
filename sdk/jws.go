package sdk

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
)

// Supported signing algorithms (RFC 7518 §3). Nothing else is ever accepted.
const (
	RS256 = "RS256"
	ES256 = "ES256"
)

// joseHeader is the protected header of a JWS (RFC 7515 §4). The raw-message
// fields exist only to detect headers that are refused. encoding/json
// matches member names case-insensitively, so "JKU" is refused as well and
// "ALG" would be read as "alg"; that is harmless because the header is
// covered by the signature, which only the IdP can make.
type joseHeader struct {
	Alg  string          `json:"alg"`
	Kid  string          `json:"kid"`
	Typ  string          `json:"typ"`
	Jku  json.RawMessage `json:"jku"`
	X5u  json.RawMessage `json:"x5u"`
	X5c  json.RawMessage `json:"x5c"`
	Jwk  json.RawMessage `json:"jwk"`
	Crit json.RawMessage `json:"crit"`
	B64  json.RawMessage `json:"b64"`
	Zip  json.RawMessage `json:"zip"`
	Enc  json.RawMessage `json:"enc"`
}

// jws is a parsed, not yet verified, compact JWS.
type jws struct {
	header       joseHeader
	signingInput string // header "." payload, as received
	payload      []byte
	signature    []byte
}

var b64 = base64.RawURLEncoding.Strict()

// parseJWS splits and decodes a compact JWS (RFC 7515 §7.1). The caller has
// already bounded len(raw).
func parseJWS(raw string) (*jws, error) {
	// Exactly two dots: a JWE (four dots) or a JWS with detached or
	// extra segments is refused without further work.
	i := strings.IndexByte(raw, '.')
	if i < 0 {
		return nil, fmt.Errorf("%w: not a JWS", ErrMalformedToken)
	}
	j := strings.IndexByte(raw[i+1:], '.')
	if j < 0 {
		return nil, fmt.Errorf("%w: not a JWS", ErrMalformedToken)
	}
	j += i + 1
	if strings.IndexByte(raw[j+1:], '.') >= 0 {
		return nil, fmt.Errorf("%w: too many segments", ErrMalformedToken)
	}
	h, p, s := raw[:i], raw[i+1:j], raw[j+1:]
	if h == "" || p == "" || s == "" {
		return nil, fmt.Errorf("%w: empty segment", ErrMalformedToken)
	}
	t := &jws{signingInput: raw[:j]}
	hb, err := b64.DecodeString(h)
	if err != nil {
		return nil, fmt.Errorf("%w: header: %w", ErrMalformedToken, err)
	}
	if err := json.Unmarshal(hb, &t.header); err != nil {
		return nil, fmt.Errorf("%w: header: %w", ErrMalformedToken, err)
	}
	if t.header.Jku != nil || t.header.X5u != nil || t.header.X5c != nil || t.header.Jwk != nil {
		return nil, fmt.Errorf("%w: key-locating header present", ErrForbiddenHeader)
	}
	if t.header.Crit != nil || t.header.B64 != nil || t.header.Zip != nil || t.header.Enc != nil {
		return nil, fmt.Errorf("%w: crit/b64/zip/enc not supported", ErrForbiddenHeader)
	}
	if t.payload, err = b64.DecodeString(p); err != nil {
		return nil, fmt.Errorf("%w: payload: %w", ErrMalformedToken, err)
	}
	if t.signature, err = b64.DecodeString(s); err != nil {
		return nil, fmt.Errorf("%w: signature: %w", ErrMalformedToken, err)
	}
	return t, nil
}

// verifySignature checks sig over input with key for alg. It is the whole
// cryptographic check; callers have matched alg to the key already.
func verifySignature(alg string, key crypto.PublicKey, input string, sig []byte) error {
	digest := sha256.Sum256([]byte(input))
	switch alg {
	case RS256:
		pub, ok := key.(*rsa.PublicKey)
		if !ok || len(sig) != pub.Size() {
			return ErrInvalidSignature
		}
		if rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig) != nil {
			return ErrInvalidSignature
		}
		return nil
	case ES256:
		pub, ok := key.(*ecdsa.PublicKey)
		if !ok || pub.Curve != elliptic.P256() || len(sig) != 64 {
			return ErrInvalidSignature
		}
		r := new(big.Int).SetBytes(sig[:32])
		s := new(big.Int).SetBytes(sig[32:])
		if !ecdsa.Verify(pub, digest[:], r, s) {
			return ErrInvalidSignature
		}
		return nil
	}
	return ErrUnsupportedAlgorithm
}
