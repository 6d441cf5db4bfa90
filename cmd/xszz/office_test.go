package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"mime/multipart"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xszz/xszz/idp"
	"github.com/xszz/xszz/idp/account"
	"github.com/xszz/xszz/idp/admin"
	"github.com/xszz/xszz/idp/client"
	"github.com/xszz/xszz/idp/org"
	"github.com/xszz/xszz/office"
)

// noAdminTOTP lets admins sign in with the SMS code alone, as the office
// tests sign admins in without an authenticator app.
func noAdminTOTP(c *Config) { c.IdP.TOTPRequiredFor = idp.MFAForNone }

// officeNode is the office system served beside a test system's IdP, as
// its own service on its own listener, registered as a client.
type officeNode struct {
	svc        *office.Service
	url        string
	id, secret string
	sys        *system
}

func (s *system) startOffice(t testing.TB) *officeNode {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// "localhost" while the IdP is 127.0.0.1: another site, as in
	// production, so cookies and cross-site rules are what they will be.
	u := "http://localhost:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	id, secret := s.newClient(t, func(sp *client.Spec) {
		sp.Name = "全国学生资助办公系统"
		sp.RedirectURIs = []string{u + "/callback", callbackURL}
		sp.PostLogoutRedirectURIs = []string{u + "/"}
		sp.BackchannelLogoutURI = u + "/backchannel-logout"
		sp.GrantTypes = []string{"authorization_code", "refresh_token", "client_credentials"}
		sp.Scopes = []string{"openid", "profile", "phone", "org", "offline_access", "directory"}
		sp.DirectoryRoot, sp.DirectoryFullPhones = org.RootID, true
	})
	svc, err := office.New(office.Config{URL: u, Issuer: s.url, ClientID: id, ClientSecret: secret, Files: filepath.Join(t.TempDir(), "files"),
		Workflow: officeWorkflow(s.app.Cfg.Office)},
		office.Deps{DB: s.app.DB, Log: s.app.Log, Now: s.clock.Now, SMS: s.sms})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: svc.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return &officeNode{svc: svc, url: u, id: id, secret: secret, sys: s}
}

// call sends a request to the office API with a bearer token.
func (o *officeNode) call(t testing.TB, method, path, token, contentType, body string) reply {
	t.Helper()
	req, _ := http.NewRequest(method, o.url+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return send(t, http.DefaultClient, req)
}

func (o *officeNode) get(t testing.TB, path, token string) reply {
	t.Helper()
	return o.call(t, http.MethodGet, path, token, "", "")
}

func (o *officeNode) post(t testing.TB, path, token string, v any) reply {
	t.Helper()
	b, _ := json.Marshal(v)
	return o.call(t, http.MethodPost, path, token, "application/json", string(b))
}

// staffWorld is a province › city › two counties › school branch with
// one person per role that the office tests need.
type staffWorld struct {
	provAdmin, countyAdmin, schoolStaff, otherCounty person
}

func (s *system) staffWorld(t testing.TB) staffWorld {
	t.Helper()
	ctx := context.Background()
	for _, o := range []org.Org{
		{ID: "320100", ParentID: "320000", Name: "南京市学生资助管理中心", Level: org.LevelCity, RegionCode: "320100"},
		{ID: "320102", ParentID: "320100", Name: "玄武区学生资助管理中心", Level: org.LevelCounty, RegionCode: "320102"},
		{ID: "320104", ParentID: "320100", Name: "秦淮区学生资助管理中心", Level: org.LevelCounty, RegionCode: "320104"},
		{ID: "32010200001", ParentID: "320102", Name: "南京市第九中学", Level: org.LevelSchool, RegionCode: "320102"},
	} {
		if _, err := s.app.Orgs.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	mk := func(orgID, name, role string) person {
		return s.newAccount(t, func(a *account.Account) { a.OrgID, a.Name, a.Role = orgID, name, role })
	}
	return staffWorld{
		provAdmin:   mk("320000", "江省管", account.RoleAdmin),
		countyAdmin: mk("320102", "玄县管", account.RoleAdmin),
		schoolStaff: mk("32010200001", "九中员", account.RoleStaff),
		otherCounty: mk("320104", "秦县员", account.RoleStaff),
	}
}

// signIn returns an office access token for p.
func (o *officeNode) signIn(t testing.TB, p person) string {
	t.Helper()
	tok, _ := o.sys.rpFor(t, o.id, o.secret).signIn(o.sys.browser(t), p)
	return tok.AccessToken
}

func errorCode(t testing.TB, r reply) string {
	t.Helper()
	var e struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if err := json.Unmarshal([]byte(r.Body), &e); err != nil || e.Error == "" || e.Description == "" {
		t.Errorf("error answer not in {error, error_description}: %s", r)
	}
	return e.Error
}

// The office API accepts only the IdP's access tokens for the office.
func TestOfficeAPIRefusesOtherTokens(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		sys := startSystem(t, be, noAdminTOTP)
		off := sys.startOffice(t)
		w := sys.staffWorld(t)
		otc, _ := sys.rpFor(t, off.id, off.secret).signIn(sys.browser(t), w.schoolStaff)
		idToken, _ := otc.Extra("id_token").(string)
		other, _ := sys.newRP(t).signIn(sys.browser(t), w.schoolStaff)

		if r := off.get(t, "/api/v1/me", otc.AccessToken); r.Status != http.StatusOK || !strings.Contains(r.Body, "32010200001") {
			t.Fatalf("me with the office's token: %s", r)
		}
		for _, c := range []struct{ name, token string }{
			{"no token", ""},
			{"garbage", "abc.def.ghi"},
			{"another client's access token", other.AccessToken},
			{"an ID token", idToken},
			{"a refresh token", otc.RefreshToken},
		} {
			r := off.get(t, "/api/v1/notices", c.token)
			if r.Status != http.StatusUnauthorized || !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%s: %s", c.name, r)
			}
		}
		sys.clock.Advance(time.Hour)
		if r := off.get(t, "/api/v1/me", otc.AccessToken); r.Status != http.StatusUnauthorized || !strings.Contains(r.Header.Get("WWW-Authenticate"), "invalid_token") {
			t.Errorf("expired token: %s", r)
		}
	})
}

