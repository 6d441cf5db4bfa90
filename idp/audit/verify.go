package audit

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/xszz/xszz/internal/sqldb"
)

// TamperError reports the first broken link of the chain.
type TamperError struct {
	// Seq is the row at which the chain breaks: the edited row, the first
	// missing row, or the row whose predecessor changed.
	Seq    int64
	Reason string
}

func (e *TamperError) Error() string {
	return fmt.Sprintf("audit chain broken at seq %d: %s", e.Seq, e.Reason)
}

// chain walks entries in order and checks each link.
type chain struct {
	l    *Log
	seq  int64 // last seq seen
	hash string
	n    int
}

func (c *chain) next(e Entry) error {
	want := c.seq + 1
	switch {
	case e.Seq > want:
		return &TamperError{Seq: want, Reason: fmt.Sprintf("rows %d to %d are missing", want, e.Seq-1)}
	case e.Seq < want:
		return &TamperError{Seq: e.Seq, Reason: fmt.Sprintf("row out of order after seq %d", c.seq)}
	case e.PrevHash != c.hash:
		return &TamperError{Seq: e.Seq, Reason: "prev_hash does not match the previous row: a row before it was replaced or the chain reordered"}
	case c.l.sum(e.PrevHash, e.Seq, e.Event) != e.Hash:
		return &TamperError{Seq: e.Seq, Reason: "hash does not match the row's content: the row was edited (or the chain key is wrong)"}
	}
	c.seq, c.hash = e.Seq, e.Hash
	c.n++
	return nil
}

// Verify walks the chain from the archive checkpoint to the head and
// returns how many rows it checked, or a *TamperError at the first broken
// link: an edited row, a row missing in the middle or at the end, rows
// reordered. It reads one consistent snapshot, so appends and archiving
// may run meanwhile.
//
// A chain with an unkeyed hash (no WithKey) catches edits by anyone who
// does not recompute the rest of the chain; cutting rows from the end and
// moving the head with them is caught only against an outside record of the
// head, which RetainOnce logs every day.
func (l *Log) Verify(ctx context.Context) (checked int, err error) {
	opts := &sql.TxOptions{ReadOnly: true}
	if l.db.Dialect == sqldb.Postgres {
		opts.Isolation = sql.LevelRepeatableRead
	}
	tx, err := l.db.BeginTx(ctx, opts)
	if err != nil {
		return 0, fmt.Errorf("verify audit chain: begin: %w", err)
	}
	defer tx.Rollback()

	c := &chain{l: l}
	var headSeq int64
	var headHash string
	err = tx.QueryRowContext(ctx, `SELECT c.seq, c.hash, h.head_seq, h.head_hash FROM audit_checkpoint c, audit_chain h WHERE c.id = 1 AND h.id = 1`).
		Scan(&c.seq, &c.hash, &headSeq, &headHash)
	if err != nil {
		return 0, fmt.Errorf("verify audit chain: read checkpoint and head: %w", err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT `+columns+` FROM audit_log ORDER BY seq`)
	if err != nil {
		return 0, fmt.Errorf("verify audit chain: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return c.n, fmt.Errorf("verify audit chain after seq %d: %w", c.seq, err)
		}
		if err := c.next(e); err != nil {
			return c.n, err
		}
	}
	if err := rows.Err(); err != nil {
		return c.n, fmt.Errorf("verify audit chain after seq %d: %w", c.seq, err)
	}
	switch {
	case c.seq < headSeq:
		return c.n, &TamperError{Seq: c.seq + 1, Reason: fmt.Sprintf("rows %d to %d are missing from the end", c.seq+1, headSeq)}
	case c.seq > headSeq:
		return c.n, &TamperError{Seq: headSeq + 1, Reason: fmt.Sprintf("rows after the recorded head %d were added outside the log", headSeq)}
	case c.hash != headHash:
		return c.n, &TamperError{Seq: c.seq, Reason: "last row differs from the recorded head"}
	}
	return c.n, nil
}

// VerifyArchive checks the chain inside an archive file written by Archive
// (JSON lines, oldest first). The first row's predecessor is taken on
// trust, since it lives in the previous file.
func (l *Log) VerifyArchive(r io.Reader) (checked int, err error) {
	dec := json.NewDecoder(bufio.NewReader(r))
	c := &chain{l: l}
	for {
		var e Entry
		if err := dec.Decode(&e); errors.Is(err, io.EOF) {
			return c.n, nil
		} else if err != nil {
			return c.n, fmt.Errorf("verify audit archive after seq %d: %w", c.seq, err)
		}
		if c.n == 0 {
			c.seq, c.hash = e.Seq-1, e.PrevHash
		}
		if err := c.next(e); err != nil {
			return c.n, err
		}
	}
}
