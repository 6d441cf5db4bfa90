// Package otptest is the conformance suite every otp.Store must pass, and
// the specification of otp.Service written as tests: Run exercises the
// store primitives directly and then the whole service on top of the
// store, so the in-memory and the Redis backends are held to exactly the
// same rules.
package otptest

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/xszz/xszz/internal/sms"
)

// Clock is a manual clock for tests: time only moves when Advance is
// called, so expiry is tested without sleeping.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock starts at a fixed whole second, so durations computed by a
// millisecond-precision store come out exact.
func NewClock() *Clock {
	return &Clock{t: time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC)}
}

// Now returns the current fake time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Outbox is an sms.Sender that remembers what it was asked to send.
type Outbox struct {
	mu   sync.Mutex
	msgs []sms.Message
	// Err, when set, is returned by Send (after recording the message).
	Err error
}

// Send implements sms.Sender.
func (o *Outbox) Send(ctx context.Context, m sms.Message) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.msgs = append(o.msgs, m)
	return o.Err
}

// Last returns the last code sent to phone, or fails the test.
func (o *Outbox) Last(t testing.TB, phone string) string {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	for i := len(o.msgs) - 1; i >= 0; i-- {
		if o.msgs[i].Phone == phone {
			return o.msgs[i].Code
		}
	}
	t.Fatalf("no SMS sent to %s", phone)
	return ""
}

// Messages returns a copy of everything sent.
func (o *Outbox) Messages() []sms.Message {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]sms.Message(nil), o.msgs...)
}

// LogBuffer collects JSON log lines for assertions.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// String returns everything logged so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// Logger returns a debug-level JSON logger writing to l. It leaves out
// the wall-clock time, whose digits could otherwise contain a code by
// chance and upset tests that look for leaked codes.
func (l *LogBuffer) Logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(l, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey && len(groups) == 0 {
				return slog.Attr{}
			}
			return a
		},
	}))
}

// Phone returns the i-th test number, all valid and distinct.
func Phone(i int) string {
	return fmt.Sprintf("+86138%08d", i)
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
