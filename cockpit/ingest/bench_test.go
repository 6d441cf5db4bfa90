package ingest_test

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"runtime/metrics"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xszz/xszz/cockpit/facts"
	"github.com/xszz/xszz/cockpit/ingest"
	"github.com/xszz/xszz/cockpit/load"
	"github.com/xszz/xszz/cockpit/region"
	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/internal/sqldb/sqldbtest"
)

var tree = region.MustLoad()

// benchLines is the lines of each file the benchmark imports.
const benchLines = 50_000

// BenchmarkImport imports a students file (every pseudonym checked to be
// new) and an aid records file (every pseudonym looked up) of 50,000
// lines into a database that already holds 100,000 and then 1,000,000
// students, on SQLite and, with XSZZ_TEST_POSTGRES_URL, PostgreSQL. It
// reports lines/s and peak-MB, the most the Go heap grew above what it
// held before the import (sampled every millisecond): the import's memory
// should not grow with the students stored. `go test -bench Import
// -benchtime 3x ./cockpit/ingest`; the figures are in docs/cockpit.md.
func BenchmarkImport(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			var db *sqldb.DB
			if backend == "sqlite" {
				db = sqldbtest.OpenSQLite(b)
			} else {
				db = sqldbtest.OpenPostgres(b)
			}
			stored := 0
			for _, want := range []int{100_000, 1_000_000} {
				storeStudents(b, db, stored, want)
				stored = want
				b.Run(fmt.Sprintf("stored=%d", stored), func(b *testing.B) {
					b.Run("students", func(b *testing.B) {
						file := 0
						benchImport(b, db, func() []byte {
							file++
							var buf bytes.Buffer
							buf.WriteString("anon_id,region_code,school_code,stage\n")
							for i := range benchLines {
								fmt.Fprintf(&buf, "N%d-%d-%07d,510104,B0001,bachelor\n", stored, file, i)
							}
							return buf.Bytes()
						})
					})
					b.Run("aid_records", func(b *testing.B) {
						benchImport(b, db, func() []byte {
							var buf bytes.Buffer
							buf.WriteString("anon_id,year,programme,source,amount,paid_on\n")
							for i := range benchLines {
								fmt.Fprintf(&buf, "B%08d,2025,he_grant,central,3700,2025-10-15\n", (i*7919)%stored)
							}
							return buf.Bytes()
						})
					})
				})
			}
		})
	}
}

// storeStudents adds students B<from>…B<to-1> (and their school) straight
// through the loader, as a large import before would have.
func storeStudents(b *testing.B, db *sqldb.DB, from, to int) {
	b.Helper()
	err := load.Run(context.Background(), db, func(w *load.Writer) error {
		if from == 0 {
			if err := w.Add(facts.Schools, 1, "B0001", "510104", "基准大学"); err != nil {
				return err
			}
		}
		var id int64
		if err := w.Query(`SELECT COALESCE(MAX(id), 0) FROM cockpit_students`, nil, func(scan func(...any) error) error { return scan(&id) }); err != nil {
			return err
		}
		for i := from; i < to; i++ {
			id++
			if err := w.Add(facts.Students, id, fmt.Sprintf("B%08d", i), "510104", 1, "bachelor"); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}

func benchImport(b *testing.B, db *sqldb.DB, file func() []byte) {
	ctx := context.Background()
	b.ReportAllocs()
	var peak int64
	var took time.Duration
	for b.Loop() {
		b.StopTimer()
		data := file()
		runtime.GC()
		base := heapBytes()
		var top atomic.Int64
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			t := time.NewTicker(time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-stop:
					return
				case <-t.C:
					if h := heapBytes() - base; h > top.Load() {
						top.Store(h)
					}
				}
			}
		}()
		b.StartTimer()
		start := time.Now()
		res, err := importFile(ctx, db, data)
		took += time.Since(start)
		b.StopTimer()
		close(stop)
		<-done
		if err != nil || res.Rows != benchLines {
			b.Fatalf("import: %d rows, %v", res.Rows, err)
		}
		peak = max(peak, top.Load())
		b.StartTimer()
	}
	b.ReportMetric(float64(b.N*benchLines)/took.Seconds(), "lines/s")
	b.ReportMetric(float64(peak)/(1<<20), "peak-MB")
}

func heapBytes() int64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64())
}

func importFile(ctx context.Context, db *sqldb.DB, data []byte) (ingest.Result, error) {
	return ingest.File(ctx, db, tree, ingest.Bytes("bench.csv", data), nil)
}
