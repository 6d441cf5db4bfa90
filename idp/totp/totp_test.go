package totp_test

import (
	"bytes"
	"context"
	"errors"
	"image/png"
	"strings"
	"sync"
	"testing"
	"time"

	pq "github.com/pquerna/otp"
	ptotp "github.com/pquerna/otp/totp"

	"github.com/xszz/xszz/idp/totp"
	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/internal/sqldb/sqldbtest"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Start in the middle of a 30 s step, so ±n steps are unambiguous.
func newClock() *clock { return &clock{t: time.Date(2025, 3, 3, 9, 0, 15, 0, time.UTC)} }

var testKey = bytes.Repeat([]byte{7}, 32)

func newService(t *testing.T, db *sqldb.DB, c *clock, edit ...func(*totp.Config)) *totp.Service {
	t.Helper()
	cfg := totp.Config{Key: testKey}
	for _, e := range edit {
		e(&cfg)
	}
	s, err := totp.New(db, cfg, c.Now)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func codeAt(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := ptotp.GenerateCodeCustom(secret, at, ptotp.ValidateOpts{Period: 30, Digits: pq.DigitsSix, Algorithm: pq.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// enrol enrols account and returns its secret and recovery codes. The
// confirming code is taken from the previous step, so the current step is
// still free for the test.
func enrol(t *testing.T, s *totp.Service, c *clock, account string) (string, []string) {
	t.Helper()
	e, err := s.Begin(account, "138****0000")
	if err != nil {
		t.Fatal(err)
	}
	codes, err := s.Confirm(context.Background(), account, e.Token, codeAt(t, e.Secret, c.Now().Add(-30*time.Second)))
	if err != nil {
		t.Fatalf("confirm: %v", err)
	}
	return e.Secret, codes
}

func TestVerifyAcceptsOneStepOfSkewOnly(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		for _, tc := range []struct {
			name   string
			offset time.Duration // where the person's phone is, relative to the server
			want   error
		}{
			{"same step", 0, nil},
			{"phone one step ahead", 30 * time.Second, nil},
			{"phone two steps ahead", 60 * time.Second, totp.ErrInvalidCode},
			{"phone two steps behind", -60 * time.Second, totp.ErrInvalidCode},
		} {
			t.Run(tc.name, func(t *testing.T) {
				c := newClock()
				s := newService(t, db, c)
				account := "acct-" + strings.ReplaceAll(tc.name, " ", "-")
				secret, _ := enrol(t, s, c, account)
				c.Advance(2 * time.Minute) // leave the confirming step well behind
				err := s.Verify(context.Background(), account, codeAt(t, secret, c.Now().Add(tc.offset)))
				if !errors.Is(err, tc.want) {
					t.Fatalf("Verify = %v, want %v", err, tc.want)
				}
			})
		}
		t.Run("phone one step behind", func(t *testing.T) {
			c := newClock()
			s := newService(t, db, c)
			secret, _ := enrol(t, s, c, "acct-behind")
			c.Advance(2 * time.Minute)
			if err := s.Verify(context.Background(), "acct-behind", codeAt(t, secret, c.Now().Add(-30*time.Second))); err != nil {
				t.Fatalf("Verify = %v, want nil", err)
			}
		})
	})
}

func TestVerifyRefusesReplay(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		c := newClock()
		s := newService(t, db, c)
		secret, _ := enrol(t, s, c, "a1")
		code := codeAt(t, secret, c.Now())
		if err := s.Verify(ctx, "a1", code); err != nil {
			t.Fatalf("first use: %v", err)
		}
		if err := s.Verify(ctx, "a1", code); !errors.Is(err, totp.ErrReused) {
			t.Fatalf("same code again = %v, want ErrReused", err)
		}
		c.Advance(20 * time.Second) // still inside the ±1 window of the used step
		if err := s.Verify(ctx, "a1", code); !errors.Is(err, totp.ErrReused) {
			t.Fatalf("same code 20 s later = %v, want ErrReused", err)
		}
		// A later step is fine; an earlier one, once a later one was used, is not.
		c.Advance(30 * time.Second)
		if err := s.Verify(ctx, "a1", codeAt(t, secret, c.Now().Add(30*time.Second))); err != nil {
			t.Fatalf("next step ahead: %v", err)
		}
		if err := s.Verify(ctx, "a1", codeAt(t, secret, c.Now())); !errors.Is(err, totp.ErrReused) {
			t.Fatalf("earlier step after a later one = %v, want ErrReused", err)
		}
	})
}

func TestConcurrentUseOfOneCodeLetsOneThrough(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		c := newClock()
		s := newService(t, db, c)
		// Two replicas share the database.
		other := newService(t, db, c)
		secret, _ := enrol(t, s, c, "race")
		code := codeAt(t, secret, c.Now())
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				svc := s
				if i%2 == 1 {
					svc = other
				}
				errs[i] = svc.Verify(context.Background(), "race", code)
			}()
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
			} else if !errors.Is(err, totp.ErrReused) && !strings.Contains(err.Error(), "lock") && !strings.Contains(err.Error(), "busy") {
				t.Errorf("unexpected error: %v", err)
			}
		}
		if ok != 1 {
			t.Fatalf("%d of %d parallel uses succeeded, want exactly 1", ok, len(errs))
		}
	})
}

