package cockpit

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/xszz/xszz/cockpit/gen"
	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/internal/sqldb/sqldbtest"
	"github.com/xszz/xszz/sdk"
)

// TestPagesScopeAndGate holds the pages and their CSV export to the same
// rules as the API: own region and below only, the grant and a cockpit
// level to enter, a sign-in for anyone without a session, and a page that
// says why (with a way out) for an account that may not enter.
func TestPagesScopeAndGate(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		if _, err := Generate(ctx, db, gen.Options{Records: 20000, Seed: 3, AsOf: time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)}); err != nil {
			t.Fatal(err)
		}
		s, err := New(Config{URL: "http://cockpit.test", Issuer: "http://idp.test", ClientID: "cockpit"}, Deps{DB: db})
		if err != nil {
			t.Fatal(err)
		}
		s.auth = tokens{
			"ministry": account(sdk.LevelMinistry, "000000", Grant),
			"province": account(sdk.LevelProvince, "510000", Grant),
			"county":   account(sdk.LevelCounty, "510104", Grant),
			"nogrant":  account(sdk.LevelProvince, "510000"),
			"school":   account(sdk.LevelSchool, "510104", Grant),
		}
		srv := httptest.NewServer(s.Handler())
		defer srv.Close()
		hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		get := func(session, path string) (int, http.Header, string) {
			t.Helper()
			req, _ := http.NewRequest("GET", srv.URL+path, nil)
			if session != "" {
				req.AddCookie(&http.Cookie{Name: "test-session", Value: session})
			}
			res, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			return res.StatusCode, res.Header, string(b)
		}

		cases := []struct {
			session, path string
			want          int
		}{
			{"county", "/overview", 200},
			{"county", "/overview?region=510104", 200},
			{"county", "/overview?region=510105", 403}, // the neighbouring county
			{"county", "/funds?region=510100", 403},    // the city above
			{"county", "/export/funds.csv?chart=source&region=510105", 403},
			{"county", "/export/funds.csv?chart=source", 200},
			{"province", "/needy?region=510100", 200},
			{"province", "/needy?region=520000", 403},
			{"province", "/warnings?region=510104&segment=higher", 200},
			{"province", "/aided?segment=nonsense", 400},
			{"province", "/aided?region=999999", 404},
			{"ministry", "/overview?region=510000", 200},
			{"ministry", "/export/overview.csv?chart=nonesuch", 404},
			{"nogrant", "/overview", 403},
			{"school", "/overview", 403},
			{"ministry", "/favicon.ico", 404},
			{"", "/static/echarts.common.min.js", 200},
		}
		for _, c := range cases {
			if code, _, body := get(c.session, c.path); code != c.want {
				t.Errorf("%s %s: %d, want %d\n%.300s", c.session, c.path, code, c.want, body)
			}
		}

		// Without a session a page sends the visitor to sign in and back.
		code, h, _ := get("", "/needy?region=510000")
		if code != http.StatusFound || h.Get("Location") != "/login?return_to=%2Fneedy%3Fregion%3D510000" {
			t.Errorf("no session: %d %q", code, h.Get("Location"))
		}
		if code, h, _ := get("", "/export/needy.csv?chart=level"); code != http.StatusFound || !strings.HasPrefix(h.Get("Location"), "/login?") {
			t.Errorf("CSV without a session: %d %q", code, h.Get("Location"))
		}

		// The refusal names the rule and the way out.
		_, _, body := get("nogrant", "/overview")
		for _, want := range []string{"尚未获得数字驾驶舱访问授权", "单位的管理员", `action="/logout"`} {
			if !strings.Contains(body, want) {
				t.Errorf("403 page lacks %q", want)
			}
		}
		if _, _, body := get("school", "/overview"); !strings.Contains(body, "四级资助管理单位") {
			t.Errorf("school's 403 page does not say which levels may enter")
		}

		// A province's overview: KPI cards, a chart card per chart with
		// its table, the ranking's rows drilling into its cities, CSV
		// links, the data for the charts, and only its own cities.
		_, _, body = get("province", "/overview")
		for _, want := range []string{`class="kpi"`, `id="chart-trend"`, `id="chart-ranking"`, `href="/overview?region=510100&amp;segment=all&amp;year=`,
			`/export/overview.csv?chart=ranking`, `id="dashboard-data"`, `成都市`} {
			if !strings.Contains(body, want) {
				t.Errorf("province overview lacks %q", want)
			}
		}
		if strings.Contains(body, "贵阳市") || strings.Contains(body, `"code":"520000"`) {
			t.Error("province overview shows a neighbouring province's city")
		}
		// A municipality drills from the province level straight to its
		// districts: no empty city level between.
		_, _, body = get("ministry", "/funds?region=110000")
		if !strings.Contains(body, `href="/funds?region=110101&amp;`) || strings.Contains(body, `region=110100&amp;`) {
			t.Error("北京's ranking does not drill straight to its districts")
		}
		// The county's warnings drill to their records; a neighbour's are absent.
		_, _, body = get("county", "/warnings")
		ids := regexp.MustCompile(`href="/warnings/(\d+)"`).FindAllStringSubmatch(body, -1)
		if len(ids) == 0 {
			t.Fatal("county warnings page lists no warning to drill into")
		}
		// An id is a name: shown as it is in links, never as 1,234,567.
		if !strings.Contains(body, ">"+ids[0][1]+"<") {
			t.Errorf("warning %s is not shown as its id in the list", ids[0][1])
		}
		if code, _, body := get("county", "/warnings/"+ids[0][1]); code != 200 || !strings.Contains(body, `id="records"`) || !strings.Contains(body, "<tbody><tr>") {
			t.Errorf("warning records page: %d %.300s", code, body)
		}
		var other int64
		if err := db.QueryRowContext(ctx, `SELECT MIN(id) FROM cockpit_warnings WHERE region_code <> '510104'`).Scan(&other); err != nil {
			t.Fatal(err)
		}
		if code, _, _ := get("county", "/warnings/"+itoa(other)); code != 404 {
			t.Errorf("a neighbour's warning page: %d, want 404", code)
		}
	})
}
