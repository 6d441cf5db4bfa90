package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// The browser tests take their screenshots on every run (a page that
// cannot be captured fails the test) but write them into docs/screenshots
// only when asked, so an ordinary test run leaves the tree clean:
//
//	XSZZ_SCREENSHOTS=1 go test ./cmd/xszz -run 'Browser|SignIn|Console|Registration|OnAPhone'
//
// refreshes every picture the docs and the user guide show.
const envScreenshots = "XSZZ_SCREENSHOTS"

// screenshotDir is docs/screenshots, seen from the package's folder (where
// go test runs it).
var screenshotDir = filepath.Join("..", "..", "docs", "screenshots")

// screenshotsWanted reports whether this run refreshes the screenshots.
// Tests that reshape the page for a picture (a window as tall as the
// page) do so only then.
func screenshotsWanted() bool { return os.Getenv(envScreenshots) == "1" }

// saveScreenshot writes png as docs/screenshots/NAME.png when
// XSZZ_SCREENSHOTS=1, and does nothing otherwise.
func saveScreenshot(t testing.TB, name string, png []byte) {
	t.Helper()
	if !screenshotsWanted() {
		return
	}
	if err := os.WriteFile(filepath.Join(screenshotDir, name+".png"), png, 0o644); err != nil {
		t.Fatalf("save screenshot %s: %v", name, err)
	}
}

// checkPhoneLayout fails t when the page in ctx, at a phone's width, is
// wider than the screen (it would scroll sideways) or a button, tag or
// table heading's words wrap onto a second line ("退/出"). It names the
// widest offenders, so that a failure says where to look.
func checkPhoneLayout(t testing.TB, ctx context.Context, name string) {
	t.Helper()
	over, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`(function () {
		var w = document.documentElement.clientWidth;
		if (document.documentElement.scrollWidth <= w + 1) { return []; }
		return Array.from(document.querySelectorAll('body *')).filter(function (e) {
			return e.offsetParent && e.getBoundingClientRect().right > w + 1;
		}).slice(0, 5).map(function (e) {
			return e.tagName.toLowerCase() + (e.className ? '.' + e.className : '') + ' ' + Math.round(e.getBoundingClientRect().right) + 'px';
		}).concat(['viewport ' + w + 'px']);
	})()`))
	if err != nil || len(over) > 0 {
		t.Errorf("%s: the page is wider than a phone: %q (%v)", name, over, err)
	}
	wrapped, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('button:not(.pick), a.btn, .tag, th')).filter(function (b) { return b.offsetParent && b.getBoundingClientRect().height > 54; }).map(function (b) { return b.textContent.trim(); })`))
	if err != nil || len(wrapped) > 0 {
		t.Errorf("%s: at phone width these wrap onto two lines: %q (%v)", name, wrapped, err)
	}
}

// fullPage captures the whole page at width. The window is first made as
// tall as the page: a capture beyond a shorter window loses a
// scrollbar's width on the right, cutting off the edge of every card.
// The window is then put back to width×height.
func fullPage(t testing.TB, ctx context.Context, width, height int64) []byte {
	t.Helper()
	tall, err := chromedp.Run(ctx, chromedp.Evaluate[int64](`document.documentElement.scrollHeight`))
	if err != nil {
		t.Fatalf("page height: %v", err)
	}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(width, max(tall, height))); err != nil {
		t.Fatalf("window as tall as the page: %v", err)
	}
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(width, height)); err != nil {
		t.Fatalf("window back to %d×%d: %v", width, height, err)
	}
	return png
}

// shootOffice takes an office page's screenshot as NAME.png: names ending
// in -phone at the 390×844 window the test set (after checking the phone
// layout), others at 1280×900.
func shootOffice(t testing.TB, ctx context.Context, name string) {
	t.Helper()
	w, h := int64(1280), int64(900)
	if strings.HasSuffix(name, "-phone") {
		w, h = 390, 844
		checkPhoneLayout(t, ctx, name)
	}
	saveScreenshot(t, name, fullPage(t, ctx, w, h))
}
