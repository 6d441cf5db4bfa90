package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The workflows' JSON API over HTTP, on both backends: a consultation,
// a complaint and a submission go up and are handled; lists, the inbox,
// the knowledge base and the CSV answer; bad input is a 4xx in the API's
// error format and writes nothing; a transition not allowed names the
// allowed ones; no token is 401.
func TestOfficeWorkflowAPI(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		sys := startSystem(t, be, noAdminTOTP)
		off := sys.startOffice(t)
		w := sys.staffWorld(t)
		if _, err := off.svc.Sync(context.Background()); err != nil {
			t.Fatal(err)
		}
		county, school, other := off.signIn(t, w.countyAdmin), off.signIn(t, w.schoolStaff), off.signIn(t, w.otherCounty)
		id := func(r reply) string {
			t.Helper()
			var v struct{ ID int64 }
			if err := json.Unmarshal([]byte(r.Body), &v); err != nil || v.ID == 0 {
				t.Fatalf("no id in %s", r)
			}
			return itoa(v.ID)
		}
		errorOf := func(r reply) string {
			t.Helper()
			var e struct {
				Error       string `json:"error"`
				Description string `json:"error_description"`
			}
			if err := json.Unmarshal([]byte(r.Body), &e); err != nil || e.Error == "" || e.Description == "" {
				t.Fatalf("not the API's error format: %s", r)
			}
			return e.Error
		}

		r := off.post(t, "/api/v1/consultations", school, map[string]any{"title": "国家助学金的分档标准？", "body": "请答复"})
		if r.Status != http.StatusCreated {
			t.Fatalf("ask: %s", r)
		}
		cid := id(r)
		r = off.post(t, "/api/v1/complaints", school, map[string]any{"title": "助学金发放延迟", "body": "上学期的助学金至今未到账。", "case": "个案 1"})
		if r.Status != http.StatusCreated {
			t.Fatalf("file: %s", r)
		}
		pid := id(r)
		png := "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
		r = off.post(t, "/api/v1/submissions", school, map[string]any{"title": "资助育人纪实", "body": "<p>正文</p>", "images": []map[string]string{{"name": "a.png", "data": png}}})
		if r.Status != http.StatusCreated {
			t.Fatalf("submit: %s", r)
		}
		sid := id(r)

		// The county's inbox counts all three.
		var in map[string]any
		if r := off.get(t, "/api/v1/inbox", county); json.Unmarshal([]byte(r.Body), &in) != nil || in["consultations_to_answer"] != 1.0 ||
			in["complaints_to_handle"] != 1.0 || in["submissions_to_review"] != 1.0 {
			t.Fatalf("county inbox: %s", r)
		}

		for _, c := range []struct {
			name         string
			method, path string
			token, ctype string
			body         string
			want         int
			code         string
		}{
			{"no token", "GET", "/api/v1/complaints", "", "", "", 401, ""},
			{"not JSON", "POST", "/api/v1/complaints", school, "application/json", "{", 400, "invalid_request"},
			{"an unknown field", "POST", "/api/v1/complaints", school, "application/json", `{"title":"标题标题","body":"内容内容内容内容内容","case":"x","admin":true}`, 400, "invalid_request"},
			{"a wrong type", "POST", "/api/v1/consultations", school, "application/json", `{"title":5}`, 400, "invalid_request"},
			{"form data", "POST", "/api/v1/consultations", school, "application/x-www-form-urlencoded", "title=x", 415, "invalid_request"},
			{"a complaint about another county", "POST", "/api/v1/complaints", school, "application/json", `{"title":"标题标题","body":"内容内容内容内容内容","about":"320104"}`, 400, "invalid_request"},
			{"an image that is a script", "POST", "/api/v1/submissions", school, "application/json", `{"title":"标题标题","body":"<p>x</p>","images":[{"name":"a.png","data":"PHNjcmlwdD4="}]}`, 400, "invalid_request"},
			{"an unknown decision", "POST", "/api/v1/submissions/" + sid + "/review", county, "application/json", `{"decision":"approve"}`, 400, "invalid_request"},
			{"replied before accepted", "POST", "/api/v1/complaints/" + pid + "/transition", county, "application/json", `{"to":"replied","comment":"答复"}`, 409, "invalid_transition"},
			{"another county's complaint", "GET", "/api/v1/complaints/" + pid, other, "", "", 404, "not_found"},
			{"an unknown id", "GET", "/api/v1/consultations/999999", school, "", "", 404, "not_found"},
			{"a bad id", "GET", "/api/v1/submissions/abc", school, "", "", 404, "not_found"},
			{"a bad state filter", "GET", "/api/v1/complaints?state=nope", county, "", "", 400, "invalid_request"},
			{"a bad date", "GET", "/api/v1/complaints?from=yesterday", county, "", "", 400, "invalid_request"},
			{"staff export", "GET", "/api/v1/complaints/export.csv", school, "", "", 403, "forbidden"},
			{"an empty search", "GET", "/api/v1/consultations/search?q=", school, "", "", 400, "invalid_request"},
		} {
			r := off.call(t, c.method, c.path, c.token, c.ctype, c.body)
			if r.Status != c.want {
				t.Errorf("%s: %s, want %d", c.name, r, c.want)
				continue
			}
			if c.code != "" {
				if got := errorOf(r); got != c.code {
					t.Errorf("%s: error %q, want %q", c.name, got, c.code)
				}
			}
			if c.name == "replied before accepted" && (!strings.Contains(r.Body, "accepted") || !strings.Contains(r.Body, "rejected") || r.Header.Get("X-Allowed-Transitions") != "accepted,rejected") {
				t.Errorf("the refusal does not name the allowed transitions: %s %v", r.Body, r.Header)
			}
			if c.name == "no token" && r.Header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		}
		var n int
		if err := sys.app.DB.QueryRowContext(context.Background(), `SELECT (SELECT COUNT(*) FROM office_complaints) + (SELECT COUNT(*) FROM office_submissions) + (SELECT COUNT(*) FROM office_consultations)`).Scan(&n); err != nil || n != 3 {
			t.Fatalf("%d items stored after the refusals, want 3 (%v)", n, err)
		}

		// The county handles all three.
		for _, step := range []struct{ path, body string }{
			{"/api/v1/consultations/" + cid + "/answer", `{"text":"平均每生每年 3700 元。","public":true}`},
			{"/api/v1/complaints/" + pid + "/transition", `{"to":"accepted"}`},
			{"/api/v1/complaints/" + pid + "/transition", `{"to":"in_progress"}`},
			{"/api/v1/complaints/" + pid + "/transition", `{"to":"replied","comment":"已拨付。"}`},
			{"/api/v1/submissions/" + sid + "/review", `{"decision":"publish","comment":"好"}`},
		} {
			if r := off.call(t, "POST", step.path, county, "application/json", step.body); r.Status != http.StatusOK {
				t.Fatalf("%s: %s", step.path, r)
			}
		}
		if r := off.post(t, "/api/v1/complaints/"+pid+"/transition", school, map[string]string{"to": "closed"}); r.Status != http.StatusOK {
			t.Fatalf("close: %s", r)
		}
		var cv struct {
			State     string
			Trail     []map[string]any
			Deadlines []map[string]any
		}
		if r := off.get(t, "/api/v1/complaints/"+pid, school); json.Unmarshal([]byte(r.Body), &cv) != nil || cv.State != "closed" || len(cv.Trail) != 5 || len(cv.Deadlines) != 3 {
			t.Fatalf("the complaint: %s", r)
		}
		if r := off.get(t, "/api/v1/consultations/search?q=国家助学金", school); r.Status != http.StatusOK || !strings.Contains(r.Body, "国家助学金的分档标准") {
			t.Fatalf("search: %s", r)
		}
		if r := off.get(t, "/api/v1/submissions/published", school); r.Status != http.StatusOK || !strings.Contains(r.Body, "资助育人纪实") {
			t.Fatalf("published: %s", r)
		}
		if r := off.get(t, "/api/v1/submissions/"+sid+"/images/1", county); r.Status != http.StatusOK || r.Header.Get("Content-Type") != "image/png" {
			t.Fatalf("image: %s", r)
		}
		if r := off.get(t, "/api/v1/complaints?box=subtree&state=closed", county); r.Status != http.StatusOK || !strings.Contains(r.Body, "助学金发放延迟") {
			t.Fatalf("list: %s", r)
		}
		if r := off.get(t, "/api/v1/complaints/export.csv", county); r.Status != http.StatusOK || !strings.Contains(r.Body, "助学金发放延迟") || !strings.Contains(r.Body, "已办结") {
			t.Fatalf("csv: %s", r)
		}
	})
}

