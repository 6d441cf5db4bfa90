package sqldb_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/migrations"
)

// BenchmarkSQLiteInsert measures autocommit inserts of token-sized rows
// from parallel writers, the shape of the token endpoint's writes: the
// ceiling SQLite puts on tokens per second.
func BenchmarkSQLiteInsert(b *testing.B) {
	ctx := context.Background()
	db, err := sqldb.Open(ctx, "sqlite://"+filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx, migrations.All()...); err != nil {
		b.Fatal(err)
	}
	data := string(make([]byte, 600))
	var n atomic.Int64
	b.SetParallelism(8) // writers beyond GOMAXPROCS, as under HTTP load
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			_, err := db.ExecContext(ctx, `INSERT INTO oauth_requests (kind, signature, request_id, client_id, subject, session_id, active, requested_at, expires_at, data) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
				"access", fmt.Sprintf("sig-%d-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", i), fmt.Sprintf("req-%d", i), "client", "client", "", true, 1, 2, data)
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
}
