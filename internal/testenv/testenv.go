// Package testenv gives tests the outside services they need — a
// PostgreSQL server, a Redis server, a Chromium browser — or skips them
// with one line that names the group and the variable that turns it on.
// Under CI (CI=true) a missing service fails the test instead: a green CI
// run must not hide a suite that never ran.
//
// The skip lines share one shape, "skipped: GROUP — HOW", which
// `make test` (internal/testreport) gathers into a summary at the end.
package testenv

import (
	"context"
	"os"
	"testing"

	"github.com/chromedp/chromedp"
)

// The variables that name the test servers.
const (
	EnvPostgres = "XSZZ_TEST_POSTGRES_URL"
	EnvRedis    = "XSZZ_TEST_REDIS_URL"
)

// ChromiumPath is where Debian's chromium package installs the browser.
const ChromiumPath = "/usr/bin/chromium"

// Groups name what a skip leaves untested, for the summary.
const (
	GroupPostgres = "PostgreSQL tests"
	GroupRedis    = "Redis tests"
	GroupBrowser  = "browser tests"
)

// InCI reports whether the tests run under CI.
func InCI() bool { return os.Getenv("CI") == "true" }

// Missing skips tb (or fails it under CI) because group cannot run; how
// says what would turn it on.
func Missing(tb testing.TB, group, how string) {
	tb.Helper()
	if InCI() {
		tb.Fatalf("%s cannot run under CI: %s", group, how)
	}
	tb.Skipf("skipped: %s — %s", group, how)
}

// Postgres returns the test server's URL, or skips.
func Postgres(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv(EnvPostgres)
	if u == "" {
		Missing(tb, GroupPostgres, "set "+EnvPostgres+" (e.g. postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable)")
	}
	return u
}

// Redis returns the test server's URL, or skips.
func Redis(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv(EnvRedis)
	if u == "" {
		Missing(tb, GroupRedis, "set "+EnvRedis+" (e.g. redis://127.0.0.1:6379/0)")
	}
	return u
}

// Browser starts headless Chromium with a fresh profile and the flags a
// closed network needs (a browser that phones home stalls), and returns a
// context for chromedp, or skips when Chromium is not installed.
func Browser(tb testing.TB) context.Context {
	tb.Helper()
	if _, err := os.Stat(ChromiumPath); err != nil {
		Missing(tb, GroupBrowser, ChromiumPath+" not found (apt-get install chromium fonts-noto-cjk)")
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(ChromiumPath),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(tb.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	ctx, cancel := chromedp.NewContext(alloc)
	tb.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	if _, err := chromedp.Run(ctx, chromedp.Navigate("about:blank")); err != nil {
		tb.Fatalf("start chromium: %v", err)
	}
	return ctx
}
