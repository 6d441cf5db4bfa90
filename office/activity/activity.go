// Package activity is 活动: meetings, trainings and exams a unit holds for
// units below it, with registration, sign-in by a rotating code and a
// coverage report rolled up the tree — which units have nobody registered
// or signed in, who registered and stayed away, and, against the roster
// from the directory, who never registered ("不漏一地、不漏一校、不漏一人").
//
// Counters per (activity, unit subtree) — expected, registered, signed
// in — are written when the activity is created (expected, from the
// roster then), moved as people register and sign in, and, until the
// activity ends, moved by the directory sync as people join, leave and
// move (roster.go).
package activity

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/microcosm-cc/bluemonday"

	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/internal/web"
	"github.com/xszz/xszz/office/directory"
)

// Activity is an event.
type Activity struct {
	ID           int64            `json:"id"`
	OrgID        string           `json:"org_id"`
	OrgPath      string           `json:"-"`
	OrgName      string           `json:"org_name"`
	AuthorID     string           `json:"-"`
	Title        string           `json:"title"`
	Kind         string           `json:"kind"`
	Place        string           `json:"place,omitempty"`
	Link         string           `json:"link,omitempty"`
	Description  string           `json:"description,omitempty"`
	StartsAt     time.Time        `json:"starts_at"`
	EndsAt       time.Time        `json:"ends_at"`
	RegOpens     time.Time        `json:"registration_opens"`
	RegCloses    time.Time        `json:"registration_closes"`
	SigninOpens  time.Time        `json:"signin_opens"`
	SigninCloses time.Time        `json:"signin_closes"`
	Target       directory.Target `json:"target"`
	CreatedAt    time.Time        `json:"created_at"`
	// FollowsRoster is false for activities created before the counters
	// followed the roster: their expected is the roster at creation.
	FollowsRoster bool `json:"-"`
	secret        []byte
}

// Kinds of activity.
var Kinds = map[string]string{"meeting": "会议", "training": "培训", "exam": "考试", "event": "活动"}

// Directory is the part of the synced directory activities need.
type Directory interface {
	Unit(ctx context.Context, id string) (directory.Unit, error)
	Units(ctx context.Context, ids []string) ([]directory.Unit, error)
	CheckTarget(ctx context.Context, v directory.Viewer, t *directory.Target) error
}

// Service holds activities.
type Service struct {
	DB  *sqldb.DB
	Dir Directory
	Now func() time.Time
}

func bad(msg string) error       { return web.Errorf(http.StatusBadRequest, "invalid_request", msg) }
func forbidden(msg string) error { return web.Errorf(http.StatusForbidden, "forbidden", msg) }
func notFound() error {
	return web.Errorf(http.StatusNotFound, "not_found", "活动不存在或无权查看")
}
func conflict(msg string) error { return web.Errorf(http.StatusConflict, "conflict", msg) }

func plain(s string) string { return strings.TrimSpace(bluemonday.StrictPolicy().Sanitize(s)) }

func (s *Service) check(ctx context.Context, v directory.Viewer, a *Activity) error {
	a.Title, a.Place, a.Description = plain(a.Title), plain(a.Place), plain(a.Description)
	if n := utf8.RuneCountInString(a.Title); n < 2 || n > 100 {
		return bad("活动名称应为 2–100 个字符")
	}
	if utf8.RuneCountInString(a.Place) > 200 || utf8.RuneCountInString(a.Description) > 5000 {
		return bad("地点或说明过长")
	}
	if a.Kind == "" {
		a.Kind = "meeting"
	}
	if _, ok := Kinds[a.Kind]; !ok {
		return bad("活动类型应为 meeting、training、exam 或 event")
	}
	if a.Link != "" {
		u, err := url.Parse(a.Link)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || len(a.Link) > 500 {
			return bad("线上链接须为 http(s) 网址")
		}
	}
	if a.Place == "" && a.Link == "" {
		return bad("请填写地点或线上链接")
	}
	switch {
	case a.StartsAt.IsZero() || !a.EndsAt.After(a.StartsAt):
		return bad("结束时间须晚于开始时间")
	case a.RegOpens.IsZero() || !a.RegCloses.After(a.RegOpens):
		return bad("报名截止须晚于报名开始")
	case a.SigninOpens.IsZero() || !a.SigninCloses.After(a.SigninOpens):
		return bad("签到截止须晚于签到开始")
	}
	return s.Dir.CheckTarget(ctx, v, &a.Target)
}

