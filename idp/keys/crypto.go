package keys

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
)

// Algorithms the manager keeps one active key for. RS256 is what every
// relying party understands (the ID-token default); ES256 signs ~30× faster
// and carries the access tokens.
const (
	RS256 = "RS256"
	ES256 = "ES256"
)

var algs = [...]string{RS256, ES256}

// ErrWrongEncryptionKey is wrapped by load errors when a stored private key
// does not decrypt with the configured key: almost always a changed or
// mistyped keys.encryption_key, occasionally a tampered row.
var ErrWrongEncryptionKey = errors.New("wrong keys.encryption_key?")

// newKID returns 128 random bits, base64url: unguessable, URL- and
// header-safe, and unrelated to the key so it reveals nothing.
func newKID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails since Go 1.24
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func generate(alg string, rsaBits int) (crypto.Signer, error) {
	switch alg {
	case RS256:
		return rsa.GenerateKey(rand.Reader, rsaBits)
	case ES256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		return nil, fmt.Errorf("unsupported algorithm %q", alg)
	}
}

// checkAlg makes sure a decrypted key suits the alg stored beside it: the
// alg column is not covered by the encryption, so a row edited to claim
// ES256 for an RSA key must fail here rather than at signing time.
func checkAlg(alg string, s crypto.Signer) error {
	switch k := s.(type) {
	case *rsa.PrivateKey:
		if alg == RS256 && k.N.BitLen() >= 2048 {
			return nil
		}
	case *ecdsa.PrivateKey:
		if alg == ES256 && k.Curve == elliptic.P256() {
			return nil
		}
	}
	return fmt.Errorf("key type %T does not fit algorithm %q", s, alg)
}

// sealer encrypts private keys with AES-256-GCM. The kid is the additional
// data, so a ciphertext copied onto another row does not decrypt.
type sealer struct {
	id   string
	aead cipher.AEAD
	old  map[string]cipher.AEAD // earlier config keys, by id, for reading only
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("must be 32 bytes, got %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func newSealer(id string, aead cipher.AEAD, old map[string][]byte) (*sealer, error) {
	s := &sealer{id: id, aead: aead, old: map[string]cipher.AEAD{}}
	for oldID, k := range old {
		if oldID == id {
			continue
		}
		a, err := newAEAD(k)
		if err != nil {
			return nil, fmt.Errorf("keys.decryption_keys[%q]: %w", oldID, err)
		}
		s.old[oldID] = a
	}
	return s, nil
}

func (s *sealer) seal(kid string, priv crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("marshal private key: %w", err)
	}
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(der)+s.aead.Overhead())
	_, _ = rand.Read(nonce)
	return s.aead.Seal(nonce, nonce, der, []byte(kid)), nil
}

func (s *sealer) open(kid, alg, encKeyID string, sealed []byte) (crypto.Signer, error) {
	aead := s.aead
	if encKeyID != s.id {
		var ok bool
		if aead, ok = s.old[encKeyID]; !ok {
			return nil, fmt.Errorf("cannot decrypt signing key %s: it is encrypted with keys.encryption_key id %q, which is not configured (current id %q)", kid, encKeyID, s.id)
		}
	}
	n := aead.NonceSize()
	if len(sealed) < n+aead.Overhead() {
		return nil, fmt.Errorf("cannot decrypt signing key %s: %w (ciphertext too short)", kid, ErrWrongEncryptionKey)
	}
	der, err := aead.Open(nil, sealed[:n], sealed[n:], []byte(kid))
	if err != nil {
		return nil, fmt.Errorf("cannot decrypt signing key %s: %w", kid, ErrWrongEncryptionKey)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("parse signing key %s: %w", kid, err)
	}
	signer, ok := parsed.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("parse signing key %s: %T cannot sign", kid, parsed)
	}
	if err := checkAlg(alg, signer); err != nil {
		return nil, fmt.Errorf("signing key %s: %w", kid, err)
	}
	return signer, nil
}
