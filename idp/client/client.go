// Package client holds the OAuth 2.0 / OpenID Connect clients (relying
// parties) registered with the IdP, and the fast secret hash they are
// authenticated with.
package client

import (
	"context"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	josev3 "github.com/go-jose/go-jose/v3"
	"github.com/ory/fosite"
	"golang.org/x/sync/singleflight"

	"github.com/xszz/xszz/internal/sqldb"
)

// Token endpoint authentication methods (OIDC Core §9).
const (
	AuthSecretBasic   = "client_secret_basic"
	AuthSecretPost    = "client_secret_post"
	AuthPrivateKeyJWT = "private_key_jwt"
	AuthNone          = "none"
)

// Client is a registered relying party. It implements fosite.Client and
// fosite.OpenIDConnectClient.
type Client struct {
	ID                      string          `json:"client_id"`
	Name                    string          `json:"client_name"`
	SecretHash              []byte          `json:"-"`
	RedirectURIs            []string        `json:"redirect_uris"`
	PostLogoutRedirectURIs  []string        `json:"post_logout_redirect_uris,omitempty"`
	GrantTypes              []string        `json:"grant_types"`
	ResponseTypes           []string        `json:"response_types"`
	Scopes                  []string        `json:"scopes"`
	Audience                []string        `json:"audience,omitempty"`
	Public                  bool            `json:"public"`
	Trusted                 bool            `json:"trusted"`
	TokenEndpointAuthMethod string          `json:"token_endpoint_auth_method"`
	JWKS                    json.RawMessage `json:"jwks,omitempty"`
	IDTokenAlg              string          `json:"id_token_signed_response_alg"`
	BackchannelLogoutURI    string          `json:"backchannel_logout_uri,omitempty"`
	// StrictAuthMethod limits a secret-based client to its registered
	// method; otherwise it may send its secret by Basic or in the form.
	StrictAuthMethod bool `json:"strict_auth_method,omitempty"`
	// AllowNoPKCE exempts a legacy confidential relying party that cannot
	// send a code_challenge; every other client must use PKCE (S256).
	AllowNoPKCE bool `json:"allow_no_pkce,omitempty"`
	// DirectoryRoot is the unit whose subtree the client may read through
	// the SCIM directory (scope "directory"); empty means none.
	DirectoryRoot string `json:"directory_root,omitempty"`
	// DirectoryFullPhones lets the directory show phone numbers unmasked.
	DirectoryFullPhones bool      `json:"directory_full_phones,omitempty"`
	CreatedAt           time.Time `json:"created_at"`

	jwks *josev3.JSONWebKeySet
}

var (
	_ fosite.Client              = (*Client)(nil)
	_ fosite.OpenIDConnectClient = (*Client)(nil)
	_ fosite.ResponseModeClient  = (*Client)(nil)
)

func (c *Client) GetID() string                   { return c.ID }
func (c *Client) GetHashedSecret() []byte         { return c.SecretHash }
func (c *Client) GetRedirectURIs() []string       { return c.RedirectURIs }
func (c *Client) GetGrantTypes() fosite.Arguments { return c.GrantTypes }
func (c *Client) GetResponseTypes() fosite.Arguments {
	return c.ResponseTypes
}
func (c *Client) GetScopes() fosite.Arguments   { return c.Scopes }
func (c *Client) IsPublic() bool                { return c.Public }
func (c *Client) GetAudience() fosite.Arguments { return c.Audience }

// Request objects are not supported: no request_uri is ever fetched
// (SECURITY.md #12), so none are registered.
func (c *Client) GetRequestURIs() []string                 { return nil }
func (c *Client) GetJSONWebKeys() *josev3.JSONWebKeySet    { return c.jwks }
func (c *Client) GetJSONWebKeysURI() string                { return "" }
func (c *Client) GetRequestObjectSigningAlgorithm() string { return "" }
func (c *Client) GetTokenEndpointAuthMethod() string       { return c.TokenEndpointAuthMethod }

// GetTokenEndpointAuthSigningAlgorithm names the alg a private_key_jwt
// assertion must use. Fosite compares it with the assertion's alg exactly
// (an empty value refuses every assertion), so it follows the client's
// registered key: its "alg" member, or its key type.
func (c *Client) GetTokenEndpointAuthSigningAlgorithm() string {
	if c.jwks != nil {
		for _, k := range c.jwks.Keys {
			if k.Algorithm != "" {
				return k.Algorithm
			}
			switch k.Key.(type) {
			case *ecdsa.PublicKey:
				return "ES256"
			case *rsa.PublicKey:
				return "RS256"
			}
		}
	}
	return "RS256"
}

