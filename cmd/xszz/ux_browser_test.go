package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	ptotp "github.com/pquerna/otp/totp"
	"github.com/spf13/cobra"

	"github.com/xszz/xszz/idp/account"
	"github.com/xszz/xszz/idp/client"
	"github.com/xszz/xszz/idp/org"
	"github.com/xszz/xszz/idp/profile"
	"github.com/xszz/xszz/internal/testenv"
)

// The browser tests of the IdP's pages as people meet them (issue 12).
// Each takes screenshots of the pages it checks, at laptop and phone
// width, for the user guide and for looking at; XSZZ_SCREENSHOTS=1 writes
// them as docs/screenshots/idp-*.png (see saveScreenshot).

// page is a Chromium tab on the system under test.
type page struct {
	t   *testing.T
	ctx context.Context
	sys *system
}

func newPage(t *testing.T, sys *system) *page {
	t.Helper()
	ctx := testenv.Browser(t)
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(cancel)
	return &page{t: t, ctx: ctx, sys: sys}
}

// do runs steps, and on failure reports where the browser is and what the
// page says.
func (p *page) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, steps...); err != nil {
		loc, _ := chromedp.Run(p.ctx, chromedp.Location())
		body, _ := chromedp.Run(p.ctx, chromedp.Text(chromedp.CSS(`body`)))
		p.t.Fatalf("%s: %v\nat %s:\n%s", what, err, loc, body)
	}
}

