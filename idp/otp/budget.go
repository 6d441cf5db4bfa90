package otp

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/xszz/xszz/internal/sms"
)

// globalKey is the store key of the deployment-wide budget.
const globalKey = "global-minute"

// Budget is the deployment-wide budget of SMS codes per minute, which
// bounds what an SMS-bombing storm can cost. It counts deliveries, not
// requests: a code asked for a number without an account is never
// delivered (idp.SMSGate) and must not spend the budget, or a burst of
// such requests from a few hundred networks would stop sign-in for
// everyone. Service.Send only looks at it (a spent budget
// refuses every request alike, known number or not, so that the refusal
// says nothing about accounts); Charge, called where the code is handed
// to the gateway, counts it.
type Budget struct {
	store Store
	max   int
	now   func() time.Time
	log   *slog.Logger

	alertMu   sync.Mutex
	lastAlert time.Time
}

// NewBudget returns the budget of perMinute deliveries (<= 0: none) kept
// in store. now and log as for New.
func NewBudget(store Store, perMinute int, now func() time.Time, log *slog.Logger) *Budget {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.Default()
	}
	return &Budget{store: store, max: perMinute, now: now, log: log}
}

func (b *Budget) limit(peek bool) Limit {
	return Limit{Key: globalKey, Window: time.Minute, Max: b.max, Peek: peek}
}

// Charge counts one delivery. When the minute's budget is spent it counts
// nothing, raises the alert and returns a *RateLimitError (scope global).
func (b *Budget) Charge(ctx context.Context) error {
	if b.max <= 0 {
		return nil
	}
	now := b.now()
	res, err := b.store.Take(ctx, now, []Limit{b.limit(false)})
	if err != nil {
		return fmt.Errorf("otp: charge the SMS budget: %w", err)
	}
	if !res.Allowed() {
		b.alert(ctx, now)
		return &RateLimitError{RetryAfter: res.RetryAfter, Scope: ScopeGlobal, Rule: RuleGlobal}
	}
	return nil
}

// Sender returns next behind the budget: every message it passes on is
// charged first, and a spent budget refuses it. Put it where codes are
// actually delivered, behind any filter that drops some.
func (b *Budget) Sender(next sms.Sender) sms.Sender { return budgetSender{b, next} }

type budgetSender struct {
	b    *Budget
	next sms.Sender
}

func (s budgetSender) Send(ctx context.Context, m sms.Message) error {
	if err := s.b.Charge(ctx); err != nil {
		return err
	}
	return s.next.Send(ctx, m)
}

// alert raises the budget alarm, at most once a minute per process so
// that a storm does not also flood the logs.
func (b *Budget) alert(ctx context.Context, now time.Time) {
	b.alertMu.Lock()
	due := b.lastAlert.IsZero() || now.Sub(b.lastAlert) >= time.Minute
	if due {
		b.lastAlert = now
	}
	b.alertMu.Unlock()
	if due {
		b.log.WarnContext(ctx, "ALERT otp: global SMS budget exhausted, refusing sends", slog.Int("per_minute", b.max))
	}
}
