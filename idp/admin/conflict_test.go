package admin_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xszz/xszz/idp/account"
	"github.com/xszz/xszz/idp/admin"
	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/internal/sqldb/sqldbtest"
)

// queue files a phone conflict for every account's number claimed from
// every unit (some in the same second, so the id decides), with the
// service's clock under the test's hand.
func queue(t *testing.T, f *fixture, clock *time.Time) {
	t.Helper()
	ctx := context.Background()
	f.svc.Now = func() time.Time { return *clock }
	i := 0
	for _, holders := range []map[string]*account.Account{f.accounts, f.admins} {
		for _, h := range holders {
			for _, orgID := range []string{"320000", "320100", "320102", "3132000001", "330000"} {
				if i%3 == 0 {
					*clock = clock.Add(time.Second)
				}
				i++
				if err := f.svc.ClaimPhone(ctx, h, fmt.Sprintf("申请人%d", i), orgID, "127.0.0.1", "test"); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}

// walkConflicts pages through the actor's queue, limit at a time,
// calling between with where the walk stands after each page but the
// last.
func walkConflicts(t *testing.T, f *fixture, a admin.Actor, after *admin.ConflictPosition, limit int, between func(at admin.ConflictPosition)) []admin.PhoneConflict {
	t.Helper()
	var out []admin.PhoneConflict
	for page := 1; ; page++ {
		cs, next, err := f.svc.PhoneConflicts(context.Background(), a, after, limit)
		if err != nil {
			t.Fatalf("page %d: %v", page, err)
		}
		if len(cs) > limit || (next != nil && len(cs) != limit) {
			t.Fatalf("page %d holds %d conflicts (limit %d, next %v)", page, len(cs), limit, next)
		}
		out = append(out, cs...)
		if next == nil {
			return out
		}
		if page > 500 {
			t.Fatal("no end after 500 pages")
		}
		if between != nil {
			between(*next)
		}
		after = next
	}
}

func ids(cs []admin.PhoneConflict) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.ID
	}
	return out
}

// Every admin's queue, in pages of any size, is the whole queue in one
// order, oldest first: no conflict twice, none left out.
func TestPhoneConflictQueuePages(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		clock := time.Unix(1_800_000_000, 0)
		queue(t, f, &clock)
		for _, unit := range []string{"000000", "320000", "320100", "320102", "3132000001", "330000"} {
			a := admin.Actor{Account: f.admins[unit]}
			n, err := f.svc.PhoneConflictCount(ctx, a)
			if err != nil {
				t.Fatal(err)
			}
			whole, next, err := f.svc.PhoneConflicts(ctx, a, nil, admin.MaxConflictPage)
			if err != nil || next != nil || len(whole) != n {
				t.Fatalf("%s: one page of %d holds %d (next %v, %v), want all %d", unit, admin.MaxConflictPage, len(whole), next, err, n)
			}
			if unit == "000000" && n < 50 {
				t.Fatalf("the fixture files %d conflicts, want at least 50", n)
			}
			for i := 1; i < len(whole); i++ {
				if whole[i].CreatedAt.Before(whole[i-1].CreatedAt) {
					t.Fatalf("%s: %s filed before %s, listed after it", unit, whole[i].ID, whole[i-1].ID)
				}
			}
			for _, limit := range []int{1, 2, 7, n} {
				if limit < 1 {
					continue
				}
				if got := ids(walkConflicts(t, f, a, nil, limit, nil)); !slices.Equal(got, ids(whole)) {
					t.Errorf("%s in pages of %d:\n got %v\nwant %v", unit, limit, got, ids(whole))
				}
			}
		}
	})
}

// Conflicts filed or settled between pages neither repeat nor hide the
// others: each conflict open from start to end is seen exactly once,
// settled ones may drop out, new ones join the end.
func TestPhoneConflictQueueHoldsStillWhileItChanges(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		clock := time.Unix(1_800_000_000, 0)
		queue(t, f, &clock)
		root := admin.Actor{Account: f.admins["000000"]}
		before, _, err := f.svc.PhoneConflicts(ctx, root, nil, admin.MaxConflictPage)
		if err != nil {
			t.Fatal(err)
		}
		settled := map[string]bool{}
		page := 0
		got := walkConflicts(t, f, root, nil, 4, func(at admin.ConflictPosition) {
			page++
			// Filed now (the end of the queue), in the second the walk
			// stands at, and a minute ago (another replica's clock:
			// behind the walk).
			for i, created := range []int64{clock.Unix() + int64(page), at.CreatedAt, at.CreatedAt - 60} {
				if _, err := db.ExecContext(ctx, `INSERT INTO account_phone_conflicts (id, account_id, source, name, org_id, role, requested_by, resolve_org_id, resolve_path, created_at)
					VALUES ($1, $2, 'registration', '新申请人', '320102', 'staff', '', '320102', '/000000/320000/320100/320102/', $3)`,
					fmt.Sprintf("%s-new-%d-%d", at.ID, page, i), f.accounts["320102"].ID, created); err != nil {
					t.Fatal(err)
				}
			}
			// Settle one ahead of the walk, while there is one.
			if c := before[len(before)-page]; c.CreatedAt.Unix() > at.CreatedAt {
				if err := f.svc.ResolvePhoneConflict(ctx, root, c.ID, admin.ResolveKept); err != nil {
					t.Fatal(err)
				}
				settled[c.ID] = true
			}
		})
		seen := map[string]int{}
		for _, c := range got {
			if seen[c.ID]++; seen[c.ID] > 1 {
				t.Errorf("%s seen twice", c.ID)
			}
			if settled[c.ID] {
				t.Errorf("%s, settled before its page, still listed", c.ID)
			}
		}
		for _, c := range before {
			if !settled[c.ID] && seen[c.ID] != 1 {
				t.Errorf("%s, open throughout, seen %d times", c.ID, seen[c.ID])
			}
		}
		if len(settled) == 0 || len(got) <= len(before)-len(settled) {
			t.Errorf("the walk saw %d conflicts, %d settled: none of those filed after it started, or none settled", len(got), len(settled))
		}
	})
}

// Whatever a position says, a page holds only the conflicts the actor's
// unit or one below it resolves: only admins above both accounts see one.
func TestPhoneConflictPositionsStayInTheSubtree(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		clock := time.Unix(1_800_000_000, 0)
		queue(t, f, &clock)
		all, _, err := f.svc.PhoneConflicts(ctx, admin.Actor{Account: f.admins["000000"]}, nil, admin.MaxConflictPage)
		if err != nil {
			t.Fatal(err)
		}
		for _, unit := range []string{"320102", "3132000001", "330000"} {
			a := admin.Actor{Account: f.admins[unit]}
			path, err := f.svc.Orgs.PathOf(ctx, unit)
			if err != nil {
				t.Fatal(err)
			}
			for _, after := range []*admin.ConflictPosition{{}, {CreatedAt: all[0].CreatedAt.Unix(), ID: all[0].ID}, {CreatedAt: -1, ID: "~"}} {
				for _, c := range walkConflicts(t, f, a, after, 3, nil) {
					p, err := f.svc.Orgs.PathOf(ctx, c.ResolveOrgID)
					if err != nil || !strings.HasPrefix(p, path) {
						t.Errorf("%s from %+v sees %s, resolved at %s (%v)", unit, *after, c.ID, p, err)
					}
				}
			}
		}
	})
}
