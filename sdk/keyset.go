package sdk

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

const (
	maxJWKSBytes     = 1 << 20
	minRSABits       = 2048
	fetchTimeout     = 10 * time.Second
	maxFailedBackoff = 5 * time.Second
)

// publicKey is a parsed JWKS entry usable for exactly one algorithm.
type publicKey struct {
	alg string
	key crypto.PublicKey
}

type keyCache struct {
	keys      map[string][]publicKey // by kid
	fetchedAt time.Time
}

// flight is one JWKS request shared by every caller that needs it.
type flight struct {
	done chan struct{}
	err  error
}

// remoteKeySet caches the provider's JWKS. Lookups are lock-free; a refetch
// happens when an unknown kid arrives (blocking, merged across goroutines)
// or when the cache is older than maxAge (in the background). Refetches,
// successful or not, are at least minInterval apart, so a flood of tokens
// with forged kids costs the IdP at most one request per interval.
type remoteKeySet struct {
	url         string
	client      *http.Client
	now         func() time.Time
	minInterval time.Duration
	maxAge      time.Duration

	cache atomic.Pointer[keyCache]

	mu          sync.Mutex
	inflight    *flight
	lastAttempt time.Time
	lastFailed  bool
	requests    atomic.Int64 // JWKS requests made, for tests and benchmarks
}

func (ks *remoteKeySet) lookup(kid, alg string) (crypto.PublicKey, *keyCache) {
	c := ks.cache.Load()
	if c == nil {
		return nil, nil
	}
	for _, k := range c.keys[kid] {
		if k.alg == alg {
			return k.key, c
		}
	}
	return nil, c
}

// key returns the public key for kid and alg, refetching the JWKS if needed.
func (ks *remoteKeySet) key(ctx context.Context, kid, alg string) (crypto.PublicKey, error) {
	k, c := ks.lookup(kid, alg)
	if k != nil {
		if ks.maxAge > 0 && ks.now().Sub(c.fetchedAt) > ks.maxAge {
			ks.refresh(context.WithoutCancel(ctx), false) // background; keep serving cached keys
		}
		return k, nil
	}
	if err := ks.refresh(ctx, true); err != nil {
		return nil, err
	}
	if k, _ = ks.lookup(kid, alg); k == nil {
		return nil, fmt.Errorf("%w: kid %.64q alg %s", ErrUnknownKey, kid, alg)
	}
	return k, nil
}

// refresh starts (or joins) a JWKS fetch. With wait false it returns at once.
func (ks *remoteKeySet) refresh(ctx context.Context, wait bool) error {
	ks.mu.Lock()
	f := ks.inflight
	if f == nil {
		interval := ks.minInterval
		if ks.lastFailed && interval > maxFailedBackoff {
			// A failed fetch is retried sooner, so a short IdP outage
			// does not lock the relying party out for a whole interval.
			interval = maxFailedBackoff
		}
		if !ks.lastAttempt.IsZero() && ks.now().Sub(ks.lastAttempt) < interval {
			ks.mu.Unlock()
			if ks.cache.Load() == nil {
				return fmt.Errorf("%w: refetch rate limited", ErrKeySetUnavailable)
			}
			return nil // caller will report ErrUnknownKey
		}
		ks.lastAttempt = ks.now()
		f = &flight{done: make(chan struct{})}
		ks.inflight = f
		go ks.fetch(context.WithoutCancel(ctx), f)
	}
	ks.mu.Unlock()
	if !wait {
		return nil
	}
	select {
	case <-f.done:
		return f.err
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", ErrKeySetUnavailable, ctx.Err())
	}
}

func (ks *remoteKeySet) fetch(ctx context.Context, f *flight) {
	keys, err := ks.get(ctx)
	ks.mu.Lock()
	if err == nil {
		ks.cache.Store(&keyCache{keys: keys, fetchedAt: ks.now()})
	}
	ks.lastFailed = err != nil
	ks.inflight = nil
	ks.mu.Unlock()
	f.err = err
	close(f.done)
}

func (ks *remoteKeySet) get(ctx context.Context) (map[string][]publicKey, error) {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	ks.requests.Add(1)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ks.url, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKeySetUnavailable, err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := ks.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKeySetUnavailable, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKeySetUnavailable, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: jwks_uri answered %s", ErrKeySetUnavailable, resp.Status)
	}
	if len(body) > maxJWKSBytes {
		return nil, fmt.Errorf("%w: JWKS larger than %d bytes", ErrKeySetUnavailable, maxJWKSBytes)
	}
	return parseJWKS(body)
}

// parseJWKS keeps the public signature keys it understands and skips the
// rest, so one unknown key type does not take the whole set down.
func parseJWKS(body []byte) (map[string][]publicKey, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKeySetUnavailable, err)
	}
	if set.Keys == nil {
		return nil, fmt.Errorf("%w: no \"keys\" member", ErrKeySetUnavailable)
	}
	keys := make(map[string][]publicKey, len(set.Keys))
	for _, raw := range set.Keys {
		var jwk jose.JSONWebKey
		if err := jwk.UnmarshalJSON(raw); err != nil || jwk.KeyID == "" {
			continue
		}
		if jwk.Use != "" && jwk.Use != "sig" {
			continue
		}
		if !jwk.IsPublic() {
			jwk = jwk.Public() // symmetric keys become invalid here
		}
		if !jwk.Valid() {
			continue
		}
		var pk publicKey
		switch k := jwk.Key.(type) {
		case *rsa.PublicKey:
			if k.N.BitLen() < minRSABits {
				continue
			}
			pk = publicKey{RS256, k}
		case *ecdsa.PublicKey:
			if k.Curve != elliptic.P256() {
				continue
			}
			pk = publicKey{ES256, k}
		default:
			continue
		}
		if jwk.Algorithm != "" && jwk.Algorithm != pk.alg {
			continue
		}
		keys[jwk.KeyID] = append(keys[jwk.KeyID], pk)
	}
	return keys, nil
}
