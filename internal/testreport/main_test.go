package main

import (
	"strings"
	"testing"
)

func TestReportGroupsSkipsAndShowsOnlyFailures(t *testing.T) {
	in := strings.Join([]string{
		`{"Action":"run","Package":"p","Test":"TestA"}`,
		`{"Action":"output","Package":"p","Test":"TestA","Output":"=== RUN   TestA\n"}`,
		`{"Action":"output","Package":"p","Test":"TestA","Output":"noise of a passing test\n"}`,
		`{"Action":"pass","Package":"p","Test":"TestA"}`,
		`{"Action":"output","Package":"p","Test":"TestB/postgres","Output":"    x_test.go:9: skipped: PostgreSQL tests — set XSZZ_TEST_POSTGRES_URL\n"}`,
		`{"Action":"skip","Package":"p","Test":"TestB/postgres"}`,
		`{"Action":"output","Package":"p","Test":"TestC","Output":"    x_test.go:12: boom\n"}`,
		`{"Action":"fail","Package":"p","Test":"TestC"}`,
		`{"Action":"output","Package":"p","Output":"FAIL\tp\t0.01s\n"}`,
		`{"Action":"fail","Package":"p"}`,
	}, "\n")
	var out strings.Builder
	r := &report{out: &out, logs: map[key][]string{}, groups: map[string]*group{}}
	if err := r.read(strings.NewReader(in)); err != nil {
		t.Fatal(err)
	}
	r.summary()
	got := out.String()
	for _, want := range []string{"boom", "FAIL\tp", "skipped 1: PostgreSQL tests — set XSZZ_TEST_POSTGRES_URL", "1 passed, 1 failed, 1 skipped"} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "noise of a passing test") {
		t.Errorf("a passing test's output is shown:\n%s", got)
	}
	if !r.broken {
		t.Error("a failed test does not fail the report")
	}
}