func (p *page) text(sel string) string {
	p.t.Helper()
	s, err := chromedp.Run(p.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		p.t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

func (p *page) location() string {
	p.t.Helper()
	loc, err := chromedp.Run(p.ctx, chromedp.Location())
	if err != nil {
		p.t.Fatalf("location: %v", err)
	}
	return strings.TrimPrefix(loc, p.sys.url)
}

func (p *page) count(sel string) int {
	p.t.Helper()
	n, err := chromedp.Run(p.ctx, chromedp.Evaluate[int](`document.querySelectorAll(`+jsString(sel)+`).length`))
	if err != nil {
		p.t.Fatalf("count %s: %v", sel, err)
	}
	return n
}

func jsString(s string) string {
	return "'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), `'`, `\'`) + "'"
}

// shoot saves the page at laptop (1280) and phone (390) width as
// idp-NAME-laptop.png and -phone.png (see saveScreenshot), and fails when
// the phone layout scrolls sideways or a button's words wrap.
func (p *page) shoot(name string) {
	p.t.Helper()
	for _, w := range []struct {
		suffix        string
		width, height int64
	}{{"laptop", 1280, 800}, {"phone", 390, 844}} {
		p.do("viewport "+w.suffix, chromedp.EmulateViewport(w.width, w.height))
		if w.suffix == "phone" {
			checkPhoneLayout(p.t, p.ctx, name)
		}
		png := fullPage(p.t, p.ctx, w.width, w.height)
		saveScreenshot(p.t, "idp-"+name+"-"+w.suffix, png)
	}
	p.do("viewport back", chromedp.EmulateViewport(1280, 800))
}

// smsCode asks for a code on the login page the browser is on and types it
// in; the page then posts it.
func (p *page) smsCode(who person) {
	p.t.Helper()
	p.do("ask for an SMS code",
		chromedp.WaitVisible(chromedp.CSS(`#phone`)),
		chromedp.SetValue(chromedp.CSS(`#phone`), who.Phone),
		chromedp.Click(chromedp.CSS(`#send`)),
		chromedp.WaitVisible(chromedp.CSS(`#code`)),
	)
	p.enterCode(who)
}

func (p *page) enterCode(who person) {
	p.t.Helper()
	code := p.sys.sms.last(who.E164)
	if code == "" {
		p.t.Fatalf("no SMS code went to %s", who.E164)
	}
	p.do("enter the SMS code", chromedp.SendKeys(chromedp.CSS(`#code`), code), chromedp.Submit(chromedp.CSS(`#code`)),
		chromedp.WaitNotPresent(chromedp.CSS(`form[action="/login"]`)))
}

// enrolTOTP binds the authenticator the IdP asks an admin for at first
// sign-in, and returns its secret.
func (p *page) enrolTOTP() string {
	p.t.Helper()
	p.do("enrolment page", chromedp.WaitVisible(chromedp.CSS(`img[alt="动态口令绑定二维码"]`)))
	secret := strings.ReplaceAll(strings.TrimSpace(p.text(`code`)), " ", "")
	p.do("confirm the authenticator",
		chromedp.SendKeys(chromedp.CSS(`#code`), p.totp(secret)),
		chromedp.Submit(chromedp.CSS(`#code`)),
		chromedp.WaitVisible(chromedp.CSS(`a#continue`)),
		chromedp.Click(chromedp.CSS(`a#continue`)),
		chromedp.WaitNotPresent(chromedp.CSS(`a#continue`)),
	)
	return secret
}

func (p *page) totp(secret string) string {
	p.t.Helper()
	code, err := ptotp.GenerateCode(secret, p.sys.clock.Now())
	if err != nil {
		p.t.Fatalf("authenticator code: %v", err)
	}
	return code
}

// TestSignInReturnsWhereThePersonWasGoing opens the console's audit page
// signed out: the login page says where it leads and links to
// registration; asking for a second code within the minute keeps the code
// field and counts down on the button; after the SMS code and binding the
// authenticator the admin lands on the audit page, not on a dead end.
func TestSignInReturnsWhereThePersonWasGoing(t *testing.T) {
	sys := startSystem(t, sqliteBackend, func(c *Config) { c.SMS.ResendInterval = time.Minute })
	boss := sys.newAccount(t, func(a *account.Account) { a.OrgID, a.Role, a.Name = "320000", account.RoleAdmin, "江苏管理员" })
	p := newPage(t, sys)

	p.do("open the console signed out", chromedp.Navigate(sys.url+"/admin/audit"), chromedp.WaitVisible(chromedp.CSS(`#phone`)))
	if loc := p.location(); loc != "/login?return=%2Fadmin%2Faudit" {
		t.Errorf("signed out, /admin/audit went to %s", loc)
	}
	if sub := p.text(`p.sub`); !strings.Contains(sub, "登录后进入管理控制台") {
		t.Errorf("the login page says %q, not where it leads", sub)
	}
	if p.count(`a[href="/register"]`) != 1 {
		t.Errorf("the login page has no link to registration")
	}
	p.shoot("login")

	p.do("ask for a code",
		chromedp.SetValue(chromedp.CSS(`#phone`), boss.Phone),
		chromedp.Click(chromedp.CSS(`#send`)),
		chromedp.WaitVisible(chromedp.CSS(`#code`)),
	)
	first := sys.sms.last(boss.E164)
	if dis := p.count(`#send[disabled]`); dis != 1 {
		t.Errorf("right after sending, the resend button is not disabled")
	}
	// A second request inside the minute, as an impatient person (or a
	// browser without the script) sends it: refused, but the code field
	// stays, and the button shows the wait.
	p.do("ask again at once",
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#send').disabled=false; document.querySelector('form[action="/login/send"]').submit()`),
		chromedp.WaitVisible(chromedp.CSS(`#code`)),
	)
	if n := sys.sms.count(boss.E164); n != 1 {
		t.Errorf("%d codes sent, want 1", n)
	}
	if msg := p.text(`p.msg`); !strings.Contains(msg, "秒后可重新获取") || strings.Contains(msg, "频繁") {
		t.Errorf("after a second request the page says %q", msg)
	}
	before := p.text(`#send`)
	if !strings.Contains(before, "秒") || p.count(`#send[disabled]`) != 1 {
		t.Errorf("the resend button reads %q (disabled %d), want a countdown", before, p.count(`#send[disabled]`))
	}
	p.do("the countdown ticks", chromedp.Poll[chromedp.Void](`document.querySelector('#send').textContent !== `+jsString(before)))
	p.shoot("login-countdown")

	if sys.sms.last(boss.E164) != first {
		t.Fatalf("the first code was replaced")
	}
	p.enterCode(boss)
	p.enrolTOTP()
	p.do("back at the audit page", chromedp.WaitVisible(chromedp.CSS(`h1`)))
	if loc := p.location(); loc != "/admin/audit" {
		t.Errorf("after sign-in the admin is at %s, want /admin/audit", loc)
	}
}

// TestSignInPagesHaveAWayOnward: a staff member opening the account
// centre signed out comes back to it; the consent page of a third-party
// application says in plain words what it gets and who is signed in; the
// logout confirmation can be cancelled and the signed-out page leads to
// signing in again.
func TestSignInPagesHaveAWayOnward(t *testing.T) {
	sys := startSystem(t, sqliteBackend)
	staff := sys.newAccount(t, func(a *account.Account) { a.OrgID, a.Name = "320000", "王小明" })
	p := newPage(t, sys)

	p.do("open the account centre signed out", chromedp.Navigate(sys.url+"/account"))
	p.smsCode(staff)
	p.do("account centre", chromedp.WaitVisible(chromedp.CSS(`h1`)))
	if loc := p.location(); loc != "/account" {
		t.Errorf("after sign-in the person is at %s, want /account", loc)
	}

	p.do("home", chromedp.Navigate(sys.url+"/"), chromedp.WaitVisible(chromedp.CSS(`a.btn`)))
	if p.count(`a[href="/account"]`) != 1 || p.count(`a[href="/oauth2/logout"]`) != 1 {
		t.Errorf("the signed-in home page is a dead end: %s", p.text(`main`))
	}
	p.shoot("signed-in")

	rp := sys.newRP(t, func(s *client.Spec) { s.Name, s.Trusted = "学生资助工作门户", false })
	p.do("a third-party application asks", chromedp.Navigate(rp.authURL().url), chromedp.WaitVisible(chromedp.CSS(`#switch`)))
	body := p.text(`main`)
	for _, want := range []string{"学生资助工作门户", "王小明", staff.Phone[:3], "你的姓名", "你的手机号", "你所在单位和职务", "长期保持登录"} {
		if !strings.Contains(body, want) {
			t.Errorf("the consent page lacks %q:\n%s", want, body)
		}
	}
	for _, raw := range []string{"刷新令牌", "offline_access", "openid"} {
		if strings.Contains(body, raw) {
			t.Errorf("the consent page still says %q", raw)
		}
	}
	if strings.Contains(body, staff.Phone) {
		t.Errorf("the consent page shows the whole phone number")
	}
	p.shoot("consent")

	p.do("logout confirmation", chromedp.Navigate(sys.url+"/oauth2/logout"), chromedp.WaitVisible(chromedp.CSS(`#cancel`)))
	p.shoot("logout")
	p.do("cancel", chromedp.Click(chromedp.CSS(`#cancel`)), chromedp.WaitVisible(chromedp.CSS(`a[href="/account"]`)))
	p.do("sign out",
		chromedp.Navigate(sys.url+"/oauth2/logout"),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/oauth2/logout"] button`)),
		chromedp.Click(chromedp.CSS(`form[action="/oauth2/logout"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/login"]`)),
	)
	if h := p.text(`h1`); h != "已退出登录" {
		t.Errorf("after signing out the page says %q", h)
	}
	// An application's logout request without a redirect still leads
	// back to it.
	p.do("an application's logout", chromedp.Navigate(sys.url+"/oauth2/logout?client_id="+url.QueryEscape(rp.id)),
		chromedp.WaitVisible(chromedp.CSS(`a[href="https://rp.example.test/bye"]`)))
	if s := p.text(`a[href="https://rp.example.test/bye"]`); s != "返回「学生资助工作门户」" {
		t.Errorf("the way back to the application reads %q", s)
	}
	p.shoot("signed-out")
}

// runCLI runs one command of xszz (accountsCmd, grantsCmd, …) with a
// config file for env's database, as an operator would.
func runCLI(t *testing.T, env sharedEnv, pick func(*cli) *cobra.Command, args ...string) (string, error) {
	t.Helper()
	cfg := filepath.Join(env.dir, "cli.yaml")
	y := fmt.Sprintf("database:\n  url: %q\nidp:\n  secret: %q\nkeys:\n  encryption_key: %q\nlog:\n  level: error\n", env.dbURL, env.secret, env.encKey)
	if err := os.WriteFile(cfg, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd := pick(&cli{configPath: cfg, out: &out, log: io.Discard})
	cmd.SetOut(&out)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

// jiangsuTree adds Nanjing › Xuanwu › a primary school under Jiangsu.
func jiangsuTree(t *testing.T, sys *system) (city, county, school string) {
	t.Helper()
	ctx := context.Background()
	for _, o := range []org.Org{
		{ID: "320100", ParentID: "320000", Name: "南京市学生资助管理中心", Level: org.LevelCity, RegionCode: "320100"},
		{ID: "320102", ParentID: "320100", Name: "玄武区学生资助管理中心", Level: org.LevelCounty, RegionCode: "320102"},
		{ID: "2320102001", ParentID: "320102", Name: "玄武区第1小学", Level: org.LevelSchool, RegionCode: "320102"},
	} {
		if _, err := sys.app.Orgs.Create(ctx, o); err != nil {
			t.Fatalf("create %s: %v", o.ID, err)
		}
	}
	return "320100", "320102", "2320102001"
}

// TestConsoleSpeaksPlainly drives the console as a provincial admin: the
// approval queue shows the applicant's position, unit path and time; a
// school account's page offers no cockpit grant and says why; the admin
// resets a person's authenticator with a fresh code of its own (the
// person is told by SMS); the audit page names events, details and
// people in Chinese and lists an account the command line created and a
// cockpit grant the command line tried and was refused.
func TestConsoleSpeaksPlainly(t *testing.T) {
	env := newSharedEnv(t, sqliteBackend)
	sys := startNode(t, env)
	ctx := context.Background()
	_, county, school := jiangsuTree(t, sys)
	boss := sys.newAccount(t, func(a *account.Account) { a.OrgID, a.Role, a.Name = "320000", account.RoleAdmin, "江苏管理员" })
	teacher := sys.newAccount(t, func(a *account.Account) { a.OrgID, a.Name = school, "李老师" })
	applicant := sys.newAccount(t, func(a *account.Account) { a.OrgID, a.Name, a.Status = school, "陈申请", account.StatusPending })
	if err := sys.app.Profiles.Put(ctx, profile.Profile{AccountID: applicant.ID, Position: "学生资助专干"}); err != nil {
		t.Fatal(err)
	}
	// The teacher has an authenticator and has lost the phone.
	e, err := sys.app.TOTP.Begin(teacher.ID, "李老师")
	if err != nil {
		t.Fatal(err)
	}
	tc, _ := ptotp.GenerateCode(e.Secret, sys.clock.Now())
	if _, err := sys.app.TOTP.Confirm(ctx, teacher.ID, e.Token, tc); err != nil {
		t.Fatal(err)
	}
	cliPhone := newPhone()
	if _, err := runCLI(t, env, (*cli).accountsCmd, "create", "--phone", cliPhone, "--name", "命令行开通", "--org", county); err != nil {
		t.Fatalf("accounts create: %v", err)
	}
	if _, err := runCLI(t, env, (*cli).grantsCmd, "add", "--phone", teacher.Phone); err == nil {
		t.Fatalf("the command line granted the cockpit to a school account")
	}

	p := newPage(t, sys)
	p.do("open the console", chromedp.Navigate(sys.url+"/admin/pending"))
	p.smsCode(boss)
	secret := p.enrolTOTP()
	p.do("the queue", chromedp.WaitVisible(chromedp.CSS(`table`)))
	if loc := p.location(); loc != "/admin/pending" {
		t.Errorf("after sign-in at %s, want /admin/pending", loc)
	}
	queue := p.text(`table`)
	for _, want := range []string{"陈申请", "学生资助专干", "南京市学生资助管理中心 › 玄武区学生资助管理中心 › 玄武区第1小学", "申请时间"} {
		if !strings.Contains(queue, want) {
			t.Errorf("the queue lacks %q:\n%s", want, queue)
		}
	}
	p.shoot("console-pending")

	p.do("a school account", chromedp.Navigate(sys.url+"/admin/accounts/"+teacher.ID), chromedp.WaitVisible(chromedp.CSS(`#totp-reset`)))
	if p.count(`#grant-cockpit`) != 0 || !strings.Contains(p.text(`#cockpit-why-not`), "学校") {
		t.Errorf("a school account's page offers the cockpit grant or does not say why not")
	}
	sys.clock.Advance(time.Minute) // a fresh step for the admin's code
	p.do("reset the authenticator",
		chromedp.SendKeys(chromedp.CSS(`#admin-code`), p.totp(secret)),
		chromedp.Submit(chromedp.CSS(`#admin-code`)),
		chromedp.WaitVisible(chromedp.CSS(`p.msg.ok`)),
	)
	if msg := p.text(`p.msg.ok`); !strings.Contains(msg, "已重置") {
		t.Errorf("after the reset the page says %q", msg)
	}
	if ok, _ := sys.app.TOTP.Enrolled(ctx, teacher.ID); ok {
		t.Errorf("the teacher's authenticator survived the reset")
	}
	if got := sys.sms.noticesTo(teacher.E164); !slices.Contains(got, "totp_reset") {
		t.Errorf("notices to the teacher: %v, want totp_reset", got)
	}
	p.shoot("console-account")

	p.do("the audit page", chromedp.Navigate(sys.url+"/admin/audit"), chromedp.WaitVisible(chromedp.CSS(`table`)))
	trail := p.text(`table`)
	for _, want := range []string{"管理员重置身份验证器", "李老师", "开通账号", "命令行开通", "系统（命令行）", "拒绝授予驾驶舱权限", "单位级别不允许", "绑定身份验证器", "登录方式：短信验证码、动态口令"} {
		if !strings.Contains(trail, want) {
			t.Errorf("the audit page lacks %q:\n%s", want, trail)
		}
	}
	for _, raw := range []string{"totp.enrolled", "login.mfa_required", "grant.refused", "amr=", teacher.ID} {
		if strings.Contains(trail, raw) {
			t.Errorf("the audit page still shows %q", raw)
		}
	}
	p.shoot("console-audit")

	p.do("the account list", chromedp.Navigate(sys.url+"/admin/accounts"), chromedp.WaitVisible(chromedp.CSS(`table`)))
	p.shoot("console-accounts")
}

// Without a script, a person finds the unit by name: 查找 lists the
// matches (name, code, the unit above) to choose from; the chosen one is
// filed; a bare unit code typed in the search box is taken as it is; the
// JSON search answers the suggestions and stays small.
func TestRegistrationFindsTheUnitByName(t *testing.T) {
	sys := startSystem(t, sqliteBackend)
	ctx := context.Background()
	_, _, school := jiangsuTree(t, sys)
	b := sys.browser(t)

	ph := newPhone()
	code := b.registerCode(ph)
	form := url.Values{"phone": {ph}, "code": {code}, "name": {"陈老师"}, "position": {"学生资助专干"}, "org_q": {"玄武区第1"}, "action": {"find"}}
	r := b.postForm("/register", form)
	if r.Status != http.StatusOK || !strings.Contains(r.Body, `value="`+school+`"`) || !strings.Contains(r.Body, "玄武区第1小学") || !strings.Contains(r.Body, "玄武区学生资助管理中心") {
		t.Fatalf("查找 did not list the school with its code and county:\n%s", r)
	}
	if !strings.Contains(r.Body, `value="`+code+`"`) {
		t.Errorf("the code typed was lost by the search")
	}
	form.Del("action")
	form.Set("org_id", school)
	if r := b.postForm("/register", form); r.Status != http.StatusAccepted {
		t.Fatalf("register with the chosen unit: %s", r)
	}
	acc, err := sys.app.Accounts.ByPhone(ctx, "+86"+ph)
	if err != nil || acc.OrgID != school || acc.Status != account.StatusPending {
		t.Fatalf("filed %+v, %v", acc, err)
	}

	ph2 := newPhone()
	r = b.postForm("/register", url.Values{"phone": {ph2}, "code": {b.registerCode(ph2)}, "name": {"周老师"}, "org_q": {school}})
	if r.Status != http.StatusAccepted {
		t.Fatalf("a bare code in the search box: %s", r)
	}
	r = b.postForm("/register", url.Values{"phone": {ph2}, "code": {"123456"}, "name": {"周老师"}, "org_q": {"不存在的单位名称"}})
	if !strings.Contains(r.Body, "没有找到") {
		t.Errorf("an unknown unit name: %s", r)
	}

	for q, want := range map[string]int{"玄武区第1小学": 1, "学生资助管理中心": 10, "玄": 0, "320102": 2} {
		r := b.get("/api/v1/orgs/search?q=" + url.QueryEscape(q))
		var body struct {
			Units []struct{ ID, Name, Parent string } `json:"units"`
		}
		if r.Status != http.StatusOK || json.Unmarshal([]byte(r.Body), &body) != nil {
			t.Fatalf("search %q: %s", q, r)
		}
		if len(body.Units) != want {
			t.Errorf("search %q found %d units, want %d: %+v", q, len(body.Units), want, body.Units)
		}
	}
}

// With the script, suggestions appear while typing; choosing one shows the
// name with its code, and the application is filed for that unit.
func TestRegistrationSuggestsUnitsInBrowser(t *testing.T) {
	sys := startSystem(t, sqliteBackend)
	_, _, school := jiangsuTree(t, sys)
	p := newPage(t, sys)
	ph := newPhone()
	p.do("ask for a code",
		chromedp.Navigate(sys.url+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/register"]`)),
		chromedp.Click(chromedp.CSS(`a[href="/register"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#phone`)),
		chromedp.SendKeys(chromedp.CSS(`#phone`), ph),
		chromedp.Click(chromedp.CSS(`#send`)),
		chromedp.WaitVisible(chromedp.CSS(`#org_q`)),
	)
	p.do("type the unit",
		chromedp.SendKeys(chromedp.CSS(`#code`), sys.sms.last("+86"+ph)),
		chromedp.SendKeys(chromedp.CSS(`#name`), "陈老师"),
		chromedp.SendKeys(chromedp.CSS(`#org_q`), "玄武区第1"),
		chromedp.WaitVisible(chromedp.CSS(`#org-list button.pick`)),
	)
	if s := p.text(`#org-list`); !strings.Contains(s, school) || !strings.Contains(s, "玄武区学生资助管理中心") {
		t.Errorf("the suggestions read %q", s)
	}
	p.shoot("register-suggest")
	p.do("choose",
		chromedp.Click(chromedp.CSS(`#org-list button.pick`)),
		chromedp.WaitVisible(chromedp.CSS(`#org-chosen`)),
	)
	if s := p.text(`#org-chosen`); !strings.Contains(s, "玄武区第1小学") || !strings.Contains(s, school) {
		t.Errorf("the chosen unit reads %q", s)
	}
	p.do("submit",
		chromedp.SendKeys(chromedp.CSS(`#position`), "学生资助专干"),
		chromedp.Click(chromedp.CSS(`#submit`)),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/login"].btn`)),
	)
	if h := p.text(`h1`); h != "注册申请已提交" {
		t.Errorf("after submitting: %q", h)
	}
	acc, err := sys.app.Accounts.ByPhone(context.Background(), "+86"+ph)
	if err != nil || acc.OrgID != school {
		t.Fatalf("filed %+v, %v", acc, err)
	}
	p.shoot("register-done")
}

// TestAccountCentreOnAPhone: the account centre in sections 手机号 /
// 身份验证器 / 登录设备 / 已授权的应用, as cards that fit a 390 px phone;
// authorised applications listed with what they get in plain words;
// re-binding the authenticator apart from changing the phone number; and
// 退出所有设备 a secondary action behind a confirmation.
func TestAccountCentreOnAPhone(t *testing.T) {
	sys := startSystem(t, sqliteBackend)
	ctx := context.Background()
	staff := sys.newAccount(t, func(a *account.Account) { a.OrgID, a.Name = "320000", "王小明" })
	e, err := sys.app.TOTP.Begin(staff.ID, "王小明")
	if err != nil {
		t.Fatal(err)
	}
	c, _ := ptotp.GenerateCode(e.Secret, sys.clock.Now())
	if _, err := sys.app.TOTP.Confirm(ctx, staff.ID, e.Token, c); err != nil {
		t.Fatal(err)
	}
	p := newPage(t, sys)
	rp := sys.newRP(t, func(s *client.Spec) { s.Name, s.Trusted = "学生资助工作门户", false })
	p.do("sign in at a third-party application", chromedp.Navigate(rp.authURL().url))
	p.smsCode(staff)
	sys.clock.Advance(time.Minute)
	p.do("second factor", chromedp.WaitVisible(chromedp.CSS(`#code`)), chromedp.SendKeys(chromedp.CSS(`#code`), p.totp(e.Secret)), chromedp.Submit(chromedp.CSS(`#code`)),
		chromedp.WaitVisible(chromedp.CSS(`#switch`)))
	// The consent is given; the browser then goes to the application's
	// (unreachable) callback, which does not matter here.
	p.do("consent", chromedp.Click(chromedp.CSS(`button[value="allow"]`)), chromedp.WaitNotPresent(chromedp.CSS(`#switch`)))

	p.do("account centre", chromedp.Navigate(sys.url+"/account"), chromedp.WaitVisible(chromedp.CSS(`#consents`)))
	var headings []string
	for _, id := range []string{"h-phone", "h-totp", "h-sessions", "h-consents"} {
		headings = append(headings, p.text("#"+id))
	}
	if want := []string{"手机号", "身份验证器（动态口令）", "登录设备", "已授权的应用"}; !slices.Equal(headings, want) {
		t.Errorf("sections %q, want %q", headings, want)
	}
	apps := p.text(`#consents`)
	for _, want := range []string{"学生资助工作门户", "你的姓名", "你的手机号", "长期保持登录"} {
		if !strings.Contains(apps, want) {
			t.Errorf("authorised applications lack %q:\n%s", want, apps)
		}
	}
	for _, raw := range []string{"offline_access", "openid", "profile"} {
		if strings.Contains(apps, raw) {
			t.Errorf("authorised applications show the raw scope %q", raw)
		}
	}
	if s := p.text(`#rebind`); !strings.Contains(s, "重新绑定身份验证器") || p.count(`#totp-section #rebind`) != 1 || p.count(`#phone-section #rebind`) != 0 {
		t.Errorf("the authenticator's re-binding reads %q or sits outside its section", s)
	}
	visible, err := chromedp.Run(p.ctx, chromedp.Evaluate[bool](`document.querySelector('#end-all-confirm').checkVisibility()`))
	if err != nil || visible {
		t.Errorf("退出所有设备 is one click away (visible %v, %v)", visible, err)
	}
	p.shoot("account")

	p.do("sign out everywhere",
		chromedp.Click(chromedp.CSS(`#end-all summary`)),
		chromedp.WaitVisible(chromedp.CSS(`#end-all-confirm`)),
	)
	p.shoot("account-end-all")
	// The account page has a #phone field of its own (the phone change):
	// wait for the login page's form, not any #phone.
	p.do("confirm", chromedp.Click(chromedp.CSS(`#end-all-confirm`)), chromedp.WaitVisible(chromedp.CSS(`form[action="/login/send"] #phone`)))
	if n, _ := sys.app.Sessions.ListByAccount(ctx, staff.ID); len(n) != 0 {
		t.Errorf("%d sessions left after 退出所有设备", len(n))
	}
}