// The complaint deadlines configured for xszz (office.complaint_*_within)
// are the ones a new complaint is given: each step is planned from the
// one before.
func TestConfiguredComplaintDeadlinesReachTheOffice(t *testing.T) {
	sys := startSystem(t, sqliteBackend, noAdminTOTP, func(c *Config) {
		c.Office.ComplaintAcceptWithin, c.Office.ComplaintStartWithin, c.Office.ComplaintReplyWithin = 5*time.Hour, 6*time.Hour, 7*time.Hour
	})
	off := sys.startOffice(t)
	w := sys.staffWorld(t)
	if _, err := off.svc.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	school := off.signIn(t, w.schoolStaff)
	r := off.post(t, "/api/v1/complaints", school, map[string]any{"title": "助学金发放延迟", "body": "上学期的助学金至今未到账。", "case": "个案 1"})
	var filed struct{ ID int64 }
	if r.Status != http.StatusCreated || json.Unmarshal([]byte(r.Body), &filed) != nil {
		t.Fatalf("file: %s", r)
	}
	var cv struct {
		CreatedAt time.Time `json:"created_at"`
		Deadlines []struct {
			Step string
			Due  time.Time
		}
	}
	if r := off.get(t, "/api/v1/complaints/"+itoa(filed.ID), school); json.Unmarshal([]byte(r.Body), &cv) != nil || len(cv.Deadlines) != 3 {
		t.Fatalf("the complaint: %s", r)
	}
	for i, want := range []time.Duration{5 * time.Hour, 11 * time.Hour, 18 * time.Hour} {
		if got := cv.Deadlines[i].Due.Sub(cv.CreatedAt); got != want {
			t.Errorf("%s due %s after filing, want %s", cv.Deadlines[i].Step, got, want)
		}
	}
}
