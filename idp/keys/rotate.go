package keys

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/xszz/xszz/internal/sqldb"
)

// Ensure makes sure one RS256 and one ES256 key exist, creating the missing
// ones, and loads the keys, failing if any does not decrypt. Call it on
// start before serving. Replicas starting at once create one key per
// algorithm between them: the loser of the compare-and-swap adopts the
// winner's keys.
func (m *Manager) Ensure(ctx context.Context) error {
	for attempt := 1; ; attempt++ {
		now := m.now()
		v, err := readVersion(ctx, m.db)
		if err != nil {
			return fmt.Errorf("ensure signing keys: %w", err)
		}
		keys, err := m.loadKeys(ctx, now, m.snap.Load())
		if err != nil {
			return fmt.Errorf("ensure signing keys: %w", err)
		}
		missing := missingAlgs(keys)
		if len(missing) == 0 {
			s, err := m.build(v, keys, now, now.Add(m.cfg.CacheFor))
			if err != nil {
				return fmt.Errorf("ensure signing keys: %w", err)
			}
			m.install(s)
			return nil
		}
		rows, jwks, kids, err := m.generate(missing)
		if err != nil {
			return fmt.Errorf("ensure signing keys: %w", err)
		}
		if m.beforeSwap != nil {
			m.beforeSwap()
		}
		now = m.now()
		err = m.db.InTx(ctx, func(tx *sql.Tx) error {
			if err := bumpVersion(ctx, tx, v); err != nil {
				return err
			}
			for i := range rows {
				// Nothing signs yet, so there is nobody to publish ahead to.
				rows[i].createdAt, rows[i].activeFrom = now.Unix(), now.Unix()
				if err := insert(ctx, tx, rows[i], jwks[i]); err != nil {
					return err
				}
			}
			return nil
		})
		if errors.Is(err, sqldb.ErrConflict) && attempt < 3 {
			// Another replica changed the keys first: look at its work.
			continue
		}
		if err != nil {
			return fmt.Errorf("ensure signing keys: %w", err)
		}
		m.log.InfoContext(ctx, "signing keys created", "kids", kids, "algs", missing)
	}
}

func missingAlgs(keys []*Key) []string {
	var missing []string
	for _, alg := range algs {
		found := false
		for _, k := range keys {
			if k.Alg == alg && k.RetiredAt.IsZero() {
				found = true
				break
			}
		}
		if !found {
			missing = append(missing, alg)
		}
	}
	return missing
}

// install stores s unless a newer view is already in place.
func (m *Manager) install(s *snapshot) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if cur := m.snap.Load(); cur == nil || cur.version <= s.version {
		m.snap.Store(s)
	}
}

// Rotate adds a new RS256 and ES256 key and retires the current ones, and
// returns the new kids. The new keys are published at once and sign from
// PublishAhead on; the old ones stop signing then and leave the JWKS
// RetainFor (plus CacheFor) later. If another replica changed the keys
// between this call's read and its write, nothing is changed and the error
// wraps sqldb.ErrConflict: the keys were just rotated by someone else.
func (m *Manager) Rotate(ctx context.Context) ([]string, error) {
	v, err := readVersion(ctx, m.db)
	if err != nil {
		return nil, fmt.Errorf("rotate signing keys: %w", err)
	}
	return m.rotate(ctx, v)
}

