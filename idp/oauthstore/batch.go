package oauthstore

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/xszz/xszz/idp/sqldb"
)

// Every token request stores a row, and on SQLite each commit rewrites the
// touched index pages into the WAL; on PostgreSQL each commit waits for a
// WAL flush. Rows that arrive while another insert is being written are
// therefore queued and written together, in one multi-row INSERT: one
// statement, one commit, whatever the number of rows (group commit). Alone,
// a row is written at once, as before; nobody waits for a timer. A row is
// only reported stored once its batch has committed.

// maxBatch bounds one INSERT (10 parameters a row; SQLite allows 32766).
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
	row  row
	done chan error // receives the row's outcome, or errLead
}

// errLead hands the next queued request the job of writing the queue.
var errLead = errors.New("lead the next batch")

type batcher struct {
	db *sqldb.DB

	mu    sync.Mutex
	queue []*pending
	busy  bool // a leader is writing

	stmtMu sync.Mutex
	stmts  map[int]string // INSERT text per row count
}

func newBatcher(db *sqldb.DB) *batcher {
	return &batcher{db: db, stmts: map[int]string{}}
}

// insert stores r, batched with whatever rows are queued meanwhile.
func (b *batcher) insert(ctx context.Context, r row) error {
	me := &pending{row: r, done: make(chan error, 1)}
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
		args := make([]any, 0, 10*len(batch))
		for _, p := range batch {
			args = append(args, p.row.args()...)
		}
		if _, err := b.db.ExecContext(ctx, b.stmt(len(batch)), args...); err == nil {
			for _, p := range batch {
				p.done <- nil
			}
			return
		}
	}
	for _, p := range batch {
		_, err := b.db.ExecContext(ctx, b.stmt(1), p.row.args()...)
		p.done <- err
	}
}

func (r row) args() []any {
	return []any{r.kind, r.signature, r.requestID, r.clientID, r.subject, r.sessionID, true, r.requestedAt, r.expiresAt, r.data}
}

const insertHead = `INSERT INTO oauth_requests (kind, signature, request_id, client_id, subject, session_id, active, requested_at, expires_at, data) VALUES `

func (b *batcher) stmt(n int) string {
	b.stmtMu.Lock()
	defer b.stmtMu.Unlock()
	if s, ok := b.stmts[n]; ok {
		return s
	}
	var sb strings.Builder
	sb.WriteString(insertHead)
	for i := range n {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteByte('(')
		for j := range 10 {
			if j > 0 {
				sb.WriteString(", ")
			}
			sb.WriteByte('$')
			sb.WriteString(strconv.Itoa(10*i + j + 1))
		}
		sb.WriteByte(')')
	}
	s := sb.String()
	b.stmts[n] = s
	return s
}
