package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// serveConfig is the embedded set-up in a temporary folder, every
// listener on a free loopback port.
func serveConfig(t *testing.T) *Config {
	t.Helper()
	cfg, err := loadConfig("")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg.Database.URL = "sqlite://" + filepath.Join(dir, "xszz.db")
	cfg.SMS.Outbox = filepath.Join(dir, "outbox.jsonl")
	cfg.Audit.ArchiveDir = filepath.Join(dir, "audit")
	cfg.Office.Files = filepath.Join(dir, "files")
	cfg.IdP.Listen, cfg.Office.Listen, cfg.Cockpit.Listen, cfg.Ops.Listen = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	return cfg
}

func get(t *testing.T, ln net.Listener, path string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	r, err := c.Get("http://" + ln.Addr().String() + path)
	if err != nil {
		t.Fatalf("GET %s%s: %v", ln.Addr(), path, err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	return r.StatusCode, string(b)
}

func TestServeAnswersOnFourListenersAndDrainsOnStop(t *testing.T) {
	cfg := serveConfig(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	a, err := assemble(ctx, cfg, log, parts, buildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ls, err := a.listen(parts)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.serve(ctx, ls) }()

	// The IdP's readiness shows the set-up is done (prepare runs first).
	deadline := time.Now().Add(10 * time.Second)
	for {
		if code, _ := get(t, ls.idp, "/readyz"); code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the IdP never became ready")
		}
		time.Sleep(20 * time.Millisecond)
	}
	for name, ln := range map[string]net.Listener{"idp": ls.idp, "office": ls.office, "cockpit": ls.cockpit, "ops": ls.ops} {
		if code, body := get(t, ln, "/healthz"); code != http.StatusOK || body != "ok" {
			t.Errorf("%s /healthz: %d %q", name, code, body)
		}
	}
	if code, body := get(t, ls.ops, "/metrics"); code != http.StatusOK || !strings.Contains(body, "xszz_") {
		t.Errorf("ops /metrics: %d, %d bytes", code, len(body))
	}
	if code, _ := get(t, ls.idp, "/metrics"); code != http.StatusNotFound {
		t.Errorf("the IdP listener serves /metrics: %d", code)
	}
	for id, url := range map[string]string{officeClientID: cfg.Office.URL, cockpitClientID: cfg.Cockpit.URL} {
		cl, err := a.Clients.Get(ctx, id)
		if err != nil {
			t.Fatalf("built-in client %s: %v", id, err)
		}
		if len(cl.RedirectURIs) != 1 || cl.RedirectURIs[0] != url+"/callback" || cl.BackchannelLogoutURI != url+"/backchannel-logout" {
			t.Errorf("client %s registered with %v, %q", id, cl.RedirectURIs, cl.BackchannelLogoutURI)
		}
		if err := a.Clients.Hasher().Compare(ctx, cl.SecretHash, []byte(a.builtinSecret(id))); err != nil {
			t.Errorf("client %s: the derived secret does not match: %v", id, err)
		}
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v after a clean stop", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not drain")
	}
}

func TestAListenerThatCannotOpenIsNamedByItsKey(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cfg := serveConfig(t)
	cfg.Cockpit.Listen = busy.Addr().String()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	a, err := assemble(context.Background(), cfg, log, parts, buildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	_, err = a.listen(parts)
	if err == nil || !strings.HasPrefix(err.Error(), "config cockpit.listen:") {
		t.Fatalf("listen on a busy port: %v, want an error naming cockpit.listen", err)
	}
}

func TestARelyingPartyAloneNeedsItsClientAndMigratesOnlyItsSchema(t *testing.T) {
	cfg := serveConfig(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	_, err := assemble(context.Background(), cfg, log, []string{"office"}, buildOptions{})
	if err == nil || !strings.Contains(err.Error(), "office.client_id") {
		t.Fatalf("office alone without credentials: %v", err)
	}

	cfg.Office.ClientID, cfg.Office.ClientSecret = "office-1", "s3cret"
	a, err := assemble(context.Background(), cfg, log, []string{"office"}, buildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	var n int
	if err := a.DB.QueryRow(`SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name IN ('accounts', 'idp_schema_migrations')`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("the office alone created %d IdP tables", n)
	}
	if err := a.DB.QueryRow(`SELECT COUNT(*) FROM office_schema_migrations`).Scan(&n); err != nil {
		t.Fatalf("the office's own record: %v", err)
	}
}
