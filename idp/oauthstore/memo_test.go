package oauthstore

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ory/fosite"

	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/internal/sqldb/sqldbtest"
)

// Within one token request the code is read from the database once, and
// the memo never lets a second redemption through: the invalidation
// decides.
func TestCodeMemo(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		s := New(db, oneClient{}, time.Now)
		bg := context.Background()
		if err := s.CreateAuthorizeCodeSession(bg, "code-1", accessRequest("r-1")); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateAccessTokenSession(bg, "at-1", accessRequest("r-1")); err != nil {
			t.Fatal(err)
		}

		ctx := WithCodeMemo(bg)
		before, counted := db.Statements()
		for range 2 {
			req, err := s.GetAuthorizeCodeSession(ctx, "code-1", &fosite.DefaultSession{})
			if err != nil || req.GetID() != "r-1" {
				t.Fatalf("read code: %v, %v", req, err)
			}
		}
		if after, _ := db.Statements(); counted && after-before != 1 {
			t.Errorf("two reads of one code ran %d statements, want 1", after-before)
		}

		// Access tokens and other kinds are never memoised.
		for range 2 {
			if _, err := s.GetAccessTokenSession(ctx, "at-1", &fosite.DefaultSession{}); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.RevokeAccessToken(bg, "r-1"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetAccessTokenSession(ctx, "at-1", &fosite.DefaultSession{}); !errors.Is(err, fosite.ErrNotFound) {
			t.Errorf("a revoked access token read in a memo context: %v, want not found", err)
		}

		// Another request redeems the code meanwhile: this one's
		// invalidation loses, whatever its memo says.
		if err := s.InvalidateAuthorizeCodeSession(bg, "code-1"); err != nil {
			t.Fatal(err)
		}
		if err := s.InvalidateAuthorizeCodeSession(ctx, "code-1"); !errors.Is(err, ErrCodeRace) {
			t.Errorf("second invalidation: %v, want ErrCodeRace", err)
		}
		if _, err := s.GetAuthorizeCodeSession(bg, "code-1", &fosite.DefaultSession{}); !errors.Is(err, fosite.ErrInvalidatedAuthorizeCode) {
			t.Errorf("a fresh request reads the used code: %v, want invalidated", err)
		}
	})
}
