package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"
)

func (c *cli) serveCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Run the identity provider",
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			a, err := c.app(ctx)
			if err != nil {
				return err
			}
			defer a.Close()
			ln, err := net.Listen("tcp", a.Cfg.IdP.Listen)
			if err != nil {
				return fmt.Errorf("config idp.listen: %w", err)
			}
			return a.serve(ctx, ln)
		},
	}
}

// serve runs the IdP on ln until ctx ends, then drains requests.
func (a *App) serve(ctx context.Context, ln net.Listener) error {
	if err := a.Prepare(ctx); err != nil {
		return err
	}
	bg, stop := context.WithCancel(ctx)
	defer stop()
	go a.Keys.RunSchedule(bg)
	go a.Audit.RunRetention(bg, a.Cfg.Audit.Retention, a.Cfg.Audit.ArchiveDir)
	go a.purgeLoop(bg)
	go a.Notifier.Run(bg)

	srv := &http.Server{
		Handler:           a.IdP.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    32 << 10,
	}
	a.Log.Info("identity provider listening", "addr", ln.Addr().String(), "issuer", a.Cfg.IdP.Issuer, "database", dialectOf(a), "redis", a.Redis != nil)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	a.Log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func dialectOf(a *App) string { return string(a.DB.Dialect) }

// purgeLoop deletes expired grants and sessions. Used codes and rotated
// refresh tokens are kept a day past expiry so replays are still caught.
func (a *App) purgeLoop(ctx context.Context) {
	t := time.NewTicker(10 * time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if n, err := a.OAuth.Purge(ctx, a.Now().Add(-24*time.Hour)); err != nil {
			a.Log.Warn("purge grants failed", "err", err)
		} else if n > 0 {
			a.Log.Info("purged expired grants", "rows", n)
		}
		if err := a.Sessions.Purge(ctx); err != nil {
			a.Log.Warn("purge sessions failed", "err", err)
		}
		if err := a.TOTP.Purge(ctx); err != nil {
			a.Log.Warn("purge totp attempts failed", "err", err)
		}
	}
}
