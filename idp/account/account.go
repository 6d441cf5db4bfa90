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

// Store keeps accounts in the database. Callers see plain E.164 numbers;
// the table holds them sealed (see Sealer).
type Store struct {
	db     *sqldb.DB
	now    func() time.Time
	sealer *Sealer
}

// Option configures a Store.
type Option func(*Store)

// WithSealer seals phone numbers with keys derived from the deployment's
// secret. Without it a store uses random keys that live as long as the
// process: right for tests, never for a deployment (xszz passes it).
func WithSealer(s *Sealer) Option { return func(st *Store) { st.sealer = s } }

// NewStore returns an account store.
func NewStore(db *sqldb.DB, now func() time.Time, opts ...Option) *Store {
	s := &Store{db: db, now: now}
	for _, o := range opts {
		o(s)
	}
	if s.sealer == nil {
		s.sealer = ephemeralSealer()
	}
	return s
}

var columnNames = []string{"id", "phone", "phone_enc", "phone_key_id", "name", "status", "org_id", "role", "activated_at", "created_at", "updated_at", "disabled_by"}

var columns = strings.Join(columnNames, ", ")

// Columns lists the columns Scan reads, each prefixed with alias and a dot
// when alias is not empty, for queries that join accounts to other tables.
func Columns(alias string) string {
	if alias == "" {
		return columns
	}
	return alias + "." + strings.Join(columnNames, ", "+alias+".")
}

// PhoneIndex is the blind index to compare accounts.phone_index with.
func (s *Store) PhoneIndex(e164 string) string { return s.sealer.Index(e164) }

// Scan reads one row of Columns, then extra destinations.
func (s *Store) Scan(row interface{ Scan(...any) error }, extra ...any) (*Account, error) {
	var (
		a         Account
		plain     sql.NullString
		sealed    []byte
		keyID     sql.NullString
		org       sql.NullString
		activated sql.NullInt64
		created   int64
		updated   int64
	)
	dest := append([]any{&a.ID, &plain, &sealed, &keyID, &a.Name, &a.Status, &org, &a.Role, &activated, &created, &updated, &a.DisabledBy}, extra...)
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	if len(sealed) > 0 {
		p, err := s.sealer.Open(a.ID, keyID.String, sealed)
		if err != nil {
			return nil, fmt.Errorf("account %q: %w", a.ID, err)
		}
		a.Phone = p
	} else {
		a.Phone = plain.String // written before phones were sealed
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
	sealed, keyID := s.sealer.Seal(a.ID, a.Phone)
	_, err := s.db.Q(ctx).ExecContext(ctx, `INSERT INTO accounts (id, phone, phone_enc, phone_key_id, phone_index, name, status, org_id, role, activated_at, created_at, updated_at, disabled_by)
		VALUES ($1, NULL, $2, $3, $4, $5, $6, $7, $8, NULL, $9, $9, $10)`,
		a.ID, sealed, keyID, s.sealer.Index(a.Phone), a.Name, a.Status, nullable(a.OrgID), a.Role, now.Unix(), a.DisabledBy)
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
	a, err := s.Scan(s.db.Q(ctx).QueryRowContext(ctx, `SELECT `+columns+` FROM accounts WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("account %q: %w", id, sqldb.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("load account %q: %w", id, err)
	}
	return a, nil
}

// ByPhone returns the account holding an E.164 phone number. A row from
// before phones were sealed is still found by its plaintext until
// SealPlaintextPhones has run.
func (s *Store) ByPhone(ctx context.Context, phone string) (*Account, error) {
	a, err := s.Scan(s.db.Q(ctx).QueryRowContext(ctx, `SELECT `+columns+` FROM accounts WHERE phone_index = $1 OR phone = $2`, s.sealer.Index(phone), phone))
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
		a, err := s.Scan(rows)
		if err != nil {
			return nil, fmt.Errorf("list accounts: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// Update applies fn to the account inside one transaction. The row is
// locked while fn decides, so a concurrent Update waits and then sees this
// one's change instead of writing its stale copy back. The phone is
// written sealed (a plaintext row is sealed on its first update).
func (s *Store) Update(ctx context.Context, id string, fn func(a *Account) error) (*Account, error) {
	var out *Account
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		a, err := s.Scan(tx.QueryRowContext(ctx, `SELECT `+columns+` FROM accounts WHERE id = $1`+s.db.ForUpdate(), id))
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
		sealed, keyID := s.sealer.Seal(a.ID, a.Phone)
		_, err = tx.ExecContext(ctx, `UPDATE accounts SET phone = NULL, phone_enc = $2, phone_key_id = $3, phone_index = $4, name = $5, status = $6,
			org_id = $7, role = $8, activated_at = $9, updated_at = $10, disabled_by = $11 WHERE id = $1`,
			a.ID, sealed, keyID, s.sealer.Index(a.Phone), a.Name, a.Status, nullable(a.OrgID), a.Role, activated, a.UpdatedAt.Unix(), a.DisabledBy)
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

// sealBatch is how many plaintext rows one transaction of
// SealPlaintextPhones seals: short transactions, so sign-ins are not held
// up at startup on a large table.
const sealBatch = 500

// SealPlaintextPhones seals the phone numbers of rows written before phones
// were encrypted and clears their plaintext, batch by batch, each batch in
// its own transaction. It is the data half of migration 0223 (an HMAC
// cannot be computed in SQL) and runs at every start; with nothing left to
// seal it is one query. It returns how many rows it sealed.
func (s *Store) SealPlaintextPhones(ctx context.Context) (int, error) {
	total := 0
	for {
		n := 0
		err := s.db.InTx(ctx, func(tx *sql.Tx) error {
			rows, err := tx.QueryContext(ctx, `SELECT id, phone FROM accounts WHERE phone IS NOT NULL ORDER BY id LIMIT $1`+s.db.ForUpdate(), sealBatch)
			if err != nil {
				return fmt.Errorf("find plaintext phones: %w", err)
			}
			type row struct{ id, phone string }
			var batch []row
			for rows.Next() {
				var r row
				if err := rows.Scan(&r.id, &r.phone); err != nil {
					rows.Close()
					return fmt.Errorf("find plaintext phones: %w", err)
				}
				batch = append(batch, r)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return fmt.Errorf("find plaintext phones: %w", err)
			}
			for _, r := range batch {
				sealed, keyID := s.sealer.Seal(r.id, r.phone)
				if _, err := tx.ExecContext(ctx, `UPDATE accounts SET phone = NULL, phone_enc = $2, phone_key_id = $3, phone_index = $4 WHERE id = $1`,
					r.id, sealed, keyID, s.sealer.Index(r.phone)); err != nil {
					return fmt.Errorf("seal phone of %q: %w", r.id, err)
				}
			}
			n = len(batch)
			return nil
		})
		if err != nil {
			return total, err
		}
		total += n
		if n < sealBatch {
			return total, nil
		}
	}
}

// MarkSignedIn records the first successful sign-in of an account.
func (s *Store) MarkSignedIn(ctx context.Context, id string) error {
	_, err := s.db.Q(ctx).ExecContext(ctx, `UPDATE accounts SET activated_at = $2 WHERE id = $1 AND activated_at IS NULL`, id, s.now().Unix())
	if err != nil {
		return fmt.Errorf("mark account %q signed in: %w", id, err)
	}
	return nil
}
