package oauthstore_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/ory/fosite"

	"github.com/xszz/xszz/idp/oauth"
	"github.com/xszz/xszz/idp/oauthstore"
	"github.com/xszz/xszz/internal/sqldb/sqldbtest"
)

type anyClient struct{}

func (anyClient) GetClient(_ context.Context, id string) (fosite.Client, error) {
	return &fosite.DefaultClient{ID: id}, nil
}

func randomString(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// BenchmarkCreateClientToken stores client_credentials access tokens from
// parallel requests, as the token endpoint does: the database's share of
// a client_credentials request.
// Request ids are random (fosite's UUIDv4) or time-ordered (UUIDv7, what
// the token endpoint gives client_credentials requests): a random key
// dirties one index page per row, an ordered one a page per batch.
func BenchmarkCreateClientToken(b *testing.B) {
	for _, ids := range []struct {
		name string
		new  func() string
	}{
		{"random_ids", func() string { return uuid.NewString() }},
		{"ordered_ids", func() string { return uuid.Must(uuid.NewV7()).String() }},
	} {
		b.Run(ids.name, func(b *testing.B) { benchmarkCreateClientToken(b, ids.new) })
	}
}

func benchmarkCreateClientToken(b *testing.B, newID func() string) {
	db := sqldbtest.OpenSQLite(b)
	s := oauthstore.New(db, anyClient{}, time.Now)
	ctx := context.Background()
	client := &fosite.DefaultClient{ID: randomString(16)}
	b.SetParallelism(16) // requests in flight beyond GOMAXPROCS, as under HTTP load
	b.ReportAllocs()
	start := cpuTime()
	stmts, _ := db.Statements()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := fosite.NewRequest()
			r.ID = newID()
			r.Client = client
			r.Form.Set("grant_type", "client_credentials")
			r.Form.Set("scope", "api")
			r.RequestedScope = fosite.Arguments{"api"}
			r.GrantedScope = fosite.Arguments{"api"}
			sess := oauth.NewSession()
			sess.Subject = client.ID
			sess.SetExpiresAt(fosite.AccessToken, time.Now().Add(10*time.Minute))
			r.Session = sess
			if err := s.CreateAccessTokenSession(ctx, randomString(64), r); err != nil {
				b.Error(err)
				return
			}
		}
	})
	if n, ok := db.Statements(); ok {
		b.ReportMetric(float64(n-stmts)/float64(b.N), "stmts/op")
	}
	b.ReportMetric(float64((cpuTime()-start).Microseconds())/float64(b.N), "cpu-µs/op")
}

// cpuTime is the process's user and system CPU time: on a shared machine
// steadier than wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
