package keys

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/internal/sqldb/sqldbtest"
)

// clock is a settable clock shared by the managers of one test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

var testKey = bytes.Repeat([]byte{7}, 32)

const (
	retainFor    = 20 * time.Minute
	cacheFor     = 30 * time.Second
	publishAhead = 2 * time.Minute
)

func testConfig() Config {
	return Config{
		EncryptionKey:   testKey,
		EncryptionKeyID: "k1",
		RetainFor:       retainFor,
		CacheFor:        cacheFor,
		PublishAhead:    publishAhead,
	}
}

func newManager(t testing.TB, db *sqldb.DB, clk *clock, edit ...func(*Config)) *Manager {
	t.Helper()
	cfg := testConfig()
	for _, e := range edit {
		e(&cfg)
	}
	m, err := New(db, cfg, clk.Now, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return m
}

func ensure(t testing.TB, m *Manager) {
	t.Helper()
	if err := m.Ensure(context.Background()); err != nil {
		t.Fatalf("Ensure: %v", err)
	}
}

// unretired counts, per alg, the rows not scheduled to stop signing.
func unretired(t *testing.T, db *sqldb.DB) map[string]int {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), `SELECT alg, COUNT(*) FROM signing_keys WHERE retired_at IS NULL GROUP BY alg`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[string]int{}
	for rows.Next() {
		var alg string
		var n int
		if err := rows.Scan(&alg, &n); err != nil {
			t.Fatal(err)
		}
		got[alg] = n
	}
	return got
}

