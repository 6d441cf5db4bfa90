package otp

import (
	"context"
	"time"
)

// Store keeps codes and rate-limit counters. Each method is one
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
	// of length Window. Limits with Max <= 0 are ignored. A Peek limit
	// can refuse the event but is never counted.
	Take(ctx context.Context, now time.Time, limits []Limit) (TakeResult, error)
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
	// Peek: refuse when the budget is reached, but do not count the event
	// against it. The global budget is peeked at when a code is asked for
	// and counted only when one is delivered (Budget); a lower Max on a
	// peek asks "is this budget past that mark?" (Service.Pressure).
	Peek bool
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
