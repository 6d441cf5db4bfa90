package main

import (
	"os"
	"path/filepath"
	"testing"
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
