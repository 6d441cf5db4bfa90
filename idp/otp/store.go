package otp

import (
	"context"
	"time"
)

// Store keeps codes, rate-limit counters and lockouts. Each method is one
// atomic step, so the guarantees of Service (single use, attempt cap,
// limits) hold across several IdP processes sharing one store.
//
// Every method receives the current time from the Service instead of
// reading a clock: that keeps one clock for the whole decision (which
// tests replace) and lets a shared store compare times written by
// different nodes. Backends may additionally expire data on their own
// (Redis TTLs), but only as garbage collection, never as the rule.
type Store interface {
	// PutCode stores the hash of a new code under key, valid until
	// now+ttl, replacing any earlier code and its attempt count.
	PutCode(ctx context.Context, key string, hash []byte, now time.Time, ttl time.Duration) error

	// CheckCode compares hash with the stored code and, in the same atomic
	// step, deletes the code when it matches (single use), or counts a
	// wrong attempt and deletes the code on the maxAttempts-th wrong one.
	CheckCode(ctx context.Context, key string, hash []byte, now time.Time, maxAttempts int) (CheckResult, error)

	// Take counts one event against every limit, or against none of them
	// if any limit is already reached, so refused requests do not eat
	// quota. Limits are sliding windows: at most Max events in any period
	// of length Window. Limits with Max <= 0 are ignored.
	Take(ctx context.Context, now time.Time, limits []Limit) (TakeResult, error)

	// Fail records a failure under key. When that makes threshold failures
	// within window, it locks key until now+lockFor, forgets the failures
	// (so the lock's end starts a clean slate), and returns the lock's end;
	// otherwise it returns the zero time.
	Fail(ctx context.Context, key string, now time.Time, window time.Duration, threshold int, lockFor time.Duration) (lockedUntil time.Time, err error)

	// LockedUntil returns the end of the lock on key, or the zero time if
	// key is not locked at now.
	LockedUntil(ctx context.Context, key string, now time.Time) (time.Time, error)
}

// CheckResult is the outcome of Store.CheckCode.
type CheckResult int

const (
	// CheckNotFound: no code, or it expired, was used or was burnt.
	CheckNotFound CheckResult = iota
	// CheckOK: the code matched and has been deleted.
	CheckOK
	// CheckMismatch: wrong code, attempts remain.
	CheckMismatch
	// CheckBurned: wrong code, and it was the last allowed attempt; the
	// code has been deleted.
	CheckBurned
)

func (r CheckResult) String() string {
	switch r {
	case CheckOK:
		return "ok"
	case CheckMismatch:
		return "mismatch"
	case CheckBurned:
		return "burned"
	}
	return "not_found"
}

// Limit is one sliding-window budget for Store.Take.
type Limit struct {
	Key    string
	Window time.Duration
	Max    int
}

// TakeResult is the outcome of Store.Take.
type TakeResult struct {
	// Blocked lists the indexes (into the limits passed to Take) of the
	// limits that were already reached. Empty means the event was counted.
	Blocked []int
	// RetryAfter is how long until every blocked limit has room again.
	RetryAfter time.Duration
}

// Allowed reports whether the event was counted.
func (r TakeResult) Allowed() bool { return len(r.Blocked) == 0 }
