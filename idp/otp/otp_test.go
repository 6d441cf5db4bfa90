package otp_test

import (
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
