package admin_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/xszz/xszz/idp/account"
	"github.com/xszz/xszz/idp/admin"
	"github.com/xszz/xszz/idp/audit"
	"github.com/xszz/xszz/idp/grant"
	"github.com/xszz/xszz/idp/oauthstore"
	"github.com/xszz/xszz/idp/org"
	"github.com/xszz/xszz/idp/session"
	"github.com/xszz/xszz/internal/sms"
	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/internal/sqldb/sqldbtest"
)

// tree: the ministry, Jiangsu › Nanjing › Xuanwu › a school › a
// department, and Zhejiang beside Jiangsu.
var units = []org.Org{
	{ID: "320100", ParentID: "320000", Name: "南京市学生资助管理中心", Level: org.LevelCity, RegionCode: "320100"},
	{ID: "320102", ParentID: "320100", Name: "玄武区学生资助管理中心", Level: org.LevelCounty, RegionCode: "320102"},
	{ID: "3132000001", ParentID: "320102", Name: "玄武区第一中学", Level: org.LevelSchool, RegionCode: "320102"},
	{ID: "3132000001-01", ParentID: "3132000001", Name: "学生处", Level: org.LevelDepartment},
}

type fixture struct {
	svc      *admin.Service
	accounts map[string]*account.Account // by org id: one staff account per unit
	admins   map[string]*account.Account // by org id: one admin per unit
}

func newFixture(t *testing.T, db *sqldb.DB) *fixture {
	t.Helper()
	ctx := context.Background()
	now := func() time.Time { return time.Unix(1_800_000_000, 0) }
	orgs := org.NewStore(db, org.WithClock(now))
	if err := orgs.Seed(ctx); err != nil {
		t.Fatal(err)
	}
	for _, u := range units {
		if _, err := orgs.Create(ctx, u); err != nil {
			t.Fatalf("create %s: %v", u.ID, err)
		}
	}
	accs := account.NewStore(db, now)
	f := &fixture{accounts: map[string]*account.Account{}, admins: map[string]*account.Account{}}
	n := 0
	for _, id := range []string{"000000", "320000", "320100", "320102", "3132000001", "3132000001-01", "330000"} {
		for _, role := range []string{account.RoleStaff, account.RoleAdmin} {
			n++
			a, err := accs.Create(ctx, account.Account{Phone: fmt.Sprintf("+86138%08d", n), Name: "测试" + id, OrgID: id, Role: role})
			if err != nil {
				t.Fatal(err)
			}
			if role == account.RoleAdmin {
				f.admins[id] = a
			} else {
				f.accounts[id] = a
			}
		}
	}
	f.svc = &admin.Service{
		DB: db, Accounts: accs, Orgs: orgs, Grants: grant.NewStore(db, now),
		Sessions: session.NewStore(db, session.Config{Idle: time.Hour, Absolute: time.Hour}, now),
		OAuth:    oauthstore.New(db, nil, now), Now: now,
	}
	return f
}

