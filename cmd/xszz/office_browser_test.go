package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/xszz/xszz/internal/testenv"
)

// TestOfficeInBrowser: a school staff member signs in to the office
// through the IdP's SMS page, reads a notice forwarded from the county,
// registers for and signs in to the county's training with the rotating
// code, and signs out (RP-initiated: the IdP session ends too); then the
// county admin sees the read status and the coverage change.
func TestOfficeInBrowser(t *testing.T) {
	ctx := testenv.Browser(t)
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	sys := startSystem(t, sqliteBackend, noAdminTOTP)
	off := sys.startOffice(t)
	w := sys.staffWorld(t)
	if _, err := off.svc.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	prov, county := off.signIn(t, w.provAdmin), off.signIn(t, w.countyAdmin)

	// The province publishes to the counties; the county forwards to its schools.
	var n struct{ ID int64 }
	r := off.post(t, "/api/v1/notices", prov, map[string]any{
		"title": "关于做好2026年春季学期学生资助工作的通知", "require_confirm": true,
		"body":   "<p>各区县：</p><p>请认真做好家庭经济困难学生认定工作，确保<b>不漏一人</b>。</p>",
		"target": map[string]any{"kind": "levels", "levels": []string{"county"}},
	})
	if err := json.Unmarshal([]byte(r.Body), &n); err != nil || r.Status != http.StatusCreated {
		t.Fatalf("publish: %s", r)
	}
	nid := itoa(n.ID)
	if r := off.post(t, "/api/v1/notices/"+nid+"/forward", county, map[string]any{"note": "请各校于本周五前确认收到。", "target": map[string]any{"kind": "subtree"}}); r.Status != http.StatusCreated {
		t.Fatalf("forward: %s", r)
	}
	now := sys.clock.Now().UTC()
	var a struct{ ID int64 }
	r = off.post(t, "/api/v1/activities", county, map[string]any{
		"title": "2026年学生资助业务培训", "kind": "training", "place": "玄武区教育局三楼会议室",
		"starts_at": now.Add(30 * time.Minute), "ends_at": now.Add(3 * time.Hour),
		"registration_opens": now.Add(-time.Hour), "registration_closes": now.Add(30 * time.Minute),
		"signin_opens": now.Add(-time.Minute), "signin_closes": now.Add(2 * time.Hour),
	})
	if err := json.Unmarshal([]byte(r.Body), &a); err != nil || r.Status != http.StatusCreated {
		t.Fatalf("create activity: %s", r)
	}
	aid := itoa(a.ID)

	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	run := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		for _, act := range actions {
			if err := chromedp.Do(ctx, act); err != nil {
				loc, _ := chromedp.Run(ctx, chromedp.Location())
				body, _ := chromedp.Run(ctx, chromedp.Text(css(`body`)))
				t.Fatalf("%s: %v\nat %s:\n%s", what, err, loc, body)
			}
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(css(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}
	location := func() string {
		t.Helper()
		loc, err := chromedp.Run(ctx, chromedp.Location())
		if err != nil {
			t.Fatal(err)
		}
		return loc
	}
	shot := func(name string) {
		t.Helper()
		shootOffice(t, ctx, "office-"+name)
	}
	signIn := func(p person) {
		t.Helper()
		run("open the office", chromedp.Navigate(off.url+"/"), chromedp.WaitVisible(css(`#phone`)))
		if loc := location(); !strings.HasPrefix(loc, sys.url+"/login") {
			t.Fatalf("the office did not send the visitor to the IdP's login page: %s", loc)
		}
		run("ask for the SMS code",
			chromedp.SendKeys(css(`#phone`), p.Phone),
			chromedp.Click(css(`form[action="/login/send"] button`)),
			chromedp.WaitVisible(css(`#code`)),
		)
		run("sign in with the code",
			chromedp.SetValue(css(`form[action="/login"] input[name="phone"]`), p.Phone),
			chromedp.SendKeys(css(`#code`), sys.sms.last(p.E164)),
			chromedp.Submit(css(`#code`)),
			chromedp.WaitVisible(css(`#h-unread`)),
		)
	}

	// The school staff member.
	run("phone width", chromedp.EmulateViewport(390, 844))
	signIn(w.schoolStaff)
	if got := text(`main`); !strings.Contains(got, "关于做好2026年春季学期学生资助工作的通知") || !strings.Contains(got, "2026年学生资助业务培训") {
		t.Fatalf("home page lacks the notice or the training:\n%s", got)
	}
	shot("home-phone")
	run("laptop width", chromedp.EmulateViewport(1280, 900))
	shot("home")
	run("open the notice", chromedp.Click(css(`a[href="/notices/`+nid+`"]`)), chromedp.WaitVisible(css(`#h-chain`)))
	if got := text(`main`); !strings.Contains(got, "请各校于本周五前确认收到。") || !strings.Contains(got, "玄武区学生资助管理中心") || !strings.Contains(got, "江苏省学生资助管理中心") {
		t.Fatalf("the notice page lacks the forwarding chain:\n%s", got)
	}
	run("confirm", chromedp.Click(css(`form[action="/notices/`+nid+`/confirm"] button`)), chromedp.WaitVisible(css(`p.msg.ok`)))
	shot("notice")

	// Each step waits for what only its answer shows, never for something
	// the page before it showed too.
	run("register for the training", chromedp.Navigate(off.url+"/activities/"+aid), chromedp.WaitVisible(css(`#register`)),
		chromedp.Click(css(`#register`)), chromedp.WaitVisible(css(`p.msg.ok`)), chromedp.WaitNotPresent(css(`#register`)))
	var sc struct{ Code string }
	if r := off.get(t, "/api/v1/activities/"+aid+"/code", county); json.Unmarshal([]byte(r.Body), &sc) != nil || len(sc.Code) != 6 {
		t.Fatalf("organiser code: %s", r)
	}
	run("sign in to the training", chromedp.SendKeys(css(`#code`), sc.Code), chromedp.Click(css(`#checkin`)), chromedp.WaitVisible(css(`span.tag.green`)))
	if got := text(`main`); !strings.Contains(got, "已签到") {
		t.Fatalf("after sign-in the activity page says:\n%s", got)
	}
	shot("activity")
	run("contacts", chromedp.Navigate(off.url+"/contacts"), chromedp.WaitVisible(css(`table`)))
	shot("contacts")

	// Sign out: the office session and the IdP's end; the office home
	// sends the visitor to the IdP's login page again.
	run("sign out", chromedp.Click(css(`header form[action="/logout"] button`)), chromedp.WaitVisible(css(`#phone`)))
	if loc := location(); !strings.HasPrefix(loc, sys.url+"/login") {
		t.Fatalf("after sign-out: %s, want the IdP's login page", loc)
	}

	// The county admin sees the read status and coverage.
	signIn(w.countyAdmin)
	run("receipts", chromedp.Navigate(off.url+"/notices/"+nid+"/receipts"), chromedp.WaitVisible(css(`h1`)))
	if got := text(`main`); !strings.Contains(got, "已读\n1") && !strings.Contains(got, "已读 1") && !strings.Contains(got, "100%") {
		t.Fatalf("receipts page:\n%s", got)
	}
	shot("receipts")
	run("coverage", chromedp.Navigate(off.url+"/activities/"+aid+"/coverage"), chromedp.WaitVisible(css(`h1`)))
	if got := text(`main`); !strings.Contains(got, "已签到\n1") && !strings.Contains(got, "已签到 1") {
		t.Fatalf("coverage page:\n%s", got)
	}
	shot("coverage")
	run("organiser screen", chromedp.Navigate(off.url+"/activities/"+aid+"/screen"), chromedp.WaitVisible(css(`#signin-code`)))
	if got := text(`#signin-code`); len(strings.TrimSpace(got)) != 6 {
		t.Fatalf("screen code %q", got)
	}
	shot("screen")
	run("publish form", chromedp.Navigate(off.url+"/notices/new"), chromedp.WaitVisible(css(`#title`)))
	shot("publish")
}
