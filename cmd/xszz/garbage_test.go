package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestGarbageNeverFails500 sends malformed and hostile input to every
// endpoint: the answer is always a 4xx (or a 2xx/3xx where the input is
// merely odd), never a 500, a panic or a stack trace.
func TestGarbageNeverFails500(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		sys := sharedSystem(t, be)
		c := sys.newRP(t)
		long := strings.Repeat("a", 20000)
		invalidUTF8 := "\xff\xfe\xfd"
		authQ := "client_id=" + c.id + "&redirect_uri=" + url.QueryEscape(callbackURL) + "&response_type=code"
		queries := []string{
			authQ + "&state=%zz", "%zz", "a=%00", "=", "&&&", "client_id=" + long, "client_id=" + url.QueryEscape(invalidUTF8),
			"flow=" + long, "flow=a.b", "flow=" + strings.Repeat(".", 5000), "state=%0d%0aSet-Cookie:%20x=1",
			"client_id=" + c.id + "&redirect_uri=" + url.QueryEscape(callbackURL) + "&response_type=code&scope=" + strings.Repeat("openid+", 2000),
			"client_id=" + c.id + "&redirect_uri=" + url.QueryEscape(callbackURL) + "&response_type=code&max_age=-1&prompt=none",
			"client_id=" + c.id + "&redirect_uri=" + url.QueryEscape(callbackURL) + "&response_type=code&max_age=99999999999999999999&prompt=none",
			"client_id=" + c.id + "&redirect_uri=" + url.QueryEscape(callbackURL) + "&response_type=code&id_token_hint=" + strings.Repeat("x.", 4000),
			"client_id=" + c.id + "&redirect_uri=" + url.QueryEscape(callbackURL) + "&response_type=code&claims=%7B%22x%22",
			authQ + "&prompt=none",
			"id_token_hint=eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.&post_logout_redirect_uri=https://evil.example",
			"id_token_hint=" + long, "token=" + long, "grant_type=" + long,
		}
		bodies := []struct{ ct, body string }{
			{"application/x-www-form-urlencoded", "%zz=%zz"},
			{"application/x-www-form-urlencoded", "grant_type=authorization_code&code=" + long},
			{"application/x-www-form-urlencoded", "grant_type=refresh_token&refresh_token=" + url.QueryEscape(invalidUTF8)},
			{"application/x-www-form-urlencoded", "grant_type=client_credentials&scope=" + long},
			{"application/x-www-form-urlencoded", "grant_type=client_credentials&client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer&client_assertion=" + strings.Repeat(".", 5000)},
			{"application/x-www-form-urlencoded", "token=" + strings.Repeat(".", 5000) + "&token_type_hint=" + long},
			{"application/json", `{"phone": 13800138000, "code": ["1"], "flow": {}}`},
			{"application/json", `{"phone": null}`},
			{"application/json", `"just a string"`},
			{"application/json", strings.Repeat("[", 10000)},
			{"application/json", `{"phone":"` + invalidUTF8 + `"}`},
			{"multipart/form-data", "--x\r\n"},
			{"multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n" + long + "\r\n--x--\r\n"},
			{"text/plain", long},
			{"", ""},
		}
		headers := []map[string]string{
			nil,
			{"Authorization": "Basic !!!"},
			{"Authorization": "Basic " + b64("no-colon")},
			{"Authorization": "Basic " + b64(c.id+":"+invalidUTF8)},
			{"Authorization": "Bearer " + long},
			{"Authorization": "Bearer " + strings.Repeat(".", 5000)},
			{"Authorization": "DPoP x"},
			{"Cookie": "xszz_session=" + long},
			{"Cookie": "xszz_session=" + invalidUTF8},
			{"Origin": "null"},
			{"Accept": "application/json"},
		}
		paths := []string{
			"/oauth2/auth", "/oauth2/auth/resume", "/oauth2/token", "/oauth2/introspect", "/oauth2/revoke",
			"/userinfo", "/oauth2/logout", "/login", "/login/send", "/consent", "/",
			"/api/v1/sms/send", "/api/v1/login", "/api/v1/logout", "/api/v1/session",
			"/.well-known/openid-configuration", "/.well-known/jwks.json", "/healthz", "/readyz", "/no-such-page",
		}
		for _, path := range paths {
			t.Run(path, func(t *testing.T) {
				t.Parallel()
				b := sys.browser(t)
				check := func(method, target string, r reply) {
					t.Helper()
					if r.Status >= 500 {
						t.Errorf("%s %.120s: %s", method, target, r)
					}
					noLeak(t, r)
				}
				// Every query and body once, and every header with a few
				// of them: linear, not a cross product, to stay fast.
				for _, q := range queries {
					check("GET", path+"?"+q, b.do(http.MethodGet, path+"?"+q, nil, nil))
				}
				for _, body := range bodies {
					check("POST "+body.ct, path, b.do(http.MethodPost, path, strings.NewReader(body.body), map[string]string{"Content-Type": body.ct}))
				}
				for _, h := range headers {
					for _, q := range queries[:2] {
						check("GET", path+"?"+q, b.do(http.MethodGet, path+"?"+q, nil, h))
					}
					for _, body := range bodies[:2] {
						hh := map[string]string{"Content-Type": body.ct}
						for k, v := range h {
							hh[k] = v
						}
						check("POST "+body.ct, path, b.do(http.MethodPost, path, strings.NewReader(body.body), hh))
					}
				}
				for _, method := range []string{http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodOptions, http.MethodHead, "PROPFIND"} {
					r := b.do(method, path, strings.NewReader("x"), nil)
					check(method, path, r)
				}
			})
		}
	})
}
