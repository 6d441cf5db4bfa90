package directory

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2/clientcredentials"
)

// Syncer keeps the store in step with the IdP's SCIM directory: it asks
// for what changed since the last mark (meta.lastModified ge mark, so a
// change in the same second as the mark is never lost; applying a row
// twice is harmless), page by page, and moves the mark on only once a
// resource type is complete.
type Syncer struct {
	Store *Store
	// Base is the SCIM base URL, e.g. https://idp.example/scim/v2.
	Base string
	// Client sends the requests; it must attach the office's access token
	// (see ClientCredentials).
	Client *http.Client
	Now    func() time.Time
	// PageSize is the count asked for per page (default 500).
	PageSize int
	// Roster hears of every person and unit that moved, in the
	// transaction of the page that moved them (nil: nobody).
	Roster Roster
}

// ClientCredentials returns an HTTP client that authenticates as the
// office through the client credentials grant with the directory scope,
// refreshing its token as it expires.
func ClientCredentials(ctx context.Context, tokenURL, clientID, secret string) *http.Client {
	cc := clientcredentials.Config{ClientID: clientID, ClientSecret: secret, TokenURL: tokenURL, Scopes: []string{"directory"}}
	return cc.Client(ctx)
}

// Result says what a sync did.
type Result struct{ Units, People int }

// Sync runs one incremental sync of units, then people. Each page is
// applied in one transaction, together with what follows from it for the
// Roster.
func (y *Syncer) Sync(ctx context.Context) (Result, error) {
	var r Result
	n, err := y.syncResource(ctx, "Groups", y.applyGroups)
	if err != nil {
		return r, err
	}
	r.Units = n
	if n > 0 {
		if err := y.Store.Repath(ctx, y.Roster); err != nil {
			return r, err
		}
	}
	if n, err = y.syncResource(ctx, "Users", y.applyUsers); err != nil {
		return r, err
	}
	r.People = n
	if r.Units+r.People > 0 {
		if err := y.Store.RecomputeSizes(ctx); err != nil {
			return r, err
		}
	}
	return r, nil
}

type listResponse struct {
	TotalResults int               `json:"totalResults"`
	ItemsPerPage int               `json:"itemsPerPage"`
	Resources    []json.RawMessage `json:"Resources"`
}

type meta struct {
	LastModified string `json:"lastModified"`
}

func (y *Syncer) syncResource(ctx context.Context, resource string, apply func(context.Context, []json.RawMessage) ([]string, error)) (int, error) {
	mark, err := y.Store.Mark(ctx, resource)
	if err != nil {
		return 0, err
	}
	size := y.PageSize
	if size <= 0 {
		size = 500
	}
	newMark, applied := mark, 0
	for start := 1; ; {
		q := url.Values{"startIndex": {strconv.Itoa(start)}, "count": {strconv.Itoa(size)}}
		if mark != "" {
			q.Set("filter", `meta.lastModified ge "`+mark+`"`)
		}
		var page listResponse
		if err := y.get(ctx, "/"+resource+"?"+q.Encode(), &page); err != nil {
			return applied, err
		}
		marks, err := apply(ctx, page.Resources)
		if err != nil {
			return applied, err
		}
		for _, lm := range marks {
			// Rows at the mark itself come again every time (ge); they
			// are re-applied but are not changes.
			if lm > mark {
				applied++
			}
			if lm > newMark {
				newMark = lm
			}
		}
		start += len(page.Resources)
		if len(page.Resources) == 0 || start > page.TotalResults {
			break
		}
	}
	if newMark != mark || mark == "" {
		if newMark == "" {
			newMark = "1970-01-01T00:00:00Z"
		}
		if err := y.Store.SetMark(ctx, resource, newMark, y.Now().Unix()); err != nil {
			return applied, err
		}
	}
	return applied, nil
}

