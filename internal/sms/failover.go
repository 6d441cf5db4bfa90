package sms

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/xszz/xszz/internal/phone"
)

// Failover sends through Primary and, when it fails or times out, through
// Secondary. Per-number flow-control refusals (ErrRateLimited) are not
// retried elsewhere: they mean the operator already thinks this number
// gets too much, and two gateways would double what an SMS bomber gets.
type Failover struct {
	Primary, Secondary Sender
	// PrimaryTimeout bounds the wait for Primary so a hanging gateway
	// still leaves time for Secondary; 0 means only the caller's deadline.
	PrimaryTimeout time.Duration
	Log            *slog.Logger
}

// Send implements Sender.
func (f *Failover) Send(ctx context.Context, m Message) error {
	pctx := ctx
	if f.PrimaryTimeout > 0 {
		var cancel context.CancelFunc
		pctx, cancel = context.WithTimeout(ctx, f.PrimaryTimeout)
		defer cancel()
	}
	err := f.Primary.Send(pctx, m)
	if err == nil {
		return nil
	}
	if ctx.Err() != nil || errors.Is(err, ErrRateLimited) {
		return fmt.Errorf("sms failover: primary: %w", err)
	}
	log := f.Log
	if log == nil {
		log = slog.Default()
	}
	log.WarnContext(ctx, "sms: primary gateway failed, using secondary", slog.String("phone", phone.Mask(m.Phone)), slog.Any("err", err))
	if err2 := f.Secondary.Send(ctx, m); err2 != nil {
		return fmt.Errorf("sms failover: primary: %w; secondary: %w", err, err2)
	}
	return nil
}
