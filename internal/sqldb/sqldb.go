// Package sqldb opens the relational database behind the IdP, the office
// system and the cockpit, and applies the schema.
//
// Both dialects (embedded SQLite and PostgreSQL) are reached through
// database/sql, and queries use $1-style placeholders that both accept, so a
// store is written once. Only migrations differ per dialect.
package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Dialect names the SQL flavour of a database.
type Dialect string

const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// DB is a database handle that knows its dialect.
type DB struct {
	*sql.DB
	Dialect Dialect
	// relaxed is a second PostgreSQL pool whose commits do not wait for
	// the WAL flush; nil on SQLite. See Relaxed.
	relaxed *sql.DB
	// statements counts what SQLite executed; nil on PostgreSQL.
	statements *atomic.Int64
	// location is the absolute SQLite file or the PostgreSQL URL
	// without its password.
	location string
}

// Location names the database for logs: the absolute path of a SQLite
// file (a relative sqlite:// URL resolves against the working folder, so
// starting from another folder opens another database) or the PostgreSQL
// URL with its password hidden.
func (db *DB) Location() string { return db.location }

// Statements returns how many statements this SQLite handle has run,
// BEGIN, COMMIT and ROLLBACK included: on PostgreSQL each would be a
// network round trip, which is what the bench reports per request. ok is
// false on PostgreSQL, where nothing is counted.
func (db *DB) Statements() (n int64, ok bool) {
	if db.statements == nil {
		return 0, false
	}
	return db.statements.Load(), true
}

// Relaxed returns the handle for writes whose loss in a crash can only
// fail closed: rows that grant something (an authorization code, a token)
// and deletions of rows that are dead anyway. On PostgreSQL its
// connections commit with synchronous_commit=off, so a commit returns
// without waiting for the WAL flush (an fsync, several milliseconds on
// virtual disks). A server crash can then lose the last fraction of a
// second of such writes (a lost token is an inactive token), never
// reorder or corrupt them: any later ordinary commit flushes them too.
// Revocations, code invalidation and refresh-token rotation must not use
// it. SQLite already commits without an fsync (synchronous=NORMAL), so
// there it is the ordinary handle.
func (db *DB) Relaxed() Querier {
	if db.relaxed != nil {
		return db.relaxed
	}
	return db.DB
}

// Close closes both pools.
func (db *DB) Close() error {
	if db.relaxed != nil {
		db.relaxed.Close()
	}
	return db.DB.Close()
}

// Querier is what stores need from either a *sql.DB or a *sql.Tx.
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// ErrNotFound is returned by stores when a row does not exist.
var ErrNotFound = errors.New("not found")

// ErrConflict is returned by stores when a unique constraint is violated or a
// compare-and-swap lost.
var ErrConflict = errors.New("conflict")

// Open connects to rawURL: "sqlite://PATH" (PATH relative to the working
// directory, or absolute as sqlite:///abs/path) or "postgres://…".
func Open(ctx context.Context, rawURL string) (*DB, error) {
	// The SQLite path is taken literally: a URL parser would cut it at a
	// '#' or '?'.
	for _, prefix := range []string{"sqlite://", "sqlite3://", "file://"} {
		if strings.HasPrefix(rawURL, prefix) {
			return openSQLite(ctx, strings.TrimPrefix(rawURL, prefix))
		}
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	switch u.Scheme {
	case "postgres", "postgresql":
		return openPostgres(ctx, rawURL)
	default:
		return nil, fmt.Errorf("database url: unsupported scheme %q (want sqlite:// or postgres://)", u.Scheme)
	}
}

func openSQLite(ctx context.Context, path string) (*DB, error) {
	if path == "" {
		return nil, errors.New("database url: sqlite path is empty")
	}
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("create database directory: %w", err)
		}
	}
	// The file holds personal data: readable by the service's user only,
	// whatever the umask. SQLite creates -wal and -shm with the database
	// file's mode, so creating it 0600 first covers them too.
	if err := createPrivate(path); err != nil {
		return nil, err
	}
	// WAL lets readers run beside the single writer; synchronous=NORMAL is
	// durable across process crashes (the IdP's failure mode) and avoids an
	// fsync per token; immediate transactions take the write lock up front
	// so two writers queue on busy_timeout instead of failing with BUSY.
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "synchronous(NORMAL)", "busy_timeout(10000)", "foreign_keys(ON)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	// SQLite decodes the file URI, so characters that would end the path
	// early (a '#' from t.TempDir, a '?') are escaped.
	escaped := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	conn, err := sqlite.NewConnector("file:" + escaped + "?" + q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open sqlite %q: %w", path, err)
	}
	// Writers queue in the process rather than in SQLite's sleeping busy
	// handler (writegate.go).
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	count := new(atomic.Int64)
	db := sql.OpenDB(gatedConnector{Connector: conn, gate: gateFor(abs), count: count})
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(8)
	db.SetConnMaxIdleTime(0)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite %q: %w", path, err)
	}
	return &DB{DB: db, Dialect: SQLite, statements: count, location: abs}, nil
}