func TestRecoveryCodesWorkOnce(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		c := newClock()
		s := newService(t, db, c)
		_, codes := enrol(t, s, c, "r1")
		if len(codes) != totp.RecoveryCodes {
			t.Fatalf("%d recovery codes, want %d", len(codes), totp.RecoveryCodes)
		}
		seen := map[string]bool{}
		for _, code := range codes {
			if seen[code] {
				t.Fatalf("duplicate recovery code %q", code)
			}
			seen[code] = true
		}
		if err := s.Redeem(ctx, "r1", strings.ToUpper(codes[0])); err != nil {
			t.Fatalf("first use (typed in capitals): %v", err)
		}
		if err := s.Redeem(ctx, "r1", codes[0]); !errors.Is(err, totp.ErrInvalidCode) {
			t.Fatalf("second use = %v, want ErrInvalidCode", err)
		}
		if err := s.Redeem(ctx, "other", codes[1]); !errors.Is(err, totp.ErrInvalidCode) {
			t.Fatalf("another account's code = %v, want ErrInvalidCode", err)
		}
		if n, _ := s.RecoveryCodesLeft(ctx, "r1"); n != 9 {
			t.Fatalf("%d codes left, want 9", n)
		}
		fresh, err := s.NewRecoveryCodes(ctx, "r1")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Redeem(ctx, "r1", codes[1]); !errors.Is(err, totp.ErrInvalidCode) {
			t.Fatalf("replaced code = %v, want ErrInvalidCode", err)
		}
		if err := s.Redeem(ctx, "r1", fresh[0]); err != nil {
			t.Fatalf("new code: %v", err)
		}
	})
}

