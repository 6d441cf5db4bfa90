package account

import (
	"sync"

	"github.com/xszz/xszz/internal/seal"
)

// Sealer encrypts phone numbers and computes their blind index, as the
// resident ID number is (SECURITY.md #52): the number is stored only
// AES-256-GCM encrypted with the account id as additional data, and found
// only through a keyed HMAC of it.
type Sealer = seal.Sealer

// NewSealer returns the phone numbers' Sealer (internal/seal) encrypting with
// key under keyID; old keys, by id, read rows sealed before a rotation.
// indexKey keys the blind index and must never change without recomputing
// every index.
func NewSealer(keyID string, key, indexKey []byte, old map[string][]byte) (*Sealer, error) {
	return seal.New("xszz-phone", keyID, key, indexKey, old)
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
	processSealerOnce.Do(func() { processSealer = seal.Random("xszz-phone") })
	return processSealer
}