// A notice from the province reaches the county, is forwarded to the
// school, read there, and the read status is visible to each sender; an
// activity is registered for and signed in to with the rotating code; the
// contacts mask numbers. Bad input gets 4xx in the API's error format.
func TestOfficeAPI(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		sys := startSystem(t, be, noAdminTOTP)
		off := sys.startOffice(t)
		w := sys.staffWorld(t)
		ctx := context.Background()
		res, err := off.svc.Sync(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if res.People != 4 || res.Units < 38 {
			t.Fatalf("first sync: %+v", res)
		}
		prov, county, school, other := off.signIn(t, w.provAdmin), off.signIn(t, w.countyAdmin), off.signIn(t, w.schoolStaff), off.signIn(t, w.otherCounty)

		r := off.post(t, "/api/v1/notices", prov, map[string]any{
			"title": "关于做好<script>x</script>春季学期资助工作的通知", "body": "<p>各区县：</p><script>alert(1)</script>",
			"require_confirm": false, "target": map[string]any{"kind": "levels", "levels": []string{"county"}},
		})
		if r.Status != http.StatusCreated {
			t.Fatalf("publish: %s", r)
		}
		var n struct {
			ID    int64  `json:"id"`
			Title string `json:"title"`
		}
		json.Unmarshal([]byte(r.Body), &n)
		if n.Title != "关于做好春季学期资助工作的通知" {
			t.Errorf("title = %q", n.Title)
		}
		nid := itoa(n.ID)

		if r := off.get(t, "/api/v1/notices/"+nid, school); r.Status != http.StatusNotFound {
			t.Errorf("school before the forward: %s", r)
		}
		if r := off.post(t, "/api/v1/notices/"+nid+"/forward", county, map[string]any{"note": "请各校认真落实", "target": map[string]any{"kind": "subtree"}}); r.Status != http.StatusCreated {
			t.Fatalf("forward: %s", r)
		}
		r = off.get(t, "/api/v1/notices/"+nid, school)
		if r.Status != http.StatusOK || !strings.Contains(r.Body, "请各校认真落实") || strings.Contains(r.Body, "alert(1)") {
			t.Fatalf("school view: %s", r)
		}
		if r := off.post(t, "/api/v1/notices/"+nid+"/read", school, nil); r.Status != http.StatusOK || !strings.Contains(r.Body, "read_at") {
			t.Fatalf("read: %s", r)
		}
		r = off.get(t, "/api/v1/notices/"+nid+"/receipts", county)
		var roll struct {
			Unit struct{ Recipients, Readers int } `json:"unit"`
		}
		json.Unmarshal([]byte(r.Body), &roll)
		if r.Status != http.StatusOK || roll.Unit.Recipients != 1 || roll.Unit.Readers != 1 {
			t.Errorf("county receipts: %s", r)
		}
		r = off.get(t, "/api/v1/notices/"+nid+"/receipts?org=320100", prov)
		json.Unmarshal([]byte(r.Body), &roll)
		if r.Status != http.StatusOK || roll.Unit.Recipients != 3 || roll.Unit.Readers != 1 {
			t.Errorf("province receipts at the city: %s", r)
		}

		// Activities with the rotating code.
		now := sys.clock.Now().UTC()
		r = off.post(t, "/api/v1/activities", county, map[string]any{
			"title": "资助政策培训", "kind": "training", "place": "区教育局会议室",
			"starts_at": now.Add(time.Hour), "ends_at": now.Add(3 * time.Hour),
			"registration_opens": now.Add(-time.Hour), "registration_closes": now.Add(time.Hour),
			"signin_opens": now.Add(-time.Minute), "signin_closes": now.Add(2 * time.Hour),
		})
		if r.Status != http.StatusCreated {
			t.Fatalf("create activity: %s", r)
		}
		var a struct{ ID int64 }
		json.Unmarshal([]byte(r.Body), &a)
		aid := itoa(a.ID)
		if r := off.post(t, "/api/v1/activities/"+aid+"/register", school, nil); r.Status != http.StatusOK {
			t.Fatalf("register: %s", r)
		}
		if r := off.get(t, "/api/v1/activities/"+aid+"/code", school); r.Status != http.StatusForbidden {
			t.Errorf("participant asking for the code: %s", r)
		}
		r = off.get(t, "/api/v1/activities/"+aid+"/code", county)
		var code struct {
			Code string `json:"code"`
			QR   string `json:"qr_png"`
		}
		json.Unmarshal([]byte(r.Body), &code)
		if r.Status != http.StatusOK || len(code.Code) != 6 || !strings.HasPrefix(code.QR, "data:image/png;base64,") {
			t.Fatalf("code: %s", r)
		}
		if r := off.post(t, "/api/v1/activities/"+aid+"/checkin", school, map[string]string{"code": code.Code}); r.Status != http.StatusOK || !strings.Contains(r.Body, "checked_in_at") {
			t.Fatalf("check in: %s", r)
		}
		r = off.get(t, "/api/v1/activities/"+aid+"/coverage", county)
		if r.Status != http.StatusOK || !strings.Contains(r.Body, `"checked_in":1`) {
			t.Errorf("coverage: %s", r)
		}
		if r := off.get(t, "/api/v1/activities/"+aid+"/coverage.csv", county); r.Status != http.StatusOK || !strings.Contains(r.Body, "九中员") || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/csv") {
			t.Errorf("coverage csv: %s", r)
		}

		// Contacts: masked, revealed to admins above only, and recorded.
		r = off.get(t, "/api/v1/contacts", county)
		if r.Status != http.StatusOK || !strings.Contains(r.Body, "九中员") || strings.Contains(r.Body, w.schoolStaff.Phone) || strings.Contains(r.Body, "秦县员") {
			t.Errorf("county contacts: %s", r)
		}
		if r := off.post(t, "/api/v1/contacts/"+w.countyAdmin.ID+"/reveal", school, nil); r.Status != http.StatusNotFound {
			t.Errorf("school revealing the county admin (above it): %s", r)
		}
		if r := off.post(t, "/api/v1/contacts/"+w.schoolStaff.ID+"/reveal", county, nil); r.Status != http.StatusOK || !strings.Contains(r.Body, w.schoolStaff.Phone) {
			t.Errorf("county admin revealing: %s", r)
		}
		var reveals int
		if err := sys.app.DB.QueryRowContext(ctx, `SELECT COUNT(*) FROM office_phone_reveals WHERE viewer_id = $1 AND person_id = $2`, w.countyAdmin.ID, w.schoolStaff.ID).Scan(&reveals); err != nil || reveals != 1 {
			t.Errorf("recorded reveals: %d %v", reveals, err)
		}
		// A person who chooses to show their number shows it to colleagues.
		if r := off.call(t, http.MethodPut, "/api/v1/me/show-phone", school, "application/json", `{"show":true}`); r.Status != http.StatusOK {
			t.Errorf("show phone: %s", r)
		}
		if r := off.get(t, "/api/v1/contacts?q=九中", county); !strings.Contains(r.Body, w.schoolStaff.Phone) {
			t.Errorf("a shown number is masked: %s", r)
		}
		if r := off.call(t, http.MethodPut, "/api/v1/me/show-phone", school, "application/json", `{"show":"yes"}`); r.Status != http.StatusBadRequest {
			t.Errorf("show phone with a string: %s", r)
		}
		if r := off.get(t, "/api/v1/contacts/above", school); r.Status != http.StatusOK || !strings.Contains(r.Body, "玄县管") {
			t.Errorf("contact points above the school: %s", r)
		}

		r = off.post(t, "/api/v1/notices", county, map[string]any{"title": "玄武区内部通知"})
		var own struct{ ID int64 }
		json.Unmarshal([]byte(r.Body), &own)

		// A notice with an attachment, as a multipart form: the notice as
		// JSON in one part, the files in others.
		form := func(notice string, files map[string][]byte) (string, string) {
			var buf bytes.Buffer
			mw := multipart.NewWriter(&buf)
			mw.WriteField("notice", notice)
			for name, data := range files {
				fw, _ := mw.CreateFormFile("files", name)
				fw.Write(data)
			}
			mw.Close()
			return mw.FormDataContentType(), buf.String()
		}
		ct, body := form(`{"title":"附件通知","target":{"kind":"subtree"}}`, map[string][]byte{"名单.csv": []byte("姓名\n张三\n")})
		r = off.call(t, "POST", "/api/v1/notices", county, ct, body)
		var withFile struct{ ID int64 }
		if r.Status != http.StatusCreated || json.Unmarshal([]byte(r.Body), &withFile) != nil {
			t.Fatalf("publish with an attachment: %s", r)
		}
		if r := off.get(t, "/api/v1/notices/"+itoa(withFile.ID), county); !strings.Contains(r.Body, "名单.csv") {
			t.Fatalf("the notice lacks its attachment: %s", r)
		}
		notJSON, notJSONBody := form(`标题`, nil)
		oversize, oversizeBody := form(`{"title":"大附件"}`, map[string][]byte{"大.bin": bytes.Repeat([]byte{1}, 10<<20+1)})

		// Bad input: a clear 4xx in the API's format, nothing written.
		big := `{"note":"` + strings.Repeat("长", 40<<10) + `"}`
		for _, c := range []struct {
			name, method, path, token, ct, body string
			status                              int
		}{
			{"not JSON", "POST", "/api/v1/notices", prov, "application/json", "{", 400},
			{"wrong type", "POST", "/api/v1/notices", prov, "application/json", `{"title": 5}`, 400},
			{"unknown field", "POST", "/api/v1/notices", prov, "application/json", `{"title":"标题","admin":true}`, 400},
			{"form post", "POST", "/api/v1/notices/" + nid + "/forward", county, "application/x-www-form-urlencoded", "note=x", 415},
			{"oversized", "POST", "/api/v1/notices/" + nid + "/forward", county, "application/json", big, 413},
			{"unknown id", "GET", "/api/v1/notices/999999", school, "", "", 404},
			{"id not a number", "GET", "/api/v1/notices/abc", school, "", "", 404},
			{"forward of a notice one cannot see", "POST", "/api/v1/notices/" + itoa(own.ID) + "/forward", other, "application/json", `{"target":{"kind":"subtree"}}`, 404},
			{"receipts of another subtree", "GET", "/api/v1/notices/" + nid + "/receipts?org=320104", county, "", "", 404},
			{"staff publishing", "POST", "/api/v1/notices", school, "application/json", `{"title":"员工发布"}`, 403},
			{"bad target", "POST", "/api/v1/notices", county, "application/json", `{"title":"越级通知","target":{"kind":"units","units":["320104"]}}`, 400},
			{"bad cursor", "GET", "/api/v1/notices?before=-1", school, "", "", 400},
			{"activity with bad times", "POST", "/api/v1/activities", county, "application/json", `{"title":"坏活动","place":"x","starts_at":"tomorrow"}`, 400},
			{"broken multipart", "POST", "/api/v1/notices", county, "multipart/form-data; boundary=x", "--x\r\nbroken", 400},
			{"multipart, notice not JSON", "POST", "/api/v1/notices", county, notJSON, notJSONBody, 400},
			{"multipart, attachment over 10 MB", "POST", "/api/v1/notices", county, oversize, oversizeBody, 400},
		} {
			r := off.call(t, c.method, c.path, c.token, c.ct, c.body)
			if r.Status != c.status {
				t.Errorf("%s: %s, want %d", c.name, r, c.status)
				continue
			}
			errorCode(t, r)
		}
		var count int
		if err := sys.app.DB.QueryRowContext(ctx, `SELECT COUNT(*) FROM office_notices`).Scan(&count); err != nil || count != 4 {
			t.Errorf("dispatches after bad input: %d %v, want 4", count, err)
		}
	})
}

