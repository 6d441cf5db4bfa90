package oauthstore

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// ConsentEntry is one application an account consented to.
type ConsentEntry struct {
	ClientID  string
	Scopes    []string
	CreatedAt time.Time
}

// Consents lists an account's consents, newest first, for the account
// centre.
func (s *Store) Consents(ctx context.Context, accountID string) ([]ConsentEntry, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT client_id, scopes, created_at FROM consents WHERE account_id = $1 ORDER BY created_at DESC, client_id`, accountID)
	if err != nil {
		return nil, fmt.Errorf("list consents: %w", err)
	}
	defer rows.Close()
	var out []ConsentEntry
	for rows.Next() {
		var e ConsentEntry
		var scopes string
		var at int64
		if err := rows.Scan(&e.ClientID, &scopes, &at); err != nil {
			return nil, fmt.Errorf("list consents: %w", err)
		}
		e.Scopes, e.CreatedAt = strings.Fields(scopes), time.Unix(at, 0).UTC()
		out = append(out, e)
	}
	return out, rows.Err()
}
