// Package totp is the second factor of admins (and of anyone who enrols):
// RFC 6238 time-based codes from an authenticator app, with one-time
// recovery codes for a lost phone.
//
// Rules (SECURITY.md #51, NIST SP 800-63B §5.1.4.2):
//   - a code is accepted for the current 30-second step or one step either
//     side, never further;
//   - each step is accepted once per account: the last accepted step is
//     kept in the database and moved forward atomically, so a code seen
//     over a shoulder or replayed by a proxy is worthless, even on another
//     replica;
//   - recovery codes are random (50 bits), stored as keyed hashes, and
//     each works once;
//   - the second step of one sign-in allows a few tries only (Check), and
//     an account with many recent failures is locked for a while.
//
// Secrets are stored AES-256-GCM encrypted under a key id, so the key can
// be rotated: old keys stay readable through Config.OldKeys.
package totp

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/xszz/xszz/internal/sqldb"
)

// Parameters every common authenticator app understands.
const (
	Period = 30 // seconds per step
	Digits = 6
	// Skew is how many steps either side of now are accepted.
	Skew = 1
	// RecoveryCodes is how many recovery codes an enrolment gives.
	RecoveryCodes = 10
	// EnrolmentTTL bounds how long a person may take to scan the QR code
	// and type the first code.
	EnrolmentTTL = 10 * time.Minute
)

var (
	// ErrInvalidCode is a wrong, malformed or out-of-window code.
	ErrInvalidCode = errors.New("totp: invalid code")
	// ErrReused is a code for a step already used (a replay).
	ErrReused = errors.New("totp: code already used")
	// ErrNotEnrolled means the account has no second factor.
	ErrNotEnrolled = errors.New("totp: not enrolled")
	// ErrAttemptsExhausted means the pending sign-in had its tries, or
	// was completed already; the person starts again with an SMS code.
	ErrAttemptsExhausted = errors.New("totp: no attempts left for this sign-in")
	// ErrEnrolmentExpired is an enrolment token that is forged, for
	// another account, or too old.
	ErrEnrolmentExpired = errors.New("totp: enrolment expired or invalid")
	// ErrAlreadyEnrolled refuses a first enrolment over an existing one:
	// replacing a second factor takes Reset, from a two-factor session.
	ErrAlreadyEnrolled = errors.New("totp: already enrolled")
)

// LockedError refuses the second step after repeated failures on the
// account; the lock is timed, never permanent (SECURITY.md #50).
type LockedError struct{ Until time.Time }

func (e *LockedError) Error() string {
	return "totp: account locked after repeated failures until " + e.Until.UTC().Format(time.RFC3339)
}

// Methods returned by Check.
const (
	MethodTOTP     = "totp"
	MethodRecovery = "recovery"
)

// Config configures a Service.
type Config struct {
	// Issuer is the name authenticator apps show beside the code.
	Issuer string
	// Key encrypts secrets and keys the recovery-code hashes (32 bytes).
	Key []byte
	// KeyID is stored beside each secret ("v1" when empty).
	KeyID string
	// OldKeys are earlier keys by id, read but never written.
	OldKeys map[string][]byte
	// MaxAttempts per pending sign-in (5); LockAfter failures on one
	// account within LockWindow (10 in 15 min) lock it for the rest of
	// the window.
	MaxAttempts int
	LockAfter   int
	LockWindow  time.Duration
}

// Service enrols and checks second factors.
type Service struct {
	db      *sqldb.DB
	cfg     Config
	aead    cipher.AEAD
	old     map[string]cipher.AEAD
	hashKey []byte
	now     func() time.Time
}

