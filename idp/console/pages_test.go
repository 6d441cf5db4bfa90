package console_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/xszz/xszz/idp/account"
	"github.com/xszz/xszz/idp/audit"
	"github.com/xszz/xszz/idp/console"
	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/internal/sqldb/sqldbtest"
)

// Only signed-in, active admins reach the console, and its pages are
// neither cached nor framed.
func TestConsoleAdmitsOnlyActiveAdmins(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		v := newEnv(t, db)
		anon := &browser{v: v}
		// The login page brings the admin back to the page asked for.
		if rec := anon.get("/admin"); rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/login?return=%2Fadmin" {
			t.Errorf("no session: %d %q, want 303 to /login?return=%%2Fadmin", rec.Code, rec.Header().Get("Location"))
		}
		if rec := anon.get("/admin/audit?q=x"); rec.Header().Get("Location") != "/login?return=%2Fadmin%2Faudit%3Fq%3Dx" {
			t.Errorf("no session at a deep page: %q", rec.Header().Get("Location"))
		}
		forged := &browser{v: v, cookie: "not-a-session"}
		if rec := forged.get("/admin"); rec.Code != http.StatusSeeOther {
			t.Errorf("unknown session: %d, want 303", rec.Code)
		}
		staff := v.signIn("staffJS")
		if rec := staff.get("/admin"); rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "仅对单位管理员开放") {
			t.Errorf("staff: %d, want 403 with an explanation\n%s", rec.Code, rec.Body)
		}
		if rec := staff.get("/admin/accounts/" + v.id("staffNJ")); rec.Code != http.StatusForbidden {
			t.Errorf("staff on an account page: %d, want 403", rec.Code)
		}

		adm := v.signIn("adminNJ")
		rec := adm.get("/admin")
		if rec.Code != http.StatusOK {
			t.Fatalf("admin: %d\n%s", rec.Code, rec.Body)
		}
		if got := rec.Header().Get("Cache-Control"); got != "no-store" {
			t.Errorf("Cache-Control %q, want no-store", got)
		}
		if got := rec.Header().Get("X-Frame-Options"); got != "DENY" {
			t.Errorf("X-Frame-Options %q, want DENY", got)
		}
		// Disabled in the database (as by a superior, or the CLI): the
		// next click is refused, even before the session is swept.
		if _, err := v.accounts.Update(context.Background(), v.id("adminNJ"), func(a *account.Account) error {
			a.Status = account.StatusDisabled
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if rec := adm.get("/admin"); rec.Code != http.StatusSeeOther {
			t.Errorf("disabled admin: %d, want 303 to the login page", rec.Code)
		}
	})
}

// When admins must use the authenticator app, a session signed in by SMS
// alone does not open the console.
func TestConsoleRequiresTheSecondFactor(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		v := newEnv(t, db, func(c *console.Config) { c.RequireAMR = "otp" })
		if rec := v.signIn("adminJS", "sms").get("/admin"); rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "动态口令") {
			t.Errorf("SMS-only admin session: %d, want 403 asking for the authenticator", rec.Code)
		}
		if rec := v.signIn("adminJS", "sms", "otp").get("/admin"); rec.Code != http.StatusOK {
			t.Errorf("two-factor admin session: %d, want 200", rec.Code)
		}
	})
}

