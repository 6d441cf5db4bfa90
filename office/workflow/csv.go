package workflow

import (
	"context"
	"encoding/csv"
	"io"
	"time"

	"github.com/xszz/xszz/office/directory"
)

// MaxExport bounds one CSV export; a larger subtree is exported by date.
const MaxExport = 100_000

var cst = time.FixedZone("CST", 8*3600)

// Pager returns the next page of a list after before (0: the first).
type Pager func(ctx context.Context, before int64) ([]*Item, error)

// Export writes the subtree's items of one module as CSV for admins:
// list reads a page of the module's items for q, and item gives each
// one's shared fields.
func Export[T any](ctx context.Context, v directory.Viewer, m Machine, q Query, w io.Writer,
	list func(ctx context.Context, v directory.Viewer, q Query) ([]T, error), item func(T) *Item) error {
	q.Box, q.Limit = BoxSubtree, MaxLimit
	return WriteCSV(ctx, v, m, w, func(ctx context.Context, before int64) ([]*Item, error) {
		q.Before = before
		xs, err := list(ctx, v, q)
		if err != nil {
			return nil, err
		}
		items := make([]*Item, len(xs))
		for i, x := range xs {
			items[i] = item(x)
		}
		return items, nil
	}, nil)
}

// WriteCSV writes a subtree's items, page by page, for admins.
func WriteCSV(ctx context.Context, v directory.Viewer, m Machine, w io.Writer, next Pager, hide func(*Item) bool) error {
	if !v.Admin() {
		return Forbidden("只有单位管理员可以导出")
	}
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"编号", "状态", "标题", "提交单位", "提交人", "当前办理单位", "提交时间", "最后更新", "当前期限"}); err != nil {
		return err
	}
	var before int64
	for n := 0; n < MaxExport; {
		items, err := next(ctx, before)
		if err != nil {
			return err
		}
		for _, it := range items {
			author := it.AuthorName
			if hide != nil && hide(it) {
				author = "（匿名）"
			}
			due := ""
			if it.DueAt != nil {
				due = it.DueAt.In(cst).Format("2006-01-02 15:04")
			}
			if err := cw.Write([]string{itoa(it.ID), m.name(it.State), it.Title, it.FromName, author, it.ToName,
				it.CreatedAt.In(cst).Format("2006-01-02 15:04"), it.UpdatedAt.In(cst).Format("2006-01-02 15:04"), due}); err != nil {
				return err
			}
		}
		n += len(items)
		if len(items) < MaxLimit {
			break
		}
		before = items[len(items)-1].ID
	}
	cw.Flush()
	return cw.Error()
}

func itoa(n int64) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}
