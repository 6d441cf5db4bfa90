package sdk

import (
	"go/build"
	"slices"
	"strings"
	"testing"
)

// TestCoreImports keeps the core package light: relying parties that import
// it pull go-jose and x/oauth2, never echo.
func TestCoreImports(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	allowed := []string{"github.com/go-jose/go-jose/v4", "golang.org/x/oauth2"}
	for _, imp := range pkg.Imports {
		if strings.Contains(imp, ".") && !slices.Contains(allowed, imp) {
			t.Errorf("core package imports %s", imp)
		}
	}
}