// A Zhejiang admin sees and touches nothing of Jiangsu, and an admin of
// Nanjing nothing of Wuxi or of Jiangsu's own unit.
func TestConsoleStaysInTheSubtree(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		v := newEnv(t, db)
		zj, nj := v.signIn("adminZJ"), v.signIn("adminNJ")
		cases := []struct {
			name string
			b    *browser
			path string
			want int
		}{
			{"ZJ reads a Jiangsu account", zj, "/admin/accounts/" + v.id("staffJS"), http.StatusNotFound},
			{"ZJ browses Jiangsu", zj, "/admin/orgs/320000", http.StatusNotFound},
			{"ZJ searches under Jiangsu", zj, "/admin/accounts?under=320000", http.StatusForbidden},
			{"NJ reads the province's account", nj, "/admin/accounts/" + v.id("staffJS"), http.StatusNotFound},
			{"NJ reads a Wuxi account", nj, "/admin/accounts/" + v.id("staffWX"), http.StatusNotFound},
			{"NJ browses the province", nj, "/admin/orgs/320000", http.StatusNotFound},
			{"NJ browses an unknown unit", nj, "/admin/orgs/999999", http.StatusNotFound},
			{"NJ reads a Xuanwu account", nj, "/admin/accounts/" + v.id("staffXW"), http.StatusOK},
			{"NJ browses Xuanwu", nj, "/admin/orgs/320102", http.StatusOK},
		}
		for _, c := range cases {
			if rec := c.b.get(c.path); rec.Code != c.want {
				t.Errorf("%s: %d, want %d", c.name, rec.Code, c.want)
			}
		}
		// Listing everything the Nanjing admin manages shows no one beside
		// or above.
		body := nj.get("/admin/accounts").Body.String()
		for _, key := range []string{"staffJS", "staffWX", "staffZJ", "adminJS"} {
			if strings.Contains(body, v.id(key)) {
				t.Errorf("Nanjing's list shows %s", key)
			}
		}
		for _, key := range []string{"staffNJ", "staffXW", "staffSchool"} {
			if !strings.Contains(body, v.id(key)) {
				t.Errorf("Nanjing's list lacks %s", key)
			}
		}
		// Acting across the border: refused, nothing changes.
		if rec := zj.post("/admin/accounts/"+v.id("staffJS")+"/disable", nil, issuer); rec.Code != http.StatusNotFound {
			t.Errorf("ZJ disables a Jiangsu account: %d, want 404", rec.Code)
		}
		if rec := zj.post("/admin/accounts/"+v.id("staffJS")+"/grant", url.Values{"app": {"cockpit"}}, issuer); rec.Code != http.StatusNotFound {
			t.Errorf("ZJ grants to a Jiangsu account: %d, want 404", rec.Code)
		}
		if v.account("staffJS").Status != account.StatusActive || v.hasGrant("staffJS") {
			t.Errorf("a refused action changed the account")
		}
		// Moving someone into a unit outside the subtree.
		if rec := nj.post("/admin/accounts/"+v.id("staffXW")+"/org", url.Values{"org_id": {"320200"}}, issuer); rec.Code != http.StatusForbidden {
			t.Errorf("NJ moves to Wuxi: %d, want 403", rec.Code)
		}
	})
}

// Every state change needs the session's CSRF token, and a foreign Origin
// is refused even with it.
func TestConsoleRefusesForgedPosts(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		v := newEnv(t, db)
		adm := v.signIn("adminJS")
		other := v.signIn("adminNJ")
		path := "/admin/accounts/" + v.id("staffNJ") + "/disable"
		cases := []struct {
			name   string
			form   url.Values
			origin string
		}{
			{"no token", url.Values{"csrf": {""}}, issuer},
			{"wrong token", url.Values{"csrf": {"AAAA"}}, issuer},
			{"another session's token", url.Values{"csrf": {other.csrf()}}, issuer},
			{"foreign origin", nil, "https://evil.example"},
			{"null origin", nil, "null"},
			{"same host, other scheme", nil, "http://idp.example.test"},
		}
		for _, c := range cases {
			rec := adm.post(path, c.form, c.origin)
			if rec.Code != http.StatusForbidden {
				t.Errorf("%s: %d, want 403", c.name, rec.Code)
			}
		}
		if v.account("staffNJ").Status != account.StatusActive {
			t.Fatalf("a forged post disabled the account")
		}
		// The same request, done right, works; a browser that sends no
		// Origin is held to the token alone.
		if rec := adm.post(path, nil, ""); rec.Code != http.StatusSeeOther {
			t.Fatalf("genuine post: %d\n%s", rec.Code, rec.Body)
		}
	})
}

