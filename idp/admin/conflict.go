package admin

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/xszz/xszz/idp/account"
	"github.com/xszz/xszz/idp/audit"
	"github.com/xszz/xszz/idp/org"
	"github.com/xszz/xszz/internal/sqldb"
)

// Where a phone conflict came from.
const (
	ConflictProvision    = "provision"    // an admin provisioned a number another account holds
	ConflictRegistration = "registration" // someone registered with a code sent to such a number
)

// ErrPhoneInUse answers a provisioning whose number another account holds.
// It says neither where nor whose: the admins above both units decide.
var ErrPhoneInUse = &Error{Code: "conflict", Msg: "该手机号已有账号，不能直接开通；已提交上级管理员核实处理"}

// PhoneConflict is a number asked for while another account holds it,
// waiting for the admins of the lowest unit above both.
type PhoneConflict struct {
	ID           string    `json:"id"`
	AccountID    string    `json:"account_id"` // the holder
	Source       string    `json:"source"`
	Name         string    `json:"name"`   // who asked for it
	OrgID        string    `json:"org_id"` // and for which unit
	Role         string    `json:"role"`
	RequestedBy  string    `json:"requested_by"` // admin id, "cli", or "" for a registration
	ResolveOrgID string    `json:"resolve_org_id"`
	CreatedAt    time.Time `json:"created_at"`
}

// commonPath is the lowest unit above (or at) both paths; an empty path
// (an account without a unit) stands for the whole tree.
func commonPath(a, b string) string {
	as, bs := strings.Split(strings.Trim(a, "/"), "/"), strings.Split(strings.Trim(b, "/"), "/")
	var common []string
	for i := 0; i < len(as) && i < len(bs) && as[i] == bs[i] && as[i] != ""; i++ {
		common = append(common, as[i])
	}
	if len(common) == 0 {
		return "/" + org.RootID + "/"
	}
	return "/" + strings.Join(common, "/") + "/"
}

func lastUnit(path string) string {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	return parts[len(parts)-1]
}

