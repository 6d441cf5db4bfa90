// Package grant keeps application grants: an admin's decision that an
// account may use an application (the data cockpit) beyond signing in.
package grant

import (
	"context"
	"fmt"
	"time"

	"github.com/xszz/xszz/internal/sqldb"
)

// Cockpit is the grant that opens the data cockpit.
const Cockpit = "cockpit"

// Apps lists the grants that exist.
var Apps = []string{Cockpit}

// Grant is one account's access to one application.
type Grant struct {
	AccountID string    `json:"account_id"`
	App       string    `json:"app"`
	GrantedBy string    `json:"granted_by"`
	CreatedAt time.Time `json:"created_at"`
}

// Store keeps grants in the database.
type Store struct {
	db  *sqldb.DB
	now func() time.Time
}

// NewStore returns a grant store.
func NewStore(db *sqldb.DB, now func() time.Time) *Store { return &Store{db: db, now: now} }

// Grants returns the applications an account may use; it is read at every
// token issue, so it is one indexed lookup.
func (s *Store) Grants(ctx context.Context, accountID string) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT app FROM grants WHERE account_id = $1 ORDER BY app`, accountID)
	if err != nil {
		return nil, fmt.Errorf("grants of %q: %w", accountID, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var app string
		if err := rows.Scan(&app); err != nil {
			return nil, fmt.Errorf("grants of %q: %w", accountID, err)
		}
		out = append(out, app)
	}
	return out, rows.Err()
}

// Add grants app to an account; granting twice is not an error.
func (s *Store) Add(ctx context.Context, q sqldb.Querier, accountID, app, by string) error {
	if q == nil {
		q = s.db
	}
	_, err := q.ExecContext(ctx, `INSERT INTO grants (account_id, app, granted_by, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (account_id, app) DO NOTHING`,
		accountID, app, by, s.now().Unix())
	if err != nil {
		return fmt.Errorf("grant %s to %q: %w", app, accountID, err)
	}
	return nil
}

// Revoke removes a grant and reports whether there was one.
func (s *Store) Revoke(ctx context.Context, q sqldb.Querier, accountID, app string) (bool, error) {
	if q == nil {
		q = s.db
	}
	res, err := q.ExecContext(ctx, `DELETE FROM grants WHERE account_id = $1 AND app = $2`, accountID, app)
	if err != nil {
		return false, fmt.Errorf("revoke %s of %q: %w", app, accountID, err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// List returns the grants of an application, paged by account id.
func (s *Store) List(ctx context.Context, app, after string, limit int) ([]Grant, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	rows, err := s.db.QueryContext(ctx, `SELECT account_id, app, granted_by, created_at FROM grants WHERE app = $1 AND account_id > $2 ORDER BY account_id LIMIT $3`, app, after, limit)
	if err != nil {
		return nil, fmt.Errorf("list %s grants: %w", app, err)
	}
	defer rows.Close()
	var out []Grant
	for rows.Next() {
		var g Grant
		var at int64
		if err := rows.Scan(&g.AccountID, &g.App, &g.GrantedBy, &at); err != nil {
			return nil, fmt.Errorf("list %s grants: %w", app, err)
		}
		g.CreatedAt = time.Unix(at, 0).UTC()
		out = append(out, g)
	}
	return out, rows.Err()
}
