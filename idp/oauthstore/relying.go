package oauthstore

import (
	"context"
	"fmt"
)

// ClientsOfSubject lists the clients holding any live grant of an account:
// the relying parties to tell when the account is signed out everywhere.
func (s *Store) ClientsOfSubject(ctx context.Context, subject string) ([]string, error) {
	return s.distinctClients(ctx, `SELECT DISTINCT client_id FROM oauth_requests WHERE subject = $1 AND kind IN ('access', 'refresh') AND expires_at >= $2`, subject)
}

// ClientsOfSession lists the clients that received tokens in one SSO
// session: the relying parties to tell when it ends.
func (s *Store) ClientsOfSession(ctx context.Context, sid string) ([]string, error) {
	if sid == "" {
		return nil, nil
	}
	return s.distinctClients(ctx, `SELECT DISTINCT client_id FROM oauth_requests WHERE session_id = $1 AND kind IN ('access', 'refresh') AND expires_at >= $2`, sid)
}

func (s *Store) distinctClients(ctx context.Context, query, key string) ([]string, error) {
	rows, err := s.q(ctx).QueryContext(ctx, query, key, s.now().Unix())
	if err != nil {
		return nil, fmt.Errorf("clients with grants: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("clients with grants: %w", err)
		}
		out = append(out, id)
	}
	return out, rows.Err()
}
