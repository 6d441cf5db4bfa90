package rpsession_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/xszz/xszz/internal/rpsession"
	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/internal/sqldb/sqldbtest"
	"github.com/xszz/xszz/sdk/web"
)

func TestSessionsSurviveInTheDatabaseSealed(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		now := time.Unix(1_800_000_000, 0)
		clock := func() time.Time { return now }
		key := bytes.Repeat([]byte{7}, 32)
		s, err := rpsession.New(db, "office_web_sessions", key, clock)
		if err != nil {
			t.Fatal(err)
		}
		mk := func(id, sub, sid string) *web.Session {
			return &web.Session{ID: id, Subject: sub, SID: sid, AccessToken: "at-" + id, RefreshToken: "rt-secret-" + id,
				Created: now, Expires: now.Add(time.Hour)}
		}
		for _, v := range []*web.Session{mk("a", "u1", "s1"), mk("b", "u1", "s2"), mk("c", "u2", "s3")} {
			if err := s.Save(ctx, v); err != nil {
				t.Fatal(err)
			}
		}

		// Another replica (another Store on the same table) sees them.
		other, _ := rpsession.New(db, "office_web_sessions", key, clock)
		got, err := other.Load(ctx, "a")
		if err != nil || got.AccessToken != "at-a" || got.Subject != "u1" {
			t.Fatalf("load from another replica: %+v, %v", got, err)
		}
		// A refresh saves new tokens over the old row.
		got.AccessToken = "at-a2"
		if err := other.Save(ctx, got); err != nil {
			t.Fatal(err)
		}
		if again, _ := s.Load(ctx, "a"); again.AccessToken != "at-a2" {
			t.Fatalf("after the refresh: %q", again.AccessToken)
		}

		// Nothing readable at rest: neither the id nor a token.
		var n int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM office_web_sessions WHERE id = 'a'`).Scan(&n); err != nil || n != 0 {
			t.Fatalf("a row is keyed by the session id itself (%d, %v)", n, err)
		}
		rows, err := db.QueryContext(ctx, `SELECT data FROM office_web_sessions`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var data []byte
			if err := rows.Scan(&data); err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(data, []byte("rt-secret")) {
				t.Fatal("a refresh token is stored in clear")
			}
		}
		rows.Close()

		// A wrong key (the cookie key rotated) opens no session.
		rotated, _ := rpsession.New(db, "office_web_sessions", bytes.Repeat([]byte{8}, 32), clock)
		if _, err := rotated.Load(ctx, "a"); !errors.Is(err, web.ErrNoSession) {
			t.Fatalf("load with another key: %v", err)
		}

		// Back-channel logout by sid, then by subject.
		if n, err := s.EndSessions(ctx, "", "s2", now); err != nil || n != 1 {
			t.Fatalf("end by sid: %d, %v", n, err)
		}
		// A logout issued before a session began (a delivery retried late)
		// leaves it alone; one of the same second ends it.
		later := mk("d", "u1", "s4")
		later.Created = now.Add(time.Second)
		if err := s.Save(ctx, later); err != nil {
			t.Fatal(err)
		}
		if n, err := s.EndSessions(ctx, "u1", "", now.Add(999*time.Millisecond)); err != nil || n != 1 {
			t.Fatalf("end by subject: %d, %v (want only the session begun before the logout)", n, err)
		}
		if n, _ := s.EndSessions(ctx, "", "", time.Time{}); n != 0 {
			t.Fatalf("an empty logout ended %d sessions", n)
		}
		for id, want := range map[string]bool{"a": false, "b": false, "c": true, "d": true} {
			_, err := s.Load(ctx, id)
			if (err == nil) != want {
				t.Errorf("session %s after the logouts: %v", id, err)
			}
		}

		// The zero time ends them whenever they began (the office's own
		// sign-outs, not a logout token).
		if n, err := s.EndSessions(ctx, "u1", "", time.Time{}); err != nil || n != 1 {
			t.Fatalf("end every session of a subject: %d, %v", n, err)
		}

		// Expired sessions are not loaded, and purged.
		now = now.Add(2 * time.Hour)
		if _, err := s.Load(ctx, "c"); !errors.Is(err, web.ErrNoSession) {
			t.Fatalf("an expired session loads: %v", err)
		}
		if n, err := s.Purge(ctx); err != nil || n != 1 {
			t.Fatalf("purge: %d, %v", n, err)
		}
		if err := s.Delete(ctx, "nope"); err != nil {
			t.Fatalf("delete of an unknown session: %v", err)
		}
	})
}
