package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/xszz/xszz/internal/testenv"
)

// TestOfficeWorkflowsInBrowser: a school staff member files a consultation
// and a complaint about a case; the county admin sees both in the inbox,
// answers the question publicly and handles the complaint through
// accepted, in progress and replied; the school sees the answer, the trail
// and every deadline, closes the complaint, and finds the answer in the
// knowledge base. (Hidden names are covered by the complaint package's
// tests.)
func TestOfficeWorkflowsInBrowser(t *testing.T) {
	ctx := testenv.Browser(t)
	ctx, cancel := context.WithTimeout(ctx, 120*time.Second)
	defer cancel()
	sys := startSystem(t, sqliteBackend, noAdminTOTP)
	off := sys.startOffice(t)
	w := sys.staffWorld(t)
	if _, err := off.svc.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
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
	text := func() string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(css(`main`)))
		if err != nil {
			t.Fatalf("text: %v", err)
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
		shootOffice(t, ctx, "office-workflow-"+name)
	}
	signIn := func(p person) {
		t.Helper()
		run("open the office", chromedp.Navigate(off.url+"/"), chromedp.WaitVisible(css(`#phone`)))
		run("ask for the SMS code",
			chromedp.SendKeys(css(`#phone`), p.Phone),
			chromedp.Click(css(`form[action="/login/send"] button`)),
			chromedp.WaitVisible(css(`#code`)),
		)
		run("sign in with the code",
			chromedp.SetValue(css(`form[action="/login"] input[name="phone"]`), p.Phone),
			chromedp.SendKeys(css(`#code`), sys.sms.last(p.E164)),
			chromedp.Submit(css(`#code`)),
			chromedp.WaitVisible(css(`#h-wf`)),
		)
	}
	signOut := func() {
		t.Helper()
		run("sign out", chromedp.Navigate(off.url+"/"), chromedp.WaitVisible(css(`#h-wf`)),
			chromedp.Click(css(`header form[action="/logout"] button`)), chromedp.WaitVisible(css(`#phone`)))
	}
	must := func(what, got string, want ...string) {
		t.Helper()
		for _, s := range want {
			if !strings.Contains(got, s) {
				t.Fatalf("%s lacks %q:\n%s", what, s, got)
			}
		}
	}

	// The school files a consultation and a complaint, at phone width.
	run("phone width", chromedp.EmulateViewport(390, 844))
	signIn(w.schoolStaff)
	run("ask", chromedp.Navigate(off.url+"/consultations/new"), chromedp.WaitVisible(css(`#title`)),
		chromedp.SendKeys(css(`#title`), "国家助学金今年的资助标准是多少？"),
		chromedp.SendKeys(css(`#body`), "我校有 120 名家庭经济困难学生，想了解今年的分档标准。"),
		chromedp.Click(css(`main form button[type="submit"]`)), chromedp.WaitVisible(css(`p.msg.ok`)))
	consultation, _, _ := strings.Cut(location(), "?")
	must("the consultation page", text(), "待答复", "玄武区学生资助管理中心", "办理记录")
	shot("consultation-asked-phone")

	run("complain", chromedp.Navigate(off.url+"/complaints/new"), chromedp.WaitVisible(css(`#title`)),
		chromedp.SendKeys(css(`#case`), "2026春-学生张某某"),
		chromedp.SendKeys(css(`#title`), "学生助学金发放延迟两个月"),
		chromedp.SendKeys(css(`#body`), "我校学生张某某上学期的国家助学金至今未到账，家长多次询问。"))
	shot("complaint-new-phone")
	run("file", chromedp.Click(css(`main form button[type="submit"]`)), chromedp.WaitVisible(css(`#h-dl`)))
	complaintURL, _, _ := strings.Cut(location(), "?")
	must("the complaint page", text(), "已提交", "玄武区学生资助管理中心", "受理", "开始办理", "答复")
	signOut()

	// The county sees both in its inbox, answers and handles them.
	run("laptop width", chromedp.EmulateViewport(1280, 900))
	signIn(w.countyAdmin)
	must("the county's inbox", text(), "待答复的咨询", "待办理的投诉")
	shot("county-home")
	run("answer", chromedp.Navigate(consultation), chromedp.WaitVisible(css(`form:has(input[value="answer"]) textarea`)),
		chromedp.SendKeys(css(`form:has(input[value="answer"]) textarea`), "本专科生国家助学金平均每生每年 3700 元，可分为 2–3 档。"),
		chromedp.Click(css(`form:has(input[value="answer"]) input[name="public"]`)),
		chromedp.Click(css(`form:has(input[value="answer"]) button`)), chromedp.WaitVisible(css(`#h-ans`)))
	shot("consultation-answered")
	run("open the complaint", chromedp.Navigate(complaintURL))
	for _, step := range []struct{ to, comment string }{
		{"accepted", ""}, {"in_progress", "已核查拨付进度。"}, {"replied", "经核查，资金已于本周拨付到校，请查收。"},
	} {
		// Each step's answer is the item page, with the next step's form.
		run("move to "+step.to, chromedp.WaitVisible(css(`form:has(input[value="`+step.to+`"]) button`)))
		if step.comment != "" {
			run("comment", chromedp.SendKeys(css(`form:has(input[value="`+step.to+`"]) textarea`), step.comment))
		}
		run("submit "+step.to, chromedp.Click(css(`form:has(input[value="`+step.to+`"]) button`)), chromedp.WaitNotPresent(css(`form:has(input[value="`+step.to+`"]) button`)))
	}
	run("replied", chromedp.WaitVisible(css(`#h-rep`)))
	must("the complaint as the county sees it", text(), "九中员", "已答复", "2026春-学生张某某")
	shot("complaint-county")
	signOut()

	// The school sees the answer, the trail and every deadline.
	signIn(w.schoolStaff)
	run("the answer", chromedp.Navigate(consultation), chromedp.WaitVisible(css(`#h-ans`)))
	must("the answered consultation", text(), "3700 元", "已答复", "答复", "玄县管")
	if strings.Contains(text(), "咨询已提交") {
		t.Fatal("a stale flash message")
	}
	shot("consultation-school")
	run("the complaint", chromedp.Navigate(complaintURL), chromedp.WaitVisible(css(`#h-dl`)))
	must("the replied complaint", text(), "已答复", "资金已于本周拨付到校", "受理", "开始办理", "按期")
	run("close it", chromedp.Click(css(`form:has(input[value="closed"]) button`)), chromedp.WaitNotPresent(css(`form:has(input[value="closed"]) button`)), chromedp.WaitVisible(css(`#h-trail`)))
	must("the closed complaint", text(), "已办结")
	shot("complaint-school")
	run("phone width", chromedp.EmulateViewport(390, 844), chromedp.Reload(), chromedp.WaitVisible(css(`#h-trail`)))
	shot("complaint-school-phone")
	run("laptop width", chromedp.EmulateViewport(1280, 900))
	run("search the knowledge base", chromedp.Navigate(off.url+"/consultations?q="+"国家助学金"), chromedp.WaitVisible(css(`table`)))
	must("the knowledge base", text(), "国家助学金今年的资助标准是多少？")
	shot("knowledge-base")
	run("the list", chromedp.Navigate(off.url+"/complaints?box=mine"), chromedp.WaitVisible(css(`table`)))
	shot("complaints")
	if r := off.get(t, "/api/v1/inbox", off.signIn(t, w.schoolStaff)); r.Status != http.StatusOK {
		t.Fatalf("inbox: %s", r)
	}
}
