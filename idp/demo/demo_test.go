package demo_test

import (
	"context"
	"testing"
	"time"

	"github.com/xszz/xszz/idp/account"
	"github.com/xszz/xszz/idp/demo"
	"github.com/xszz/xszz/idp/grant"
	"github.com/xszz/xszz/idp/org"
	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/internal/sqldb/sqldbtest"
)

func TestTheDemoWorldCoversEveryLevelAndSeedsOnce(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		now := func() time.Time { return time.Unix(1_800_000_000, 0) }
		orgs, accounts, grants := org.NewStore(db, org.WithClock(now)), account.NewStore(db, now), grant.NewStore(db, now)

		first, err := demo.Seed(ctx, orgs, accounts, grants)
		if err != nil {
			t.Fatal(err)
		}
		if len(first) < 45 || len(first) > 70 {
			t.Fatalf("%d demo people, want about 50", len(first))
		}
		levels, roles := map[string]bool{}, map[string]bool{}
		for _, p := range first {
			levels[p.Level], roles[p.Role] = true, true
			gs, err := grants.Grants(ctx, p.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got := len(gs) == 1 && gs[0] == "cockpit"; got != p.Cockpit {
				t.Errorf("%s (%s): grants %v, cockpit %v", p.Name, p.OrgName, gs, p.Cockpit)
			}
			if p.Cockpit && (p.Level == org.LevelSchool || p.Level == org.LevelDepartment) {
				t.Errorf("%s at %s level holds the cockpit grant, which only ministry to county may", p.Name, p.Level)
			}
		}
		for _, l := range []string{org.LevelMinistry, org.LevelProvince, org.LevelCity, org.LevelCounty, org.LevelSchool, org.LevelDepartment} {
			if !levels[l] {
				t.Errorf("no demo person at level %s", l)
			}
		}
		if !roles[account.RoleAdmin] || !roles[account.RoleStaff] {
			t.Errorf("roles %v, want staff and admin", roles)
		}
		if o, err := orgs.Get(ctx, "4111010001"); err != nil || o.Kind != org.KindCentralUniversity || o.ParentID != org.RootID {
			t.Errorf("the central university: %+v, %v", o, err)
		}

		again, err := demo.Seed(ctx, orgs, accounts, grants)
		if err != nil {
			t.Fatalf("second seed: %v", err)
		}
		if len(again) != len(first) {
			t.Fatalf("second seed reports %d people, first %d", len(again), len(first))
		}
		for i := range first {
			if first[i].ID != again[i].ID {
				t.Fatalf("person %d is a new account on the second seed", i)
			}
		}
	})
}
