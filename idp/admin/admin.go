// Package admin is delegated administration: an admin of unit X manages the
// staff of X and every account of the units below it, and nothing beside
// or above. Admins of X itself are managed from above (a rogue admin with
// a second admin account in its unit cannot shield it), admins are
// appointed only below one's own unit, and a disable made by a superior is
// undone only at or above the disabler's unit.
// The rule is enforced here, below every user interface, so the console,
// the JSON API and any later tool share it.
package admin

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/xszz/xszz/idp/account"
	"github.com/xszz/xszz/idp/audit"
	"github.com/xszz/xszz/idp/grant"
	"github.com/xszz/xszz/idp/oauthstore"
	"github.com/xszz/xszz/idp/org"
	"github.com/xszz/xszz/idp/session"
	"github.com/xszz/xszz/internal/phone"
	"github.com/xszz/xszz/internal/sms"
	"github.com/xszz/xszz/internal/sqldb"
)

// Error is a refusal with a message for people (Simplified Chinese) and a
// machine code.
type Error struct {
	Code string // forbidden, not_found, invalid
	Msg  string
}

func (e *Error) Error() string { return e.Code + ": " + e.Msg }

// Is lets errors.Is match on the code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Sentinels for errors.Is.
var (
	ErrForbidden = &Error{Code: "forbidden"}
	ErrNotFound  = &Error{Code: "not_found"}
	ErrInvalid   = &Error{Code: "invalid"}
)

func forbidden(msg string) error { return &Error{Code: "forbidden", Msg: msg} }
func invalid(msg string) error   { return &Error{Code: "invalid", Msg: msg} }

var errNoAccount = &Error{Code: "not_found", Msg: "账号不存在或不在您的管辖范围内"}

// Actor is who asks. System actors (the command line) are not bound to a
// subtree.
type Actor struct {
	Account   *account.Account
	System    bool
	IP        string
	UserAgent string
}

// ID names the actor in the audit trail.
func (a Actor) ID() string {
	if a.System {
		return "cli"
	}
	return a.Account.ID
}

// Notifier tells relying parties that an account was signed out.
type Notifier interface {
	Notify(ctx context.Context, clientIDs []string, sub, sid string)
}

// Texter sends SMS notices to account holders (sms.Sender fits).
type Texter interface {
	Send(ctx context.Context, m sms.Message) error
}

// Auditor records admin actions. RecordTx appends inside the action's
// transaction, so an action whose audit record cannot be written does not
// happen (audit.Log fits).
type Auditor interface {
	RecordTx(ctx context.Context, tx *sql.Tx, e audit.Event) error
}

// Profiles is what decisions need of registration profiles
// (profile.Store fits).
type Profiles interface {
	// Release frees the ID number a rejected registration held.
	Release(ctx context.Context, accountID string) error
	// Conflicting reports a registration whose ID number another account
	// held: the queue shows it flagged.
	Conflicting(ctx context.Context, accountID string) (bool, error)
}

// SecondFactors is the authenticator store (totp.Service fits).
type SecondFactors interface {
	Enrolled(ctx context.Context, accountID string) (bool, error)
	// Verify checks a current code from the account's own app.
	Verify(ctx context.Context, accountID, code string) error
	// Remove deletes the authenticator and its recovery codes; it joins
	// the transaction in ctx.
	Remove(ctx context.Context, accountID string) error
}

// NoticeTOTPReset is the SMS purpose telling a person that an admin reset
// their authenticator (a template without variables, like the other
// notices).
const NoticeTOTPReset = "totp_reset"

// Service performs admin operations.
type Service struct {
	DB       *sqldb.DB
	Accounts *account.Store
	Orgs     *org.Store
	Grants   *grant.Store
	Sessions *session.Store
	OAuth    *oauthstore.Store
	Notifier Notifier // may be nil
	Audit    Auditor  // may be nil
	// SMS tells applicants that their registration was approved or
	// rejected; may be nil (no notices).
	SMS Texter
	// Profiles, when set, releases the ID number of a rejected
	// registration and flags duplicates in the queue.
	Profiles Profiles
	// TOTP, when set, lets admins reset another account's authenticator
	// (totp.Service fits).
	TOTP SecondFactors
	Log  *slog.Logger // nil: slog.Default()
	Now  func() time.Time
}

