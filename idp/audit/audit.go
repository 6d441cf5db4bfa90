// Package audit is the IdP's security audit log: an append-only table in
// which every row carries the hash of the row before it, so an edited,
// deleted or reordered row breaks the chain and Verify names where.
//
// The log is evidence (Cybersecurity Law: six months minimum), so the
// application only ever appends; rows leave the table only through Archive,
// which writes them to a file first. In production the database role of the
// application should hold INSERT and SELECT on audit_log but no UPDATE or
// DELETE; docs/audit.md gives the GRANT statements.
//
// Callers must not put OTPs, tokens, secrets or full phone numbers into an
// Event: mask phone numbers with MaskPhone. Record scrubs Detail as a
// second line of defence (it redacts keys that name secrets and masks
// anything shaped like a mainland mobile number), but that is a net, not a
// licence.
package audit

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/xszz/xszz/internal/sqldb"
)

// Results of an event.
const (
	Success = "success"
	Failure = "failure"
)

// Event is one security-relevant fact. Type names are dotted and
// lower-case, e.g. "sms.sent", "login.success", "login.failure",
// "login.locked", "account.registered", "account.approved",
// "account.role_changed", "account.moved", "grant.added", "grant.revoked",
// "client.created", "client.deleted", "key.rotated", "admin.action",
// "logout".
type Event struct {
	// Time defaults to the log's clock; it is kept to the millisecond.
	Time time.Time `json:"time"`
	Type string    `json:"type"`
	// Result is Success or Failure.
	Result string `json:"result"`
	// Reason is a machine reason for failures, e.g. "invalid_code".
	Reason string `json:"reason,omitempty"`
	// ActorID is the account, client id or "system" that acted.
	ActorID string `json:"actor_id,omitempty"`
	// SubjectID is the account, client or org acted on.
	SubjectID string `json:"subject_id,omitempty"`
	// OrgID and OrgPath locate the subject in the org tree; OrgPath is the
	// materialised path computed by the org package (e.g.
	// "/000000/320000/") and lets admins search their subtree.
	OrgID     string `json:"org_id,omitempty"`
	OrgPath   string `json:"org_path,omitempty"`
	IP        string `json:"ip,omitempty"`
	UserAgent string `json:"user_agent,omitempty"`
	// Detail holds further facts. Never OTPs, tokens or full phone numbers:
	// callers mask (MaskPhone) before recording.
	Detail map[string]string `json:"detail,omitempty"`
}

// Entry is a stored event with its place in the chain.
type Entry struct {
	Seq int64 `json:"seq"`
	Event
	PrevHash string `json:"prev_hash"`
	Hash     string `json:"hash"`
}

// Log appends to and reads the audit table.
type Log struct {
	db  *sqldb.DB
	now func() time.Time
	log *slog.Logger
	key []byte

	mu      sync.Mutex
	queue   []*pending
	writing bool // a writeQueued goroutine is running
}

// Option configures a Log.
type Option func(*Log)

// WithKey makes each row's hash an HMAC-SHA256 under key instead of a plain
// SHA-256. A plain chain catches edits by anyone who does not bother to
// recompute it; a keyed chain also resists someone with write access to the
// database (a DBA, a stolen database password) who rewrites the chain from
// the edited row on, as long as the key lives outside the database (config
// or KMS). The key must stay the same for the rows it covers: to change it,
// archive every row first, then start the new key.
func WithKey(key []byte) Option {
	return func(l *Log) { l.key = slices.Clone(key) }
}

// New returns a Log on db. now is the clock (time.Now in production).
func New(db *sqldb.DB, now func() time.Time, log *slog.Logger, opts ...Option) *Log {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.Default()
	}
	l := &Log{db: db, now: now, log: log}
	for _, o := range opts {
		o(l)
	}
	return l
}

// Field limits: an attacker controls the user agent and part of Detail, and
// must not be able to bloat the table. Values are cut, not refused, because
// losing the event would be worse.
const (
	maxShort     = 256
	maxLong      = 1024
	maxDetail    = 32
	maxDetailKey = 64
)

const columns = `seq, at_ms, type, result, reason, actor_id, subject_id, org_id, org_path, ip, user_agent, detail, prev_hash, hash`

