package otp_test

import (
	"context"
	"time"

	"testing"

	"github.com/xszz/xszz/idp/otp"
	"github.com/xszz/xszz/idp/otp/otptest"
)

func TestMemoryStoreConformance(t *testing.T) {
	otptest.Run(t, func(t *testing.T) otp.Store { return otp.NewMemoryStore(nil) })
}

func BenchmarkSendVerify(b *testing.B) {
	otptest.Bench(b, otp.NewMemoryStore(nil))
}

// Entries nobody touches again (a code requested and never used) must not
// pile up in the process.
func TestMemoryStoreSweepsExpiredEntries(t *testing.T) {
	clock := otptest.NewClock()
	st := otp.NewMemoryStore(clock.Now)
	ctx := context.Background()
	for i := 0; i < 100; i++ {
		p := otptest.Phone(i)
		if err := st.PutCode(ctx, p, []byte("h"), clock.Now(), 5*time.Minute); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Take(ctx, clock.Now(), []otp.Limit{{Key: p, Window: time.Hour, Max: 5}}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Take(ctx, clock.Now(), []otp.Limit{{Key: "m" + p, Window: time.Minute, Max: 5}}); err != nil {
			t.Fatal(err)
		}
	}
	if n := st.Len(); n != 300 {
		t.Fatalf("%d entries, want 300", n)
	}
	clock.Advance(30 * time.Minute)
	st.Sweep()
	if n := st.Len(); n != 100 {
		t.Fatalf("%d entries after 30 minutes, want the 100 hour-long limits", n)
	}
	clock.Advance(30 * time.Minute)
	// The periodic sweep runs by itself as operations happen.
	for i := 0; i < 1024; i++ {
		if _, err := st.CheckCode(ctx, "x", []byte("h"), clock.Now(), 5); err != nil {
			t.Fatal(err)
		}
	}
	if n := st.Len(); n != 0 {
		t.Fatalf("%d entries left, want 0", n)
	}
}
