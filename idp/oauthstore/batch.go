package oauthstore

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/xszz/xszz/internal/sqldb"
)

// Every token request stores a row, and on SQLite each commit rewrites the
// touched index pages into the WAL; on PostgreSQL each commit waits for a
// WAL flush. Rows that arrive while another statement of the same kind is
// being written are therefore queued and written together, in one
// multi-row INSERT (or one DELETE … IN for spent PKCE and OpenID Connect
// state): one statement, one commit, whatever the number of rows (group
// commit). Alone, a row is written at once, as before; nobody waits for a
// timer. A call returns only once its batch has committed.

// maxBatch bounds one statement (10 parameters a row; SQLite allows 32766).
const maxBatch = 64

// flushTimeout bounds a batch's write: it runs detached from the request
// that happened to lead it, so that request's cancellation does not fail
// the others' rows.
const flushTimeout = 15 * time.Second

type row struct {
	kind, signature, requestID, clientID, subject, sessionID string
	requestedAt, expiresAt                                   int64
	data                                                     string
}

type pending struct {
	args []any      // one group of the statement's parameters
	done chan error // receives the row's outcome, or errLead
}

// errLead hands the next queued request the job of writing the queue.
var errLead = errors.New("lead the next batch")

// batcher runs one statement for many rows: head, then a parenthesised
// group of width placeholders per row, comma-separated, then tail.
type batcher struct {
	db         sqldb.Querier
	head, tail string
	width      int

	mu    sync.Mutex
	queue []*pending
	busy  bool // a leader is writing

	stmtMu   sync.Mutex
	stmts    map[int]string    // statement text per row count
	prepared map[int]*sql.Stmt // prepared statement per row count
}

func newBatcher(db sqldb.Querier, head, tail string, width int) *batcher {
	return &batcher{db: db, head: head, tail: tail, width: width, stmts: map[int]string{}, prepared: map[int]*sql.Stmt{}}
}

// preparer is a pool that prepares statements (*sql.DB). SQLite parses a
// statement each time it is executed unprepared, ~8 % of the insert.
type preparer interface {
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
}

// exec runs the statement for n rows, prepared once per row count (each
// connection of the pool prepares it on first use).
func (b *batcher) exec(ctx context.Context, n int, args []any) error {
	p, ok := b.db.(preparer)
	if !ok {
		_, err := b.db.ExecContext(ctx, b.stmt(n), args...)
		return err
	}
	b.stmtMu.Lock()
	st := b.prepared[n]
	b.stmtMu.Unlock()
	if st == nil {
		var err error
		if st, err = p.PrepareContext(ctx, b.stmt(n)); err != nil {
			return err
		}
		b.stmtMu.Lock()
		if old := b.prepared[n]; old != nil {
			st.Close()
			st = old
		} else {
			b.prepared[n] = st
		}
		b.stmtMu.Unlock()
	}
	_, err := st.ExecContext(ctx, args...)
	return err
}

const insertHead = `INSERT INTO oauth_requests (kind, signature, request_id, client_id, subject, session_id, active, requested_at, expires_at, data) VALUES `

// newInserter batches inserts of token rows.
func newInserter(db sqldb.Querier) *batcher { return newBatcher(db, insertHead, "", 10) }

// newDeleter batches deletes by (kind, signature).
func newDeleter(db sqldb.Querier) *batcher {
	return newBatcher(db, `DELETE FROM oauth_requests WHERE (kind, signature) IN (`, `)`, 2)
}

// run executes the statement for args, batched with whatever rows are
// queued meanwhile.
func (b *batcher) run(ctx context.Context, args ...any) error {
	me := &pending{args: args, done: make(chan error, 1)}
	b.mu.Lock()
	b.queue = append(b.queue, me)
	lead := !b.busy
	b.busy = true
	b.mu.Unlock()
	if !lead {
		// Waiting is not abandoned on cancellation: the row may be in a
		// batch already, and the leader hand-over must not be lost.
		if err := <-me.done; err != errLead {
			return err
		}
	}
	// Leading: this row is first in the queue. Write up to maxBatch rows,
	// then hand the rest to the next request in line.
	b.mu.Lock()
	n := min(len(b.queue), maxBatch)
	batch := b.queue[:n:n]
	b.queue = b.queue[n:]
	b.mu.Unlock()

	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), flushTimeout)
	b.flush(fctx, batch)
	cancel()

	b.mu.Lock()
	if len(b.queue) == 0 {
		b.queue, b.busy = nil, false
	} else {
		b.queue[0].done <- errLead
	}
	b.mu.Unlock()
	return <-me.done
}

// flush writes the batch and tells each row its outcome. A failed
// multi-row INSERT is retried row by row, so one bad row (a duplicate
// signature) fails alone.
func (b *batcher) flush(ctx context.Context, batch []*pending) {
	if len(batch) > 1 {
		args := make([]any, 0, b.width*len(batch))
		for _, p := range batch {
			args = append(args, p.args...)
		}
		if err := b.exec(ctx, len(batch), args); err == nil {
			for _, p := range batch {
				p.done <- nil
			}
			return
		}
	}
	for _, p := range batch {
		p.done <- b.exec(ctx, 1, p.args)
	}
}

func (r row) args() []any {
	return []any{r.kind, r.signature, r.requestID, r.clientID, r.subject, r.sessionID, true, r.requestedAt, r.expiresAt, r.data}
}

func (b *batcher) stmt(n int) string {
	b.stmtMu.Lock()
	defer b.stmtMu.Unlock()
	if s, ok := b.stmts[n]; ok {
		return s
	}
	var sb strings.Builder
	sb.WriteString(b.head)
	for i := range n {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteByte('(')
		for j := range b.width {
			if j > 0 {
				sb.WriteString(", ")
			}
			sb.WriteByte('$')
			sb.WriteString(strconv.Itoa(b.width*i + j + 1))
		}
		sb.WriteByte(')')
	}
	sb.WriteString(b.tail)
	s := sb.String()
	b.stmts[n] = s
	return s
}