func (y *Syncer) get(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(y.Base, "/")+path, nil)
	if err != nil {
		return fmt.Errorf("scim request: %w", err)
	}
	req.Header.Set("Accept", "application/scim+json")
	resp, err := y.Client.Do(req)
	if err != nil {
		return fmt.Errorf("scim %s: %w", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return fmt.Errorf("scim %s: read: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("scim %s: %s: %s", path, resp.Status, strings.TrimSpace(string(body[:min(len(body), 300)])))
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("scim %s: decode: %w", path, err)
	}
	return nil
}

type scimGroup struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`
	Org         struct {
		Parent     string `json:"parent"`
		Level      string `json:"level"`
		Path       string `json:"path"`
		RegionCode string `json:"regionCode"`
		Kind       string `json:"kind"`
		Active     bool   `json:"active"`
	} `json:"urn:xszz:params:scim:schemas:extension:org:2.0:Group"`
	Meta meta `json:"meta"`
}

func (y *Syncer) applyGroups(ctx context.Context, raws []json.RawMessage) ([]string, error) {
	units := make([]Unit, 0, len(raws))
	marks := make([]string, 0, len(raws))
	for _, raw := range raws {
		var g scimGroup
		if err := json.Unmarshal(raw, &g); err != nil || g.ID == "" || g.Org.Path == "" {
			return nil, fmt.Errorf("scim group: not a unit with the org extension")
		}
		units = append(units, Unit{ID: g.ID, ParentID: g.Org.Parent, Name: g.DisplayName, Level: g.Org.Level, Path: g.Org.Path,
			RegionCode: g.Org.RegionCode, Kind: g.Org.Kind, Active: g.Org.Active})
		marks = append(marks, g.Meta.LastModified)
	}
	if err := y.Store.ApplyUnits(ctx, y.Roster, units, y.Now().Unix()); err != nil {
		return nil, err
	}
	return marks, nil
}

type scimUser struct {
	ID           string `json:"id"`
	DisplayName  string `json:"displayName"`
	Active       bool   `json:"active"`
	PhoneNumbers []struct {
		Value string `json:"value"`
	} `json:"phoneNumbers"`
	Roles []struct {
		Value string `json:"value"`
	} `json:"roles"`
	Org struct {
		OrgID   string `json:"orgId"`
		OrgPath string `json:"orgPath"`
	} `json:"urn:xszz:params:scim:schemas:extension:org:2.0:User"`
	Meta meta `json:"meta"`
}

func (y *Syncer) applyUsers(ctx context.Context, raws []json.RawMessage) ([]string, error) {
	people := make([]Person, 0, len(raws))
	marks := make([]string, 0, len(raws))
	for _, raw := range raws {
		var u scimUser
		if err := json.Unmarshal(raw, &u); err != nil || u.ID == "" || u.Org.OrgPath == "" {
			return nil, fmt.Errorf("scim user: not an account with the org extension")
		}
		p := Person{ID: u.ID, Name: u.DisplayName, OrgID: u.Org.OrgID, OrgPath: u.Org.OrgPath, Role: "staff", Active: u.Active}
		if len(u.PhoneNumbers) > 0 {
			p.Phone = u.PhoneNumbers[0].Value
		}
		if len(u.Roles) > 0 {
			p.Role = u.Roles[0].Value
		}
		people = append(people, p)
		marks = append(marks, u.Meta.LastModified)
	}
	if err := y.Store.ApplyPeople(ctx, y.Roster, people, y.Now().Unix()); err != nil {
		return nil, err
	}
	return marks, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// PutUnit inserts or replaces a unit, in the transaction ctx carries if
// any. It moves nothing else: the sync goes through ApplyUnits.
func (s *Store) PutUnit(ctx context.Context, u Unit, now int64) error {
	_, err := s.db.Q(ctx).ExecContext(ctx, `INSERT INTO office_units (id, parent_id, name, level, path, region_code, kind, active, modified)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (id) DO UPDATE SET parent_id = excluded.parent_id, name = excluded.name, level = excluded.level, path = excluded.path,
  region_code = excluded.region_code, kind = excluded.kind, active = excluded.active, modified = excluded.modified`,
		u.ID, nullable(u.ParentID), u.Name, u.Level, u.Path, u.RegionCode, u.Kind, boolInt(u.Active), now)
	if err != nil {
		return fmt.Errorf("put unit %q: %w", u.ID, err)
	}
	return nil
}

// PutPerson inserts or replaces a person, keeping their own choice to
// show their phone number, in the transaction ctx carries if any. Nothing
// counted against the roster follows: the sync goes through ApplyPeople.
func (s *Store) PutPerson(ctx context.Context, p Person, now int64) error {
	_, err := s.db.Q(ctx).ExecContext(ctx, `INSERT INTO office_people (id, name, phone, org_id, org_path, role, active, show_phone, modified, name_key)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $2)
