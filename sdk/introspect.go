package sdk

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// IntrospectionConfig configures an Introspector.
type IntrospectionConfig struct {
	// ClientID and ClientSecret authenticate the caller with
	// client_secret_basic (RFC 6749 §2.3.1). Both are required.
	ClientID, ClientSecret string
	// CacheTTL is how long an answer is reused. Default 30 s; an active
	// answer is never kept past the token's own exp. Negative disables the
	// cache.
	CacheTTL time.Duration
	// MaxEntries bounds the cache. Default 10,000.
	MaxEntries int
	// Now is the clock. Default: the Provider's clock.
	Now func() time.Time
}

// Introspection is the IdP's answer about a token (RFC 7662 §2.2).
type Introspection struct {
	Active    bool
	Subject   string
	ClientID  string
	Scopes    []string
	TokenType string
	Expiry    time.Time
	// Grants is the account's current grants, if the IdP reports them
	// (xszz extension "grants"); nil if absent.
	Grants []string
}

type introEntry struct {
	res   *Introspection
	until time.Time
}

// Introspector asks the IdP whether tokens are active, caching answers for a
// short time. It is safe for concurrent use; concurrent questions about the
// same token share one request.
type Introspector struct {
	endpoint, id, secret string
	client               *http.Client
	ttl                  time.Duration
	max                  int
	now                  func() time.Time

	mu       sync.Mutex
	cache    map[[32]byte]introEntry
	inflight map[[32]byte]*introFlight
}

type introFlight struct {
	done chan struct{}
	res  *Introspection
	err  error
}

// Introspector returns an introspection client for the provider's
// introspection_endpoint.
func (p *Provider) Introspector(c *IntrospectionConfig) (*Introspector, error) {
	if p.endpoints.IntrospectionEndpoint == "" {
		return nil, errors.New("sdk: provider has no introspection_endpoint")
	}
	if c == nil || c.ClientID == "" || c.ClientSecret == "" {
		return nil, fmt.Errorf("%w: introspection needs ClientID and ClientSecret", ErrInvalidConfig)
	}
	i := &Introspector{
		endpoint: p.endpoints.IntrospectionEndpoint,
		id:       c.ClientID,
		secret:   c.ClientSecret,
		client:   p.client,
		ttl:      c.CacheTTL,
		max:      c.MaxEntries,
		now:      c.Now,
		cache:    map[[32]byte]introEntry{},
		inflight: map[[32]byte]*introFlight{},
	}
	if i.ttl == 0 {
		i.ttl = 30 * time.Second
	}
	if i.max <= 0 {
		i.max = 10_000
	}
	if i.now == nil {
		i.now = p.now
	}
	return i, nil
}

// Introspect returns the IdP's answer for token (RFC 7662 §2.1), from the
// cache if it is fresh. Errors mean "unknown", never "active": callers must
// fail closed.
func (i *Introspector) Introspect(ctx context.Context, token string) (*Introspection, error) {
	key := sha256.Sum256([]byte(token)) // the cache never holds tokens
	now := i.now()
	i.mu.Lock()
	if e, ok := i.cache[key]; ok {
		if now.Before(e.until) {
			i.mu.Unlock()
			return e.res, nil
		}
		delete(i.cache, key)
	}
	f, joined := i.inflight[key]
	if !joined {
		f = &introFlight{done: make(chan struct{})}
		i.inflight[key] = f
		go i.run(context.WithoutCancel(ctx), key, token, f)
	}
	i.mu.Unlock()
	select {
	case <-f.done:
		return f.res, f.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (i *Introspector) run(ctx context.Context, key [32]byte, token string, f *introFlight) {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	f.res, f.err = i.ask(ctx, token)
	i.mu.Lock()
	delete(i.inflight, key)
	if f.err == nil && i.ttl > 0 {
		now := i.now()
		until := now.Add(i.ttl)
		if f.res.Active && !f.res.Expiry.IsZero() && f.res.Expiry.Before(until) {
			until = f.res.Expiry
		}
		if len(i.cache) >= i.max {
			for k, e := range i.cache {
				if !now.Before(e.until) || len(i.cache) >= i.max {
					delete(i.cache, k)
				}
			}
		}
		i.cache[key] = introEntry{res: f.res, until: until}
	}
	i.mu.Unlock()
	close(f.done)
}

func (i *Introspector) ask(ctx context.Context, token string) (*Introspection, error) {
	form := url.Values{"token": {token}, "token_type_hint": {"access_token"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, i.endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("sdk: introspection: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth(url.QueryEscape(i.id), url.QueryEscape(i.secret))
	resp, err := i.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("sdk: introspection: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("sdk: introspection: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("sdk: introspection: endpoint answered %s", resp.Status)
	}
	var r struct {
		Active    *bool    `json:"active"`
		Sub       string   `json:"sub"`
		ClientID  string   `json:"client_id"`
		Scope     string   `json:"scope"`
		TokenType string   `json:"token_type"`
		Exp       *float64 `json:"exp"`
		Grants    []string `json:"grants"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("sdk: introspection: %w", err)
	}
	if r.Active == nil {
		return nil, errors.New("sdk: introspection: response lacks \"active\"")
	}
	res := &Introspection{Active: *r.Active}
	if !res.Active {
		return res, nil
	}
	res.Subject, res.ClientID, res.TokenType, res.Grants = r.Sub, r.ClientID, r.TokenType, r.Grants
	res.Scopes = strings.Fields(r.Scope)
	if r.Exp != nil {
		if res.Expiry, err = dateClaim(r.Exp, "exp"); err != nil {
			return nil, fmt.Errorf("sdk: introspection: %w", err)
		}
		if !i.now().Before(res.Expiry) {
			res.Active = false
		}
	}
	return res, nil
}
