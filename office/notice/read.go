package notice

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/xszz/xszz/office/directory"
)

// access decides whether the viewer may see a notice: it reached them, or
// their unit sent (published or forwarded) it. It returns the root, the
// viewer's receipt (nil for senders only) and the latest dispatch of the
// viewer's unit (nil for recipients only).
func (s *Service) access(ctx context.Context, v directory.Viewer, id int64) (int64, *Receipt, *Notice, error) {
	root, err := s.rootOf(ctx, id)
	if err != nil {
		return 0, nil, nil, err
	}
	r, err := s.receipt(ctx, root, v.Sub)
	if err != nil {
		return 0, nil, nil, err
	}
	own, err := s.ownDispatch(ctx, root, v.OrgID)
	if err != nil {
		return 0, nil, nil, err
	}
	if r == nil && own == nil {
		return 0, nil, nil, notFound()
	}
	return root, r, own, nil
}

func (s *Service) ownDispatch(ctx context.Context, root int64, orgID string) (*Notice, error) {
	n, err := scanNotice(s.DB.QueryRowContext(ctx, `SELECT `+noticeColumns+` FROM office_notices WHERE root_id = $1 AND org_id = $2 ORDER BY id DESC LIMIT 1`, root, orgID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load own dispatch of %d: %w", root, err)
	}
	return n, nil
}

// View is a notice as one viewer sees it.
type View struct {
	Notice *Notice `json:"notice"`
	// Chain holds the dispatches from the original down to the one that
	// reached the viewer (their notes and deadlines), or down to the
	// viewer's own unit's dispatch for a sender.
	Chain   []*Notice `json:"chain"`
	Receipt *Receipt  `json:"receipt,omitempty"`
	Own     *Notice   `json:"own_dispatch,omitempty"`
	Files   []File    `json:"files"`
	// Deadline is the one that applies to the viewer: that of the
	// dispatch that reached them.
	Deadline   *time.Time `json:"deadline,omitempty"`
	CanForward bool       `json:"can_forward"`
}

// Get returns the notice id as the viewer may see it.
func (s *Service) Get(ctx context.Context, v directory.Viewer, id int64) (*View, error) {
	root, r, own, err := s.access(ctx, v, id)
	if err != nil {
		return nil, err
	}
	out := &View{Receipt: r, Own: own, CanForward: r != nil && v.Admin()}
	chain := ""
	if r != nil {
		chain = r.Chain
	} else {
		chain = own.Chain
	}
	for _, d := range directory.PathIDs(chain) {
		var did int64
		if _, err := fmt.Sscan(d, &did); err != nil {
			return nil, fmt.Errorf("notice chain %q: %w", chain, err)
		}
		n, err := s.get(ctx, did)
		if err != nil {
			return nil, err
		}
		out.Chain = append(out.Chain, n)
	}
	out.Notice = out.Chain[0]
	if r != nil {
		out.Deadline = out.Chain[len(out.Chain)-1].Deadline
	}
	if out.Files, err = s.files(ctx, root); err != nil {
		return nil, err
	}
	return out, nil
}

// MarkRead records the viewer's first opening of a notice.
func (s *Service) MarkRead(ctx context.Context, v directory.Viewer, id int64) (*Receipt, error) {
	return s.mark(ctx, v, id, false)
}

// Confirm records the viewer's confirmation (and the read, if not yet).
func (s *Service) Confirm(ctx context.Context, v directory.Viewer, id int64) (*Receipt, error) {
	return s.mark(ctx, v, id, true)
}

func (s *Service) mark(ctx context.Context, v directory.Viewer, id int64, confirm bool) (*Receipt, error) {
	root, r, _, err := s.access(ctx, v, id)
	if err != nil {
		return nil, err
	}
	if r == nil {
		return nil, bad("本单位是发送方，无需回执")
	}
	now := s.Now().Unix()
	chain, err := s.chainOrgs(ctx, r.Chain)
	if err != nil {
		return nil, err
	}
	one := map[string]int{r.OrgPath: 1}
	err = s.DB.InTx(ctx, func(tx *sql.Tx) error {
		// The conditional update is the guard: of two concurrent first
		// reads only one changes the row, and only that one counts.
		res, err := tx.ExecContext(ctx, `UPDATE office_receipts SET read_at = $1 WHERE root_id = $2 AND person_id = $3 AND read_at IS NULL`, now, root, v.Sub)
		if err != nil {
			return fmt.Errorf("mark read: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			if err := bump(ctx, tx, "readers", chain, one); err != nil {
				return err
			}
		}
		if !confirm {
			return nil
		}
		res, err = tx.ExecContext(ctx, `UPDATE office_receipts SET confirmed_at = $1 WHERE root_id = $2 AND person_id = $3 AND confirmed_at IS NULL`, now, root, v.Sub)
		if err != nil {
			return fmt.Errorf("confirm: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			return bump(ctx, tx, "confirmed", chain, one)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.receipt(ctx, root, v.Sub)
}

// Item is a notice in a list.
type Item struct {
	ID          int64      `json:"id"`
	Title       string     `json:"title"`
	OrgName     string     `json:"org_name"`
	From        string     `json:"from"` // the unit whose dispatch reached the viewer, or the viewer's own
	Sent        bool       `json:"sent"` // the viewer's unit sent it
	CreatedAt   time.Time  `json:"created_at"`
	Deadline    *time.Time `json:"deadline,omitempty"`
	ReadAt      *time.Time `json:"read_at,omitempty"`
	ConfirmedAt *time.Time `json:"confirmed_at,omitempty"`
	NeedConfirm bool       `json:"require_confirm"`
}

// List returns the notices the viewer received or their unit sent, newest
// first, limit at a time, before the root id before (0 for the first page).
func (s *Service) List(ctx context.Context, v directory.Viewer, before int64, limit int) ([]Item, error) {
	if limit <= 0 || limit > 100 {
		limit = 20
	}
	if before <= 0 {
		before = 1<<62 - 1
	}
	var items []Item
	rows, err := s.DB.QueryContext(ctx, `SELECT r.root_id, o.title, o.org_name, d.org_name, o.created_at, d.deadline, r.read_at, r.confirmed_at, o.require_confirm
FROM office_receipts r JOIN office_notices o ON o.id = r.root_id JOIN office_notices d ON d.id = r.dispatch_id
WHERE r.person_id = $1 AND r.root_id < $2 ORDER BY r.root_id DESC LIMIT $3`, v.Sub, before, limit)
	if err != nil {
		return nil, fmt.Errorf("list notices: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			it             Item
			created        int64
			dl, read, conf sql.NullInt64
			need           int
		)
		if err := rows.Scan(&it.ID, &it.Title, &it.OrgName, &it.From, &created, &dl, &read, &conf, &need); err != nil {
			return nil, fmt.Errorf("list notices: %w", err)
		}
		it.CreatedAt, it.Deadline, it.ReadAt, it.ConfirmedAt, it.NeedConfirm = time.Unix(created, 0).UTC(), timePtr(dl), timePtr(read), timePtr(conf), need == 1
		items = append(items, it)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list notices: %w", err)
	}
	sent, err := s.DB.QueryContext(ctx, `SELECT o.id, o.title, o.org_name, d.org_name, o.created_at, d.deadline, o.require_confirm
FROM office_notices d JOIN office_notices o ON o.id = d.root_id
WHERE d.org_id = $1 AND d.root_id < $2 ORDER BY d.root_id DESC LIMIT $3`, v.OrgID, before, limit)
	if err != nil {
		return nil, fmt.Errorf("list sent notices: %w", err)
	}
	defer sent.Close()
	seen := map[int64]int{}
	for i, it := range items {
		seen[it.ID] = i
	}
	for sent.Next() {
		var (
			it      Item
			created int64
			dl      sql.NullInt64
			need    int
		)
		if err := sent.Scan(&it.ID, &it.Title, &it.OrgName, &it.From, &created, &dl, &need); err != nil {
			return nil, fmt.Errorf("list sent notices: %w", err)
		}
		if i, ok := seen[it.ID]; ok {
			items[i].Sent = true
			continue
		}
		it.Sent, it.CreatedAt, it.Deadline, it.NeedConfirm = true, time.Unix(created, 0).UTC(), timePtr(dl), need == 1
		seen[it.ID] = len(items)
		items = append(items, it)
	}
	if err := sent.Err(); err != nil {
		return nil, fmt.Errorf("list sent notices: %w", err)
	}
	sort.Slice(items, func(i, j int) bool { return items[i].ID > items[j].ID })
	if len(items) > limit {
		items = items[:limit]
	}
	return items, nil
}
