package cockpit

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xszz/xszz/cockpit/gen"
	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/internal/sqldb/sqldbtest"
	"github.com/xszz/xszz/sdk"
)

// tokens stands in for the SDK guard at the seam: the guard's own 401 rules
// are tested in sdk/guard; here the claims it would hand over decide.
type tokens map[string]*sdk.Claims

var errNoToken = errors.New("no token")

func (t tokens) Authenticate(r *http.Request) (*sdk.Claims, error) {
	c, ok := t[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
	if !ok {
		return nil, errNoToken
	}
	return c, nil
}

func (t tokens) WriteError(w http.ResponseWriter, err error) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="cockpit", error="invalid_token"`)
	w.WriteHeader(http.StatusUnauthorized)
}

// Page reads the token from a cookie, as if the SDK's session held it.
func (t tokens) Page(r *http.Request) (*sdk.Claims, error) {
	ck, err := r.Cookie("test-session")
	if err != nil {
		return nil, errSignedOut
	}
	c, ok := t[ck.Value]
	if !ok {
		return nil, errSignedOut
	}
	return c, nil
}

func (t tokens) SignIn(context.Context) (signInHandlers, error) {
	return nil, errors.New("no identity provider in this test")
}

func account(level sdk.Level, code string, grants ...string) *sdk.Claims {
	return &sdk.Claims{Subject: code, Org: &sdk.Org{ID: code, Level: level, RegionCode: code, Kind: "regular"}, Grants: grants}
}

func TestAPIScopeMatrixAndGrantGate(t *testing.T) {
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
			"city":     account(sdk.LevelCity, "510100", Grant),
			"county":   account(sdk.LevelCounty, "510104", Grant),
			"nogrant":  account(sdk.LevelProvince, "510000"),
			"school":   account(sdk.LevelSchool, "510104", Grant),
		}
		srv := httptest.NewServer(s.Handler())
		defer srv.Close()
		get := func(token, path string) (int, string) {
			req, _ := http.NewRequest("GET", srv.URL+path, nil)
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			return res.StatusCode, string(b)
		}
		matrix := []struct {
			token                       string
			own, parent, sibling, child string
		}{
			{"ministry", "000000", "", "", "510000"},
			{"province", "510000", "000000", "520000", "510100"},
			{"city", "510100", "510000", "510300", "510104"},
			{"county", "510104", "510100", "510105", ""},
		}
		for _, m := range matrix {
			for _, target := range []struct {
				code string
				want int
			}{{m.own, 200}, {m.parent, 403}, {m.sibling, 403}, {m.child, 200}} {
				if target.code == "" {
					continue
				}
				for _, name := range []string{"overview", "needy", "aided", "funds", "warnings"} {
					code, body := get(m.token, "/api/v1/dashboards/"+name+"?region="+target.code)
					if code != target.want {
						t.Errorf("%s %s/%s: %d, want %d: %s", m.token, name, target.code, code, target.want, body)
					}
					csvCode, csvBody := get(m.token, "/api/v1/dashboards/"+name+"?format=csv&chart="+csvChart[name]+"&region="+target.code)
					if csvCode != target.want {
						t.Errorf("%s %s/%s CSV: %d, want %d", m.token, name, target.code, csvCode, target.want)
					}
					if target.want == 200 && strings.Count(csvBody, "\n") < 2 {
						t.Errorf("%s %s/%s CSV has no rows: %q", m.token, name, target.code, csvBody)
					}
					if target.want == 200 && name == "overview" {
						var d struct {
							Region struct{ Code string }
							KPIs   []struct{ Value float64 }
						}
						if err := json.Unmarshal([]byte(body), &d); err != nil || d.Region.Code != target.code || d.KPIs[0].Value == 0 {
							t.Errorf("%s overview %s: %v %+v", m.token, target.code, err, d)
						}
					}
				}
			}
		}
		for _, c := range []struct {
			token string
			want  int
		}{{"", 401}, {"forged", 401}, {"nogrant", 403}, {"school", 403}} {
			code, _ := get(c.token, "/api/v1/dashboards/overview")
			if code != c.want {
				t.Errorf("%q: %d, want %d", c.token, code, c.want)
			}
		}
		// Warning records: own region's visible, a neighbour's absent.
		var own, other int64
		db.QueryRowContext(ctx, `SELECT MIN(id) FROM cockpit_warnings WHERE city_code = '510100'`).Scan(&own)
		db.QueryRowContext(ctx, `SELECT MIN(id) FROM cockpit_warnings WHERE province_code = '520000'`).Scan(&other)
		if own == 0 || other == 0 {
			t.Fatalf("fixture lacks warnings: %d %d", own, other)
		}
		if code, body := get("city", "/api/v1/warnings/"+itoa(own)+"/records"); code != 200 || !strings.Contains(body, `"records"`) {
			t.Errorf("own warning: %d %s", code, body)
		}
		if code, _ := get("city", "/api/v1/warnings/"+itoa(other)+"/records"); code != 404 {
			t.Errorf("other province's warning: %d, want 404", code)
		}
		if code, _ := get("ministry", "/api/v1/dashboards/overview?segment=nonsense"); code != 400 {
			t.Errorf("bad segment: %d", code)
		}
	})
}

// csvChart is a chart of each dashboard that has rows at every level.
var csvChart = map[string]string{"overview": "stage", "needy": "stage", "aided": "programme", "funds": "source", "warnings": "rules"}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
