package web

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/xszz/xszz/sdk"
)

// ErrNoSession means the request has no valid signed-in session.
var ErrNoSession = errors.New("web: no session")

// Session is a signed-in user of a server-side relying party. Its tokens
// stay on the server; the browser holds only an encrypted session ID.
type Session struct {
	ID                string      // random, 256 bits; the cookie carries it encrypted
	Subject           string      // "sub" of the ID token
	SID               string      // IdP session ID ("sid"), for back-channel logout
	Claims            *sdk.Claims // claims of the latest ID token
	IDToken           string      // raw ID token, sent as id_token_hint on logout
	AccessToken       string      // for calling resource servers
	AccessTokenExpiry time.Time   // zero if the IdP gave no expires_in
	RefreshToken      string      // for silent refresh; "" without offline_access
	Created, Expires  time.Time   // Expires is absolute: no refresh extends it
}

// SessionStore keeps sessions on the server. Implementations must be safe
// for concurrent use. Load returns ErrNoSession for unknown IDs.
type SessionStore interface {
	Load(ctx context.Context, id string) (*Session, error)
	Save(ctx context.Context, s *Session) error
	Delete(ctx context.Context, id string) error
	// EndSessions deletes the sessions with IdP session sid (if sid is not
	// "") and subject sub (if sub is not "") that were created at or before
	// the whole second of issued (all of them if issued is zero), as a
	// back-channel logout demands, and reports how many it deleted. A
	// logout cannot reach back to end a session begun after it was issued:
	// a delivery retried late must not sign the person out of the session
	// they started since.
	EndSessions(ctx context.Context, sub, sid string, issued time.Time) (int, error)
}

// MemoryStore is a SessionStore in process memory: sessions die with the
// process and are not shared between replicas. Use a shared store (for
// example Redis) when the relying party runs more than one instance.
type MemoryStore struct {
	mu    sync.Mutex
	m     map[string]Session
	saves int
	now   func() time.Time
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore { return &MemoryStore{m: map[string]Session{}, now: time.Now} }

// Load implements SessionStore.
func (s *MemoryStore) Load(_ context.Context, id string) (*Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[id]
	if !ok {
		return nil, ErrNoSession
	}
	return &v, nil
}

// Save implements SessionStore.
func (s *MemoryStore) Save(_ context.Context, v *Session) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[v.ID] = *v
	if s.saves++; s.saves%1024 == 0 {
		now := s.now()
		for id, x := range s.m {
			if !now.Before(x.Expires) {
				delete(s.m, id)
			}
		}
	}
	return nil
}

// Delete implements SessionStore.
func (s *MemoryStore) Delete(_ context.Context, id string) error {
	s.mu.Lock()
	delete(s.m, id)
	s.mu.Unlock()
	return nil
}

// EndSessions implements SessionStore.
func (s *MemoryStore) EndSessions(_ context.Context, sub, sid string, issued time.Time) (int, error) {
	if sub == "" && sid == "" {
		return 0, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for id, x := range s.m {
		if (sid == "" || x.SID == sid) && (sub == "" || x.Subject == sub) && begunBy(x.Created, issued) {
			delete(s.m, id)
			n++
		}
	}
	return n, nil
}

// begunBy reports whether a session created at created is ended by a
// logout issued at issued. Logout tokens carry whole seconds, so a session
// begun within the second of the logout ends too: erring towards signing
// out is the safe side.
func begunBy(created, issued time.Time) bool {
	return issued.IsZero() || created.Unix() <= issued.Unix()
}

// sealer encrypts and authenticates cookie values with AES-256-GCM; the
// cookie name is additional data, so one cookie cannot stand in for another.
type sealer struct{ aead cipher.AEAD }

func newSealer(key []byte) (sealer, error) {
	if len(key) != 32 {
		return sealer{}, fmt.Errorf("%w: CookieKey must be 32 bytes, got %d", sdk.ErrInvalidConfig, len(key))
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return sealer{}, err
	}
	a, err := cipher.NewGCM(b)
	if err != nil {
		return sealer{}, err
	}
	return sealer{a}, nil
}

func (s sealer) seal(name string, plain []byte) string {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	rand.Read(nonce)
	return base64.RawURLEncoding.EncodeToString(s.aead.Seal(nonce, nonce, plain, []byte(name)))
}

func (s sealer) open(name, value string) ([]byte, error) {
	if len(value) > 4096 {
		return nil, ErrNoSession
	}
	b, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil || len(b) < s.aead.NonceSize()+s.aead.Overhead() {
		return nil, ErrNoSession
	}
	n := s.aead.NonceSize()
	plain, err := s.aead.Open(nil, b[:n], b[n:], []byte(name))
	if err != nil {
		return nil, ErrNoSession
	}
	return plain, nil
}

func randomString() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
