// Package profile keeps what registration collects beside the account
// row: the position and the optional resident ID number, sealed by
// idp/idcard and unique through its blind index.
package profile

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/xszz/xszz/idp/idcard"
	"github.com/xszz/xszz/internal/sqldb"
)

// ErrIDNumberTaken means another account holds the same ID number.
var ErrIDNumberTaken = errors.New("profile: ID number already registered")

// Profile is the registration data of one account.
type Profile struct {
	AccountID string
	Position  string
	// IDNumber is the canonical number, "" when none was given. Only
	// Get's caller decides whether to show it; pages show MaskedID.
	IDNumber string
	MaskedID string
}

// Store keeps profiles.
type Store struct {
	db     *sqldb.DB
	sealer *idcard.Sealer
	now    func() time.Time
}

// NewStore returns a profile store.
func NewStore(db *sqldb.DB, sealer *idcard.Sealer, now func() time.Time) *Store {
	return &Store{db: db, sealer: sealer, now: now}
}

// IDNumberTaken reports whether a canonical ID number is registered.
func (s *Store) IDNumberTaken(ctx context.Context, number string) (bool, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM account_profiles WHERE id_number_index = $1`, s.sealer.Index(number)).Scan(&n); err != nil {
		return false, fmt.Errorf("look up ID number: %w", err)
	}
	return n > 0, nil
}

// Put stores a new profile; a number already held by another account gives
// ErrIDNumberTaken.
func (s *Store) Put(ctx context.Context, p Profile) error {
	var sealed []byte
	var keyID, index any
	if p.IDNumber != "" {
		b, kid := s.sealer.Seal(p.AccountID, p.IDNumber)
		sealed, keyID, index = b, kid, s.sealer.Index(p.IDNumber)
	}
	now := s.now().Unix()
	_, err := s.db.ExecContext(ctx, `INSERT INTO account_profiles (account_id, position, id_number_enc, id_number_key_id, id_number_index, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $6)`, p.AccountID, p.Position, sealed, keyID, index, now)
	if sqldb.IsUniqueViolation(err) {
		return ErrIDNumberTaken
	}
	if err != nil {
		return fmt.Errorf("store profile of %q: %w", p.AccountID, err)
	}
	return nil
}

// Get returns an account's profile, or sqldb.ErrNotFound.
func (s *Store) Get(ctx context.Context, accountID string) (*Profile, error) {
	var (
		p      = Profile{AccountID: accountID}
		sealed []byte
		keyID  sql.NullString
	)
	err := s.db.QueryRowContext(ctx, `SELECT position, id_number_enc, id_number_key_id FROM account_profiles WHERE account_id = $1`, accountID).Scan(&p.Position, &sealed, &keyID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("profile of %q: %w", accountID, sqldb.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("load profile of %q: %w", accountID, err)
	}
	if len(sealed) > 0 {
		if p.IDNumber, err = s.sealer.Open(accountID, keyID.String, sealed); err != nil {
			return nil, fmt.Errorf("profile of %q: %w", accountID, err)
		}
		p.MaskedID = idcard.Mask(p.IDNumber)
	}
	return &p, nil
}

// Delete removes a profile (a registration that could not be completed).
func (s *Store) Delete(ctx context.Context, accountID string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM account_profiles WHERE account_id = $1`, accountID); err != nil {
		return fmt.Errorf("delete profile of %q: %w", accountID, err)
	}
	return nil
}
