// Package dash answers the five dashboards from the rollups, within the
// viewer's scope: a viewer sees their own region and what lies below it,
// nothing beside or above, whatever region a request names.
package dash

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/xszz/xszz/cockpit/catalog"
	"github.com/xszz/xszz/cockpit/region"
	"github.com/xszz/xszz/cockpit/warning"
	"github.com/xszz/xszz/internal/sqldb"
)

// Errors the edge turns into 403 and 404/400.
var (
	ErrOutOfScope = errors.New("region outside the viewer's scope")
	ErrNoRegion   = errors.New("unknown region")
	ErrBadInput   = errors.New("bad input")
)

// Names of the dashboards, in menu order, with their titles.
var Names = []struct{ Code, Title string }{
	{"overview", "资助概览"},
	{"needy", "困难学生"},
	{"aided", "资助学生"},
	{"funds", "资助资金"},
	{"warnings", "预警监控"},
}

// Title returns a dashboard's title, "" if there is none of that name.
func Title(name string) string {
	for _, n := range Names {
		if n.Code == name {
			return n.Title
		}
	}
	return ""
}

// Viewer is who asks: their own region bounds what they see.
type Viewer struct {
	Region *region.Node
}

// Request names what to show.
type Request struct {
	Region  string // "" means the viewer's own
	Year    int    // 0 means the latest
	Segment string // "", "all", "basic", "vocational", "higher"
}

// RegionRef names a region.
type RegionRef struct {
	Code    string `json:"code"`
	Name    string `json:"name"`
	Level   string `json:"level"`
	Planned bool   `json:"planned,omitempty"`
	Leaf    bool   `json:"leaf"`
}

