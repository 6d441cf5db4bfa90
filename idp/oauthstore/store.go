// Package oauthstore maps fosite's storage interfaces onto the database.
//
// Tokens are stored by signature only, never the token itself; every row
// carries the request id, the subject and the SSO session id, so a whole
// grant family, everything of one person or everything of one browser
// session can be revoked at once. Fosite's own errors are produced here and
// nowhere else.
package oauthstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/handler/pkce"
	"github.com/ory/fosite/storage"

	"github.com/xszz/xszz/internal/sqldb"
)

// Kinds of stored requests.
const (
	kindCode    = "code"
	kindAccess  = "access"
	kindRefresh = "refresh"
	kindPKCE    = "pkce"
	kindOIDC    = "oidc"
)

// ErrCodeRace is wrapped into fosite's error when two requests redeem one
// authorization code at the same moment and this one lost; the token
// endpoint answers invalid_grant for it.
var ErrCodeRace = errors.New("authorization code redeemed concurrently")

// ErrStorage marks a lookup that failed for want of the database, not for
// want of the row. Fosite turns every lookup error into a refusal of the
// token; callers that must not answer "inactive" or "invalid" for an
// outage (introspection, userinfo) test for it with errors.Is, which sees
// through fosite's wrapping.
var ErrStorage = errors.New("oauth storage unavailable")

// Clients looks up registered clients.
type Clients interface {
	GetClient(ctx context.Context, id string) (fosite.Client, error)
}

// SessionIDer is implemented by sessions that belong to an SSO session.
type SessionIDer interface{ SSOSessionID() string }

// Store implements fosite's storage on a sqldb.DB.
type Store struct {
	db      *sqldb.DB
	clients Clients
	now     func() time.Time
	inserts *batcher // rows written outside a transaction
	spent   *batcher // deleteSpent outside a transaction

	selMu sync.Mutex
	sel   *sql.Stmt // selectRow, prepared on first use
}

var (
	_ oauth2.CoreStorage                 = (*Store)(nil)
	_ oauth2.TokenRevocationStorage      = (*Store)(nil)
	_ openid.OpenIDConnectRequestStorage = (*Store)(nil)
	_ pkce.PKCERequestStorage            = (*Store)(nil)
	_ storage.Transactional              = (*Store)(nil)
)

// New returns a store.
func New(db *sqldb.DB, clients Clients, now func() time.Time) *Store {
	return &Store{db: db, clients: clients, now: now, inserts: newInserter(db.Relaxed()), spent: newDeleter(db.Relaxed())}
}

type txKey struct{}

// BeginTX starts a transaction that the following calls with the returned
// context join; fosite uses it to make code redemption and refresh-token
// rotation atomic.
func (s *Store) BeginTX(ctx context.Context) (context.Context, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return ctx, fmt.Errorf("begin: %w", err)
	}
	return context.WithValue(ctx, txKey{}, tx), nil
}

func (s *Store) Commit(ctx context.Context) error {
	tx, ok := ctx.Value(txKey{}).(*sql.Tx)
	if !ok {
		return errors.New("commit: no transaction in context")
	}
	return tx.Commit()
}

func (s *Store) Rollback(ctx context.Context) error {
	tx, ok := ctx.Value(txKey{}).(*sql.Tx)
	if !ok {
		return errors.New("rollback: no transaction in context")
	}
	return tx.Rollback()
}

func (s *Store) q(ctx context.Context) sqldb.Querier {
	if tx, ok := ctx.Value(txKey{}).(*sql.Tx); ok {
		return tx
	}
	// A service operation's transaction (an admin's disable) includes the
	// revocation, so both commit together.
	return s.db.Q(ctx)
}

// keptParameters are the request parameters later steps need (nonce for
// the ID token, redirect_uri and the PKCE challenge for the code exchange);
// secrets such as client_secret, code or refresh_token are never stored.
var keptParameters = []string{"response_type", "redirect_uri", "nonce", "state", "max_age", "prompt", "code_challenge", "code_challenge_method", "scope", "acr_values", "audience", "response_mode"}

type record struct {
	ID                string          `json:"id"`
	RequestedAt       time.Time       `json:"requested_at"`
	ClientID          string          `json:"client_id"`
	RequestedScope    []string        `json:"requested_scope,omitempty"`
	GrantedScope      []string        `json:"granted_scope,omitempty"`
	RequestedAudience []string        `json:"requested_audience,omitempty"`
	GrantedAudience   []string        `json:"granted_audience,omitempty"`
	Form              url.Values      `json:"form"`
	Session           json.RawMessage `json:"session"`
}

