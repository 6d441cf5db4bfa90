package main

// Self-registration (手机号注册，实名制), over HTTP: issue 3's rules and
// SECURITY.md #46 (no enumeration).

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/xszz/xszz/idp/account"
	"github.com/xszz/xszz/idp/admin"
	"github.com/xszz/xszz/idp/idcard"
	"github.com/xszz/xszz/internal/sms"
)

// registerCode asks for a registration code for a number.
func (b *browser) registerCode(ph string) string {
	b.t.Helper()
	r := b.postJSON("/api/v1/sms/send", map[string]string{"phone": ph, "purpose": "register"})
	if r.Status != http.StatusOK {
		b.t.Fatalf("sms send (register): %s", r)
	}
	return b.sys.sms.last("+86" + ph)
}

func TestRegistration(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		sys := startSystem(t, be)
		ctx := context.Background()
		apply := func(b *browser, ph string, edit ...func(map[string]string)) reply {
			req := map[string]string{"phone": ph, "code": b.registerCode(ph), "name": "欧阳·娜娜", "org_id": "320000", "position": "资助专干"}
			for _, e := range edit {
				e(req)
			}
			return b.postJSON("/api/v1/register", req)
		}

		t.Run("the same answer for new, registered and disabled numbers", func(t *testing.T) {
			existing := sys.newAccount(t)
			disabled := sys.newAccount(t)
			sys.disable(t, disabled)
			b := sys.browser(t)
			fresh := apply(b, newPhone())
			if fresh.Status != http.StatusAccepted {
				t.Fatalf("new number: %s", fresh)
			}
			for name, ph := range map[string]string{"registered": existing.Phone, "disabled": disabled.Phone} {
				r := apply(b, ph)
				if r.Status != fresh.Status || r.Body != fresh.Body {
					t.Fatalf("%s number answered %s, new number %s", name, r, fresh)
				}
			}
			// Nothing changed for the existing account, and the admins
			// above both units have the claim to decide.
			if a, _ := sys.app.Accounts.Get(ctx, existing.ID); a.Status != account.StatusActive || a.Name != "测试人员" {
				t.Fatalf("existing account changed: %+v", a)
			}
			claims, _, err := sys.app.Admin.PhoneConflicts(ctx, admin.Actor{System: true}, nil, admin.MaxConflictPage)
			if err != nil {
				t.Fatal(err)
			}
			filed := false
			for _, c := range claims {
				filed = filed || (c.AccountID == existing.ID && c.Source == admin.ConflictRegistration)
			}
			if !filed {
				t.Fatalf("registration proving a held number filed no claim: %+v", claims)
			}
			// A wrong code is refused alike too.
			w1 := b.postJSON("/api/v1/register", map[string]string{"phone": existing.Phone, "code": "000000", "name": "张三", "org_id": "320000"})
			w2 := b.postJSON("/api/v1/register", map[string]string{"phone": newPhone(), "code": "000000", "name": "张三", "org_id": "320000"})
			if w1.Status != http.StatusUnauthorized || w1.Status != w2.Status || w1.Body != w2.Body {
				t.Fatalf("wrong code: registered %s, new %s", w1, w2)
			}
		})

		t.Run("pending until an admin approves; rejection disables", func(t *testing.T) {
			b := sys.browser(t)
			ph := newPhone()
			if r := apply(b, ph, func(m map[string]string) { m["id_number"] = "42011120080317041" + "7" }); r.Status != http.StatusAccepted {
				t.Fatalf("register: %s", r)
			}
			acc, err := sys.app.Accounts.ByPhone(ctx, "+86"+ph)
			if err != nil {
				t.Fatal(err)
			}
			if acc.Status != account.StatusPending || acc.OrgID != "320000" || acc.Name != "欧阳·娜娜" || acc.Role != account.RoleStaff {
				t.Fatalf("registered account %+v", acc)
			}
			prof, err := sys.app.Profiles.Get(ctx, acc.ID)
			if err != nil || prof.MaskedID != "4201**********0417" || prof.Position != "资助专干" {
				t.Fatalf("profile %+v, %v", prof, err)
			}
			p := person{ID: acc.ID, Phone: ph, E164: acc.Phone}
			code := b.sendCode(p)
			if r := b.postJSON("/api/v1/login", map[string]string{"phone": ph, "code": code}); r.Status != http.StatusForbidden || r.json(t)["error"] != "account_pending" {
				t.Fatalf("sign-in while pending: %s", r)
			}
			if _, err := sys.app.Admin.Approve(ctx, admin.Actor{System: true}, acc.ID); err != nil {
				t.Fatalf("approve: %v", err)
			}
			if got := sys.sms.noticesTo(acc.Phone); !slices.Equal(got, []string{sms.NoticeApproved}) {
				t.Fatalf("notices after approval: %v, want exactly one approved", got)
			}
			if m := b.smsLogin(p, ""); m["redirect_to"] == "" || !b.signedIn() {
				t.Fatalf("sign-in after approval: %v", m)
			}

			// The same ID number again: the same answer, and the
			// application waits flagged in the queue instead of vanishing.
			ph2 := newPhone()
			if r := apply(b, ph2, func(m map[string]string) { m["id_number"] = "420111200803170417" }); r.Status != http.StatusAccepted {
				t.Fatalf("duplicate ID number: %s", r)
			}
			dup, err := sys.app.Accounts.ByPhone(ctx, "+86"+ph2)
			if err != nil || dup.Status != account.StatusPending {
				t.Fatalf("application with a duplicate ID number: %+v, %v; want it pending", dup, err)
			}
			if v, err := sys.app.Admin.Get(ctx, admin.Actor{System: true}, dup.ID); err != nil || !v.IDNumberConflict {
				t.Fatalf("duplicate ID number not flagged for the admin: %+v, %v", v, err)
			}

			ph3 := newPhone()
			apply(b, ph3)
			acc3, _ := sys.app.Accounts.ByPhone(ctx, "+86"+ph3)
			if acc3, err = sys.app.Admin.Reject(ctx, admin.Actor{System: true}, acc3.ID); err != nil || acc3.Status != account.StatusDisabled {
				t.Fatalf("reject: %+v, %v", acc3, err)
			}
			if got := sys.sms.noticesTo(acc3.Phone); !slices.Equal(got, []string{sms.NoticeRejected}) {
				t.Fatalf("notices after rejection: %v, want exactly one rejected", got)
			}
		})

		// Someone registers first with another person's ID number and is
		// rejected: the number is released, and the owner's registration
		// is filed unflagged, with the same answer as any other.
		t.Run("a rejected squatter does not block the owner", func(t *testing.T) {
			b := sys.browser(t)
			body := "11010519491231002"
			number := body + string(idcard.Check(body))
			squat, owner := newPhone(), newPhone()
			first := apply(b, squat, func(m map[string]string) { m["id_number"] = number })
			if first.Status != http.StatusAccepted {
				t.Fatalf("squatter: %s", first)
			}
			sq, err := sys.app.Accounts.ByPhone(ctx, "+86"+squat)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := sys.app.Admin.Reject(ctx, admin.Actor{System: true}, sq.ID); err != nil {
				t.Fatal(err)
			}
			r := apply(b, owner, func(m map[string]string) { m["id_number"] = number })
			if r.Status != first.Status || r.Body != first.Body {
				t.Fatalf("owner answered %s, squatter %s", r, first)
			}
			acc, err := sys.app.Accounts.ByPhone(ctx, "+86"+owner)
			if err != nil || acc.Status != account.StatusPending {
				t.Fatalf("owner's registration: %+v, %v; want it pending", acc, err)
			}
			if v, err := sys.app.Admin.Get(ctx, admin.Actor{System: true}, acc.ID); err != nil || v.IDNumberConflict {
				t.Fatalf("owner's registration flagged after the squatter was rejected: %+v, %v", v, err)
			}
		})

		t.Run("bad input is refused before anything is stored", func(t *testing.T) {
			b := sys.browser(t)
			for _, tc := range []struct {
				name  string
				edit  func(map[string]string)
				error string
			}{
				{"one-character name", func(m map[string]string) { m["name"] = "张" }, "invalid_name"},
				{"name with markup", func(m map[string]string) { m["name"] = "<b>张三</b>" }, "invalid_name"},
				{"unknown unit", func(m map[string]string) { m["org_id"] = "999999" }, "invalid_org"},
				{"ID number with a wrong check digit", func(m map[string]string) { m["id_number"] = "420111200803170418" }, "invalid_id_number"},
				{"ID number with an impossible date", func(m map[string]string) { m["id_number"] = "620502200602301356" }, "invalid_id_number"},
			} {
				t.Run(tc.name, func(t *testing.T) {
					ph := newPhone()
					r := apply(b, ph, tc.edit)
					if r.Status != http.StatusBadRequest || r.json(t)["error"] != tc.error {
						t.Fatalf("%s: %s, want 400 %s", tc.name, r, tc.error)
					}
					if _, err := sys.app.Accounts.ByPhone(ctx, "+86"+ph); err == nil {
						t.Fatal("account created from bad input")
					}
				})
			}
		})

		t.Run("HTML page", func(t *testing.T) {
			b := sys.browser(t)
			if r := b.get("/register"); r.Status != http.StatusOK {
				t.Fatalf("/register: %s", r)
			}
			ph := newPhone()
			if r := b.postForm("/register/send", url.Values{"phone": {ph}}); r.Status != http.StatusOK || !strings.Contains(r.Body, "真实姓名") {
				t.Fatalf("send form: %s", r)
			}
			r := b.postForm("/register", url.Values{"phone": {ph}, "code": {sys.sms.last("+86" + ph)}, "name": {"李四"}, "org_id": {"320000"}})
			if r.Status != http.StatusAccepted || !strings.Contains(r.Body, "注册申请已提交") {
				t.Fatalf("register form: %s", r)
			}
		})
	})
}
