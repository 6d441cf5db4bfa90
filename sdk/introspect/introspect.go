// Package introspect asks the xszz IdP whether a token is still active
// (RFC 7662 token introspection), with a short cache, so that revoked
// grants, revoked tokens and disabled accounts take effect before a token
// expires. The data cockpit uses it to shut out a revoked grant within the
// cache lifetime (default 30 s).
//
//	in, err := introspect.New(p, &introspect.Config{ClientID: "cockpit", ClientSecret: secret})
//	res, err := in.Introspect(ctx, raw)
//	if err != nil || !res.Active { /* refuse */ }
package introspect

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/xszz/xszz/sdk"
)

// fetchTimeout bounds one introspection request, whoever waits for it.
const fetchTimeout = 10 * time.Second

// Config configures a Client.
type Config struct {
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

// Result is the IdP's answer about a token (RFC 7662 §2.2).
type Result struct {
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
	res   *Result
	until time.Time
}

// Client asks the IdP whether tokens are active, caching answers for a
// short time. It is safe for concurrent use; concurrent questions about the
// same token share one request.
type Client struct {
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
	res  *Result
	err  error
}

// New returns an introspection client for p's introspection_endpoint.
func New(p *sdk.Provider, c *Config) (*Client, error) {
	ep := p.Endpoints().IntrospectionEndpoint
	if ep == "" {
		return nil, errors.New("introspect: provider has no introspection_endpoint")
	}
	if c == nil || c.ClientID == "" || c.ClientSecret == "" {
		return nil, fmt.Errorf("%w: introspection needs ClientID and ClientSecret", sdk.ErrInvalidConfig)
	}
	i := &Client{
		endpoint: ep,
		id:       c.ClientID,
		secret:   c.ClientSecret,
		client:   p.HTTPClient(),
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
		i.now = p.Now
	}
	return i, nil
}

// Introspect returns the IdP's answer for token (RFC 7662 §2.1), from the
// cache if it is fresh. Errors mean "unknown", never "active": callers must
// fail closed.
func (i *Client) Introspect(ctx context.Context, token string) (*Result, error) {
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

func (i *Client) run(ctx context.Context, key [32]byte, token string, f *introFlight) {
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

func (i *Client) ask(ctx context.Context, token string) (*Result, error) {
	form := url.Values{"token": {token}, "token_type_hint": {"access_token"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, i.endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("introspect: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth(url.QueryEscape(i.id), url.QueryEscape(i.secret))
	resp, err := i.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("introspect: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("introspect: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("introspect: endpoint answered %s", resp.Status)
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
		return nil, fmt.Errorf("introspect: %w", err)
	}
	if r.Active == nil {
		return nil, errors.New("introspect: response lacks \"active\"")
	}
	res := &Result{Active: *r.Active}
	if !res.Active {
		return res, nil
	}
	res.Subject, res.ClientID, res.TokenType, res.Grants = r.Sub, r.ClientID, r.TokenType, r.Grants
	res.Scopes = strings.Fields(r.Scope)
	if r.Exp != nil {
		if math.IsNaN(*r.Exp) || math.IsInf(*r.Exp, 0) || *r.Exp < 0 || *r.Exp > 1<<40 {
			return nil, fmt.Errorf("introspect: exp %v out of range", *r.Exp)
		}
		res.Expiry = time.Unix(int64(*r.Exp), 0)
		if !i.now().Before(res.Expiry) {
			res.Active = false
		}
	}
	return res, nil
}
