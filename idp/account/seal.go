package account

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
)

// Sealer encrypts phone numbers and computes their blind index, as
// idp/idcard does for resident ID numbers (SECURITY.md #52): the number is
// stored only AES-256-GCM encrypted with the account id as additional
// data, and found only through a keyed HMAC of it.
type Sealer struct {
	keyID    string
	aead     cipher.AEAD
	old      map[string]cipher.AEAD
	indexKey []byte
}

// NewSealer returns a Sealer encrypting with key (32 bytes) under keyID;
// old keys, by id, read rows sealed before a rotation. indexKey keys the
// blind index and must never change without recomputing every index.
func NewSealer(keyID string, key, indexKey []byte, old map[string][]byte) (*Sealer, error) {
	if keyID == "" || len(indexKey) < 32 {
		return nil, errors.New("account: key id and a 32-byte index key are required")
	}
	aead, err := newAEAD(key)
	if err != nil {
		return nil, err
	}
	s := &Sealer{keyID: keyID, aead: aead, old: map[string]cipher.AEAD{}, indexKey: indexKey}
	for id, k := range old {
		if s.old[id], err = newAEAD(k); err != nil {
			return nil, fmt.Errorf("phone key %q: %w", id, err)
		}
	}
	return s, nil
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("account: phone key must be 32 bytes, got %d", len(key))
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

func additional(accountID string) []byte { return []byte("xszz-phone\x00" + accountID) }

// Seal encrypts an E.164 number for one account; a ciphertext moved to
// another row does not open.
func (s *Sealer) Seal(accountID, phone string) ([]byte, string) {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(phone)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err))
	}
	return s.aead.Seal(nonce, nonce, []byte(phone), additional(accountID)), s.keyID
}

// Open decrypts what Seal returned.
func (s *Sealer) Open(accountID, keyID string, sealed []byte) (string, error) {
	aead := s.aead
	if keyID != s.keyID {
		var ok bool
		if aead, ok = s.old[keyID]; !ok {
			return "", fmt.Errorf("account: phone sealed with key %q, which is not configured", keyID)
		}
	}
	n := aead.NonceSize()
	if len(sealed) < n {
		return "", errors.New("account: sealed phone too short")
	}
	b, err := aead.Open(nil, sealed[:n], sealed[n:], additional(accountID))
	if err != nil {
		return "", fmt.Errorf("account: decrypt phone: %w", err)
	}
	return string(b), nil
}

// Index is the blind index of an E.164 number: equal numbers, equal
// indexes; nothing about the number without the key.
func (s *Sealer) Index(phone string) string {
	m := hmac.New(sha256.New, s.indexKey)
	m.Write([]byte("xszz-phone-index\x00" + phone))
	return hex.EncodeToString(m.Sum(nil))
}

var (
	processSealerOnce sync.Once
	processSealer     *Sealer
)

// ephemeralSealer serves stores built without WithSealer (tests): random
// keys shared by every such store of the process, so what one seals
// another opens, and nothing readable outlives the process. xszz always
// passes the keys derived from its secret.
func ephemeralSealer() *Sealer {
	processSealerOnce.Do(func() {
		key, index := make([]byte, 32), make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			panic(fmt.Sprintf("crypto/rand failed: %v", err))
		}
		if _, err := rand.Read(index); err != nil {
			panic(fmt.Sprintf("crypto/rand failed: %v", err))
		}
		s, err := NewSealer("ephemeral", key, index, nil)
		if err != nil {
			panic(err)
		}
		processSealer = s
	})
	return processSealer
}
