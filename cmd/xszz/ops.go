package main

import (
	"context"

	"github.com/xszz/xszz/idp/account"
	"github.com/xszz/xszz/idp/audit"
)

// disableAccount stops an account and ends everything it holds: sessions,
// refresh tokens, and the access tokens' introspection. It goes through
// the admin service, as the console does, which records the audit event.
func (a *App) disableAccount(ctx context.Context, id string) (*account.Account, error) {
	return a.Admin.DisableByOperator(ctx, id)
}

// audit records a command-line action; the actor is the operator's shell.
func (a *App) audit(ctx context.Context, typ, subject string, detail map[string]string) {
	if err := a.Audit.Record(ctx, audit.Event{Type: typ, Result: "success", ActorID: "cli", SubjectID: subject, Detail: detail}); err != nil {
		a.Log.ErrorContext(ctx, "audit record failed", "type", typ, "err", err)
	}
}
