package org

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Claim is the org claim put into tokens for scope "org".
type Claim struct {
	ID         string   `json:"id"`
	Name       string   `json:"name"`
	Level      string   `json:"level"`
	RegionCode string   `json:"region_code"`
	Path       []string `json:"path"` // root first, down to and including ID
	Kind       string   `json:"kind"`
}

// Claim returns the org claim of id. The token issuer calls it for every
// token, so answers are kept in memory for the claim TTL; Update, Move and
// Import in this process drop the affected entries at once, and other
// processes' changes show after at most the TTL.
func (s *Store) Claim(ctx context.Context, id string) (*Claim, error) {
	now := s.now()
	if c, ok := s.claims.get(id, now); ok {
		return c, nil
	}
	gen := s.claims.generation()
	o, err := s.Get(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("org claim: %w", err)
	}
	c := &Claim{ID: o.ID, Name: o.Name, Level: o.Level, RegionCode: o.RegionCode, Path: o.Path, Kind: o.Kind}
	s.claims.put(id, c, now, gen)
	return cloneClaim(c), nil
}

func cloneClaim(c *Claim) *Claim {
	cc := *c
	cc.Path = append([]string(nil), c.Path...)
	return &cc
}

// claimCache is a small TTL map. When full it drops everything: claims
// are cheap to rebuild, and a bound matters more than a hit rate here.
type claimCache struct {
	mu      sync.Mutex
	ttl     time.Duration
	max     int
	gen     uint64 // bumped by forgetAll so a read racing a Move is not cached
	entries map[string]claimEntry
}

type claimEntry struct {
	claim   *Claim
	expires time.Time
}

func newClaimCache(ttl time.Duration, max int) *claimCache {
	return &claimCache{ttl: ttl, max: max, entries: map[string]claimEntry{}}
}

func (c *claimCache) get(id string, now time.Time) (*Claim, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[id]
	if !ok || !now.Before(e.expires) {
		return nil, false
	}
	return cloneClaim(e.claim), true
}

func (c *claimCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

func (c *claimCache) put(id string, claim *Claim, now time.Time, gen uint64) {
	if c.ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if len(c.entries) >= c.max {
		c.entries = map[string]claimEntry{}
	}
	c.entries[id] = claimEntry{claim: cloneClaim(claim), expires: now.Add(c.ttl)}
}

// forget drops one unit's claim, after a change to that unit only.
func (c *claimCache) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	delete(c.entries, id)
}

// forgetAll drops every claim, after a change that rewrites paths.
func (c *claimCache) forgetAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.entries = map[string]claimEntry{}
}
