package notice

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/xszz/xszz/internal/phone"
	"github.com/xszz/xszz/office/directory"
)

// Counts are a unit subtree's figures for one dispatch.
type Counts struct {
	Recipients int `json:"recipients"`
	Readers    int `json:"readers"`
	Confirmed  int `json:"confirmed"`
}

// UnitCounts are the figures of one unit.
type UnitCounts struct {
	Unit directory.Unit `json:"unit"`
	Counts
}

// Person is a recipient who has not read (or not confirmed).
type Person struct {
	ID     string     `json:"id"`
	Name   string     `json:"name"`
	Phone  string     `json:"phone"`
	ReadAt *time.Time `json:"read_at,omitempty"`
}

// Rollup is the read status of a dispatch at one unit: its subtree's
// totals, each child unit's, and the people of the unit itself who have
// not read.
type Rollup struct {
	Dispatch *Notice          `json:"dispatch"`
	Unit     UnitCounts       `json:"unit"`
	Children []UnitCounts     `json:"children"`
	Unread   []Person         `json:"unread"`
	Path     []directory.Unit `json:"path"` // from the dispatch's unit down to this one
}

// Receipts returns the roll-up of the viewer's unit's dispatch of the
// notice at orgID (the dispatch's own unit when empty). Only the sending
// unit sees it, and only within its subtree.
func (s *Service) Receipts(ctx context.Context, v directory.Viewer, id int64, orgID string) (*Rollup, error) {
	root, err := s.rootOf(ctx, id)
	if err != nil {
		return nil, err
	}
	d, err := s.ownDispatch(ctx, root, v.OrgID)
	if err != nil {
		return nil, err
	}
	if d == nil {
		if r, err := s.receipt(ctx, root, v.Sub); err != nil {
			return nil, err
		} else if r == nil {
			return nil, notFound()
		}
		return nil, forbidden("只有发送单位可以查看阅读情况")
	}
	if orgID == "" {
		orgID = d.OrgID
	}
	u, err := s.Dir.Unit(ctx, orgID)
	if errors.Is(err, directory.ErrNotFound) || (err == nil && !strings.HasPrefix(u.Path, d.OrgPath)) {
		return nil, notFound()
	}
	if err != nil {
		return nil, err
	}
	out := &Rollup{Dispatch: d, Unit: UnitCounts{Unit: u}, Children: []UnitCounts{}, Unread: []Person{}}
	ids := directory.PathIDs(u.Path)
	if out.Path, err = s.Dir.Units(ctx, ids[len(directory.PathIDs(d.OrgPath))-1:]); err != nil {
		return nil, err
	}
	err = s.DB.QueryRowContext(ctx, `SELECT recipients, readers, confirmed FROM office_notice_counts WHERE dispatch_id = $1 AND org_id = $2`, d.ID, u.ID).
		Scan(&out.Unit.Recipients, &out.Unit.Readers, &out.Unit.Confirmed)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("notice counters: %w", err)
	}
	rows, err := s.DB.QueryContext(ctx, `SELECT u.id, COALESCE(u.parent_id, ''), u.name, u.level, u.path, c.recipients, c.readers, c.confirmed
FROM office_units u JOIN office_notice_counts c ON c.org_id = u.id AND c.dispatch_id = $1
WHERE u.parent_id = $2 ORDER BY u.id`, d.ID, u.ID)
	if err != nil {
		return nil, fmt.Errorf("notice roll-up: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var c UnitCounts
		if err := rows.Scan(&c.Unit.ID, &c.Unit.ParentID, &c.Unit.Name, &c.Unit.Level, &c.Unit.Path, &c.Recipients, &c.Readers, &c.Confirmed); err != nil {
			return nil, fmt.Errorf("notice roll-up: %w", err)
		}
		c.Unit.Active = true
		out.Children = append(out.Children, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("notice roll-up: %w", err)
	}
	lo, hi := directory.Range(d.Chain)
	pr, err := s.DB.QueryContext(ctx, `SELECT p.id, p.name, p.phone, r.read_at FROM office_receipts r JOIN office_people p ON p.id = r.person_id
WHERE r.org_id = $1 AND r.root_id = $2 AND r.chain >= $3 AND r.chain < $4 AND (r.read_at IS NULL OR ($5 = 1 AND r.confirmed_at IS NULL))
ORDER BY p.id LIMIT 500`, u.ID, root, lo, hi, boolInt(d.RequireConfirm))
	if err != nil {
		return nil, fmt.Errorf("unread people: %w", err)
	}
	defer pr.Close()
	for pr.Next() {
		var (
			p    Person
			read sql.NullInt64
		)
		if err := pr.Scan(&p.ID, &p.Name, &p.Phone, &read); err != nil {
			return nil, fmt.Errorf("unread people: %w", err)
		}
		p.Phone, p.ReadAt = phone.Mask(p.Phone), timePtr(read)
		out.Unread = append(out.Unread, p)
	}
	return out, pr.Err()
}

// Texter sends one reminder SMS about the notice titled title; an
// sms.Sender adapter implements it.
type Texter interface {
	Text(ctx context.Context, e164, title string) error
}

// ErrNoTexting is returned by a Texter that cannot send reminders at all
// (no template configured), so Remind stops trying after the first.
var ErrNoTexting = errors.New("notice: reminder SMS not configured")

// RemindInterval is how often the unread of one dispatch may be reminded.
const RemindInterval = 5 * time.Minute

// Remind notifies everyone the viewer's unit's dispatch reached (directly
// or through forwards below) who has not read it: a message in the office
// and, where a gateway is configured, an SMS. At most once per
// RemindInterval per dispatch. It returns how many were reminded.
func (s *Service) Remind(ctx context.Context, v directory.Viewer, id int64) (int, error) {
	if !v.Admin() {
		return 0, forbidden("只有单位管理员可以催办")
	}
	root, err := s.rootOf(ctx, id)
	if err != nil {
		return 0, err
	}
	d, err := s.ownDispatch(ctx, root, v.OrgID)
	if err != nil {
		return 0, err
	}
	if d == nil {
		return 0, notFound()
	}
	now := s.Now().Unix()
	lo, hi := directory.Range(d.Chain)
	var phones []string
	n := 0
	err = s.DB.InTx(ctx, func(tx *sql.Tx) error {
		// The conditional update is the rate limit, safe across replicas.
		res, err := tx.ExecContext(ctx, `UPDATE office_notices SET reminded_at = $1 WHERE id = $2 AND (reminded_at IS NULL OR reminded_at <= $3)`,
			now, d.ID, now-int64(RemindInterval/time.Second))
		if err != nil {
			return fmt.Errorf("remind: %w", err)
		}
		if k, _ := res.RowsAffected(); k == 0 {
			return tooMany("5 分钟内只能催办一次")
		}
		text := "【学生资助办公系统】请阅读通知：" + d.Title
		res, err = tx.ExecContext(ctx, `INSERT INTO office_messages (person_id, text, link, created_at)
SELECT r.person_id, $1, $2, $3 FROM office_receipts r WHERE r.root_id = $4 AND r.chain >= $5 AND r.chain < $6 AND r.read_at IS NULL`,
			text, fmt.Sprintf("/notices/%d", root), now, root, lo, hi)
		if err != nil {
			return fmt.Errorf("remind: %w", err)
		}
		k, _ := res.RowsAffected()
		n = int(k)
		if s.Texter == nil {
			return nil
		}
		rows, err := tx.QueryContext(ctx, `SELECT p.phone FROM office_receipts r JOIN office_people p ON p.id = r.person_id
WHERE r.root_id = $1 AND r.chain >= $2 AND r.chain < $3 AND r.read_at IS NULL AND p.active = 1`, root, lo, hi)
		if err != nil {
			return fmt.Errorf("remind: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var p string
			if err := rows.Scan(&p); err != nil {
				return fmt.Errorf("remind: %w", err)
			}
			if strings.HasPrefix(p, "+86") {
				phones = append(phones, p)
			}
		}
		return rows.Err()
	})
	if err != nil {
		return 0, err
	}
	// SMS go out after the commit: a failed send must not undo the
	// in-office reminders, and is only logged by the gateway.
	for _, p := range phones {
		if err := s.Texter.Text(ctx, p, d.Title); err != nil {
			s.log().WarnContext(ctx, "reminder SMS failed", "notice", d.ID, "phone", phone.Mask(p), "err", err)
			if errors.Is(err, ErrNoTexting) {
				break // the same for every number: say it once
			}
		}
	}
	return n, nil
}

// Message is an in-office notification.
type Message struct {
	ID        int64     `json:"id"`
	Text      string    `json:"text"`
	Link      string    `json:"link"`
	CreatedAt time.Time `json:"created_at"`
}

// Messages returns the viewer's latest messages.
func (s *Service) Messages(ctx context.Context, v directory.Viewer, limit int) ([]Message, error) {
	rows, err := s.DB.QueryContext(ctx, `SELECT id, text, link, created_at FROM office_messages WHERE person_id = $1 ORDER BY id DESC LIMIT $2`, v.Sub, limit)
	if err != nil {
		return nil, fmt.Errorf("messages: %w", err)
	}
	defer rows.Close()
	var out []Message
	for rows.Next() {
		var (
			m  Message
			at int64
		)
		if err := rows.Scan(&m.ID, &m.Text, &m.Link, &at); err != nil {
			return nil, fmt.Errorf("messages: %w", err)
		}
		m.CreatedAt = time.Unix(at, 0).UTC()
		out = append(out, m)
	}
	return out, rows.Err()
}
