package idp

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/xszz/xszz/idp/account"
	"github.com/xszz/xszz/internal/sms"
	"github.com/xszz/xszz/internal/sqldb"
)

// SMSGate delivers sign-in codes only to numbers that have an account that
// may sign in. The caller's answer is the same either way, so the gate
// spares SMS bombing of strangers' numbers without telling anyone which
// numbers are registered. Other purposes (registration) pass through.
type SMSGate struct {
	Next     sms.Sender
	Accounts *account.Store
	// Async hands deliveries to the gateway in the background. A real
	// gateway takes tens to hundreds of milliseconds, and only numbers
	// with an account wait for it: answering before delivery keeps the
	// response time the same for every number (SECURITY.md #46). A failed
	// delivery is then only logged; the person asks again after the resend
	// interval.
	Async bool
	Log   *slog.Logger
}

// asyncTimeout bounds one background delivery, failover included.
const asyncTimeout = 30 * time.Second

// Send implements sms.Sender.
func (g SMSGate) Send(ctx context.Context, m sms.Message) error {
	if m.Purpose == "login" {
		a, err := g.Accounts.ByPhone(ctx, m.Phone)
		if errors.Is(err, sqldb.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if a.Status == account.StatusDisabled {
			return nil
		}
	}
	if !g.Async {
		return g.Next.Send(ctx, m)
	}
	go func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), asyncTimeout)
		defer cancel()
		if err := g.Next.Send(dctx, m); err != nil && g.Log != nil {
			g.Log.WarnContext(dctx, "SMS delivery failed", "purpose", m.Purpose, "err", err)
		}
	}()
	return nil
}
