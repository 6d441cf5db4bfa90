package warning

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/xszz/xszz/cockpit/load"
	"github.com/xszz/xszz/internal/sqldb"
)

var (
	liveTable     = load.Table{Name: "cockpit_warnings", Columns: []string{"id", "rule", "severity", "region_code", "province_code", "city_code", "year", "segment", "programme", "subjects", "amount", "detail"}}
	resolvedTable = load.Table{Name: "cockpit_warnings_resolved", Columns: []string{"id", "rule", "severity", "region_code", "year", "segment", "programme", "detail", "resolved_on"}}
)

// ErrResolved is returned by Load for a warning that held at an earlier
// refresh and no longer does; the Warning returned with it is the
// warning as last detected.
var ErrResolved = errors.New("warning resolved")

// Finding is what a warning is about, apart from what it counts: the
// rule, the leaf region, the year, the segment, the programme (jump rule)
// and the severity where a rule raises warnings side by side by severity
// (a difficulty level, a sub-rule, a band of disbursement). The jump rule
// raises one warning per programme whatever its band, so a jump that
// grows from 2× to 3× stays the same warning. A link to a warning stays
// with its finding across refreshes.
func (x Warning) Finding() string {
	sev := strconv.Itoa(x.Severity)
	if x.Rule == YearOnYearJump {
		sev = ""
	}
	return strings.Join([]string{x.Rule, x.Region, strconv.Itoa(x.Year), x.Segment, sev, x.Programme}, "|")
}

// idBits bounds the ids: 13 digits at most in a link, and exact as a
// JavaScript number (53 bits).
const idBits = 40

// candidate returns the try-th id a finding may take: a hash of it, so
// a finding gets the same id in any database; later tries step past an id
// another finding already holds.
func candidate(finding string, try int) int64 {
	if try > 0 {
		finding += "#" + strconv.Itoa(try)
	}
	h := sha256.Sum256([]byte(finding))
	return int64(binary.BigEndian.Uint64(h[:8]) >> (64 - idBits))
}

// assign gives each warning the id its finding holds in taken (every id
// of a live or resolved warning, with its finding), else the first free
// candidate, which it then holds. An id is thus never given to a second
// finding, and the same stored state and findings give the same ids.
func assign(found []Warning, taken map[int64]string) {
	held := make(map[string]int64, len(taken))
	for id, f := range taken {
		held[f] = id
	}
	for i := range found {
		f := found[i].Finding()
		if id, ok := held[f]; ok {
			found[i].ID = id
			continue
		}
		for try := 0; ; try++ {
			id := candidate(f, try)
			if _, used := taken[id]; id > 0 && !used {
				taken[id], held[f] = f, id
				found[i].ID = id
				break
			}
		}
	}
}

// Replace makes found the stored warnings, inside the refresh's
// transaction: each takes the id its finding had, whether it held at the
// last refresh or had been resolved before, and a new finding a new id.
// The warnings of the last refresh that are not found again are kept as
// resolved as of asOf. The caller serialises refreshes.
func Replace(w *load.Writer, found []Warning, asOf time.Time) error {
	taken := map[int64]string{}
	var last, resolved []Warning
	err := w.Query(`SELECT id, rule, severity, region_code, year, segment, programme, detail FROM cockpit_warnings`, nil, func(scan func(...any) error) error {
		var x Warning
		if err := scan(&x.ID, &x.Rule, &x.Severity, &x.Region, &x.Year, &x.Segment, &x.Programme, &x.Detail); err != nil {
			return err
		}
		taken[x.ID] = x.Finding()
		last = append(last, x)
		return nil
	})
	if err != nil {
		return fmt.Errorf("read the last refresh's warnings: %w", err)
	}
	err = w.Query(`SELECT id, rule, severity, region_code, year, segment, programme, detail, resolved_on FROM cockpit_warnings_resolved`, nil, func(scan func(...any) error) error {
		var x Warning
		if err := scan(&x.ID, &x.Rule, &x.Severity, &x.Region, &x.Year, &x.Segment, &x.Programme, &x.Detail, &x.ResolvedOn); err != nil {
			return err
		}
		taken[x.ID] = x.Finding()
		resolved = append(resolved, x)
		return nil
	})
	if err != nil {
		return fmt.Errorf("read resolved warnings: %w", err)
	}
	assign(found, taken)
	holds := make(map[int64]bool, len(found))
	for _, x := range found {
		holds[x.ID] = true
	}
	for _, t := range []load.Table{liveTable, resolvedTable} {
		if err := w.Exec("DELETE FROM " + t.Name); err != nil {
			return err
		}
	}
	for _, x := range found {
		if err := w.Add(liveTable, x.ID, x.Rule, x.Severity, x.Region, x.Province, x.City, x.Year, x.Segment, x.Programme, x.Subjects, x.Amount, x.Detail); err != nil {
			return err
		}
	}
	day := asOf.Format("2006-01-02")
	for _, x := range last {
		x.ResolvedOn = day
		resolved = append(resolved, x)
	}
	for _, x := range resolved {
		if holds[x.ID] {
			continue // found again: live under its old id
		}
		if err := w.Add(resolvedTable, x.ID, x.Rule, x.Severity, x.Region, x.Year, x.Segment, x.Programme, x.Detail, x.ResolvedOn); err != nil {
			return err
		}
	}
	return nil
}

// Load returns a warning by id; a warning that no longer holds comes
// back as last detected, with ErrResolved, and an id never given out as
// sqldb.ErrNotFound.
func Load(ctx context.Context, db sqldb.Querier, id int64) (Warning, error) {
	var x Warning
	err := db.QueryRowContext(ctx, `SELECT id, rule, severity, region_code, province_code, city_code, year, segment, programme, subjects, amount, detail
		FROM cockpit_warnings WHERE id = $1`, id).Scan(&x.ID, &x.Rule, &x.Severity, &x.Region, &x.Province, &x.City, &x.Year, &x.Segment, &x.Programme, &x.Subjects, &x.Amount, &x.Detail)
	if err == nil {
		return x, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return x, fmt.Errorf("load warning %d: %w", id, err)
	}
	err = db.QueryRowContext(ctx, `SELECT id, rule, severity, region_code, year, segment, programme, detail, resolved_on
		FROM cockpit_warnings_resolved WHERE id = $1`, id).Scan(&x.ID, &x.Rule, &x.Severity, &x.Region, &x.Year, &x.Segment, &x.Programme, &x.Detail, &x.ResolvedOn)
	if errors.Is(err, sql.ErrNoRows) {
		return Warning{}, sqldb.ErrNotFound
	}
	if err != nil {
		return Warning{}, fmt.Errorf("load resolved warning %d: %w", id, err)
	}
	return x, ErrResolved
}
