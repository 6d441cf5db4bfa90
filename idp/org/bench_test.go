package org_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/xszz/xszz/idp/org"
	"github.com/xszz/xszz/idp/org/orggen"
	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/internal/sqldb/sqldbtest"
)

// BenchmarkImport600k imports a generated national-size file (600,000
// rows) into a freshly seeded database and reports rows/s. Like every
// benchmark it runs only when -bench selects it:
//
//	XSZZ_TEST_POSTGRES_URL=… go test ./idp/org -run '^$' -bench Import600k -benchtime 1x
//
// The budget is two minutes per backend on the 2-core VM.
func BenchmarkImport600k(b *testing.B) {
	var file bytes.Buffer
	if err := orggen.Generate(&file, orggen.Options{Rows: 600_000, Seed: 1}); err != nil {
		b.Fatal(err)
	}
	backends := []struct {
		name string
		open func(testing.TB) *sqldb.DB
	}{
		{"sqlite", sqldbtest.OpenSQLite},
		{"postgres", sqldbtest.OpenPostgres},
	}
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			ctx := context.Background()
			for b.Loop() {
				b.StopTimer()
				s := org.NewStore(be.open(b))
				if err := s.Seed(ctx); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				start := time.Now()
				res, err := s.Import(ctx, bytes.NewReader(file.Bytes()))
				if err != nil {
					b.Fatal(err)
				}
				d := time.Since(start)
				b.ReportMetric(float64(res.Rows)/d.Seconds(), "rows/s")
				b.Logf("%s: imported %d rows (%d new) in %v: %.0f rows/s", be.name, res.Rows, res.Inserted, d.Round(time.Millisecond), float64(res.Rows)/d.Seconds())
				if res.Rows != 600_000 {
					b.Fatalf("imported %d rows, want 600000", res.Rows)
				}
				// Re-importing the same file finds every row unchanged.
				b.StopTimer()
				start = time.Now()
				res, err = s.Import(ctx, bytes.NewReader(file.Bytes()))
				if err != nil || res.Unchanged != 600_000 {
					b.Fatalf("re-import: %+v, %v", res, err)
				}
				b.Logf("%s: re-imported the same file (all unchanged) in %v", be.name, time.Since(start).Round(time.Millisecond))
				b.StartTimer()
			}
		})
	}
}
