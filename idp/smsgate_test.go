package idp

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xszz/xszz/idp/account"
	"github.com/xszz/xszz/idp/otp"
	"github.com/xszz/xszz/idp/otp/otptest"
	"github.com/xszz/xszz/internal/sms"
	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/internal/sqldb/sqldbtest"
)

// blockedSender stands for a gateway that has not answered yet: it holds
// every delivery until release is closed.
type blockedSender struct {
	release chan struct{}
	mu      sync.Mutex
	sent    []string
	done    chan struct{}
}

func (s *blockedSender) Send(_ context.Context, m sms.Message) error {
	<-s.release
	s.mu.Lock()
	s.sent = append(s.sent, m.Phone)
	s.mu.Unlock()
	s.done <- struct{}{}
	return nil
}

// Sign-in codes reach only numbers with an account that may sign in; with
// Async the caller never waits for the gateway, whoever the number belongs
// to.
func TestSMSGate(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		accs := account.NewStore(db, time.Now)
		for phone, status := range map[string]string{"+8613800000001": account.StatusActive, "+8613800000002": account.StatusDisabled} {
			if _, err := accs.Create(ctx, account.Account{Phone: phone, Name: "测试", Status: status}); err != nil {
				t.Fatal(err)
			}
		}
		next := &blockedSender{release: make(chan struct{}), done: make(chan struct{}, 10)}
		gate := SMSGate{Next: next, Accounts: accs, Async: true}
		send := func(phone, purpose string) {
			t.Helper()
			errc := make(chan error, 1)
			go func() { errc <- gate.Send(ctx, sms.Message{Phone: phone, Code: "123456", Purpose: purpose}) }()
			select {
			case err := <-errc:
				if err != nil {
					t.Fatalf("send to %s: %v", phone, err)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("send to %s waited for the gateway", phone)
			}
		}
		for _, phone := range []string{"+8613800000001", "+8613800000002", "+8613800000003"} {
			send(phone, "login")
		}
		send("+8613800000003", "register")
		close(next.release)
		for range 2 {
			select {
			case <-next.done:
			case <-time.After(5 * time.Second):
				t.Fatal("a delivery never happened")
			}
		}
		select {
		case <-next.done:
			t.Fatal("a code went to a disabled or unknown number")
		case <-time.After(200 * time.Millisecond):
		}
		next.mu.Lock()
		defer next.mu.Unlock()
		if len(next.sent) != 2 || next.sent[0] == next.sent[1] {
			t.Fatalf("delivered to %v, want the active account's number and the registration", next.sent)
		}
	})
}

// The deployment-wide budget pays for deliveries only (issue 13 #8), and
// the log says what happened to each code (issue 12), while the caller's
// answer stays nil throughout.
func TestSMSGateChargesDeliveriesAndLogsThem(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		accs := account.NewStore(db, time.Now)
		for phone, status := range map[string]string{"+8613800000001": account.StatusActive, "+8613800000002": account.StatusDisabled} {
			if _, err := accs.Create(ctx, account.Account{Phone: phone, Name: "测试", Status: status}); err != nil {
				t.Fatal(err)
			}
		}
		clock := otptest.NewClock()
		logs := &otptest.LogBuffer{}
		box := &otptest.Outbox{}
		budget := otp.NewBudget(otp.NewMemoryStore(clock.Now), 2, clock.Now, logs.Logger())
		gate := SMSGate{Next: box, Accounts: accs, Budget: budget, Log: logs.Logger()}
		send := func(phone string) {
			t.Helper()
			if err := gate.Send(ctx, sms.Message{Phone: phone, Code: "123456", Purpose: "login"}); err != nil {
				t.Fatalf("send to %s: %v", phone, err)
			}
		}
		for i := 0; i < 50; i++ {
			send("+8613800000003")
			send("+8613800000002")
		}
		send("+8613800000001")
		send("+8613800000001")
		send("+8613800000001") // the budget of 2 is spent by the two above
		if n := len(box.Messages()); n != 2 {
			t.Fatalf("%d delivered, want 2 (the budget)", n)
		}
		out := logs.String()
		for _, want := range []string{
			`"msg":"otp: code not delivered","phone":"138****0003","purpose":"login","reason":"no_account"`,
			`"msg":"otp: code not delivered","phone":"138****0002","purpose":"login","reason":"account_disabled"`,
			`"msg":"otp: code delivered","phone":"138****0001"`,
			`"msg":"otp: code not delivered","phone":"138****0001","purpose":"login","reason":"budget"`,
		} {
			if !strings.Contains(out, want) {
				t.Errorf("log lacks %s", want)
			}
		}
		if strings.Contains(out, `"msg":"otp: code delivered","phone":"138****0003"`) {
			t.Error("a code for a number without an account is logged as delivered")
		}
		clock.Advance(time.Minute)
		send("+8613800000001")
		if n := len(box.Messages()); n != 3 {
			t.Fatalf("%d delivered after a minute, want 3", n)
		}
	})
}
