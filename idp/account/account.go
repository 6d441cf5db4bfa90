// Package account holds staff accounts: one verified mainland mobile number,
// a real name, an organisation and a role.
package account

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/xszz/xszz/internal/sqldb"
)

// Status of an account.
const (
	StatusPending  = "pending"  // self-registered, waiting for an admin
	StatusActive   = "active"   // may sign in
	StatusDisabled = "disabled" // may not sign in; tokens stop working
)

// Roles.
const (
	RoleStaff = "staff"
	RoleAdmin = "admin"
)

// Account is a person who signs in.
type Account struct {
	ID          string     `json:"id"`
	Phone       string     `json:"phone"` // E.164, +86…
	Name        string     `json:"name"`
	Status      string     `json:"status"`
	OrgID       string     `json:"org_id,omitempty"`
	Role        string     `json:"role"`
	ActivatedAt *time.Time `json:"activated_at,omitempty"`
	// DisabledBy is the org path of the unit whose admin disabled the
	// account, DisabledBySystem for the command line, "" while enabled.
	// Only someone at or above that unit may enable it again.
	DisabledBy string    `json:"-"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// DisabledBySystem marks a disable made from the command line, which only
// the command line undoes.
const DisabledBySystem = "system"

// Active reports whether the account may sign in and keep its tokens.
func (a *Account) Active() bool { return a.Status == StatusActive }

// ErrPhoneTaken is returned when a phone number already has an account.
var ErrPhoneTaken = errors.New("phone number already has an account")

// ValidateName checks a real name: 2–30 characters, letters (Han or
// other), the middle dot of minority names, and spaces inside.
func ValidateName(name string) error {
	n := utf8.RuneCountInString(name)
	if n < 2 || n > 30 {
		return errors.New("姓名应为 2–30 个字符")
	}
	if strings.TrimSpace(name) != name {
		return errors.New("姓名首尾不能有空格")
	}
	for _, r := range name {
		switch {
		case r == '·' || r == '•' || r == '.' || r == ' ':
		case r < 0x20 || r == 0x7f || (r >= 0x200b && r <= 0x200f) || r == 0xfeff:
			return errors.New("姓名含有不可见字符")
		case strings.ContainsRune("<>\"'&;=/\\{}[]()$%#@!?*+|^~`", r):
			return errors.New("姓名含有不允许的符号")
		}
	}
	return nil
}

// NewID returns a random, opaque account id; it is the OIDC subject, so it
// must never change and must reveal nothing.
func NewID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err))
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Store keeps accounts in the database.
type Store struct {
	db  *sqldb.DB
	now func() time.Time
}

// NewStore returns an account store.
func NewStore(db *sqldb.DB, now func() time.Time) *Store { return &Store{db: db, now: now} }

const columns = `id, phone, name, status, org_id, role, activated_at, created_at, updated_at, disabled_by`

func scan(row interface{ Scan(...any) error }) (*Account, error) {
	var (
		a         Account
		org       sql.NullString
		activated sql.NullInt64
		created   int64
		updated   int64
	)
	if err := row.Scan(&a.ID, &a.Phone, &a.Name, &a.Status, &org, &a.Role, &activated, &created, &updated, &a.DisabledBy); err != nil {
		return nil, err
	}
	a.OrgID = org.String
	if activated.Valid {
		t := time.Unix(activated.Int64, 0).UTC()
		a.ActivatedAt = &t
	}
	a.CreatedAt = time.Unix(created, 0).UTC()
	a.UpdatedAt = time.Unix(updated, 0).UTC()
	return &a, nil
}

// Create inserts an account; a.ID is generated when empty.
func (s *Store) Create(ctx context.Context, a Account) (*Account, error) {
	if a.ID == "" {
		a.ID = NewID()
	}
	if a.Role == "" {
		a.Role = RoleStaff
	}
	if a.Status == "" {
		a.Status = StatusActive
	}
	now := s.now().UTC().Truncate(time.Second)
	a.CreatedAt, a.UpdatedAt = now, now
	_, err := s.db.Q(ctx).ExecContext(ctx, `INSERT INTO accounts (`+columns+`) VALUES ($1, $2, $3, $4, $5, $6, NULL, $7, $7, $8)`,
		a.ID, a.Phone, a.Name, a.Status, nullable(a.OrgID), a.Role, now.Unix(), a.DisabledBy)
	if sqldb.IsUniqueViolation(err) {
		return nil, ErrPhoneTaken
	}
	if err != nil {
		return nil, fmt.Errorf("insert account: %w", err)
	}
	return &a, nil
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// Get returns an account by id.
func (s *Store) Get(ctx context.Context, id string) (*Account, error) {
	a, err := scan(s.db.Q(ctx).QueryRowContext(ctx, `SELECT `+columns+` FROM accounts WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("account %q: %w", id, sqldb.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("load account %q: %w", id, err)
	}
	return a, nil
}

// ByPhone returns the account holding an E.164 phone number.
func (s *Store) ByPhone(ctx context.Context, phone string) (*Account, error) {
	a, err := scan(s.db.Q(ctx).QueryRowContext(ctx, `SELECT `+columns+` FROM accounts WHERE phone = $1`, phone))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("account by phone: %w", sqldb.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("load account by phone: %w", err)
	}
	return a, nil
}

// List returns accounts ordered by id, after the given id (keyset paging).
func (s *Store) List(ctx context.Context, after string, limit int) ([]*Account, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+columns+` FROM accounts WHERE id > $1 ORDER BY id LIMIT $2`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("list accounts: %w", err)
	}
	defer rows.Close()
	var out []*Account
	for rows.Next() {
		a, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("list accounts: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// Update applies fn to the account inside one transaction. The row is
// locked while fn decides, so a concurrent Update waits and then sees this
// one's change instead of writing its stale copy back.
func (s *Store) Update(ctx context.Context, id string, fn func(a *Account) error) (*Account, error) {
	var out *Account
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		a, err := scan(tx.QueryRowContext(ctx, `SELECT `+columns+` FROM accounts WHERE id = $1`+s.db.ForUpdate(), id))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("account %q: %w", id, sqldb.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("load account %q: %w", id, err)
		}
		if err := fn(a); err != nil {
			return err
		}
		a.UpdatedAt = s.now().UTC().Truncate(time.Second)
		var activated any
		if a.ActivatedAt != nil {
			activated = a.ActivatedAt.Unix()
		}
		_, err = tx.ExecContext(ctx, `UPDATE accounts SET phone = $2, name = $3, status = $4, org_id = $5, role = $6, activated_at = $7, updated_at = $8, disabled_by = $9 WHERE id = $1`,
			a.ID, a.Phone, a.Name, a.Status, nullable(a.OrgID), a.Role, activated, a.UpdatedAt.Unix(), a.DisabledBy)
		if sqldb.IsUniqueViolation(err) {
			return ErrPhoneTaken
		}
		if err != nil {
			return fmt.Errorf("update account %q: %w", id, err)
		}
		out = a
		return nil
	})
	return out, err
}

// MarkSignedIn records the first successful sign-in of an account.
func (s *Store) MarkSignedIn(ctx context.Context, id string) error {
	_, err := s.db.Q(ctx).ExecContext(ctx, `UPDATE accounts SET activated_at = $2 WHERE id = $1 AND activated_at IS NULL`, id, s.now().Unix())
	if err != nil {
		return fmt.Errorf("mark account %q signed in: %w", id, err)
	}
	return nil
}