// New returns a Service; now is the clock.
func New(db *sqldb.DB, cfg Config, now func() time.Time) (*Service, error) {
	if cfg.Issuer == "" {
		cfg.Issuer = "全国学生资助"
	}
	if cfg.KeyID == "" {
		cfg.KeyID = "v1"
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 5
	}
	if cfg.LockAfter <= 0 {
		cfg.LockAfter = 10
	}
	if cfg.LockWindow <= 0 {
		cfg.LockWindow = 15 * time.Minute
	}
	if now == nil {
		now = time.Now
	}
	aead, err := newAEAD(cfg.Key)
	if err != nil {
		return nil, fmt.Errorf("totp key: %w", err)
	}
	s := &Service{db: db, cfg: cfg, aead: aead, old: map[string]cipher.AEAD{}, now: now}
	for id, k := range cfg.OldKeys {
		if s.old[id], err = newAEAD(k); err != nil {
			return nil, fmt.Errorf("totp old key %q: %w", id, err)
		}
	}
	m := hmac.New(sha256.New, cfg.Key)
	m.Write([]byte("xszz-totp-recovery"))
	s.hashKey = m.Sum(nil)
	return s, nil
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("must be 32 bytes, got %d", len(key))
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

func seal(aead cipher.AEAD, plain, ad []byte) []byte {
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	_, _ = rand.Read(nonce)
	return aead.Seal(nonce, nonce, plain, ad)
}

func open(aead cipher.AEAD, sealed, ad []byte) ([]byte, error) {
	n := aead.NonceSize()
	if len(sealed) < n+aead.Overhead() {
		return nil, errors.New("ciphertext too short")
	}
	return aead.Open(nil, sealed[:n], sealed[n:], ad)
}

func opts() totp.ValidateOpts {
	return totp.ValidateOpts{Period: Period, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}
}

// Enrolment is a secret offered to a person, not yet confirmed. It lives
// only in Token (encrypted, bound to the account, expiring), so an
// abandoned enrolment leaves nothing behind.
type Enrolment struct {
	Secret    string // base32, for manual entry
	URL       string // otpauth:// URL, the content of the QR code
	Token     string // carry to Confirm
	ExpiresAt time.Time
}

type enrolToken struct {
	Account string `json:"a"`
	Secret  string `json:"s"`
	Expires int64  `json:"e"`
}

// Begin offers a new secret to an account; label is what the app shows
// (a masked phone number: no full personal data in the app).
func (s *Service) Begin(accountID, label string) (*Enrolment, error) {
	key, err := totp.Generate(totp.GenerateOpts{Issuer: s.cfg.Issuer, AccountName: label, Period: Period, SecretSize: 20, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		return nil, fmt.Errorf("generate totp secret: %w", err)
	}
	exp := s.now().Add(EnrolmentTTL)
	b, _ := json.Marshal(enrolToken{Account: accountID, Secret: key.Secret(), Expires: exp.Unix()})
	tok := base64.RawURLEncoding.EncodeToString(seal(s.aead, b, []byte("xszz-totp-enrol")))
	return &Enrolment{Secret: key.Secret(), URL: key.URL(), Token: tok, ExpiresAt: exp}, nil
}

// PNG renders the enrolment's QR code, size pixels square.
func (e *Enrolment) PNG(size int) ([]byte, error) {
	key, err := otp.NewKeyFromURL(e.URL)
	if err != nil {
		return nil, fmt.Errorf("qr code: %w", err)
	}
	img, err := key.Image(size, size)
	if err != nil {
		return nil, fmt.Errorf("qr code: %w", err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("qr code: %w", err)
	}
	return buf.Bytes(), nil
}

func (s *Service) openEnrolment(accountID, token string) (string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(token) > 1024 {
		return "", ErrEnrolmentExpired
	}
	b, err := open(s.aead, raw, []byte("xszz-totp-enrol"))
	if err != nil {
		return "", ErrEnrolmentExpired
	}
	var t enrolToken
	if json.Unmarshal(b, &t) != nil || t.Account != accountID || s.now().Unix() > t.Expires {
		return "", ErrEnrolmentExpired
	}
	return t.Secret, nil
}

// step is the RFC 6238 counter at t.
func step(t time.Time) int64 { return t.Unix() / Period }

// match returns the step in [now-Skew, now+Skew] after `after` whose code
// equals code, or -1. All candidate codes are computed, so the time taken
// does not say which one matched.
func match(secret, code string, now time.Time, after int64) int64 {
	code = strings.TrimSpace(code)
	found := int64(-1)
	if len(code) != Digits {
		return found
	}
	cur := step(now)
	for st := cur - Skew; st <= cur+Skew; st++ {
		want, err := totp.GenerateCodeCustom(secret, time.Unix(st*Period, 0), opts())
		if err != nil {
			return -1
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 && st > after && found < 0 {
			found = st
		}
	}
	return found
}

// Confirm checks the first code from a new secret and makes it the
// account's second factor; an account already enrolled gives
// ErrAlreadyEnrolled, so a stolen SMS code cannot swap an admin's
// authenticator. It returns fresh recovery codes, to be shown once. The
// confirming code's step counts as used.
func (s *Service) Confirm(ctx context.Context, accountID, token, code string) ([]string, error) {
	return s.confirm(ctx, accountID, token, code, false)
}

// Reset is Confirm that replaces an existing second factor and its
// recovery codes; callers make sure the person passed the old one in this
// session.
func (s *Service) Reset(ctx context.Context, accountID, token, code string) ([]string, error) {
	return s.confirm(ctx, accountID, token, code, true)
}

func (s *Service) confirm(ctx context.Context, accountID, token, code string, replace bool) ([]string, error) {
	secret, err := s.openEnrolment(accountID, token)
	if err != nil {
		return nil, err
	}
	now := s.now()
	st := match(secret, code, now, -1)
	if st < 0 {
		return nil, ErrInvalidCode
	}
	sealed := seal(s.aead, []byte(secret), []byte(accountID))
	codes := newRecoveryCodes()
	upsert := `INSERT INTO totp_credentials (account_id, secret_enc, key_id, last_step, created_at) VALUES ($1, $2, $3, $4, $5)`
	if replace {
		upsert += ` ON CONFLICT (account_id) DO UPDATE SET secret_enc = excluded.secret_enc, key_id = excluded.key_id, last_step = excluded.last_step, created_at = excluded.created_at`
	} else {
		upsert += ` ON CONFLICT (account_id) DO NOTHING`
	}
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, upsert, accountID, sealed, s.cfg.KeyID, st, now.Unix())
		if err != nil {
			return fmt.Errorf("store totp secret: %w", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return ErrAlreadyEnrolled
		}
		return s.replaceCodes(ctx, tx, accountID, codes)
	})
	if err != nil {
		return nil, err
	}
	return codes, nil
}

// Enrolled reports whether the account has a second factor.
func (s *Service) Enrolled(ctx context.Context, accountID string) (bool, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM totp_credentials WHERE account_id = $1`, accountID).Scan(&n); err != nil {
		return false, fmt.Errorf("totp enrolled %q: %w", accountID, err)
	}
	return n > 0, nil
}

func (s *Service) load(ctx context.Context, q sqldb.Querier, accountID string) (secret string, last int64, err error) {
	var sealed []byte
	var keyID string
	err = q.QueryRowContext(ctx, `SELECT secret_enc, key_id, last_step FROM totp_credentials WHERE account_id = $1`, accountID).Scan(&sealed, &keyID, &last)
	if errors.Is(err, sql.ErrNoRows) {
		return "", 0, ErrNotEnrolled
	}
	if err != nil {
		return "", 0, fmt.Errorf("load totp secret %q: %w", accountID, err)
	}
	aead := s.aead
	if keyID != s.cfg.KeyID {
		var ok bool
		if aead, ok = s.old[keyID]; !ok {
			return "", 0, fmt.Errorf("totp secret of %q is encrypted with key %q, which is not configured", accountID, keyID)
		}
	}
	b, err := open(aead, sealed, []byte(accountID))
	if err != nil {
		return "", 0, fmt.Errorf("decrypt totp secret of %q: %w", accountID, err)
	}
	return string(b), last, nil
}

// Verify checks a code from the app. A code of an already used (or
// earlier) step gives ErrReused; two replicas racing with one code let
// exactly one through.
func (s *Service) Verify(ctx context.Context, accountID, code string) error {
	secret, last, err := s.load(ctx, s.db, accountID)
	if err != nil {
		return err
	}
	now := s.now()
	st := match(secret, code, now, last)
	if st < 0 {
		if match(secret, code, now, -1) >= 0 {
			return ErrReused
		}
		return ErrInvalidCode
	}
	res, err := s.db.ExecContext(ctx, `UPDATE totp_credentials SET last_step = $2 WHERE account_id = $1 AND last_step < $2`, accountID, st)
	if err != nil {
		return fmt.Errorf("record totp step: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return ErrReused
	}
	return nil
}

// --- recovery codes

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

func newRecoveryCodes() []string {
	out := make([]string, RecoveryCodes)
	for i := range out {
		var b [7]byte
		_, _ = rand.Read(b[:])
		c := strings.ToLower(b32.EncodeToString(b[:]))[:10] // 50 bits
		out[i] = c[:5] + "-" + c[5:]
	}
	return out
}

// normaliseRecovery accepts what people type: case, spaces and dashes do
// not matter.
func normaliseRecovery(code string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(code) {
		if (r >= 'a' && r <= 'z') || (r >= '2' && r <= '7') {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// IsRecoveryCode reports whether code is shaped like a recovery code
// rather than an app code.
func IsRecoveryCode(code string) bool { return len(normaliseRecovery(code)) == 10 }

func (s *Service) recoveryHash(accountID, code string) string {
	m := hmac.New(sha256.New, s.hashKey)
	m.Write([]byte(accountID + "\x00" + normaliseRecovery(code)))
	return hex.EncodeToString(m.Sum(nil))
}

func (s *Service) replaceCodes(ctx context.Context, q sqldb.Querier, accountID string, codes []string) error {
	if _, err := q.ExecContext(ctx, `DELETE FROM totp_recovery_codes WHERE account_id = $1`, accountID); err != nil {
		return fmt.Errorf("replace recovery codes: %w", err)
	}
	now := s.now().Unix()
	for _, c := range codes {
		if _, err := q.ExecContext(ctx, `INSERT INTO totp_recovery_codes (account_id, code_hash, created_at) VALUES ($1, $2, $3)`, accountID, s.recoveryHash(accountID, c), now); err != nil {
			return fmt.Errorf("store recovery code: %w", err)
		}
	}
	return nil
}

// NewRecoveryCodes replaces an enrolled account's recovery codes; the old
// ones stop working.
func (s *Service) NewRecoveryCodes(ctx context.Context, accountID string) ([]string, error) {
	codes := newRecoveryCodes()
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		// The credential row is locked so a concurrent Remove cannot
		// delete it between this check and the new codes: codes without
		// a credential would outlive the reset.
		var id string
		err := tx.QueryRowContext(ctx, `SELECT account_id FROM totp_credentials WHERE account_id = $1`+s.db.ForUpdate(), accountID).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotEnrolled
		}
		if err != nil {
			return fmt.Errorf("new recovery codes: %w", err)
		}
		return s.replaceCodes(ctx, tx, accountID, codes)
	})
	if err != nil {
		return nil, err
	}
	return codes, nil
}

// RecoveryCodesLeft counts the unused recovery codes.
func (s *Service) RecoveryCodesLeft(ctx context.Context, accountID string) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM totp_recovery_codes WHERE account_id = $1 AND used_at IS NULL`, accountID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count recovery codes: %w", err)
	}
	return n, nil
}

// Redeem spends a recovery code; each works once.
func (s *Service) Redeem(ctx context.Context, accountID, code string) error {
	if !IsRecoveryCode(code) {
		return ErrInvalidCode
	}
	res, err := s.db.ExecContext(ctx, `UPDATE totp_recovery_codes SET used_at = $3 WHERE account_id = $1 AND code_hash = $2 AND used_at IS NULL`,
		accountID, s.recoveryHash(accountID, code), s.now().Unix())
	if err != nil {
		return fmt.Errorf("redeem recovery code: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return ErrInvalidCode
	}
	return nil
}

// Remove deletes an account's second factor (an admin's reset; the
// account must enrol again at its next sign-in if its role requires it).
func (s *Service) Remove(ctx context.Context, accountID string) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM totp_recovery_codes WHERE account_id = $1`, accountID); err != nil {
			return fmt.Errorf("remove recovery codes: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM totp_credentials WHERE account_id = $1`, accountID); err != nil {
			return fmt.Errorf("remove totp: %w", err)
		}
		return nil
	})
}

