// Package load writes many rows fast and all-or-nothing: PostgreSQL COPY
// inside one transaction, batched multi-row INSERTs in one SQLite
// transaction. The generator and the CSV import both write through it.
package load

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/xszz/xszz/internal/sqldb"
)

// sqliteBatch is the rows per INSERT statement: large enough to amortise
// the statement, small enough to stay far below SQLite's 32766 variables.
const sqliteBatch = 256

// pgBatch is the rows per COPY.
const pgBatch = 20000

// Table is where rows go.
type Table struct {
	Name    string
	Columns []string
}

// Writer buffers rows per table and writes them in batches. It belongs to
// one Run and one goroutine.
type Writer struct {
	ctx    context.Context
	tx     *sql.Tx // SQLite
	pg     pgx.Tx  // PostgreSQL
	bufs   map[string]*buffer
	stmts  map[string]*sql.Stmt
	counts map[string]int64
}

type buffer struct {
	t    Table
	rows [][]any
	flat []any // SQLite: the pending rows' values, flattened
	n    int
}

// Run calls fn with a Writer inside one transaction and commits when fn
// and the last flush succeed; on any error nothing is written.
func Run(ctx context.Context, db *sqldb.DB, fn func(w *Writer) error) error {
	w := &Writer{ctx: ctx, bufs: map[string]*buffer{}, stmts: map[string]*sql.Stmt{}, counts: map[string]int64{}}
	if db.Dialect == sqldb.Postgres {
		conn, err := db.Conn(ctx)
		if err != nil {
			return fmt.Errorf("load: connect: %w", err)
		}
		defer conn.Close()
		return conn.Raw(func(dc any) error {
			pc := dc.(*stdlib.Conn).Conn()
			tx, err := pc.Begin(ctx)
			if err != nil {
				return fmt.Errorf("load: begin: %w", err)
			}
			defer tx.Rollback(context.WithoutCancel(ctx))
			w.pg = tx
			if err := fn(w); err != nil {
				return err
			}
			if err := w.flushAll(); err != nil {
				return err
			}
			if err := tx.Commit(ctx); err != nil {
				return fmt.Errorf("load: commit: %w", err)
			}
			return nil
		})
	}
	return db.InTx(ctx, func(tx *sql.Tx) error {
		w.tx = tx
		defer func() {
			for _, s := range w.stmts {
				s.Close()
			}
		}()
		if err := fn(w); err != nil {
			return err
		}
		return w.flushAll()
	})
}

// Exec runs a statement in the load's transaction.
func (w *Writer) Exec(query string, args ...any) error {
	var err error
	if w.pg != nil {
		_, err = w.pg.Exec(w.ctx, query, args...)
	} else {
		_, err = w.tx.ExecContext(w.ctx, query, args...)
	}
	if err != nil {
		return fmt.Errorf("load: %s: %w", firstWords(query), err)
	}
	return nil
}

// Query runs a query in the load's transaction and calls fn per row.
func (w *Writer) Query(query string, args []any, fn func(scan func(dest ...any) error) error) error {
	if w.pg != nil {
		rows, err := w.pg.Query(w.ctx, query, args...)
		if err != nil {
			return fmt.Errorf("load: %s: %w", firstWords(query), err)
		}
		defer rows.Close()
		for rows.Next() {
			if err := fn(rows.Scan); err != nil {
				return err
			}
		}
		return rows.Err()
	}
	rows, err := w.tx.QueryContext(w.ctx, query, args...)
	if err != nil {
		return fmt.Errorf("load: %s: %w", firstWords(query), err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows.Scan); err != nil {
			return err
		}
	}
	return rows.Err()
}

func firstWords(q string) string {
	f := strings.Fields(q)
	if len(f) > 3 {
		f = f[:3]
	}
	return strings.Join(f, " ")
}

// Add queues a row for t; values are in t.Columns order.
func (w *Writer) Add(t Table, values ...any) error {
	b := w.bufs[t.Name]
	if b == nil {
		b = &buffer{t: t}
		w.bufs[t.Name] = b
	}
	if len(values) != len(t.Columns) {
		return fmt.Errorf("load %s: %d values for %d columns", t.Name, len(values), len(t.Columns))
	}
	w.counts[t.Name]++
	if w.pg != nil {
		b.rows = append(b.rows, values)
		if len(b.rows) >= pgBatch {
			return w.flush(b)
		}
		return nil
	}
	b.flat = append(b.flat, values...)
	b.n++
	if b.n >= sqliteBatch {
		return w.flush(b)
	}
	return nil
}

// Count returns how many rows were added to a table.
func (w *Writer) Count(table string) int64 { return w.counts[table] }

// Flush writes what is queued, in the order tables were first used.
func (w *Writer) Flush() error { return w.flushAll() }

func (w *Writer) flushAll() error {
	for _, b := range w.bufs {
		if err := w.flush(b); err != nil {
			return err
		}
	}
	return nil
}

func (w *Writer) flush(b *buffer) error {
	if w.pg != nil {
		if len(b.rows) == 0 {
			return nil
		}
		if _, err := w.pg.CopyFrom(w.ctx, pgx.Identifier{b.t.Name}, b.t.Columns, pgx.CopyFromRows(b.rows)); err != nil {
			return fmt.Errorf("load %s: copy: %w", b.t.Name, err)
		}
		b.rows = b.rows[:0]
		return nil
	}
	if b.n == 0 {
		return nil
	}
	var err error
	if b.n == sqliteBatch {
		stmt := w.stmts[b.t.Name]
		if stmt == nil {
			stmt, err = w.tx.PrepareContext(w.ctx, insertSQL(b.t, sqliteBatch))
			if err != nil {
				return fmt.Errorf("load %s: prepare: %w", b.t.Name, err)
			}
			w.stmts[b.t.Name] = stmt
		}
		_, err = stmt.ExecContext(w.ctx, b.flat...)
	} else {
		_, err = w.tx.ExecContext(w.ctx, insertSQL(b.t, b.n), b.flat...)
	}
	if err != nil {
		return fmt.Errorf("load %s: insert: %w", b.t.Name, err)
	}
	b.flat = b.flat[:0]
	b.n = 0
	return nil
}

// insertSQL uses anonymous ? parameters (SQLite only): the driver looks
// each $N up by name, which costs a scan of the statement's parameter list
// per value and made wide batches quadratic.
func insertSQL(t Table, rows int) string {
	var sb strings.Builder
	sb.WriteString("INSERT INTO " + t.Name + " (" + strings.Join(t.Columns, ", ") + ") VALUES ")
	for r := 0; r < rows; r++ {
		if r > 0 {
			sb.WriteByte(',')
		}
		sb.WriteByte('(')
		for c := range t.Columns {
			if c > 0 {
				sb.WriteByte(',')
			}
			sb.WriteByte('?')
		}
		sb.WriteByte(')')
	}
	return sb.String()
}
