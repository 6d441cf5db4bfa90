// Command testreport reads `go test -json` and prints what a person wants
// from a test run: each package's result line, the full output of every
// failing test, and at the end one line per group of skipped tests with
// the variable that would turn it on (internal/testenv writes those skip
// lines), then "N passed, N failed, N skipped". It exits non-zero when
// anything failed, so `go test -json … | testreport` can stand in a pipe.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

type key struct{ pkg, test string }

type report struct {
	out                     io.Writer
	logs                    map[key][]string
	passed, failed, skipped int
	groups                  map[string]*group
	broken                  bool
}

type group struct {
	how   string
	count int
}

func main() {
	r := &report{out: os.Stdout, logs: map[key][]string{}, groups: map[string]*group{}}
	if err := r.read(os.Stdin); err != nil {
		fmt.Fprintln(os.Stderr, "testreport:", err)
		os.Exit(2)
	}
	r.summary()
	if r.broken {
		os.Exit(1)
	}
}

func (r *report) read(in io.Reader) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if err := json.Unmarshal(line, &e); err != nil {
			// Not an event (a build error printed by go itself): show it.
			fmt.Fprintln(r.out, string(line))
			continue
		}
		r.handle(e)
	}
	return sc.Err()
}

func (r *report) handle(e event) {
	k := key{e.Package, e.Test}
	switch e.Action {
	case "output", "build-output":
		if e.Test == "" {
			r.packageLine(e)
			return
		}
		r.logs[k] = append(r.logs[k], e.Output)
		if i := strings.Index(e.Output, "skipped: "); i >= 0 {
			r.noteSkip(strings.TrimSpace(e.Output[i+len("skipped: "):]))
		}
	case "pass":
		if e.Test != "" {
			r.passed++
			delete(r.logs, k)
		}
	case "skip":
		if e.Test != "" {
			r.skipped++
			delete(r.logs, k)
		}
	case "fail", "build-fail":
		r.broken = true
		if e.Test == "" && e.Action == "fail" && strings.Contains(e.Package, "exited non-zero") {
			fmt.Fprintf(r.out, "FAIL\t%s\n", e.Package)
		}
		if e.Test != "" {
			r.failed++
			for _, l := range r.logs[k] {
				fmt.Fprint(r.out, l)
			}
			delete(r.logs, k)
		}
	}
}

// packageLine prints the lines go test prints without -v: the result of
// each package and anything a package printed outside a test.
func (r *report) packageLine(e event) {
	o := e.Output
	switch {
	case strings.HasPrefix(o, "=== "), strings.HasPrefix(o, "--- PASS"), strings.HasPrefix(o, "--- SKIP"), o == "PASS\n":
		return
	}
	fmt.Fprint(r.out, o)
}

// noteSkip counts a skip line "GROUP — HOW" under its group.
func (r *report) noteSkip(s string) {
	name, how, ok := strings.Cut(s, " — ")
	if !ok {
		name, how = s, ""
	}
	g := r.groups[name]
	if g == nil {
		g = &group{how: how}
		r.groups[name] = g
	}
	g.count++
}

func (r *report) summary() {
	names := make([]string, 0, len(r.groups))
	for n := range r.groups {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) > 0 {
		fmt.Fprintln(r.out)
	}
	for _, n := range names {
		g := r.groups[n]
		fmt.Fprintf(r.out, "skipped %d: %s — %s\n", g.count, n, g.how)
	}
	fmt.Fprintf(r.out, "%d passed, %d failed, %d skipped\n", r.passed, r.failed, r.skipped)
}