// scope returns the org id an actor manages, or refuses.
func (s *Service) scope(a Actor) (string, error) {
	if a.System {
		return org.RootID, nil
	}
	if a.Account == nil || !a.Account.Active() || a.Account.Role != account.RoleAdmin || a.Account.OrgID == "" {
		return "", forbidden("只有单位管理员可以进行此操作")
	}
	return a.Account.OrgID, nil
}

// Manages reports whether the actor manages org unit id.
func (s *Service) Manages(ctx context.Context, a Actor, id string) (bool, error) {
	root, err := s.scope(a)
	if err != nil {
		return false, err
	}
	ok, err := s.Orgs.Within(ctx, root, id)
	if errors.Is(err, sqldb.ErrNotFound) {
		return false, nil
	}
	return ok, err
}

// manageable refuses an account the actor may see but not change: an
// admin of its own unit, or (on a row that changed since it was loaded)
// one no longer in its subtree.
func (s *Service) manageable(ctx context.Context, a Actor, acc *account.Account) error {
	if a.System {
		return nil
	}
	if acc.OrgID == "" {
		return errNoAccount
	}
	ok, err := s.Manages(ctx, a, acc.OrgID)
	if err != nil {
		return err
	}
	if !ok {
		return errNoAccount
	}
	if err := s.notSelf(a, acc); err != nil {
		return err
	}
	if peer(a, acc) {
		return errPeer
	}
	return nil
}

// target loads an account the actor manages; anything else is "not found",
// so an admin cannot probe what lies outside the subtree.
func (s *Service) target(ctx context.Context, a Actor, id string) (*account.Account, error) {
	acc, err := s.Accounts.Get(ctx, id)
	if errors.Is(err, sqldb.ErrNotFound) {
		return nil, errNoAccount
	}
	if err != nil {
		return nil, err
	}
	if a.System {
		return acc, nil
	}
	if acc.OrgID == "" {
		return nil, errNoAccount
	}
	ok, err := s.Manages(ctx, a, acc.OrgID)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errNoAccount
	}
	return acc, nil
}

// peer reports whether acc holds the actor's own authority: an admin of the
// actor's unit, which only the units above may manage.
func peer(a Actor, acc *account.Account) bool {
	return !a.System && acc.Role == account.RoleAdmin && acc.OrgID == a.Account.OrgID
}

var errPeer = &Error{Code: "forbidden", Msg: "同一单位的管理员由上级单位管理，您不能对其进行此操作"}

// errPeerAppointment: an admin cannot create its own equal (nor promote
// anyone to it, nor move an admin into its unit).
var errPeerAppointment = &Error{Code: "forbidden", Msg: "只能在下级单位任命管理员；本单位的管理员由上级单位任命"}

// authority is the org path of the actor's unit, or DisabledBySystem.
func (s *Service) authority(ctx context.Context, a Actor) (string, error) {
	if a.System {
		return account.DisabledBySystem, nil
	}
	return s.Orgs.PathOf(ctx, a.Account.OrgID)
}

// mayUndo reports whether an actor standing at path may undo a disable
// recorded as by: only someone at or above the disabler's unit may.
func mayUndo(a Actor, path, by string) bool {
	switch {
	case a.System || by == "":
		return true
	case by == account.DisabledBySystem:
		return false
	default:
		return strings.HasPrefix(by, path)
	}
}

func (s *Service) notSelf(a Actor, acc *account.Account) error {
	if !a.System && a.Account.ID == acc.ID {
		return forbidden("不能对自己的账号进行此操作，请联系上级管理员")
	}
	return nil
}

