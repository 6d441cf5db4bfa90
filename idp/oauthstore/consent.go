package oauthstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// Consent returns the scopes an account granted a third-party client, as a
// space-separated list, or "" when it never did.
func (s *Store) Consent(ctx context.Context, accountID, clientID string) (string, error) {
	var scopes string
	err := s.db.QueryRowContext(ctx, `SELECT scopes FROM consents WHERE account_id = $1 AND client_id = $2`, accountID, clientID).Scan(&scopes)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("load consent: %w", err)
	}
	return scopes, nil
}

// SaveConsent remembers a consent; it replaces an earlier one.
func (s *Store) SaveConsent(ctx context.Context, accountID, clientID string, scopes []string) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO consents (account_id, client_id, scopes, created_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (account_id, client_id) DO UPDATE SET scopes = excluded.scopes, created_at = excluded.created_at`,
		accountID, clientID, strings.Join(scopes, " "), s.now().Unix())
	if err != nil {
		return fmt.Errorf("save consent: %w", err)
	}
	return nil
}

// RevokeConsent forgets a consent and ends the grants made under it.
func (s *Store) RevokeConsent(ctx context.Context, accountID, clientID string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM consents WHERE account_id = $1 AND client_id = $2`, accountID, clientID); err != nil {
		return fmt.Errorf("revoke consent: %w", err)
	}
	q := s.q(ctx)
	if _, err := q.ExecContext(ctx, `UPDATE oauth_requests SET active = $3 WHERE subject = $1 AND client_id = $2 AND kind IN ('refresh', 'code')`, accountID, clientID, false); err != nil {
		return fmt.Errorf("revoke consent grants: %w", err)
	}
	if _, err := q.ExecContext(ctx, `DELETE FROM oauth_requests WHERE subject = $1 AND client_id = $2 AND kind = 'access'`, accountID, clientID); err != nil {
		return fmt.Errorf("revoke consent access tokens: %w", err)
	}
	return nil
}
