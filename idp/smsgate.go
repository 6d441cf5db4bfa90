package idp

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/xszz/xszz/idp/account"
	"github.com/xszz/xszz/internal/phone"
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
	// Budget, when set, is charged for every code the gate delivers and
	// for nothing it drops (otp.Budget): codes for numbers without an
	// account must not spend the deployment-wide budget.
	Budget Charger
	// Async hands deliveries to the gateway in the background. A real
	// gateway takes tens to hundreds of milliseconds, and only numbers
	// with an account wait for it: answering before delivery keeps the
	// response time the same for every number (SECURITY.md #46). The
	// budget is charged in the background too, for the same reason. A
	// failed delivery is then only logged; the person asks again after the
	// resend interval.
	Async bool
	Log   *slog.Logger
}

// Charger counts one delivery against a budget, refusing when it is
// spent; *otp.Budget implements it.
type Charger interface {
	Charge(ctx context.Context) error
}

// asyncTimeout bounds one background delivery, failover included.
const asyncTimeout = 30 * time.Second

// Send implements sms.Sender.
func (g SMSGate) Send(ctx context.Context, m sms.Message) error {
	if m.Purpose == "login" {
		a, err := g.Accounts.ByPhone(ctx, m.Phone)
		if errors.Is(err, sqldb.ErrNotFound) {
			g.log().InfoContext(ctx, "otp: code not delivered", "phone", phone.Mask(m.Phone), "purpose", m.Purpose, "reason", "no_account")
			return nil
		}
		if err != nil {
			return err
		}
		if a.Status == account.StatusDisabled {
			g.log().InfoContext(ctx, "otp: code not delivered", "phone", phone.Mask(m.Phone), "purpose", m.Purpose, "reason", "account_disabled")
			return nil
		}
	}
	if !g.Async {
		return g.deliver(ctx, m)
	}
	go func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), asyncTimeout)
		defer cancel()
		if err := g.deliver(dctx, m); err != nil {
			g.log().WarnContext(dctx, "SMS delivery failed", "phone", phone.Mask(m.Phone), "purpose", m.Purpose, "err", err)
		}
	}()
	return nil
}

// deliver charges the budget and hands m to the gateway. A spent budget
// drops the code with a log line but no error: the answer was (or, when
// synchronous, must stay) the same as for a number without an account.
// Service.Send already refuses everyone alike once the budget is spent;
// this only catches the requests that raced past that check.
func (g SMSGate) deliver(ctx context.Context, m sms.Message) error {
	if g.Budget != nil {
		if err := g.Budget.Charge(ctx); err != nil {
			g.log().WarnContext(ctx, "otp: code not delivered", "phone", phone.Mask(m.Phone), "purpose", m.Purpose, "reason", "budget", "err", err)
			return nil
		}
	}
	if err := g.Next.Send(ctx, m); err != nil {
		return err
	}
	g.log().InfoContext(ctx, "otp: code delivered", "phone", phone.Mask(m.Phone), "purpose", m.Purpose)
	return nil
}

func (g SMSGate) log() *slog.Logger {
	if g.Log == nil {
		return slog.Default()
	}
	return g.Log
}
