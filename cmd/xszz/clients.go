package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/xszz/xszz/idp/audit"
	"github.com/xszz/xszz/idp/client"
	"github.com/xszz/xszz/internal/sqldb"
)

func (c *cli) clientsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "clients", Short: "Manage OAuth 2.0 / OpenID Connect clients (relying parties)"}
	var (
		spec       client.Spec
		scope      string
		jwksFile   string
		postLogout []string
	)
	create := &cobra.Command{
		Use:   "create",
		Short: "Register a client; prints its id and secret (shown once)",
		RunE: c.withApp(func(cmd *cobra.Command, a *App, _ []string) error {
			spec.Scopes = strings.Fields(scope)
			spec.PostLogoutRedirectURIs = postLogout
			if jwksFile != "" {
				b, err := os.ReadFile(jwksFile)
				if err != nil {
					return fmt.Errorf("read --jwks: %w", err)
				}
				spec.JWKS = b
			}
			if err := spec.Validate(a.Provider.Config.AllowHTTPLoopback); err != nil {
				return err
			}
			cl, secret, err := a.Clients.Create(cmd.Context(), spec)
			if err != nil {
				return err
			}
			if err := a.audit(cmd.Context(), "client.created", cl.ID, map[string]string{"name": cl.Name}); err != nil {
				return err
			}
			out := map[string]any{"client_id": cl.ID, "client_name": cl.Name, "token_endpoint_auth_method": cl.TokenEndpointAuthMethod,
				"token_endpoint_auth_methods": cl.AuthMethods()}
			if secret != "" {
				out["client_secret"] = secret
			}
			return c.printJSON(out)
		}),
	}
	f := create.Flags()
	f.StringVar(&spec.Name, "name", "", "client name shown on the consent and login pages (required)")
	f.StringArrayVar(&spec.RedirectURIs, "redirect-uri", nil, "redirect URI, exact match (repeatable)")
	f.StringArrayVar(&postLogout, "post-logout-redirect-uri", nil, "post-logout redirect URI (repeatable)")
	f.StringVar(&scope, "scope", "", `allowed scopes (default "openid profile phone org offline_access")`)
	f.StringArrayVar(&spec.GrantTypes, "grant-type", nil, "grant type (repeatable; default authorization_code, refresh_token and, for confidential clients, client_credentials)")
	f.StringArrayVar(&spec.Audience, "audience", nil, "audiences the client may ask tokens for (repeatable; default: its own client id)")
	f.BoolVar(&spec.Public, "public", false, "public client (no secret; PKCE required)")
	f.BoolVar(&spec.Trusted, "trusted", false, "first-party client: no consent page")
	f.StringVar(&spec.AuthMethod, "auth-method", "", "token endpoint auth method: client_secret_basic (default), client_secret_post, private_key_jwt, none; a secret may travel either way unless --strict-auth-method")
	f.BoolVar(&spec.StrictAuthMethod, "strict-auth-method", false, "accept only the --auth-method given (client_secret_basic or client_secret_post), not the other way of sending the secret")
	f.BoolVar(&spec.AllowNoPKCE, "allow-no-pkce", false, "legacy confidential client that cannot send a PKCE code_challenge (every other client must use PKCE S256)")
	f.StringVar(&jwksFile, "jwks", "", "file with the client's public JWK Set (private_key_jwt)")
	f.StringVar(&spec.IDTokenAlg, "id-token-alg", "RS256", "ID token signing algorithm: RS256 or ES256")
	f.StringVar(&spec.BackchannelLogoutURI, "backchannel-logout-uri", "", "OpenID Connect back-channel logout URI")
	f.StringVar(&spec.DirectoryRoot, "directory-root", "", "unit id whose subtree the client may read through SCIM (scope directory)")
	f.BoolVar(&spec.DirectoryFullPhones, "directory-full-phones", false, "show full phone numbers in the SCIM directory")

	list := &cobra.Command{
		Use:   "list",
		Short: "List clients as JSON",
		RunE: c.withApp(func(cmd *cobra.Command, a *App, _ []string) error {
			cls, err := a.Clients.List(cmd.Context())
			if err != nil {
				return err
			}
			if cls == nil {
				cls = []*client.Client{}
			}
			return c.printJSON(cls)
		}),
	}
	del := &cobra.Command{
		Use:   "delete CLIENT_ID",
		Short: "Delete a client and revoke its tokens",
		Args:  cobra.ExactArgs(1),
		RunE: c.withApp(func(cmd *cobra.Command, a *App, args []string) error {
			if err := a.Clients.Delete(cmd.Context(), args[0]); errors.Is(err, sqldb.ErrNotFound) {
				return fmt.Errorf("no client %q", args[0])
			} else if err != nil {
				return err
			}
			if err := a.OAuth.RevokeClient(cmd.Context(), args[0]); err != nil {
				return err
			}
			if err := a.audit(cmd.Context(), "client.deleted", args[0], nil); err != nil {
				return err
			}
			return c.printJSON(map[string]string{"deleted": args[0]})
		}),
	}
	cmd.AddCommand(create, list, c.clientsUpdateCmd(), c.clientsRotateSecretCmd(), del)
	return cmd
}

