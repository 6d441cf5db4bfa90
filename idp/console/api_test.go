package console_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/xszz/xszz/idp/account"
	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/internal/sqldb/sqldbtest"
)

// call sends an admin API request with a bearer token (none when empty)
// and a JSON body (none when empty).
func (v *env) call(token, method, path, body string) *httptest.ResponseRecorder {
	var req *http.Request
	if body != "" {
		req = httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
	} else {
		req = httptest.NewRequest(method, path, nil)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return v.serve(req)
}

// issue registers a token for an account with scopes.
func (v *env) issue(key string, trusted bool, scopes ...string) string {
	tok := "tok-" + key + "-" + strings.Join(scopes, "+")
	if !trusted {
		tok += "-untrusted"
	}
	v.tokens[tok] = issued{sub: v.id(key), scopes: scopes, trusted: trusted}
	return tok
}

// The API admits only admin-scoped tokens of active admins at trusted
// clients, and says why in RFC 6750 terms.
func TestAPIAuthorisation(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		v := newEnv(t, db)
		disabled := v.issue("adminNJ", true, "openid", "admin")
		v.tokens["tok-client"] = issued{sub: "admin-app", scopes: []string{"admin"}, trusted: true}
		cases := []struct {
			name, token string
			want        int
			code        string
			header      string // part of WWW-Authenticate
		}{
			{"no token", "", http.StatusUnauthorized, "invalid_token", `Bearer realm="xszz"`},
			{"unknown token", "forged", http.StatusUnauthorized, "invalid_token", `error="invalid_token"`},
			{"no admin scope", v.issue("adminJS", true, "openid", "org"), http.StatusForbidden, "insufficient_scope", `error="insufficient_scope"`},
			{"staff with the scope", v.issue("staffJS", true, "openid", "admin"), http.StatusForbidden, "insufficient_scope", `error="insufficient_scope"`},
			{"untrusted client", v.issue("adminJS", false, "openid", "admin"), http.StatusForbidden, "insufficient_scope", ""},
			{"client credentials", "tok-client", http.StatusUnauthorized, "invalid_token", `error="invalid_token"`},
			{"disabled admin", disabled, http.StatusUnauthorized, "invalid_token", `error="invalid_token"`},
			{"admin", v.issue("adminJS", true, "openid", "admin"), http.StatusOK, "", ""},
		}
		v.signIn("adminJS") // the database knows the admins
		if _, err := v.accounts.Update(t.Context(), v.id("adminNJ"), func(a *account.Account) error {
			a.Status = account.StatusDisabled
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		for _, c := range cases {
			rec := v.call(c.token, http.MethodGet, "/api/v1/admin/orgs/320000", "")
			if rec.Code != c.want {
				t.Errorf("%s: %d, want %d\n%s", c.name, rec.Code, c.want, rec.Body)
				continue
			}
			if c.code != "" {
				if got := decode(t, rec)["error"]; got != c.code {
					t.Errorf("%s: error %v, want %s", c.name, got, c.code)
				}
			}
			if c.header != "" && !strings.Contains(rec.Header().Get("WWW-Authenticate"), c.header) {
				t.Errorf("%s: WWW-Authenticate %q lacks %s", c.name, rec.Header().Get("WWW-Authenticate"), c.header)
			}
		}
	})
}

// Each operation, from a Jiangsu admin's token, on Jiangsu's accounts; the
// same calls from Zhejiang's admin are 404s.
func TestAPIOperations(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		v := newEnv(t, db)
		js := v.issue("adminJS", true, "admin")
		zj := v.issue("adminZJ", true, "admin")
		acc := func(key string) string { return "/api/v1/admin/accounts/" + v.id(key) }
		cases := []struct {
			name, method, path, body string
			want                     int
			contains                 string
		}{
			{"org", "GET", "/api/v1/admin/orgs/320100", "", 200, `"path":["000000","320000","320100"]`},
			{"org counts its subtree", "GET", "/api/v1/admin/orgs/320100", "", 200, `"units":4`},
			{"children", "GET", "/api/v1/admin/orgs/320000/children", "", 200, `"id":"320200"`},
			{"search by name", "GET", "/api/v1/admin/accounts?q=" + "%E4%B8%AD%E5%AD%A6%E8%80%81%E5%B8%88", "", 200, v.id("staffSchool")},
			{"search pending", "GET", "/api/v1/admin/accounts?status=pending&under=320100", "", 200, v.id("pendingXW")},
			{"search pages", "GET", "/api/v1/admin/accounts?limit=2", "", 200, `"next_after"`},
			{"get", "GET", acc("staffNJ"), "", 200, `"org_name":"南京市学生资助管理中心"`},
			{"approve", "POST", acc("pendingXW") + "/approve", "", 200, `"status":"active"`},
			{"disable", "POST", acc("staffNJ") + "/disable", "", 200, `"status":"disabled"`},
			{"enable", "POST", acc("staffNJ") + "/enable", "", 200, `"status":"active"`},
			{"role", "PUT", acc("staffXW") + "/role", `{"role":"admin"}`, 200, `"role":"admin"`},
			{"move", "PUT", acc("staffWX") + "/org", `{"org_id":"320100"}`, 200, `"org_id":"320100"`},
			{"grant", "PUT", acc("staffNJ") + "/grants/cockpit", "", 200, `"grants":["cockpit"]`},
			{"revoke", "DELETE", acc("staffNJ") + "/grants/cockpit", "", 200, `"grants":[]`},
			{"audit trail", "GET", acc("staffNJ") + "/audit", "", 200, `"type":"grant.revoked"`},
			{"provision", "POST", "/api/v1/admin/accounts", `{"phone":"13900000003","name":"接口开通","org_id":"320102","role":"staff"}`, 201, `"name":"接口开通"`},
			{"reject", "POST", acc("staffJS") + "/reject", "", 400, "不在待审核状态"},
		}
		for _, c := range cases {
			rec := v.call(js, c.method, c.path, c.body)
			if rec.Code != c.want || !strings.Contains(rec.Body.String(), c.contains) {
				t.Errorf("%s: %d, want %d with %s\n%.400s", c.name, rec.Code, c.want, c.contains, rec.Body)
			}
		}
		if v.account("staffWX").OrgID != "320100" || v.account("staffXW").Role != account.RoleAdmin || v.hasGrant("staffNJ") {
			t.Errorf("operations did not land in the database")
		}

		across := []struct{ name, method, path, body string }{
			{"org", "GET", "/api/v1/admin/orgs/320000", ""},
			{"children", "GET", "/api/v1/admin/orgs/320100/children", ""},
			{"get", "GET", acc("staffJS"), ""},
			{"disable", "POST", acc("staffJS") + "/disable", ""},
			{"role", "PUT", acc("staffJS") + "/role", `{"role":"admin"}`},
			{"grant", "PUT", acc("staffJS") + "/grants/cockpit", ""},
			{"revoke", "DELETE", acc("staffJS") + "/grants/cockpit", ""},
			{"audit", "GET", acc("staffJS") + "/audit", ""},
		}
		for _, c := range across {
			if rec := v.call(zj, c.method, c.path, c.body); rec.Code != http.StatusNotFound {
				t.Errorf("Zhejiang admin, %s on Jiangsu: %d, want 404\n%s", c.name, rec.Code, rec.Body)
			}
		}
		for _, c := range []struct{ name, method, path, body string }{
			{"search under Jiangsu", "GET", "/api/v1/admin/accounts?under=320000", ""},
			{"move into Jiangsu", "PUT", "/api/v1/admin/accounts/" + v.id("staffZJ") + "/org", `{"org_id":"320000"}`},
			{"provision in Jiangsu", "POST", "/api/v1/admin/accounts", `{"phone":"13900000004","name":"越界开通","org_id":"320000"}`},
		} {
			if rec := v.call(zj, c.method, c.path, c.body); rec.Code != http.StatusForbidden {
				t.Errorf("Zhejiang admin, %s: %d, want 403\n%s", c.name, rec.Code, rec.Body)
			}
		}
		if v.account("staffJS").Status != account.StatusActive {
			t.Errorf("Zhejiang's refused call changed a Jiangsu account")
		}
	})
}

