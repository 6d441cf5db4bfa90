package profile_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/xszz/xszz/idp/idcard"
	"github.com/xszz/xszz/idp/profile"
	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/internal/sqldb/sqldbtest"
)

func TestStore(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		sealer, err := idcard.NewSealer("k1", bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32), nil)
		if err != nil {
			t.Fatal(err)
		}
		s := profile.NewStore(db, sealer, func() time.Time { return time.Unix(1740000000, 0) })
		const n = "420111200803170417"
		if err := s.Put(ctx, profile.Profile{AccountID: "a1", Position: "资助专干", IDNumber: n}); err != nil {
			t.Fatal(err)
		}
		if err := s.Put(ctx, profile.Profile{AccountID: "a2"}); err != nil {
			t.Fatalf("profile without an ID number: %v", err)
		}
		if err := s.Put(ctx, profile.Profile{AccountID: "a3"}); err != nil {
			t.Fatalf("second profile without an ID number (NULL index is not a duplicate): %v", err)
		}
		if err := s.Put(ctx, profile.Profile{AccountID: "a4", IDNumber: n}); err != nil {
			t.Fatalf("same ID number again = %v, want stored flagged", err)
		}
		if p, _ := s.Get(ctx, "a4"); p == nil || !p.IDNumberConflict {
			t.Fatalf("duplicate not flagged: %+v", p)
		}
		if ok, _ := s.IDNumberTaken(ctx, n); !ok {
			t.Fatal("IDNumberTaken = false")
		}
		p, err := s.Get(ctx, "a1")
		if err != nil || p.IDNumber != n || p.MaskedID != "4201**********0417" || p.Position != "资助专干" {
			t.Fatalf("Get = %+v, %v", p, err)
		}
		var raw []byte
		if err := db.QueryRowContext(ctx, `SELECT id_number_enc FROM account_profiles WHERE account_id = 'a1'`).Scan(&raw); err != nil || bytes.Contains(raw, []byte(n)) {
			t.Fatalf("number stored in the clear (%v)", err)
		}
		if _, err := s.Get(ctx, "nobody"); !errors.Is(err, sqldb.ErrNotFound) {
			t.Fatalf("Get(unknown) = %v", err)
		}
	})
}

// Someone who registers with another person's ID number first cannot
// block that person: the owner's profile is stored flagged (never
// dropped), and once the squatter's registration is rejected its number is
// released, so the owner's next registration holds it unflagged.
func TestDuplicateIDNumberIsFlaggedAndReleased(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		sealer, err := idcard.NewSealer("k1", bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32), nil)
		if err != nil {
			t.Fatal(err)
		}
		s := profile.NewStore(db, sealer, func() time.Time { return time.Unix(1740000000, 0) })
		const n = "420111200803170417"
		for _, tc := range []struct {
			account string
			release string // released before this Put
			flagged bool
		}{
			{account: "squatter"},
			{account: "owner", flagged: true},
			{account: "owner-again", release: "squatter"},
		} {
			if tc.release != "" {
				if err := s.Release(ctx, tc.release); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Put(ctx, profile.Profile{AccountID: tc.account, IDNumber: n}); err != nil {
				t.Fatalf("%s: Put = %v, want stored", tc.account, err)
			}
			p, err := s.Get(ctx, tc.account)
			if err != nil {
				t.Fatal(err)
			}
			if p.IDNumber != n || p.IDNumberConflict != tc.flagged {
				t.Fatalf("%s: %+v, want number kept and flagged=%v", tc.account, p, tc.flagged)
			}
			if got, err := s.Conflicting(ctx, tc.account); err != nil || got != tc.flagged {
				t.Fatalf("%s: Conflicting = %v, %v", tc.account, got, err)
			}
		}
		if p, _ := s.Get(ctx, "squatter"); p.IDNumberConflict {
			t.Fatal("a released profile reads as a conflict")
		}
	})
}
