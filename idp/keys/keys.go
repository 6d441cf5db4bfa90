// Package keys manages the IdP's token-signing keys: it creates them on first
// start, stores them in the database with the private halves encrypted,
// rotates them, publishes the public halves as a JWK Set, and hands the
// current key to whoever signs a token.
//
// # Keys and their life
//
// The manager keeps one key per algorithm: RS256 (RSA-2048 by default; the
// ID-token default, because every relying party supports it) and ES256 (P-256;
// signing is ~30× cheaper, which is what lets JWT access tokens reach their
// throughput target). A key goes through these states, all derived from
// timestamps in the signing_keys row, so every replica reaches the same
// answer with no coordination beyond the database:
//
//	published  created_at ≤ now < active_from   in the JWKS, not yet signing
//	active     active_from ≤ now < retired_at   in the JWKS, signs new tokens
//	retired    retired_at ≤ now < expires_at    in the JWKS, verifies old tokens
//	expired    expires_at ≤ now                 gone; deleted by RunSchedule
//
// A rotation publishes the new key Config.PublishAhead (at least
// Config.CacheFor) before it signs anything, so every replica's JWKS — and
// every relying party that fetches it — knows a key before a token carries
// it. The previous key stops signing at that same moment and stays
// published for Config.RetainFor afterwards (plus CacheFor, since a replica
// may notice the rotation that much later), so every token it signed can
// still be verified until it expires.
//
// # Storage and encryption
//
// Private keys are serialised as PKCS #8 and sealed with AES-256-GCM under
// Config.EncryptionKey (keys.encryption_key), with the kid as additional
// data. The row records the encryption key's id so that key can be rotated
// later (Config.DecryptionKeys reads rows sealed with earlier ones). The
// public_jwk column is informational only: the JWKS is built from the
// decrypted private keys, so someone who can write to the table but does not
// hold the encryption key cannot publish a key of their own. A wrong
// encryption key makes loading fail with "cannot decrypt signing key KID:
// wrong keys.encryption_key?" (ErrWrongEncryptionKey).
//
// # Several replicas
//
// Every change to the set of keys bumps keyring.version with a
// compare-and-swap in the same transaction, so replicas that start
// (Ensure) or rotate (Rotate, RunSchedule) at the same moment change the
// keys once: the loser gets sqldb.ErrConflict from Rotate, or finds the
// winner's keys in Ensure. Each replica serves Active, PublicKey and JWKS
// from an immutable in-memory snapshot and, once the snapshot is older than
// Config.CacheFor, reads keyring.version (one small query) and reloads the
// keys only when it moved.
//
// # Cost
//
// Active, PublicKey and JWKS read an atomic pointer and compare one
// timestamp; they allocate nothing. JWKS returns the same pre-marshalled
// bytes until the key set changes. A stale snapshot is refreshed by one
// caller while the others keep serving the previous one, so a slow database
// never stalls signing.
package keys

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/xszz/xszz/internal/sqldb"
)

// Config says how keys are protected and how often they change.
type Config struct {
	// EncryptionKey (keys.encryption_key, 32 bytes) seals the private keys
	// at rest with AES-256-GCM.
	EncryptionKey []byte
	// EncryptionKeyID names EncryptionKey; it is stored per row so the
	// encryption key can be replaced later without losing older rows.
	EncryptionKeyID string
	// DecryptionKeys holds earlier encryption keys by id. They only read
	// rows sealed before EncryptionKey replaced them; new rows use
	// EncryptionKey.
	DecryptionKeys map[string][]byte
	// RotateEvery is the age of the newest key at which RunSchedule rotates;
	// 0 means only explicit Rotate calls (xszz keys rotate) rotate.
	RotateEvery time.Duration
	// RetainFor is how long a key stays in the JWKS after it stopped
	// signing. It must exceed the longest lifetime of a token signed with
	// it (ID/access token TTL plus the verifiers' clock leeway). The
	// manager adds CacheFor on top, for replicas that notice a rotation
	// late.
	RetainFor time.Duration
	// RSABits is the RS256 key size; 0 means 2048.
	RSABits int
	// CacheFor is how long a replica trusts its in-memory view before it
	// checks the database for keys added by another replica; 0 means 30 s.
	CacheFor time.Duration
	// PublishAhead is how long a new key sits in the JWKS before it signs.
	// It is never less than CacheFor (so every replica publishes the key
	// first); add the JWKS endpoint's Cache-Control max-age when relying
	// parties honour it. 0 means CacheFor.
	PublishAhead time.Duration
}