ON CONFLICT (id) DO UPDATE SET name = excluded.name, name_key = excluded.name, phone = excluded.phone, org_id = excluded.org_id, org_path = excluded.org_path,
  role = excluded.role, active = excluded.active, modified = excluded.modified`,
		p.ID, p.Name, p.Phone, p.OrgID, p.OrgPath, p.Role, boolInt(p.Active), boolInt(p.ShowPhone), now)
	if err != nil {
		return fmt.Errorf("put person %q: %w", p.ID, err)
	}
	return nil
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// Mark returns where the sync of a resource type stopped ("" before the
// first).
func (s *Store) Mark(ctx context.Context, resource string) (string, error) {
	var m string
	err := s.db.QueryRowContext(ctx, `SELECT mark FROM office_sync WHERE resource = $1`, resource).Scan(&m)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("sync mark %s: %w", resource, err)
	}
	return m, nil
}

// SetMark moves the mark of a resource type on.
func (s *Store) SetMark(ctx context.Context, resource, mark string, now int64) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO office_sync (resource, mark, synced_at) VALUES ($1, $2, $3)
ON CONFLICT (resource) DO UPDATE SET mark = excluded.mark, synced_at = excluded.synced_at`, resource, mark, now)
	if err != nil {
		return fmt.Errorf("set sync mark %s: %w", resource, err)
	}
	return nil
}

// RecomputeSizes counts the active people of every unit's subtree, the
// roster coverage reports are measured against. One pass over people
// grouped by unit, folded up the paths in memory, replaced in one
// transaction.
func (s *Store) RecomputeSizes(ctx context.Context) error {
	counts, err := s.CountByPath(ctx, "", "", "")
	if err != nil {
		return err
	}
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM office_unit_sizes`); err != nil {
			return fmt.Errorf("clear unit sizes: %w", err)
		}
		for id, n := range FoldUp(counts, "") {
			if _, err := tx.ExecContext(ctx, `INSERT INTO office_unit_sizes (org_id, people) VALUES ($1, $2)`, id, n); err != nil {
				return fmt.Errorf("unit size %q: %w", id, err)
			}
		}
		return nil
	})
}

// CountByPath counts active people per unit path, optionally within
// [lo, hi) and matching an extra condition on p (from Target.SQL).
func (s *Store) CountByPath(ctx context.Context, lo, hi, cond string, args ...any) (map[string]int, error) {
	q := `SELECT p.org_path, COUNT(*) FROM office_people p LEFT JOIN office_units u ON u.id = p.org_id WHERE p.active = 1`
	if lo != "" {
		args = append([]any{lo, hi}, args...)
		q += ` AND p.org_path >= $1 AND p.org_path < $2`
	}
	if cond != "" {
		q += " AND " + cond
	}
	rows, err := s.db.QueryContext(ctx, q+` GROUP BY p.org_path`, args...)
	if err != nil {
		return nil, fmt.Errorf("count people: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var (
			p string
			n int
		)
		if err := rows.Scan(&p, &n); err != nil {
			return nil, fmt.Errorf("count people: %w", err)
		}
		out[p] = n
	}
	return out, rows.Err()
}

// FoldUp turns counts per unit path into counts per unit subtree, for the
// units at or below top (a path; "" for all).
func FoldUp(perPath map[string]int, top string) map[string]int {
	out := map[string]int{}
	for p, n := range perPath {
		if !strings.HasPrefix(p, top) {
			continue
		}
		skip := len(PathIDs(top)) - 1
		for i, id := range PathIDs(p) {
			if top != "" && i < skip {
				continue
			}
			out[id] += n
		}
	}
	return out
}

// Size returns the active people of a unit's subtree.
func (s *Store) Size(ctx context.Context, orgID string) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT people FROM office_unit_sizes WHERE org_id = $1`, orgID).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return n, err
}
