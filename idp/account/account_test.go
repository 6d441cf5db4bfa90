package account_test

import (
	"context"
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