// clientsUpdateCmd changes an existing registration, flag by flag: a flag
// not given leaves its field as it is. The result is validated as a new
// registration is, and audited in the same transaction.
func (c *cli) clientsUpdateCmd() *cobra.Command {
	var (
		name, scope, backchannel, dirRoot string
		redirects, postLogout             []string
		allowNoPKCE, strict, trusted      bool
		fullPhones                        bool
	)
	cmd := &cobra.Command{
		Use:   "update CLIENT_ID",
		Short: "Change a client's registration (only the flags given); prints the client",
		Long: `Change a client's registration. Only the flags given change anything;
a list flag given replaces the whole list. Boolean flags take =false to
clear them (--allow-no-pkce=false). The client id, secret and auth method
stay; the result is checked like a new registration.`,
		Args: cobra.ExactArgs(1),
		RunE: c.withApp(func(cmd *cobra.Command, a *App, args []string) error {
			f := cmd.Flags()
			var changed []string
			edit := func(sp *client.Spec) error {
				set := func(flag, field string, apply func()) {
					if f.Changed(flag) {
						apply()
						changed = append(changed, field)
					}
				}
				set("name", "client_name", func() { sp.Name = name })
				set("redirect-uri", "redirect_uris", func() { sp.RedirectURIs = redirects })
				set("post-logout-redirect-uri", "post_logout_redirect_uris", func() { sp.PostLogoutRedirectURIs = postLogout })
				set("backchannel-logout-uri", "backchannel_logout_uri", func() { sp.BackchannelLogoutURI = backchannel })
				set("scope", "scopes", func() { sp.Scopes = strings.Fields(scope) })
				set("trusted", "trusted", func() { sp.Trusted = trusted })
				set("allow-no-pkce", "allow_no_pkce", func() { sp.AllowNoPKCE = allowNoPKCE })
				set("strict-auth-method", "strict_auth_method", func() { sp.StrictAuthMethod = strict })
				set("directory-root", "directory_root", func() { sp.DirectoryRoot = dirRoot })
				set("directory-full-phones", "directory_full_phones", func() { sp.DirectoryFullPhones = fullPhones })
				if len(changed) == 0 {
					return errors.New("nothing to change: give at least one flag (see --help)")
				}
				if f.Changed("scope") && len(sp.Scopes) == 0 {
					return errors.New("--scope needs at least one scope")
				}
				return nil
			}
			cl, err := a.Clients.Update(cmd.Context(), args[0], a.Provider.Config.AllowHTTPLoopback, edit, a.auditClientTx("client.updated", func() map[string]string {
				return map[string]string{"changed": strings.Join(changed, " ")}
			}))
			if errors.Is(err, sqldb.ErrNotFound) {
				return fmt.Errorf("no client %q", args[0])
			}
			if err != nil {
				return err
			}
			return c.printJSON(cl)
		}),
	}
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "client name shown on the consent and login pages")
	f.StringArrayVar(&redirects, "redirect-uri", nil, "redirect URI, exact match (repeatable; replaces the registered ones)")
	f.StringArrayVar(&postLogout, "post-logout-redirect-uri", nil, `post-logout redirect URI (repeatable; replaces; "" clears)`)
	f.StringVar(&backchannel, "backchannel-logout-uri", "", `OpenID Connect back-channel logout URI ("" clears)`)
	f.StringVar(&scope, "scope", "", "allowed scopes, space-separated (replaces)")
	f.BoolVar(&trusted, "trusted", false, "first-party client: no consent page")
	f.BoolVar(&allowNoPKCE, "allow-no-pkce", false, "legacy confidential client that cannot send a PKCE code_challenge")
	f.BoolVar(&strict, "strict-auth-method", false, "accept only the registered way of sending the secret")
	f.StringVar(&dirRoot, "directory-root", "", `unit id whose subtree the client may read through SCIM ("" clears)`)
	f.BoolVar(&fullPhones, "directory-full-phones", false, "show full phone numbers in the SCIM directory")
	return cmd
}

func (c *cli) clientsRotateSecretCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "rotate-secret CLIENT_ID",
		Short: "Give a client a new secret (printed once); the old one stops working",
		Args:  cobra.ExactArgs(1),
		RunE: c.withApp(func(cmd *cobra.Command, a *App, args []string) error {
			cl, secret, err := a.Clients.RotateSecret(cmd.Context(), args[0], a.auditClientTx("client.secret_rotated", func() map[string]string { return nil }))
			if errors.Is(err, sqldb.ErrNotFound) {
				return fmt.Errorf("no client %q", args[0])
			}
			if err != nil {
				return err
			}
			return c.printJSON(map[string]any{"client_id": cl.ID, "client_name": cl.Name, "client_secret": secret,
				"token_endpoint_auth_methods": cl.AuthMethods()})
		}),
	}
}

// auditClientTx records a command's change to a client inside the
// change's transaction: a change that cannot be audited is not made.
func (a *App) auditClientTx(typ string, detail func() map[string]string) client.Committed {
	return func(ctx context.Context, tx *sql.Tx, _, after *client.Client) error {
		e := audit.Event{Type: typ, Result: "success", ActorID: "cli", SubjectID: after.ID, Detail: detail()}
		if err := a.Audit.RecordTx(ctx, tx, e); err != nil {
			a.Log.ErrorContext(ctx, "audit record failed; the change is undone", "type", typ, "err", err)
			return fmt.Errorf("audit %s of client %q: %w", typ, after.ID, err)
		}
		return nil
	}
}
