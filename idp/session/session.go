// Package session keeps single sign-on sessions: the browser holds a random
// token in a cookie, the database holds only its hash.
package session

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/xszz/xszz/internal/sqldb"
)

// Session is one signed-in browser.
type Session struct {
	ID        string    `json:"id"` // hash of the cookie token; also the OIDC "sid"
	AccountID string    `json:"account_id"`
	AuthTime  time.Time `json:"auth_time"`
	AMR       []string  `json:"amr"`
	IP        string    `json:"ip"`
	UserAgent string    `json:"user_agent"`
	CreatedAt time.Time `json:"created_at"`
	LastSeen  time.Time `json:"last_seen"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Config bounds session life.
type Config struct {
	Idle     time.Duration // sign out after this long without use (30 min)
	Absolute time.Duration // sign out this long after sign-in whatever happens (12 h)
}

// ErrNoSession means the token names no live session.
var ErrNoSession = errors.New("no session")

// Store keeps sessions in the database.
type Store struct {
	db  *sqldb.DB
	cfg Config
	now func() time.Time
}

// NewStore returns a session store.
func NewStore(db *sqldb.DB, cfg Config, now func() time.Time) *Store {
	return &Store{db: db, cfg: cfg, now: now}
}

// Hash maps a cookie token to the session id stored in the database.
func Hash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:16])
}

// Create starts a session and returns the token for the cookie. Every
// sign-in makes a new token, so a token planted before sign-in is useless
// after it (session fixation).
func (s *Store) Create(ctx context.Context, accountID string, amr []string, ip, ua string) (string, *Session, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", nil, fmt.Errorf("session token: %w", err)
	}
	token := base64.RawURLEncoding.EncodeToString(b[:])
	now := s.now().UTC().Truncate(time.Second)
	sess := &Session{
		ID: Hash(token), AccountID: accountID, AuthTime: now, AMR: amr,
		IP: ip, UserAgent: truncate(ua, 256), CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(s.cfg.Absolute),
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO sessions (id, account_id, auth_time, amr, ip, user_agent, created_at, last_seen_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8)`,
		sess.ID, accountID, now.Unix(), strings.Join(amr, " "), ip, sess.UserAgent, now.Unix(), sess.ExpiresAt.Unix())
	if err != nil {
		return "", nil, fmt.Errorf("create session: %w", err)
	}
	return token, sess, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// Lookup returns the live session for a cookie token and records its use.
// The last-seen time is written at most once a minute: a session is read
// on every authorization request, and the idle timeout does not need
// second precision.
func (s *Store) Lookup(ctx context.Context, token string) (*Session, error) {
	if token == "" || len(token) > 100 {
		return nil, ErrNoSession
	}
	sess, err := s.Get(ctx, Hash(token))
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	if now.Sub(sess.LastSeen) >= time.Minute {
		if _, err := s.db.ExecContext(ctx, `UPDATE sessions SET last_seen_at = $2 WHERE id = $1`, sess.ID, now.Unix()); err != nil {
			return nil, fmt.Errorf("touch session: %w", err)
		}
		sess.LastSeen = now.Truncate(time.Second)
	}
	return sess, nil
}

// Get returns a live session by id.
func (s *Store) Get(ctx context.Context, id string) (*Session, error) {
	var (
		sess                                   Session
		amr                                    string
		authTime, created, lastSeen, expiresAt int64
	)
	err := s.db.QueryRowContext(ctx, `SELECT id, account_id, auth_time, amr, ip, user_agent, created_at, last_seen_at, expires_at FROM sessions WHERE id = $1`, id).
		Scan(&sess.ID, &sess.AccountID, &authTime, &amr, &sess.IP, &sess.UserAgent, &created, &lastSeen, &expiresAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNoSession
	}
	if err != nil {
		return nil, fmt.Errorf("load session: %w", err)
	}
	sess.AuthTime = time.Unix(authTime, 0).UTC()
	sess.AMR = strings.Fields(amr)
	sess.CreatedAt = time.Unix(created, 0).UTC()
	sess.LastSeen = time.Unix(lastSeen, 0).UTC()
	sess.ExpiresAt = time.Unix(expiresAt, 0).UTC()
	now := s.now().UTC()
	if !now.Before(sess.ExpiresAt) || now.Sub(sess.LastSeen) >= s.cfg.Idle {
		return nil, ErrNoSession
	}
	return &sess, nil
}

// ListByAccount returns the live sessions of an account, newest first.
func (s *Store) ListByAccount(ctx context.Context, accountID string) ([]*Session, error) {
	ids, err := s.ids(ctx, `SELECT id FROM sessions WHERE account_id = $1 AND expires_at > $2 ORDER BY created_at DESC`, accountID, s.now().Unix())
	if err != nil {
		return nil, err
	}
	var out []*Session
	for _, id := range ids {
		sess, err := s.Get(ctx, id)
		if errors.Is(err, ErrNoSession) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, sess)
	}
	return out, nil
}

// ids runs a query that selects session ids.
func (s *Store) ids(ctx context.Context, query string, args ...any) ([]string, error) {
	rows, err := s.db.Q(ctx).QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("list sessions: %w", err)
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// Delete ends one session.
func (s *Store) Delete(ctx context.Context, id string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM sessions WHERE id = $1`, id); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// DeleteByAccount ends every session of an account and returns their ids.
func (s *Store) DeleteByAccount(ctx context.Context, accountID string) ([]string, error) {
	ids, err := s.ids(ctx, `SELECT id FROM sessions WHERE account_id = $1`, accountID)
	if err != nil {
		return nil, err
	}
	if _, err := s.db.Q(ctx).ExecContext(ctx, `DELETE FROM sessions WHERE account_id = $1`, accountID); err != nil {
		return nil, fmt.Errorf("delete sessions: %w", err)
	}
	return ids, nil
}

// Purge deletes sessions past their absolute expiry or idle timeout.
func (s *Store) Purge(ctx context.Context) error {
	now := s.now().Unix()
	_, err := s.db.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at < $1 OR last_seen_at < $2`, now, now-int64(s.cfg.Idle.Seconds()))
	if err != nil {
		return fmt.Errorf("purge sessions: %w", err)
	}
	return nil
}
