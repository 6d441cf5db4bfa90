package idpweb

import (
	"context"
	"log/slog"

	"github.com/xszz/xszz/idp/audit"
)

// AuditLog stores security events; audit.Log implements it.
type AuditLog interface {
	Record(ctx context.Context, e audit.Event) error
}

// OrgPather gives the materialised path of a unit ("/000000/320000/").
type OrgPather interface {
	PathOf(ctx context.Context, id string) (string, error)
}

// Events records the parts' security events. A failed record is logged,
// not returned: the person's request has already succeeded or failed on
// its own terms. A nil *Events records nothing.
type Events struct {
	Audit AuditLog
	// OrgPaths locates events in the tree; may be nil.
	OrgPaths OrgPather
	// Log receives failed records; nil uses slog.Default.
	Log *slog.Logger
}

// Record stores one event.
func (ev *Events) Record(ctx context.Context, e audit.Event) {
	if ev == nil || ev.Audit == nil {
		return
	}
	// The path lets an admin find the event when searching the subtree.
	if e.OrgID != "" && e.OrgPath == "" && ev.OrgPaths != nil {
		if p, err := ev.OrgPaths.PathOf(ctx, e.OrgID); err == nil {
			e.OrgPath = p
		}
	}
	if err := ev.Audit.Record(ctx, e); err != nil {
		logOrDefault(ev.Log).ErrorContext(ctx, "audit record failed", "type", e.Type, "err", err)
	}
}