// Create adds an activity held by the viewer's unit. Only admins create.
func (s *Service) Create(ctx context.Context, v directory.Viewer, a Activity) (*Activity, error) {
	if !v.Admin() {
		return nil, forbidden("只有单位管理员可以创建活动")
	}
	if err := s.check(ctx, v, &a); err != nil {
		return nil, err
	}
	var secret [32]byte
	if _, err := rand.Read(secret[:]); err != nil {
		return nil, fmt.Errorf("activity secret: %w", err)
	}
	a.secret = secret[:]
	a.OrgID, a.OrgPath, a.OrgName, a.AuthorID = v.OrgID, v.Path, v.OrgName, v.Sub
	a.CreatedAt = s.Now().UTC().Truncate(time.Second)
	a.FollowsRoster = true
	err := s.DB.InTx(ctx, func(tx *sql.Tx) error {
		// The roster read below and the sync's batches do not interleave.
		if err := directory.LockRoster(ctx, s.DB, tx, false); err != nil {
			return err
		}
		err := tx.QueryRowContext(ctx, `INSERT INTO office_activities (org_id, org_path, org_name, author_id, title, kind, place, link, description,
  starts_at, ends_at, reg_opens, reg_closes, signin_opens, signin_closes, target_kind, target, secret, created_at, follows_roster)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, 1) RETURNING id`,
			a.OrgID, a.OrgPath, a.OrgName, a.AuthorID, a.Title, a.Kind, a.Place, a.Link, a.Description,
			a.StartsAt.Unix(), a.EndsAt.Unix(), a.RegOpens.Unix(), a.RegCloses.Unix(), a.SigninOpens.Unix(), a.SigninCloses.Unix(),
			a.Target.Kind, a.Target.Encode(), hex.EncodeToString(a.secret), a.CreatedAt.Unix()).Scan(&a.ID)
		if err != nil {
			return fmt.Errorf("insert activity: %w", err)
		}
		cond, args := a.Target.SQL(a.OrgPath, 1)
		rows, err := tx.QueryContext(ctx, `SELECT p.org_path, COUNT(*) FROM office_people p LEFT JOIN office_units u ON u.id = p.org_id
WHERE p.active = 1 AND `+cond+` GROUP BY p.org_path`, args...)
		if err != nil {
			return fmt.Errorf("activity roster: %w", err)
		}
		t := tally{}
		for rows.Next() {
			var (
				p string
				n int
			)
			if err := rows.Scan(&p, &n); err != nil {
				rows.Close()
				return fmt.Errorf("activity roster: %w", err)
			}
			t.add(&a, p, colExpected, n)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("activity roster: %w", err)
		}
		if err := t.apply(ctx, tx); err != nil {
			return err
		}
		// The holding unit has its row even with nobody expected.
		ids := directory.PathIDs(a.OrgPath)
		parent := ""
		if len(ids) > 1 {
			parent = ids[len(ids)-2]
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO office_activity_counts (activity_id, org_id, parent_id, path) VALUES ($1, $2, $3, $4)
ON CONFLICT (activity_id, org_id) DO NOTHING`, a.ID, a.OrgID, parent, a.OrgPath); err != nil {
			return fmt.Errorf("activity counters: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &a, nil
}

const columns = `id, org_id, org_path, org_name, author_id, title, kind, place, link, description, starts_at, ends_at, reg_opens, reg_closes, signin_opens, signin_closes, target_kind, target, secret, created_at, follows_roster`

func scan(r interface{ Scan(...any) error }) (*Activity, error) {
	var (
		a                               Activity
		st, en, ro, rc, so, sc, created int64
		kind, target, secret            string
		follows                         int
	)
	if err := r.Scan(&a.ID, &a.OrgID, &a.OrgPath, &a.OrgName, &a.AuthorID, &a.Title, &a.Kind, &a.Place, &a.Link, &a.Description,
		&st, &en, &ro, &rc, &so, &sc, &kind, &target, &secret, &created, &follows); err != nil {
		return nil, err
	}
	a.FollowsRoster = follows == 1
	u := func(v int64) time.Time { return time.Unix(v, 0).UTC() }
	a.StartsAt, a.EndsAt, a.RegOpens, a.RegCloses, a.SigninOpens, a.SigninCloses, a.CreatedAt = u(st), u(en), u(ro), u(rc), u(so), u(sc), u(created)
	a.Target = directory.DecodeTarget(kind, target)
	b, err := hex.DecodeString(secret)
	if err != nil {
		return nil, fmt.Errorf("activity secret: %w", err)
	}
	a.secret = b
	return &a, nil
}

func (s *Service) load(ctx context.Context, id int64) (*Activity, error) {
	a, err := scan(s.DB.QueryRowContext(ctx, `SELECT `+columns+` FROM office_activities WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound()
	}
	if err != nil {
		return nil, fmt.Errorf("load activity %d: %w", id, err)
	}
	return a, nil
}

// Organiser reports whether the viewer belongs to the holding unit.
func (a *Activity) Organiser(v directory.Viewer) bool { return v.OrgID == a.OrgID }

// Invited reports whether the activity is for the viewer: below the
// holding unit and within its target.
func (a *Activity) Invited(v directory.Viewer) bool {
	if !strings.HasPrefix(v.Path, a.OrgPath) || v.Path == a.OrgPath {
		return false
	}
	switch a.Target.Kind {
	case directory.TargetUnits:
		return slices.Contains(a.Target.Units, v.OrgID)
	case directory.TargetLevels:
		return slices.Contains(a.Target.Levels, v.Level)
	}
	return true
}

// Get returns an activity the viewer organises or is invited to.
func (s *Service) Get(ctx context.Context, v directory.Viewer, id int64) (*Activity, error) {
	a, err := s.load(ctx, id)
	if err != nil {
		return nil, err
	}
	if !a.Organiser(v) && !a.Invited(v) {
		return nil, notFound()
	}
	return a, nil
}

// CurrentCode is the code the organiser shows now, and when it rotates.
func (s *Service) CurrentCode(ctx context.Context, v directory.Viewer, id int64) (string, time.Time, error) {
	a, err := s.Get(ctx, v, id)
	if err != nil {
		return "", time.Time{}, err
	}
	if !a.Organiser(v) {
		return "", time.Time{}, forbidden("只有主办单位可以查看签到码")
	}
	now := s.Now()
	step := Step(now)
	return Code(a.secret, step), time.Unix((step+1)*int64(CodeStep/time.Second), 0).UTC(), nil
}

// Registration is a person's status for an activity.
type Registration struct {
	RegisteredAt *time.Time `json:"registered_at,omitempty"`
	CheckedInAt  *time.Time `json:"checked_in_at,omitempty"`
}

// Status returns the viewer's registration (empty when none).
func (s *Service) Status(ctx context.Context, v directory.Viewer, id int64) (Registration, error) {
	var (
		r         Registration
		reg       int64
		checkedIn sql.NullInt64
	)
	err := s.DB.QueryRowContext(ctx, `SELECT registered_at, checked_in_at FROM office_registrations WHERE activity_id = $1 AND person_id = $2`, id, v.Sub).Scan(&reg, &checkedIn)
	if errors.Is(err, sql.ErrNoRows) {
		return r, nil
	}
	if err != nil {
		return r, fmt.Errorf("load registration: %w", err)
	}
	t := time.Unix(reg, 0).UTC()
	r.RegisteredAt = &t
	if checkedIn.Valid {
		c := time.Unix(checkedIn.Int64, 0).UTC()
		r.CheckedInAt = &c
	}
	return r, nil
}

// Register signs the viewer up within the registration window.
func (s *Service) Register(ctx context.Context, v directory.Viewer, id int64) (Registration, error) {
	a, err := s.Get(ctx, v, id)
	if err != nil {
		return Registration{}, err
	}
	if !a.Invited(v) {
		return Registration{}, forbidden("主办单位人员无需报名")
	}
	now := s.Now()
	if now.Before(a.RegOpens) || !now.Before(a.RegCloses) {
		return Registration{}, conflict("不在报名时间内")
	}
	err = s.DB.InTx(ctx, func(tx *sql.Tx) error {
		if err := directory.LockRoster(ctx, s.DB, tx, false); err != nil {
			return err
		}
		_, err := s.register(ctx, tx, a, v, now)
		return err
	})
	if err != nil {
		return Registration{}, err
	}
	return s.Status(ctx, v, id)
}

// register records the viewer's registration once. The viewer is on the
// roster when the directory places them in the audience; they are counted
// there, at the directory's unit. Otherwise (the sync has not brought
// them yet, or the directory has them elsewhere) they are counted off the
// roster at the unit of their token, until a sync puts them on it.
// Activities from before the roster was followed count everyone as
// registered, as they did. The caller holds the roster lock.
func (s *Service) register(ctx context.Context, tx *sql.Tx, a *Activity, v directory.Viewer, now time.Time) (bool, error) {
	on, org, path := true, v.OrgID, v.Path
	if a.FollowsRoster {
		p, known, err := directory.PlaceOf(ctx, tx, v.Sub)
		if err != nil {
			return false, err
		}
		on = known && a.reaches(p)
		if on {
			org, path = p.OrgID, p.Path
		}
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO office_registrations (activity_id, person_id, org_id, org_path, registered_at, on_roster) VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (activity_id, person_id) DO NOTHING`, a.ID, v.Sub, org, path, now.Unix(), boolInt(on))
	if err != nil {
		return false, fmt.Errorf("register: %w", err)
	}
	n, _ := res.RowsAffected()
	if n == 0 {
		return false, nil
	}
	t := tally{}
	t.countRegistration(a, path, on, false, 1)
	return true, t.apply(ctx, tx)
}

// CheckIn signs the viewer in with the code on the organiser's screen,
// within the sign-in window; someone who did not register is registered
// on the way.
func (s *Service) CheckIn(ctx context.Context, v directory.Viewer, id int64, code string) (Registration, error) {
	a, err := s.Get(ctx, v, id)
	if err != nil {
		return Registration{}, err
	}
	if !a.Invited(v) {
		return Registration{}, forbidden("主办单位人员无需签到")
	}
	now := s.Now()
	if now.Before(a.SigninOpens) || !now.Before(a.SigninCloses) {
		return Registration{}, conflict("不在签到时间内")
	}
	if err := s.checkFailures(ctx, a.ID, v.Sub, now); err != nil {
		return Registration{}, err
	}
	if !CheckCode(a.secret, strings.TrimSpace(code), now) {
		if err := s.recordFailure(ctx, a.ID, v.Sub, now); err != nil {
			return Registration{}, err
		}
		return Registration{}, bad("签到码不正确或已过期")
	}
	err = s.DB.InTx(ctx, func(tx *sql.Tx) error {
		if err := directory.LockRoster(ctx, s.DB, tx, false); err != nil {
			return err
		}
		if _, err := s.register(ctx, tx, a, v, now); err != nil {
			return err
		}
		// Counted where the registration is counted, once: a second
		// sign-in finds checked_in_at set and changes nothing.
		var (
			on   int
			path string
		)
		err := tx.QueryRowContext(ctx, `UPDATE office_registrations SET checked_in_at = $1 WHERE activity_id = $2 AND person_id = $3 AND checked_in_at IS NULL
RETURNING on_roster, org_path`, now.Unix(), a.ID, v.Sub).Scan(&on, &path)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("check in: %w", err)
		}
		col := colCheckedIn
		if on == 0 {
			col = colOffCheckedIn
		}
		t := tally{}
		t.add(a, path, col, 1)
		return t.apply(ctx, tx)
	})
	if err != nil {
		return Registration{}, err
	}
	return s.Status(ctx, v, id)
}

// List returns the activities the viewer organises or is invited to,
// newest first, before the id before (0 for the first page). Candidates
// are the activities of the viewer's unit and the units above it, one
// index range per unit; the target is checked in Go.
func (s *Service) List(ctx context.Context, v directory.Viewer, before int64, limit int) ([]*Activity, error) {
	if limit <= 0 || limit > 100 {
		limit = 20
	}
	if before <= 0 {
		before = 1<<62 - 1
	}
	ids := directory.PathIDs(v.Path)
	var paths []any
	ph := []string{}
	for i := range ids {
		paths = append(paths, directory.JoinPath(ids[:i+1]))
		ph = append(ph, fmt.Sprintf("$%d", i+3))
	}
	if len(paths) == 0 {
		return nil, nil
	}
	var out []*Activity
	for cursor := before; len(out) < limit; {
		rows, err := s.DB.QueryContext(ctx, `SELECT `+columns+` FROM office_activities WHERE id < $1 AND org_path IN (`+strings.Join(ph, ", ")+`)
ORDER BY id DESC LIMIT $2`, append([]any{cursor, limit * 2}, paths...)...)
		if err != nil {
			return nil, fmt.Errorf("list activities: %w", err)
		}
		n := 0
		for rows.Next() {
			a, err := scan(rows)
			if err != nil {
				rows.Close()
				return nil, fmt.Errorf("list activities: %w", err)
			}
			n++
			cursor = a.ID
			if (a.Organiser(v) || a.Invited(v)) && len(out) < limit {
				out = append(out, a)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("list activities: %w", err)
		}
		if n < limit*2 {
			break
		}
	}
	return out, nil
}

// MaxFailures wrong codes per person and activity within FailureWindow
// stop further tries until the window ends: ten guesses at two valid
// six-digit codes leave a 1 in 50,000 chance.
const (
	MaxFailures   = 10
	FailureWindow = 10 * time.Minute
)

func (s *Service) checkFailures(ctx context.Context, activityID int64, person string, now time.Time) error {
	var start int64
	var n int
	err := s.DB.QueryRowContext(ctx, `SELECT window_start, failures FROM office_checkin_failures WHERE activity_id = $1 AND person_id = $2`, activityID, person).Scan(&start, &n)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("check-in failures: %w", err)
	}
	if n >= MaxFailures && now.Unix() < start+int64(FailureWindow/time.Second) {
		return web.Errorf(http.StatusTooManyRequests, "too_many_requests", "签到码错误次数过多，请 10 分钟后再试")
	}
	return nil
}

// recordFailure counts a wrong code in one statement, so concurrent
// guesses cannot slip past the count.
func (s *Service) recordFailure(ctx context.Context, activityID int64, person string, now time.Time) error {
	expired := now.Unix() - int64(FailureWindow/time.Second)
	_, err := s.DB.ExecContext(ctx, `INSERT INTO office_checkin_failures (activity_id, person_id, window_start, failures) VALUES ($1, $2, $3, 1)
ON CONFLICT (activity_id, person_id) DO UPDATE SET
  failures = CASE WHEN office_checkin_failures.window_start <= $4 THEN 1 ELSE office_checkin_failures.failures + 1 END,
  window_start = CASE WHEN office_checkin_failures.window_start <= $4 THEN $3 ELSE office_checkin_failures.window_start END`,
		activityID, person, now.Unix(), expired)
	if err != nil {
		return fmt.Errorf("record check-in failure: %w", err)
	}
	return nil
}