// Only the query response mode: no fragment (no implicit flows), no
// form_post.
func (c *Client) GetResponseModes() []fosite.ResponseModeType {
	return []fosite.ResponseModeType{fosite.ResponseModeDefault, fosite.ResponseModeQuery}
}

// AcceptsAuthMethod reports whether the client may authenticate with
// method at the token, introspection and revocation endpoints. A secret
// is a secret whether it travels in the Authorization header or the form
// (RFC 6749 §2.3.1 allows both), so a secret-based client accepts both
// unless registered strictly; the other methods stand alone.
func (c *Client) AcceptsAuthMethod(method string) bool {
	if method == c.TokenEndpointAuthMethod {
		return method != AuthNone || c.Public
	}
	secret := func(m string) bool { return m == AuthSecretBasic || m == AuthSecretPost }
	return !c.StrictAuthMethod && secret(method) && secret(c.TokenEndpointAuthMethod)
}

// AuthMethods lists the methods the client may authenticate with.
func (c *Client) AuthMethods() []string {
	var out []string
	for _, m := range []string{AuthSecretBasic, AuthSecretPost, AuthPrivateKeyJWT, AuthNone} {
		if c.AcceptsAuthMethod(m) {
			out = append(out, m)
		}
	}
	return out
}

// AllowsPostLogoutRedirect reports whether uri is registered exactly.
func (c *Client) AllowsPostLogoutRedirect(uri string) bool {
	return slices.Contains(c.PostLogoutRedirectURIs, uri)
}

// Hasher authenticates client secrets. Secrets are 256-bit random values
// the server generated, so a slow password hash buys nothing against
// guessing and costs milliseconds per token request; a keyed HMAC keeps a
// leaked table useless without the key and costs under a microsecond.
type Hasher struct{ Key []byte }

var _ fosite.Hasher = Hasher{}

func (h Hasher) Hash(_ context.Context, data []byte) ([]byte, error) {
	m := hmac.New(sha256.New, h.Key)
	m.Write(data)
	return m.Sum(nil), nil
}

func (h Hasher) Compare(ctx context.Context, hash, data []byte) error {
	got, _ := h.Hash(ctx, data)
	if !hmac.Equal(got, hash) {
		return errors.New("client secret mismatch")
	}
	return nil
}

// Spec is what an operator supplies to register a client.
type Spec struct {
	Name                   string
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	GrantTypes             []string
	Scopes                 []string
	Audience               []string
	Public                 bool
	Trusted                bool
	AuthMethod             string
	JWKS                   json.RawMessage
	IDTokenAlg             string
	BackchannelLogoutURI   string
	// StrictAuthMethod: the client must use exactly AuthMethod.
	StrictAuthMethod bool
	// AllowNoPKCE exempts a confidential client from PKCE (legacy
	// relying parties only).
	AllowNoPKCE bool
	// DirectoryRoot and DirectoryFullPhones configure the SCIM directory
	// for clients with the "directory" scope.
	DirectoryRoot       string
	DirectoryFullPhones bool
}

// KnownScopes are the scopes the IdP understands.
var KnownScopes = []string{"openid", "profile", "phone", "org", "offline_access", "cockpit", "admin", "directory"}