// fileConflict queues a conflict in ctx's transaction and audits it under
// the resolving unit, so the holder's side learns nothing either. The same
// open request (holder, unit, source) is filed once.
func (s *Service) fileConflict(ctx context.Context, a Actor, holder *account.Account, source, name, orgID, role string) error {
	q := s.DB.Q(ctx)
	var n int
	if err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM account_phone_conflicts WHERE account_id = $1 AND org_id = $2 AND source = $3 AND resolved_at IS NULL`,
		holder.ID, orgID, source).Scan(&n); err != nil {
		return fmt.Errorf("look up phone conflicts: %w", err)
	}
	if n > 0 {
		return nil
	}
	held := ""
	if holder.OrgID != "" {
		p, err := s.Orgs.PathOf(ctx, holder.OrgID)
		if err != nil && !errors.Is(err, sqldb.ErrNotFound) {
			return err
		}
		held = p
	}
	asked, err := s.Orgs.PathOf(ctx, orgID)
	if err != nil {
		return err
	}
	resolve := commonPath(held, asked)
	c := PhoneConflict{ID: account.NewID(), AccountID: holder.ID, Source: source, Name: name, OrgID: orgID, Role: role, ResolveOrgID: lastUnit(resolve)}
	if source == ConflictProvision {
		c.RequestedBy = a.ID()
	}
	if _, err := q.ExecContext(ctx, `INSERT INTO account_phone_conflicts (id, account_id, source, name, org_id, role, requested_by, resolve_org_id, resolve_path, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		c.ID, c.AccountID, c.Source, c.Name, c.OrgID, c.Role, c.RequestedBy, c.ResolveOrgID, resolve, s.now().Unix()); err != nil {
		return fmt.Errorf("file phone conflict: %w", err)
	}
	e := audit.Event{Type: "account.phone_conflict", Result: audit.Success, ActorID: c.RequestedBy, SubjectID: holder.ID,
		OrgID: c.ResolveOrgID, OrgPath: resolve, IP: a.IP, UserAgent: a.UserAgent,
		Detail: map[string]string{"source": source, "org_id": orgID, "conflict": c.ID}}
	return s.recordEvent(ctx, e)
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// ClaimPhone files the registration of someone who proved a number (with
// an SMS code) that another account holds: an admin may have provisioned
// a stranger's number, or the carrier recycled it. The registrant's answer
// is unchanged (the caller answers as for any registration); the admins
// above both units decide.
func (s *Service) ClaimPhone(ctx context.Context, holder *account.Account, name, orgID string, ip, ua string) error {
	return s.inTx(ctx, func(ctx context.Context) error {
		return s.fileConflict(ctx, Actor{IP: ip, UserAgent: ua}, holder, ConflictRegistration, name, orgID, account.RoleStaff)
	})
}

// Page sizes of the phone-conflict queue.
const (
	DefaultConflictPage = 50
	MaxConflictPage     = 200
)

// ConflictPosition is a place in the queue's order, oldest first: the
// filing time and id of the last conflict a page showed.
type ConflictPosition struct {
	CreatedAt int64  `json:"t"`
	ID        string `json:"i"`
}

// PhoneConflicts returns a page of the open conflicts the actor's unit or
// a unit below it resolves, oldest first, starting after the position
// (nil: the first page), and the position the next page starts after —
// nil when this page is the last. The queue is walked in the order of
// (created_at, id), so a conflict filed meanwhile joins the end and one
// settled meanwhile leaves no gap. The actor's subtree bounds every page,
// wherever the position points.
func (s *Service) PhoneConflicts(ctx context.Context, a Actor, after *ConflictPosition, limit int) ([]PhoneConflict, *ConflictPosition, error) {
	root, err := s.scope(a)
	if err != nil {
		return nil, nil, err
	}
	lo, hi, err := s.Orgs.PathRange(ctx, root)
	if err != nil {
		return nil, nil, err
	}
	if limit <= 0 || limit > MaxConflictPage {
		limit = DefaultConflictPage
	}
	q := `SELECT id, account_id, source, name, org_id, role, requested_by, resolve_org_id, created_at
		FROM account_phone_conflicts WHERE resolve_path >= $1 AND resolve_path < $2 AND resolved_at IS NULL`
	args := []any{lo, hi}
	if after != nil {
		q += ` AND (created_at, id) > ($3, $4)`
		args = append(args, after.CreatedAt, after.ID)
	}
	// One more than the page says whether there is a next page.
	args = append(args, limit+1)
	rows, err := s.DB.QueryContext(ctx, q+fmt.Sprintf(` ORDER BY created_at, id LIMIT $%d`, len(args)), args...)
	if err != nil {
		return nil, nil, fmt.Errorf("list phone conflicts: %w", err)
	}
	defer rows.Close()
	var out []PhoneConflict
	for rows.Next() {
		var c PhoneConflict
		var created int64
		if err := rows.Scan(&c.ID, &c.AccountID, &c.Source, &c.Name, &c.OrgID, &c.Role, &c.RequestedBy, &c.ResolveOrgID, &created); err != nil {
			return nil, nil, fmt.Errorf("list phone conflicts: %w", err)
		}
		c.CreatedAt = time.Unix(created, 0).UTC()
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("list phone conflicts: %w", err)
	}
	if len(out) <= limit {
		return out, nil, nil
	}
	out = out[:limit]
	last := out[limit-1]
	return out, &ConflictPosition{CreatedAt: last.CreatedAt.Unix(), ID: last.ID}, nil
}

// How an admin settles a phone conflict; recorded in the audit log.
const (
	// ResolveKept: the number stays with the account holding it; the
	// request is not carried out (the requester is told outside the IdP).
	ResolveKept = "kept"
	// ResolveHolderCorrected: the holding account was the wrong one and
	// has been corrected (its number changed, or it was disabled) on its
	// own page; the requester may now ask again.
	ResolveHolderCorrected = "holder_corrected"
)

// ResolveOutcomes are the outcomes ResolvePhoneConflict accepts.
var ResolveOutcomes = []string{ResolveKept, ResolveHolderCorrected}

// PhoneConflictCount counts the open conflicts PhoneConflicts would list.
func (s *Service) PhoneConflictCount(ctx context.Context, a Actor) (int, error) {
	root, err := s.scope(a)
	if err != nil {
		return 0, err
	}
	lo, hi, err := s.Orgs.PathRange(ctx, root)
	if err != nil {
		return 0, err
	}
	var n int
	if err := s.DB.QueryRowContext(ctx, `SELECT COUNT(*) FROM account_phone_conflicts WHERE resolve_path >= $1 AND resolve_path < $2 AND resolved_at IS NULL`,
		lo, hi).Scan(&n); err != nil {
		return 0, fmt.Errorf("count phone conflicts: %w", err)
	}
	return n, nil
}

// ResolvePhoneConflict closes a conflict once the admin has decided it
// (outcome, one of ResolveOutcomes), in one transaction with its audit
// record. Only the admins of the resolving unit or above see or close it.
func (s *Service) ResolvePhoneConflict(ctx context.Context, a Actor, id, outcome string) error {
	root, err := s.scope(a)
	if err != nil {
		return err
	}
	if !slices.Contains(ResolveOutcomes, outcome) {
		return invalid("请选择处理结果")
	}
	lo, hi, err := s.Orgs.PathRange(ctx, root)
	if err != nil {
		return err
	}
	return s.inTx(ctx, func(ctx context.Context) error {
		var holder, path, resolveOrg string
		err := s.DB.Q(ctx).QueryRowContext(ctx, `SELECT account_id, resolve_path, resolve_org_id FROM account_phone_conflicts
			WHERE id = $1 AND resolved_at IS NULL`+s.DB.ForUpdate(), id).Scan(&holder, &path, &resolveOrg)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && (path < lo || path >= hi)) {
			return &Error{Code: "not_found", Msg: "该核实事项不存在或不在您的管辖范围内"}
		}
		if err != nil {
			return fmt.Errorf("load phone conflict %q: %w", id, err)
		}
		if _, err := s.DB.Q(ctx).ExecContext(ctx, `UPDATE account_phone_conflicts SET resolved_at = $2 WHERE id = $1`, id, s.now().Unix()); err != nil {
			return fmt.Errorf("resolve phone conflict %q: %w", id, err)
		}
		return s.recordEvent(ctx, audit.Event{Type: "account.phone_conflict_resolved", Result: audit.Success, ActorID: a.ID(), SubjectID: holder,
			OrgID: resolveOrg, OrgPath: path, IP: a.IP, UserAgent: a.UserAgent, Detail: map[string]string{"conflict": id, "outcome": outcome}})
	})
}