func itoa(n int64) string {
	b, err := json.Marshal(n)
	if err != nil {
		panic(errors.New("marshal int"))
	}
	return string(b)
}

// The office's copy of the directory follows the IdP incrementally: a
// second sync brings only what changed (renamed, disabled, moved, new).
func TestOfficeDirectorySync(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		sys := startSystem(t, be, noAdminTOTP)
		off := sys.startOffice(t)
		w := sys.staffWorld(t)
		ctx := context.Background()
		if _, err := off.svc.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		if res, err := off.svc.Sync(ctx); err != nil || res.People+res.Units != 0 {
			t.Fatalf("sync without changes: %+v %v", res, err)
		}
		sys.clock.Advance(3 * time.Second)
		if _, err := sys.app.Accounts.Update(ctx, w.schoolStaff.ID, func(a *account.Account) error { a.Name = "九中新名"; return nil }); err != nil {
			t.Fatal(err)
		}
		sys.disable(t, w.otherCounty)
		fresh := sys.newAccount(t, func(a *account.Account) { a.OrgID, a.Name = "320104", "秦县新人" })
		if err := sys.app.Orgs.Update(ctx, "32010200001", func(o *org.Org) error { o.Name = "南京市第九中学（新校区）"; return nil }); err != nil {
			t.Fatal(err)
		}
		res, err := off.svc.Sync(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if res.People != 3 || res.Units != 1 {
			t.Errorf("incremental sync: %+v, want 3 people and 1 unit", res)
		}
		var name, unit string
		var active int
		if err := sys.app.DB.QueryRowContext(ctx, `SELECT p.name, u.name FROM office_people p JOIN office_units u ON u.id = p.org_id WHERE p.id = $1`, w.schoolStaff.ID).Scan(&name, &unit); err != nil || name != "九中新名" || unit != "南京市第九中学（新校区）" {
			t.Errorf("synced person: %q at %q (%v)", name, unit, err)
		}
		if err := sys.app.DB.QueryRowContext(ctx, `SELECT active FROM office_people WHERE id = $1`, w.otherCounty.ID).Scan(&active); err != nil || active != 0 {
			t.Errorf("disabled account active=%d (%v)", active, err)
		}
		var phone string
		if err := sys.app.DB.QueryRowContext(ctx, `SELECT phone FROM office_people WHERE id = $1`, fresh.ID).Scan(&phone); err != nil || phone != fresh.E164 {
			t.Errorf("new account's phone %q (%v), want the full number", phone, err)
		}
	})
}