func (s *Store) create(ctx context.Context, kind, signature string, tokenType fosite.TokenType, req fosite.Requester) error {
	form := url.Values{}
	for _, k := range keptParameters {
		if v, ok := req.GetRequestForm()[k]; ok {
			form[k] = v
		}
	}
	sess, err := json.Marshal(req.GetSession())
	if err != nil {
		return fmt.Errorf("encode session: %w", err)
	}
	data, err := json.Marshal(record{
		ID:                req.GetID(),
		RequestedAt:       req.GetRequestedAt(),
		ClientID:          req.GetClient().GetID(),
		RequestedScope:    req.GetRequestedScopes(),
		GrantedScope:      req.GetGrantedScopes(),
		RequestedAudience: req.GetRequestedAudience(),
		GrantedAudience:   req.GetGrantedAudience(),
		Form:              form,
		Session:           sess,
	})
	if err != nil {
		return fmt.Errorf("encode request: %w", err)
	}
	var sid, subject string
	if ss, ok := req.GetSession().(SessionIDer); ok {
		sid = ss.SSOSessionID()
	}
	if req.GetSession() != nil {
		subject = req.GetSession().GetSubject()
	}
	var expires int64
	if req.GetSession() != nil {
		if t := req.GetSession().GetExpiresAt(tokenType); !t.IsZero() {
			expires = t.Unix()
		}
	}
	r := row{kind: kind, signature: signature, requestID: req.GetID(), clientID: req.GetClient().GetID(), subject: subject,
		sessionID: sid, requestedAt: req.GetRequestedAt().Unix(), expiresAt: expires, data: string(data)}
	if tx, ok := ctx.Value(txKey{}).(*sql.Tx); ok {
		_, err = tx.ExecContext(ctx, insertHead+`($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, r.args()...)
	} else {
		err = s.inserts.run(ctx, r.args()...)
	}
	if err != nil {
		return fmt.Errorf("store %s: %w", kind, err)
	}
	return nil
}

type memoKey struct{}

// codeMemo holds the authorization code rows one request has read.
type codeMemo struct {
	mu   sync.Mutex
	rows map[string]memoRow // by signature
}

type memoRow struct {
	data   string
	active bool
}

// WithCodeMemo returns a context in which the store reads each
// authorization code from the database once. Fosite reads the code twice
// per exchange (to check the request, then to issue the tokens); the
// second read may use the first: which of two parallel redemptions wins
// is decided by the conditional UPDATE that invalidates the code, not by
// what either read.
func WithCodeMemo(ctx context.Context) context.Context {
	return context.WithValue(ctx, memoKey{}, &codeMemo{rows: map[string]memoRow{}})
}

// load reads a row's data and state, through the code memo when the
// context carries one.
func (s *Store) load(ctx context.Context, kind, signature string) (string, bool, error) {
	memo, _ := ctx.Value(memoKey{}).(*codeMemo)
	if kind != kindCode {
		memo = nil
	}
	if memo != nil {
		memo.mu.Lock()
		r, ok := memo.rows[signature]
		memo.mu.Unlock()
		if ok {
			return r.data, r.active, nil
		}
	}
	var r memoRow
	err := s.selectRow(ctx, kind, signature).Scan(&r.data, &r.active)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, fosite.ErrNotFound
	}
	if err != nil {
		return "", false, fmt.Errorf("load %s: %w: %w", kind, ErrStorage, err)
	}
	if memo != nil {
		memo.mu.Lock()
		memo.rows[signature] = r
		memo.mu.Unlock()
	}
	return r.data, r.active, nil
}

const selectRow = `SELECT data, active FROM oauth_requests WHERE kind = $1 AND signature = $2`

// selectRow runs the lookup of a row by kind and signature, the query of
// every introspection and code exchange, prepared once: SQLite otherwise
// parses it each time (~5 % of an introspection's CPU). In a transaction
// it runs unprepared on the transaction.
func (s *Store) selectRow(ctx context.Context, kind, signature string) *sql.Row {
	if tx, ok := ctx.Value(txKey{}).(*sql.Tx); ok {
		return tx.QueryRowContext(ctx, selectRow, kind, signature)
	}
	s.selMu.Lock()
	st := s.sel
	if st == nil {
		if p, err := s.db.PrepareContext(ctx, selectRow); err == nil {
			s.sel, st = p, p
		}
	}
	s.selMu.Unlock()
	if st == nil {
		return s.db.QueryRowContext(ctx, selectRow, kind, signature)
	}
	return st.QueryRowContext(ctx, kind, signature)
}

// get loads a request; inactive rows come back with active=false and the
// request, because fosite needs the request id to revoke the family.
func (s *Store) get(ctx context.Context, kind, signature string, session fosite.Session) (fosite.Requester, bool, error) {
	data, active, err := s.load(ctx, kind, signature)
	if err != nil {
		return nil, false, err
	}
	var r record
	if err := json.Unmarshal([]byte(data), &r); err != nil {
		return nil, false, fmt.Errorf("decode %s: %w", kind, err)
	}
	if session != nil {
		if err := json.Unmarshal(r.Session, session); err != nil {
			return nil, false, fmt.Errorf("decode %s session: %w", kind, err)
		}
	}
	c, err := s.clients.GetClient(ctx, r.ClientID)
	if errors.Is(err, fosite.ErrNotFound) || errors.Is(err, sqldb.ErrNotFound) {
		// The client was deleted: its grants died with it.
		return nil, false, fosite.ErrNotFound
	}
	if err != nil {
		return nil, false, fmt.Errorf("client of %s: %w: %w", kind, ErrStorage, err)
	}
	req := &fosite.Request{
		ID:                r.ID,
		RequestedAt:       r.RequestedAt,
		Client:            c,
		RequestedScope:    r.RequestedScope,
		GrantedScope:      r.GrantedScope,
		RequestedAudience: r.RequestedAudience,
		GrantedAudience:   r.GrantedAudience,
		Form:              r.Form,
		Session:           session,
	}
	return req, active, nil
}

func (s *Store) delete(ctx context.Context, kind, signature string) error {
	return s.deleteFrom(ctx, s.q(ctx), kind, signature)
}

// deleteSpent deletes a row that can no longer be used (the PKCE and
// OpenID Connect state of a code being redeemed, whose invalidation is
// committed durably): losing this delete in a crash only leaves the row
// for Purge, so it may skip the WAL flush (sqldb.DB.Relaxed).
func (s *Store) deleteSpent(ctx context.Context, kind, signature string) error {
	if tx, ok := ctx.Value(txKey{}).(*sql.Tx); ok {
		return s.deleteFrom(ctx, tx, kind, signature)
	}
	if err := s.spent.run(ctx, kind, signature); err != nil {
		return fmt.Errorf("delete %s: %w", kind, err)
	}
	return nil
}

func (s *Store) deleteFrom(ctx context.Context, q sqldb.Querier, kind, signature string) error {
	if _, err := q.ExecContext(ctx, `DELETE FROM oauth_requests WHERE kind = $1 AND signature = $2`, kind, signature); err != nil {
		return fmt.Errorf("delete %s: %w", kind, err)
	}
	return nil
}

// --- authorization codes

func (s *Store) CreateAuthorizeCodeSession(ctx context.Context, signature string, req fosite.Requester) error {
	return s.create(ctx, kindCode, signature, fosite.AuthorizeCode, req)
}

func (s *Store) GetAuthorizeCodeSession(ctx context.Context, signature string, session fosite.Session) (fosite.Requester, error) {
	req, active, err := s.get(ctx, kindCode, signature, session)
	if err != nil {
		return nil, err
	}
	if !active {
		return req, fosite.ErrInvalidatedAuthorizeCode
	}
	return req, nil
}

// InvalidateAuthorizeCodeSession marks a code used. The condition on
// active makes two concurrent redemptions race on one row: exactly one
// update wins, the loser gets ErrCodeRace.
func (s *Store) InvalidateAuthorizeCodeSession(ctx context.Context, signature string) error {
	res, err := s.q(ctx).ExecContext(ctx, `UPDATE oauth_requests SET active = $3 WHERE kind = $1 AND signature = $2 AND active = $4`, kindCode, signature, false, true)
	if err != nil {
		return fmt.Errorf("invalidate code: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrCodeRace
	}
	return nil
}

// --- access tokens

func (s *Store) CreateAccessTokenSession(ctx context.Context, signature string, req fosite.Requester) error {
	return s.create(ctx, kindAccess, signature, fosite.AccessToken, req)
}

func (s *Store) GetAccessTokenSession(ctx context.Context, signature string, session fosite.Session) (fosite.Requester, error) {
	req, active, err := s.get(ctx, kindAccess, signature, session)
	if err != nil {
		return nil, err
	}
	if !active {
		return nil, fosite.ErrNotFound
	}
	return req, nil
}

func (s *Store) DeleteAccessTokenSession(ctx context.Context, signature string) error {
	return s.delete(ctx, kindAccess, signature)
}

// --- refresh tokens

func (s *Store) CreateRefreshTokenSession(ctx context.Context, signature, _ string, req fosite.Requester) error {
	return s.create(ctx, kindRefresh, signature, fosite.RefreshToken, req)
}

func (s *Store) GetRefreshTokenSession(ctx context.Context, signature string, session fosite.Session) (fosite.Requester, error) {
	req, active, err := s.get(ctx, kindRefresh, signature, session)
	if err != nil {
		return nil, err
	}
	if !active {
		return req, fosite.ErrInactiveToken
	}
	return req, nil
}

func (s *Store) DeleteRefreshTokenSession(ctx context.Context, signature string) error {
	return s.delete(ctx, kindRefresh, signature)
}

// RotateRefreshToken retires the presented refresh token (kept inactive so
// a replay is recognised and revokes the family) and the access tokens
// issued with it.
func (s *Store) RotateRefreshToken(ctx context.Context, requestID, signature string) error {
	res, err := s.q(ctx).ExecContext(ctx, `UPDATE oauth_requests SET active = $3 WHERE kind = $1 AND signature = $2 AND active = $4`, kindRefresh, signature, false, true)
	if err != nil {
		return fmt.Errorf("rotate refresh token: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fosite.ErrSerializationFailure
	}
	if _, err := s.q(ctx).ExecContext(ctx, `DELETE FROM oauth_requests WHERE kind = $1 AND request_id = $2`, kindAccess, requestID); err != nil {
		return fmt.Errorf("rotate refresh token: drop access tokens: %w", err)
	}
	return nil
}

func (s *Store) RevokeRefreshToken(ctx context.Context, requestID string) error {
	if _, err := s.q(ctx).ExecContext(ctx, `UPDATE oauth_requests SET active = $3 WHERE kind = $1 AND request_id = $2`, kindRefresh, requestID, false); err != nil {
		return fmt.Errorf("revoke refresh tokens of %q: %w", requestID, err)
	}
	return nil
}

func (s *Store) RevokeAccessToken(ctx context.Context, requestID string) error {
	if _, err := s.q(ctx).ExecContext(ctx, `DELETE FROM oauth_requests WHERE kind = $1 AND request_id = $2`, kindAccess, requestID); err != nil {
		return fmt.Errorf("revoke access tokens of %q: %w", requestID, err)
	}
	return nil
}

// --- PKCE and OpenID Connect state, both keyed by the authorization code

func (s *Store) CreatePKCERequestSession(ctx context.Context, signature string, req fosite.Requester) error {
	return s.create(ctx, kindPKCE, signature, fosite.AuthorizeCode, req)
}

func (s *Store) GetPKCERequestSession(ctx context.Context, signature string, session fosite.Session) (fosite.Requester, error) {
	req, _, err := s.get(ctx, kindPKCE, signature, session)
	return req, err
}

// DeletePKCERequestSession keeps the row: Purge removes it with the code
// it belongs to. Fosite deletes PKCE state while it checks a redemption,
// before the code is invalidated and the tokens are stored; a parallel
// redemption of the same code that then found the state gone failed
// before the winner's tokens existed, so its failure could not revoke
// them (RFC 6749 §4.1.2). Left in place, the state is harmless: the code
// is checked, and found used, before it is read.
func (s *Store) DeletePKCERequestSession(context.Context, string) error {
	return nil
}

// RevokeCodeGrant revokes the access and refresh tokens issued from an
// authorization code, given its signature: a code redeemed twice has
// leaked (RFC 6749 §4.1.2).
func (s *Store) RevokeCodeGrant(ctx context.Context, codeSignature string) error {
	var requestID string
	err := s.q(ctx).QueryRowContext(ctx, `SELECT request_id FROM oauth_requests WHERE kind = $1 AND signature = $2`, kindCode, codeSignature).Scan(&requestID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("revoke code grant: %w", err)
	}
	if err := s.RevokeAccessToken(ctx, requestID); err != nil {
		return err
	}
	return s.RevokeRefreshToken(ctx, requestID)
}

// Fosite hands the OpenID Connect storage the whole authorization code,
// not its signature; it is hashed so no usable code sits in the table.
func codeKey(code string) string {
	sum := sha256.Sum256([]byte(code))
	return hex.EncodeToString(sum[:])
}

func (s *Store) CreateOpenIDConnectSession(ctx context.Context, code string, req fosite.Requester) error {
	return s.create(ctx, kindOIDC, codeKey(code), fosite.AuthorizeCode, req)
}

func (s *Store) GetOpenIDConnectSession(ctx context.Context, code string, req fosite.Requester) (fosite.Requester, error) {
	got, _, err := s.get(ctx, kindOIDC, codeKey(code), req.GetSession())
	if errors.Is(err, fosite.ErrNotFound) {
		return nil, openid.ErrNoSessionFound
	}
	return got, err
}

func (s *Store) DeleteOpenIDConnectSession(ctx context.Context, code string) error {
	return s.deleteSpent(ctx, kindOIDC, codeKey(code))
}

// --- private_key_jwt replay protection (RFC 7523 §3, SECURITY.md #22)

func (s *Store) ClientAssertionJWTValid(ctx context.Context, jti string) error {
	var exp int64
	err := s.db.QueryRowContext(ctx, `SELECT expires_at FROM oauth_jtis WHERE jti = $1`, jti).Scan(&exp)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("check jti: %w", err)
	}
	if exp >= s.now().Unix() {
		return fosite.ErrJTIKnown
	}
	return nil
}

func (s *Store) SetClientAssertionJWT(ctx context.Context, jti string, exp time.Time) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM oauth_jtis WHERE expires_at < $1`, s.now().Unix()); err != nil {
		return fmt.Errorf("purge jtis: %w", err)
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO oauth_jtis (jti, expires_at) VALUES ($1, $2)`, jti, exp.Unix())
	if sqldb.IsUniqueViolation(err) {
		return fosite.ErrJTIKnown
	}
	if err != nil {
		return fmt.Errorf("store jti: %w", err)
	}
	return nil
}

// --- bulk revocation

// RevokeSubject ends every grant of an account: used when it is disabled,
// moved to another unit, changes role or phone.
func (s *Store) RevokeSubject(ctx context.Context, subject string) error {
	q := s.q(ctx)
	if _, err := q.ExecContext(ctx, `UPDATE oauth_requests SET active = $2 WHERE subject = $1 AND kind IN ('refresh', 'code')`, subject, false); err != nil {
		return fmt.Errorf("revoke grants of %q: %w", subject, err)
	}
	if _, err := q.ExecContext(ctx, `DELETE FROM oauth_requests WHERE subject = $1 AND kind = 'access'`, subject); err != nil {
		return fmt.Errorf("revoke access tokens of %q: %w", subject, err)
	}
	return nil
}

// RevokeSession ends the grants made in one SSO session (logout).
func (s *Store) RevokeSession(ctx context.Context, sid string) error {
	if sid == "" {
		return nil
	}
	q := s.q(ctx)
	if _, err := q.ExecContext(ctx, `UPDATE oauth_requests SET active = $2 WHERE session_id = $1 AND kind IN ('refresh', 'code')`, sid, false); err != nil {
		return fmt.Errorf("revoke grants of session: %w", err)
	}
	if _, err := q.ExecContext(ctx, `DELETE FROM oauth_requests WHERE session_id = $1 AND kind = 'access'`, sid); err != nil {
		return fmt.Errorf("revoke access tokens of session: %w", err)
	}
	return nil
}

// RevokeClient ends every grant of a client (when it is deleted).
func (s *Store) RevokeClient(ctx context.Context, clientID string) error {
	if _, err := s.q(ctx).ExecContext(ctx, `DELETE FROM oauth_requests WHERE client_id = $1`, clientID); err != nil {
		return fmt.Errorf("revoke grants of client %q: %w", clientID, err)
	}
	return nil
}

// Purge deletes rows that expired before cutoff. Used codes and rotated
// refresh tokens stay until then so reuse is still recognised.
func (s *Store) Purge(ctx context.Context, cutoff time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM oauth_requests WHERE expires_at > 0 AND expires_at < $1`, cutoff.Unix())
	if err != nil {
		return 0, fmt.Errorf("purge oauth requests: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}
