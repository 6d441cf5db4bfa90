package client_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/xszz/xszz/idp/client"
	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/internal/sqldb/sqldbtest"
)

func newStore(db *sqldb.DB) *client.Store {
	now := func() time.Time { return time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC) }
	return client.NewStore(db, client.Hasher{Key: []byte("client-key")}, now, time.Hour)
}

func register(t *testing.T, s *client.Store) (*client.Client, string) {
	t.Helper()
	spec := client.Spec{Name: "旧系统", RedirectURIs: []string{"https://rp.example.test/cb"}}
	if err := spec.Validate(false); err != nil {
		t.Fatal(err)
	}
	cl, secret, err := s.Create(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	return cl, secret
}

// Update changes only what the edit changes, keeps the id, secret and
// creation time, refuses what a new registration would refuse (nothing
// written), and is seen at once through the store's own cache.
func TestUpdate(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := newStore(db)
		cl, secret := register(t, s)
		if _, err := s.Get(ctx, cl.ID); err != nil { // now cached for an hour
			t.Fatal(err)
		}
		var seen [2]*client.Client
		got, err := s.Update(ctx, cl.ID, false, func(sp *client.Spec) error {
			sp.AllowNoPKCE = true
			return nil
		}, func(_ context.Context, tx *sql.Tx, before, after *client.Client) error {
			seen = [2]*client.Client{before, after}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if !got.AllowNoPKCE || got.Name != cl.Name || !slices.Equal(got.RedirectURIs, cl.RedirectURIs) || !got.CreatedAt.Equal(cl.CreatedAt) ||
			!slices.Equal(got.Audience, []string{cl.ID}) || !slices.Equal(got.Scopes, cl.Scopes) {
			t.Errorf("after the update: %+v, from %+v", got, cl)
		}
		if seen[0] == nil || seen[0].AllowNoPKCE || !seen[1].AllowNoPKCE {
			t.Errorf("the commit hook saw %+v", seen)
		}
		cached, err := s.Get(ctx, cl.ID)
		if err != nil || !cached.AllowNoPKCE {
			t.Errorf("the cache still serves the old registration: %+v, %v", cached, err)
		}
		if err := s.Hasher().Compare(ctx, cached.SecretHash, []byte(secret)); err != nil {
			t.Errorf("the update lost the secret: %v", err)
		}

		refusals := []struct {
			name string
			edit func(*client.Spec)
		}{
			{"an http redirect URI", func(sp *client.Spec) { sp.RedirectURIs = []string{"http://rp.example.test/cb"} }},
			{"no redirect URI", func(sp *client.Spec) { sp.RedirectURIs = nil }},
			{"an unknown scope", func(sp *client.Spec) { sp.Scopes = []string{"openid", "everything"} }},
			{"a directory root without the scope", func(sp *client.Spec) { sp.DirectoryRoot = "320000" }},
			{"no name", func(sp *client.Spec) { sp.Name = " " }},
			{"another auth method", func(sp *client.Spec) { sp.AuthMethod = client.AuthSecretPost }},
		}
		for _, r := range refusals {
			_, err := s.Update(ctx, cl.ID, false, func(sp *client.Spec) error { r.edit(sp); return nil }, nil)
			if err == nil {
				t.Errorf("%s: accepted", r.name)
			}
		}
		_, err = s.Update(ctx, cl.ID, false, func(sp *client.Spec) error { sp.Name = "改了"; return nil },
			func(context.Context, *sql.Tx, *client.Client, *client.Client) error { return errors.New("audit down") })
		if err == nil {
			t.Errorf("an update whose hook failed succeeded")
		}
		now, _ := s.Get(ctx, cl.ID)
		if now.Name != cl.Name || !now.AllowNoPKCE || !slices.Equal(now.RedirectURIs, cl.RedirectURIs) {
			t.Errorf("a refused update left a trace: %+v", now)
		}
		if _, err := s.Update(ctx, "no-such-client", false, func(*client.Spec) error { return nil }, nil); !errors.Is(err, sqldb.ErrNotFound) {
			t.Errorf("unknown client: %v, want ErrNotFound", err)
		}
	})
}

// Concurrent updates of different fields both survive: the row is
// locked for the read-modify-write (on PostgreSQL, READ COMMITTED would
// otherwise let one overwrite the other).
func TestConcurrentUpdatesAreNotLost(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := newStore(db)
		cl, _ := register(t, s)
		const n = 8
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := s.Update(ctx, cl.ID, false, func(sp *client.Spec) error {
					sp.RedirectURIs = append(sp.RedirectURIs, fmt.Sprintf("https://rp%d.example.test/cb", i))
					return nil
				}, nil)
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.Get(ctx, cl.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.RedirectURIs) != n+1 {
			t.Errorf("%d redirect URIs after %d concurrent additions, want %d: %v", len(got.RedirectURIs), n, n+1, got.RedirectURIs)
		}
	})
}

// RotateSecret: the new secret works, the old one does not, at once
// through the cache; a client without a secret has none to rotate.
func TestRotateSecret(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := newStore(db)
		cl, old := register(t, s)
		if _, err := s.Get(ctx, cl.ID); err != nil {
			t.Fatal(err)
		}
		_, secret, err := s.RotateSecret(ctx, cl.ID, nil)
		if err != nil || secret == "" || secret == old {
			t.Fatalf("rotate: %q, %v", secret, err)
		}
		got, _ := s.Get(ctx, cl.ID)
		if s.Hasher().Compare(ctx, got.SecretHash, []byte(secret)) != nil {
			t.Errorf("the new secret does not match")
		}
		if s.Hasher().Compare(ctx, got.SecretHash, []byte(old)) == nil {
			t.Errorf("the old secret still matches")
		}
		pub := client.Spec{Name: "小程序", RedirectURIs: []string{"https://rp.example.test/cb"}, Public: true}
		if err := pub.Validate(false); err != nil {
			t.Fatal(err)
		}
		pc, _, err := s.Create(ctx, pub)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.RotateSecret(ctx, pc.ID, nil); err == nil {
			t.Errorf("a public client got a secret")
		}
	})
}
