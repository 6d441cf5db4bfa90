package main

import (
	"bytes"
	"strings"
	"testing"
)

// A short bench run on SQLite drives every scenario without an error. It
// checks that the bench works, not how fast anything is: the figures of a
// run this short mean nothing.
func TestBenchSmoke(t *testing.T) {
	t.Setenv("XSZZ_TEST_POSTGRES_URL", "")
	t.Setenv("XSZZ_TEST_REDIS_URL", "")
	var out, logs bytes.Buffer
	root := newRoot(&out, &logs)
	root.SetArgs([]string{"--duration", "150ms", "--concurrency", "4", "--accounts", "3"})
	if err := root.Execute(); err != nil {
		t.Fatalf("bench: %v\nlog:\n%s", err, logs.String())
	}
	table := out.String()
	for _, name := range benchScenarios {
		var row []string
		for line := range strings.Lines(table) {
			if f := strings.Fields(line); len(f) > 3 && f[0] == name {
				row = f
			}
		}
		if row == nil {
			t.Errorf("no row for %s in:\n%s", name, table)
			continue
		}
		if row[1] == "0" || row[2] != "0" {
			t.Errorf("%s: %s requests, %s errors; want some and none:\n%s", name, row[1], row[2], table)
		}
	}
	if !strings.Contains(table, "machine:") {
		t.Errorf("no machine line in:\n%s", table)
	}
}

// A tiny burst on SQLite: every number is served, and the hammered number
// gets one code and 429 with Retry-After for the rest.
func TestBenchBurstSmoke(t *testing.T) {
	t.Setenv("XSZZ_TEST_POSTGRES_URL", "")
	t.Setenv("XSZZ_TEST_REDIS_URL", "")
	var out, logs bytes.Buffer
	root := newRoot(&out, &logs)
	root.SetArgs([]string{"--scenarios", "burst", "--burst-phones", "30", "--burst-window", "1s", "--hammer-rate", "20", "--concurrency", "4"})
	if err := root.Execute(); err != nil {
		t.Fatalf("bench: %v\n%s\nlog:\n%s", err, out.String(), logs.String())
	}
	for _, want := range []string{"signed in 30 of 30 numbers", "want exactly 1 in one 1m0s window: ok", "from 3 loopback addresses in 1 /24 networks"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("no %q in:\n%s", want, out.String())
		}
	}
}
