package main

import (
	"context"
	"fmt"

	"github.com/xszz/xszz/idp/account"
	"github.com/xszz/xszz/idp/admin"
	"github.com/xszz/xszz/idp/audit"
)

// disableAccount stops an account and ends everything it holds: sessions,
// refresh tokens, and the access tokens' introspection. It goes through the
// admin service as the system actor, so the change, the sign-out and the
// audit record commit together, and only the command line lifts it.
func (a *App) disableAccount(ctx context.Context, id string) (*account.Account, error) {
	return a.Admin.Disable(ctx, admin.Actor{System: true}, id)
}

// audit records a command-line action; the actor is the operator's shell.
// A failure is logged and returned, so the command exits non-zero: the
// operator learns that the action they just took is not on record.
func (a *App) audit(ctx context.Context, typ, subject string, detail map[string]string) error {
	return a.record(ctx, audit.Event{Type: typ, Result: "success", ActorID: "cli", SubjectID: subject, Detail: detail})
}

// auditAccount records a command's change to an account with the
// account's place in the tree, so the admins above its unit see it in
// their subtree's audit trail.
func (a *App) auditAccount(ctx context.Context, typ string, acc *account.Account, detail map[string]string) error {
	e := audit.Event{Type: typ, Result: "success", ActorID: "cli", SubjectID: acc.ID, OrgID: acc.OrgID, Detail: detail}
	if acc.OrgID != "" {
		p, err := a.Orgs.PathOf(ctx, acc.OrgID)
		if err != nil {
			return fmt.Errorf("locate %q for the audit record: %w", acc.OrgID, err)
		}
		e.OrgPath = p
	}
	return a.record(ctx, e)
}

func (a *App) record(ctx context.Context, e audit.Event) error {
	typ := e.Type
	if err := a.Audit.Record(ctx, e); err != nil {
		a.Log.ErrorContext(ctx, "audit record failed", "type", typ, "err", err)
		return fmt.Errorf("the action was done but could not be audited: %w", err)
	}
	return nil
}
