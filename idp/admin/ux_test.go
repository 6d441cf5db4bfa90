package admin_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	ptotp "github.com/pquerna/otp/totp"

	"github.com/xszz/xszz/idp/account"
	"github.com/xszz/xszz/idp/admin"
	"github.com/xszz/xszz/idp/audit"
	"github.com/xszz/xszz/idp/grant"
	"github.com/xszz/xszz/idp/totp"
	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/internal/sqldb/sqldbtest"
)

// The account list has one order, unit path then name, and its pages
// follow it without gaps or repeats.
func TestSearchOrdersByUnitThenNameAcrossPages(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		for i, name := range []string{"赵六", "王五", "李四", "张三"} {
			unit := []string{"320100", "320102", "320100", "3132000001"}[i]
			if _, err := f.svc.Accounts.Create(ctx, account.Account{Phone: "+8613700000" + string(rune('1'+i)) + "00", Name: name, OrgID: unit, Role: account.RoleStaff}); err != nil {
				t.Fatal(err)
			}
		}
		js := admin.Actor{Account: f.admins["000000"]}
		var got []admin.AccountView
		after := ""
		for page := 0; page < 50; page++ {
			items, err := f.svc.Search(ctx, js, admin.Query{Under: "320000", After: after, Limit: 3})
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, items...)
			if len(items) < 3 {
				break
			}
			after = items[len(items)-1].ID
		}
		all, err := f.svc.Search(ctx, js, admin.Query{Under: "320000", Limit: 200})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(all) || len(all) != 2*5+4 {
			t.Fatalf("paged %d accounts, one page %d, want %d", len(got), len(all), 2*5+4)
		}
		paths := map[string]string{}
		key := func(v admin.AccountView) string {
			p, ok := paths[v.OrgID]
			if !ok {
				p, _ = f.svc.Orgs.PathOf(ctx, v.OrgID)
				paths[v.OrgID] = p
			}
			return p + "\x00" + v.Name + "\x00" + v.ID
		}
		seen := map[string]bool{}
		for i, v := range got {
			if seen[v.ID] {
				t.Fatalf("%s appears twice across pages", v.Name)
			}
			seen[v.ID] = true
			if v.ID != all[i].ID {
				t.Errorf("page order differs from the one-page order at %d", i)
			}
			if i > 0 && key(got[i-1]) > key(v) {
				t.Errorf("%s (%s) listed after %s (%s)", v.Name, v.OrgID, got[i-1].Name, got[i-1].OrgID)
			}
		}
	})
}

// A grant refused for what the account is (a school account) is in the
// audit trail of the subtree, with the reason.
func TestRefusedGrantIsAudited(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		log := audit.New(db, time.Now, slog.New(slog.DiscardHandler))
		f.svc.Audit = log
		js := admin.Actor{Account: f.admins["320000"], IP: "192.0.2.1"}
		school := f.accounts["3132000001"]
		if err := f.svc.Grant(ctx, js, school.ID, grant.Cockpit); !errors.Is(err, admin.ErrInvalid) {
			t.Fatalf("grant to a school account: %v", err)
		}
		got, err := log.Search(ctx, audit.Query{OrgPathPrefix: "/000000/320000/", Type: "grant.refused"})
		if err != nil || len(got) != 1 {
			t.Fatalf("refused grants in Jiangsu's trail: %d, %v", len(got), err)
		}
		e := got[0]
		if e.SubjectID != school.ID || e.ActorID != js.Account.ID || e.Result != audit.Failure || e.Reason != "level" || e.Detail["level"] != "school" {
			t.Errorf("refusal recorded as %+v", e)
		}
		if grants, _ := f.svc.Grants.Grants(ctx, school.ID); len(grants) != 0 {
			t.Errorf("the refused grant was written: %v", grants)
		}
	})
}

