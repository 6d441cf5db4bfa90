package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

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
			out := map[string]any{"client_id": cl.ID, "client_name": cl.Name, "token_endpoint_auth_method": cl.TokenEndpointAuthMethod}
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
	f.StringVar(&spec.AuthMethod, "auth-method", "", "token endpoint auth method: client_secret_basic, client_secret_post, private_key_jwt, none")
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
	cmd.AddCommand(create, list, del)
	return cmd
}
