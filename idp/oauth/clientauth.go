package oauth

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/ory/fosite"

	"github.com/xszz/xszz/idp/client"
)

// Client authentication methods as they arrive, before the client is known.
const (
	methodBasic     = client.AuthSecretBasic
	methodPost      = client.AuthSecretPost
	methodAssertion = client.AuthPrivateKeyJWT
	methodNone      = client.AuthNone
)

// BasicTried reports whether a request tried HTTP Basic client
// authentication; a failure then answers with WWW-Authenticate: Basic
// (RFC 6749 §5.2).
func BasicTried(r *http.Request) bool {
	_, _, ok := r.BasicAuth()
	return ok
}

// authMethodOf names the one client authentication method a request uses.
// RFC 6749 §2.3 forbids more than one in a request, and a request with
// none at all is an unauthenticated client (invalid_client, 401), not a
// malformed request.
func authMethodOf(r *http.Request, form url.Values) (string, error) {
	_, secret, basic := r.BasicAuth()
	assertion := form.Has("client_assertion") || form.Has("client_assertion_type")
	post := form.Get("client_secret") != ""
	n := 0
	for _, used := range []bool{basic, assertion, post} {
		if used {
			n++
		}
	}
	switch {
	case n > 1:
		return "", fosite.ErrInvalidRequest.WithHint("The request uses more than one client authentication method.")
	case assertion:
		return methodAssertion, nil
	case basic && secret == "":
		// Some libraries send "client_id:" for public clients.
		return methodNone, nil
	case basic:
		return methodBasic, nil
	case post:
		return methodPost, nil
	case form.Get("client_id") != "":
		return methodNone, nil
	}
	return "", fosite.ErrInvalidClient.WithHint("The request carries no client authentication.")
}

// clientAuthenticator authenticates clients at the token, introspection
// and revocation endpoints. Fosite's own strategy insists on a secret
// client's one registered method, so a client registered with
// client_secret_basic could not use client_secret_post (openid-client's
// default), and answers a request without any credentials with
// invalid_request. Assertions (private_key_jwt) are still checked by
// fosite.
type clientAuthenticator struct {
	fosite  *fosite.Fosite
	clients clientGetter
	hasher  fosite.Hasher
}

func (a clientAuthenticator) authenticate(ctx context.Context, r *http.Request, form url.Values) (fosite.Client, error) {
	method, err := authMethodOf(r, form)
	if err != nil {
		return nil, err
	}
	if method == methodAssertion {
		return a.fosite.DefaultClientAuthenticationStrategy(ctx, r, form)
	}
	id, secret := form.Get("client_id"), form.Get("client_secret")
	if bid, bsecret, ok := r.BasicAuth(); ok {
		// RFC 6749 §2.3.1: both are form-urlencoded inside the header.
		if id, err = url.QueryUnescape(bid); err != nil {
			return nil, fosite.ErrInvalidClient.WithHint("The client id in the Authorization header is not form-urlencoded.")
		}
		if secret, err = url.QueryUnescape(bsecret); err != nil {
			return nil, fosite.ErrInvalidClient.WithHint("The client secret in the Authorization header is not form-urlencoded.")
		}
		if fid := form.Get("client_id"); fid != "" && fid != id {
			return nil, fosite.ErrInvalidRequest.WithHint("The client_id parameter does not match the Authorization header.")
		}
	}
	if id == "" {
		return nil, fosite.ErrInvalidClient.WithHint("The request carries no client id.")
	}
	fc, err := a.clients.GetClient(ctx, id)
	if errors.Is(err, fosite.ErrNotFound) {
		return nil, fosite.ErrInvalidClient.WithWrap(err).WithDebug(err.Error())
	}
	if err != nil {
		return nil, fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
	}
	cl, ok := fc.(*client.Client)
	if !ok || !cl.AcceptsAuthMethod(method) {
		return nil, fosite.ErrInvalidClient.WithHintf("The client does not authenticate with '%s'.", method)
	}
	if method == methodNone {
		return cl, nil
	}
	if err := a.hasher.Compare(ctx, cl.GetHashedSecret(), []byte(secret)); err != nil {
		return nil, fosite.ErrInvalidClient.WithWrap(err).WithDebug(err.Error())
	}
	return cl, nil
}