// KPI is one headline figure.
type KPI struct {
	Label string  `json:"label"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
}

// Chart is a chart and its table: Rows follow Columns; for a ranking of
// regions, Regions holds the code of each row, for drilling down.
type Chart struct {
	ID      string   `json:"id"`
	Title   string   `json:"title"`
	Kind    string   `json:"kind"` // bar, line, pie, table
	Columns []string `json:"columns"`
	Rows    [][]any  `json:"rows"`
	Regions []string `json:"regions,omitempty"`
	// Warnings holds the warning id of each row of the warnings list.
	Warnings []int64 `json:"warnings,omitempty"`
}

// Dashboard is one dashboard's answer.
type Dashboard struct {
	Name       string      `json:"name"`
	Title      string      `json:"title"`
	Region     RegionRef   `json:"region"`
	Breadcrumb []RegionRef `json:"breadcrumb"`
	Year       int         `json:"year"`
	Years      []int       `json:"years"`
	Segment    string      `json:"segment"`
	AsOf       string      `json:"as_of"`
	KPIs       []KPI       `json:"kpis"`
	Charts     []Chart     `json:"charts"`
}

// Chart returns the chart with the id, or nil.
func (d *Dashboard) Chart(id string) *Chart {
	for i := range d.Charts {
		if d.Charts[i].ID == id {
			return &d.Charts[i]
		}
	}
	return nil
}

// Queries reads the rollups.
type Queries struct {
	DB   *sqldb.DB
	Tree *region.Tree
}

func ref(n *region.Node) RegionRef {
	return RegionRef{Code: n.Code, Name: n.Name, Level: n.Level.String(), Planned: n.Planned, Leaf: n.Leaf()}
}

// Resolve returns the region a viewer asks for, enforcing scope.
func (q *Queries) Resolve(v Viewer, code string) (*region.Node, error) {
	if v.Region == nil {
		return nil, ErrOutOfScope
	}
	if code == "" {
		return v.Region, nil
	}
	n := q.Tree.Get(code)
	if n == nil {
		return nil, ErrNoRegion
	}
	if !q.Tree.Within(n, v.Region) {
		return nil, ErrOutOfScope
	}
	return n, nil
}

type filter struct {
	node    *region.Node
	year    int
	segment string // "" for all
}

// segClause returns " AND segment = $n" or "" and the args.
func (f filter) segClause(args []any) (string, []any) {
	if f.segment == "" {
		return "", args
	}
	args = append(args, f.segment)
	return fmt.Sprintf(" AND segment = $%d", len(args)), args
}

// Get answers a dashboard for a viewer.
func (q *Queries) Get(ctx context.Context, v Viewer, name string, r Request) (*Dashboard, error) {
	title := Title(name)
	if title == "" {
		return nil, fmt.Errorf("%w: no dashboard %q", ErrNoRegion, name)
	}
	node, err := q.Resolve(v, r.Region)
	if err != nil {
		return nil, err
	}
	seg := r.Segment
	switch seg {
	case "", "all":
		seg = ""
	case "basic", "vocational", "higher":
	default:
		return nil, fmt.Errorf("%w: segment %q", ErrBadInput, r.Segment)
	}
	years, asOf, err := q.years(ctx)
	if err != nil {
		return nil, err
	}
	year := r.Year
	if year == 0 && len(years) > 0 {
		year = years[len(years)-1]
	}
	if year != 0 && !slices.Contains(years, year) && len(years) > 0 {
		return nil, fmt.Errorf("%w: no data for year %d", ErrBadInput, year)
	}
	d := &Dashboard{Name: name, Title: title, Region: ref(node), Year: year, Years: years, Segment: cmp.Or(seg, "all"), AsOf: asOf}
	for _, n := range node.Path() {
		if q.Tree.Within(n, v.Region) {
			d.Breadcrumb = append(d.Breadcrumb, ref(n))
		}
	}
	f := filter{node: node, year: year, segment: seg}
	switch name {
	case "overview":
		err = q.overview(ctx, d, f)
	case "needy":
		err = q.needy(ctx, d, f)
	case "aided":
		err = q.aided(ctx, d, f)
	case "funds":
		err = q.funds(ctx, d, f)
	case "warnings":
		err = q.warnings(ctx, d, f)
	}
	if err != nil {
		return nil, fmt.Errorf("dashboard %s for %s: %w", name, node.Code, err)
	}
	return d, nil
}

func (q *Queries) years(ctx context.Context) ([]int, string, error) {
	rows, err := q.DB.QueryContext(ctx, `SELECT DISTINCT year FROM cockpit_rollup_students WHERE region_code = $1 ORDER BY year`, region.NationCode)
	if err != nil {
		return nil, "", fmt.Errorf("years: %w", err)
	}
	defer rows.Close()
	var ys []int
	for rows.Next() {
		var y int
		if err := rows.Scan(&y); err != nil {
			return nil, "", fmt.Errorf("years: %w", err)
		}
		ys = append(ys, y)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("years: %w", err)
	}
	var asOf string
	err = q.DB.QueryRowContext(ctx, `SELECT as_of FROM cockpit_refresh WHERE id = 1`).Scan(&asOf)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, "", fmt.Errorf("refresh date: %w", err)
	}
	return ys, asOf, nil
}

// AsOf returns the day the last refresh judged lateness by.
func (q *Queries) AsOf(ctx context.Context) (time.Time, error) {
	_, s, err := q.years(ctx)
	if err != nil || s == "" {
		return time.Now(), err
	}
	return time.Parse("2006-01-02", s)
}

// scan runs a query and calls fn for each row.
func (q *Queries) scan(ctx context.Context, query string, args []any, fn func(scan func(...any) error) error) error {
	rows, err := q.DB.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows.Scan); err != nil {
			return err
		}
	}
	return rows.Err()
}

// inRegions returns "region_code IN ($k, …)" for the codes.
func inRegions(codes []string, args []any) (string, []any) {
	ph := make([]string, len(codes))
	for i, c := range codes {
		args = append(args, c)
		ph[i] = fmt.Sprintf("$%d", len(args))
	}
	return "region_code IN (" + strings.Join(ph, ",") + ")", args
}

// rankRows returns the sub-regions a node ranks, all within its scope.
func (q *Queries) rankRows(n *region.Node) []*region.Node { return q.Tree.Rows(n) }

func stageName(code string) string {
	s, _ := catalog.StageOf(code)
	return s.Name
}

func programmeName(code string) string {
	if p, ok := catalog.ProgrammeOf(code); ok {
		return p.Name
	}
	return code
}

func rate(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return float64(int64(float64(a)*10000/float64(b)+0.5)) / 100
}

func (q *Queries) overview(ctx context.Context, d *Dashboard, f filter) error {
	args := []any{f.node.Code, f.year}
	sc, args := f.segClause(args)
	type agg struct{ records, amount int64 }
	bySeg, byStage, byProg, bySrc := map[string]*agg{}, map[string]*agg{}, map[string]*agg{}, map[string]*agg{}
	var tot agg
	bump := func(m map[string]*agg, k string, r, a int64) {
		x := m[k]
		if x == nil {
			x = &agg{}
			m[k] = x
		}
		x.records += r
		x.amount += a
	}
	err := q.scan(ctx, `SELECT segment, stage, programme, source, records, amount FROM cockpit_rollup_aid WHERE region_code = $1 AND year = $2`+sc, args, func(scan func(...any) error) error {
		var seg, stage, prog, src string
		var r, a int64
		if err := scan(&seg, &stage, &prog, &src, &r, &a); err != nil {
			return err
		}
		tot.records += r
		tot.amount += a
		bump(bySeg, seg, r, a)
		bump(byStage, stage, r, a)
		bump(byProg, prog, r, a)
		bump(bySrc, src, r, a)
		return nil
	})
	if err != nil {
		return err
	}
	var aided int64
	targs := []any{f.node.Code, f.year}
	tsc, targs := f.segClause(targs)
	if err := q.DB.QueryRowContext(ctx, `SELECT COALESCE(SUM(aided), 0) FROM cockpit_rollup_students WHERE region_code = $1 AND year = $2`+tsc, targs...).Scan(&aided); err != nil {
		return err
	}
	d.KPIs = []KPI{{"资助人次", float64(tot.records), "人次"}, {"资助金额", float64(tot.amount), "元"}, {"受助学生", float64(aided), "人"}}
	trend := Chart{ID: "trend", Title: "历年资助趋势", Kind: "line", Columns: []string{"年度", "资助人次", "资助金额(元)"}}
	yargs := []any{f.node.Code}
	ysc, yargs := f.segClause(yargs)
	err = q.scan(ctx, `SELECT year, SUM(records), SUM(amount) FROM cockpit_rollup_aid WHERE region_code = $1`+ysc+` GROUP BY year ORDER BY year`, yargs, func(scan func(...any) error) error {
		var y int
		var r, a int64
		if err := scan(&y, &r, &a); err != nil {
			return err
		}
		trend.Rows = append(trend.Rows, []any{fmt.Sprint(y), r, a})
		return nil
	})
	if err != nil {
		return err
	}
	seg := Chart{ID: "segment", Title: "按学段", Kind: "pie", Columns: []string{"学段", "资助人次", "资助金额(元)"}}
	for _, s := range catalog.Segments {
		if x := bySeg[string(s)]; x != nil {
			seg.Rows = append(seg.Rows, []any{catalog.SegmentName[s], x.records, x.amount})
		}
	}
	stage := Chart{ID: "stage", Title: "按教育阶段", Kind: "bar", Columns: []string{"教育阶段", "资助人次", "资助金额(元)"}}
	for _, s := range catalog.Stages {
		if x := byStage[s.Code]; x != nil {
			stage.Rows = append(stage.Rows, []any{s.Name, x.records, x.amount})
		}
	}
	prog := Chart{ID: "programme", Title: "按资助项目", Kind: "bar", Columns: []string{"资助项目", "资助人次", "资助金额(元)"}}
	for _, p := range catalog.Programmes {
		if x := byProg[p.Code]; x != nil {
			prog.Rows = append(prog.Rows, []any{p.Name, x.records, x.amount})
		}
	}
	src := Chart{ID: "source", Title: "按资金来源", Kind: "pie", Columns: []string{"资金来源", "资助人次", "资助金额(元)"}}
	for _, s := range catalog.Sources {
		if x := bySrc[s.Code]; x != nil {
			src.Rows = append(src.Rows, []any{s.Name, x.records, x.amount})
		}
	}
	d.Charts = []Chart{trend, seg, stage, prog, src}
	subs := q.rankRows(f.node)
	if len(subs) == 0 {
		return nil
	}
	rank := Chart{ID: "ranking", Title: "下级地区排名(资助金额)", Kind: "bar", Columns: []string{"地区", "资助人次", "资助金额(元)"}}
	codes := make([]string, len(subs))
	for i, s := range subs {
		codes[i] = s.Code
	}
	rargs := []any{f.year}
	in, rargs := inRegions(codes, rargs)
	rsc, rargs := f.segClause(rargs)
	vals := map[string]agg{}
	err = q.scan(ctx, `SELECT region_code, SUM(records), SUM(amount) FROM cockpit_rollup_aid WHERE year = $1 AND `+in+rsc+` GROUP BY region_code`, rargs, func(scan func(...any) error) error {
		var c string
		var x agg
		if err := scan(&c, &x.records, &x.amount); err != nil {
			return err
		}
		vals[c] = x
		return nil
	})
	if err != nil {
		return err
	}
	q.ranked(&rank, subs, func(n *region.Node) ([]any, float64) {
		x := vals[n.Code]
		return []any{x.records, x.amount}, float64(x.amount)
	})
	d.Charts = append(d.Charts, rank)
	return nil
}

// ranked fills a ranking chart, highest first; 计划单列市 are marked.
func (q *Queries) ranked(c *Chart, subs []*region.Node, val func(*region.Node) ([]any, float64)) {
	type row struct {
		n    *region.Node
		vals []any
		key  float64
	}
	rows := make([]row, len(subs))
	for i, s := range subs {
		v, k := val(s)
		rows[i] = row{s, v, k}
	}
	slices.SortStableFunc(rows, func(a, b row) int { return cmp.Compare(b.key, a.key) })
	for _, r := range rows {
		name := r.n.Name
		if r.n.Planned {
			name += "(计划单列,含于" + r.n.Parent.Name + ")"
		}
		c.Rows = append(c.Rows, append([]any{name}, r.vals...))
		c.Regions = append(c.Regions, r.n.Code)
	}
}

type students struct{ enrolled, identified, l1, l2, l3, aided, aidedIdentified int64 }

func (s *students) add(o students) {
	s.enrolled += o.enrolled
	s.identified += o.identified
	s.l1 += o.l1
	s.l2 += o.l2
	s.l3 += o.l3
	s.aided += o.aided
	s.aidedIdentified += o.aidedIdentified
}

// studentRows reads the students rollup for regions, by region and stage.
func (q *Queries) studentRows(ctx context.Context, f filter, codes []string) (map[string]map[string]students, error) {
	args := []any{f.year}
	in, args := inRegions(codes, args)
	sc, args := f.segClause(args)
	out := map[string]map[string]students{}
	err := q.scan(ctx, `SELECT region_code, stage, enrolled, identified, level1, level2, level3, aided, aided_identified
		FROM cockpit_rollup_students WHERE year = $1 AND `+in+sc, args, func(scan func(...any) error) error {
		var c, st string
		var s students
		if err := scan(&c, &st, &s.enrolled, &s.identified, &s.l1, &s.l2, &s.l3, &s.aided, &s.aidedIdentified); err != nil {
			return err
		}
		if out[c] == nil {
			out[c] = map[string]students{}
		}
		x := out[c][st]
		x.add(s)
		out[c][st] = x
		return nil
	})
	return out, err
}

func codesOf(ns []*region.Node) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = n.Code
	}
	return out
}

func total(m map[string]students) students {
	var t students
	for _, s := range m {
		t.add(s)
	}
	return t
}

func (q *Queries) needy(ctx context.Context, d *Dashboard, f filter) error {
	subs := q.rankRows(f.node)
	all, err := q.studentRows(ctx, f, append(codesOf(subs), f.node.Code))
	if err != nil {
		return err
	}
	own := all[f.node.Code]
	t := total(own)
	d.KPIs = []KPI{
		{"认定困难学生", float64(t.identified), "人"},
		{"占在校生比例", rate(t.identified, t.enrolled), "%"},
		{"已认定未资助", float64(t.identified - t.aidedIdentified), "人"},
	}
	lv := Chart{ID: "level", Title: "按困难等级", Kind: "pie", Columns: []string{"困难等级", "人数"},
		Rows: [][]any{{"特别困难", t.l1}, {"比较困难", t.l2}, {"一般困难", t.l3}}}
	st := Chart{ID: "stage", Title: "各教育阶段认定情况", Kind: "bar", Columns: []string{"教育阶段", "在校生", "认定人数", "认定比例(%)", "已认定未资助"}}
	for _, s := range catalog.Stages {
		if x, ok := own[s.Code]; ok {
			st.Rows = append(st.Rows, []any{s.Name, x.enrolled, x.identified, rate(x.identified, x.enrolled), x.identified - x.aidedIdentified})
		}
	}
	cat := Chart{ID: "category", Title: "按困难类别", Kind: "bar", Columns: []string{"类别", "人数"}}
	args := []any{f.node.Code, f.year}
	sc, args := f.segClause(args)
	counts := map[string]int64{}
	err = q.scan(ctx, `SELECT category, students FROM cockpit_rollup_categories WHERE region_code = $1 AND year = $2`+sc, args, func(scan func(...any) error) error {
		var c string
		var n int64
		if err := scan(&c, &n); err != nil {
			return err
		}
		counts[c] += n
		return nil
	})
	if err != nil {
		return err
	}
	for _, c := range catalog.Categories {
		if n, ok := counts[c.Code]; ok {
			cat.Rows = append(cat.Rows, []any{c.Name, n})
		}
	}
	d.Charts = []Chart{lv, cat, st}
	if len(subs) > 0 {
		rank := Chart{ID: "ranking", Title: "下级地区认定比例排名", Kind: "bar", Columns: []string{"地区", "认定比例(%)", "认定人数", "已认定未资助"}}
		q.ranked(&rank, subs, func(n *region.Node) ([]any, float64) {
			x := total(all[n.Code])
			r := rate(x.identified, x.enrolled)
			return []any{r, x.identified, x.identified - x.aidedIdentified}, r
		})
		d.Charts = append(d.Charts, rank)
	}
	return nil
}

func (q *Queries) aided(ctx context.Context, d *Dashboard, f filter) error {
	subs := q.rankRows(f.node)
	all, err := q.studentRows(ctx, f, append(codesOf(subs), f.node.Code))
	if err != nil {
		return err
	}
	own := all[f.node.Code]
	t := total(own)
	d.KPIs = []KPI{
		{"受助学生", float64(t.aided), "人"},
		{"困难学生资助覆盖率", rate(t.aidedIdentified, t.identified), "%"},
		{"已认定未资助", float64(t.identified - t.aidedIdentified), "人"},
	}
	cov := Chart{ID: "coverage", Title: "各教育阶段资助覆盖", Kind: "bar", Columns: []string{"教育阶段", "受助学生", "认定人数", "已资助认定学生", "覆盖率(%)"}}
	for _, s := range catalog.Stages {
		if x, ok := own[s.Code]; ok {
			cov.Rows = append(cov.Rows, []any{s.Name, x.aided, x.identified, x.aidedIdentified, rate(x.aidedIdentified, x.identified)})
		}
	}
	args := []any{f.node.Code, f.year}
	sc, args := f.segClause(args)
	type agg struct{ r, a int64 }
	byProg := map[string]*agg{}
	err = q.scan(ctx, `SELECT programme, SUM(records), SUM(amount) FROM cockpit_rollup_aid WHERE region_code = $1 AND year = $2`+sc+` GROUP BY programme`, args, func(scan func(...any) error) error {
		var p string
		var x agg
		if err := scan(&p, &x.r, &x.a); err != nil {
			return err
		}
		byProg[p] = &x
		return nil
	})
	if err != nil {
		return err
	}
	prog := Chart{ID: "programme", Title: "按资助项目(人次)", Kind: "bar", Columns: []string{"资助项目", "资助人次", "资助金额(元)", "人均(元)"}}
	for _, p := range catalog.Programmes {
		if x := byProg[p.Code]; x != nil {
			prog.Rows = append(prog.Rows, []any{p.Name, x.r, x.a, x.a / max(x.r, 1)})
		}
	}
	d.Charts = []Chart{prog, cov}
	if len(subs) > 0 {
		rank := Chart{ID: "ranking", Title: "下级地区资助覆盖率排名", Kind: "bar", Columns: []string{"地区", "覆盖率(%)", "受助学生", "认定人数"}}
		q.ranked(&rank, subs, func(n *region.Node) ([]any, float64) {
			x := total(all[n.Code])
			r := rate(x.aidedIdentified, x.identified)
			return []any{r, x.aided, x.identified}, r
		})
		d.Charts = append(d.Charts, rank)
	}
	return nil
}

type fund struct{ n, allocated, disbursed, lateN, lateAmt int64 }

func (a *fund) add(b fund) {
	a.n += b.n
	a.allocated += b.allocated
	a.disbursed += b.disbursed
	a.lateN += b.lateN
	a.lateAmt += b.lateAmt
}

func (q *Queries) funds(ctx context.Context, d *Dashboard, f filter) error {
	subs := q.rankRows(f.node)
	args := []any{f.year}
	in, args := inRegions(append(codesOf(subs), f.node.Code), args)
	sc, args := f.segClause(args)
	byRegion := map[string]*fund{}
	bySrc, byProg := map[string]*fund{}, map[string]*fund{}
	var t fund
	err := q.scan(ctx, `SELECT region_code, programme, source, allocations, allocated, disbursed, late_count, late_amount
		FROM cockpit_rollup_funds WHERE year = $1 AND `+in+sc, args, func(scan func(...any) error) error {
		var c, p, s string
		var x fund
		if err := scan(&c, &p, &s, &x.n, &x.allocated, &x.disbursed, &x.lateN, &x.lateAmt); err != nil {
			return err
		}
		if byRegion[c] == nil {
			byRegion[c] = &fund{}
		}
		byRegion[c].add(x)
		if c != f.node.Code {
			return nil
		}
		t.add(x)
		for _, m := range []struct {
			m map[string]*fund
			k string
		}{{bySrc, s}, {byProg, p}} {
			if m.m[m.k] == nil {
				m.m[m.k] = &fund{}
			}
			m.m[m.k].add(x)
		}
		return nil
	})
	if err != nil {
		return err
	}
	d.KPIs = []KPI{
		{"下达资金", float64(t.allocated), "元"},
		{"已发放", float64(t.disbursed), "元"},
		{"发放率", rate(t.disbursed, t.allocated), "%"},
		{"延迟发放", float64(t.lateN), "笔"},
	}
	src := Chart{ID: "source", Title: "按资金来源(下达与发放)", Kind: "bar", Columns: []string{"资金来源", "下达(元)", "发放(元)", "发放率(%)"}}
	for _, s := range catalog.Sources {
		if x := bySrc[s.Code]; x != nil {
			src.Rows = append(src.Rows, []any{s.Name, x.allocated, x.disbursed, rate(x.disbursed, x.allocated)})
		}
	}
	prog := Chart{ID: "programme", Title: "按资助项目(下达与发放)", Kind: "bar", Columns: []string{"资助项目", "下达(元)", "发放(元)", "发放率(%)", "延迟笔数", "延迟金额(元)"}}
	for _, p := range catalog.Programmes {
		if x := byProg[p.Code]; x != nil {
			prog.Rows = append(prog.Rows, []any{p.Name, x.allocated, x.disbursed, rate(x.disbursed, x.allocated), x.lateN, x.lateAmt})
		}
	}
	d.Charts = []Chart{src, prog}
	if len(subs) > 0 {
		rank := Chart{ID: "ranking", Title: "下级地区发放率排名", Kind: "bar", Columns: []string{"地区", "发放率(%)", "下达(元)", "发放(元)", "延迟笔数"}}
		q.ranked(&rank, subs, func(n *region.Node) ([]any, float64) {
			x := byRegion[n.Code]
			if x == nil {
				x = &fund{}
			}
			r := rate(x.disbursed, x.allocated)
			return []any{r, x.allocated, x.disbursed, x.lateN}, r
		})
		d.Charts = append(d.Charts, rank)
	}
	return nil
}

// scopeColumn is the warnings column that holds a node's code.
func scopeColumn(n *region.Node) string {
	switch n.Level {
	case region.Province:
		return "province_code"
	case region.City:
		return "city_code"
	case region.County:
		return "region_code"
	}
	return ""
}

func (q *Queries) warnings(ctx context.Context, d *Dashboard, f filter) error {
	subs := q.rankRows(f.node)
	args := []any{f.year}
	in, args := inRegions(append(codesOf(subs), f.node.Code), args)
	sc, args := f.segClause(args)
	type key struct {
		rule string
		sev  int
	}
	own := map[key]int64{}
	byRegion := map[string][2]int64{}
	var total, high int64
	err := q.scan(ctx, `SELECT region_code, rule, severity, warnings, subjects FROM cockpit_rollup_warnings WHERE year = $1 AND `+in+sc, args, func(scan func(...any) error) error {
		var c, rule string
		var sev int
		var n, subj int64
		if err := scan(&c, &rule, &sev, &n, &subj); err != nil {
			return err
		}
		v := byRegion[c]
		v[0] += n
		if sev == warning.High {
			v[1] += n
		}
		byRegion[c] = v
		if c == f.node.Code {
			own[key{rule, sev}] += subj
			total += n
			if sev == warning.High {
				high += n
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	d.KPIs = []KPI{{"预警", float64(total), "条"}, {"高风险预警", float64(high), "条"}}
	byRule := Chart{ID: "rules", Title: "各规则预警(涉及对象数)", Kind: "bar", Columns: []string{"规则", "高", "中", "低"}}
	for _, r := range warning.Rules {
		byRule.Rows = append(byRule.Rows, []any{r.Name, own[key{r.Code, warning.High}], own[key{r.Code, warning.Medium}], own[key{r.Code, warning.Low}]})
	}
	list := Chart{ID: "list", Title: "预警明细(按严重程度，前 100 条)", Kind: "table", Columns: []string{"编号", "严重程度", "规则", "地区", "学段", "说明"}}
	largs := []any{f.year}
	where := "year = $1"
	if col := scopeColumn(f.node); col != "" {
		largs = append(largs, f.node.Code)
		where += fmt.Sprintf(" AND %s = $%d", col, len(largs))
	}
	lsc, largs := f.segClause(largs)
	err = q.scan(ctx, `SELECT id, severity, rule, region_code, segment, detail FROM cockpit_warnings WHERE `+where+lsc+` ORDER BY severity DESC, subjects DESC, id LIMIT 100`, largs, func(scan func(...any) error) error {
		var id int64
		var sev int
		var rule, reg, seg, detail string
		if err := scan(&id, &sev, &rule, &reg, &seg, &detail); err != nil {
			return err
		}
		name := reg
		if n := q.Tree.Get(reg); n != nil {
			name = n.Name
		}
		// The id is a name, not a quantity: as text it is shown and
		// exported without thousands separators.
		list.Rows = append(list.Rows, []any{strconv.FormatInt(id, 10), warning.SeverityName(sev), warning.RuleName(rule), name, catalog.SegmentName[catalog.Segment(seg)], detail})
		list.Warnings = append(list.Warnings, id)
		return nil
	})
	if err != nil {
		return err
	}
	d.Charts = []Chart{byRule}
	if len(subs) > 0 {
		rank := Chart{ID: "ranking", Title: "下级地区预警数排名", Kind: "bar", Columns: []string{"地区", "预警", "高风险"}}
		q.ranked(&rank, subs, func(n *region.Node) ([]any, float64) {
			v := byRegion[n.Code]
			return []any{v[0], v[1]}, float64(v[0])
		})
		d.Charts = append(d.Charts, rank)
	}
	d.Charts = append(d.Charts, list)
	return nil
}

// WarningRecords returns the records behind a warning the viewer may see.
// A warning resolved since comes back as last detected, without records,
// with warning.ErrResolved.
func (q *Queries) WarningRecords(ctx context.Context, v Viewer, id int64, limit int) (warning.Warning, []warning.Record, error) {
	x, err := warning.Load(ctx, q.DB, id)
	if err != nil && !errors.Is(err, warning.ErrResolved) {
		return x, nil, err
	}
	if _, serr := q.Resolve(v, x.Region); serr != nil {
		// Out of scope reads as absent, resolved or not: a county viewer
		// learns nothing about a neighbour's warning numbers.
		return warning.Warning{}, nil, sqldb.ErrNotFound
	}
	if err != nil {
		return x, nil, err
	}
	asOf, err := q.AsOf(ctx)
	if err != nil {
		return x, nil, err
	}
	recs, err := warning.Records(ctx, q.DB, x, asOf, limit)
	return x, recs, err
}
