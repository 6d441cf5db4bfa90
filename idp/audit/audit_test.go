package audit_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xszz/xszz/idp/audit"
	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/internal/sqldb/sqldbtest"
)

var t0 = time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)

// clock is a fake time that tests move by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newLog(db *sqldb.DB, opts ...audit.Option) (*audit.Log, *clock) {
	c := &clock{now: t0}
	return audit.New(db, c.Now, quiet(), opts...), c
}

func login(subject string) audit.Event {
	return audit.Event{Type: "login.success", Result: audit.Success, ActorID: subject, SubjectID: subject,
		OrgID: "320000", OrgPath: "/000000/320000/", IP: "203.0.113.7", UserAgent: "Mozilla/5.0"}
}

// record appends n sign-ins one minute apart.
func record(t testing.TB, l *audit.Log, c *clock, n int) {
	t.Helper()
	for i := range n {
		if err := l.Record(context.Background(), login(fmt.Sprintf("acc-%d", i+1))); err != nil {
			t.Fatalf("record %d: %v", i+1, err)
		}
		c.Advance(time.Minute)
	}
}

func verifyOK(t *testing.T, l *audit.Log, want int) {
	t.Helper()
	n, err := l.Verify(context.Background())
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if n != want {
		t.Fatalf("verify checked %d rows, want %d", n, want)
	}
}

func TestRecordThenVerify(t *testing.T) {
	t.Parallel()
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		l, c := newLog(db)
		verifyOK(t, l, 0)
		e := audit.Event{
			Type: "login.failure", Result: audit.Failure, Reason: "invalid_code",
			ActorID: "acc-1", SubjectID: "acc-1", OrgID: "320100", OrgPath: "/000000/320000/320100/",
			IP: "2001:db8::1", UserAgent: "Mozilla/5.0 (iPhone) 微信",
			Detail: map[string]string{"phone": "138****8000", "client_id": "office", "note": "<script>&"},
		}
		if err := l.Record(ctx, e); err != nil {
			t.Fatal(err)
		}
		c.Advance(1500 * time.Millisecond)
		record(t, l, c, 4)
		verifyOK(t, l, 5)

		got, err := l.Search(ctx, audit.Query{Type: "login.failure"})
		if err != nil || len(got) != 1 {
			t.Fatalf("search: %v, %d entries", err, len(got))
		}
		e.Time = t0
		if got[0].Seq != 1 || got[0].PrevHash != "" || len(got[0].Hash) != 64 {
			t.Errorf("chain fields: seq %d prev %q hash %q", got[0].Seq, got[0].PrevHash, got[0].Hash)
		}
		if g, _ := json.Marshal(got[0].Event); string(g) != mustJSON(e) {
			t.Errorf("stored event\n got %s\nwant %s", g, mustJSON(e))
		}
		second, _ := l.Search(ctx, audit.Query{Limit: 1, BeforeSeq: 3})
		if second[0].PrevHash != got[0].Hash || !second[0].Time.Equal(t0.Add(1500*time.Millisecond)) {
			t.Errorf("seq 2 = %+v, want prev_hash of seq 1 and a millisecond time", second[0])
		}
	})
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

func TestRecordRefusesEventsWithoutTypeOrResult(t *testing.T) {
	t.Parallel()
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		l, _ := newLog(db)
		for _, e := range []audit.Event{
			{Result: audit.Success},
			{Type: "login.success"},
			{Type: "login.success", Result: "ok"},
		} {
			if err := l.Record(context.Background(), e); !errors.Is(err, audit.ErrInvalidEvent) {
				t.Errorf("Record(%+v) = %v, want ErrInvalidEvent", e, err)
			}
		}
		verifyOK(t, l, 0)
	})
}

func TestRecordGivesUpWithItsContext(t *testing.T) {
	t.Parallel()
	db := sqldbtest.OpenSQLite(t)
	l, _ := newLog(db)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.Record(ctx, login("a")); !errors.Is(err, context.Canceled) {
		t.Errorf("Record with a cancelled context = %v", err)
	}
	verifyOK(t, l, 0)
}