// The office's pages sign people in through the IdP, and a back-channel
// logout from the IdP (here: the account is disabled) ends the office
// session.
func TestOfficeBackChannelLogout(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		sys := startSystem(t, be, noAdminTOTP)
		off := sys.startOffice(t)
		w := sys.staffWorld(t)
		b := sys.browser(t)
		r := b.get(off.url + "/")
		if r.Status != http.StatusFound || !strings.HasPrefix(r.Header.Get("Location"), "/login") {
			t.Fatalf("home without a session: %s", r)
		}
		r = b.get(off.url + "/login")
		back := b.authorize(r.Header.Get("Location"), w.schoolStaff)
		loc := back.location()
		if loc == nil || !strings.HasPrefix(loc.String(), off.url+"/callback") {
			t.Fatalf("the IdP did not return to the office: %s", back)
		}
		if cb := b.get(loc.String()); cb.Status >= 400 {
			t.Fatalf("callback: %s", cb)
		}
		if home := b.get(off.url + "/"); home.Status != http.StatusOK || !strings.Contains(home.Body, "九中员") {
			t.Fatalf("home after sign-in: %s", home)
		}
		// A cross-site form post to the office is refused.
		req, _ := http.NewRequest(http.MethodPost, off.url+"/notices", strings.NewReader("title=x"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", "https://evil.example")
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		if r := send(t, b.hc, req); r.Status != http.StatusForbidden {
			t.Errorf("cross-site post: %s", r)
		}

		if _, err := sys.app.Admin.Disable(context.Background(), admin.Actor{System: true}, w.schoolStaff.ID); err != nil {
			t.Fatalf("disable: %v", err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			home := b.get(off.url + "/")
			if home.Status == http.StatusFound {
				break // sent to sign in again: the session is gone
			}
			if time.Now().After(deadline) {
				t.Fatalf("the office session outlived the account by 10 s: %s", home)
			}
			time.Sleep(50 * time.Millisecond) // the notifier delivers asynchronously
		}
	})
}