// createPrivate creates the database file mode 0600 if it does not exist,
// and narrows an existing file (and its -wal and -shm) to 0600.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("create database file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("create database file: %w", err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(p, 0o600); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("restrict database file: %w", err)
		}
	}
	return nil
}

func openPostgres(ctx context.Context, rawURL string) (*DB, error) {
	db, err := sql.Open("pgx", rawURL)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	db.SetMaxOpenConns(32)
	db.SetMaxIdleConns(32)
	db.SetConnMaxIdleTime(5 * time.Minute)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	relaxed, err := openRelaxed(rawURL)
	if err != nil {
		db.Close()
		return nil, err
	}
	location := "postgres"
	if u, err := url.Parse(rawURL); err == nil {
		location = u.Redacted()
	}
	return &DB{DB: db, Dialect: Postgres, relaxed: relaxed, location: location}, nil
}

// openRelaxed opens the pool behind Relaxed; pgx passes unknown URL
// parameters to the server as session settings.
func openRelaxed(rawURL string) (*sql.DB, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	q := u.Query()
	q.Set("synchronous_commit", "off")
	u.RawQuery = q.Encode()
	db, err := sql.Open("pgx", u.String())
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	// Grant writes are batched (oauthstore), so few connections carry them.
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(8)
	db.SetConnMaxIdleTime(5 * time.Minute)
	return db, nil
}

type txKey struct{}

// WithTx returns a context that carries tx: InTx and Q called with it join
// tx instead of starting their own, so one service operation spanning
// several stores commits or rolls back as a whole. On SQLite this is also
// what keeps such an operation from waiting on its own write lock.
func WithTx(ctx context.Context, tx *sql.Tx) context.Context {
	return context.WithValue(ctx, txKey{}, tx)
}

// TxFrom returns the transaction ctx carries, if any.
func TxFrom(ctx context.Context) (*sql.Tx, bool) {
	tx, ok := ctx.Value(txKey{}).(*sql.Tx)
	return tx, ok
}

// Q returns the transaction ctx carries, or the database.
func (db *DB) Q(ctx context.Context) Querier {
	if tx, ok := TxFrom(ctx); ok {
		return tx
	}
	return db.DB
}

// ForUpdate is the row-lock clause for a read that a transaction is going
// to write back: "FOR UPDATE" on PostgreSQL, where READ COMMITTED would
// otherwise let two read-modify-writes lose one of the updates; empty on
// SQLite, whose IMMEDIATE transactions already hold the only write lock.
func (db *DB) ForUpdate() string {
	if db.Dialect == Postgres {
		return " FOR UPDATE"
	}
	return ""
}

// InTx runs fn in a transaction, committing when fn returns nil. Inside a
// transaction carried by ctx (WithTx) it runs fn in that one; the outer
// caller commits.
func (db *DB) InTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	if tx, ok := TxFrom(ctx); ok {
		return fn(tx)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// IsUniqueViolation reports whether err is a unique-constraint failure in
// either dialect.
func IsUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23505"
	}
	var sqErr *sqlite.Error
	if errors.As(err, &sqErr) {
		return sqErr.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || sqErr.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// Schema is the migrations of one part of the system (the IdP, the office
// system, the cockpit). Each part keeps its own record of what was applied
// (table NAME_schema_migrations), so parts never interleave by file number
// and a part can run alone on a database of its own.
type Schema struct {
	// Name is a short identifier ("idp"); it names the record table.
	Name string
	// Files holds one folder per dialect: sqlite/*.sql and postgres/*.sql,
	// applied in lexical order. A released file never changes.
	Files fs.FS
	// Legacy names a record table of an older layout whose rows are
	// this part's files (the IdP's "schema_migrations" from before the
	// split); they are adopted on the first run so nothing re-runs.
	Legacy string
}

func (s Schema) table() string { return s.Name + "_schema_migrations" }

// Migrate applies the migrations of each schema, in order, that have not
// run yet. Several processes may start at once: PostgreSQL serialises them
// with an advisory lock, SQLite with its write lock.
func (db *DB) Migrate(ctx context.Context, schemas ...Schema) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer conn.Close()
	if db.Dialect == Postgres {
		// The key is arbitrary but fixed: "xszz" in ASCII.
		if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(2021161338)`); err != nil {
			return fmt.Errorf("migrate: lock: %w", err)
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(2021161338)`)
	}
	for _, s := range schemas {
		if err := db.migrate(ctx, conn, s); err != nil {
			return fmt.Errorf("migrate %s: %w", s.Name, err)
		}
	}
	return nil
}

