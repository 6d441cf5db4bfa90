// Package pgschema gives a command run a PostgreSQL schema of its own, as
// sqldbtest does for tests, so runs against a shared server stay apart:
// the bench and the cmd/xszz end-to-end harness use it.
package pgschema

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"

	"github.com/xszz/xszz/internal/sqldb"
)

// Fresh creates a schema named prefix plus random hex on the server at
// base and returns a URL whose search_path points at it, and a function
// that drops it.
func Fresh(ctx context.Context, base, prefix string) (string, func(), error) {
	admin, err := sqldb.Open(ctx, base)
	if err != nil {
		return "", nil, err
	}
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		admin.Close()
		return "", nil, fmt.Errorf("schema name: %w", err)
	}
	schema := prefix + hex.EncodeToString(b[:])
	if _, err := admin.ExecContext(ctx, `CREATE SCHEMA `+schema); err != nil {
		admin.Close()
		return "", nil, fmt.Errorf("create schema: %w", err)
	}
	drop := func() {
		_, _ = admin.ExecContext(context.Background(), `DROP SCHEMA `+schema+` CASCADE`)
		admin.Close()
	}
	u, err := url.Parse(base)
	if err != nil {
		drop()
		return "", nil, err
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), drop, nil
}