// Record appends e to the chain and returns once it is committed.
//
// Every append must lock the chain's head, so appends are inherently one
// at a time, and a commit waits for the disk (a few milliseconds on
// PostgreSQL with fsync). To serve bursts of sign-ins, Record group-commits:
// events that arrive while a transaction is in flight are appended together
// in the next one, one short transaction per batch. Across processes,
// batches are serialised on the head row (PostgreSQL: SELECT … FOR UPDATE;
// SQLite: the IMMEDIATE transaction's write lock).
//
// If ctx ends while the event waits for its batch, Record returns the
// context's error, but the event may still be recorded.
func (l *Log) Record(ctx context.Context, e Event) error {
	e, err := l.normalise(e)
	if err != nil {
		return err
	}
	detail, err := encodeDetail(e.Detail)
	if err != nil {
		return fmt.Errorf("record audit event %q: %w", e.Type, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("record audit event %q: %w", e.Type, err)
	}
	p := &pending{e: e, detail: detail, done: make(chan error, 1)}
	l.mu.Lock()
	l.queue = append(l.queue, p)
	start := !l.writing
	l.writing = true
	l.mu.Unlock()
	if start {
		go l.writeQueued()
	}
	select {
	case err := <-p.done:
		if err != nil {
			return fmt.Errorf("record audit event %q: %w", e.Type, err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("record audit event %q: %w (it may still be recorded)", e.Type, ctx.Err())
	}
}

// pending is an event waiting for its batch.
type pending struct {
	e      Event
	detail string
	done   chan error
}

const (
	// maxBatch keeps a batch's INSERT within both databases' limits on
	// bound parameters (14 a row) and its transaction short.
	maxBatch = 256
	// writeTimeout bounds a batch, which serves many callers and so cannot
	// run under any one caller's context.
	writeTimeout = 15 * time.Second
)

// writeQueued appends queued events, batch after batch, until the queue is
// empty. At most one runs per Log.
func (l *Log) writeQueued() {
	for {
		l.mu.Lock()
		n := min(len(l.queue), maxBatch)
		if n == 0 {
			l.writing = false
			l.queue = nil
			l.mu.Unlock()
			return
		}
		batch := l.queue[:n:n]
		l.queue = l.queue[n:]
		l.mu.Unlock()

		ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
		err := l.appendBatch(ctx, batch)
		cancel()
		if err != nil {
			l.log.Error("audit append failed", "events", len(batch), "err", err)
		}
		for _, p := range batch {
			p.done <- err
		}
	}
}

// RecordTx appends e inside the caller's transaction, so the event and the
// change it describes commit together or not at all: an admin action that
// cannot be audited does not happen. It bypasses group commit (the chain
// head stays locked until the caller commits), which suits rare actions,
// not sign-ins.
func (l *Log) RecordTx(ctx context.Context, tx *sql.Tx, e Event) error {
	e, err := l.normalise(e)
	if err != nil {
		return err
	}
	detail, err := encodeDetail(e.Detail)
	if err != nil {
		return fmt.Errorf("record audit event %q: %w", e.Type, err)
	}
	if err := l.appendTx(ctx, tx, []*pending{{e: e, detail: detail}}); err != nil {
		return fmt.Errorf("record audit event %q: %w", e.Type, err)
	}
	return nil
}

func (l *Log) appendBatch(ctx context.Context, batch []*pending) error {
	return l.db.InTx(ctx, func(tx *sql.Tx) error { return l.appendTx(ctx, tx, batch) })
}

func (l *Log) appendTx(ctx context.Context, tx *sql.Tx, batch []*pending) error {
	head := `SELECT head_seq, head_hash FROM audit_chain WHERE id = 1`
	if l.db.Dialect == sqldb.Postgres {
		head += ` FOR UPDATE`
	}
	var prev string
	var seq int64
	if err := tx.QueryRowContext(ctx, head).Scan(&seq, &prev); err != nil {
		return fmt.Errorf("read chain head: %w", err)
	}
	first := seq + 1
	var values strings.Builder
	args := make([]any, 0, len(batch)*14+2)
	for i, p := range batch {
		seq++
		sum := l.sum(prev, seq, p.e)
		if i > 0 {
			values.WriteString(", ")
		}
		values.WriteString("(")
		for j := range 14 {
			if j > 0 {
				values.WriteString(", ")
			}
			fmt.Fprintf(&values, "$%d", len(args)+j+1)
		}
		values.WriteString(")")
		e := p.e
		args = append(args, seq, e.Time.UnixMilli(), e.Type, e.Result, e.Reason, e.ActorID, e.SubjectID,
			e.OrgID, e.OrgPath, e.IP, e.UserAgent, p.detail, prev, sum)
		prev = sum
	}
	insert := `INSERT INTO audit_log (` + columns + `) VALUES ` + values.String()
	if l.db.Dialect == sqldb.Postgres {
		// One round trip fewer while the head row is locked.
		n := len(args)
		args = append(args, seq, prev)
		q := fmt.Sprintf(`WITH ins AS (%s) UPDATE audit_chain SET head_seq = $%d, head_hash = $%d WHERE id = 1`, insert, n+1, n+2)
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("append seq %d to %d: %w", first, seq, err)
		}
		return nil
	}
	if _, err := tx.ExecContext(ctx, insert, args...); err != nil {
		return fmt.Errorf("append seq %d to %d: %w", first, seq, err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE audit_chain SET head_seq = $1, head_hash = $2 WHERE id = 1`, seq, prev); err != nil {
		return fmt.Errorf("move chain head to %d: %w", seq, err)
	}
	return nil
}

// ErrInvalidEvent is returned by Record for an event without a type or with
// an unknown result.
var ErrInvalidEvent = errors.New("invalid audit event")

// normalise fills the time, cleans every field to what both databases store
// byte for byte (valid UTF-8, no NUL, bounded length) and scrubs Detail, so
// the hash computed here is the hash Verify recomputes from the row.
func (l *Log) normalise(e Event) (Event, error) {
	e.Type = clean(e.Type, maxShort)
	if e.Type == "" {
		return e, fmt.Errorf("%w: empty type", ErrInvalidEvent)
	}
	if e.Result != Success && e.Result != Failure {
		return e, fmt.Errorf("%w: result %q (want %q or %q)", ErrInvalidEvent, e.Result, Success, Failure)
	}
	if e.Time.IsZero() {
		e.Time = l.now()
	}
	e.Time = time.UnixMilli(e.Time.UnixMilli()).UTC()
	e.Reason = maskPhonesIn(clean(e.Reason, maxShort))
	e.ActorID = clean(e.ActorID, maxShort)
	e.SubjectID = clean(e.SubjectID, maxShort)
	e.OrgID = clean(e.OrgID, maxShort)
	e.OrgPath = clean(e.OrgPath, maxLong)
	e.IP = clean(e.IP, maxShort)
	e.UserAgent = clean(e.UserAgent, maxLong)
	e.Detail = scrubDetail(e.Detail)
	return e, nil
}

func clean(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\x00", "")
	if len(s) <= max {
		return s
	}
	for max > 0 && !utf8.RuneStart(s[max]) {
		max--
	}
	return s[:max]
}

func scrubDetail(in map[string]string) map[string]string {
	if len(in) == 0 {
		return nil
	}
	keys := make([]string, 0, len(in))
	for k := range in {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make(map[string]string, min(len(in), maxDetail))
	for _, k := range keys {
		if len(out) == maxDetail {
			break
		}
		ck := clean(k, maxDetailKey)
		if ck == "" {
			continue
		}
		out[ck] = scrubValue(ck, clean(in[k], maxLong))
	}
	return out
}

func encodeDetail(d map[string]string) (string, error) {
	if len(d) == 0 {
		return "{}", nil
	}
	b, err := json.Marshal(d)
	if err != nil {
		return "", fmt.Errorf("encode detail: %w", err)
	}
	return string(b), nil
}

// sum is the row's link in the chain: SHA-256, or HMAC-SHA256 under the
// log's key, over a canonical encoding of the previous row's hash and every
// stored field. Each field is length-prefixed, so no two different rows
// encode alike, and Detail is hashed as sorted pairs, not as the JSON text,
// so the encoding does not hang on a JSON library's choices.
func (l *Log) sum(prev string, seq int64, e Event) string {
	var h hash.Hash
	if len(l.key) > 0 {
		h = hmac.New(sha256.New, l.key)
	} else {
		h = sha256.New()
	}
	buf := make([]byte, 0, 512)
	str := func(s string) {
		buf = binary.AppendUvarint(buf, uint64(len(s)))
		buf = append(buf, s...)
	}
	num := func(n int64) { buf = binary.BigEndian.AppendUint64(buf, uint64(n)) }
	str("xszz-audit-v1")
	str(prev)
	num(seq)
	num(e.Time.UnixMilli())
	for _, s := range []string{e.Type, e.Result, e.Reason, e.ActorID, e.SubjectID, e.OrgID, e.OrgPath, e.IP, e.UserAgent} {
		str(s)
	}
	keys := make([]string, 0, len(e.Detail))
	for k := range e.Detail {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	num(int64(len(keys)))
	for _, k := range keys {
		str(k)
		str(e.Detail[k])
	}
	h.Write(buf)
	return hex.EncodeToString(h.Sum(nil))
}
