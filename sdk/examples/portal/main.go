// Command portal is the xszz staff work portal (学生资助工作门户) in
// miniature: a complete server-side relying party that signs a user in at
// the xszz IdP and shows their organisation.
//
// Flags (or the environment variables in brackets):
//
//	-issuer         IdP issuer URL                 [XSZZ_ISSUER]          default http://localhost:8080
//	-client-id      registered client ID           [XSZZ_CLIENT_ID]       default portal
//	-client-secret  client secret                  [XSZZ_CLIENT_SECRET]
//	-redirect-url   registered redirect URI        [XSZZ_REDIRECT_URL]    default http://localhost:8090/callback
//	-listen         listen address                 [XSZZ_LISTEN]          default localhost:8090
//	-cookie-key     64 hex digits (AES-256 key)    [XSZZ_COOKIE_KEY]      default: random per start
//
// Register the client at the IdP with redirect URI {base}/callback,
// post-logout redirect URI {base}/ and back-channel logout URI
// {base}/backchannel-logout.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"html/template"
	"log"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/xszz/xszz/sdk"
	"github.com/xszz/xszz/sdk/web"
)

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

var page = template.Must(template.New("home").Parse(`<!doctype html>
<html lang="zh-CN"><meta charset="utf-8"><title>学生资助工作门户</title>
<h1>学生资助工作门户</h1>
{{if .}}
<p>{{.Claims.Name}}（{{.Claims.Subject}}）</p>
{{with .Claims.Org}}<table>
<tr><th>单位</th><td>{{.Name}} ({{.ID}})</td></tr>
<tr><th>层级</th><td>{{.Level}} / {{.Kind}}</td></tr>
<tr><th>区划代码</th><td>{{.RegionCode}}</td></tr>
<tr><th>上级路径</th><td>{{range .Path}}{{.}} › {{end}}</td></tr>
</table>{{else}}<p>（未授予 org 范围）</p>{{end}}
<p>角色：{{range .Claims.Roles}}{{.}} {{end}} 授权：{{range .Claims.Grants}}{{.}} {{end}}</p>
<form method="post" action="/logout"><button>退出</button></form>
{{else}}
<p><a href="/login?return_to=/">统一身份认证登录</a></p>
{{end}}
</html>`))

// config is the portal's configuration.
type config struct {
	issuer, clientID, secret, redirect, listen string
	cookieKey                                  []byte
}

func main() {
	var c config
	flag.StringVar(&c.issuer, "issuer", env("XSZZ_ISSUER", "http://127.0.0.1:8080"), "IdP issuer URL")
	flag.StringVar(&c.clientID, "client-id", env("XSZZ_CLIENT_ID", "portal"), "client ID")
	flag.StringVar(&c.secret, "client-secret", env("XSZZ_CLIENT_SECRET", ""), "client secret")
	flag.StringVar(&c.redirect, "redirect-url", env("XSZZ_REDIRECT_URL", "http://127.0.0.1:8090/callback"), "redirect URI")
	flag.StringVar(&c.listen, "listen", env("XSZZ_LISTEN", "127.0.0.1:8090"), "listen address")
	cookieKey := flag.String("cookie-key", env("XSZZ_COOKIE_KEY", ""), "64 hex digits; random if empty")
	flag.Parse()

	var err error
	c.cookieKey, err = hex.DecodeString(*cookieKey)
	if *cookieKey == "" {
		c.cookieKey = make([]byte, 32)
		rand.Read(c.cookieKey)
		log.Print("portal: no -cookie-key: using a random key, sessions end at restart")
	} else if err != nil || len(c.cookieKey) != 32 {
		log.Fatal("portal: -cookie-key must be 64 hex digits")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	h, err := newPortal(ctx, c)
	cancel()
	if err != nil {
		log.Fatalf("portal: %v", err)
	}
	log.Printf("portal: listening on %s (issuer %s)", c.listen, c.issuer)
	srv := &http.Server{Addr: c.listen, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}

// newPortal discovers the IdP and returns the portal's routes.
func newPortal(ctx context.Context, c config) (http.Handler, error) {
	p, err := sdk.NewProvider(ctx, c.issuer)
	if err != nil {
		return nil, fmt.Errorf("discovery: %w", err)
	}
	ru, err := url.Parse(c.redirect)
	if err != nil || ru.Path == "" || ru.Path == "/" {
		return nil, fmt.Errorf("-redirect-url must be an absolute URL with a path")
	}
	base := strings.TrimSuffix(c.redirect, ru.Path)
	auth, err := web.New(p, &web.Config{
		ClientID: c.clientID, ClientSecret: c.secret, RedirectURL: c.redirect,
		CookieKey: c.cookieKey, PostLogoutRedirectURL: base + "/",
	})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", auth.Login)
	mux.HandleFunc("GET "+ru.Path, auth.Callback)
	mux.HandleFunc("POST /logout", auth.Logout)
	mux.HandleFunc("POST /backchannel-logout", auth.BackChannelLogout)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		s, err := auth.Session(r) // nil when signed out
		if err != nil && !errors.Is(err, web.ErrNoSession) {
			http.Error(w, "sign-in service unavailable", http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		// A strict policy on purpose: web.Logout's sign-out works under
		// form-action 'self' (see the sdk/web package documentation).
		w.Header().Set("Content-Security-Policy", "default-src 'none'; form-action 'self'; frame-ancestors 'none'")
		page.Execute(w, s)
	})
	return mux, nil
}
