package idp

import (
	"context"
	"errors"

	"github.com/xszz/xszz/idp/account"
	"github.com/xszz/xszz/idp/sms"
	"github.com/xszz/xszz/idp/sqldb"
)

// SMSGate delivers sign-in codes only to numbers that have an account that
// may sign in. The caller's answer is the same either way, so the gate
// spares SMS bombing of strangers' numbers without telling anyone which
// numbers are registered. Other purposes (registration) pass through.
type SMSGate struct {
	Next     sms.Sender
	Accounts *account.Store
}

// Send implements sms.Sender.
func (g SMSGate) Send(ctx context.Context, m sms.Message) error {
	if m.Purpose != "login" {
		return g.Next.Send(ctx, m)
	}
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
	return g.Next.Send(ctx, m)
}
