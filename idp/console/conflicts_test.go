package console_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/internal/sqldb/sqldbtest"
)

// fileConflicts queues n open phone conflicts resolved at unit, a few to
// a second, oldest first by their number; their ids are returned.
func (v *env) fileConflicts(prefix, unit string, n int) map[string]bool {
	v.t.Helper()
	ctx := context.Background()
	path, err := v.orgs.PathOf(ctx, unit)
	if err != nil {
		v.t.Fatal(err)
	}
	ids := map[string]bool{}
	for i := range n {
		id := fmt.Sprintf("%s%03d", prefix, i)
		if _, err := v.db.ExecContext(ctx, `INSERT INTO account_phone_conflicts (id, account_id, source, name, org_id, role, requested_by, resolve_org_id, resolve_path, created_at)
			VALUES ($1, $2, 'registration', $3, $4, 'staff', '', $4, $5, $6)`,
			id, v.id("staffSchool"), fmt.Sprintf("申请人%d", i), unit, path, 1_800_000_000+i/4); err != nil {
			v.t.Fatal(err)
		}
		ids[id] = true
	}
	return ids
}

var (
	conflictCard     = regexp.MustCompile(`<article class="conflict" id="conflict-([^"]+)">`)
	conflictNextLink = regexp.MustCompile(`<a id="next-page" rel="next" href="(/admin/conflicts\?cursor=[^"]+)">下一页</a>`)
)

// The queue pages, oldest first, 50 to a page with a 下一页 link that
// needs no script, until every conflict the admin may see was shown once.
func TestConflictQueuePages(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		v := newEnv(t, db)
		want := v.fileConflicts("js", "320102", 120)
		v.fileConflicts("zj", "330000", 5)
		adm := v.signIn("adminJS")
		seen := map[string]int{}
		path := "/admin/conflicts"
		for page := 1; path != ""; page++ {
			if page > 5 {
				t.Fatal("paging does not end")
			}
			rec := adm.get(path)
			body := rec.Body.String()
			if rec.Code != http.StatusOK {
				t.Fatalf("page %d: %d\n%s", page, rec.Code, body)
			}
			cards := conflictCard.FindAllStringSubmatch(body, -1)
			for _, m := range cards {
				seen[m[1]]++
			}
			for _, s := range []string{"共 120 项待处理", fmt.Sprintf("本页 %d 项", len(cards))} {
				if !strings.Contains(body, s) {
					t.Errorf("page %d lacks %q", page, s)
				}
			}
			if (page > 1) != strings.Contains(body, `<a href="/admin/conflicts">回到第一页</a>`) {
				t.Errorf("page %d: link back to the first page wrong", page)
			}
			path = ""
			if m := conflictNextLink.FindStringSubmatch(body); m != nil {
				path = strings.ReplaceAll(m[1], "&amp;", "&")
				if len(cards) != 50 || !strings.Contains(body, "还有更多") {
					t.Errorf("page %d has a next link after %d conflicts", page, len(cards))
				}
			}
		}
		if len(seen) != len(want) {
			t.Errorf("pages showed %d conflicts, want %d", len(seen), len(want))
		}
		for id, n := range seen {
			if !want[id] || n != 1 {
				t.Errorf("conflict %s shown %d times (Jiangsu's: %v)", id, n, want[id])
			}
		}
		if rec := adm.get("/admin/conflicts?cursor=forged"); rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "翻页链接无效") {
			t.Errorf("a forged cursor on the page: %d\n%s", rec.Code, rec.Body)
		}
	})
}

// The API pages the same way with next_cursor; a limit out of range or a
// cursor that is not one given to the caller for the queue is a 400 in
// the API's error format.
func TestConflictQueueAPIPages(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		v := newEnv(t, db)
		want := v.fileConflicts("js", "320102", 30)
		v.fileConflicts("zj", "330000", 5)
		js := v.issue("adminJS", true, "admin")
		nj := v.issue("adminNJ", true, "admin")
		zj := v.issue("adminZJ", true, "admin")

		list := func(token, query string) (map[string]any, int) {
			t.Helper()
			rec := v.call(token, http.MethodGet, "/api/v1/admin/phone-conflicts"+query, "")
			return decode(t, rec), rec.Code
		}
		seen := map[string]int{}
		query := "?limit=7"
		var first string
		for page := 1; query != ""; page++ {
			if page > 10 {
				t.Fatal("paging does not end")
			}
			m, code := list(js, query)
			if code != http.StatusOK {
				t.Fatalf("page %d: %d %v", page, code, m)
			}
			items, _ := m["items"].([]any)
			for _, it := range items {
				seen[it.(map[string]any)["id"].(string)]++
			}
			query = ""
			if cur, ok := m["next_cursor"].(string); ok {
				if len(items) != 7 {
					t.Errorf("page %d: next_cursor after %d items", page, len(items))
				}
				if first == "" {
					first = cur
				}
				query = "?limit=7&cursor=" + url.QueryEscape(cur)
			} else if len(items) != 30%7 {
				t.Errorf("last page has %d items, want %d", len(items), 30%7)
			}
		}
		if len(seen) != len(want) {
			t.Errorf("the API listed %d conflicts, want %d", len(seen), len(want))
		}
		for id, n := range seen {
			if !want[id] || n != 1 {
				t.Errorf("conflict %s listed %d times (Jiangsu's: %v)", id, n, want[id])
			}
		}
		if m, _ := list(js, ""); m["next_cursor"] != nil {
			t.Errorf("50 a page by default, yet 30 have a next page: %v", m["next_cursor"])
		}
		if m, code := list(js, "?limit=200"); code != http.StatusOK || len(m["items"].([]any)) != 30 {
			t.Errorf("the largest page: %d, %v", code, m)
		}

		altered := []byte(first)
		altered[len(altered)/2] ^= 0x01
		for _, c := range []struct {
			name, token, query string
		}{
			{"limit 0", js, "?limit=0"},
			{"limit over the top", js, "?limit=201"},
			{"limit not a number", js, "?limit=ten"},
			{"cursor not base64", js, "?cursor=%25%25%25"},
			{"cursor made up", js, "?cursor=eyJ0IjowLCJpIjoiIn0AAAAAAAAAAAAAAAAAAAAA"},
			{"cursor altered", js, "?cursor=" + url.QueryEscape(string(altered))},
			{"cursor overlong", js, "?cursor=" + strings.Repeat("A", 2000)},
			{"another admin's cursor", nj, "?cursor=" + url.QueryEscape(first)},
			{"another province's admin with the cursor", zj, "?cursor=" + url.QueryEscape(first)},
		} {
			m, code := list(c.token, c.query)
			if code != http.StatusBadRequest || m["error"] != "invalid_request" || m["error_description"] == "" {
				t.Errorf("%s: %d %v, want 400 invalid_request", c.name, code, m)
			}
		}
		if m, code := list(zj, ""); code != http.StatusOK || len(m["items"].([]any)) != 5 {
			t.Errorf("Zhejiang's own queue: %d %v", code, m)
		}
	})
}