func TestRecordStoresHostileInputSafely(t *testing.T) {
	t.Parallel()
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		l, _ := newLog(db)
		e := login("acc-1")
		e.UserAgent = "bad\x00utf8\xff" + strings.Repeat("x", 5000)
		e.Detail = map[string]string{"k\x00": "v\xfe"}
		if err := l.Record(ctx, e); err != nil {
			t.Fatal(err)
		}
		verifyOK(t, l, 1)
		got, _ := l.Search(ctx, audit.Query{})
		if ua := got[0].UserAgent; len(ua) > 1024 || strings.ContainsRune(ua, 0) || !strings.HasPrefix(ua, "badutf8\uFFFD") {
			t.Errorf("user agent stored as %q…", ua[:20])
		}
	})
}

// tamper runs statements as someone with DDL rights would: the table's
// guards switched off first.
func tamper(t *testing.T, db *sqldb.DB, stmts ...string) {
	t.Helper()
	ctx := context.Background()
	off := []string{`DROP TRIGGER audit_log_no_update`, `DROP TRIGGER audit_log_no_delete`}
	if db.Dialect == sqldb.Postgres {
		off = []string{`ALTER TABLE audit_log DISABLE TRIGGER USER`}
	}
	for _, s := range append(off, stmts...) {
		if _, err := db.ExecContext(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func TestVerifyFindsTheFirstBrokenLink(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		stmts   []string
		wantSeq int64
	}{
		{"edited result", []string{`UPDATE audit_log SET result = 'failure' WHERE seq = 3`}, 3},
		{"edited time", []string{`UPDATE audit_log SET at_ms = at_ms + 1 WHERE seq = 2`}, 2},
		{"edited detail", []string{`UPDATE audit_log SET detail = '{"note":"x"}' WHERE seq = 4`}, 4},
		{"hash replaced", []string{`UPDATE audit_log SET hash = 'ff' WHERE seq = 2`}, 2},
		{"predecessor's hash rewritten to match an edit", []string{`UPDATE audit_log SET prev_hash = 'ff' WHERE seq = 3`}, 3},
		{"row deleted in the middle", []string{`DELETE FROM audit_log WHERE seq = 3`}, 3},
		{"two rows deleted in the middle", []string{`DELETE FROM audit_log WHERE seq IN (2, 3)`}, 2},
		{"first row deleted", []string{`DELETE FROM audit_log WHERE seq = 1`}, 1},
		{"last row deleted", []string{`DELETE FROM audit_log WHERE seq = 5`}, 5},
		{"rows swapped", []string{
			`UPDATE audit_log SET seq = 100 WHERE seq = 2`,
			`UPDATE audit_log SET seq = 2 WHERE seq = 3`,
			`UPDATE audit_log SET seq = 3 WHERE seq = 100`}, 2},
		{"row added past the head", []string{`INSERT INTO audit_log (seq, at_ms, type, result, prev_hash, hash) SELECT 6, at_ms, type, result, hash, hash FROM audit_log WHERE seq = 5`}, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
				l, c := newLog(db)
				record(t, l, c, 5)
				tamper(t, db, tt.stmts...)
				_, err := l.Verify(context.Background())
				var te *audit.TamperError
				if !errors.As(err, &te) {
					t.Fatalf("verify = %v, want a TamperError", err)
				}
				if te.Seq != tt.wantSeq {
					t.Errorf("broken at seq %d (%s), want %d", te.Seq, te.Reason, tt.wantSeq)
				}
			})
		})
	}
}

func TestDatabaseRefusesUpdatesAndEarlyDeletes(t *testing.T) {
	t.Parallel()
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		l, c := newLog(db)
		record(t, l, c, 3)
		stmts := []string{`UPDATE audit_log SET reason = 'x' WHERE seq = 2`, `DELETE FROM audit_log WHERE seq = 2`, `DELETE FROM audit_log`}
		if db.Dialect == sqldb.Postgres {
			stmts = append(stmts, `TRUNCATE audit_log`)
		}
		for _, s := range stmts {
			if _, err := db.ExecContext(ctx, s); err == nil {
				t.Errorf("%s: accepted", s)
			}
		}
		verifyOK(t, l, 3)
	})
}

