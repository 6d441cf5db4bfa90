package sms_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/xszz/xszz/internal/sms"
)

type fakeSender struct {
	err   error
	hang  bool
	calls int
}

func (f *fakeSender) Send(ctx context.Context, m sms.Message) error {
	f.calls++
	if f.hang {
		<-ctx.Done()
		return ctx.Err()
	}
	return f.err
}

func TestFailover(t *testing.T) {
	down := errors.New("gateway down")
	limited := &sms.ProviderError{Provider: "aliyun", Code: "isv.BUSINESS_LIMIT_CONTROL", RateLimited: true}
	for _, tt := range []struct {
		name          string
		primary       *fakeSender
		secondary     *fakeSender
		cancel        bool
		wantSecondary int
		wantErr       bool
	}{
		{"primary works", &fakeSender{}, &fakeSender{}, false, 0, false},
		{"primary fails, secondary works", &fakeSender{err: down}, &fakeSender{}, false, 1, false},
		{"primary hangs past its timeout", &fakeSender{hang: true}, &fakeSender{}, false, 1, false},
		{"both fail", &fakeSender{err: down}, &fakeSender{err: down}, false, 1, true},
		{"per-number flow control is not retried elsewhere", &fakeSender{err: limited}, &fakeSender{}, false, 0, true},
		{"caller gave up", &fakeSender{hang: true}, &fakeSender{}, true, 0, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.cancel {
				cancel()
			}
			f := &sms.Failover{Primary: tt.primary, Secondary: tt.secondary, PrimaryTimeout: 10 * time.Millisecond, Log: slog.New(slog.DiscardHandler)}
			err := f.Send(ctx, sms.Message{Phone: "+8613800138000", Code: "123456"})
			if (err != nil) != tt.wantErr || tt.secondary.calls != tt.wantSecondary {
				t.Fatalf("err %v, secondary calls %d; want error %v, %d calls", err, tt.secondary.calls, tt.wantErr, tt.wantSecondary)
			}
		})
	}
}
