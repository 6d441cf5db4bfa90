// Package loadgen drives a function with fixed concurrency for a bounded
// time and count, and summarises throughput and latency. It knows nothing
// of HTTP or of the IdP: the caller's function is one "request".
package loadgen

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"
)

// Options bound a run.
type Options struct {
	Concurrency int           // workers calling the function at once
	Duration    time.Duration // stop starting new requests after this long
	MaxRequests int64         // and after this many; 0 means no count bound
}

// Result summarises one run.
type Result struct {
	Name     string
	Requests int64 // completed, including errors
	Errors   int64
	Elapsed  time.Duration
	P50, P99 time.Duration
	// CPU is the process's user+system CPU time during the run: server
	// and load generator together, since both run in this process. Per
	// request it stays meaningful when other work shares the machine.
	CPU time.Duration
	// FirstError is kept so a failing scenario says why.
	FirstError error
}

// CPUPerRequest is the process CPU time one request cost.
func (r Result) CPUPerRequest() time.Duration {
	if r.Requests == 0 {
		return 0
	}
	return r.CPU / time.Duration(r.Requests)
}

// Rate is completed requests per second.
func (r Result) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Elapsed.Seconds()
}

// Run calls fn from opts.Concurrency goroutines until the duration or the
// count is used up, or ctx ends. worker numbers the goroutine (0…n-1) so a
// scenario can give each its own state without locks. Requests in flight
// at the deadline finish normally: cancelling them would count the
// server's cancelled work as its errors.
func Run(ctx context.Context, name string, opts Options, fn func(ctx context.Context, worker int) error) Result {
	if opts.Concurrency < 1 {
		opts.Concurrency = 1
	}
	deadline := time.Now().Add(opts.Duration)
	var (
		started  atomic.Int64
		errs     atomic.Int64
		firstErr atomic.Pointer[error]
		wg       sync.WaitGroup
	)
	lat := make([][]time.Duration, opts.Concurrency)
	cpu0 := processCPU()
	begin := time.Now()
	for w := range opts.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			own := make([]time.Duration, 0, 4096)
			for ctx.Err() == nil {
				if opts.MaxRequests > 0 && started.Add(1) > opts.MaxRequests {
					break
				}
				t0 := time.Now()
				if !t0.Before(deadline) {
					break
				}
				err := fn(ctx, w)
				if err != nil && ctx.Err() != nil {
					break // interrupted: not the server's fault
				}
				own = append(own, time.Since(t0))
				if err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, &err)
				}
			}
			lat[w] = own
		}()
	}
	wg.Wait()
	res := Result{Name: name, Elapsed: time.Since(begin), Errors: errs.Load(), CPU: processCPU() - cpu0}
	all := slices.Concat(lat...)
	slices.Sort(all)
	res.Requests = int64(len(all))
	res.P50, res.P99 = percentile(all, 0.50), percentile(all, 0.99)
	if p := firstErr.Load(); p != nil {
		res.FirstError = *p
	}
	return res
}

// percentile of sorted durations, nearest rank.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// Machine describes where the figures were measured.
type Machine struct {
	CPUs      int
	OS, Arch  string
	GoVersion string
	CPUModel  string
}

// ThisMachine reads the CPU model from /proc/cpuinfo where there is one.
func ThisMachine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), OS: runtime.GOOS, Arch: runtime.GOARCH, GoVersion: runtime.Version(), CPUModel: "unknown"}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		m.CPUModel = cpuModel(string(b))
	}
	return m
}

func cpuModel(cpuinfo string) string {
	for line := range strings.Lines(cpuinfo) {
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

func (m Machine) String() string {
	return fmt.Sprintf("%d CPU, %s/%s, %s, %s", m.CPUs, m.OS, m.Arch, m.GoVersion, m.CPUModel)
}

// Column is an extra table column the caller computes.
type Column struct {
	Name  string
	Value func(Result) string
}

// WriteTable prints results as an aligned table; target, when it names a
// scenario, adds the goal and whether it was met.
func WriteTable(w io.Writer, results []Result, target map[string]float64, extra ...Column) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "scenario\trequests\terrors\treq/s\tp50\tp99\tCPU/req\t")
	for _, c := range extra {
		fmt.Fprint(tw, c.Name, "\t")
	}
	fmt.Fprintln(tw, "target\t")
	for _, r := range results {
		goal := "-"
		if t, ok := target[r.Name]; ok {
			verdict := "ok"
			if r.Rate() < t || r.Errors > 0 {
				verdict = "MISS"
			}
			goal = fmt.Sprintf("≥%.0f %s", t, verdict)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.0f\t%s\t%s\t%s\t", r.Name, r.Requests, r.Errors, r.Rate(), round(r.P50), round(r.P99), round(r.CPUPerRequest()))
		for _, c := range extra {
			fmt.Fprint(tw, c.Value(r), "\t")
		}
		fmt.Fprintln(tw, goal+"\t")
	}
	return tw.Flush()
}

func round(d time.Duration) string {
	switch {
	case d >= 10*time.Millisecond:
		return d.Round(100 * time.Microsecond).String()
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	default:
		return d.Round(time.Microsecond).String()
	}
}
