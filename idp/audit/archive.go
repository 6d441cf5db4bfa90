package audit

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/xszz/xszz/internal/sqldb"
)

// archiveBatch bounds one archiving transaction, so SQLite's write lock
// (which every sign-in needs) is never held for long.
const archiveBatch = 5000

// Archive moves the oldest rows, up to the first one at or after olderThan,
// out of the table: it writes them to w as JSON lines (oldest first, each
// with its seq and hashes, so VerifyArchive can check the file) and deletes
// them in the same transaction, recording the last one as the checkpoint
// from which Verify checks the rest. Work is done in batches of a few
// thousand rows, one transaction each, and w is synced (when it has a Sync
// method, like *os.File) before each commit. A crash between sync and
// commit leaves rows both in w and in the table; the next run writes them
// again, and duplicates in an archive are harmless.
//
// Archive checks the chain of the rows it removes and refuses with a
// *TamperError if it is broken, so archiving never launders tampering.
func (l *Log) Archive(ctx context.Context, olderThan time.Time, w io.Writer) (n int, err error) {
	for {
		k, err := l.archiveOnce(ctx, olderThan.UnixMilli(), w)
		n += k
		if err != nil || k < archiveBatch {
			return n, err
		}
	}
}

func (l *Log) archiveOnce(ctx context.Context, cutoffMs int64, w io.Writer) (int, error) {
	lock := `SELECT seq, hash FROM audit_checkpoint WHERE id = 1`
	if l.db.Dialect == sqldb.Postgres {
		// Locks out other archivers only: appends lock audit_chain.
		lock += ` FOR UPDATE`
	}
	var n int
	err := l.db.InTx(ctx, func(tx *sql.Tx) error {
		c := &chain{l: l}
		if err := tx.QueryRowContext(ctx, lock).Scan(&c.seq, &c.hash); err != nil {
			return fmt.Errorf("read checkpoint: %w", err)
		}
		rows, err := tx.QueryContext(ctx, `SELECT `+columns+` FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2`, c.seq, archiveBatch)
		if err != nil {
			return fmt.Errorf("read rows after seq %d: %w", c.seq, err)
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		first := c.seq
		for rows.Next() {
			e, err := scanEntry(rows)
			if err != nil {
				rows.Close()
				return err
			}
			// Only the unbroken run of old rows goes: a row stamped late
			// (a clock behind) holds back the rows after it, so the table
			// never keeps a row whose predecessor is gone.
			if e.Time.UnixMilli() >= cutoffMs {
				break
			}
			if err := c.next(e); err != nil {
				rows.Close()
				return err
			}
			if err := enc.Encode(e); err != nil {
				rows.Close()
				return fmt.Errorf("encode seq %d: %w", e.Seq, err)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read rows after seq %d: %w", first, err)
		}
		if c.n == 0 {
			return nil
		}
		if _, err := w.Write(buf.Bytes()); err != nil {
			return fmt.Errorf("write archive: %w", err)
		}
		if s, ok := w.(interface{ Sync() error }); ok {
			if err := s.Sync(); err != nil {
				return fmt.Errorf("sync archive: %w", err)
			}
		}
		// The checkpoint moves first: the table's delete guard lets only
		// rows at or below it go.
		if _, err := tx.ExecContext(ctx, `UPDATE audit_checkpoint SET seq = $1, hash = $2, archived_at = $3 WHERE id = 1`,
			c.seq, c.hash, l.now().Unix()); err != nil {
			return fmt.Errorf("move checkpoint to %d: %w", c.seq, err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM audit_log WHERE seq > $1 AND seq <= $2`, first, c.seq); err != nil {
			return fmt.Errorf("delete seq %d to %d: %w", first+1, c.seq, err)
		}
		n = c.n
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("archive audit log: %w", err)
	}
	return n, nil
}

// Retention bounds. Six months is the Cybersecurity Law's minimum (art. 21).
const (
	DefaultRetention = 180 * 24 * time.Hour
	MinRetention     = DefaultRetention
)

// RetainOnce archives every row older than keep to a new dated file in dir
// (audit-YYYYMMDD-*.jsonl, mode 0600) and logs the chain's head, so the log
// outside the database holds an anchor against cutting rows off the end.
// keep is raised to MinRetention if shorter. It returns the file's path, or
// "" when there was nothing to archive.
func (l *Log) RetainOnce(ctx context.Context, keep time.Duration, dir string) (path string, n int, err error) {
	if keep <= 0 {
		keep = DefaultRetention
	}
	if keep < MinRetention {
		l.log.Warn("audit retention shorter than the legal minimum; using the minimum", "asked", keep, "used", MinRetention)
		keep = MinRetention
	}
	now := l.now()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", 0, fmt.Errorf("audit retention: %w", err)
	}
	f, err := os.CreateTemp(dir, "audit-"+now.UTC().Format("20060102")+"-*.jsonl")
	if err != nil {
		return "", 0, fmt.Errorf("audit retention: %w", err)
	}
	path = f.Name()
	n, err = l.Archive(ctx, now.Add(-keep), f)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close %s: %w", path, cerr)
	}
	if n == 0 {
		os.Remove(path)
		path = ""
	}
	if err != nil {
		return path, n, fmt.Errorf("audit retention: %w", err)
	}
	var seq int64
	var head string
	if err := l.db.QueryRowContext(ctx, `SELECT head_seq, head_hash FROM audit_chain WHERE id = 1`).Scan(&seq, &head); err != nil {
		return path, n, fmt.Errorf("audit retention: read head: %w", err)
	}
	l.log.Info("audit retention", "archived", n, "file", filepath.Base(path), "head_seq", seq, "head_hash", head)
	return path, n, nil
}

// RunRetention calls RetainOnce now and then once a day until ctx ends.
// Several IdP processes may run it: archiving is serialised in the
// database, and the later runs find nothing to move.
func (l *Log) RunRetention(ctx context.Context, keep time.Duration, archiveDir string) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, _, err := l.RetainOnce(ctx, keep, archiveDir); err != nil {
			l.log.Error("audit retention failed", "err", err)
		}
		t.Reset(24 * time.Hour)
	}
}
