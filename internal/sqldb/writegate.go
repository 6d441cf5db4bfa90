package sqldb

import (
	"context"
	"database/sql/driver"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// SQLite allows one writer at a time. When two connections of the pool
// want to write at once, the loser gets SQLITE_BUSY and SQLite's busy
// handler sleeps 1, 2, 5, 10… ms before it tries again: under a burst of
// token requests most of the time goes to those sleeps, and the CPU idles.
// The write gate queues writers inside the process instead, so a writer
// starts the moment the previous one commits. Readers never wait for it
// (WAL lets them run beside the writer). Other processes on the same file
// (the CLI beside a running server) still meet SQLite's busy_timeout.
//
// A write is an Exec outside a transaction, a transaction (immediate, so it
// holds the write lock from BEGIN to COMMIT anyway), or a Query that is not
// a plain SELECT (INSERT … RETURNING, PRAGMA).

// gateWait is how long a writer waits for the gate before giving up, as
// busy_timeout would.
const gateWait = 10 * time.Second

var errGateTimeout = errors.New("sqlite: database is locked: waited 10s for the write lock")

// writeGate is a semaphore of one.
type writeGate chan struct{}

// gates holds one gate per database file, so two handles on one file in a
// process (tests, the bench) share it.
var (
	gatesMu sync.Mutex
	gates   = map[string]writeGate{}
)

func gateFor(path string) writeGate {
	gatesMu.Lock()
	defer gatesMu.Unlock()
	g, ok := gates[path]
	if !ok {
		g = make(writeGate, 1)
		gates[path] = g
	}
	return g
}

func (g writeGate) acquire(ctx context.Context) error {
	select {
	case g <- struct{}{}:
		return nil
	default:
	}
	t := time.NewTimer(gateWait)
	defer t.Stop()
	select {
	case g <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return errGateTimeout
	}
}

func (g writeGate) release() { <-g }

// gatedConnector hands out connections that pass writes through the gate
// and count statements.
type gatedConnector struct {
	driver.Connector
	gate  writeGate
	count *atomic.Int64
}

func (c gatedConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	inner, ok := conn.(sqliteConn)
	if !ok {
		conn.Close()
		return nil, errors.New("sqlite: driver connection lacks context methods")
	}
	return &gatedConn{sqliteConn: inner, gate: c.gate, count: c.count}, nil
}

// sqliteConn is what the modernc driver's connection implements and
// database/sql uses.
type sqliteConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

type gatedConn struct {
	sqliteConn
	gate  writeGate
	count *atomic.Int64 // statements, BEGIN and COMMIT/ROLLBACK included
	// inTx is set while this connection holds the gate for a transaction;
	// its statements then need no gate of their own.
	inTx atomic.Bool
}

var _ sqliteConn = (*gatedConn)(nil)

func (c *gatedConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	c.count.Add(1)
	if err := c.gate.acquire(ctx); err != nil {
		return nil, err
	}
	tx, err := c.sqliteConn.BeginTx(ctx, opts)
	if err != nil {
		c.gate.release()
		return nil, err
	}
	c.inTx.Store(true)
	return &gatedTx{Tx: tx, conn: c}, nil
}

func (c *gatedConn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

// enter takes the gate for one statement unless the connection already
// holds it; the returned function gives it back.
func (c *gatedConn) enter(ctx context.Context, write bool) (func(), error) {
	if !write || c.inTx.Load() {
		return func() {}, nil
	}
	if err := c.gate.acquire(ctx); err != nil {
		return nil, err
	}
	return c.gate.release, nil
}

func (c *gatedConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	c.count.Add(1)
	leave, err := c.enter(ctx, true)
	if err != nil {
		return nil, err
	}
	defer leave()
	return c.sqliteConn.ExecContext(ctx, query, args)
}

// QueryContext gates writes only (nothing in xszz writes through a query
// today; should a driver defer a write's first step to Rows.Next, that write
// falls back to busy_timeout, slower but still correct).
func (c *gatedConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	c.count.Add(1)
	leave, err := c.enter(ctx, !isSelect(query))
	if err != nil {
		return nil, err
	}
	defer leave()
	return c.sqliteConn.QueryContext(ctx, query, args)
}

func (c *gatedConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	st, err := c.sqliteConn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	return &gatedStmt{Stmt: st, conn: c, read: isSelect(query)}, nil
}

func (c *gatedConn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

// isSelect reports whether a statement only reads.
func isSelect(query string) bool {
	q := strings.TrimLeft(query, " \t\r\n(")
	return len(q) >= 6 && strings.EqualFold(q[:6], "SELECT")
}

type gatedTx struct {
	driver.Tx
	conn *gatedConn
	done atomic.Bool
}

func (t *gatedTx) end(err error) error {
	t.conn.count.Add(1)
	if t.done.CompareAndSwap(false, true) {
		t.conn.inTx.Store(false)
		t.conn.gate.release()
	}
	return err
}

func (t *gatedTx) Commit() error   { return t.end(t.Tx.Commit()) }
func (t *gatedTx) Rollback() error { return t.end(t.Tx.Rollback()) }

type gatedStmt struct {
	driver.Stmt
	conn *gatedConn
	read bool
}

// stmtContext is what the modernc driver's statements implement.
type stmtContext interface {
	driver.StmtExecContext
	driver.StmtQueryContext
}

func (s *gatedStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	st, ok := s.Stmt.(stmtContext)
	if !ok {
		return nil, errors.New("sqlite: driver statement lacks context methods")
	}
	s.conn.count.Add(1)
	leave, err := s.conn.enter(ctx, true)
	if err != nil {
		return nil, err
	}
	defer leave()
	return st.ExecContext(ctx, args)
}

func (s *gatedStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	st, ok := s.Stmt.(stmtContext)
	if !ok {
		return nil, errors.New("sqlite: driver statement lacks context methods")
	}
	s.conn.count.Add(1)
	leave, err := s.conn.enter(ctx, !s.read)
	if err != nil {
		return nil, err
	}
	defer leave()
	return st.QueryContext(ctx, args)
}

// Exec and Query without a context are never called by database/sql when
// the context methods exist; they are here to satisfy driver.Stmt.
func (s *gatedStmt) Exec(args []driver.Value) (driver.Result, error) {
	return s.ExecContext(context.Background(), named(args))
}

func (s *gatedStmt) Query(args []driver.Value) (driver.Rows, error) {
	return s.QueryContext(context.Background(), named(args))
}

func named(args []driver.Value) []driver.NamedValue {
	out := make([]driver.NamedValue, len(args))
	for i, v := range args {
		out[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
	}
	return out
}