// Bad input is a 4xx with a JSON error, never a 500.
func TestAPIBadInput(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		v := newEnv(t, db)
		js := v.issue("adminJS", true, "admin")
		acc := "/api/v1/admin/accounts/" + v.id("staffNJ")
		cases := []struct {
			name, method, path, body, contentType string
			want                                  int
		}{
			{"bad status", "GET", "/api/v1/admin/accounts?status=gone", "", "", 400},
			{"bad limit", "GET", "/api/v1/admin/accounts?limit=-1", "", "", 400},
			{"huge limit", "GET", "/api/v1/admin/accounts?limit=100000", "", "", 400},
			{"overlong query", "GET", "/api/v1/admin/accounts?q=" + strings.Repeat("x", 101), "", "", 400},
			{"bad audit cursor", "GET", acc + "/audit?before=abc", "", "", 400},
			{"unknown account", "GET", "/api/v1/admin/accounts/nobody", "", "", 404},
			{"unknown unit", "GET", "/api/v1/admin/orgs/999999", "", "", 404},
			{"unknown action", "POST", acc + "/explode", "", "", 404},
			{"unknown app", "PUT", acc + "/grants/office", "", "", 400},
			{"revoke unknown app", "DELETE", acc + "/grants/office", "", "", 400},
			{"cockpit for a school", "PUT", "/api/v1/admin/accounts/" + v.id("staffSchool") + "/grants/cockpit", "", "", 400},
			{"bad role", "PUT", acc + "/role", `{"role":"root"}`, "application/json", 400},
			{"not JSON", "PUT", acc + "/role", `role=admin`, "application/json", 400},
			{"form body", "PUT", acc + "/role", `role=admin`, "application/x-www-form-urlencoded", 415},
			{"empty org", "PUT", acc + "/org", `{}`, "application/json", 400},
			{"bad phone", "POST", "/api/v1/admin/accounts", `{"phone":"12345","name":"某某","org_id":"320100"}`, "application/json", 400},
			{"bad name", "POST", "/api/v1/admin/accounts", `{"phone":"13900000005","name":"<script>","org_id":"320100"}`, "application/json", 400},
			{"taken phone", "POST", "/api/v1/admin/accounts", `{"phone":"13800001004","name":"重复号码","org_id":"320100"}`, "application/json", 409},
			{"too large", "POST", "/api/v1/admin/accounts", `{"name":"` + strings.Repeat("x", 10000) + `"}`, "application/json", 413},
			{"self", "POST", "/api/v1/admin/accounts/" + v.id("adminJS") + "/disable", "", "", 403},
		}
		for _, c := range cases {
			req := httptest.NewRequest(c.method, c.path, strings.NewReader(c.body))
			if c.contentType != "" {
				req.Header.Set("Content-Type", c.contentType)
			}
			req.Header.Set("Authorization", "Bearer "+js)
			rec := v.serve(req)
			if rec.Code != c.want {
				t.Errorf("%s: %d, want %d\n%s", c.name, rec.Code, c.want, rec.Body)
				continue
			}
			m := decode(t, rec)
			if m["error"] == "" || m["error_description"] == "" {
				t.Errorf("%s: error body %v", c.name, m)
			}
		}
	})
}
