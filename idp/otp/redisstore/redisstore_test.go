package redisstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/xszz/xszz/internal/testenv"

	"github.com/redis/go-redis/v9"

	"github.com/xszz/xszz/idp/otp"
	"github.com/xszz/xszz/idp/otp/otptest"
	"github.com/xszz/xszz/idp/otp/redisstore"
)

// newStore connects to XSZZ_TEST_REDIS_URL and returns a store under a
// random prefix, so parallel test packages and runs never share keys; the
// keys are deleted when the test ends.
func newStore(tb testing.TB) otp.Store {
	st, _, _ := newRedis(tb)
	return st
}

func newRedis(tb testing.TB) (*redisstore.Store, *redis.Client, string) {
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
	return redisstore.New(rdb, prefix), rdb, prefix
}

func TestRedisStoreConformance(t *testing.T) {
	testenv.Redis(t)
	otptest.Run(t, func(t *testing.T) otp.Store { return newStore(t) })
}

func BenchmarkSendVerify(b *testing.B) {
	otptest.Bench(b, newStore(b))
}

// Redis TTLs are only garbage collection, but they must be there: every
// key the store writes expires by itself.
func TestEveryKeyExpires(t *testing.T) {
	st, rdb, prefix := newRedis(t)
	ctx := context.Background()
	now := time.Now()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(st.PutCode(ctx, "c", []byte("h"), now, 5*time.Minute))
	_, err := st.Take(ctx, now, []otp.Limit{{Key: "l", Window: time.Hour, Max: 5}})
	must(err)
	// A peek writes nothing.
	_, err = st.Take(ctx, now, []otp.Limit{{Key: "p", Window: time.Hour, Max: 5, Peek: true}})
	must(err)
	keys, err := rdb.Keys(ctx, prefix+"*").Result()
	must(err)
	if len(keys) != 2 {
		t.Fatalf("keys %v, want 2", keys)
	}
	for _, k := range keys {
		ttl, err := rdb.PTTL(ctx, k).Result()
		must(err)
		if ttl <= 0 || ttl > time.Hour {
			t.Errorf("key %s has TTL %v", k, ttl)
		}
	}
}
