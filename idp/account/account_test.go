package account_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xszz/xszz/idp/account"
	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/internal/sqldb/sqldbtest"
)

func clock() time.Time { return time.Unix(1_800_000_000, 0) }

// A rename racing a disable: the disable has read the row and not yet
// written it when the rename starts. Without a row lock on PostgreSQL
// (READ COMMITTED) the rename reads the old row too and writes its stale
// status=active back after the disable commits. The disable holds its
// transaction until the rename has either read the row (the bug) or is
// seen waiting for the row lock, so the interleaving is forced, not hoped
// for.
func TestConcurrentUpdatesKeepBothChanges(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := account.NewStore(db, clock)
		a, err := s.Create(ctx, account.Account{Phone: "+8613800000001", Name: "张三", Status: account.StatusActive})
		if err != nil {
			t.Fatal(err)
		}
		firstRead := make(chan struct{})
		secondRead := make(chan struct{}, 1)
		var wg sync.WaitGroup
		errs := make([]error, 2)
		wg.Add(2)
		go func() { // the admin's disable
			defer wg.Done()
			_, errs[0] = s.Update(ctx, a.ID, func(x *account.Account) error {
				close(firstRead)
				waitCtx, stop := context.WithCancel(ctx)
				defer stop()
				select {
				case <-secondRead:
				case <-waitingForLock(waitCtx, db):
				}
				x.Status = account.StatusDisabled
				return nil
			})
		}()
		go func() { // the holder's rename
			defer wg.Done()
			<-firstRead
			_, errs[1] = s.Update(ctx, a.ID, func(x *account.Account) error {
				select {
				case secondRead <- struct{}{}:
				default:
				}
				x.Name = "张三丰"
				return nil
			})
		}()
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.Get(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != account.StatusDisabled || got.Name != "张三丰" {
			t.Fatalf("after racing disable and rename: status %s, name %s; want disabled and renamed", got.Status, got.Name)
		}
	})
}

// waitingForLock is closed once another connection waits for a row lock on
// accounts. On SQLite a second writer cannot even begin while the first
// transaction is open (one writer at a time), so there is nothing to wait
// for and it is closed at once.
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
				WHERE datname = current_database() AND wait_event_type = 'Lock'
				AND query LIKE '%FROM accounts WHERE id = $1 FOR UPDATE%'`).Scan(&n)
			if err == nil && n > 0 {
				close(done)
				return
			}
		}
	}()
	return done
}

func sealer(t *testing.T, b byte) *account.Sealer {
	t.Helper()
	s, err := account.NewSealer("k1", bytes.Repeat([]byte{b}, 32), bytes.Repeat([]byte{b + 1}, 32), nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Phone numbers are stored only sealed, found by their blind index, and
// kept one to an account through it; callers still see plain numbers.
func TestPhonesAreStoredSealed(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := account.NewStore(db, clock, account.WithSealer(sealer(t, 1)))
		const ph = "+8613812345678"
		a, err := s.Create(ctx, account.Account{Phone: ph, Name: "张三"})
		if err != nil {
			t.Fatal(err)
		}
		var (
			plain  sql.NullString
			sealed []byte
			index  string
		)
		if err := db.QueryRowContext(ctx, `SELECT phone, phone_enc, phone_index FROM accounts WHERE id = $1`, a.ID).Scan(&plain, &sealed, &index); err != nil {
			t.Fatal(err)
		}
		if plain.Valid || len(sealed) == 0 || bytes.Contains(sealed, []byte("13812345678")) || strings.Contains(index, "13812345678") {
			t.Fatalf("stored phone %v, sealed %x, index %s: want only the sealed number and its index", plain, sealed, index)
		}
		if got, err := s.ByPhone(ctx, ph); err != nil || got.ID != a.ID || got.Phone != ph {
			t.Fatalf("ByPhone = %+v, %v", got, err)
		}
		if _, err := s.Create(ctx, account.Account{Phone: ph, Name: "李四"}); !errors.Is(err, account.ErrPhoneTaken) {
			t.Fatalf("second account with the number: %v, want ErrPhoneTaken", err)
		}
		other, _ := s.Create(ctx, account.Account{Phone: "+8613812345679", Name: "王五"})
		if _, err := s.Update(ctx, other.ID, func(x *account.Account) error { x.Phone = ph; return nil }); !errors.Is(err, account.ErrPhoneTaken) {
			t.Fatalf("changing to a taken number: %v, want ErrPhoneTaken", err)
		}
		if got, err := s.Update(ctx, a.ID, func(x *account.Account) error { x.Phone = "+8613900000000"; return nil }); err != nil || got.Phone != "+8613900000000" {
			t.Fatalf("change number: %+v, %v", got, err)
		}
		if _, err := s.ByPhone(ctx, ph); !errors.Is(err, sqldb.ErrNotFound) {
			t.Fatalf("old number still finds the account: %v", err)
		}
		// Another deployment's keys neither open nor find it.
		stranger := account.NewStore(db, clock, account.WithSealer(sealer(t, 7)))
		if _, err := stranger.Get(ctx, a.ID); err == nil {
			t.Fatal("a store with other keys opened the number")
		}
		if _, err := stranger.ByPhone(ctx, "+8613900000000"); !errors.Is(err, sqldb.ErrNotFound) {
			t.Fatalf("a store with other keys found the number: %v", err)
		}
	})
}

// Rows written before phones were sealed (plaintext in accounts.phone) are
// sealed at startup, more than one batch of them, and a second run finds
// nothing to do. Until then they are still found by number.
func TestSealPlaintextPhones(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		const n = 1203 // more than two batches
		var sb strings.Builder
		sb.WriteString(`INSERT INTO accounts (id, phone, name, status, role, created_at, updated_at) VALUES `)
		for i := range n {
			if i > 0 {
				sb.WriteString(", ")
			}
			fmt.Fprintf(&sb, "('old%04d', '+86139%08d', '旧账号', 'active', 'staff', 1700000000, 1700000000)", i, i)
		}
		if _, err := db.ExecContext(ctx, sb.String()); err != nil {
			t.Fatal(err)
		}
		s := account.NewStore(db, clock, account.WithSealer(sealer(t, 1)))
		if got, err := s.ByPhone(ctx, "+8613900000042"); err != nil || got.ID != "old0042" {
			t.Fatalf("plaintext row by phone before sealing: %+v, %v", got, err)
		}
		sealed, err := s.SealPlaintextPhones(ctx)
		if err != nil || sealed != n {
			t.Fatalf("sealed %d, %v; want %d", sealed, err, n)
		}
		var left int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM accounts WHERE phone IS NOT NULL OR phone_index IS NULL OR phone_enc IS NULL`).Scan(&left); err != nil || left != 0 {
			t.Fatalf("%d rows not sealed (%v)", left, err)
		}
		for _, i := range []int{0, 499, 500, 1202} {
			ph := fmt.Sprintf("+86139%08d", i)
			got, err := s.ByPhone(ctx, ph)
			if err != nil || got.ID != fmt.Sprintf("old%04d", i) || got.Phone != ph {
				t.Fatalf("after sealing, %s: %+v, %v", ph, got, err)
			}
		}
		if again, err := s.SealPlaintextPhones(ctx); err != nil || again != 0 {
			t.Fatalf("second run sealed %d, %v; want 0", again, err)
		}
		if _, err := s.Create(ctx, account.Account{Phone: "+8613900000007", Name: "重复"}); !errors.Is(err, account.ErrPhoneTaken) {
			t.Fatalf("a sealed old number was taken again: %v", err)
		}
	})
}
