// Package identity assembles what tokens and pages say about an account:
// the account, its unit claim and its application grants.
package identity

import (
	"context"
	"fmt"
	"slices"

	"github.com/xszz/xszz/idp/account"
)

// Identity is what tokens say about an account, read fresh at every
// sign-in, refresh and userinfo call.
type Identity struct {
	Account *account.Account
	// Org is the "org" claim, nil when the account has no unit.
	Org any
	// Grants are application grants such as "cockpit".
	Grants []string
}

// Roles returns the "roles" claim.
func (i *Identity) Roles() []string { return []string{i.Account.Role} }

// HasGrant reports whether the account holds an application grant.
func (i *Identity) HasGrant(g string) bool { return slices.Contains(i.Grants, g) }

// OrgClaimer returns the "org" claim of a unit.
type OrgClaimer interface {
	OrgClaim(ctx context.Context, orgID string) (any, error)
}

// GrantLister returns the application grants of an account.
type GrantLister interface {
	Grants(ctx context.Context, accountID string) ([]string, error)
}

// Directory assembles identities from accounts, organisations and grants.
type Directory struct {
	Accounts *account.Store
	Orgs     OrgClaimer  // nil: the claim is the bare org id
	Grants   GrantLister // nil: no grants
}

// Active reports whether the account may still use its tokens, with the
// one query introspection needs (no org claim, no grants).
func (d *Directory) Active(ctx context.Context, accountID string) (bool, error) {
	a, err := d.Accounts.Get(ctx, accountID)
	if err != nil {
		return false, err
	}
	return a.Active(), nil
}

// Identity loads the identity of an account.
func (d *Directory) Identity(ctx context.Context, accountID string) (*Identity, error) {
	return d.load(ctx, accountID, true, true)
}

// Profile is the identity userinfo answers with: no grants (userinfo
// shows none), and the org claim only when asked for (the "org" scope),
// so an answer costs one query, or two.
func (d *Directory) Profile(ctx context.Context, accountID string, withOrg bool) (*Identity, error) {
	return d.load(ctx, accountID, withOrg, false)
}

func (d *Directory) load(ctx context.Context, accountID string, withOrg, withGrants bool) (*Identity, error) {
	a, err := d.Accounts.Get(ctx, accountID)
	if err != nil {
		return nil, err
	}
	id := &Identity{Account: a}
	if a.OrgID != "" && withOrg {
		if d.Orgs != nil {
			if id.Org, err = d.Orgs.OrgClaim(ctx, a.OrgID); err != nil {
				return nil, fmt.Errorf("org claim of %q: %w", accountID, err)
			}
		} else {
			id.Org = map[string]any{"id": a.OrgID}
		}
	}
	if d.Grants != nil && withGrants {
		if id.Grants, err = d.Grants.Grants(ctx, accountID); err != nil {
			return nil, fmt.Errorf("grants of %q: %w", accountID, err)
		}
	}
	return id, nil
}