// Defaults applied by New to zero fields.
const (
	DefaultRSABits  = 2048
	DefaultCacheFor = 30 * time.Second
)

// Key is one signing key. Keys are shared and immutable: do not modify.
type Key struct {
	ID  string // kid: 16 random bytes, base64url
	Alg string // RS256 or ES256
	// Signer is the private key, an *rsa.PrivateKey or *ecdsa.PrivateKey,
	// so it can be handed directly to go-jose or fosite's jwt signer.
	Signer    crypto.Signer
	Public    crypto.PublicKey // *rsa.PublicKey or *ecdsa.PublicKey
	CreatedAt time.Time
	// ActiveFrom is when the key starts signing; until then it is only
	// published.
	ActiveFrom time.Time
	// RetiredAt is when the key stops signing; zero while no successor is
	// scheduled.
	RetiredAt time.Time
	// ExpiresAt is when the key leaves the JWKS; zero while not retired.
	ExpiresAt time.Time
}

// Manager creates, rotates and serves the signing keys. It is safe for
// concurrent use.
type Manager struct {
	db   *sqldb.DB
	cfg  Config
	now  func() time.Time
	log  *slog.Logger
	seal *sealer

	// checkEvery is RunSchedule's period.
	checkEvery time.Duration
	// retryAfter is how soon a replica retries after failing to refresh.
	retryAfter time.Duration
	// beforeSwap, when set by tests, runs between reading the keyring
	// version and swapping it, to line up concurrent rotations.
	beforeSwap func()

	mu   sync.Mutex // serialises reloads, so snapshots are stored in order
	snap atomic.Pointer[snapshot]
}

// New checks cfg and returns a manager. It does no I/O: call Ensure before
// serving.
func New(db *sqldb.DB, cfg Config, now func() time.Time, log *slog.Logger) (*Manager, error) {
	if db == nil {
		return nil, errors.New("keys: no database")
	}
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	aead, err := newAEAD(cfg.EncryptionKey)
	if err != nil {
		return nil, fmt.Errorf("keys.encryption_key: %w", err)
	}
	if cfg.EncryptionKeyID == "" {
		return nil, errors.New("keys.encryption_key_id: must not be empty")
	}
	s, err := newSealer(cfg.EncryptionKeyID, aead, cfg.DecryptionKeys)
	if err != nil {
		return nil, err
	}
	if cfg.RSABits == 0 {
		cfg.RSABits = DefaultRSABits
	}
	if cfg.RSABits < 2048 {
		return nil, fmt.Errorf("keys.rsa_bits: %d is too small (at least 2048)", cfg.RSABits)
	}
	if cfg.CacheFor == 0 {
		cfg.CacheFor = DefaultCacheFor
	}
	if cfg.CacheFor < 0 {
		return nil, fmt.Errorf("keys.cache_for: %v must not be negative", cfg.CacheFor)
	}
	if cfg.PublishAhead < cfg.CacheFor {
		cfg.PublishAhead = cfg.CacheFor
	}
	if cfg.RetainFor <= 0 {
		return nil, fmt.Errorf("keys.retain_for: %v must be positive and exceed the longest token lifetime", cfg.RetainFor)
	}
	if cfg.RotateEvery < 0 {
		return nil, fmt.Errorf("keys.rotate_every: %v must not be negative", cfg.RotateEvery)
	}
	if cfg.RotateEvery > 0 && cfg.RotateEvery <= cfg.PublishAhead {
		return nil, fmt.Errorf("keys.rotate_every: %v must exceed the time a new key is published before it signs (%v)", cfg.RotateEvery, cfg.PublishAhead)
	}
	return &Manager{
		db:         db,
		cfg:        cfg,
		now:        now,
		log:        log,
		seal:       s,
		checkEvery: time.Minute,
		retryAfter: min(cfg.CacheFor, 5*time.Second),
	}, nil
}

