package cockpit

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/internal/sqldb/sqldbtest"
	"github.com/xszz/xszz/sdk"
)

// TestLinksToAResolvedWarning: a link to a warning stays good while its
// finding holds, through imports and refreshes; once it no longer holds
// the API answers 404 in its error format and the page says, in Chinese,
// that the warning was resolved and leads back to its region's
// warnings. Outside the viewer's region a resolved warning reads like an
// id never given out.
func TestLinksToAResolvedWarning(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		asOf := time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)
		files := []CSVFile{
			{Name: "schools.csv", Data: []byte("school_code,region_code,name\n4151010001,510104,锦江某大学\n4151010002,510105,青羊某大学\n")},
			{Name: "students.csv", Data: []byte("anon_id,region_code,school_code,stage\nS-1,510104,4151010001,bachelor\nS-2,510105,4151010002,bachelor\n")},
			{Name: "ident.csv", Data: []byte("anon_id,year,level,categories\nS-1,2025,1,\n")},
			{Name: "alloc.csv", Data: []byte("allocation_id,region_code,year,segment,programme,source,amount,allocated_on,due_on\n" +
				"900001,510104,2025,higher,he_grant,central,100000,2025-09-01,2025-11-30\n")},
			{Name: "disb.csv", Data: []byte("allocation_id,amount,paid_on\n900001,40000,2025-10-01\n")},
		}
		if _, err := Import(ctx, db, files, nil, asOf); err != nil {
			t.Fatal(err)
		}
		idOf := func(rule string) string {
			t.Helper()
			var id int64
			if err := db.QueryRowContext(ctx, `SELECT id FROM cockpit_warnings WHERE rule = $1`, rule).Scan(&id); err != nil {
				t.Fatalf("warning %s: %v", rule, err)
			}
			return itoa(id)
		}
		kept, gone := idOf("needy_not_aided"), idOf("disbursement")

		s, err := New(Config{URL: "http://cockpit.test", Issuer: "http://idp.test", ClientID: "cockpit"}, Deps{DB: db})
		if err != nil {
			t.Fatal(err)
		}
		s.auth = tokens{
			"county":    account(sdk.LevelCounty, "510104", Grant),
			"neighbour": account(sdk.LevelCounty, "510105", Grant),
		}
		srv := httptest.NewServer(s.Handler())
		defer srv.Close()
		get := func(who, path string) (int, string) {
			t.Helper()
			req, _ := http.NewRequest("GET", srv.URL+path, nil)
			req.Header.Set("Authorization", "Bearer "+who)
			req.AddCookie(&http.Cookie{Name: "test-session", Value: who})
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			return res.StatusCode, string(b)
		}
		if code, body := get("county", "/warnings/"+gone); code != 200 || !strings.Contains(body, `id="records"`) {
			t.Fatalf("the warning before it is resolved: %d %.300s", code, body)
		}

		// Paid in full on time; another student is found in need.
		more := []CSVFile{
			{Name: "disb.csv", Data: []byte("allocation_id,amount,paid_on\n900001,60000,2025-11-01\n")},
			{Name: "ident.csv", Data: []byte("anon_id,year,level,categories\nS-2,2025,3,\n")},
		}
		if _, err := Import(ctx, db, more, nil, asOf); err != nil {
			t.Fatal(err)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM cockpit_warnings WHERE id = `+kept+` AND region_code = '510104'`); n != 1 {
			t.Errorf("the warning that still holds lost its id %s", kept)
		}
		if code, body := get("county", "/warnings/"+kept); code != 200 || !strings.Contains(body, `id="records"`) {
			t.Errorf("the warning that still holds: %d %.300s", code, body)
		}

		cases := []struct {
			name, who, path string
			want            []string
			not             []string
		}{
			{"resolved, in scope", "county", "/warnings/" + gone,
				[]string{"预警 " + gone + " 已解除", "资金发放不足或延迟", "2026-01-15 的数据刷新中已不再成立", `href="/warnings?region=510104&amp;year=2025"`}, nil},
			{"resolved, a neighbour's", "neighbour", "/warnings/" + gone,
				[]string{"没有找到这条预警", `href="/warnings"`}, []string{"已解除", "资金发放"}},
			{"never given out", "county", "/warnings/12345",
				[]string{"没有找到这条预警", "编号为 12345 的预警不存在或已不再适用", `href="/warnings"`}, nil},
			{"not a number", "county", "/warnings/abc",
				[]string{"没有找到这条预警", `href="/warnings"`}, nil},
		}
		for _, c := range cases {
			code, body := get(c.who, c.path)
			if code != http.StatusNotFound {
				t.Errorf("%s: %d, want 404", c.name, code)
			}
			for _, w := range c.want {
				if !strings.Contains(body, w) {
					t.Errorf("%s: page lacks %q", c.name, w)
				}
			}
			for _, w := range c.not {
				if strings.Contains(body, w) {
					t.Errorf("%s: page says %q", c.name, w)
				}
			}
		}

		for _, c := range []struct {
			who, id, says string
		}{
			{"county", gone, "已解除"},
			{"neighbour", gone, "没有这个"},
			{"county", "12345", "没有这个"},
		} {
			code, body := get(c.who, "/api/v1/warnings/"+c.id+"/records")
			var e map[string]string
			if err := json.Unmarshal([]byte(body), &e); err != nil {
				t.Errorf("API, %s asks for %s: %v: %s", c.who, c.id, err, body)
				continue
			}
			if code != http.StatusNotFound || e["error"] != "not_found" || !strings.Contains(e["error_description"], c.says) {
				t.Errorf("API, %s asks for %s: %d %s, want 404 not_found saying %q", c.who, c.id, code, body, c.says)
			}
		}
	})
}