func TestKeyedChainNeedsItsKey(t *testing.T) {
	t.Parallel()
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		l, c := newLog(db, audit.WithKey([]byte("chain key from config")))
		record(t, l, c, 3)
		verifyOK(t, l, 3)
		for name, other := range map[string]*audit.Log{
			"no key":    audit.New(db, c.Now, quiet()),
			"other key": audit.New(db, c.Now, quiet(), audit.WithKey([]byte("guess"))),
		} {
			var te *audit.TamperError
			if _, err := other.Verify(ctx); !errors.As(err, &te) || te.Seq != 1 {
				t.Errorf("%s: verify = %v, want a break at seq 1", name, err)
			}
		}
	})
}

func TestConcurrentRecordKeepsTheChain(t *testing.T) {
	t.Parallel()
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		// Four Logs stand for four IdP processes: each group-commits on its
		// own, so their batches meet in the database's lock on the head.
		var logs [4]*audit.Log
		for i := range logs {
			logs[i], _ = newLog(db)
		}
		l := logs[0]
		const writers, each = 20, 10
		var wg sync.WaitGroup
		errs := make(chan error, writers*each)
		for w := range writers {
			wg.Go(func() {
				for i := range each {
					errs <- logs[w%len(logs)].Record(ctx, login(fmt.Sprintf("w%d-%d", w, i)))
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		// Verify fails on any gap, duplicate or fork, so this also says
		// the seqs run 1…200 without holes.
		verifyOK(t, l, writers*each)
		var lo, hi, n int64
		if err := db.QueryRowContext(ctx, `SELECT MIN(seq), MAX(seq), COUNT(*) FROM audit_log`).Scan(&lo, &hi, &n); err != nil {
			t.Fatal(err)
		}
		if lo != 1 || hi != writers*each || n != writers*each {
			t.Errorf("seqs %d…%d, %d rows; want 1…%d", lo, hi, n, writers*each)
		}
	})
}

func TestSearchFilters(t *testing.T) {
	t.Parallel()
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		l, c := newLog(db)
		events := []audit.Event{
			{Type: "login.success", ActorID: "a1", SubjectID: "a1", OrgID: "320100", OrgPath: "/000000/320000/320100/"}, // seq 1
			{Type: "login.failure", ActorID: "a2", SubjectID: "a2", OrgID: "320000", OrgPath: "/000000/320000/"},        // 2
			{Type: "account.approved", ActorID: "a2", SubjectID: "a3", OrgID: "3200001", OrgPath: "/000000/3200001/"},   // 3: sibling, not in 320000's subtree
			{Type: "login.success", ActorID: "a4", SubjectID: "a4", OrgID: "110000", OrgPath: "/000000/110000/"},        // 4
			{Type: "key.rotated", ActorID: "system"}, // 5
			{Type: "login.success", ActorID: "a1", SubjectID: "a1", OrgID: "320100", OrgPath: "/000000/320000/320100/"},  // 6
			{Type: "grant.added", ActorID: "a2", SubjectID: "a1", OrgID: "320100", OrgPath: "/000000/320000/320100/%_/"}, // 7: LIKE characters are plain text
		}
		for _, e := range events {
			e.Result = audit.Success
			if err := l.Record(ctx, e); err != nil {
				t.Fatal(err)
			}
			c.Advance(time.Hour)
		}
		tests := []struct {
			name string
			q    audit.Query
			want []int64
		}{
			{"everything, newest first", audit.Query{}, []int64{7, 6, 5, 4, 3, 2, 1}},
			{"type", audit.Query{Type: "login.success"}, []int64{6, 4, 1}},
			{"subject", audit.Query{SubjectID: "a1"}, []int64{7, 6, 1}},
			{"actor", audit.Query{ActorID: "a2"}, []int64{7, 3, 2}},
			{"time range: since inclusive, until exclusive", audit.Query{Since: t0.Add(time.Hour), Until: t0.Add(4 * time.Hour)}, []int64{4, 3, 2}},
			{"subtree", audit.Query{OrgPathPrefix: "/000000/320000/"}, []int64{7, 6, 2, 1}},
			{"deeper subtree", audit.Query{OrgPathPrefix: "/000000/320000/320100/"}, []int64{7, 6, 1}},
			{"whole country", audit.Query{OrgPathPrefix: "/000000/"}, []int64{7, 6, 4, 3, 2, 1}},
			{"prefix with LIKE characters", audit.Query{OrgPathPrefix: "/000000/320000/320100/%"}, []int64{7}},
			{"org ids", audit.Query{OrgIDs: []string{"320000", "110000"}}, []int64{4, 2}},
			{"filters combine", audit.Query{OrgPathPrefix: "/000000/320000/", Type: "login.success"}, []int64{6, 1}},
			{"limit", audit.Query{Limit: 2}, []int64{7, 6}},
			{"next page", audit.Query{Limit: 2, BeforeSeq: 6}, []int64{5, 4}},
			{"nothing", audit.Query{SubjectID: "nobody"}, nil},
		}
		for _, tt := range tests {
			got, err := l.Search(ctx, tt.q)
			if err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			var seqs []int64
			for _, e := range got {
				seqs = append(seqs, e.Seq)
			}
			if fmt.Sprint(seqs) != fmt.Sprint(tt.want) {
				t.Errorf("%s: got seqs %v, want %v", tt.name, seqs, tt.want)
			}
		}
	})
}