// Validate checks a spec and fills defaults. allowHTTP permits http://
// redirect URIs on loopback hosts (development only).
func (s *Spec) Validate(allowHTTP bool) error {
	if strings.TrimSpace(s.Name) == "" {
		return errors.New("client name is required")
	}
	if len(s.GrantTypes) == 0 {
		s.GrantTypes = []string{"authorization_code", "refresh_token"}
		if !s.Public {
			s.GrantTypes = append(s.GrantTypes, "client_credentials")
		}
	}
	for _, g := range s.GrantTypes {
		switch g {
		case "authorization_code", "refresh_token":
		case "client_credentials":
			if s.Public {
				return errors.New("a public client cannot use client_credentials")
			}
		default:
			return fmt.Errorf("grant type %q is not supported (authorization_code, refresh_token, client_credentials)", g)
		}
	}
	if len(s.Scopes) == 0 {
		s.Scopes = []string{"openid", "profile", "phone", "org", "offline_access"}
	}
	for _, sc := range s.Scopes {
		if !slices.Contains(KnownScopes, sc) {
			return fmt.Errorf("scope %q is not known (%s)", sc, strings.Join(KnownScopes, " "))
		}
	}
	if slices.Contains(s.Scopes, "directory") {
		// The directory is read by a platform acting for itself, never
		// on behalf of a user, and only within the subtree it was given.
		if s.Public || !slices.Contains(s.GrantTypes, "client_credentials") {
			return errors.New("the directory scope needs a confidential client with client_credentials")
		}
		if strings.TrimSpace(s.DirectoryRoot) == "" {
			return errors.New("the directory scope needs a directory root (the unit whose subtree it may read)")
		}
	} else if s.DirectoryRoot != "" || s.DirectoryFullPhones {
		return errors.New("a directory root is only for clients with the directory scope")
	}
	if slices.Contains(s.GrantTypes, "authorization_code") && len(s.RedirectURIs) == 0 {
		return errors.New("a client using authorization_code needs at least one redirect URI")
	}
	for _, u := range s.RedirectURIs {
		if err := ValidateRedirectURI(u, allowHTTP); err != nil {
			return fmt.Errorf("redirect URI %q: %w", u, err)
		}
	}
	for _, u := range s.PostLogoutRedirectURIs {
		if err := ValidateRedirectURI(u, allowHTTP); err != nil {
			return fmt.Errorf("post-logout redirect URI %q: %w", u, err)
		}
	}
	if s.BackchannelLogoutURI != "" {
		if err := ValidateRedirectURI(s.BackchannelLogoutURI, allowHTTP); err != nil {
			return fmt.Errorf("back-channel logout URI %q: %w", s.BackchannelLogoutURI, err)
		}
	}
	switch {
	case s.Public && s.AuthMethod == "":
		s.AuthMethod = AuthNone
	case s.AuthMethod == "" && len(s.JWKS) > 0:
		s.AuthMethod = AuthPrivateKeyJWT
	case s.AuthMethod == "":
		s.AuthMethod = AuthSecretBasic
	}
	switch s.AuthMethod {
	case AuthNone:
		if !s.Public {
			return errors.New("token endpoint auth method none is only for public clients")
		}
	case AuthSecretBasic, AuthSecretPost:
		if s.Public {
			return errors.New("a public client has no secret")
		}
	case AuthPrivateKeyJWT:
		if len(s.JWKS) == 0 {
			return errors.New("private_key_jwt needs the client's public keys (jwks)")
		}
		var set josev3.JSONWebKeySet
		if err := json.Unmarshal(s.JWKS, &set); err != nil || len(set.Keys) == 0 {
			return errors.New("jwks is not a JSON Web Key Set with keys")
		}
		for _, k := range set.Keys {
			if !k.IsPublic() {
				return errors.New("jwks must hold public keys only")
			}
		}
	default:
		return fmt.Errorf("token endpoint auth method %q is not supported", s.AuthMethod)
	}
	if s.AllowNoPKCE && s.Public {
		return errors.New("a public client must use PKCE; only confidential clients may be exempted")
	}
	if s.StrictAuthMethod && s.AuthMethod != AuthSecretBasic && s.AuthMethod != AuthSecretPost {
		return errors.New("a strict auth method applies to client_secret_basic or client_secret_post only (the others are strict anyway)")
	}
	switch s.IDTokenAlg {
	case "":
		s.IDTokenAlg = "RS256"
	case "RS256", "ES256":
	default:
		return fmt.Errorf("id token algorithm %q is not supported (RS256, ES256)", s.IDTokenAlg)
	}
	return nil
}

// ValidateRedirectURI enforces RFC 9700 §2.1 and §4.1: absolute https URIs
// without fragments or user info; http only for loopback in development.
func ValidateRedirectURI(raw string, allowHTTP bool) error {
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("not a URI")
	}
	if !u.IsAbs() || u.Host == "" {
		return errors.New("must be absolute")
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return errors.New("must not have a fragment")
	}
	if u.User != nil {
		return errors.New("must not carry user info")
	}
	if strings.Contains(u.Path, "/../") || strings.HasSuffix(u.Path, "/..") || strings.Contains(strings.ToLower(raw), "%2e") {
		return errors.New("must not contain dot segments")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if allowHTTP && IsLoopback(u.Hostname()) {
			return nil
		}
		return errors.New("must use https (http only for loopback hosts in development)")
	default:
		return fmt.Errorf("scheme %q is not allowed", u.Scheme)
	}
}

