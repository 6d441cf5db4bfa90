package main

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/xszz/xszz/idp/account"
	"github.com/xszz/xszz/idp/admin"
	"github.com/xszz/xszz/idp/audit"
	"github.com/xszz/xszz/idp/org"
	"github.com/xszz/xszz/internal/phone"
)

// conflictCase sets up Nanjing with two districts: a teacher of a
// Xuanwu school holds a number, and the admin of Qinhuai provisions a
// new colleague with that very number. The conflict goes to Nanjing,
// the lowest unit above both.
type conflictCase struct {
	city, xuanwu, qinhuai, school string
	boss, xuanwuAdmin, teacher    person
}

func newConflictCase(t *testing.T, sys *system) conflictCase {
	t.Helper()
	ctx := context.Background()
	city, xuanwu, school := jiangsuTree(t, sys)
	qinhuai := "320104"
	if _, err := sys.app.Orgs.Create(ctx, org.Org{ID: qinhuai, ParentID: city, Name: "秦淮区学生资助管理中心", Level: org.LevelCounty, RegionCode: qinhuai}); err != nil {
		t.Fatal(err)
	}
	c := conflictCase{city: city, xuanwu: xuanwu, qinhuai: qinhuai, school: school}
	c.boss = sys.newAccount(t, func(a *account.Account) { a.OrgID, a.Role, a.Name = city, account.RoleAdmin, "南京管理员" })
	c.xuanwuAdmin = sys.newAccount(t, func(a *account.Account) { a.OrgID, a.Role, a.Name = xuanwu, account.RoleAdmin, "玄武管理员" })
	c.teacher = sys.newAccount(t, func(a *account.Account) { a.OrgID, a.Name = school, "李老师" })
	qa := sys.newAccount(t, func(a *account.Account) { a.OrgID, a.Role, a.Name = qinhuai, account.RoleAdmin, "秦淮管理员" })
	qacc, err := sys.app.Accounts.Get(ctx, qa.ID)
	if err != nil {
		t.Fatal(err)
	}
	_, err = sys.app.Admin.Provision(ctx, admin.Actor{Account: qacc, IP: "127.0.0.1"}, c.teacher.Phone, "王新同事", qinhuai, account.RoleStaff)
	if !errors.Is(err, admin.ErrPhoneInUse) {
		t.Fatalf("provisioning a held number: %v, want a conflict", err)
	}
	return c
}

// TestPhoneConflictsThroughAdminAPI: GET /phone-conflicts shows an admin
// above both accounts who asked for which masked number, for which unit,
// when, and which account holds it where; an admin below the resolving
// unit (the holder's district) sees nothing and cannot close it; POST
// /phone-conflicts/{id}/resolve takes one of the offered outcomes, is
// audited, and the conflict leaves the queue.
func TestPhoneConflictsThroughAdminAPI(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		sys := startSystem(t, be)
		ctx := context.Background()
		c := newConflictCase(t, sys)
		boss, _ := sys.adminToolToken(t, c.boss)
		below, _ := sys.adminToolToken(t, c.xuanwuAdmin)

		r := sys.adminAPI(t, boss, http.MethodGet, "/phone-conflicts", nil)
		if r.Status != http.StatusOK {
			t.Fatalf("list: %s", r)
		}
		items, _ := r.json(t)["items"].([]any)
		if len(items) != 1 {
			t.Fatalf("Nanjing sees %d conflicts, want 1: %s", len(items), r)
		}
		got, _ := items[0].(map[string]any)
		holder, _ := got["holder"].(map[string]any)
		want := map[string]any{
			"source": "provision", "phone": phone.Mask(c.teacher.E164), "name": "王新同事", "org_id": c.qinhuai,
			"org_name": "秦淮区学生资助管理中心", "role": "staff", "requested_by_name": "秦淮管理员",
			"resolve_org_id": c.city, "resolve_org_name": "南京市学生资助管理中心",
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s = %v, want %v", k, got[k], v)
			}
		}
		if holder["id"] != c.teacher.ID || holder["name"] != "李老师" || holder["org_id"] != c.school || holder["org_name"] != "玄武区第1小学" || holder["status"] != "active" {
			t.Errorf("holder %v", holder)
		}
		if got["created_at"] == "" || got["created_at"] == nil {
			t.Errorf("no time: %v", got)
		}
		if strings.Contains(r.Body, c.teacher.Phone) {
			t.Errorf("the list shows the full number:\n%s", r.Body)
		}
		id, _ := got["id"].(string)

		if r := sys.adminAPI(t, below, http.MethodGet, "/phone-conflicts", nil); r.Status != http.StatusOK || len(r.json(t)["items"].([]any)) != 0 {
			t.Errorf("the holder's district sees: %s", r)
		}
		for _, tc := range []struct {
			name   string
			token  string
			id     string
			body   any
			status int
		}{
			{"an admin below the resolving unit", below, id, map[string]string{"outcome": admin.ResolveKept}, http.StatusNotFound},
			{"an unknown outcome", boss, id, map[string]string{"outcome": "whatever"}, http.StatusBadRequest},
			{"no outcome", boss, id, map[string]string{}, http.StatusBadRequest},
			{"no body", boss, id, nil, http.StatusUnsupportedMediaType},
			{"an unknown conflict", boss, "no-such-conflict", map[string]string{"outcome": admin.ResolveKept}, http.StatusNotFound},
		} {
			if r := sys.adminAPI(t, tc.token, http.MethodPost, "/phone-conflicts/"+tc.id+"/resolve", tc.body); r.Status != tc.status {
				t.Errorf("%s: %s, want %d", tc.name, r, tc.status)
			}
		}
		if n, _ := sys.app.Admin.PhoneConflictCount(ctx, admin.Actor{Account: mustAccount(t, sys, c.boss)}); n != 1 {
			t.Fatalf("a refused resolution closed the conflict (%d open)", n)
		}

		if r := sys.adminAPI(t, boss, http.MethodPost, "/phone-conflicts/"+id+"/resolve", map[string]string{"outcome": admin.ResolveKept}); r.Status != http.StatusNoContent {
			t.Fatalf("resolve: %s", r)
		}
		if r := sys.adminAPI(t, boss, http.MethodGet, "/phone-conflicts", nil); len(r.json(t)["items"].([]any)) != 0 {
			t.Errorf("still listed after resolving: %s", r)
		}
		if r := sys.adminAPI(t, boss, http.MethodPost, "/phone-conflicts/"+id+"/resolve", map[string]string{"outcome": admin.ResolveKept}); r.Status != http.StatusNotFound {
			t.Errorf("resolving twice: %s", r)
		}
		entries, err := sys.app.Audit.Search(ctx, audit.Query{Type: "account.phone_conflict_resolved", ActorID: c.boss.ID})
		if err != nil || len(entries) != 1 || entries[0].Detail["outcome"] != admin.ResolveKept || entries[0].SubjectID != c.teacher.ID ||
			!strings.HasSuffix(entries[0].OrgPath, "/"+c.city+"/") {
			t.Errorf("audit of the resolution: %+v, %v", entries, err)
		}
	})
}

