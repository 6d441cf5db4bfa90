// Package scim is the IdP's read-only SCIM 2.0 directory (RFC 7643, RFC
// 7644): accounts as Users and organisations as Groups, for platforms
// (the office system first) that must know everyone in a subtree, not only
// those who have signed in to them.
//
// A platform reads it with an access token it obtained for itself through
// client credentials with the "directory" scope. What it sees is bounded
// by the subtree registered on its client (client.Client.DirectoryRoot);
// phone numbers are masked unless the client was registered for full
// numbers. Incremental sync is `filter=meta.lastModified gt "…"` with
// startIndex/count pagination, ordered oldest change first.
package scim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/xszz/xszz/idp/account"

	"github.com/labstack/echo/v4"
	"github.com/ory/fosite"

	"github.com/xszz/xszz/idp/client"
	"github.com/xszz/xszz/internal/sqldb"
)

// Schema URNs (RFC 7643 §8.7, RFC 7644 §3.12, §3.4.2) and xszz's own
// extensions.
const (
	SchemaUser         = "urn:ietf:params:scim:schemas:core:2.0:User"
	SchemaGroup        = "urn:ietf:params:scim:schemas:core:2.0:Group"
	SchemaOrgGroup     = "urn:xszz:params:scim:schemas:extension:org:2.0:Group"
	SchemaOrgUser      = "urn:xszz:params:scim:schemas:extension:org:2.0:User"
	SchemaListResponse = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	SchemaError        = "urn:ietf:params:scim:api:messages:2.0:Error"
	SchemaSPConfig     = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
	SchemaResourceType = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
	SchemaSchema       = "urn:ietf:params:scim:schemas:core:2.0:Schema"
)

// Scope is the OAuth scope a client needs.
const Scope = "directory"

// Page sizes: what a request gets without count, and at most.
const (
	DefaultCount = 100
	MaxCount     = 1000
)

// Tokens checks access tokens; fosite's OAuth2Provider implements it.
type Tokens interface {
	IntrospectToken(ctx context.Context, token string, use fosite.TokenUse, sess fosite.Session, scopes ...string) (fosite.TokenUse, fosite.AccessRequester, error)
}

// Clients loads registered clients as they are now.
type Clients interface {
	Get(ctx context.Context, id string) (*client.Client, error)
}

// Paths bounds a subtree; org.Store implements it.
type Paths interface {
	PathRange(ctx context.Context, id string) (lo, hi string, err error)
}

// Deps are what the directory is built from.
type Deps struct {
	// Issuer is the IdP's URL, the base of meta.location.
	Issuer  string
	DB      *sqldb.DB
	Tokens  Tokens
	Clients Clients
	Paths   Paths
	// Accounts reads account rows: phone numbers are sealed in the
	// database, and only the account store opens them.
	Accounts Accounts
	// NewSession returns an empty token session of the IdP's type.
	NewSession func() fosite.Session
	Log        *slog.Logger
}

// Accounts scans account rows selected with account.Columns;
// account.Store implements it.
type Accounts interface {
	Scan(row interface{ Scan(...any) error }, extra ...any) (*account.Account, error)
}

// Server serves /scim/v2.
type Server struct {
	Deps
	base string
}

// New checks the dependencies and returns a server.
func New(d Deps) (*Server, error) {
	if d.Issuer == "" || d.DB == nil || d.Tokens == nil || d.Clients == nil || d.Paths == nil || d.Accounts == nil || d.NewSession == nil {
		return nil, errors.New("scim: issuer, database, tokens, clients, paths, accounts and NewSession are required")
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	return &Server{Deps: d, base: strings.TrimSuffix(d.Issuer, "/") + "/scim/v2"}, nil
}

// Register mounts the routes.
func (s *Server) Register(e *echo.Echo) {
	g := e.Group("/scim/v2", s.requireClient)
	g.GET("/Users", s.listUsers)
	g.GET("/Users/:id", s.getUser)
	g.GET("/Groups", s.listGroups)
	g.GET("/Groups/:id", s.getGroup)
	g.GET("/ServiceProviderConfig", s.serviceProviderConfig)
	g.GET("/Schemas", s.schemas)
	g.GET("/ResourceTypes", s.resourceTypes)
	// The directory is read-only: every write is refused in SCIM's own
	// error format rather than echo's 405.
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		g.Add(m, "/*", s.readOnly)
	}
}

// Error is a SCIM error response (RFC 7644 §3.12).
type Error struct {
	Schemas  []string `json:"schemas"`
	Status   string   `json:"status"`
	ScimType string   `json:"scimType,omitempty"`
	Detail   string   `json:"detail,omitempty"`
}