// IsLoopback reports whether host names this machine.
func IsLoopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

// NewSecret returns a 256-bit client secret, base64url without padding.
func NewSecret() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err)) // the OS RNG does not fail on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// newID returns 128 random bits, base64url, never starting with '-': an
// id is typed as a command-line argument (xszz clients update ID), where
// a leading '-' reads as a flag.
func newID() string {
	for {
		var b [16]byte
		if _, err := rand.Read(b[:]); err != nil {
			panic(fmt.Sprintf("crypto/rand failed: %v", err))
		}
		if id := base64.RawURLEncoding.EncodeToString(b[:]); id[0] != '-' {
			return id
		}
	}
}

// Store keeps clients in the database with a short in-process cache: the
// token endpoint reads the client on every request, and registrations
// change rarely.
type Store struct {
	db     *sqldb.DB
	hasher Hasher
	now    func() time.Time
	ttl    time.Duration

	mu    sync.RWMutex
	cache map[string]cached
	// loads collapses concurrent misses of one id into one query: a burst
	// at the token endpoint after the cache entry expires asks once.
	loads singleflight.Group
}

type cached struct {
	c       *Client
	expires time.Time
}

// NewStore returns a store; cacheTTL bounds how long a change made by
// another process (such as the CLI) takes to be seen.
func NewStore(db *sqldb.DB, hasher Hasher, now func() time.Time, cacheTTL time.Duration) *Store {
	return &Store{db: db, hasher: hasher, now: now, ttl: cacheTTL, cache: map[string]cached{}}
}

// Create registers a client from a validated spec and returns it with its
// secret in clear text (shown once, never stored).
func (s *Store) Create(ctx context.Context, spec Spec) (*Client, string, error) {
	c := s.fromSpec(newID(), spec)
	var secret string
	if c.TokenEndpointAuthMethod == AuthSecretBasic || c.TokenEndpointAuthMethod == AuthSecretPost {
		secret = NewSecret()
		h, err := s.hasher.Hash(ctx, []byte(secret))
		if err != nil {
			// Never store a confidential client without its secret's hash.
			return nil, "", fmt.Errorf("hash secret of client %q: %w", c.Name, err)
		}
		c.SecretHash = h
	}
	data, err := json.Marshal(c)
	if err != nil {
		return nil, "", fmt.Errorf("encode client: %w", err)
	}
	ts := c.CreatedAt.Unix()
	_, err = s.db.ExecContext(ctx, `INSERT INTO clients (id, secret_hash, name, data, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)`,
		c.ID, c.SecretHash, c.Name, string(data), ts)
	if err != nil {
		return nil, "", fmt.Errorf("insert client %q: %w", c.Name, err)
	}
	if err := c.parseJWKS(); err != nil {
		return nil, "", err
	}
	return c, secret, nil
}

// Ensure registers a client under a fixed id with a secret the caller
// knows, or brings an existing registration up to date with spec (its
// redirect URIs follow a changed public URL). The system's own relying
// parties (the office system, the cockpit) are registered this way at
// every start, their secrets derived from the IdP secret, so nothing has
// to be copied between processes.
func (s *Store) Ensure(ctx context.Context, id string, spec Spec, secret string) (*Client, error) {
	c := s.fromSpec(id, spec)
	if secret != "" {
		h, err := s.hasher.Hash(ctx, []byte(secret))
		if err != nil {
			return nil, fmt.Errorf("hash secret of client %q: %w", id, err)
		}
		c.SecretHash = h
	}
	data, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encode client: %w", err)
	}
	ts := c.CreatedAt.Unix()
	_, err = s.db.ExecContext(ctx, `INSERT INTO clients (id, secret_hash, name, data, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)
		ON CONFLICT (id) DO UPDATE SET secret_hash = excluded.secret_hash, name = excluded.name, data = excluded.data, updated_at = excluded.updated_at`,
		c.ID, c.SecretHash, c.Name, string(data), ts)
	if err != nil {
		return nil, fmt.Errorf("ensure client %q: %w", id, err)
	}
	s.mu.Lock()
	delete(s.cache, id)
	s.mu.Unlock()
	return c, c.parseJWKS()
}

