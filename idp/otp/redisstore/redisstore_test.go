package redisstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/xszz/xszz/idp/otp"
	"github.com/xszz/xszz/idp/otp/otptest"
	"github.com/xszz/xszz/idp/otp/redisstore"
)

// newStore connects to XSZZ_TEST_REDIS_URL and returns a store under a
// random prefix, so parallel test packages and runs never share keys; the
// keys are deleted when the test ends.
func newStore(tb testing.TB) otp.Store {
	tb.Helper()
	url := os.Getenv("XSZZ_TEST_REDIS_URL")
	if url == "" {
		tb.Skip("XSZZ_TEST_REDIS_URL is not set; skipping the Redis store (e.g. XSZZ_TEST_REDIS_URL=redis://127.0.0.1:6379/0)")
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		tb.Fatalf("XSZZ_TEST_REDIS_URL: %v", err)
	}
	rdb := redis.NewClient(opt)
	var b [8]byte
	_, _ = rand.Read(b[:])
	prefix := "xszz-test:" + hex.EncodeToString(b[:]) + ":"
	tb.Cleanup(func() {
		ctx := context.Background()
		iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
		rdb.Close()
	})
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		tb.Fatalf("redis at XSZZ_TEST_REDIS_URL: %v", err)
	}
	return redisstore.New(rdb, prefix)
}

func TestRedisStoreConformance(t *testing.T) {
	if os.Getenv("XSZZ_TEST_REDIS_URL") == "" {
		t.Skip("XSZZ_TEST_REDIS_URL is not set; skipping the Redis store (e.g. XSZZ_TEST_REDIS_URL=redis://127.0.0.1:6379/0)")
	}
	otptest.Run(t, func(t *testing.T) otp.Store { return newStore(t) })
}

func BenchmarkSendVerify(b *testing.B) {
	otptest.Bench(b, newStore(b))
}