func scimError(c echo.Context, status int, scimType, detail string) error {
	return writeJSON(c, status, Error{Schemas: []string{SchemaError}, Status: strconv.Itoa(status), ScimType: scimType, Detail: detail})
}

func writeJSON(c echo.Context, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("scim: encode answer: %w", err)
	}
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	return c.Blob(status, "application/scim+json; charset=utf-8", b)
}

func (s *Server) readOnly(c echo.Context) error {
	return scimError(c, http.StatusMethodNotAllowed, "", "this directory is read-only")
}

// caller is the client reading the directory and the subtree it may see.
type caller struct {
	client *client.Client
	lo, hi string
}

const callerKey = "scim.caller"

// requireClient admits access tokens (not refresh or ID tokens) carrying
// the directory scope, issued by client credentials to a client that still
// has the scope and a directory root. The client is read fresh, so a
// changed registration takes effect at once.
func (s *Server) requireClient(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx := c.Request().Context()
		unauthorized := func(code, detail string) error {
			v := `Bearer realm="xszz", scope="directory"`
			if code != "" {
				v += `, error="` + code + `"`
			}
			c.Response().Header().Set("WWW-Authenticate", v)
			return scimError(c, http.StatusUnauthorized, "", detail)
		}
		scheme, tok, _ := strings.Cut(c.Request().Header.Get("Authorization"), " ")
		tok = strings.TrimSpace(tok)
		if !strings.EqualFold(scheme, "Bearer") || tok == "" {
			return unauthorized("", "an access token is required (Authorization: Bearer)")
		}
		use, ar, err := s.Tokens.IntrospectToken(ctx, tok, fosite.AccessToken, s.NewSession(), Scope)
		if err != nil {
			rfc := fosite.ErrorToRFC6749Error(err)
			switch {
			case rfc.ErrorField == fosite.ErrInvalidScope.ErrorField:
				c.Response().Header().Set("WWW-Authenticate", `Bearer realm="xszz", scope="directory", error="insufficient_scope"`)
				return scimError(c, http.StatusForbidden, "", "the token lacks the directory scope")
			case rfc.CodeField >= 500:
				return fmt.Errorf("scim: introspect token: %w", err)
			}
			return unauthorized("invalid_token", "the access token is invalid or expired")
		}
		// Fosite falls back to refresh tokens when the access token lookup
		// fails; a refresh token is not a credential for a resource server.
		if use != fosite.AccessToken {
			return unauthorized("invalid_token", "only access tokens are accepted")
		}
		clientID := ar.GetClient().GetID()
		// A person's token at the same client is not the platform itself.
		if sub := ar.GetSession().GetSubject(); sub != clientID {
			return unauthorized("invalid_token", "the directory is read with client credentials, not on behalf of a person")
		}
		cl, err := s.Clients.Get(ctx, clientID)
		if errors.Is(err, sqldb.ErrNotFound) {
			return unauthorized("invalid_token", "the client no longer exists")
		}
		if err != nil {
			return fmt.Errorf("scim: load client: %w", err)
		}
		if !slices.Contains(cl.Scopes, Scope) || cl.DirectoryRoot == "" {
			return scimError(c, http.StatusForbidden, "", "the client is not registered for the directory")
		}
		lo, hi, err := s.Paths.PathRange(ctx, cl.DirectoryRoot)
		if errors.Is(err, sqldb.ErrNotFound) {
			return scimError(c, http.StatusForbidden, "", "the client's directory root does not exist")
		}
		if err != nil {
			return fmt.Errorf("scim: directory root of %s: %w", clientID, err)
		}
		c.Set(callerKey, &caller{client: cl, lo: lo, hi: hi})
		return next(c)
	}
}

func callerOf(c echo.Context) *caller { return c.Get(callerKey).(*caller) }

// Meta is a resource's metadata (RFC 7643 §3.1).
type Meta struct {
	ResourceType string `json:"resourceType"`
	Created      string `json:"created,omitempty"`
	LastModified string `json:"lastModified"`
	Location     string `json:"location"`
}

// ListResponse is RFC 7644 §3.4.2's envelope.
type ListResponse struct {
	Schemas      []string `json:"schemas"`
	TotalResults int      `json:"totalResults"`
	StartIndex   int      `json:"startIndex"`
	ItemsPerPage int      `json:"itemsPerPage"`
	Resources    []any    `json:"Resources"`
}

func timeString(t time.Time) string { return t.UTC().Format(time.RFC3339) }