// An admin resets the authenticator of a person in its subtree only with
// a fresh code from its own authenticator; the reset ends the person's
// sessions, is audited in the subtree and tells the person by SMS. Peers,
// units beside, and a wrong code are refused and change nothing.
func TestResetAuthenticator(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		clock := time.Unix(1_800_000_000, 0)
		tf, err := totp.New(db, totp.Config{Key: make([]byte, 32)}, func() time.Time { return clock })
		if err != nil {
			t.Fatal(err)
		}
		log := audit.New(db, time.Now, slog.New(slog.DiscardHandler))
		box := &texts{}
		f.svc.TOTP, f.svc.Audit, f.svc.SMS = tf, log, box
		secrets := map[string]string{}
		enrol := func(a *account.Account) {
			e, err := tf.Begin(a.ID, a.Name)
			if err != nil {
				t.Fatal(err)
			}
			code, _ := ptotp.GenerateCode(e.Secret, clock)
			if _, err := tf.Confirm(ctx, a.ID, e.Token, code); err != nil {
				t.Fatalf("enrol %s: %v", a.Name, err)
			}
			secrets[a.ID] = e.Secret
		}
		city, target, peer, zj := f.admins["320100"], f.accounts["320102"], f.admins["320102"], f.admins["330000"]
		peer2, err := f.svc.Accounts.Create(ctx, account.Account{Phone: "+8613799990001", Name: "玄武区第二管理员", OrgID: "320102", Role: account.RoleAdmin})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range []*account.Account{city, target, peer, peer2, zj} {
			enrol(a)
		}
		clock = clock.Add(time.Minute) // the enrolment used the current step
		code := func(a *account.Account) string {
			c, _ := ptotp.GenerateCode(secrets[a.ID], clock)
			return c
		}
		if _, _, err := f.svc.Sessions.Create(ctx, target.ID, []string{"sms"}, "192.0.2.9", "test"); err != nil {
			t.Fatal(err)
		}

		for _, tc := range []struct {
			name   string
			actor  *account.Account
			target *account.Account
			code   string
			want   error
		}{
			{"wrong code", city, target, "000000", admin.ErrInvalid},
			{"unit beside", zj, target, "", admin.ErrNotFound},
			{"peer admin of the same unit", peer, peer2, "", admin.ErrForbidden},
			{"own account", city, city, "", admin.ErrForbidden},
		} {
			t.Run(tc.name, func(t *testing.T) {
				c := tc.code
				if c == "" {
					c = code(tc.actor)
				}
				if err := f.svc.ResetTOTP(ctx, admin.Actor{Account: tc.actor}, tc.target.ID, c); !errors.Is(err, tc.want) {
					t.Fatalf("err %v, want %v", err, tc.want)
				}
				if ok, _ := tf.Enrolled(ctx, tc.target.ID); !ok {
					t.Fatalf("a refused reset removed the authenticator")
				}
			})
		}
		clock = clock.Add(time.Minute)
		if err := f.svc.ResetTOTP(ctx, admin.Actor{Account: city, IP: "192.0.2.2"}, target.ID, code(city)); err != nil {
			t.Fatalf("reset: %v", err)
		}
		if ok, _ := tf.Enrolled(ctx, target.ID); ok {
			t.Errorf("the authenticator is still there")
		}
		if n, _ := f.svc.Sessions.DeleteByAccount(ctx, target.ID); len(n) != 0 {
			t.Errorf("%d sessions outlived the reset", len(n))
		}
		got, err := log.Search(ctx, audit.Query{OrgPathPrefix: "/000000/320000/320100/", Type: "totp.reset_by_admin"})
		if err != nil || len(got) != 1 || got[0].ActorID != city.ID || got[0].SubjectID != target.ID || got[0].IP != "192.0.2.2" {
			t.Fatalf("audit of the reset: %+v, %v", got, err)
		}
		if len(box.sent) != 1 {
			t.Fatalf("%d SMS sent, want 1", len(box.sent))
		}
		if m := box.sent[0]; m.Phone != target.Phone || m.Purpose != admin.NoticeTOTPReset {
			t.Errorf("SMS %+v", m)
		}
		// A second reset has nothing to remove.
		clock = clock.Add(time.Minute)
		if err := f.svc.ResetTOTP(ctx, admin.Actor{Account: city}, target.ID, code(city)); !errors.Is(err, admin.ErrInvalid) {
			t.Errorf("reset of an account without authenticator: %v", err)
		}
	})
}