func countRows(t *testing.T, db *sqldb.DB) int {
	t.Helper()
	var n int
	if err := db.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM signing_keys`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func wantOnePerAlg(t *testing.T, db *sqldb.DB) {
	t.Helper()
	if got, want := unretired(t, db), map[string]int{RS256: 1, ES256: 1}; !maps.Equal(got, want) {
		t.Fatalf("unretired keys per alg = %v, want %v", got, want)
	}
}

func activeKIDs(t *testing.T, m *Manager) []string {
	t.Helper()
	var kids []string
	for _, alg := range algs {
		k, err := m.Active(context.Background(), alg)
		if err != nil {
			t.Fatalf("Active(%s): %v", alg, err)
		}
		if k.Alg != alg {
			t.Fatalf("Active(%s) returned a %s key", alg, k.Alg)
		}
		kids = append(kids, k.ID)
	}
	return kids
}

func jwksKIDs(t *testing.T, m *Manager) []string {
	t.Helper()
	b, err := m.JWKS(context.Background())
	if err != nil {
		t.Fatalf("JWKS: %v", err)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(b, &set); err != nil {
		t.Fatalf("JWKS does not parse: %v\n%s", err, b)
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.KeyID)
	}
	return kids
}

func wantPublished(t *testing.T, m *Manager, kids []string, want bool) {
	t.Helper()
	published := jwksKIDs(t, m)
	for _, kid := range kids {
		if slices.Contains(published, kid) != want {
			t.Fatalf("kid %s published = %v, want %v (JWKS has %v)", kid, !want, want, published)
		}
	}
}

func TestEnsureLeavesOneKeyPerAlgorithm(t *testing.T) {
	t.Parallel()
	// Each case gets its own database: sqldbtest.Run is called once per
	// subtest name.
	t.Run("twice from one manager", func(t *testing.T) {
		sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
			m := newManager(t, db, newClock())
			ensure(t, m)
			first := activeKIDs(t, m)
			ensure(t, m)
			wantOnePerAlg(t, db)
			if got := activeKIDs(t, m); !slices.Equal(got, first) {
				t.Fatalf("second Ensure changed the active keys: %v → %v", first, got)
			}
		})
	})
	t.Run("two replicas starting at once", func(t *testing.T) {
		sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
			clk := newClock()
			a, b := newManager(t, db, clk), newManager(t, db, clk)
			// Both read the empty table before either writes.
			var wg sync.WaitGroup
			wg.Add(2)
			line := func() { wg.Done(); wg.Wait() }
			a.beforeSwap, b.beforeSwap = line, line
			errs := make(chan error, 2)
			for _, m := range []*Manager{a, b} {
				go func() { errs <- m.Ensure(context.Background()) }()
			}
			for range 2 {
				if err := <-errs; err != nil {
					t.Fatalf("Ensure: %v", err)
				}
			}
			wantOnePerAlg(t, db)
			if n := countRows(t, db); n != 2 {
				t.Fatalf("%d keys, want 2", n)
			}
			if ka, kb := activeKIDs(t, a), activeKIDs(t, b); !slices.Equal(ka, kb) {
				t.Fatalf("replicas sign with different keys: %v and %v", ka, kb)
			}
		})
	})
}

func TestRotatePublishesAheadAndRetainsOldKeys(t *testing.T) {
	t.Parallel()
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		clk := newClock()
		m := newManager(t, db, clk)
		ensure(t, m)
		old := activeKIDs(t, m)

		fresh, err := m.Rotate(ctx)
		if err != nil {
			t.Fatalf("Rotate: %v", err)
		}
		if len(fresh) != 2 || slices.Contains(old, fresh[0]) || slices.Contains(old, fresh[1]) {
			t.Fatalf("Rotate returned %v, want two new kids (old %v)", fresh, old)
		}
		wantOnePerAlg(t, db)

		steps := []struct {
			name       string
			advance    time.Duration
			active     []string
			publishOld bool
		}{
			{"just rotated: new keys published, old ones still sign", 0, old, true},
			{"publish-ahead passed: new keys sign", publishAhead, fresh, true},
			{"retention not over: old keys still verify", retainFor + cacheFor - time.Second, fresh, true},
			{"retention over: old keys gone", time.Second, fresh, false},
		}
		for _, s := range steps {
			clk.Advance(s.advance)
			if got := activeKIDs(t, m); !slices.Equal(got, s.active) {
				t.Fatalf("%s: active %v, want %v", s.name, got, s.active)
			}
			wantPublished(t, m, fresh, true)
			wantPublished(t, m, old, s.publishOld)
			for _, kid := range old {
				_, err := m.PublicKey(ctx, kid)
				if s.publishOld && err != nil {
					t.Fatalf("%s: PublicKey(%s): %v", s.name, kid, err)
				}
				if !s.publishOld && !errors.Is(err, sqldb.ErrNotFound) {
					t.Fatalf("%s: PublicKey(%s) = %v, want ErrNotFound", s.name, kid, err)
				}
			}
		}

		if err := m.Maintain(ctx); err != nil {
			t.Fatalf("Maintain: %v", err)
		}
		if n := countRows(t, db); n != 2 {
			t.Fatalf("%d rows after purge, want the 2 current keys", n)
		}
	})
}

func TestConcurrentRotationsRotateOnce(t *testing.T) {
	t.Parallel()
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		clk := newClock()
		a, b := newManager(t, db, clk), newManager(t, db, clk)
		ensure(t, a)
		ensure(t, b)
		var wg sync.WaitGroup
		wg.Add(2)
		line := func() { wg.Done(); wg.Wait() }
		a.beforeSwap, b.beforeSwap = line, line
		errs := make(chan error, 2)
		for _, m := range []*Manager{a, b} {
			go func() { _, err := m.Rotate(context.Background()); errs <- err }()
		}
		var won, lost int
		for range 2 {
			switch err := <-errs; {
			case err == nil:
				won++
			case errors.Is(err, sqldb.ErrConflict):
				lost++
			default:
				t.Fatalf("Rotate: %v", err)
			}
		}
		if won != 1 || lost != 1 {
			t.Fatalf("%d rotations succeeded and %d conflicted, want 1 and 1", won, lost)
		}
		wantOnePerAlg(t, db)
		if n := countRows(t, db); n != 4 {
			t.Fatalf("%d keys after one rotation, want 4", n)
		}
	})
}

func TestReplicaSeesRotationAfterCacheFor(t *testing.T) {
	t.Parallel()
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		clk := newClock()
		a, b := newManager(t, db, clk), newManager(t, db, clk)
		ensure(t, a)
		ensure(t, b)
		old := activeKIDs(t, b)
		fresh, err := a.Rotate(context.Background())
		if err != nil {
			t.Fatalf("Rotate: %v", err)
		}

		wantPublished(t, b, fresh, false) // b trusts its view for CacheFor
		clk.Advance(cacheFor)
		wantPublished(t, b, fresh, true) // published before anyone signs with them
		if got := activeKIDs(t, b); !slices.Equal(got, old) {
			t.Fatalf("b signs with %v before the new keys are due, want %v", got, old)
		}
		clk.Advance(publishAhead - cacheFor)
		if got := activeKIDs(t, b); !slices.Equal(got, fresh) {
			t.Fatalf("b signs with %v after the switch, want %v", got, fresh)
		}
	})
}

func TestJWKSHoldsPublicKeysOnly(t *testing.T) {
	t.Parallel()
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		m := newManager(t, db, newClock())
		ensure(t, m)
		if _, err := m.Rotate(context.Background()); err != nil {
			t.Fatal(err)
		}
		b, err := m.JWKS(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var set struct{ Keys []map[string]any }
		if err := json.Unmarshal(b, &set); err != nil {
			t.Fatal(err)
		}
		if len(set.Keys) != 4 {
			t.Fatalf("JWKS has %d keys, want 4 (2 current, 2 next)", len(set.Keys))
		}
		for _, k := range set.Keys {
			for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"} {
				if _, ok := k[private]; ok {
					t.Fatalf("JWKS key %v has private member %q", k["kid"], private)
				}
			}
			if k["use"] != "sig" || k["kid"] == "" || (k["alg"] != RS256 && k["alg"] != ES256) {
				t.Fatalf("JWKS key lacks use/kid/alg: %v", k)
			}
		}
	})
}

func TestSignaturesVerifyAgainstJWKS(t *testing.T) {
	t.Parallel()
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		m := newManager(t, db, newClock())
		ensure(t, m)
		raw, err := m.JWKS(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var set jose.JSONWebKeySet
		if err := json.Unmarshal(raw, &set); err != nil {
			t.Fatal(err)
		}
		for _, alg := range algs {
			k, err := m.Active(ctx, alg)
			if err != nil {
				t.Fatal(err)
			}
			signer, err := jose.NewSigner(jose.SigningKey{
				Algorithm: jose.SignatureAlgorithm(k.Alg),
				Key:       jose.JSONWebKey{Key: k.Signer, KeyID: k.ID},
			}, nil)
			if err != nil {
				t.Fatalf("%s: NewSigner: %v", alg, err)
			}
			jws, err := signer.Sign([]byte(`{"sub":"x"}`))
			if err != nil {
				t.Fatalf("%s: Sign: %v", alg, err)
			}
			compact, err := jws.CompactSerialize()
			if err != nil {
				t.Fatal(err)
			}
			parsed, err := jose.ParseSigned(compact, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
			if err != nil {
				t.Fatal(err)
			}
			kid := parsed.Signatures[0].Header.KeyID
			pub := set.Key(kid)
			if len(pub) != 1 {
				t.Fatalf("%s: kid %q not in JWKS", alg, kid)
			}
			if _, err := parsed.Verify(pub[0]); err != nil {
				t.Fatalf("%s: signature does not verify against the JWKS: %v", alg, err)
			}
		}
	})
}

func TestLoadRefusesKeysItCannotTrust(t *testing.T) {
	t.Parallel()
	otherKey := bytes.Repeat([]byte{9}, 32)
	cases := []struct {
		name    string
		edit    func(*Config)
		tamper  string // SQL run after the first manager created its keys
		wantErr string
		wantIs  error
	}{
		{
			name:    "wrong encryption key",
			edit:    func(c *Config) { c.EncryptionKey = otherKey },
			wantErr: ": wrong keys.encryption_key?",
			wantIs:  ErrWrongEncryptionKey,
		},
		{
			name:    "encryption key id not configured",
			edit:    func(c *Config) { c.EncryptionKey, c.EncryptionKeyID = otherKey, "k2" },
			wantErr: `encrypted with keys.encryption_key id "k1", which is not configured`,
		},
		{
			name:    "alg column changed",
			tamper:  `UPDATE signing_keys SET alg = 'ES256' WHERE alg = 'RS256'`,
			wantErr: `does not fit algorithm "ES256"`,
		},
		{
			name:    "ciphertext moved to another kid",
			tamper:  `UPDATE signing_keys SET private_key = (SELECT private_key FROM signing_keys WHERE alg = 'RS256') WHERE alg = 'ES256'`,
			wantErr: ": wrong keys.encryption_key?",
			wantIs:  ErrWrongEncryptionKey,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
				clk := newClock()
				ensure(t, newManager(t, db, clk))
				if c.tamper != "" {
					if _, err := db.ExecContext(context.Background(), c.tamper); err != nil {
						t.Fatal(err)
					}
				}
				m := newManager(t, db, clk, func(cfg *Config) {
					if c.edit != nil {
						c.edit(cfg)
					}
				})
				err := m.Ensure(context.Background())
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("Ensure: %v, want an error containing %q", err, c.wantErr)
				}
				// Nor may it add keys the others could not read.
				if _, err := m.Rotate(context.Background()); err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("Rotate: %v, want an error containing %q", err, c.wantErr)
				}
				if n := countRows(t, db); n != 2 {
					t.Fatalf("%d keys after the refused rotation, want 2", n)
				}
				if !strings.Contains(err.Error(), "cannot decrypt signing key ") && c.wantIs != nil {
					t.Fatalf("error %q does not name the key", err)
				}
				if c.wantIs != nil && !errors.Is(err, c.wantIs) {
					t.Fatalf("error %v does not wrap %v", err, c.wantIs)
				}
			})
		})
	}
}

func TestEarlierEncryptionKeysStillRead(t *testing.T) {
	t.Parallel()
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		clk := newClock()
		old := newManager(t, db, clk)
		ensure(t, old)
		m := newManager(t, db, clk, func(c *Config) {
			c.EncryptionKey, c.EncryptionKeyID = bytes.Repeat([]byte{9}, 32), "k2"
			c.DecryptionKeys = map[string][]byte{"k1": testKey}
		})
		ensure(t, m)
		if got, want := activeKIDs(t, m), activeKIDs(t, old); !slices.Equal(got, want) {
			t.Fatalf("active %v, want the keys sealed with k1 %v", got, want)
		}
	})
}

func TestJWKSIgnoresTheStoredPublicJWK(t *testing.T) {
	t.Parallel()
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		clk := newClock()
		ensure(t, newManager(t, db, clk))
		// Someone with write access to the table but not the encryption
		// key must not be able to publish a key of their own.
		if _, err := db.ExecContext(context.Background(), `UPDATE signing_keys SET public_jwk = '{"kty":"oct","k":"AAAA"}'`); err != nil {
			t.Fatal(err)
		}
		m := newManager(t, db, clk)
		ensure(t, m)
		b, _ := m.JWKS(context.Background())
		if bytes.Contains(b, []byte("AAAA")) || bytes.Contains(b, []byte(`"oct"`)) {
			t.Fatalf("JWKS took the stored public_jwk: %s", b)
		}
	})
}

func TestMaintainRotatesWhenDue(t *testing.T) {
	t.Parallel()
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		clk := newClock()
		every := func(c *Config) { c.RotateEvery = 30 * 24 * time.Hour }
		a, b := newManager(t, db, clk, every), newManager(t, db, clk, every)
		ensure(t, a)
		ensure(t, b)

		steps := []struct {
			name    string
			advance time.Duration
			rows    int
		}{
			{"fresh keys: nothing to do", 0, 2},
			{"a day short of due", 29 * 24 * time.Hour, 2},
			{"due: one rotation for both replicas", 24 * time.Hour, 4},
			{"old keys past retention: purged", publishAhead + retainFor + cacheFor, 2},
		}
		for _, s := range steps {
			clk.Advance(s.advance)
			for _, m := range []*Manager{a, b} {
				if err := m.Maintain(ctx); err != nil {
					t.Fatalf("%s: Maintain: %v", s.name, err)
				}
			}
			if n := countRows(t, db); n != s.rows {
				t.Fatalf("%s: %d keys, want %d", s.name, n, s.rows)
			}
			wantOnePerAlg(t, db)
		}
	})
}

func TestRunScheduleStopsWithContext(t *testing.T) {
	t.Parallel()
	db := sqldbtest.OpenSQLite(t)
	m := newManager(t, db, newClock())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.RunSchedule(ctx); close(done) }()
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("RunSchedule did not return after cancel")
	}
}

func TestLookupsOfUnknownThings(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := sqldbtest.OpenSQLite(t)
	m := newManager(t, db, newClock())
	if _, err := m.Active(ctx, RS256); !errors.Is(err, sqldb.ErrNotFound) {
		t.Fatalf("Active before any key exists: %v, want ErrNotFound", err)
	}
	ensure(t, m)
	if _, err := m.PublicKey(ctx, "no-such-kid"); !errors.Is(err, sqldb.ErrNotFound) {
		t.Fatalf("PublicKey(unknown): %v, want ErrNotFound", err)
	}
	for _, alg := range []string{"HS256", "none", "", "rs256"} {
		if _, err := m.Active(ctx, alg); err == nil {
			t.Fatalf("Active(%q) succeeded", alg)
		}
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	db := sqldbtest.OpenSQLite(t)
	cases := []struct {
		name    string
		edit    func(*Config)
		wantErr string
	}{
		{"short encryption key", func(c *Config) { c.EncryptionKey = []byte("too short") }, "keys.encryption_key: must be 32 bytes"},
		{"no encryption key id", func(c *Config) { c.EncryptionKeyID = "" }, "keys.encryption_key_id"},
		{"bad old key", func(c *Config) { c.DecryptionKeys = map[string][]byte{"k0": {1}} }, `keys.decryption_keys["k0"]`},
		{"no retention", func(c *Config) { c.RetainFor = 0 }, "keys.retain_for"},
		{"small RSA", func(c *Config) { c.RSABits = 1024 }, "keys.rsa_bits"},
		{"negative cache", func(c *Config) { c.CacheFor = -time.Second }, "keys.cache_for"},
		{"rotation faster than publication", func(c *Config) { c.RotateEvery = time.Minute }, "keys.rotate_every"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := testConfig()
			c.edit(&cfg)
			_, err := New(db, cfg, nil, nil)
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("New: %v, want an error containing %q", err, c.wantErr)
			}
		})
	}
}

// benchManager uses the real clock: the fake one's mutex would dominate.
func benchManager(b *testing.B) *Manager {
	db := sqldbtest.OpenSQLite(b)
	m, err := New(db, testConfig(), time.Now, nil)
	if err != nil {
		b.Fatal(err)
	}
	ensure(b, m)
	return m
}

func BenchmarkActive(b *testing.B) {
	m := benchManager(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := m.Active(ctx, ES256); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkJWKS(b *testing.B) {
	m := benchManager(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := m.JWKS(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
}