func (s *Store) fromSpec(id string, spec Spec) *Client {
	c := &Client{
		ID:                      id,
		Name:                    spec.Name,
		RedirectURIs:            spec.RedirectURIs,
		PostLogoutRedirectURIs:  spec.PostLogoutRedirectURIs,
		GrantTypes:              spec.GrantTypes,
		ResponseTypes:           []string{"code"},
		Scopes:                  spec.Scopes,
		Audience:                spec.Audience,
		Public:                  spec.Public,
		Trusted:                 spec.Trusted,
		TokenEndpointAuthMethod: spec.AuthMethod,
		JWKS:                    spec.JWKS,
		IDTokenAlg:              spec.IDTokenAlg,
		BackchannelLogoutURI:    spec.BackchannelLogoutURI,
		StrictAuthMethod:        spec.StrictAuthMethod,
		AllowNoPKCE:             spec.AllowNoPKCE,
		DirectoryRoot:           spec.DirectoryRoot,
		DirectoryFullPhones:     spec.DirectoryFullPhones,
		CreatedAt:               s.now().UTC().Truncate(time.Second),
	}
	if len(c.Audience) == 0 {
		// The client is the resource server for its own API unless told
		// otherwise, so its tokens are useless at any other RS.
		c.Audience = []string{c.ID}
	}
	return c
}

// Spec returns the registration a client was made from, for changing it
// and validating it again (Store.Update).
func (c *Client) Spec() Spec {
	return Spec{
		Name:                   c.Name,
		RedirectURIs:           slices.Clone(c.RedirectURIs),
		PostLogoutRedirectURIs: slices.Clone(c.PostLogoutRedirectURIs),
		GrantTypes:             slices.Clone(c.GrantTypes),
		Scopes:                 slices.Clone(c.Scopes),
		Audience:               slices.Clone(c.Audience),
		Public:                 c.Public,
		Trusted:                c.Trusted,
		AuthMethod:             c.TokenEndpointAuthMethod,
		JWKS:                   c.JWKS,
		IDTokenAlg:             c.IDTokenAlg,
		BackchannelLogoutURI:   c.BackchannelLogoutURI,
		StrictAuthMethod:       c.StrictAuthMethod,
		AllowNoPKCE:            c.AllowNoPKCE,
		DirectoryRoot:          c.DirectoryRoot,
		DirectoryFullPhones:    c.DirectoryFullPhones,
	}
}

// Committed is called inside the transaction of a change with the client
// before and after it; an error (an audit record that cannot be written)
// undoes the change.
type Committed func(ctx context.Context, tx *sql.Tx, before, after *Client) error

// Update changes an existing registration: edit gets the client's spec,
// the result is validated as a new registration is (allowHTTP as for
// Spec.Validate), and the id, secret and creation time stay. The row is
// locked for the read-modify-write, and the cached copy is dropped.
func (s *Store) Update(ctx context.Context, id string, allowHTTP bool, edit func(*Spec) error, then Committed) (*Client, error) {
	var after *Client
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		before, err := s.lockedLoad(ctx, tx, id)
		if err != nil {
			return err
		}
		spec := before.Spec()
		if err := edit(&spec); err != nil {
			return err
		}
		if err := spec.Validate(allowHTTP); err != nil {
			return err
		}
		if spec.AuthMethod != before.TokenEndpointAuthMethod || spec.Public != before.Public {
			// A secret would have to be made or dropped; that is a new
			// registration.
			return errors.New("the auth method of a client cannot be changed; register a new client")
		}
		after = s.fromSpec(id, spec)
		after.CreatedAt, after.SecretHash = before.CreatedAt, before.SecretHash
		if err := after.parseJWKS(); err != nil {
			return err
		}
		data, err := json.Marshal(after)
		if err != nil {
			return fmt.Errorf("encode client: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE clients SET name = $2, data = $3, updated_at = $4 WHERE id = $1`,
			id, after.Name, string(data), s.now().Unix()); err != nil {
			return fmt.Errorf("update client %q: %w", id, err)
		}
		if then != nil {
			return then(ctx, tx, before, after)
		}
		return nil
	})
	s.forget(id)
	if err != nil {
		return nil, err
	}
	return after, nil
}

