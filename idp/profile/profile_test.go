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
		if err := s.Put(ctx, profile.Profile{AccountID: "a4", IDNumber: n}); !errors.Is(err, profile.ErrIDNumberTaken) {
			t.Fatalf("same ID number again = %v, want ErrIDNumberTaken", err)
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