// Active returns the key that signs new tokens with alg ("RS256" or
// "ES256"). It is served from memory; only when the cached view is older than
// CacheFor does one caller check the database.
func (m *Manager) Active(ctx context.Context, alg string) (*Key, error) {
	s, err := m.current(ctx)
	if err != nil {
		return nil, err
	}
	var k *Key
	switch alg {
	case RS256:
		k = s.rs
	case ES256:
		k = s.es
	default:
		return nil, fmt.Errorf("active signing key: unsupported algorithm %q: %w", alg, sqldb.ErrNotFound)
	}
	if k == nil {
		return nil, fmt.Errorf("active signing key: no %s key (was Ensure called?): %w", alg, sqldb.ErrNotFound)
	}
	return k, nil
}

// PublicKey returns the published key with the given kid, to verify tokens
// the IdP signed itself. An unknown or expired kid gives an error wrapping
// sqldb.ErrNotFound. Unknown kids never cause a database read, so forged
// tokens cannot make the IdP hammer its database.
func (m *Manager) PublicKey(ctx context.Context, kid string) (*Key, error) {
	s, err := m.current(ctx)
	if err != nil {
		return nil, err
	}
	k, ok := s.byKid[kid]
	if !ok {
		return nil, fmt.Errorf("signing key %q: %w", kid, sqldb.ErrNotFound)
	}
	return k, nil
}

// JWKS returns the JSON Web Key Set (RFC 7517) of the published public keys,
// each with kid, use "sig" and alg: the keys about to sign, the active ones
// and the retired ones still retained. The bytes are shared between callers
// and must not be modified.
func (m *Manager) JWKS(ctx context.Context) ([]byte, error) {
	s, err := m.current(ctx)
	if err != nil {
		return nil, err
	}
	return s.jwks, nil
}

// snapshot is an immutable view of the key set at one keyring version.
type snapshot struct {
	version int64
	keys    []*Key // every unexpired key loaded, newest first
	// staleAt (Unix ns) is when the view must be rebuilt: the next
	// database check, or the next time a key changes state, if sooner.
	staleAt int64
	rs, es  *Key
	byKid   map[string]*Key
	jwks    []byte
}

// current returns a fresh enough snapshot. The fast path is an atomic load
// and one comparison.
func (m *Manager) current(ctx context.Context) (*snapshot, error) {
	s := m.snap.Load()
	if s != nil && m.now().UnixNano() < s.staleAt {
		return s, nil
	}
	return m.refresh(ctx, s)
}

func (m *Manager) refresh(ctx context.Context, seen *snapshot) (*snapshot, error) {
	if seen == nil {
		m.mu.Lock()
	} else if !m.mu.TryLock() {
		// Another caller is refreshing; the previous view stays valid
		// for signing and verifying meanwhile (see PublishAhead and
		// RetainFor), so nobody waits on the database.
		return seen, nil
	}
	defer m.mu.Unlock()
	now := m.now()
	s := m.snap.Load()
	if s != nil && now.UnixNano() < s.staleAt {
		return s, nil
	}
	next, err := m.reload(ctx, s, now)
	if err != nil {
		if s == nil {
			return nil, err
		}
		m.log.WarnContext(ctx, "signing keys: refresh failed, serving the cached keys", "err", err, "retry_in", m.retryAfter)
		if next, err = m.build(s.version, s.keys, now, now.Add(m.retryAfter)); err != nil {
			return s, nil
		}
	}
	m.snap.Store(next)
	return next, nil
}

