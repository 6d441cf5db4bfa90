package oauthstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"

	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/internal/sqldb/sqldbtest"
)

type oneClient struct{}

func (oneClient) GetClient(_ context.Context, id string) (fosite.Client, error) {
	return &fosite.DefaultClient{ID: id}, nil
}

func accessRequest(id string) *fosite.Request {
	r := fosite.NewRequest()
	r.ID = id
	r.Client = &fosite.DefaultClient{ID: "rp"}
	r.Session = &fosite.DefaultSession{Subject: "rp", ExpiresAt: map[fosite.TokenType]time.Time{fosite.AccessToken: time.Unix(2e9, 0)}}
	return r
}

// Concurrent token rows are written in batches; every row is stored and
// readable when its call returns, and a duplicate fails alone.
func TestConcurrentCreatesAreBatchedAndDurable(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := New(db, oneClient{}, time.Now)
		if err := s.CreateAccessTokenSession(ctx, "dup", accessRequest("r-dup")); err != nil {
			t.Fatal(err)
		}
		const n = 200
		errs := make([]error, n+1)
		var wg sync.WaitGroup
		for i := range n + 1 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sig := fmt.Sprintf("sig-%d", i)
				if i == n {
					sig = "dup"
				}
				if errs[i] = s.CreateAccessTokenSession(ctx, sig, accessRequest(fmt.Sprintf("r-%d", i))); errs[i] != nil {
					return
				}
				if _, err := s.GetAccessTokenSession(ctx, sig, &fosite.DefaultSession{}); err != nil {
					errs[i] = fmt.Errorf("read back: %w", err)
				}
			}()
		}
		wg.Wait()
		for i, err := range errs[:n] {
			if err != nil {
				t.Errorf("row %d: %v", i, err)
			}
		}
		if errs[n] == nil || !sqldb.IsUniqueViolation(errs[n]) {
			t.Errorf("duplicate signature: got %v, want a unique violation", errs[n])
		}
		var count int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM oauth_requests WHERE kind = 'access'`).Scan(&count); err != nil {
			t.Fatal(err)
		}
		if count != n+1 {
			t.Errorf("stored %d access rows, want %d", count, n+1)
		}
	})
}

// Spent OpenID Connect state deleted by many redemptions at once is gone
// for each of them, and the rows of other codes stay.
func TestConcurrentSpentDeletes(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := New(db, oneClient{}, time.Now)
		const n = 100
		for i := range n + 1 {
			if err := s.CreateOpenIDConnectSession(ctx, fmt.Sprint("code-", i), accessRequest(fmt.Sprint("r-", i))); err != nil {
				t.Fatal(err)
			}
		}
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := s.DeleteOpenIDConnectSession(ctx, fmt.Sprint("code-", i)); err != nil {
					t.Errorf("delete %d: %v", i, err)
				}
				if _, err := s.GetOpenIDConnectSession(ctx, fmt.Sprint("code-", i), accessRequest("probe")); !errors.Is(err, openid.ErrNoSessionFound) {
					t.Errorf("after delete %d: got %v, want no session", i, err)
				}
			}()
		}
		wg.Wait()
		if _, err := s.GetOpenIDConnectSession(ctx, fmt.Sprint("code-", n), accessRequest("probe")); err != nil {
			t.Errorf("untouched row: %v", err)
		}
	})
}