// RotateSecret gives a client that authenticates with a secret a new one,
// returned in clear text once; the old secret stops working at once in
// this process and within the cache TTL in others.
func (s *Store) RotateSecret(ctx context.Context, id string, then Committed) (*Client, string, error) {
	var (
		after  *Client
		secret string
	)
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		before, err := s.lockedLoad(ctx, tx, id)
		if err != nil {
			return err
		}
		if m := before.TokenEndpointAuthMethod; m != AuthSecretBasic && m != AuthSecretPost {
			return fmt.Errorf("client %q authenticates with %s, not a secret", id, m)
		}
		secret = NewSecret()
		h, err := s.hasher.Hash(ctx, []byte(secret))
		if err != nil {
			return fmt.Errorf("hash secret of client %q: %w", id, err)
		}
		c := *before
		c.SecretHash = h
		after = &c
		if _, err := tx.ExecContext(ctx, `UPDATE clients SET secret_hash = $2, updated_at = $3 WHERE id = $1`, id, h, s.now().Unix()); err != nil {
			return fmt.Errorf("rotate secret of client %q: %w", id, err)
		}
		if then != nil {
			return then(ctx, tx, before, after)
		}
		return nil
	})
	s.forget(id)
	if err != nil {
		return nil, "", err
	}
	return after, secret, nil
}

func (s *Store) lockedLoad(ctx context.Context, tx *sql.Tx, id string) (*Client, error) {
	var (
		data string
		hash []byte
	)
	err := tx.QueryRowContext(ctx, `SELECT data, secret_hash FROM clients WHERE id = $1`+s.db.ForUpdate(), id).Scan(&data, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("client %q: %w", id, sqldb.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("load client %q: %w", id, err)
	}
	return decode(data, hash)
}

func (s *Store) forget(id string) {
	s.mu.Lock()
	delete(s.cache, id)
	s.mu.Unlock()
}

// Get returns a client by id, wrapping sqldb.ErrNotFound when unknown.
func (s *Store) Get(ctx context.Context, id string) (*Client, error) {
	now := s.now()
	s.mu.RLock()
	e, ok := s.cache[id]
	s.mu.RUnlock()
	if ok && now.Before(e.expires) {
		return e.c, nil
	}
	v, err, _ := s.loads.Do(id, func() (any, error) {
		// Shared by every waiter: one caller going away must not fail
		// the others' load.
		c, err := s.load(context.WithoutCancel(ctx), id)
		if err != nil {
			return nil, err
		}
		s.mu.Lock()
		s.cache[id] = cached{c: c, expires: now.Add(s.ttl)}
		s.mu.Unlock()
		return c, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*Client), nil
}

func (s *Store) load(ctx context.Context, id string) (*Client, error) {
	var (
		data string
		hash []byte
	)
	err := s.db.QueryRowContext(ctx, `SELECT data, secret_hash FROM clients WHERE id = $1`, id).Scan(&data, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("client %q: %w", id, sqldb.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("load client %q: %w", id, err)
	}
	return decode(data, hash)
}

func decode(data string, hash []byte) (*Client, error) {
	var c Client
	if err := json.Unmarshal([]byte(data), &c); err != nil {
		return nil, fmt.Errorf("decode client: %w", err)
	}
	c.SecretHash = hash
	if err := c.parseJWKS(); err != nil {
		return nil, err
	}
	return &c, nil
}

func (c *Client) parseJWKS() error {
	if len(c.JWKS) == 0 {
		return nil
	}
	var set josev3.JSONWebKeySet
	if err := json.Unmarshal(c.JWKS, &set); err != nil {
		return fmt.Errorf("client %q: decode jwks: %w", c.ID, err)
	}
	c.jwks = &set
	return nil
}

// List returns every client, oldest first.
func (s *Store) List(ctx context.Context) ([]*Client, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT data, secret_hash FROM clients ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("list clients: %w", err)
	}
	defer rows.Close()
	var out []*Client
	for rows.Next() {
		var (
			data string
			hash []byte
		)
		if err := rows.Scan(&data, &hash); err != nil {
			return nil, fmt.Errorf("list clients: %w", err)
		}
		c, err := decode(data, hash)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// Delete removes a client. Its tokens are revoked by the caller.
func (s *Store) Delete(ctx context.Context, id string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM clients WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("delete client %q: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("client %q: %w", id, sqldb.ErrNotFound)
	}
	s.mu.Lock()
	delete(s.cache, id)
	s.mu.Unlock()
	return nil
}

// Hasher returns the secret hasher the store uses; fosite authenticates
// clients with the same one.
func (s *Store) Hasher() Hasher { return s.hasher }