func TestConfirm(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		c := newClock()
		s := newService(t, db, c)
		e, err := s.Begin("c1", "138****0000")
		if err != nil {
			t.Fatal(err)
		}
		if img, err := e.PNG(200); err != nil {
			t.Fatalf("PNG: %v", err)
		} else if _, err := png.Decode(bytes.NewReader(img)); err != nil {
			t.Fatalf("PNG does not decode: %v", err)
		}
		if !strings.HasPrefix(e.URL, "otpauth://totp/") || !strings.Contains(e.URL, "secret="+e.Secret) {
			t.Fatalf("URL %q", e.URL)
		}
		for _, tc := range []struct {
			name    string
			account string
			token   string
			code    string
			advance time.Duration
			want    error
		}{
			{"wrong code", "c1", e.Token, "000000", 0, totp.ErrInvalidCode},
			{"token of another account", "c2", e.Token, codeAt(t, e.Secret, c.Now()), 0, totp.ErrEnrolmentExpired},
			{"forged token", "c1", e.Token[:len(e.Token)-2] + "AA", codeAt(t, e.Secret, c.Now()), 0, totp.ErrEnrolmentExpired},
			{"expired token", "c1", e.Token, "", totp.EnrolmentTTL + time.Minute, totp.ErrEnrolmentExpired},
		} {
			t.Run(tc.name, func(t *testing.T) {
				c2 := &clock{t: c.Now().Add(tc.advance)}
				s2 := newService(t, db, c2)
				code := tc.code
				if code == "" {
					code = codeAt(t, e.Secret, c2.Now())
				}
				if _, err := s2.Confirm(ctx, tc.account, tc.token, code); !errors.Is(err, tc.want) {
					t.Fatalf("Confirm = %v, want %v", err, tc.want)
				}
			})
		}
		if ok, _ := s.Enrolled(ctx, "c1"); ok {
			t.Fatal("enrolled after failed confirmations")
		}
		code := codeAt(t, e.Secret, c.Now())
		if _, err := s.Confirm(ctx, "c1", e.Token, code); err != nil {
			t.Fatal(err)
		}
		if ok, _ := s.Enrolled(ctx, "c1"); !ok {
			t.Fatal("not enrolled after confirming")
		}
		if err := s.Verify(ctx, "c1", code); !errors.Is(err, totp.ErrReused) {
			t.Fatalf("the confirming code at sign-in = %v, want ErrReused", err)
		}
		// A second enrolment cannot replace the first; Reset can.
		e2, _ := s.Begin("c1", "138****0000")
		if _, err := s.Confirm(ctx, "c1", e2.Token, codeAt(t, e2.Secret, c.Now())); !errors.Is(err, totp.ErrAlreadyEnrolled) {
			t.Fatalf("second Confirm = %v, want ErrAlreadyEnrolled", err)
		}
		if err := s.Verify(ctx, "c1", codeAt(t, e.Secret, c.Now().Add(30*time.Second))); err != nil {
			t.Fatalf("first secret after a refused second enrolment: %v", err)
		}
		if _, err := s.Reset(ctx, "c1", e.Token, codeAt(t, e.Secret, c.Now())); err != nil {
			t.Fatalf("Reset: %v", err)
		}
		// The secret is not stored in the clear.
		var sealed []byte
		var keyID string
		if err := db.QueryRowContext(ctx, `SELECT secret_enc, key_id FROM totp_credentials WHERE account_id = $1`, "c1").Scan(&sealed, &keyID); err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(sealed, []byte(e.Secret)) || keyID != "v1" {
			t.Fatalf("secret stored in the clear or key id %q", keyID)
		}
		// After a key rotation the old secret still verifies.
		rotated := newService(t, db, c, func(cfg *totp.Config) {
			cfg.Key, cfg.KeyID = bytes.Repeat([]byte{9}, 32), "v2"
			cfg.OldKeys = map[string][]byte{"v1": testKey}
		})
		c.Advance(30 * time.Second)
		if err := rotated.Verify(ctx, "c1", codeAt(t, e.Secret, c.Now())); err != nil {
			t.Fatalf("verify after key rotation: %v", err)
		}
		if err := s.Remove(ctx, "c1"); err != nil {
			t.Fatal(err)
		}
		if err := s.Verify(ctx, "c1", codeAt(t, e.Secret, c.Now())); !errors.Is(err, totp.ErrNotEnrolled) {
			t.Fatalf("after Remove = %v, want ErrNotEnrolled", err)
		}
	})
}

