package audit

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Query selects entries; zero fields do not filter. Filters combine with AND.
type Query struct {
	// OrgIDs keeps entries about any of these orgs.
	OrgIDs []string
	// OrgPathPrefix keeps entries whose org path starts with it: an admin's
	// subtree is the admin's own org path, e.g. "/000000/320000/". Entries
	// with no org path (system events) never match a prefix.
	OrgPathPrefix string
	SubjectID     string
	ActorID       string
	Type          string
	// Since is inclusive, Until exclusive.
	Since, Until time.Time
	// Limit caps a page: DefaultLimit when zero, MaxLimit at most. Export
	// reads every page and treats Limit as a cap on the whole export.
	Limit int
	// BeforeSeq asks for the page after one ending at that seq: pass the
	// last Seq of the previous page.
	BeforeSeq int64
}

// Page sizes for Search.
const (
	DefaultLimit = 50
	MaxLimit     = 1000
	maxOrgIDs    = 1000
)

// Search returns matching entries, newest first, at most one page.
func (l *Log) Search(ctx context.Context, q Query) ([]Entry, error) {
	if len(q.OrgIDs) > maxOrgIDs {
		return nil, fmt.Errorf("search audit log: %d org ids (at most %d; search by org path instead)", len(q.OrgIDs), maxOrgIDs)
	}
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if len(q.OrgIDs) > 0 {
		ph := make([]string, len(q.OrgIDs))
		for i, id := range q.OrgIDs {
			ph[i] = arg(id)
		}
		where = append(where, "org_id IN ("+strings.Join(ph, ", ")+")")
	}
	if q.OrgPathPrefix != "" {
		// A range rather than LIKE: it uses the index in both databases
		// (the column sorts bytewise) and treats % and _ as plain text.
		where = append(where, "org_path >= "+arg(q.OrgPathPrefix))
		if hi, ok := prefixEnd(q.OrgPathPrefix); ok {
			where = append(where, "org_path < "+arg(hi))
		}
	}
	for _, f := range [...]struct{ col, v string }{{"subject_id", q.SubjectID}, {"actor_id", q.ActorID}, {"type", q.Type}} {
		if f.v != "" {
			where = append(where, f.col+" = "+arg(f.v))
		}
	}
	if !q.Since.IsZero() {
		where = append(where, "at_ms >= "+arg(q.Since.UnixMilli()))
	}
	if !q.Until.IsZero() {
		where = append(where, "at_ms < "+arg(q.Until.UnixMilli()))
	}
	if q.BeforeSeq > 0 {
		where = append(where, "seq < "+arg(q.BeforeSeq))
	}
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxLimit)
	query := `SELECT ` + columns + ` FROM audit_log`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	query += ` ORDER BY seq DESC LIMIT ` + arg(limit)

	rows, err := l.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("search audit log: %w", err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return nil, fmt.Errorf("search audit log: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("search audit log: %w", err)
	}
	return out, nil
}

// prefixEnd returns the smallest string greater than every string that
// starts with p, or false when there is none (p is all 0xFF bytes).
func prefixEnd(p string) (string, bool) {
	b := []byte(p)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xFF {
			b[i]++
			return string(b[:i+1]), true
		}
	}
	return "", false
}

type scanner interface{ Scan(dest ...any) error }

func scanEntry(r scanner) (Entry, error) {
	var e Entry
	var atMs int64
	var detail string
	err := r.Scan(&e.Seq, &atMs, &e.Type, &e.Result, &e.Reason, &e.ActorID, &e.SubjectID,
		&e.OrgID, &e.OrgPath, &e.IP, &e.UserAgent, &detail, &e.PrevHash, &e.Hash)
	if err != nil {
		return e, fmt.Errorf("scan audit row: %w", err)
	}
	e.Time = time.UnixMilli(atMs).UTC()
	if detail != "" && detail != "{}" {
		if err := json.Unmarshal([]byte(detail), &e.Detail); err != nil {
			// A row whose detail no longer parses was edited; show it as
			// text so Verify reports the broken hash rather than failing.
			e.Detail = map[string]string{"_unparsable": detail}
		}
	}
	return e, nil
}

// Export formats.
const (
	JSONLines = "jsonl"
	CSV       = "csv"
)

// Export writes every entry matching q, newest first, as JSON lines or CSV.
// CSV cells that a spreadsheet would run as a formula are prefixed with a
// quote, since user agents and details come from outside.
func (l *Log) Export(ctx context.Context, w io.Writer, format string, q Query) error {
	var write func(Entry) error
	flush := func() error { return nil }
	switch format {
	case JSONLines:
		enc := json.NewEncoder(w)
		write = func(e Entry) error { return enc.Encode(e) }
	case CSV:
		cw := csv.NewWriter(w)
		if err := cw.Write(csvHeader); err != nil {
			return fmt.Errorf("export audit log: %w", err)
		}
		write = func(e Entry) error { return cw.Write(csvRow(e)) }
		flush = func() error { cw.Flush(); return cw.Error() }
	default:
		return fmt.Errorf("export audit log: unknown format %q (want %q or %q)", format, JSONLines, CSV)
	}
	remaining := q.Limit // zero: no cap
	for {
		page := q
		page.Limit = MaxLimit
		if q.Limit > 0 {
			page.Limit = min(remaining, MaxLimit)
		}
		entries, err := l.Search(ctx, page)
		if err != nil {
			return fmt.Errorf("export audit log: %w", err)
		}
		for _, e := range entries {
			if err := write(e); err != nil {
				return fmt.Errorf("export audit log at seq %d: %w", e.Seq, err)
			}
		}
		if q.Limit > 0 {
			if remaining -= len(entries); remaining <= 0 {
				break
			}
		}
		if len(entries) < page.Limit {
			break
		}
		q.BeforeSeq = entries[len(entries)-1].Seq
	}
	if err := flush(); err != nil {
		return fmt.Errorf("export audit log: %w", err)
	}
	return nil
}

var csvHeader = []string{"seq", "time", "type", "result", "reason", "actor_id", "subject_id", "org_id", "org_path", "ip", "user_agent", "detail", "prev_hash", "hash"}

func csvRow(e Entry) []string {
	detail, _ := encodeDetail(e.Detail)
	row := []string{strconv.FormatInt(e.Seq, 10), e.Time.Format(time.RFC3339Nano), e.Type, e.Result, e.Reason,
		e.ActorID, e.SubjectID, e.OrgID, e.OrgPath, e.IP, e.UserAgent, detail, e.PrevHash, e.Hash}
	for i, c := range row {
		if c != "" && strings.ContainsRune("=+-@\t\r", rune(c[0])) {
			row[i] = "'" + c
		}
	}
	return row
}
