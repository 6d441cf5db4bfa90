// Command xszz-bench measures the identity provider: it starts the whole
// app (internal/app) in-process on a loopback port with a fresh database
// and drives real HTTP at it. See docs/performance.md.
//
//	go run ./cmd/xszz-bench [--duration 10s] [--concurrency 32] [--scenarios …] [--postgres URL --redis URL]
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// cli carries where the results and the app's log go.
type cli struct {
	out, log io.Writer
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRoot(os.Stdout, os.Stderr).ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "xszz-bench:", err)
		os.Exit(1)
	}
}

func newRoot(out, logw io.Writer) *cobra.Command {
	c := &cli{out: out, log: logw}
	root := c.benchCmd()
	root.SilenceUsage, root.SilenceErrors = true, true
	root.SetOut(out)
	return root
}
