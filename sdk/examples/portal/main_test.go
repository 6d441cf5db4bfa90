package main

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/xszz/xszz/sdk/internal/fakeidp"
)

// TestPortal signs a user in through the fake IdP and sees their
// organisation, then logs out.
func TestPortal(t *testing.T) {
	idp := fakeidp.New(t)
	var h http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	defer srv.Close()
	idp.RegisterClient(fakeidp.Client{ID: "portal", Secret: "s", RedirectURI: srv.URL + "/callback"})
	var err error
	h, err = newPortal(context.Background(), config{issuer: idp.Issuer, clientID: "portal", secret: "s",
		redirect: srv.URL + "/callback", cookieKey: make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	body := func(resp *http.Response, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if b := body(c.Get(srv.URL + "/")); !strings.Contains(b, "/login?return_to=/") {
		t.Fatalf("signed-out page: %s", b)
	}
	b := body(c.Get(srv.URL + "/login?return_to=/"))
	for _, want := range []string{"张三", "江苏省学生资助管理中心", "province", "000000 › 320000", "cockpit"} {
		if !strings.Contains(b, want) {
			t.Fatalf("page lacks %q:\n%s", want, b)
		}
	}
	// Sign-out answers with a page that goes on to the IdP's end_session.
	if b := body(c.Post(srv.URL+"/logout", "", nil)); !strings.Contains(b, idp.Issuer+"/end_session?") {
		t.Fatalf("sign-out page does not continue to the IdP:\n%s", b)
	}
	if b := body(c.Get(srv.URL + "/")); !strings.Contains(b, "/login?return_to=/") {
		t.Fatalf("still signed in after logout: %s", b)
	}
}