// reload reads the keyring version and, when it moved since prev, the keys.
// The caller holds m.mu.
func (m *Manager) reload(ctx context.Context, prev *snapshot, now time.Time) (*snapshot, error) {
	v, err := readVersion(ctx, m.db)
	if err != nil {
		return nil, err
	}
	if prev != nil && prev.version == v {
		return m.build(v, prev.keys, now, now.Add(m.cfg.CacheFor))
	}
	keys, err := m.loadKeys(ctx, now, prev)
	if err != nil {
		return nil, err
	}
	return m.build(v, keys, now, now.Add(m.cfg.CacheFor))
}

// reloadNow refreshes the snapshot after this replica changed the keys.
func (m *Manager) reloadNow(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, err := m.reload(ctx, m.snap.Load(), m.now())
	if err != nil {
		return err
	}
	m.snap.Store(s)
	return nil
}

// loadKeys reads and decrypts every unexpired key. Keys already decrypted in
// prev are reused: a kid's private key never changes.
func (m *Manager) loadKeys(ctx context.Context, now time.Time, prev *snapshot) ([]*Key, error) {
	rows, err := readRows(ctx, m.db, now.Unix())
	if err != nil {
		return nil, err
	}
	known := map[string]*Key{}
	if prev != nil {
		for _, k := range prev.keys {
			known[k.ID] = k
		}
	}
	keys := make([]*Key, 0, len(rows))
	for _, r := range rows {
		k := &Key{
			ID:         r.kid,
			Alg:        r.alg,
			CreatedAt:  unix(r.createdAt),
			ActiveFrom: unix(r.activeFrom),
			RetiredAt:  unix(r.retiredAt),
			ExpiresAt:  unix(r.expiresAt),
		}
		if old, ok := known[r.kid]; ok && old.Alg == r.alg {
			k.Signer, k.Public = old.Signer, old.Public
		} else {
			signer, err := m.seal.open(r.kid, r.alg, r.encKeyID, r.sealed)
			if err != nil {
				return nil, err
			}
			k.Signer, k.Public = signer, signer.Public()
		}
		keys = append(keys, k)
	}
	return keys, nil
}

func unix(s int64) time.Time {
	if s == 0 {
		return time.Time{}
	}
	return time.Unix(s, 0).UTC()
}

// build derives the views of keys at now. recheck is when the database
// should be asked again.
func (m *Manager) build(version int64, keys []*Key, now, recheck time.Time) (*snapshot, error) {
	n := now.Unix()
	s := &snapshot{version: version, byKid: map[string]*Key{}}
	next := recheck.UnixNano()
	event := func(t time.Time) {
		if !t.IsZero() && t.Unix() > n && t.UnixNano() < next {
			next = t.UnixNano()
		}
	}
	for _, k := range keys {
		if !k.ExpiresAt.IsZero() && k.ExpiresAt.Unix() <= n {
			continue
		}
		s.keys = append(s.keys, k)
		event(k.ActiveFrom)
		event(k.RetiredAt)
		event(k.ExpiresAt)
	}
	s.staleAt = next
	sort.Slice(s.keys, func(i, j int) bool { return newer(s.keys[i], s.keys[j]) })
	set := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, 0, len(s.keys))}
	for _, k := range s.keys {
		s.byKid[k.ID] = k
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.Public, KeyID: k.ID, Algorithm: k.Alg, Use: "sig"})
		signing := k.ActiveFrom.Unix() <= n && (k.RetiredAt.IsZero() || k.RetiredAt.Unix() > n)
		if !signing {
			continue
		}
		// keys is sorted newest first, so the first signing key wins.
		switch {
		case k.Alg == RS256 && s.rs == nil:
			s.rs = k
		case k.Alg == ES256 && s.es == nil:
			s.es = k
		}
	}
	b, err := json.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("marshal JWKS: %w", err)
	}
	s.jwks = b
	return s, nil
}

// newer orders keys by when they start signing, then by creation, then by
// kid, so every replica picks the same active key.
func newer(a, b *Key) bool {
	if !a.ActiveFrom.Equal(b.ActiveFrom) {
		return a.ActiveFrom.After(b.ActiveFrom)
	}
	if !a.CreatedAt.Equal(b.CreatedAt) {
		return a.CreatedAt.After(b.CreatedAt)
	}
	return a.ID > b.ID
}
