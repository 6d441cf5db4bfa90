// Package layout states the import rules between the parts of xszz and
// checks them (layout_test.go): the office system and the cockpit are
// relying parties of the IdP and may use only the SDK and the shared
// infrastructure under internal/, so that each could be deployed apart
// from the IdP and never reaches around the tokens and the directory.
package layout

// Rule forbids packages under From to depend, directly or not, on any
// package under one of Not.
type Rule struct {
	From string
	Not  []string
}

// Module is the main module's path.
const Module = "github.com/xszz/xszz"

// Rules are the boundaries of the architecture.
var Rules = []Rule{
	{From: Module + "/office", Not: []string{Module + "/idp", Module + "/cockpit", Module + "/cmd"}},
	{From: Module + "/cockpit", Not: []string{Module + "/idp", Module + "/office", Module + "/cmd"}},
	{From: Module + "/idp", Not: []string{Module + "/office", Module + "/cockpit", Module + "/cmd"}},
	{From: Module + "/internal", Not: []string{Module + "/idp", Module + "/office", Module + "/cockpit", Module + "/cmd"}},
}

// Under reports whether pkg is path or inside it.
func Under(pkg, path string) bool {
	return pkg == path || len(pkg) > len(path) && pkg[:len(path)] == path && pkg[len(path)] == '/'
}