// --- the second step of a sign-in

// Check is the second step of one pending sign-in, named by nonce (which
// the caller keeps in signed state expiring at expires): it takes one of
// MaxAttempts tries, then checks code as an app code or, when shaped like
// one, a recovery code. It returns the method that succeeded. After
// MaxAttempts failures, or once it succeeded, the nonce gives
// ErrAttemptsExhausted; LockAfter failures on the account within
// LockWindow give a *LockedError.
func (s *Service) Check(ctx context.Context, accountID, nonce string, expires time.Time, code string) (string, error) {
	now := s.now()
	var failures int64
	var oldest sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT COALESCE(SUM(attempts), 0), MIN(created_at) FROM totp_attempts WHERE account_id = $1 AND created_at > $2 AND attempts > 0`,
		accountID, now.Add(-s.cfg.LockWindow).Unix()).Scan(&failures, &oldest)
	if err != nil {
		return "", fmt.Errorf("count totp failures: %w", err)
	}
	if failures >= int64(s.cfg.LockAfter) {
		return "", &LockedError{Until: time.Unix(oldest.Int64, 0).Add(s.cfg.LockWindow)}
	}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO totp_attempts (nonce, account_id, attempts, created_at, expires_at) VALUES ($1, $2, 0, $3, $4) ON CONFLICT (nonce) DO NOTHING`,
		nonce, accountID, now.Unix(), expires.Unix()); err != nil {
		return "", fmt.Errorf("start totp attempt: %w", err)
	}
	res, err := s.db.ExecContext(ctx, `UPDATE totp_attempts SET attempts = attempts + 1 WHERE nonce = $1 AND account_id = $2 AND done_at IS NULL AND attempts < $3`,
		nonce, accountID, s.cfg.MaxAttempts)
	if err != nil {
		return "", fmt.Errorf("take totp attempt: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return "", ErrAttemptsExhausted
	}
	method := MethodTOTP
	if IsRecoveryCode(code) {
		method = MethodRecovery
		err = s.Redeem(ctx, accountID, code)
	} else {
		err = s.Verify(ctx, accountID, code)
	}
	if err != nil {
		if !errors.Is(err, ErrInvalidCode) && !errors.Is(err, ErrReused) {
			return "", err
		}
		var used int
		if qerr := s.db.QueryRowContext(ctx, `SELECT attempts FROM totp_attempts WHERE nonce = $1`, nonce).Scan(&used); qerr == nil && used >= s.cfg.MaxAttempts {
			return "", fmt.Errorf("%w (%w)", ErrAttemptsExhausted, err)
		}
		return "", err
	}
	// A success is not a failure, and closes the nonce for good.
	if _, err := s.db.ExecContext(ctx, `UPDATE totp_attempts SET attempts = attempts - 1, done_at = $2 WHERE nonce = $1`, nonce, now.Unix()); err != nil {
		return "", fmt.Errorf("finish totp attempt: %w", err)
	}
	return method, nil
}

// Purge deletes attempt records past their pending state's life and the
// lock window.
func (s *Service) Purge(ctx context.Context) error {
	cut := s.now().Add(-s.cfg.LockWindow - time.Hour).Unix()
	if _, err := s.db.ExecContext(ctx, `DELETE FROM totp_attempts WHERE expires_at < $1`, cut); err != nil {
		return fmt.Errorf("purge totp attempts: %w", err)
	}
	return nil
}
