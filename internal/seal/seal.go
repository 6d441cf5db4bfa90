// Package seal keeps a personal datum that must be found again but never
// read from a stolen database (SECURITY.md #52): the value is stored only
// AES-256-GCM encrypted, bound to its row by the additional data, and
// looked up through a blind index — a keyed HMAC, so the small space of
// phone or resident ID numbers cannot be enumerated against it. Keys carry
// ids so they can rotate: old keys still open rows sealed before.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
)

// Sealer seals one kind of datum, named by its label.
type Sealer struct {
	label    string
	keyID    string
	aead     cipher.AEAD
	old      map[string]cipher.AEAD
	indexKey []byte
}

// New returns a Sealer for the datum label ("xszz-phone"), encrypting
// with key (32 bytes) under keyID; old keys, by id, open rows sealed
// before a rotation. indexKey keys the blind index and must never change
// without recomputing every stored index; nil for a datum that is never
// looked up (Index is then not to be called).
func New(label, keyID string, key, indexKey []byte, old map[string][]byte) (*Sealer, error) {
	if label == "" || keyID == "" || (indexKey != nil && len(indexKey) < 32) {
		return nil, errors.New("seal: a label, a key id and, if any, a 32-byte index key are required")
	}
	aead, err := newAEAD(key)
	if err != nil {
		return nil, fmt.Errorf("seal %s: %w", label, err)
	}
	s := &Sealer{label: label, keyID: keyID, aead: aead, old: map[string]cipher.AEAD{}, indexKey: indexKey}
	for id, k := range old {
		if s.old[id], err = newAEAD(k); err != nil {
			return nil, fmt.Errorf("seal %s: key %q: %w", label, id, err)
		}
	}
	return s, nil
}

// Random returns a Sealer with fresh random keys: what it seals no
// other process opens. For tests and stores built without keys.
func Random(label string) *Sealer {
	key, index := make([]byte, 32), make([]byte, 32)
	rand.Read(key)   // never fails: crypto/rand panics on its own if the OS cannot give entropy
	rand.Read(index) // idem
	s, err := New(label, "random", key, index, nil)
	if err != nil {
		panic(err) // the arguments above are valid by construction
	}
	return s
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("key must be 32 bytes, got %d", len(key))
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

func (s *Sealer) additional(rowID string) []byte { return []byte(s.label + "\x00" + rowID) }

// Seal encrypts value for the row rowID (a ciphertext moved to another
// row does not open) and returns it with the key id to store beside it.
func (s *Sealer) Seal(rowID, value string) ([]byte, string) {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(value)+s.aead.Overhead())
	rand.Read(nonce) // never fails (crypto/rand)
	return s.aead.Seal(nonce, nonce, []byte(value), s.additional(rowID)), s.keyID
}

// Open decrypts what Seal returned for the same row.
func (s *Sealer) Open(rowID, keyID string, sealed []byte) (string, error) {
	aead := s.aead
	if keyID != s.keyID {
		var ok bool
		if aead, ok = s.old[keyID]; !ok {
			return "", fmt.Errorf("seal %s: sealed with key %q, which is not configured", s.label, keyID)
		}
	}
	n := aead.NonceSize()
	if len(sealed) < n+aead.Overhead() {
		return "", fmt.Errorf("seal %s: ciphertext too short", s.label)
	}
	b, err := aead.Open(nil, sealed[:n], sealed[n:], s.additional(rowID))
	if err != nil {
		return "", fmt.Errorf("seal %s: decrypt: %w", s.label, err)
	}
	return string(b), nil
}

// Index is the blind index of a value: equal values give equal indexes,
// and without the key an index says nothing of its value.
func (s *Sealer) Index(value string) string {
	if s.indexKey == nil {
		panic("seal: Index on a sealer built without an index key") // a wiring error, caught by any test
	}
	m := hmac.New(sha256.New, s.indexKey)
	m.Write([]byte(s.label + "-index\x00" + value))
	return hex.EncodeToString(m.Sum(nil))
}