func mustAccount(t *testing.T, sys *system, p person) *account.Account {
	t.Helper()
	a, err := sys.app.Accounts.Get(context.Background(), p.ID)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestPhoneConflictsInConsole: the Nanjing admin signs in to the console,
// sees the count in the navigation, opens the queue, reads both sides of
// the conflict and records that the holding account was corrected; the
// queue is empty, the badge gone, and the audit page says what was done.
func TestPhoneConflictsInConsole(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		sys := startSystem(t, be)
		ctx := context.Background()
		c := newConflictCase(t, sys)

		p := newPage(t, sys)
		p.do("open the console", chromedp.Navigate(sys.url+"/admin"))
		p.smsCode(c.boss)
		p.enrolTOTP()
		p.do("the home page", chromedp.WaitVisible(chromedp.CSS(`#nav-conflicts`)))
		if got := p.text(`#nav-conflicts`); !strings.Contains(got, "手机号冲突") || p.text(`#nav-conflicts .badge`) != "1" {
			t.Errorf("the navigation reads %q", got)
		}
		p.do("the queue", chromedp.Click(chromedp.CSS(`#nav-conflicts`)), chromedp.WaitVisible(chromedp.CSS(`article.conflict`)))
		if loc := p.location(); loc != "/admin/conflicts" {
			t.Errorf("the link leads to %s", loc)
		}
		card := p.text(`article.conflict`)
		for _, want := range []string{phone.Mask(c.teacher.E164), "管理员开通", "王新同事", "秦淮区学生资助管理中心", "秦淮管理员", "李老师", "玄武区第1小学", "南京市学生资助管理中心"} {
			if !strings.Contains(card, want) {
				t.Errorf("the conflict lacks %q:\n%s", want, card)
			}
		}
		if strings.Contains(card, c.teacher.Phone) {
			t.Errorf("the page shows the full number")
		}
		if p.count(`article.conflict a[href="/admin/accounts/`+c.teacher.ID+`"]`) != 1 {
			t.Errorf("no link to the holding account")
		}
		p.shoot("console-conflicts")

		p.do("resolve",
			chromedp.Click(chromedp.CSS(`input[name="outcome"][value="holder_corrected"]`)),
			chromedp.Submit(chromedp.CSS(`article.conflict form`)),
			chromedp.WaitVisible(chromedp.CSS(`#no-conflicts`)),
		)
		if msg := p.text(`p.msg.ok`); !strings.Contains(msg, "已记录处理结果") {
			t.Errorf("after resolving the page says %q", msg)
		}
		if p.count(`#nav-conflicts .badge`) != 0 {
			t.Errorf("the badge stays after the queue is empty")
		}
		entries, err := sys.app.Audit.Search(ctx, audit.Query{Type: "account.phone_conflict_resolved", ActorID: c.boss.ID})
		if err != nil || len(entries) != 1 || entries[0].Detail["outcome"] != admin.ResolveHolderCorrected {
			t.Errorf("audit of the resolution: %+v, %v", entries, err)
		}
		p.do("the audit page", chromedp.Navigate(sys.url+"/admin/audit"), chromedp.WaitVisible(chromedp.CSS(`table`)))
		trail := p.text(`table`)
		for _, want := range []string{"处理手机号冲突", "处理结果：已更正现账号", "手机号冲突待处理", "来源：管理员开通"} {
			if !strings.Contains(trail, want) {
				t.Errorf("the audit page lacks %q:\n%s", want, trail)
			}
		}
	})
}