// An admin of unit X manages the staff of X and every account below X,
// nothing beside or above, and not the other admins of X: the whole
// matrix of admin unit × target unit, for staff and admin targets.
func TestAdminManagesExactlyTheSubtree(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		path := map[string][]string{
			"000000": {"000000"}, "320000": {"000000", "320000"}, "330000": {"000000", "330000"},
			"320100": {"000000", "320000", "320100"}, "320102": {"000000", "320000", "320100", "320102"},
			"3132000001":    {"000000", "320000", "320100", "320102", "3132000001"},
			"3132000001-01": {"000000", "320000", "320100", "320102", "3132000001", "3132000001-01"},
		}
		for adminOrg, adm := range f.admins {
			for targetOrg, target := range f.accounts {
				want := false
				for _, p := range path[targetOrg] {
					want = want || p == adminOrg
				}
				t.Run(adminOrg+"→"+targetOrg, func(t *testing.T) {
					actor := admin.Actor{Account: adm}
					_, err := f.svc.Get(ctx, actor, target.ID)
					if want && err != nil {
						t.Fatalf("admin of %s cannot see account of %s: %v", adminOrg, targetOrg, err)
					}
					if !want && !errors.Is(err, admin.ErrNotFound) {
						t.Fatalf("admin of %s sees account of %s (err %v)", adminOrg, targetOrg, err)
					}
					_, err = f.svc.SetRole(ctx, actor, target.ID, account.RoleStaff)
					if want != (err == nil) {
						t.Fatalf("admin of %s changing role in %s: err %v, want allowed=%v", adminOrg, targetOrg, err, want)
					}
					// Admins are managed only from strictly above: an
					// admin of the same unit is a peer.
					peer := f.admins[targetOrg]
					wantAdmin := want && adminOrg != targetOrg
					if _, err := f.svc.Get(ctx, actor, peer.ID); want != (err == nil) {
						t.Fatalf("admin of %s sees the admin of %s: err %v, want visible=%v", adminOrg, targetOrg, err, want)
					}
					_, err = f.svc.Disable(ctx, actor, peer.ID)
					if wantAdmin != (err == nil) {
						t.Fatalf("admin of %s disabling the admin of %s: err %v, want allowed=%v", adminOrg, targetOrg, err, wantAdmin)
					}
					if err == nil {
						if _, err := f.svc.Enable(ctx, actor, peer.ID); err != nil {
							t.Fatalf("admin of %s cannot undo its own disable in %s: %v", adminOrg, targetOrg, err)
						}
					}
					if _, err = f.svc.SetRole(ctx, actor, peer.ID, account.RoleAdmin); wantAdmin != (err == nil) {
						t.Fatalf("admin of %s changing the role of the admin of %s: err %v, want allowed=%v", adminOrg, targetOrg, err, wantAdmin)
					}
					views, err := f.svc.Search(ctx, actor, admin.Query{Text: target.Name})
					if err != nil {
						t.Fatal(err)
					}
					found := false
					for _, v := range views {
						found = found || v.ID == target.ID
					}
					if found != want {
						t.Fatalf("search by admin of %s finds account of %s: %v, want %v", adminOrg, targetOrg, found, want)
					}
				})
			}
		}
	})
}

func TestStaffAndDisabledAdminsManageNothing(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		staff := admin.Actor{Account: f.accounts["000000"]}
		if _, err := f.svc.Search(ctx, staff, admin.Query{}); !errors.Is(err, admin.ErrForbidden) {
			t.Fatalf("staff search: %v, want forbidden", err)
		}
		disabled := *f.admins["000000"]
		disabled.Status = account.StatusDisabled
		if _, err := f.svc.Disable(ctx, admin.Actor{Account: &disabled}, f.accounts["320000"].ID); err == nil {
			t.Fatal("disabled admin acted")
		}
		self := admin.Actor{Account: f.admins["320000"]}
		if _, err := f.svc.Disable(ctx, self, f.admins["320000"].ID); !errors.Is(err, admin.ErrForbidden) {
			t.Fatalf("admin disabled itself: %v", err)
		}
		// Access to the cockpit takes a second person: an admin cannot
		// grant it to, or take it from, its own account.
		if err := f.svc.Grant(ctx, self, f.admins["320000"].ID, grant.Cockpit); !errors.Is(err, admin.ErrForbidden) {
			t.Fatalf("admin granted itself the cockpit: %v", err)
		}
		if err := f.svc.Revoke(ctx, self, f.admins["320000"].ID, grant.Cockpit); !errors.Is(err, admin.ErrForbidden) {
			t.Fatalf("admin revoked its own grant: %v", err)
		}
	})
}

