package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"
)

// parts names what one process can serve.
var parts = []string{"idp", "office", "cockpit"}

func (c *cli) serveCmd() *cobra.Command {
	var only string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the identity provider, the office system and the cockpit",
		Long: `Run the identity provider (idp.listen), the office system (office.listen) and
the data cockpit (cockpit.listen), each on its own listener, and /metrics on
ops.listen. --only runs one of them; a relying party run alone reaches its IdP
at office.issuer / cockpit.issuer with office.client_id / cockpit.client_id.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			serve := parts
			if only != "" {
				if !slices.Contains(parts, only) {
					return fmt.Errorf("--only %q: want idp, office or cockpit", only)
				}
				serve = []string{only}
			}
			ctx := cmd.Context()
			cfg, err := loadConfig(c.configPath)
			if err != nil {
				return err
			}
			a, err := assemble(ctx, cfg, c.logger(cfg), serve, buildOptions{})
			if err != nil {
				return err
			}
			defer a.Close()
			ls, err := a.listen(serve)
			if err != nil {
				return err
			}
			return a.serve(ctx, ls)
		},
	}
	cmd.Flags().StringVar(&only, "only", "", "serve one part only: idp, office or cockpit")
	return cmd
}

// listeners are the sockets of one process; a nil one is not served.
type listeners struct {
	idp, office, cockpit, ops net.Listener
}

// listen opens the listeners of the parts to serve, naming the key of
// one that cannot be opened.
func (a *App) listen(serve []string) (listeners, error) {
	var ls listeners
	open := func(key, addr string) (net.Listener, error) {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			ls.close()
			return nil, fmt.Errorf("config %s: %w", key, err)
		}
		return ln, nil
	}
	var err error
	if slices.Contains(serve, "idp") {
		if ls.idp, err = open("idp.listen", a.Cfg.IdP.Listen); err != nil {
			return ls, err
		}
	}
	if slices.Contains(serve, "office") {
		if ls.office, err = open("office.listen", a.Cfg.Office.Listen); err != nil {
			return ls, err
		}
	}
	if slices.Contains(serve, "cockpit") {
		if ls.cockpit, err = open("cockpit.listen", a.Cfg.Cockpit.Listen); err != nil {
			return ls, err
		}
	}
	if a.Cfg.Ops.Listen != "" {
		if ls.ops, err = open("ops.listen", a.Cfg.Ops.Listen); err != nil {
			return ls, err
		}
	}
	return ls, nil
}

func (ls listeners) close() {
	for _, ln := range []net.Listener{ls.idp, ls.office, ls.cockpit, ls.ops} {
		if ln != nil {
			ln.Close()
		}
	}
}

// prepare makes the database ready to serve the IdP: signing keys, the
// root of the organisation tree, and the system's own relying parties.
// It runs once per App: serve calls it unless the caller already did, so
// a caller that must know the set-up is written (before it starts long
// writes of its own on SQLite) prepares first.
func (a *App) prepare(ctx context.Context) error {
	if a.prepared {
		return nil
	}
	if err := a.prepareOnce(ctx); err != nil {
		return err
	}
	a.prepared = true
	return nil
}

func (a *App) prepareOnce(ctx context.Context) error {
	if err := a.Prepare(ctx); err != nil {
		return err
	}
	return a.registerBuiltinClients(ctx)
}

// server is one listener with its handler; key names its configuration.
type server struct {
	key string
	ln  net.Listener
	srv *http.Server
}

func newServer(key string, ln net.Listener, h http.Handler) server {
	return server{key: key, ln: ln, srv: &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    32 << 10,
	}}
}

// serve runs every part that has a listener until ctx ends or one
// listener fails, then drains requests, stops the background loops and
// waits for them, so the database is closed only when nothing uses it.
func (a *App) serve(ctx context.Context, ls listeners) error {
	var servers []server
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	var loops sync.WaitGroup
	defer loops.Wait()
	defer stopBG() // runs before loops.Wait

	if ls.idp != nil {
		if err := a.prepare(ctx); err != nil {
			ls.close()
			return err
		}
		loops.Go(func() { a.Keys.RunSchedule(bg) })
		loops.Go(func() { a.Audit.RunRetention(bg, a.Cfg.Audit.Retention, a.Cfg.Audit.ArchiveDir) })
		loops.Go(func() { a.purgeLoop(bg) })
		loops.Go(func() { a.Notifier.Run(bg) })
		servers = append(servers, newServer("idp.listen", ls.idp, a.IdP.Handler()))
		a.Log.Info("identity provider listening", "addr", ls.idp.Addr().String(), "issuer", a.Cfg.IdP.Issuer, "database", a.DB.Location(), "redis", a.Redis != nil)
	}
	if ls.office != nil {
		loops.Go(func() { a.runLoop(bg, "office", a.Office.Run) })
		servers = append(servers, newServer("office.listen", ls.office, a.Office.Handler()))
		a.Log.Info("office system listening", "addr", ls.office.Addr().String(), "url", a.Cfg.Office.URL, "issuer", a.Cfg.Office.Issuer)
	}
	if ls.cockpit != nil {
		loops.Go(func() { a.runLoop(bg, "cockpit", a.Cockpit.Run) })
		servers = append(servers, newServer("cockpit.listen", ls.cockpit, a.Cockpit.Handler()))
		a.Log.Info("cockpit listening", "addr", ls.cockpit.Addr().String(), "url", a.Cfg.Cockpit.URL, "issuer", a.Cfg.Cockpit.Issuer)
	}
	if ls.ops != nil {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", promhttp.HandlerFor(a.Registry, promhttp.HandlerOpts{}))
		mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "ok") })
		servers = append(servers, newServer("ops.listen", ls.ops, mux))
		a.Log.Info("operations listening", "addr", ls.ops.Addr().String(), "paths", "/metrics /healthz")
	}

	errc := make(chan error, len(servers))
	for _, s := range servers {
		go func() {
			if err := s.srv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("config %s (%s): %w", s.key, s.ln.Addr(), err)
			}
		}()
	}
	var failed error
	select {
	case failed = <-errc:
		a.Log.Error("a listener failed; stopping every part", "err", failed)
	case <-ctx.Done():
		a.Log.Info("shutting down")
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
	defer cancel()
	var drain sync.WaitGroup
	var mu sync.Mutex
	for _, s := range servers {
		drain.Go(func() {
			if err := s.srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
				mu.Lock()
				failed = errors.Join(failed, fmt.Errorf("drain %s: %w", s.key, err))
				mu.Unlock()
			}
		})
	}
	drain.Wait()
	return failed
}

// runLoop runs a part's background work, logging its failure: a failed
// directory sync must not take the sign-in service down with it.
func (a *App) runLoop(ctx context.Context, name string, run func(context.Context) error) {
	if err := run(ctx); err != nil && ctx.Err() == nil {
		a.Log.Error("background work stopped", "part", name, "err", err)
	}
}

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
