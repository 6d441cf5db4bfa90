package sms

import (
	"context"
	"log/slog"
)

// LogSender writes the code to the log instead of sending it.
//
// DEVELOPMENT ONLY: it logs the full phone number and the code in clear,
// which the rest of xszz never does (SECURITY.md #52). Its whole purpose is
// to let a developer sign in without a gateway; configuration must not
// allow it in production.
type LogSender struct {
	log *slog.Logger
}

// NewLogSender returns a dev-only sender logging to log (slog.Default if nil).
func NewLogSender(log *slog.Logger) *LogSender {
	if log == nil {
		log = slog.Default()
	}
	return &LogSender{log: log}
}

// Send logs the message at info level.
func (l *LogSender) Send(ctx context.Context, m Message) error {
	l.log.InfoContext(ctx, "DEV ONLY sms code (not sent)",
		slog.String("phone", m.Phone),
		slog.String("code", m.Code),
		slog.String("purpose", m.Purpose),
		slog.Any("params", m.Params),
		slog.Time("sent_at", m.SentAt))
	return nil
}