// record writes the audit event of an action inside the action's
// transaction (ctx from inTx). A failure fails the action: it is logged
// here and returned, and the caller's transaction rolls back.
func (s *Service) record(ctx context.Context, a Actor, typ string, acc *account.Account, detail map[string]string) error {
	if s.Audit == nil {
		return nil
	}
	e := audit.Event{Type: typ, Result: "success", ActorID: a.ID(), SubjectID: acc.ID, OrgID: acc.OrgID, IP: a.IP, UserAgent: a.UserAgent, Detail: detail}
	if acc.OrgID != "" {
		if p, err := s.Orgs.PathOf(ctx, acc.OrgID); err == nil {
			e.OrgPath = p
		}
	}
	return s.recordEvent(ctx, e)
}

func (s *Service) recordEvent(ctx context.Context, e audit.Event) error {
	if s.Audit == nil {
		return nil
	}
	tx, ok := sqldb.TxFrom(ctx)
	if !ok {
		return fmt.Errorf("audit %s: no transaction", e.Type) // a programming error: every action runs in inTx
	}
	if err := s.Audit.RecordTx(ctx, tx, e); err != nil {
		s.log().ErrorContext(ctx, "admin: action refused, its audit record could not be written",
			slog.String("type", e.Type), slog.String("actor", e.ActorID), slog.String("subject", e.SubjectID), slog.Any("err", err))
		return fmt.Errorf("audit %s of %q: %w", e.Type, e.SubjectID, err)
	}
	return nil
}

func (s *Service) log() *slog.Logger {
	if s.Log == nil {
		return slog.Default()
	}
	return s.Log
}

// inTx runs fn in one transaction that every store called with fn's ctx
// joins: the change, the sign-out and the audit record commit together.
func (s *Service) inTx(ctx context.Context, fn func(ctx context.Context) error) error {
	return s.DB.InTx(ctx, func(tx *sql.Tx) error { return fn(sqldb.WithTx(ctx, tx)) })
}

// AccountView is an account as the console shows it.
type AccountView struct {
	*account.Account
	OrgName string   `json:"org_name,omitempty"`
	Grants  []string `json:"grants"`
	// IDNumberConflict flags a registration whose resident ID number
	// another account held when it was filed: an admin decides whose it is.
	IDNumberConflict bool `json:"id_number_conflict,omitempty"`
	// OrgLevel is the unit's level, for what may be offered (the cockpit).
	OrgLevel string `json:"org_level,omitempty"`
	// TOTPEnrolled says whether the account has an authenticator (Get
	// only, when second factors are on).
	TOTPEnrolled bool `json:"totp_enrolled,omitempty"`
}

func (s *Service) flag(ctx context.Context, v *AccountView) error {
	if s.Profiles == nil || v.Status != account.StatusPending {
		return nil
	}
	var err error
	v.IDNumberConflict, err = s.Profiles.Conflicting(ctx, v.ID)
	return err
}

// Query selects accounts in a subtree.
type Query struct {
	Under  string // org id; default the actor's own unit
	Text   string // part of the name, a phone number, or an org id
	Status string
	After  string // account id to page after
	Limit  int
}