func (db *DB) migrate(ctx context.Context, conn *sql.Conn, s Schema) error {
	if !validName(s.Name) {
		return fmt.Errorf("schema name %q: want lower-case letters", s.Name)
	}
	table := s.table()
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+table+` (name TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("create %s: %w", table, err)
	}
	names, err := fs.Glob(s.Files, string(db.Dialect)+"/*.sql")
	if err != nil {
		return fmt.Errorf("list: %w", err)
	}
	sort.Strings(names)
	if s.Legacy != "" {
		if err := db.adoptLegacy(ctx, conn, s, names); err != nil {
			return err
		}
	}
	for _, name := range names {
		base := strings.TrimSuffix(path.Base(name), ".sql")
		var one int
		err := conn.QueryRowContext(ctx, `SELECT 1 FROM `+table+` WHERE name = $1`, base).Scan(&one)
		if err == nil {
			continue
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("check %s: %w", base, err)
		}
		body, err := fs.ReadFile(s.Files, name)
		if err != nil {
			return fmt.Errorf("read %s: %w", base, err)
		}
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("begin %s: %w", base, err)
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			_ = tx.Rollback()
			return fmt.Errorf("apply %s: %w", base, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO `+table+` (name, applied_at) VALUES ($1, $2)`, base, time.Now().Unix()); err != nil {
			_ = tx.Rollback()
			return fmt.Errorf("record %s: %w", base, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("commit %s: %w", base, err)
		}
	}
	return nil
}

// adoptLegacy copies the rows of the old shared record that name files of
// this schema into the schema's own record, once: a database built before
// each part had its own record upgrades without re-running anything.
func (db *DB) adoptLegacy(ctx context.Context, conn *sql.Conn, s Schema, names []string) error {
	if !validName(s.Legacy) {
		return fmt.Errorf("legacy table %q: want lower-case letters", s.Legacy)
	}
	exists, err := db.tableExists(ctx, conn, s.Legacy)
	if err != nil || !exists {
		return err
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("adopt %s: %w", s.Legacy, err)
	}
	defer tx.Rollback()
	for _, name := range names {
		base := strings.TrimSuffix(path.Base(name), ".sql")
		if _, err := tx.ExecContext(ctx, `INSERT INTO `+s.table()+` (name, applied_at)
			SELECT name, applied_at FROM `+s.Legacy+` WHERE name = $1
			AND NOT EXISTS (SELECT 1 FROM `+s.table()+` WHERE name = $1)`, base); err != nil {
			return fmt.Errorf("adopt %s from %s: %w", base, s.Legacy, err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM `+s.Legacy+` WHERE name = $1`, base); err != nil {
			return fmt.Errorf("adopt %s from %s: %w", base, s.Legacy, err)
		}
	}
	var left int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+s.Legacy).Scan(&left); err != nil {
		return fmt.Errorf("adopt %s: %w", s.Legacy, err)
	}
	if left == 0 {
		if _, err := tx.ExecContext(ctx, `DROP TABLE `+s.Legacy); err != nil {
			return fmt.Errorf("drop %s: %w", s.Legacy, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("adopt %s: %w", s.Legacy, err)
	}
	return nil
}

func (db *DB) tableExists(ctx context.Context, q Querier, name string) (bool, error) {
	var n int
	var err error
	if db.Dialect == Postgres {
		err = q.QueryRowContext(ctx, `SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = $1`, name).Scan(&n)
	} else {
		err = q.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = $1`, name).Scan(&n)
	}
	if err != nil {
		return false, fmt.Errorf("look for table %s: %w", name, err)
	}
	return n > 0, nil
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && r != '_' {
			return false
		}
	}
	return true
}

// Ping checks that the database answers; used by /readyz.
func (db *DB) Ping(ctx context.Context) error {
	return db.PingContext(ctx)
}