func TestCheckLimitsTriesPerSignInAndPerAccount(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		c := newClock()
		s := newService(t, db, c)
		secret, codes := enrol(t, s, c, "k1")
		exp := c.Now().Add(5 * time.Minute)

		// Five wrong codes burn the pending sign-in, even for a right code after.
		for i := 1; i <= 5; i++ {
			_, err := s.Check(ctx, "k1", "nonce-a", exp, "000000")
			want := totp.ErrInvalidCode
			if i == 5 {
				want = totp.ErrAttemptsExhausted
			}
			if !errors.Is(err, want) {
				t.Fatalf("wrong code %d = %v, want %v", i, err, want)
			}
		}
		if _, err := s.Check(ctx, "k1", "nonce-a", exp, codeAt(t, secret, c.Now())); !errors.Is(err, totp.ErrAttemptsExhausted) {
			t.Fatalf("right code after 5 failures = %v, want ErrAttemptsExhausted", err)
		}

		// A fresh sign-in succeeds, by app code or recovery code, once.
		m, err := s.Check(ctx, "k1", "nonce-b", exp, codeAt(t, secret, c.Now()))
		if err != nil || m != totp.MethodTOTP {
			t.Fatalf("Check = %q, %v", m, err)
		}
		if _, err := s.Check(ctx, "k1", "nonce-b", exp, codes[0]); !errors.Is(err, totp.ErrAttemptsExhausted) {
			t.Fatalf("reusing a completed sign-in = %v, want ErrAttemptsExhausted", err)
		}
		if m, err := s.Check(ctx, "k1", "nonce-c", exp, codes[0]); err != nil || m != totp.MethodRecovery {
			t.Fatalf("recovery code = %q, %v", m, err)
		}

		// Ten failures across sign-ins lock the account for the window.
		for i := range 5 {
			_, _ = s.Check(ctx, "k1", "nonce-d", exp, "00000"+string(rune('0'+i)))
		}
		c.Advance(30 * time.Second)
		var lerr *totp.LockedError
		if _, err := s.Check(ctx, "k1", "nonce-e", exp, codeAt(t, secret, c.Now())); !errors.As(err, &lerr) {
			t.Fatalf("after 10 failures = %v, want *LockedError", err)
		}
		c.Advance(15 * time.Minute)
		if _, err := s.Check(ctx, "k1", "nonce-f", c.Now().Add(5*time.Minute), codeAt(t, secret, c.Now())); err != nil {
			t.Fatalf("after the lock window = %v, want nil", err)
		}
		if err := s.Purge(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

func TestCheckParallelGuessesStayWithinTheLimit(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		c := newClock()
		s := newService(t, db, c, func(cfg *totp.Config) { cfg.LockAfter = 1000 })
		enrol(t, s, c, "p1")
		var wg sync.WaitGroup
		var mu sync.Mutex
		checked := 0
		for range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := s.Check(context.Background(), "p1", "nonce-p", c.Now().Add(time.Minute), "123456")
				if errors.Is(err, totp.ErrInvalidCode) || errors.Is(err, totp.ErrReused) {
					mu.Lock()
					checked++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if checked > 5 {
			t.Fatalf("%d guesses were checked on one pending sign-in, want at most 5", checked)
		}
	})
}

// An admin's reset (Remove) racing the holder's request for new recovery
// codes: the reset has deleted the credential but not yet committed when
// the request checks for it. The request must wait for the reset and then
// find nothing enrolled, not insert codes for a credential that is gone.
func TestNewRecoveryCodesDoNotOutliveAReset(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		c := newClock()
		s := newService(t, db, c)
		enrol(t, s, c, "r1")
		reset, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{`DELETE FROM totp_recovery_codes WHERE account_id = 'r1'`, `DELETE FROM totp_credentials WHERE account_id = 'r1'`} {
			if _, err := reset.ExecContext(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		done := make(chan error, 1)
		go func() { _, err := s.NewRecoveryCodes(ctx, "r1"); done <- err }()
		waitCtx, stop := context.WithCancel(ctx)
		select {
		case err := <-done: // did not wait for the reset at all
			stop()
			reset.Rollback()
			t.Fatalf("NewRecoveryCodes ran through an uncommitted reset: %v", err)
		case <-waitingForLock(waitCtx, db):
		}
		stop()
		if err := reset.Commit(); err != nil {
			t.Fatal(err)
		}
		if err := <-done; !errors.Is(err, totp.ErrNotEnrolled) {
			t.Fatalf("NewRecoveryCodes after a reset = %v, want ErrNotEnrolled", err)
		}
		if n, err := s.RecoveryCodesLeft(ctx, "r1"); err != nil || n != 0 {
			t.Fatalf("%d recovery codes outlive the reset (%v)", n, err)
		}
	})
}

// waitingForLock is closed once another connection waits for a lock on a
// TOTP table. On SQLite a second writer cannot begin while a transaction
// holds the write lock, so it is closed at once.
func waitingForLock(ctx context.Context, db *sqldb.DB) <-chan struct{} {
	done := make(chan struct{})
	if db.Dialect != sqldb.Postgres {
		close(done)
		return done
	}
	go func() {
		for ctx.Err() == nil {
			var n int
			err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM pg_stat_activity
				WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%totp_%'`).Scan(&n)
			if err == nil && n > 0 {
				close(done)
				return
			}
		}
	}()
	return done
}