func TestExport(t *testing.T) {
	t.Parallel()
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		l, c := newLog(db)
		record(t, l, c, 3)
		hostile := login("acc-x")
		hostile.UserAgent = "=HYPERLINK(\"http://evil\")"
		hostile.Detail = map[string]string{"client_id": "office"}
		if err := l.Record(ctx, hostile); err != nil {
			t.Fatal(err)
		}

		var buf bytes.Buffer
		if err := l.Export(ctx, &buf, audit.CSV, audit.Query{}); err != nil {
			t.Fatal(err)
		}
		rows, err := csv.NewReader(&buf).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 5 || rows[0][0] != "seq" || rows[1][0] != "4" || rows[4][0] != "1" {
			t.Fatalf("csv rows = %q", rows)
		}
		if ua := rows[1][10]; ua != `'=HYPERLINK("http://evil")` {
			t.Errorf("csv user agent = %q, want it defused with a leading quote", ua)
		}
		if d := rows[1][11]; d != `{"client_id":"office"}` {
			t.Errorf("csv detail = %q", d)
		}

		buf.Reset()
		if err := l.Export(ctx, &buf, audit.JSONLines, audit.Query{Limit: 2}); err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
		if len(lines) != 2 {
			t.Fatalf("jsonl with limit 2: %d lines", len(lines))
		}
		var e audit.Entry
		if err := json.Unmarshal([]byte(lines[1]), &e); err != nil || e.Seq != 3 || e.SubjectID != "acc-3" || len(e.Hash) != 64 {
			t.Errorf("second line = %s (%v)", lines[1], err)
		}

		if err := l.Export(ctx, io.Discard, "xml", audit.Query{}); err == nil {
			t.Error("unknown format accepted")
		}
	})
}

func TestExportReadsEveryPage(t *testing.T) {
	t.Parallel()
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		l, _ := newLog(db)
		const n = audit.MaxLimit + 5
		var wg sync.WaitGroup
		for w := range 5 {
			wg.Go(func() {
				for i := w; i < n; i += 5 {
					if err := l.Record(context.Background(), login(fmt.Sprint("acc-", i))); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		var buf bytes.Buffer
		if err := l.Export(context.Background(), &buf, audit.JSONLines, audit.Query{}); err != nil {
			t.Fatal(err)
		}
		if got := strings.Count(buf.String(), "\n"); got != n {
			t.Errorf("exported %d rows, want %d", got, n)
		}
	})
}

func TestArchiveKeepsTheRestVerifiable(t *testing.T) {
	t.Parallel()
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		l, c := newLog(db)
		record(t, l, c, 10) // t0, t0+1m, … t0+9m

		var file bytes.Buffer
		n, err := l.Archive(ctx, t0.Add(4*time.Minute), &file)
		if err != nil || n != 4 {
			t.Fatalf("archive = %d, %v; want 4 rows", n, err)
		}
		if got, err := l.VerifyArchive(bytes.NewReader(file.Bytes())); err != nil || got != 4 {
			t.Errorf("verify archive file = %d, %v", got, err)
		}
		var first audit.Entry
		if err := json.NewDecoder(bytes.NewReader(file.Bytes())).Decode(&first); err != nil || first.Seq != 1 || first.SubjectID != "acc-1" {
			t.Errorf("first archived row = %+v, %v", first, err)
		}
		verifyOK(t, l, 6)

		// Archiving again with the same cutoff finds nothing; appends go on.
		if n, err := l.Archive(ctx, t0.Add(4*time.Minute), &file); n != 0 || err != nil {
			t.Errorf("second archive = %d, %v", n, err)
		}
		record(t, l, c, 2)
		verifyOK(t, l, 8)

		// The remainder is still guarded: its first row cannot vanish.
		tamper(t, db, `DELETE FROM audit_log WHERE seq = 5`)
		var te *audit.TamperError
		if _, err := l.Verify(ctx); !errors.As(err, &te) || te.Seq != 5 {
			t.Errorf("verify after deleting the first kept row = %v, want a break at 5", err)
		}
	})
}

