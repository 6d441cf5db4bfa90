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

// ErrIDNumberTaken means another account holds the same ID number. Put no
// longer returns it (a duplicate is stored flagged); it stays for callers
// written before.
var ErrIDNumberTaken = errors.New("profile: ID number already registered")

// Profile is the registration data of one account.
type Profile struct {
	AccountID string
	Position  string
	// IDNumber is the canonical number, "" when none was given. Only
	// Get's caller decides whether to show it; pages show MaskedID.
	IDNumber string
	MaskedID string
	// IDNumberConflict: another account held the number when this
	// profile was stored, so the registration waits flagged for an admin
	// to decide who the number belongs to.
	IDNumberConflict bool
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

// Put stores a new profile. A number already held by another account is
// not refused: the profile is stored without holding it and reads back
// with IDNumberConflict, so an admin sees the duplicate instead of the
// application vanishing (someone who registered with another person's
// number must not block that person). Whether it happened is for admins
// only; the applicant's answer is the same either way.
func (s *Store) Put(ctx context.Context, p Profile) error {
	var sealed []byte
	var keyID, index any
	if p.IDNumber != "" {
		b, kid := s.sealer.Seal(p.AccountID, p.IDNumber)
		sealed, keyID, index = b, kid, s.sealer.Index(p.IDNumber)
	}
	now := s.now().Unix()
	q := s.db.Q(ctx)
	// ON CONFLICT names only the number's index: a second profile for the
	// same account is still an error.
	res, err := q.ExecContext(ctx, `INSERT INTO account_profiles (account_id, position, id_number_enc, id_number_key_id, id_number_index, id_number_claim, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $5, $6, $6) ON CONFLICT (id_number_index) DO NOTHING`, p.AccountID, p.Position, sealed, keyID, index, now)
	if err != nil {
		return fmt.Errorf("store profile of %q: %w", p.AccountID, err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil
	}
	_, err = q.ExecContext(ctx, `INSERT INTO account_profiles (account_id, position, id_number_enc, id_number_key_id, id_number_index, id_number_claim, created_at, updated_at)
		VALUES ($1, $2, $3, $4, NULL, $5, $6, $6)`, p.AccountID, p.Position, sealed, keyID, index, now)
	if err != nil {
		return fmt.Errorf("store flagged profile of %q: %w", p.AccountID, err)
	}
	return nil
}

// Release gives up the ID number an account holds (its registration was
// rejected or withdrawn), so the number's owner can register with it. The
// sealed number stays on record with the decision; the claim goes too, so
// the profile no longer reads as a conflict.
func (s *Store) Release(ctx context.Context, accountID string) error {
	_, err := s.db.Q(ctx).ExecContext(ctx, `UPDATE account_profiles SET id_number_index = NULL, id_number_claim = NULL, updated_at = $2 WHERE account_id = $1`,
		accountID, s.now().Unix())
	if err != nil {
		return fmt.Errorf("release ID number of %q: %w", accountID, err)
	}
	return nil
}

// Conflicting reports whether an account's profile is flagged: it gave an
// ID number another account held.
func (s *Store) Conflicting(ctx context.Context, accountID string) (bool, error) {
	var n int
	err := s.db.Q(ctx).QueryRowContext(ctx, `SELECT COUNT(*) FROM account_profiles WHERE account_id = $1 AND id_number_claim IS NOT NULL AND id_number_index IS NULL`, accountID).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("ID number conflict of %q: %w", accountID, err)
	}
	return n > 0, nil
}

// Get returns an account's profile, or sqldb.ErrNotFound.
func (s *Store) Get(ctx context.Context, accountID string) (*Profile, error) {
	var (
		p      = Profile{AccountID: accountID}
		sealed []byte
		keyID  sql.NullString
	)
	err := s.db.QueryRowContext(ctx, `SELECT position, id_number_enc, id_number_key_id, id_number_claim IS NOT NULL AND id_number_index IS NULL
		FROM account_profiles WHERE account_id = $1`, accountID).Scan(&p.Position, &sealed, &keyID, &p.IDNumberConflict)
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
