package keys

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/xszz/xszz/internal/sqldb"
)

// row is one signing_keys row. Times are Unix seconds; 0 means unset.
type row struct {
	kid, alg, encKeyID string
	sealed             []byte
	createdAt          int64
	activeFrom         int64
	retiredAt          int64
	expiresAt          int64
}

func readVersion(ctx context.Context, q sqldb.Querier) (int64, error) {
	var v int64
	if err := q.QueryRowContext(ctx, `SELECT version FROM keyring WHERE id = 1`).Scan(&v); err != nil {
		return 0, fmt.Errorf("read keyring version: %w", err)
	}
	return v, nil
}

// readVersionAndNewest returns the keyring version and the creation time of
// the newest key (0 when there is none) from one statement, so the schedule
// decides on a consistent view.
func readVersionAndNewest(ctx context.Context, q sqldb.Querier) (version, newest int64, err error) {
	var n sql.NullInt64
	err = q.QueryRowContext(ctx, `SELECT version, (SELECT MAX(created_at) FROM signing_keys) FROM keyring WHERE id = 1`).Scan(&version, &n)
	if err != nil {
		return 0, 0, fmt.Errorf("read keyring: %w", err)
	}
	return version, n.Int64, nil
}

// readRows returns the keys still published at now (not yet expired).
func readRows(ctx context.Context, q sqldb.Querier, now int64) ([]row, error) {
	rows, err := q.QueryContext(ctx, `
		SELECT kid, alg, private_key, enc_key_id, created_at, active_from, retired_at, expires_at
		FROM signing_keys
		WHERE expires_at IS NULL OR expires_at > $1`, now)
	if err != nil {
		return nil, fmt.Errorf("read signing keys: %w", err)
	}
	defer rows.Close()
	var out []row
	for rows.Next() {
		var r row
		var retired, expires sql.NullInt64
		if err := rows.Scan(&r.kid, &r.alg, &r.sealed, &r.encKeyID, &r.createdAt, &r.activeFrom, &retired, &expires); err != nil {
			return nil, fmt.Errorf("read signing keys: %w", err)
		}
		r.retiredAt, r.expiresAt = retired.Int64, expires.Int64
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read signing keys: %w", err)
	}
	return out, nil
}

// bumpVersion is the compare-and-swap every change to the key set goes
// through. It runs first in the transaction: on PostgreSQL the row lock makes
// a concurrent swapper wait and then find the version moved; on SQLite the
// immediate transaction serialises writers outright.
func bumpVersion(ctx context.Context, tx *sql.Tx, version int64) error {
	res, err := tx.ExecContext(ctx, `UPDATE keyring SET version = version + 1 WHERE id = 1 AND version = $1`, version)
	if err != nil {
		return fmt.Errorf("update keyring: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("update keyring: %w", err)
	}
	if n == 0 {
		return sqldb.ErrConflict
	}
	return nil
}

func countUnretired(ctx context.Context, tx *sql.Tx, alg string) (int, error) {
	var n int
	err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM signing_keys WHERE alg = $1 AND retired_at IS NULL`, alg).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count %s keys: %w", alg, err)
	}
	return n, nil
}

func retire(ctx context.Context, tx *sql.Tx, alg string, retiredAt, expiresAt int64) error {
	_, err := tx.ExecContext(ctx, `UPDATE signing_keys SET retired_at = $1, expires_at = $2 WHERE alg = $3 AND retired_at IS NULL`, retiredAt, expiresAt, alg)
	if err != nil {
		return fmt.Errorf("retire %s keys: %w", alg, err)
	}
	return nil
}

func insert(ctx context.Context, tx *sql.Tx, r row, publicJWK []byte) error {
	_, err := tx.ExecContext(ctx, `
		INSERT INTO signing_keys (kid, alg, private_key, enc_key_id, public_jwk, created_at, active_from)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		r.kid, r.alg, r.sealed, r.encKeyID, string(publicJWK), r.createdAt, r.activeFrom)
	if err != nil {
		return fmt.Errorf("insert signing key %s: %w", r.kid, err)
	}
	return nil
}

// purge deletes keys whose retention ended. It does not bump the version:
// expired keys are already left out of every replica's view by time alone.
func purge(ctx context.Context, q sqldb.Querier, now int64) (int64, error) {
	res, err := q.ExecContext(ctx, `DELETE FROM signing_keys WHERE expires_at IS NOT NULL AND expires_at <= $1`, now)
	if err != nil {
		return 0, fmt.Errorf("purge expired signing keys: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("purge expired signing keys: %w", err)
	}
	return n, nil
}
