package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/xszz/xszz/idp/account"
)

// contactsWorld is staffWorld with a common surname: 60 people named 王…
// in the school and the two counties, more than a page of the contacts.
func (s *system) contactsWorld(t *testing.T) (staffWorld, map[string]bool) {
	t.Helper()
	w := s.staffWorld(t)
	wang := map[string]bool{}
	for i, orgID := range func() []string {
		var out []string
		for i := range 60 {
			out = append(out, []string{"32010200001", "320102", "320104"}[i%3])
		}
		return out
	}() {
		p := s.newAccount(t, func(a *account.Account) { a.OrgID, a.Name = orgID, fmt.Sprintf("王%02d", i) })
		wang[p.ID] = true
	}
	return w, wang
}

// officeContacts is one answer of GET /api/v1/contacts.
type officeContacts struct {
	Items []struct {
		ID string `json:"id"`
	} `json:"items"`
	Next *string `json:"next_cursor"`
}

// A province admin searching a common surname reaches every match, a
// page at a time, over the API (next_cursor) and on the page (a 下一页
// link, no script). A limit out of range, or a cursor that is not the
// caller's for this very query, is a 400 in the API's error format.
func TestOfficeContactsPages(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		sys := startSystem(t, be, noAdminTOTP)
		off := sys.startOffice(t)
		w, wang := sys.contactsWorld(t)
		if _, err := off.svc.Sync(t.Context()); err != nil {
			t.Fatal(err)
		}
		prov, county := off.signIn(t, w.provAdmin), off.signIn(t, w.countyAdmin)

		walk := func(token, query string, limit int) (map[string]int, []string) {
			t.Helper()
			seen := map[string]int{}
			var cursors []string
			cur := ""
			for page := 1; ; page++ {
				if page > 100 {
					t.Fatal("paging does not end")
				}
				path := fmt.Sprintf("/api/v1/contacts?limit=%d&q=%s", limit, url.QueryEscape(query))
				if cur != "" {
					path += "&cursor=" + url.QueryEscape(cur)
				}
				r := off.get(t, path, token)
				var got officeContacts
				if r.Status != http.StatusOK || json.Unmarshal([]byte(r.Body), &got) != nil {
					t.Fatalf("page %d: %s", page, r)
				}
				for _, it := range got.Items {
					seen[it.ID]++
				}
				if got.Next == nil {
					return seen, cursors
				}
				if len(got.Items) != limit {
					t.Errorf("page %d: next_cursor after %d of %d", page, len(got.Items), limit)
				}
				cur = *got.Next
				cursors = append(cursors, cur)
			}
		}
		seen, cursors := walk(prov, "王", 7)
		if len(seen) != len(wang) {
			t.Errorf("the province's search reached %d of the %d 王", len(seen), len(wang))
		}
		for id, n := range seen {
			if !wang[id] || n != 1 {
				t.Errorf("%s listed %d times (a 王: %v)", id, n, wang[id])
			}
		}
		// The county sees its own 王 only (two thirds), by cursor too.
		if seen, _ := walk(county, "王", 200); len(seen) != 40 {
			t.Errorf("the county's search: %d, want 40", len(seen))
		}

		first := cursors[0]
		altered := []byte(first)
		altered[len(altered)/2] ^= 0x01
		for _, c := range []struct{ name, token, query string }{
			{"limit 0", prov, "q=王&limit=0"},
			{"limit over the top", prov, "q=王&limit=201"},
			{"limit not a number", prov, "q=王&limit=many"},
			{"cursor not base64", prov, "q=王&cursor=%25%25"},
			{"cursor altered", prov, "q=王&cursor=" + url.QueryEscape(string(altered))},
			{"cursor made up", prov, "q=王&cursor=eyJrIjoiLyIsImkiOiIifQAAAAAAAAAAAAAAAAAAAAA"},
			{"cursor overlong", prov, "q=王&cursor=" + strings.Repeat("A", 5000)},
			{"cursor of another query", prov, "q=王0&cursor=" + url.QueryEscape(first)},
			{"cursor of the list", prov, "cursor=" + url.QueryEscape(first)},
			{"cursor of another unit's filter", prov, "q=王&org=320102&cursor=" + url.QueryEscape(first)},
			{"another person's cursor", county, "q=王&cursor=" + url.QueryEscape(first)},
		} {
			r := off.get(t, "/api/v1/contacts?"+c.query, c.token)
			if r.Status != http.StatusBadRequest {
				t.Errorf("%s: %s, want 400", c.name, r)
				continue
			}
			if code := errorCode(t, r); code != "invalid_request" {
				t.Errorf("%s: error %q", c.name, code)
			}
		}

		// The page, as a browser without scripts sees it: 50 a page.
		b := sys.browser(t)
		r := b.get(off.url + "/login")
		back := b.authorize(r.Header.Get("Location"), w.provAdmin)
		if loc := back.location(); loc == nil || b.get(loc.String()).Status >= 400 {
			t.Fatalf("sign in to the office: %s", back)
		}
		rows := map[string]bool{}
		path := "/contacts?q=" + url.QueryEscape("王")
		for page := 1; path != ""; page++ {
			if page > 5 {
				t.Fatal("the pages do not end")
			}
			r := b.get(off.url + path)
			if r.Status != http.StatusOK {
				t.Fatalf("page %d: %s", page, r)
			}
			n := strings.Count(r.Body, `<td data-label="姓名">王`)
			for _, m := range contactName.FindAllStringSubmatch(r.Body, -1) {
				if rows[m[1]] {
					t.Errorf("%s on two pages", m[1])
				}
				rows[m[1]] = true
			}
			if !strings.Contains(r.Body, fmt.Sprintf("本页 %d 人", n)) {
				t.Errorf("page %d does not say it holds %d", page, n)
			}
			path = ""
			if m := contactsNext.FindStringSubmatch(r.Body); m != nil {
				path = strings.ReplaceAll(m[1], "&amp;", "&")
				if n != 50 || !strings.Contains(r.Body, "还有更多") || !strings.Contains(path, "q=") {
					t.Errorf("page %d: a next link after %d people, or without the query: %s", page, n, path)
				}
			} else if page == 1 || !strings.Contains(r.Body, "已是最后一页") {
				t.Errorf("page %d ends the search without saying so", page)
			}
		}
		if len(rows) != len(wang) {
			t.Errorf("the pages showed %d of the %d 王", len(rows), len(wang))
		}
		if r := b.get(off.url + "/contacts?q=王&cursor=" + url.QueryEscape(first)); r.Status != http.StatusOK {
			t.Errorf("the API's cursor on the page of the same query: %s", r)
		}
		if r := b.get(off.url + "/contacts?cursor=" + url.QueryEscape(string(altered))); r.Status != http.StatusBadRequest || !strings.Contains(r.Body, "翻页位置无效") {
			t.Errorf("an altered cursor on the page: %s", r)
		}
	})
}

var (
	contactName  = regexp.MustCompile(`<td data-label="姓名">(王\d\d)</td>`)
	contactsNext = regexp.MustCompile(`<a class="btn secondary" id="next-page" rel="next" href="(/contacts\?[^"]+)">下一页</a>`)
)