func TestArchiveEverythingThenAppend(t *testing.T) {
	t.Parallel()
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		l, c := newLog(db)
		record(t, l, c, 3)
		if n, err := l.Archive(ctx, c.Now(), io.Discard); n != 3 || err != nil {
			t.Fatalf("archive = %d, %v", n, err)
		}
		verifyOK(t, l, 0)
		record(t, l, c, 1)
		verifyOK(t, l, 1)
	})
}

func TestArchiveStopsAtALateStampedRow(t *testing.T) {
	t.Parallel()
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		l, c := newLog(db)
		record(t, l, c, 2)
		late := login("late")
		late.Time = t0.Add(24 * time.Hour) // a writer whose clock runs ahead
		if err := l.Record(ctx, late); err != nil {
			t.Fatal(err)
		}
		record(t, l, c, 2)
		if n, err := l.Archive(ctx, t0.Add(time.Hour), io.Discard); n != 2 || err != nil {
			t.Errorf("archive = %d, %v; want the 2 rows before the late one", n, err)
		}
		verifyOK(t, l, 3)
	})
}

func TestArchiveRefusesABrokenChain(t *testing.T) {
	t.Parallel()
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		l, c := newLog(db)
		record(t, l, c, 5)
		tamper(t, db, `UPDATE audit_log SET subject_id = 'someone-else' WHERE seq = 2`)
		var file bytes.Buffer
		n, err := l.Archive(ctx, c.Now(), &file)
		var te *audit.TamperError
		if !errors.As(err, &te) || te.Seq != 2 || n != 0 || file.Len() != 0 {
			t.Fatalf("archive = %d, %v, %d bytes written; want a refusal at seq 2", n, err, file.Len())
		}
		if _, err := l.Verify(ctx); !errors.As(err, &te) || te.Seq != 2 {
			t.Errorf("tampering no longer visible: %v", err)
		}
	})
}

func TestRetainOnceWritesADatedFile(t *testing.T) {
	t.Parallel()
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		l, c := newLog(db)
		record(t, l, c, 3)
		dir := filepath.Join(t.TempDir(), "archive")

		// Shorter than the legal minimum: raised to 180 days, nothing is old enough.
		c.Advance(30 * 24 * time.Hour)
		if path, n, err := l.RetainOnce(ctx, time.Hour, dir); path != "" || n != 0 || err != nil {
			t.Fatalf("retain after 30 days = %q, %d, %v; want nothing archived", path, n, err)
		}
		c.Advance(151 * 24 * time.Hour)
		path, n, err := l.RetainOnce(ctx, 0, dir)
		if err != nil || n != 3 {
			t.Fatalf("retain after 181 days = %q, %d, %v", path, n, err)
		}
		if want := "audit-" + c.Now().Format("20060102") + "-"; !strings.HasPrefix(filepath.Base(path), want) {
			t.Errorf("archive file %s, want a name starting %s", path, want)
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if st, _ := f.Stat(); st.Mode().Perm() != 0o600 {
			t.Errorf("archive file mode %v, want 0600", st.Mode().Perm())
		}
		if got, err := l.VerifyArchive(f); got != 3 || err != nil {
			t.Errorf("verify archive = %d, %v", got, err)
		}
		verifyOK(t, l, 0)
	})
}

func TestRunRetentionStopsWithItsContext(t *testing.T) {
	t.Parallel()
	db := sqldbtest.OpenSQLite(t)
	l, _ := newLog(db)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { l.RunRetention(ctx, 0, t.TempDir()); close(done) }()
	cancel()
	<-done
}
