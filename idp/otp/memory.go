package otp

import (
	"context"
	"crypto/subtle"
	"sync"
	"time"
)

// MemoryStore is the in-process Store, for a single IdP process (the
// default when no Redis is configured) and for tests. One mutex makes
// every method atomic; the work under it is tiny.
type MemoryStore struct {
	now func() time.Time

	mu    sync.Mutex
	codes map[string]*memCode
	logs  map[string]*memLog
	ops   int
}

type memCode struct {
	hash     []byte
	attempts int
	expires  time.Time
}

// memLog is a sliding-window event log: the times of the events still
// inside window, oldest first.
type memLog struct {
	times  []time.Time
	window time.Duration
}

// sweepEvery is how many operations pass between sweeps of expired
// entries. Entries are also dropped whenever they are touched; the sweep
// bounds memory for keys never touched again (phones that got a code and
// never used it).
const sweepEvery = 1024

// NewMemoryStore returns an empty store. now is the clock used by the
// periodic sweep of expired entries (nil means time.Now); the rules
// themselves use the time passed to each method.
func NewMemoryStore(now func() time.Time) *MemoryStore {
	if now == nil {
		now = time.Now
	}
	return &MemoryStore{
		now:   now,
		codes: map[string]*memCode{},
		logs:  map[string]*memLog{},
	}
}

// Len returns the number of live entries, for tests of the sweep.
func (m *MemoryStore) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.codes) + len(m.logs)
}

// tick must be called with mu held.
func (m *MemoryStore) tick() {
	m.ops++
	if m.ops%sweepEvery == 0 {
		m.sweep(m.now())
	}
}

// Sweep drops every entry that has expired at now. It runs by itself every
// sweepEvery operations; callers may also run it from a ticker.
func (m *MemoryStore) Sweep() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweep(m.now())
}

func (m *MemoryStore) sweep(now time.Time) {
	for k, c := range m.codes {
		if !now.Before(c.expires) {
			delete(m.codes, k)
		}
	}
	for k, l := range m.logs {
		if l.trim(now) == 0 {
			delete(m.logs, k)
		}
	}
}

// trim drops events outside the window ending at now and returns how many
// remain. An event at exactly now-window is outside, as in the Redis store.
func (l *memLog) trim(now time.Time) int {
	cut := now.Add(-l.window)
	i := 0
	for i < len(l.times) && !l.times[i].After(cut) {
		i++
	}
	l.times = l.times[i:]
	return len(l.times)
}

func (m *MemoryStore) log(key string, window time.Duration) *memLog {
	l, ok := m.logs[key]
	if !ok {
		l = &memLog{window: window}
		m.logs[key] = l
	}
	l.window = window
	return l
}

// PutCode implements Store.
func (m *MemoryStore) PutCode(ctx context.Context, key string, hash []byte, now time.Time, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tick()
	m.codes[key] = &memCode{hash: append([]byte(nil), hash...), expires: now.Add(ttl)}
	return nil
}

// CheckCode implements Store.
func (m *MemoryStore) CheckCode(ctx context.Context, key string, hash []byte, now time.Time, maxAttempts int) (CheckResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tick()
	c, ok := m.codes[key]
	if !ok {
		return CheckNotFound, nil
	}
	if !now.Before(c.expires) {
		delete(m.codes, key)
		return CheckNotFound, nil
	}
	if subtle.ConstantTimeCompare(c.hash, hash) == 1 {
		delete(m.codes, key)
		return CheckOK, nil
	}
	c.attempts++
	if c.attempts >= maxAttempts {
		delete(m.codes, key)
		return CheckBurned, nil
	}
	return CheckMismatch, nil
}

// Take implements Store.
func (m *MemoryStore) Take(ctx context.Context, now time.Time, limits []Limit) (TakeResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tick()
	var res TakeResult
	for i, lim := range limits {
		if lim.Max <= 0 {
			continue
		}
		l := m.log(lim.Key, lim.Window)
		c := l.trim(now)
		if c < lim.Max {
			continue
		}
		res.Blocked = append(res.Blocked, i)
		// Room appears when the oldest c-Max+1 events have left the window.
		if wait := l.times[c-lim.Max].Add(lim.Window).Sub(now); wait > res.RetryAfter {
			res.RetryAfter = wait
		}
	}
	if !res.Allowed() {
		return res, nil
	}
	for _, lim := range limits {
		if lim.Max <= 0 || lim.Peek {
			continue
		}
		l := m.logs[lim.Key]
		l.times = append(l.times, now)
	}
	return res, nil
}