// Each console operation works, answers 303 back to the page, and is in
// the account's audit trail.
func TestConsoleOperations(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		v := newEnv(t, db)
		adm := v.signIn("adminJS")
		cases := []struct {
			name, who, action string
			form              url.Values
			location          string // "" means the account's page
			check             func(a *account.Account) bool
			event             string
		}{
			{"approve from the queue", "pendingXW", "approve", url.Values{"from": {"pending"}}, "/admin/pending?ok=approved",
				func(a *account.Account) bool { return a.Status == account.StatusActive }, "account.approved"},
			{"disable", "staffNJ", "disable", nil, "", func(a *account.Account) bool { return a.Status == account.StatusDisabled }, "account.disabled"},
			{"enable", "staffNJ", "enable", nil, "", func(a *account.Account) bool { return a.Status == account.StatusActive }, "account.enabled"},
			{"make admin", "staffXW", "role", url.Values{"role": {"admin"}}, "", func(a *account.Account) bool { return a.Role == account.RoleAdmin }, "account.role_changed"},
			{"move", "staffWX", "org", url.Values{"org_id": {"320100"}}, "", func(a *account.Account) bool { return a.OrgID == "320100" }, "account.moved"},
			{"grant cockpit", "staffNJ", "grant", url.Values{"app": {"cockpit"}}, "", nil, "grant.added"},
		}
		for _, c := range cases {
			rec := adm.post("/admin/accounts/"+v.id(c.who)+"/"+c.action, c.form, issuer)
			want := c.location
			if want == "" {
				want = "/admin/accounts/" + v.id(c.who) + "?ok="
			}
			if rec.Code != http.StatusSeeOther || !strings.HasPrefix(rec.Header().Get("Location"), want) {
				t.Errorf("%s: %d %q, want 303 to %s\n%s", c.name, rec.Code, rec.Header().Get("Location"), want, rec.Body)
				continue
			}
			if c.check != nil && !c.check(v.account(c.who)) {
				t.Errorf("%s: account is %+v", c.name, v.account(c.who))
			}
			entries, err := v.audit.Search(context.Background(), audit.Query{SubjectID: v.id(c.who), Type: c.event})
			if err != nil || len(entries) == 0 {
				t.Errorf("%s: no %s audit entry (%v)", c.name, c.event, err)
			} else if e := entries[0]; e.ActorID != v.id("adminJS") || e.IP == "" {
				t.Errorf("%s: audit entry says actor %q ip %q", c.name, e.ActorID, e.IP)
			}
		}
		if !v.hasGrant("staffNJ") {
			t.Fatalf("grant did not land")
		}
		// The page after the 303 confirms, and shows the trail.
		page := adm.get("/admin/accounts/" + v.id("staffNJ") + "?ok=granted").Body.String()
		for _, want := range []string{"已授予数字驾驶舱访问权限", "撤销驾驶舱权限", "授予驾驶舱权限", "停用账号", "江苏管理员"} {
			if !strings.Contains(page, want) {
				t.Errorf("account page lacks %q", want)
			}
		}
		if rec := adm.post("/admin/accounts/"+v.id("staffNJ")+"/revoke", url.Values{"app": {"cockpit"}}, issuer); rec.Code != http.StatusSeeOther || v.hasGrant("staffNJ") {
			t.Errorf("revoke: %d, grant still there: %v", rec.Code, v.hasGrant("staffNJ"))
		}
		// Reject the next pending registration.
		p, err := v.accounts.Create(context.Background(), account.Account{Phone: "+8613900000001", Name: "再审人员", OrgID: "320102", Role: account.RoleStaff, Status: account.StatusPending})
		if err != nil {
			t.Fatal(err)
		}
		if rec := adm.post("/admin/accounts/"+p.ID+"/reject", nil, issuer); rec.Code != http.StatusSeeOther {
			t.Errorf("reject: %d", rec.Code)
		}
		// Provision from a unit page.
		rec := adm.post("/admin/orgs/320102/accounts", url.Values{"name": {"新开账号"}, "phone": {"13900000002"}, "role": {"staff"}}, issuer)
		if rec.Code != http.StatusSeeOther || !strings.Contains(rec.Header().Get("Location"), "?ok=created") {
			t.Fatalf("provision: %d %q\n%s", rec.Code, rec.Header().Get("Location"), rec.Body)
		}
		if a, err := v.accounts.ByPhone(context.Background(), "+8613900000002"); err != nil || a.OrgID != "320102" || a.Status != account.StatusActive {
			t.Errorf("provisioned account: %+v, %v", a, err)
		}
	})
}

// Refusals come back as the account's page with the service's Chinese
// message and a 4xx, never a 500.
func TestConsoleRefusals(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		v := newEnv(t, db)
		adm := v.signIn("adminJS")
		cases := []struct {
			name, who, action string
			form              url.Values
			want              int
			msg               string
		}{
			{"cockpit for a school", "staffSchool", "grant", url.Values{"app": {"cockpit"}}, http.StatusBadRequest, "学校和院系账号不能授权"},
			{"unknown app", "staffNJ", "grant", url.Values{"app": {"office"}}, http.StatusBadRequest, "未知的应用授权"},
			{"bad role", "staffNJ", "role", url.Values{"role": {"root"}}, http.StatusBadRequest, "角色只能是"},
			{"move to nowhere", "staffNJ", "org", url.Values{"org_id": {"999999"}}, http.StatusForbidden, "不在您的管辖范围内"},
			{"move without a unit", "staffNJ", "org", url.Values{"org_id": {""}}, http.StatusBadRequest, "请填写目标单位"},
			{"approve an active account", "staffNJ", "approve", nil, http.StatusBadRequest, "不在待审核状态"},
			{"disable oneself", "adminJS", "disable", nil, http.StatusForbidden, "不能对自己的账号"},
			{"unknown action", "staffNJ", "delete", nil, http.StatusNotFound, ""},
		}
		for _, c := range cases {
			rec := adm.post("/admin/accounts/"+v.id(c.who)+"/"+c.action, c.form, issuer)
			if rec.Code != c.want || !strings.Contains(rec.Body.String(), c.msg) {
				t.Errorf("%s: %d, want %d with %q\n%.300s", c.name, rec.Code, c.want, c.msg, rec.Body)
			}
		}
		if rec := adm.post("/admin/accounts/nobody/disable", nil, issuer); rec.Code != http.StatusNotFound {
			t.Errorf("unknown account: %d, want 404", rec.Code)
		}
		if rec := adm.post("/admin/orgs/320102/accounts", url.Values{"name": {"x"}, "phone": {"123"}, "role": {"staff"}}, issuer); rec.Code != http.StatusBadRequest {
			t.Errorf("provision with a bad phone: %d, want 400", rec.Code)
		}
		if rec := adm.get("/admin/accounts?q=" + strings.Repeat("x", 200)); rec.Code != http.StatusBadRequest {
			t.Errorf("overlong query: %d, want 400", rec.Code)
		}
	})
}

