package main

import (
	"context"
	"io"
	"log/slog"
	"time"

	"github.com/xszz/xszz/cmd/internal/app"
	"github.com/xszz/xszz/cmd/internal/configfile"
	"github.com/xszz/xszz/cockpit"
	"github.com/xszz/xszz/internal/sms"
	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/office"
)

// App is the wired system (internal/app) with the commands' own methods,
// and the relying parties this process serves (nil when not served here).
type App struct {
	*app.App
	Office  *office.Service
	Cockpit *cockpit.Service
}

// Config is the whole configuration; configs/xszz.yaml documents every key.
type Config = app.Config

// defaults are the values of every key (app.Defaults).
var defaults = app.Defaults

func loadConfig(path string) (*Config, error) { return configfile.Load(path) }

func newLogger(cfg *Config, w io.Writer) *slog.Logger {
	return app.NewLogger(cfg, w)
}

// buildOptions lets tests swap the clock and the SMS sender, and keep
// parallel tests apart on one Redis.
type buildOptions struct {
	now    func() time.Time
	sender sms.Sender
	// otpPrefix replaces the Redis key prefix of the SMS-code store
	// ("xszz:otp:").
	otpPrefix string
	// challengeAnswers gives the digits of every graphical challenge.
	challengeAnswers func() string
	// schemas are the parts whose migrations run; nil means every part.
	schemas []sqldb.Schema
}

// build opens the database (migrating it unless turned off) and wires the
// system. It does not start background work; serve does.
func build(ctx context.Context, cfg *Config, log *slog.Logger, o buildOptions) (*App, error) {
	a, err := app.Build(ctx, cfg, log, app.Options{Now: o.now, Sender: o.sender, OTPPrefix: o.otpPrefix, ChallengeAnswers: o.challengeAnswers, Schemas: o.schemas})
	if err != nil {
		return nil, err
	}
	return &App{App: a}, nil
}
