// Package rpsession keeps the web sessions of a relying party (the office
// system, the cockpit) in its own database, so sessions survive a restart
// and every replica sees them: a back-channel logout received by one
// replica ends the person's session on all of them. It implements
// sdk/web.SessionStore.
//
// A session holds the person's access and refresh tokens, so a row is
// sealed (internal/seal: AES-256-GCM, bound to its row) and keyed by a hash
// of the session id: a copy of the table opens no session and yields no token.
package rpsession

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/xszz/xszz/internal/seal"
	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/sdk/web"
)

// Store is a SessionStore on one table of a part's schema, with the
// columns id, sub, sid, created_at, expires_at and data (see the parts'
// migrations).
type Store struct {
	db    *sqldb.DB
	table string
	seal  *seal.Sealer
	now   func() time.Time
}

// keyID is stored nowhere: a rotated cookie key ends every session, as it
// ends every cookie.
const keyID = "cookie"

var _ web.SessionStore = (*Store)(nil)

// Key derives a relying party's cookie key (which seals the session cookie
// and the stored sessions) from its client secret, so every replica shares
// it without a setting of its own and rotating the secret ends every
// session. part names the relying party ("office", "cockpit").
func Key(clientSecret, part string) ([]byte, error) {
	return hkdf.Key(sha256.New, []byte(clientSecret), nil, "xszz "+part+" session cookie v1", 32)
}

// New returns a store on table, sealing rows with key (32 bytes).
func New(db *sqldb.DB, table string, key []byte, now func() time.Time) (*Store, error) {
	for _, r := range table {
		if (r < 'a' || r > 'z') && r != '_' {
			return nil, fmt.Errorf("rpsession: table %q: want lower-case letters and _", table)
		}
	}
	sl, err := seal.New(table, keyID, key, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("rpsession: %w", err)
	}
	if now == nil {
		now = time.Now
	}
	return &Store{db: db, table: table, seal: sl, now: now}, nil
}

func rowID(id string) string {
	h := sha256.Sum256([]byte("xszz-rp-session\x00" + id))
	return hex.EncodeToString(h[:])
}

func (s *Store) sealSession(row string, v *web.Session) ([]byte, error) {
	plain, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode session: %w", err)
	}
	sealed, _ := s.seal.Seal(row, string(plain))
	return sealed, nil
}

func (s *Store) open(row string, sealed []byte) (*web.Session, error) {
	plain, err := s.seal.Open(row, keyID, sealed)
	if err != nil {
		return nil, err
	}
	var v web.Session
	if err := json.Unmarshal([]byte(plain), &v); err != nil {
		return nil, fmt.Errorf("decode session: %w", err)
	}
	return &v, nil
}

// Load implements web.SessionStore. An expired session, or one sealed
// with another key (the cookie key rotated), is no session.
func (s *Store) Load(ctx context.Context, id string) (*web.Session, error) {
	row := rowID(id)
	var data []byte
	err := s.db.QueryRowContext(ctx, `SELECT data FROM `+s.table+` WHERE id = $1 AND expires_at > $2`, row, s.now().Unix()).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, web.ErrNoSession
	}
	if err != nil {
		return nil, fmt.Errorf("load session: %w", err)
	}
	v, err := s.open(row, data)
	if err != nil {
		return nil, web.ErrNoSession
	}
	return v, nil
}

// Save implements web.SessionStore: an insert, or the new tokens of a
// refreshed session.
func (s *Store) Save(ctx context.Context, v *web.Session) error {
	row := rowID(v.ID)
	data, err := s.sealSession(row, v)
	if err != nil {
		return err
	}
	// created_at is the session's start and stays as first written.
	_, err = s.db.ExecContext(ctx, `INSERT INTO `+s.table+` (id, sub, sid, created_at, expires_at, data) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (id) DO UPDATE SET sub = excluded.sub, sid = excluded.sid, expires_at = excluded.expires_at, data = excluded.data`,
		row, v.Subject, v.SID, v.Created.Unix(), v.Expires.Unix(), data)
	if err != nil {
		return fmt.Errorf("save session: %w", err)
	}
	return nil
}

// Delete implements web.SessionStore.
func (s *Store) Delete(ctx context.Context, id string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM `+s.table+` WHERE id = $1`, rowID(id)); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// EndSessions implements web.SessionStore.
func (s *Store) EndSessions(ctx context.Context, sub, sid string, issued time.Time) (int, error) {
	if sub == "" && sid == "" {
		return 0, nil
	}
	// A zero issued ends every matching session, whenever it began.
	by := int64(math.MaxInt64)
	if !issued.IsZero() {
		by = issued.Unix()
	}
	var res sql.Result
	var err error
	switch {
	case sid == "":
		res, err = s.db.ExecContext(ctx, `DELETE FROM `+s.table+` WHERE sub = $1 AND created_at <= $2`, sub, by)
	case sub == "":
		res, err = s.db.ExecContext(ctx, `DELETE FROM `+s.table+` WHERE sid = $1 AND created_at <= $2`, sid, by)
	default:
		res, err = s.db.ExecContext(ctx, `DELETE FROM `+s.table+` WHERE sub = $1 AND sid = $2 AND created_at <= $3`, sub, sid, by)
	}
	if err != nil {
		return 0, fmt.Errorf("end sessions: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("end sessions: %w", err)
	}
	return int(n), nil
}

// Purge deletes expired sessions; a part runs it now and then.
func (s *Store) Purge(ctx context.Context) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM `+s.table+` WHERE expires_at <= $1`, s.now().Unix())
	if err != nil {
		return 0, fmt.Errorf("purge sessions: %w", err)
	}
	return res.RowsAffected()
}