// Cockpit access goes to ministry, province, city and county accounts only,
// and only from an admin above them.
func TestCockpitGrantLevels(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		root := admin.Actor{Account: f.admins["000000"]}
		for _, tc := range []struct {
			org  string
			want bool
		}{
			{"000000", true}, {"320000", true}, {"320100", true}, {"320102", true},
			{"3132000001", false}, {"3132000001-01", false},
		} {
			err := f.svc.Grant(ctx, root, f.accounts[tc.org].ID, grant.Cockpit)
			if tc.want != (err == nil) {
				t.Errorf("grant cockpit to account of %s: err %v, want allowed=%v", tc.org, err, tc.want)
			}
			if !tc.want && !errors.Is(err, admin.ErrInvalid) {
				t.Errorf("grant to %s refused with %v, want an invalid-request error with a message", tc.org, err)
			}
		}
		got, err := f.svc.Grants.Grants(ctx, f.accounts["320100"].ID)
		if err != nil || len(got) != 1 || got[0] != grant.Cockpit {
			t.Fatalf("grants of the city account = %v, %v", got, err)
		}
		zj := admin.Actor{Account: f.admins["330000"]}
		if err := f.svc.Grant(ctx, zj, f.accounts["320000"].ID, grant.Cockpit); !errors.Is(err, admin.ErrNotFound) {
			t.Fatalf("Zhejiang admin granted in Jiangsu: %v", err)
		}
		if err := f.svc.Revoke(ctx, root, f.accounts["320100"].ID, grant.Cockpit); err != nil {
			t.Fatal(err)
		}
		if got, _ := f.svc.Grants.Grants(ctx, f.accounts["320100"].ID); len(got) != 0 {
			t.Fatalf("grant survived revoke: %v", got)
		}
	})
}

// Moving an account into a school drops its cockpit grant, and only units
// in the admin's subtree are valid destinations.
func TestMove(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		js := admin.Actor{Account: f.admins["320000"]}
		acc := f.accounts["320100"]
		if err := f.svc.Grant(ctx, js, acc.ID, grant.Cockpit); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Move(ctx, js, acc.ID, "330000"); !errors.Is(err, admin.ErrForbidden) {
			t.Fatalf("move out of the subtree: %v", err)
		}
		moved, err := f.svc.Move(ctx, js, acc.ID, "3132000001")
		if err != nil {
			t.Fatal(err)
		}
		if moved.OrgID != "3132000001" {
			t.Fatalf("org after move = %s", moved.OrgID)
		}
		if got, _ := f.svc.Grants.Grants(ctx, acc.ID); len(got) != 0 {
			t.Fatalf("school account kept cockpit grant: %v", got)
		}
	})
}

// texts records the SMS notices the service sends.
type texts struct {
	sent []sms.Message
	err  error
}

func (x *texts) Send(_ context.Context, m sms.Message) error {
	x.sent = append(x.sent, m)
	return x.err
}

// The applicant learns the decision on the registration by one SMS to the
// number that registered, carrying nothing but the decision's template.
func TestDecisionsNotifyTheApplicant(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		box := &texts{}
		f.svc.SMS = box
		js := admin.Actor{Account: f.admins["320000"]}
		pending := func(n int) *account.Account {
			a, err := f.svc.Accounts.Create(ctx, account.Account{Phone: fmt.Sprintf("+86139%08d", n), Name: "申请人", OrgID: "320100", Role: account.RoleStaff, Status: account.StatusPending})
			if err != nil {
				t.Fatal(err)
			}
			return a
		}
		for _, tt := range []struct {
			name   string
			decide func(context.Context, admin.Actor, string) (*account.Account, error)
			notice string
		}{
			{"approval", f.svc.Approve, sms.NoticeApproved},
			{"rejection", f.svc.Reject, sms.NoticeRejected},
		} {
			t.Run(tt.name, func(t *testing.T) {
				box.sent = nil
				acc := pending(len(tt.name))
				if _, err := tt.decide(ctx, js, acc.ID); err != nil {
					t.Fatal(err)
				}
				if len(box.sent) != 1 {
					t.Fatalf("sent %d notices, want exactly 1: %+v", len(box.sent), box.sent)
				}
				m := box.sent[0]
				if m.Phone != acc.Phone || m.Purpose != tt.notice || m.Code != "" || len(m.Params) != 0 {
					t.Fatalf("notice %+v, want %s to %s without code or variables", m, tt.notice, acc.Phone)
				}
				// Deciding again is refused, and says nothing more.
				if _, err := tt.decide(ctx, js, acc.ID); !errors.Is(err, admin.ErrInvalid) || len(box.sent) != 1 {
					t.Fatalf("second decision: %v, %d notices", err, len(box.sent))
				}
			})
		}
		t.Run("a gateway failure does not undo the approval", func(t *testing.T) {
			box.sent, box.err = nil, errors.New("gateway down")
			acc := pending(99)
			got, err := f.svc.Approve(ctx, js, acc.ID)
			if err != nil || got.Status != account.StatusActive || len(box.sent) != 1 {
				t.Fatalf("approve with the gateway down: %v, %+v, %d sends", err, got, len(box.sent))
			}
		})
	})
}

