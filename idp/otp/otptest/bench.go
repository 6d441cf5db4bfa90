package otptest

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/xszz/xszz/idp/otp"
	"github.com/xszz/xszz/internal/sms"
)

// codeBox keeps the last code per phone, forgetting it once read, so a
// long benchmark does not grow memory.
type codeBox struct{ m sync.Map }

func (c *codeBox) Send(ctx context.Context, m sms.Message) error {
	c.m.Store(m.Phone, m.Code)
	return nil
}

// Bench measures one Send followed by one Verify, each for a fresh phone,
// from parallel goroutines. Limits are off: the point is the cost of the
// store round trips, not refusals.
func Bench(b *testing.B, st otp.Store) {
	box := &codeBox{}
	cfg := otp.Config{
		Secret:                []byte("bench-secret"),
		PerHour:               -1,
		PerDay:                -1,
		PerIPPerHour:          -1,
		PerNetPerHour:         -1,
		PerNet48PerHour:       -1,
		VerifyPerIPPerHour:    -1,
		VerifyPerNetPerHour:   -1,
		VerifyPerNet48PerHour: -1,
		GlobalPerMinute:       -1,
		ResendInterval:        -1,
	}
	svc := otp.New(st, box, cfg, nil, discardLogger())
	var n atomic.Int64
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			p := Phone(int(n.Add(1) % 100000000))
			if _, err := svc.Send(ctx, p, otp.PurposeLogin, "203.0.113.1"); err != nil {
				b.Error(err)
				return
			}
			code, _ := box.m.LoadAndDelete(p)
			if err := svc.Verify(ctx, p, otp.PurposeLogin, code.(string), "203.0.113.1"); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
