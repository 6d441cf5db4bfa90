package admin_test

import (
	"context"
	"testing"
	"time"

	"github.com/xszz/xszz/idp/account"
	"github.com/xszz/xszz/idp/audit"
	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/internal/sqldb/sqldbtest"
)

// An operator's disable stops the account, ends its sessions and leaves
// the console's audit record with the command line as the actor.
func TestDisableByOperator(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		now := func() time.Time { return time.Unix(1_800_000_000, 0) }
		log := audit.New(db, now, nil)
		f.svc.Audit = log
		target := f.accounts["3132000001"]
		if _, _, err := f.svc.Sessions.Create(ctx, target.ID, []string{"sms"}, "192.0.2.1", "test"); err != nil {
			t.Fatal(err)
		}

		acc, err := f.svc.DisableByOperator(ctx, target.ID)
		if err != nil {
			t.Fatalf("disable: %v", err)
		}
		if acc.Status != account.StatusDisabled {
			t.Fatalf("status %q, want disabled", acc.Status)
		}
		left, err := f.svc.Sessions.ListByAccount(ctx, target.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(left) != 0 {
			t.Fatalf("%d sessions survive the disable", len(left))
		}
		events, err := log.Search(ctx, audit.Query{Type: "account.disabled"})
		if err != nil {
			t.Fatal(err)
		}
		if len(events) != 1 || events[0].ActorID != "cli" || events[0].SubjectID != target.ID || events[0].OrgID != target.OrgID {
			t.Fatalf("audit events %+v, want one account.disabled by cli of %s in %s", events, target.ID, target.OrgID)
		}

		if _, err := f.svc.DisableByOperator(ctx, "no-such-account"); err == nil {
			t.Fatal("disabling an unknown account succeeded")
		}
	})
}