// The pages: the tree with counts and breadcrumb, unit search, account
// search by name, phone and unit with keyset paging, and the queue.
func TestConsolePages(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		v := newEnv(t, db)
		adm := v.signIn("adminJS")
		ctx := context.Background()
		for i := range 60 {
			if _, err := v.accounts.Create(ctx, account.Account{Phone: "+8613700000" + pad3(i), Name: "批量人员", OrgID: "320102", Role: account.RoleStaff, Status: account.StatusActive}); err != nil {
				t.Fatal(err)
			}
		}
		cases := []struct {
			name, path string
			want       []string
			not        []string
		}{
			{"home", "/admin", []string{"江苏省", "待审核注册：1 个"}, nil},
			{"province children with counts", "/admin/orgs/320000", []string{"南京市学生资助管理中心", "无锡市学生资助管理中心", "<td data-l=\"单位数\">4</td>"}, []string{"浙江"}},
			{"breadcrumb from the admin's unit", "/admin/orgs/3132000001", []string{`<a href="/admin/orgs/320000">`, `<a href="/admin/orgs/320102">玄武区学生资助管理中心</a>`, "学生处"}, []string{`href="/admin/orgs/000000"`}},
			{"unit search", "/admin/orgs/320000?q=玄武", []string{"玄武区学生资助管理中心", "玄武区第一中学"}, []string{"无锡"}},
			{"search by name", "/admin/accounts?q=中学老师", []string{v.id("staffSchool")}, []string{v.id("staffNJ")}},
			{"search by phone", "/admin/accounts?q=13800001004", []string{v.id("staffNJ"), "138****1004"}, []string{v.id("staffSchool")}},
			{"search by unit id", "/admin/accounts?q=320200", []string{v.id("staffWX")}, []string{v.id("staffNJ")}},
			{"search under a unit", "/admin/accounts?under=3132000001", []string{v.id("staffSchool")}, []string{v.id("staffXW")}},
			{"search by status", "/admin/accounts?status=pending", []string{v.id("pendingXW")}, []string{v.id("staffXW")}},
			{"pending queue", "/admin/pending", []string{v.id("pendingXW"), "/approve", "/reject"}, []string{v.id("staffXW")}},
			{"first page has a next link", "/admin/accounts?under=320102", []string{"下一页"}, nil},
		}
		for _, c := range cases {
			rec := adm.get(c.path)
			body := rec.Body.String()
			if rec.Code != http.StatusOK {
				t.Errorf("%s: %d", c.name, rec.Code)
				continue
			}
			for _, w := range c.want {
				if !strings.Contains(body, w) {
					t.Errorf("%s: page lacks %q", c.name, w)
				}
			}
			for _, n := range c.not {
				if strings.Contains(body, n) {
					t.Errorf("%s: page shows %q", c.name, n)
				}
			}
		}
		// Walk the pages: 63 accounts at or under Xuanwu, 50 a page, no repeats.
		seen := map[string]bool{}
		path := "/admin/accounts?under=320102"
		for pages := 0; path != ""; pages++ {
			if pages > 3 {
				t.Fatal("paging does not end")
			}
			body := adm.get(path).Body.String()
			for _, m := range accountLink.FindAllStringSubmatch(body, -1) {
				if seen[m[1]] {
					t.Errorf("account %s on two pages", m[1])
				}
				seen[m[1]] = true
			}
			path = ""
			if m := nextLink.FindStringSubmatch(body); m != nil {
				path = "/admin/accounts" + strings.ReplaceAll(m[1], "&amp;", "&")
			}
		}
		if len(seen) != 63 {
			t.Errorf("paging saw %d accounts, want 63", len(seen))
		}
	})
}

var (
	accountLink = regexp.MustCompile(`<a href="/admin/accounts/([^"?/]+)">`)
	nextLink    = regexp.MustCompile(`<a href="(\?[^"]+)">下一页</a>`)
)

func pad3(i int) string { return fmt.Sprintf("%03d", i) }
