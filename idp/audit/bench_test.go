package audit_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/xszz/xszz/idp/audit"
	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/internal/sqldb/sqldbtest"
)

// BenchmarkRecord measures appends one caller at a time ("serial") and
// from 64 concurrent callers ("parallel"), which is how sign-ins arrive.
// The parallel figure is the one to hold against the 1,000/s peak.
func BenchmarkRecord(b *testing.B) {
	backends := []struct {
		name string
		open func(testing.TB) *sqldb.DB
	}{{"sqlite", sqldbtest.OpenSQLite}, {"postgres", sqldbtest.OpenPostgres}}
	for _, be := range backends {
		b.Run(be.name+"/serial", func(b *testing.B) {
			l, _ := newLog(be.open(b))
			ctx := context.Background()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				if err := l.Record(ctx, login(fmt.Sprint("acc-", i))); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
		b.Run(be.name+"/parallel", func(b *testing.B) {
			l, _ := newLog(be.open(b))
			ctx := context.Background()
			var n atomic.Int64
			b.SetParallelism(32) // × GOMAXPROCS callers
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := l.Record(ctx, login(fmt.Sprint("acc-", n.Add(1)))); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
			if _, err := l.Verify(ctx); err != nil {
				b.Fatal(err)
			}
		})
	}
	_ = audit.Success
}

// BenchmarkVerify reports how fast `xszz audit verify` walks the chain.
func BenchmarkVerify(b *testing.B) {
	for _, be := range []struct {
		name string
		open func(testing.TB) *sqldb.DB
	}{{"sqlite", sqldbtest.OpenSQLite}, {"postgres", sqldbtest.OpenPostgres}} {
		b.Run(be.name, func(b *testing.B) {
			l, _ := newLog(be.open(b))
			ctx := context.Background()
			const rows = 20000
			var wg sync.WaitGroup
			for w := range 64 {
				wg.Go(func() {
					for i := w; i < rows; i += 64 {
						if err := l.Record(ctx, login(fmt.Sprint("acc-", i))); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.ResetTimer()
			for b.Loop() {
				if n, err := l.Verify(ctx); err != nil || n != rows {
					b.Fatalf("verify = %d, %v", n, err)
				}
			}
			b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
