package otptest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/xszz/xszz/idp/otp"
)

// Run runs the whole suite: the store primitives, then the service built
// on a fresh store per test. newStore must return an empty store (or one
// whose keys cannot collide with other tests').
func Run(t *testing.T, newStore func(t *testing.T) otp.Store) {
	t.Run("Store", func(t *testing.T) { runStore(t, newStore) })
	t.Run("Service", func(t *testing.T) { runService(t, newStore) })
}

var ctx = context.Background()

func runStore(t *testing.T, newStore func(t *testing.T) otp.Store) {
	hash := []byte("right-hash-32-bytes-long........")
	wrong := []byte("wrong-hash-32-bytes-long........")
	t0 := NewClock().Now()

	t.Run("CodeIsSingleUse", func(t *testing.T) {
		st := newStore(t)
		must(t, st.PutCode(ctx, "c", hash, t0, time.Minute))
		wantCheck(t, st, "c", hash, t0, 5, otp.CheckOK)
		wantCheck(t, st, "c", hash, t0, 5, otp.CheckNotFound)
	})
	t.Run("CodeExpiresAtTTL", func(t *testing.T) {
		st := newStore(t)
		must(t, st.PutCode(ctx, "c", hash, t0, time.Minute))
		wantCheck(t, st, "c", wrong, t0.Add(time.Minute-time.Millisecond), 5, otp.CheckMismatch)
		wantCheck(t, st, "c", hash, t0.Add(time.Minute), 5, otp.CheckNotFound)
	})
	t.Run("UnknownKey", func(t *testing.T) {
		st := newStore(t)
		wantCheck(t, st, "nothing", hash, t0, 5, otp.CheckNotFound)
	})
	t.Run("MaxAttemptsBurnsCode", func(t *testing.T) {
		st := newStore(t)
		must(t, st.PutCode(ctx, "c", hash, t0, time.Minute))
		for i := 1; i < 5; i++ {
			wantCheck(t, st, "c", wrong, t0, 5, otp.CheckMismatch)
		}
		wantCheck(t, st, "c", wrong, t0, 5, otp.CheckBurned)
		wantCheck(t, st, "c", hash, t0, 5, otp.CheckNotFound)
	})
	t.Run("PutCodeReplacesCodeAndAttempts", func(t *testing.T) {
		st := newStore(t)
		must(t, st.PutCode(ctx, "c", wrong, t0, time.Minute))
		for i := 1; i < 5; i++ {
			wantCheck(t, st, "c", hash, t0, 5, otp.CheckMismatch)
		}
		must(t, st.PutCode(ctx, "c", hash, t0, time.Minute))
		wantCheck(t, st, "c", wrong, t0, 5, otp.CheckMismatch) // attempts restarted
		wantCheck(t, st, "c", hash, t0, 5, otp.CheckOK)
	})
	t.Run("FiftyParallelWrongGuessesEvaluateAtMostMaxAttempts", func(t *testing.T) {
		st := newStore(t)
		must(t, st.PutCode(ctx, "c", hash, t0, time.Minute))
		counts := parallel(t, 50, func(int) otp.CheckResult {
			r, err := st.CheckCode(ctx, "c", wrong, t0, 5)
			if err != nil {
				t.Error(err)
			}
			return r
		})
		if counts[otp.CheckMismatch] != 4 || counts[otp.CheckBurned] != 1 || counts[otp.CheckNotFound] != 45 {
			t.Fatalf("results %v, want 4 mismatches, 1 burn, 45 not found", counts)
		}
	})
	t.Run("ParallelRightGuessesSucceedOnce", func(t *testing.T) {
		st := newStore(t)
		must(t, st.PutCode(ctx, "c", hash, t0, time.Minute))
		counts := parallel(t, 50, func(int) otp.CheckResult {
			r, err := st.CheckCode(ctx, "c", hash, t0, 5)
			if err != nil {
				t.Error(err)
			}
			return r
		})
		if counts[otp.CheckOK] != 1 || counts[otp.CheckNotFound] != 49 {
			t.Fatalf("results %v, want exactly one OK", counts)
		}
	})

	t.Run("TakeSlidingWindow", func(t *testing.T) {
		st := newStore(t)
		lim := []otp.Limit{{Key: "l", Window: time.Hour, Max: 2}}
		wantTake(t, st, t0, lim, nil, 0)
		wantTake(t, st, t0.Add(10*time.Minute), lim, nil, 0)
		// Full: room appears when the event at t0 leaves the window.
		wantTake(t, st, t0.Add(20*time.Minute), lim, []int{0}, 40*time.Minute)
		wantTake(t, st, t0.Add(time.Hour-time.Millisecond), lim, []int{0}, time.Millisecond)
		wantTake(t, st, t0.Add(time.Hour), lim, nil, 0)
		// Now t0+10m and t0+1h are inside: next room at t0+1h10m.
		wantTake(t, st, t0.Add(time.Hour), lim, []int{0}, 10*time.Minute)
	})
	t.Run("TakeIsAllOrNothing", func(t *testing.T) {
		st := newStore(t)
		small := otp.Limit{Key: "small", Window: time.Minute, Max: 1}
		big := otp.Limit{Key: "big", Window: time.Hour, Max: 2}
		wantTake(t, st, t0, []otp.Limit{small, big}, nil, 0)
		// small refuses, so big must not be charged...
		for i := 0; i < 5; i++ {
			wantTake(t, st, t0.Add(time.Second), []otp.Limit{small, big}, []int{0}, 59*time.Second)
		}
		// ...which leaves room for exactly one more.
		wantTake(t, st, t0.Add(time.Minute), []otp.Limit{small, big}, nil, 0)
		wantTake(t, st, t0.Add(2*time.Minute), []otp.Limit{small, big}, []int{1}, 58*time.Minute)
	})
	t.Run("TakeReportsEveryBlockedLimitAndLongestWait", func(t *testing.T) {
		st := newStore(t)
		a := otp.Limit{Key: "a", Window: time.Minute, Max: 1}
		b := otp.Limit{Key: "b", Window: time.Hour, Max: 1}
		c := otp.Limit{Key: "c", Window: time.Hour, Max: 5}
		wantTake(t, st, t0, []otp.Limit{a, b, c}, nil, 0)
		wantTake(t, st, t0, []otp.Limit{a, b, c}, []int{0, 1}, time.Hour)
	})
	t.Run("TakeIgnoresDisabledLimits", func(t *testing.T) {
		st := newStore(t)
		lim := []otp.Limit{{Key: "off", Window: time.Hour, Max: 0}, {Key: "on", Window: time.Hour, Max: 1}}
		wantTake(t, st, t0, lim, nil, 0)
		wantTake(t, st, t0, lim, []int{1}, time.Hour)
	})
	t.Run("ParallelTakeNeverExceedsMax", func(t *testing.T) {
		st := newStore(t)
		lim := []otp.Limit{{Key: "l", Window: time.Hour, Max: 7}}
		counts := parallel(t, 50, func(int) bool {
			r, err := st.Take(ctx, t0, lim)
			if err != nil {
				t.Error(err)
			}
			return r.Allowed()
		})
		if counts[true] != 7 {
			t.Fatalf("%d takes allowed, want 7", counts[true])
		}
	})

	t.Run("PeekRefusesButIsNeverCounted", func(t *testing.T) {
		st := newStore(t)
		counted := otp.Limit{Key: "g", Window: time.Minute, Max: 2}
		peek := counted
		peek.Peek = true
		other := otp.Limit{Key: "o", Window: time.Hour, Max: 100}
		for i := 0; i < 5; i++ {
			wantTake(t, st, t0, []otp.Limit{other, peek}, nil, 0)
		}
		wantTake(t, st, t0, []otp.Limit{counted}, nil, 0)
		wantTake(t, st, t0.Add(10*time.Second), []otp.Limit{counted}, nil, 0)
		// Full now: the peek refuses, and the other limit is not charged.
		wantTake(t, st, t0.Add(20*time.Second), []otp.Limit{other, peek}, []int{1}, 40*time.Second)
		// A lower Max on a peek asks whether the budget passed that mark.
		half := peek
		half.Max = 1
		wantTake(t, st, t0.Add(20*time.Second), []otp.Limit{half}, []int{0}, 50*time.Second)
		wantTake(t, st, t0.Add(time.Minute), []otp.Limit{other, peek}, nil, 0)
		// other holds the 5 + 1 charges made while the peek allowed them.
		wantTake(t, st, t0.Add(time.Minute), []otp.Limit{{Key: "o", Window: time.Hour, Max: 6, Peek: true}}, []int{0}, 59*time.Minute)
	})
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantCheck(t *testing.T, st otp.Store, key string, hash []byte, now time.Time, max int, want otp.CheckResult) {
	t.Helper()
	got, err := st.CheckCode(ctx, key, hash, now, max)
	must(t, err)
	if got != want {
		t.Fatalf("CheckCode = %v, want %v", got, want)
	}
}

func wantTake(t *testing.T, st otp.Store, now time.Time, limits []otp.Limit, blocked []int, retry time.Duration) {
	t.Helper()
	got, err := st.Take(ctx, now, limits)
	must(t, err)
	if len(got.Blocked) != len(blocked) || got.RetryAfter != retry {
		t.Fatalf("Take = %+v, want blocked %v retry %v", got, blocked, retry)
	}
	for i := range blocked {
		if got.Blocked[i] != blocked[i] {
			t.Fatalf("Take = %+v, want blocked %v", got, blocked)
		}
	}
}

func parallel[R comparable](t *testing.T, n int, f func(i int) R) map[R]int {
	t.Helper()
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		start  = make(chan struct{})
		counts = map[R]int{}
	)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			r := f(i)
			mu.Lock()
			counts[r]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	return counts
}