// Search lists accounts in a subtree the actor manages in a stable order,
// unit path then name (then id), paged after an account id: the page
// continues after that account's place in the order. The subtree is a
// range on the org path index; accounts join by org_id.
func (s *Service) Search(ctx context.Context, a Actor, q Query) ([]AccountView, error) {
	root, err := s.scope(a)
	if err != nil {
		return nil, err
	}
	under := q.Under
	if under == "" {
		under = root
	}
	ok, err := s.Orgs.Within(ctx, root, under)
	if err != nil && !errors.Is(err, sqldb.ErrNotFound) {
		return nil, err
	}
	if !ok {
		return nil, forbidden("该单位不在您的管辖范围内")
	}
	lo, hi, err := s.Orgs.PathRange(ctx, under)
	if err != nil {
		return nil, err
	}
	if q.Limit <= 0 || q.Limit > 200 {
		q.Limit = 50
	}
	sqlText := `SELECT ` + account.Columns("a") + `, o.name
		FROM accounts a JOIN orgs o ON o.id = a.org_id
		WHERE o.path >= $1 AND o.path < $2`
	args := []any{lo, hi}
	if q.After != "" {
		// Row values compare in both SQLite and PostgreSQL with the same
		// collation as ORDER BY; an unknown id yields an empty page.
		args = append(args, q.After)
		sqlText += fmt.Sprintf(` AND (o.path, a.name, a.id) > (SELECT o2.path, a2.name, a2.id
			FROM accounts a2 JOIN orgs o2 ON o2.id = a2.org_id WHERE a2.id = $%d)`, len(args))
	}
	if q.Status != "" {
		args = append(args, q.Status)
		sqlText += fmt.Sprintf(" AND a.status = $%d", len(args))
	}
	if t := strings.TrimSpace(q.Text); t != "" {
		if e164, err := phone.Normalize(t); err == nil {
			// By the blind index; the plaintext only matches rows not yet
			// sealed (account.Store.SealPlaintextPhones).
			args = append(args, s.Accounts.PhoneIndex(e164), e164)
			sqlText += fmt.Sprintf(" AND (a.phone_index = $%d OR a.phone = $%d)", len(args)-1, len(args))
		} else {
			args = append(args, "%"+likeEscape(t)+"%", t)
			sqlText += fmt.Sprintf(` AND (a.name LIKE $%d ESCAPE '\' OR a.org_id = $%d)`, len(args)-1, len(args))
		}
	}
	args = append(args, q.Limit)
	sqlText += fmt.Sprintf(" ORDER BY o.path, a.name, a.id LIMIT $%d", len(args))
	rows, err := s.DB.QueryContext(ctx, sqlText, args...)
	if err != nil {
		return nil, fmt.Errorf("search accounts: %w", err)
	}
	defer rows.Close()
	var out []AccountView
	for rows.Next() {
		var v AccountView
		acc, err := s.Accounts.Scan(rows, &v.OrgName)
		if err != nil {
			return nil, fmt.Errorf("search accounts: %w", err)
		}
		v.Account = acc
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("search accounts: %w", err)
	}
	for i := range out {
		g, err := s.Grants.Grants(ctx, out[i].ID)
		if err != nil {
			return nil, err
		}
		out[i].Grants = g
		if err := s.flag(ctx, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// Get returns one managed account.
func (s *Service) Get(ctx context.Context, a Actor, id string) (*AccountView, error) {
	acc, err := s.target(ctx, a, id)
	if err != nil {
		return nil, err
	}
	v := &AccountView{Account: acc}
	if acc.OrgID != "" {
		if o, err := s.Orgs.Get(ctx, acc.OrgID); err == nil {
			v.OrgName, v.OrgLevel = o.Name, o.Level
		}
	}
	if s.TOTP != nil {
		if v.TOTPEnrolled, err = s.TOTP.Enrolled(ctx, acc.ID); err != nil {
			return nil, err
		}
	}
	if v.Grants, err = s.Grants.Grants(ctx, acc.ID); err != nil {
		return nil, err
	}
	if err := s.flag(ctx, v); err != nil {
		return nil, err
	}
	return v, nil
}

// Provision creates an account in a managed unit. It is active at once and
// its first SMS sign-in marks it activated.
func (s *Service) Provision(ctx context.Context, a Actor, rawPhone, name, orgID, role string) (*account.Account, error) {
	e164, err := phone.Normalize(rawPhone)
	if err != nil {
		return nil, invalid(phone.UserMessage)
	}
	if err := account.ValidateName(name); err != nil {
		return nil, invalid(err.Error())
	}
	if role != account.RoleStaff && role != account.RoleAdmin {
		return nil, invalid("角色只能是 staff 或 admin")
	}
	var (
		acc    *account.Account
		queued bool
	)
	err = s.inTx(ctx, func(ctx context.Context) error {
		ok, err := s.Manages(ctx, a, orgID)
		if err != nil {
			return err
		}
		if !ok {
			return forbidden("该单位不在您的管辖范围内")
		}
		if role == account.RoleAdmin && !a.System && orgID == a.Account.OrgID {
			return errPeerAppointment
		}
		// A number another account holds is neither refused with a hint
		// of where it is used nor taken: the admins above both units
		// decide. It is looked up first, because on PostgreSQL a failed
		// insert would abort the transaction the conflict is filed in.
		holder, err := s.Accounts.ByPhone(ctx, e164)
		if err == nil {
			queued = true
			return s.fileConflict(ctx, a, holder, ConflictProvision, name, orgID, role)
		}
		if !errors.Is(err, sqldb.ErrNotFound) {
			return err
		}
		acc, err = s.Accounts.Create(ctx, account.Account{Phone: e164, Name: name, OrgID: orgID, Role: role, Status: account.StatusActive})
		if errors.Is(err, account.ErrPhoneTaken) {
			return ErrPhoneInUse // lost a race; nothing to file in an aborted transaction
		}
		if err != nil {
			return err
		}
		return s.record(ctx, a, "account.created", acc, map[string]string{"role": role})
	})
	if err != nil {
		return nil, err
	}
	if queued {
		return nil, ErrPhoneInUse
	}
	return acc, nil
}

// Approve activates a pending registration and tells the applicant by SMS.
func (s *Service) Approve(ctx context.Context, a Actor, id string) (*account.Account, error) {
	return s.decide(ctx, a, id, "account.approved", account.StatusActive, sms.NoticeApproved)
}

// Reject refuses a pending registration and tells the applicant by SMS;
// the account stays, disabled, so the decision is on record.
func (s *Service) Reject(ctx context.Context, a Actor, id string) (*account.Account, error) {
	return s.decide(ctx, a, id, "account.rejected", account.StatusDisabled, sms.NoticeRejected)
}

func (s *Service) decide(ctx context.Context, a Actor, id, event, status, notice string) (*account.Account, error) {
	by, err := s.authority(ctx, a)
	if err != nil {
		return nil, err
	}
	acc, err := s.updateThen(ctx, a, id, event, nil, func(acc *account.Account) error {
		if acc.Status != account.StatusPending {
			return invalid("该账号不在待审核状态")
		}
		acc.Status = status
		if status == account.StatusDisabled {
			acc.DisabledBy = by
		}
		return nil
	}, false, func(ctx context.Context, acc *account.Account) error {
		// A rejected registration gives its ID number back, so whoever
		// registered with someone else's number cannot block its owner.
		if status != account.StatusDisabled || s.Profiles == nil {
			return nil
		}
		return s.Profiles.Release(ctx, acc.ID)
	})
	if err != nil {
		return nil, err
	}
	s.notify(ctx, acc.Phone, notice)
	return acc, nil
}

// notify sends a notice without variables: the template says everything,
// so no name or unit travels through the gateway. The decision stands
// whether or not the SMS goes out; a failure is logged, never shown as the
// decision's failure.
func (s *Service) notify(ctx context.Context, e164, notice string) {
	if s.SMS == nil || e164 == "" {
		return
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	if err := s.SMS.Send(ctx, sms.Message{Phone: e164, Purpose: notice, SentAt: now()}); err != nil {
		s.log().WarnContext(ctx, "admin: SMS notice not sent", slog.String("notice", notice), slog.String("phone", phone.Mask(e164)), slog.Any("err", err))
	}
}

// Disable stops an account: it cannot sign in, and every session, refresh
// token and introspection of its access tokens ends now.
func (s *Service) Disable(ctx context.Context, a Actor, id string) (*account.Account, error) {
	by, err := s.authority(ctx, a)
	if err != nil {
		return nil, err
	}
	return s.update(ctx, a, id, "account.disabled", nil, func(acc *account.Account) error {
		// A disable already made further up stays theirs: a lower admin
		// disabling again must not lower who may lift it.
		if acc.Status == account.StatusDisabled && !mayUndo(a, by, acc.DisabledBy) {
			return nil
		}
		acc.Status = account.StatusDisabled
		acc.DisabledBy = by
		return nil
	}, true)
}

// Enable re-activates a disabled account, if the actor stands at or above
// the unit that disabled it.
func (s *Service) Enable(ctx context.Context, a Actor, id string) (*account.Account, error) {
	path, err := s.authority(ctx, a)
	if err != nil {
		return nil, err
	}
	return s.update(ctx, a, id, "account.enabled", nil, func(acc *account.Account) error {
		if acc.Status == account.StatusActive {
			return nil
		}
		if !mayUndo(a, path, acc.DisabledBy) {
			return forbidden("该账号由上级单位停用，只能由上级单位重新启用")
		}
		acc.Status = account.StatusActive
		acc.DisabledBy = ""
		return nil
	}, false)
}

// SetRole changes an account's role; tokens carrying the old role end.
func (s *Service) SetRole(ctx context.Context, a Actor, id, role string) (*account.Account, error) {
	if role != account.RoleStaff && role != account.RoleAdmin {
		return nil, invalid("角色只能是 staff 或 admin")
	}
	return s.update(ctx, a, id, "account.role_changed", map[string]string{"role": role}, func(acc *account.Account) error {
		if role == account.RoleAdmin && !a.System && acc.OrgID == a.Account.OrgID {
			return errPeerAppointment
		}
		acc.Role = role
		return nil
	}, true)
}

// Move puts an account into another managed unit; tokens carrying the old
// unit end, and a cockpit grant the new level cannot hold is dropped.
func (s *Service) Move(ctx context.Context, a Actor, id, orgID string) (*account.Account, error) {
	ok, err := s.Manages(ctx, a, orgID)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, forbidden("目标单位不在您的管辖范围内")
	}
	o, err := s.Orgs.Get(ctx, orgID)
	if err != nil {
		return nil, err
	}
	return s.updateThen(ctx, a, id, "account.moved", map[string]string{"org_id": orgID}, func(acc *account.Account) error {
		if acc.Role == account.RoleAdmin && !a.System && orgID == a.Account.OrgID {
			return errPeerAppointment
		}
		acc.OrgID = orgID
		return nil
	}, true, func(ctx context.Context, acc *account.Account) error {
		if cockpitLevel(o.Level) {
			return nil
		}
		_, err := s.Grants.Revoke(ctx, s.DB.Q(ctx), acc.ID, grant.Cockpit)
		return err
	})
}

func (s *Service) update(ctx context.Context, a Actor, id, event string, detail map[string]string, fn func(*account.Account) error, signOut bool) (*account.Account, error) {
	return s.updateThen(ctx, a, id, event, detail, fn, signOut, nil)
}

// updateThen changes an account, signs it out if asked, runs then, and
// records the event, all in one transaction; relying parties hear of the
// sign-out once it is committed.
func (s *Service) updateThen(ctx context.Context, a Actor, id, event string, detail map[string]string, fn func(*account.Account) error, signOut bool, then func(context.Context, *account.Account) error) (*account.Account, error) {
	var (
		acc     *account.Account
		clients []string
	)
	err := s.inTx(ctx, func(ctx context.Context) error {
		var err error
		if acc, err = s.target(ctx, a, id); err != nil {
			return err
		}
		if err := s.notSelf(a, acc); err != nil {
			return err
		}
		// The rules are checked again on the locked row: a concurrent
		// move or promotion cannot slip the account out from under them.
		if acc, err = s.Accounts.Update(ctx, acc.ID, func(x *account.Account) error {
			if err := s.manageable(ctx, a, x); err != nil {
				return err
			}
			return fn(x)
		}); err != nil {
			return err
		}
		if signOut {
			if clients, err = s.signOut(ctx, acc.ID); err != nil {
				return err
			}
		}
		if then != nil {
			if err := then(ctx, acc); err != nil {
				return err
			}
		}
		return s.record(ctx, a, event, acc, detail)
	})
	if err != nil {
		return nil, err
	}
	s.tell(ctx, clients, acc.ID)
	return acc, nil
}

// CockpitRefusal says why an account below county level cannot hold the
// cockpit grant.
const CockpitRefusal = "数字驾驶舱仅向部、省、市、县级单位的账号开放，学校和院系账号不能授权"

// cockpitLevel: the cockpit serves ministry, province, city and county.
func cockpitLevel(level string) bool {
	return slices.Contains([]string{org.LevelMinistry, org.LevelProvince, org.LevelCity, org.LevelCounty}, level)
}

// CockpitLevel reports whether accounts of units at level may hold the
// cockpit grant (ministry, province, city, county), so a page offers the
// grant only where it can succeed.
func CockpitLevel(level string) bool { return cockpitLevel(level) }

// Grant gives an account access to an application. A refusal for the
// account itself (its unit's level, its status) is recorded too, so the
// audit trail shows who tried to grant what.
func (s *Service) Grant(ctx context.Context, a Actor, id, app string) error {
	if !slices.Contains(grant.Apps, app) {
		return invalid("未知的应用授权：" + app)
	}
	err := s.inTx(ctx, func(ctx context.Context) error { return s.grant(ctx, a, id, app) })
	var refusal *grantRefusal
	if !errors.As(err, &refusal) {
		return err
	}
	if rerr := s.inTx(ctx, func(ctx context.Context) error {
		e := audit.Event{Type: "grant.refused", Result: audit.Failure, Reason: refusal.reason, ActorID: a.ID(), SubjectID: refusal.acc.ID,
			OrgID: refusal.acc.OrgID, IP: a.IP, UserAgent: a.UserAgent, Detail: map[string]string{"app": app}}
		if refusal.level != "" {
			e.Detail["level"] = refusal.level
		}
		if refusal.acc.OrgID != "" {
			if p, perr := s.Orgs.PathOf(ctx, refusal.acc.OrgID); perr == nil {
				e.OrgPath = p
			}
		}
		return s.recordEvent(ctx, e)
	}); rerr != nil {
		return fmt.Errorf("record refused grant: %w", rerr)
	}
	return refusal.err
}

// grantRefusal is a grant refused for what the account is; Grant records
// it before returning err.
type grantRefusal struct {
	acc           *account.Account
	reason, level string
	err           error
}

func (r *grantRefusal) Error() string { return r.err.Error() }
func (r *grantRefusal) Unwrap() error { return r.err }

func (s *Service) grant(ctx context.Context, a Actor, id, app string) error {
	acc, err := s.target(ctx, a, id)
	if err != nil {
		return err
	}
	if err := s.manageable(ctx, a, acc); err != nil {
		return err
	}
	if !acc.Active() {
		return &grantRefusal{acc: acc, reason: "inactive", err: invalid("账号未启用，不能授权")}
	}
	if acc.OrgID == "" {
		return &grantRefusal{acc: acc, reason: "no_org", err: invalid("账号未归属单位，不能授权数字驾驶舱")}
	}
	o, err := s.Orgs.Get(ctx, acc.OrgID)
	if err != nil {
		return err
	}
	if !cockpitLevel(o.Level) {
		return &grantRefusal{acc: acc, reason: "level", level: o.Level, err: invalid(CockpitRefusal)}
	}
	if err := s.Grants.Add(ctx, s.DB.Q(ctx), acc.ID, app, a.ID()); err != nil {
		return err
	}
	return s.record(ctx, a, "grant.added", acc, map[string]string{"app": app})
}

// Revoke takes an application grant away, and with it every token of the
// account: relying parties are told by back-channel logout, introspection
// answers inactive at once, and new tokens no longer carry the grant.
func (s *Service) Revoke(ctx context.Context, a Actor, id, app string) error {
	var (
		clients []string
		subject string
	)
	err := s.inTx(ctx, func(ctx context.Context) error {
		acc, err := s.target(ctx, a, id)
		if err != nil {
			return err
		}
		if err := s.manageable(ctx, a, acc); err != nil {
			return err
		}
		had, err := s.Grants.Revoke(ctx, s.DB.Q(ctx), acc.ID, app)
		if err != nil || !had {
			return err
		}
		if clients, err = s.signOut(ctx, acc.ID); err != nil {
			return err
		}
		subject = acc.ID
		return s.record(ctx, a, "grant.revoked", acc, map[string]string{"app": app})
	})
	if err != nil {
		return err
	}
	s.tell(ctx, clients, subject)
	return nil
}

// SignOutEverywhere ends every session and grant of an account and tells
// the relying parties that hold its tokens.
func (s *Service) SignOutEverywhere(ctx context.Context, accountID string) error {
	var clients []string
	err := s.DB.InTx(ctx, func(tx *sql.Tx) error {
		var err error
		clients, err = s.signOut(sqldb.WithTx(ctx, tx), accountID)
		return err
	})
	if err != nil {
		return err
	}
	s.tell(ctx, clients, accountID)
	return nil
}

// signOut ends sessions and grants in ctx's transaction and returns the
// relying parties to tell once it commits.
func (s *Service) signOut(ctx context.Context, accountID string) ([]string, error) {
	clients, err := s.OAuth.ClientsOfSubject(ctx, accountID)
	if err != nil {
		return nil, err
	}
	if _, err := s.Sessions.DeleteByAccount(ctx, accountID); err != nil {
		return nil, err
	}
	if err := s.OAuth.RevokeSubject(ctx, accountID); err != nil {
		return nil, err
	}
	return clients, nil
}

// tell sends back-channel logouts; it runs after the commit, so a relying
// party never hears of a sign-out that was rolled back.
func (s *Service) tell(ctx context.Context, clients []string, accountID string) {
	if s.Notifier == nil || len(clients) == 0 {
		return
	}
	if later, ok := ctx.Value(tellKey{}).(*[]func()); ok {
		*later = append(*later, func() { s.Notifier.Notify(ctx, clients, accountID, "") })
		return
	}
	s.Notifier.Notify(ctx, clients, accountID, "")
}

// ResetTOTP removes the authenticator of an account the admin manages, for
// a person whose phone is lost: they bind a new one at their next sign-in
// (if their role requires one) after the SMS code. The admin proves
// presence with a fresh code from its own authenticator (adminCode), so a
// session left open on a desk cannot strip someone's second factor. The
// removal and its audit record commit together, the account's sessions
// end, and the person is told by SMS.
func (s *Service) ResetTOTP(ctx context.Context, a Actor, id, adminCode string) error {
	if s.TOTP == nil {
		return invalid("本系统未启用动态口令")
	}
	acc, err := s.target(ctx, a, id)
	if err != nil {
		return err
	}
	if err := s.manageable(ctx, a, acc); err != nil {
		return err
	}
	enrolled, err := s.TOTP.Enrolled(ctx, acc.ID)
	if err != nil {
		return fmt.Errorf("reset totp of %q: %w", acc.ID, err)
	}
	if !enrolled {
		return invalid("该账号尚未绑定身份验证器，无需重置")
	}
	if !a.System {
		if err := s.TOTP.Verify(ctx, a.Account.ID, strings.TrimSpace(adminCode)); err != nil {
			s.log().InfoContext(ctx, "admin: totp reset refused, the admin's own code failed", slog.String("admin", a.Account.ID), slog.String("subject", acc.ID), slog.Any("err", err))
			return invalid("您的动态口令错误或已使用，请输入您验证器中新的 6 位动态口令")
		}
	}
	var clients []string
	err = s.inTx(ctx, func(ctx context.Context) error {
		if err := s.TOTP.Remove(ctx, acc.ID); err != nil {
			return fmt.Errorf("reset totp of %q: %w", acc.ID, err)
		}
		var err error
		if clients, err = s.signOut(ctx, acc.ID); err != nil {
			return err
		}
		notified := "none"
		if s.SMS != nil {
			notified = "given"
		}
		return s.record(ctx, a, "totp.reset_by_admin", acc, map[string]string{"notified": notified})
	})
	if err != nil {
		return err
	}
	s.tell(ctx, clients, acc.ID)
	s.notify(ctx, acc.Phone, NoticeTOTPReset)
	return nil
}