func (m *Manager) rotate(ctx context.Context, version int64) ([]string, error) {
	// A process with the wrong keys.encryption_key (a mistyped CLI
	// environment, say) must not add keys the servers cannot read.
	if _, err := m.loadKeys(ctx, m.now(), m.snap.Load()); err != nil {
		return nil, fmt.Errorf("rotate signing keys: existing keys do not load, so none are added: %w", err)
	}
	rows, jwks, kids, err := m.generate(algs[:])
	if err != nil {
		return nil, fmt.Errorf("rotate signing keys: %w", err)
	}
	if m.beforeSwap != nil {
		m.beforeSwap()
	}
	now := m.now()
	activeFrom := ceilUnix(now.Add(m.cfg.PublishAhead))
	// A replica may go on signing with the old key until it notices the
	// rotation, at most CacheFor after it; its tokens then live RetainFor.
	expiresAt := activeFrom + ceilSeconds(m.cfg.RetainFor+m.cfg.CacheFor)
	err = m.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := bumpVersion(ctx, tx, version); err != nil {
			return err
		}
		for i := range rows {
			n, err := countUnretired(ctx, tx, rows[i].alg)
			if err != nil {
				return err
			}
			rows[i].createdAt, rows[i].activeFrom = now.Unix(), activeFrom
			if n == 0 {
				// No key to hand over from: sign at once.
				rows[i].activeFrom = now.Unix()
			} else if err := retire(ctx, tx, rows[i].alg, activeFrom, expiresAt); err != nil {
				return err
			}
			if err := insert(ctx, tx, rows[i], jwks[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if errors.Is(err, sqldb.ErrConflict) {
		return nil, fmt.Errorf("rotate signing keys: another replica changed the keys meanwhile, so this rotation was dropped: %w", err)
	}
	if err != nil {
		return nil, fmt.Errorf("rotate signing keys: %w", err)
	}
	m.log.InfoContext(ctx, "signing keys rotated", "kids", kids, "active_from", time.Unix(activeFrom, 0).UTC(), "old_keys_expire", time.Unix(expiresAt, 0).UTC())
	if err := m.reloadNow(ctx); err != nil {
		// The rotation is committed; this replica catches up within
		// CacheFor like any other.
		m.log.WarnContext(ctx, "signing keys: reload after rotation failed", "err", err)
	}
	return kids, nil
}

// generate creates and seals one key per alg. It runs before the
// transaction because RSA key generation takes a good fraction of a second.
func (m *Manager) generate(want []string) (rows []row, jwks [][]byte, kids []string, err error) {
	for _, alg := range want {
		signer, err := generate(alg, m.cfg.RSABits)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("generate %s key: %w", alg, err)
		}
		kid := newKID()
		sealed, err := m.seal.seal(kid, signer)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("seal %s key: %w", alg, err)
		}
		jwk, err := jose.JSONWebKey{Key: signer.Public(), KeyID: kid, Algorithm: alg, Use: "sig"}.MarshalJSON()
		if err != nil {
			return nil, nil, nil, fmt.Errorf("marshal %s public key: %w", alg, err)
		}
		rows = append(rows, row{kid: kid, alg: alg, encKeyID: m.seal.id, sealed: sealed})
		jwks = append(jwks, jwk)
		kids = append(kids, kid)
	}
	return rows, jwks, kids, nil
}

// Maintain is one pass of RunSchedule: it rotates when the newest key is
// RotateEvery old (if set) and deletes keys whose retention ended. A
// rotation lost to another replica is not an error.
func (m *Manager) Maintain(ctx context.Context) error {
	now := m.now()
	var errs []error
	if m.cfg.RotateEvery > 0 {
		// Deciding and swapping on one version means a replica that reads
		// after another's rotation sees the fresh key and does nothing,
		// and one that reads before it loses the swap.
		v, newest, err := readVersionAndNewest(ctx, m.db)
		switch {
		case err != nil:
			errs = append(errs, err)
		case newest != 0 && !now.Before(unix(newest).Add(m.cfg.RotateEvery)):
			if _, err := m.rotate(ctx, v); errors.Is(err, sqldb.ErrConflict) {
				m.log.DebugContext(ctx, "signing keys: another replica rotated first")
			} else if err != nil {
				errs = append(errs, err)
			}
		}
	}
	n, err := purge(ctx, m.db, now.Unix())
	if err != nil {
		errs = append(errs, err)
	} else if n > 0 {
		m.log.InfoContext(ctx, "signing keys: expired keys deleted", "count", n)
	}
	return errors.Join(errs...)
}

// RunSchedule calls Maintain once a minute (and at once) until ctx ends.
// Every replica may run it: the compare-and-swap keeps rotations single.
func (m *Manager) RunSchedule(ctx context.Context) {
	t := time.NewTicker(m.checkEvery)
	defer t.Stop()
	for {
		if err := m.Maintain(ctx); err != nil && ctx.Err() == nil {
			m.log.ErrorContext(ctx, "signing keys: scheduled maintenance failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func ceilUnix(t time.Time) int64 {
	if t.Nanosecond() > 0 {
		return t.Unix() + 1
	}
	return t.Unix()
}

func ceilSeconds(d time.Duration) int64 {
	return int64((d + time.Second - 1) / time.Second)
}