// Moving an account or changing its role ends its sessions and refresh
// tokens at once, so no token keeps the old unit or role for longer than
// one access-token lifetime.
func TestMoveAndRoleChangeSignOut(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		js := admin.Actor{Account: f.admins["320000"]}
		for name, change := range map[string]func(id string) error{
			"move": func(id string) error { _, err := f.svc.Move(ctx, js, id, "320102"); return err },
			"role": func(id string) error { _, err := f.svc.SetRole(ctx, js, id, account.RoleAdmin); return err },
		} {
			t.Run(name, func(t *testing.T) {
				acc := f.accounts["320100"]
				if _, _, err := f.svc.Sessions.Create(ctx, acc.ID, []string{"sms"}, "127.0.0.1", "test"); err != nil {
					t.Fatal(err)
				}
				_, err := db.ExecContext(ctx, `INSERT INTO oauth_requests (kind, signature, request_id, client_id, subject, session_id, active, requested_at, expires_at, data)
					VALUES ('refresh', $1, $1, 'c', $2, '', $3, 0, 4102444800, '{}')`, name+"-sig", acc.ID, true)
				if err != nil {
					t.Fatal(err)
				}
				if err := change(acc.ID); err != nil {
					t.Fatal(err)
				}
				if live, err := f.svc.Sessions.ListByAccount(ctx, acc.ID); err != nil || len(live) != 0 {
					t.Fatalf("sessions after %s: %d (%v), want none", name, len(live), err)
				}
				var active bool
				if err := db.QueryRowContext(ctx, `SELECT active FROM oauth_requests WHERE kind = 'refresh' AND signature = $1`, name+"-sig").Scan(&active); err != nil {
					t.Fatal(err)
				}
				if active {
					t.Fatalf("refresh token still active after %s", name)
				}
			})
		}
	})
}

// An admin action whose audit record cannot be written does not happen:
// the account stays as it was, nothing is signed out, and the failure is
// logged at error level.
func TestActionThatCannotBeAuditedFails(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		var logged bytes.Buffer
		log := slog.New(slog.NewTextHandler(&logged, nil))
		f.svc.Log = log
		f.svc.Audit = audit.New(db, time.Now, log)
		js := admin.Actor{Account: f.admins["320000"]}
		target := f.accounts["320100"]
		if _, err := f.svc.Disable(ctx, js, target.ID); err != nil {
			t.Fatalf("disable with a working audit log: %v", err)
		}
		if _, err := f.svc.Enable(ctx, js, target.ID); err != nil {
			t.Fatal(err)
		}
		// The chain head is gone: no event can be appended.
		if _, err := db.ExecContext(ctx, `ALTER TABLE audit_chain RENAME TO audit_chain_gone`); err != nil {
			t.Fatal(err)
		}
		if _, _, err := f.svc.Sessions.Create(ctx, target.ID, []string{"sms"}, "127.0.0.1", "test"); err != nil {
			t.Fatal(err)
		}
		for name, act := range map[string]func() error{
			"disable":  func() error { _, err := f.svc.Disable(ctx, js, target.ID); return err },
			"set role": func() error { _, err := f.svc.SetRole(ctx, js, target.ID, account.RoleAdmin); return err },
			"grant":    func() error { return f.svc.Grant(ctx, js, target.ID, grant.Cockpit) },
			"provision": func() error {
				_, err := f.svc.Provision(ctx, js, "13900000077", "新同事", "320100", account.RoleStaff)
				return err
			},
		} {
			logged.Reset()
			if err := act(); err == nil {
				t.Errorf("%s succeeded although it could not be audited", name)
			}
			if !strings.Contains(logged.String(), "level=ERROR") {
				t.Errorf("%s: audit failure not logged at error level: %q", name, logged.String())
			}
		}
		got, err := f.svc.Accounts.Get(ctx, target.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != account.StatusActive || got.Role != account.RoleStaff {
			t.Fatalf("unaudited changes were kept: %+v", got)
		}
		if g, _ := f.svc.Grants.Grants(ctx, target.ID); len(g) != 0 {
			t.Fatalf("unaudited grant was kept: %v", g)
		}
		if live, _ := f.svc.Sessions.ListByAccount(ctx, target.ID); len(live) != 1 {
			t.Fatalf("sessions after the failed disable: %d, want the one untouched", len(live))
		}
		if _, err := f.svc.Accounts.ByPhone(ctx, "+8613900000077"); !errors.Is(err, sqldb.ErrNotFound) {
			t.Fatalf("unaudited provisioning created an account: %v", err)
		}
	})
}

