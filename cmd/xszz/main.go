// Command xszz runs and administers the xszz identity provider.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRoot(os.Stdout, os.Stderr).ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "xszz:", err)
		os.Exit(1)
	}
}

// cli carries what every command needs.
type cli struct {
	configPath string
	out, log   io.Writer
}

func newRoot(out, logw io.Writer) *cobra.Command {
	c := &cli{out: out, log: logw}
	root := &cobra.Command{
		Use:           "xszz",
		Short:         "xszz: the identity provider, office system and data cockpit of national student aid, and their tools",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(out)
	root.PersistentFlags().StringVar(&c.configPath, "config", "", "configuration file (default: built-in defaults; see configs/xszz.yaml)")
	root.AddCommand(
		c.serveCmd(), c.demoCmd(), c.migrateCmd(), c.cockpitCmd(), c.clientsCmd(), c.accountsCmd(), c.keysCmd(), c.orgsCmd(), c.grantsCmd(), c.auditCmd(),
		&cobra.Command{Use: "version", Short: "Print the version", RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintln(out, version)
			return nil
		}},
	)
	return root
}

// app loads the configuration and wires the system.
func (c *cli) app(ctx context.Context) (*App, error) {
	cfg, err := loadConfig(c.configPath)
	if err != nil {
		return nil, err
	}
	return build(ctx, cfg, c.logger(cfg), buildOptions{})
}

// logger returns the configured logger, after logging what loading the
// configuration warned about.
func (c *cli) logger(cfg *Config) *slog.Logger {
	log := newLogger(cfg, c.log)
	for _, w := range cfg.Warnings {
		log.Warn(w)
	}
	return log
}

func (c *cli) printJSON(v any) error {
	enc := json.NewEncoder(c.out)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

func (c *cli) migrateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Apply database migrations",
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(c.configPath)
			if err != nil {
				return err
			}
			cfg.Database.Migrate = true
			a, err := build(cmd.Context(), cfg, c.logger(cfg), buildOptions{})
			if err != nil {
				return err
			}
			defer a.Close()
			fmt.Fprintln(c.out, "migrations applied")
			return nil
		},
	}
}

func (c *cli) keysCmd() *cobra.Command {
	keys := &cobra.Command{Use: "keys", Short: "Manage signing keys"}
	keys.AddCommand(&cobra.Command{
		Use:   "rotate",
		Short: "Add new signing keys; the old ones stay in the JWKS until their tokens expire",
		RunE: c.withApp(func(cmd *cobra.Command, a *App, _ []string) error {
			if err := a.Keys.Ensure(cmd.Context()); err != nil {
				return err
			}
			kids, err := a.Keys.Rotate(cmd.Context())
			if err != nil {
				return err
			}
			if err := a.audit(cmd.Context(), "key.rotated", "", map[string]string{"kids": strings.Join(kids, " ")}); err != nil {
				return err
			}
			return c.printJSON(map[string]any{"new_kids": kids})
		}),
	})
	return keys
}

var errUsage = errors.New("usage")

// withApp runs a command body with the wired system, closing it after.
// Checks in the body that come before any use of a still run after the
// configuration is loaded, which is what an operator expects: a bad config
// is reported first.
func (c *cli) withApp(fn func(cmd *cobra.Command, a *App, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		a, err := c.app(cmd.Context())
		if err != nil {
			return err
		}
		defer a.Close()
		return cliError(fn(cmd, a, args))
	}
}