// An import applies every line or none: a line that fails when applied
// (here a unit that does not exist) undoes the lines before it, audit
// records included.
func TestImportIsAllOrNothing(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		log := audit.New(db, time.Now, slog.New(slog.DiscardHandler))
		f.svc.Audit = log
		sys := admin.Actor{System: true}
		existing := f.accounts["320100"]
		rows := []admin.ImportRow{
			{Line: 2, Phone: "+8613900000001", Name: "新同事", OrgID: "320102", Role: account.RoleStaff},
			{Line: 3, Phone: existing.Phone, Name: "改名后", OrgID: "320100", Role: account.RoleAdmin},
			{Line: 4, Phone: "+8613900000002", Name: "无单位", OrgID: "999999", Role: account.RoleStaff},
		}
		countEvents := func() int {
			var n int
			if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM audit_log`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		before := countEvents()
		_, err := f.svc.Import(ctx, sys, rows, false)
		if err == nil || !strings.Contains(err.Error(), "line 4") {
			t.Fatalf("import with a bad line 4: %v, want an error naming line 4", err)
		}
		if _, err := f.svc.Accounts.ByPhone(ctx, "+8613900000001"); !errors.Is(err, sqldb.ErrNotFound) {
			t.Fatalf("line 2 was created although line 4 failed: %v", err)
		}
		got, err := f.svc.Accounts.Get(ctx, existing.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != existing.Name || got.Role != existing.Role {
			t.Fatalf("line 3 was applied although line 4 failed: %+v", got)
		}
		if n := countEvents(); n != before {
			t.Fatalf("%d audit events of a rolled-back import remain", n-before)
		}

		rep, err := f.svc.Import(ctx, sys, rows[:2], true)
		if err != nil || rep.Created != 1 || rep.Updated != 1 {
			t.Fatalf("dry run: %+v, %v", rep, err)
		}
		if _, err := f.svc.Accounts.ByPhone(ctx, "+8613900000001"); !errors.Is(err, sqldb.ErrNotFound) {
			t.Fatalf("dry run wrote: %v", err)
		}
		if rep, err = f.svc.Import(ctx, sys, rows[:2], false); err != nil || rep.Created != 1 || rep.Updated != 1 {
			t.Fatalf("import: %+v, %v", rep, err)
		}
		if got, _ := f.svc.Accounts.Get(ctx, existing.ID); got.Name != "改名后" || got.Role != account.RoleAdmin {
			t.Fatalf("after import: %+v", got)
		}
		if n := countEvents(); n != before+3 {
			t.Fatalf("import recorded %d events, want 3 (created, renamed, role changed)", n-before)
		}
	})
}

// A rogue admin with a second admin account in its unit cannot shield
// itself: peers cannot disable, demote or re-enable each other, a disable
// by a superior is lifted only at or above the superior's unit, and no
// admin appoints its own equal.
func TestPeerAdminsAreManagedFromAbove(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		province := admin.Actor{Account: f.admins["320000"]}
		city := admin.Actor{Account: f.admins["320100"]}
		county := admin.Actor{Account: f.admins["320102"]}
		school := admin.Actor{Account: f.admins["3132000001"]}
		second, err := f.svc.Provision(ctx, city, "13900000100", "第二账号", "320102", account.RoleAdmin)
		if err != nil {
			t.Fatal(err)
		}
		rogue := admin.Actor{Account: second}

		if _, err := f.svc.Disable(ctx, rogue, f.admins["320102"].ID); !errors.Is(err, admin.ErrForbidden) {
			t.Fatalf("peer disabled a peer: %v", err)
		}
		if _, err := f.svc.SetRole(ctx, rogue, f.admins["320102"].ID, account.RoleStaff); !errors.Is(err, admin.ErrForbidden) {
			t.Fatalf("peer demoted a peer: %v", err)
		}
		if _, err := f.svc.Disable(ctx, city, second.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Enable(ctx, county, second.ID); !errors.Is(err, admin.ErrForbidden) {
			t.Fatalf("peer re-enabled an admin the city disabled: %v", err)
		}
		if got, _ := f.svc.Accounts.Get(ctx, second.ID); got.Status != account.StatusDisabled {
			t.Fatalf("status after the peer's attempt: %s", got.Status)
		}
		if _, err := f.svc.Enable(ctx, province, second.ID); err != nil {
			t.Fatalf("province cannot lift the city's disable: %v", err)
		}

		// A staff account disabled by the county stays disabled for the
		// school below it, and is lifted by another admin of the county.
		staff := f.accounts["3132000001"]
		if _, err := f.svc.Disable(ctx, county, staff.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Enable(ctx, school, staff.ID); !errors.Is(err, admin.ErrForbidden) {
			t.Fatalf("school lifted the county's disable: %v", err)
		}
		if _, err := f.svc.Disable(ctx, school, staff.ID); err != nil {
			t.Fatalf("school disabling an already disabled account: %v", err)
		}
		if _, err := f.svc.Enable(ctx, school, staff.ID); !errors.Is(err, admin.ErrForbidden) {
			t.Fatalf("disabling again moved the disable down to the school: %v", err)
		}
		if _, err := f.svc.Enable(ctx, admin.Actor{Account: second}, staff.ID); err != nil {
			t.Fatalf("another county admin cannot lift the county's disable: %v", err)
		}

		// No admin appoints its equal.
		if _, err := f.svc.Provision(ctx, county, "13900000101", "同级管理员", "320102", account.RoleAdmin); !errors.Is(err, admin.ErrForbidden) {
			t.Fatalf("county provisioned a county admin: %v", err)
		}
		if _, err := f.svc.SetRole(ctx, county, f.accounts["320102"].ID, account.RoleAdmin); !errors.Is(err, admin.ErrForbidden) {
			t.Fatalf("county promoted its own staff to admin: %v", err)
		}
		if _, err := f.svc.Move(ctx, city, f.admins["320102"].ID, "320100"); !errors.Is(err, admin.ErrForbidden) {
			t.Fatalf("city moved a county admin into the city: %v", err)
		}
		if _, err := f.svc.SetRole(ctx, county, f.accounts["3132000001"].ID, account.RoleAdmin); err != nil {
			t.Fatalf("county cannot appoint a school admin: %v", err)
		}
		// The command line is above everyone, and its disable is its own.
		sys := admin.Actor{System: true}
		if _, err := f.svc.Disable(ctx, sys, f.admins["000000"].ID); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Enable(ctx, admin.Actor{Account: f.admins["000000"]}, f.admins["000000"].ID); err == nil {
			t.Fatal("an admin lifted the command line's disable of itself")
		}
	})
}

// Provisioning a number another account holds answers alike wherever the
// number is used, creates nothing, and puts the case before the admins of
// the lowest unit above both accounts; so does a registration proving a
// number held elsewhere.
func TestPhoneConflictsGoAboveBothUnits(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		js := admin.Actor{Account: f.admins["320000"]}
		root := admin.Actor{Account: f.admins["000000"]}
		zj := admin.Actor{Account: f.admins["330000"]}
		county := admin.Actor{Account: f.admins["320102"]}
		school := admin.Actor{Account: f.admins["3132000001"]}
		elsewhere := f.accounts["330000"] // Zhejiang, outside Jiangsu
		inside := f.accounts["3132000001"]

		var msgs []string
		for _, holder := range []*account.Account{elsewhere, inside} {
			acc, err := f.svc.Provision(ctx, js, holder.Phone, "新同事", "320100", account.RoleStaff)
			if acc != nil || !errors.Is(err, &admin.Error{Code: "conflict"}) {
				t.Fatalf("provision a held number: %+v, %v; want a conflict", acc, err)
			}
			msgs = append(msgs, err.Error())
			if got, _ := f.svc.Accounts.Get(ctx, holder.ID); got.Name != holder.Name || got.OrgID != holder.OrgID {
				t.Fatalf("holder changed: %+v", got)
			}
		}
		if msgs[0] != msgs[1] {
			t.Fatalf("answers differ by where the number is used: %q vs %q", msgs[0], msgs[1])
		}
		for _, leak := range []string{"浙江", "330000", elsewhere.Name} {
			if strings.Contains(msgs[0], leak) {
				t.Fatalf("answer %q says where the number is used (%s)", msgs[0], leak)
			}
		}
		if err := f.svc.ClaimPhone(ctx, inside, "真正的机主", "320102", "127.0.0.1", "test"); err != nil {
			t.Fatal(err)
		}

		list := func(a admin.Actor) map[string]string { // holder id → resolving unit
			t.Helper()
			cs, _, err := f.svc.PhoneConflicts(ctx, a, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			out := map[string]string{}
			for _, c := range cs {
				out[c.AccountID+"/"+c.Source] = c.ResolveOrgID
			}
			return out
		}
		if got := list(root); got[elsewhere.ID+"/provision"] != "000000" || got[inside.ID+"/provision"] != "320100" || got[inside.ID+"/registration"] != "320102" {
			t.Fatalf("ministry sees %v", got)
		}
		if got := list(js); len(got) != 2 || got[elsewhere.ID+"/provision"] != "" {
			t.Fatalf("Jiangsu sees %v, want the two inside Jiangsu only", got)
		}
		if got := list(zj); len(got) != 0 {
			t.Fatalf("Zhejiang (the holder's side) sees %v", got)
		}
		if got := list(county); len(got) != 1 {
			t.Fatalf("county sees %v, want the registration it is above", got)
		}
		if got := list(school); len(got) != 0 {
			t.Fatalf("school sees %v, though it is not above the registering unit", got)
		}
		cs, _, _ := f.svc.PhoneConflicts(ctx, county, nil, 0)
		if err := f.svc.ResolvePhoneConflict(ctx, school, cs[0].ID, admin.ResolveKept); !errors.Is(err, admin.ErrNotFound) {
			t.Fatalf("school resolved a conflict above it: %v", err)
		}
		if err := f.svc.ResolvePhoneConflict(ctx, county, cs[0].ID, "whatever"); !errors.Is(err, admin.ErrInvalid) {
			t.Fatalf("an unknown outcome: %v", err)
		}
		if n, err := f.svc.PhoneConflictCount(ctx, county); err != nil || n != 1 {
			t.Fatalf("county counts %d, %v; want 1", n, err)
		}
		if err := f.svc.ResolvePhoneConflict(ctx, county, cs[0].ID, admin.ResolveKept); err != nil {
			t.Fatal(err)
		}
		if got := list(county); len(got) != 0 {
			t.Fatalf("resolved conflict still listed: %v", got)
		}
		if n, _ := f.svc.PhoneConflictCount(ctx, county); n != 0 {
			t.Fatalf("county still counts %d", n)
		}
		if err := f.svc.ResolvePhoneConflict(ctx, county, cs[0].ID, admin.ResolveKept); !errors.Is(err, admin.ErrNotFound) {
			t.Fatalf("resolving twice: %v", err)
		}
	})
}
