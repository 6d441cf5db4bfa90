// Package warning holds the cockpit's warning rules (预警规则): how each
// anomaly is detected when the rollups are rebuilt, how severe it is, and
// the drill query that finds the anonymised records behind a warning.
package warning

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/xszz/xszz/cockpit/catalog"
	"github.com/xszz/xszz/cockpit/load"
	"github.com/xszz/xszz/cockpit/region"
	"github.com/xszz/xszz/internal/sqldb"
)

// Severities.
const (
	Low    = 1
	Medium = 2
	High   = 3
)

// SeverityName is the Chinese name of a severity.
func SeverityName(s int) string {
	switch s {
	case High:
		return "高"
	case Medium:
		return "中"
	}
	return "低"
}

// Rule codes.
const (
	NeedyNotAided     = "needy_not_aided"
	AidToNonNeedy     = "aid_to_non_needy"
	TooManyProgrammes = "too_many_programmes"
	Disbursement      = "disbursement"
	YearOnYearJump    = "yoy_jump"
)

// Rule describes one rule for pages and docs.
type Rule struct {
	Code, Name, Description string
}

// Rules in display order; docs/cockpit.md explains them at length.
var Rules = []Rule{
	{NeedyNotAided, "已认定困难学生未获资助", "学年内已认定为家庭经济困难、但未获得任何面向困难学生的资助项目。特别困难为高，比较困难为中，一般困难为低。"},
	{AidToNonNeedy, "资助未认定困难的学生", "学年内获得面向困难学生的资助项目（助学金、生活补助、励志奖学金、助学贷款等），但当学年没有困难认定。严重程度为高。"},
	{TooManyProgrammes, "一人一年超项目资助", fmt.Sprintf("同一学生同一学年获得国家奖学金与国家励志奖学金（不得兼得）为高；获得超过 %d 个资助项目为中。", catalog.MaxProgrammes)},
	{Disbursement, "资金发放不足或延迟", "截止日期已过、已发放不足下达金额 60% 为高，不足 90% 为中；有款项在截止日期之后发放为低。"},
	{YearOnYearJump, "资助金额同比异动", "区县某项目资助金额较上年增长 100% 以上或下降 60% 以上（上年不少于 5 万元、20 人次）。增长 200% 以上为高，其余为中。"},
}

// RuleName returns the Chinese name of a rule.
func RuleName(code string) string {
	for _, r := range Rules {
		if r.Code == code {
			return r.Name
		}
	}
	return code
}

// Warning is the anomalies of one rule in one leaf region, year, segment
// and severity (and programme, for the jump rule).
type Warning struct {
	ID                     int64
	Rule                   string
	Severity               int
	Region, Province, City string
	Year                   int
	Segment                string
	Programme              string
	Subjects, Amount       int64
	Detail                 string
	// ResolvedOn is the as-of day of the refresh that found the warning
	// no longer held; "" while it holds.
	ResolvedOn string
}

// Key groups anomalies into one warning.
type Key struct {
	Region    string
	Year      int
	Segment   string
	Severity  int
	Programme string
}

// Inputs are what the rollup has already counted and the detection reuses.
type Inputs struct {
	Tree *region.Tree
	AsOf time.Time
	// NotAided counts identified students without need-based aid, by leaf,
	// year, segment and difficulty level (in Key.Severity).
	NotAided map[Key]int64
	// LeafAid is the amount and records per leaf, year, segment and
	// programme (in Key.Programme).
	LeafAid map[Key][2]int64
}

func inList(codes []string) string {
	q := make([]string, len(codes))
	for i, c := range codes {
		q[i] = "'" + c + "'" // catalogue codes: fixed identifiers, never input
	}
	return "(" + strings.Join(q, ",") + ")"
}

func segmentOf(stage string) string {
	s, _ := catalog.StageOf(stage)
	return string(s.Segment)
}

// Detect runs every rule over the facts and returns the warnings in a
// fixed order, without ids: Replace gives them theirs.
func Detect(w *load.Writer, in Inputs) ([]Warning, error) {
	type acc struct{ subjects, amount int64 }
	groups := map[string]map[Key]*acc{}
	add := func(rule string, k Key, subjects, amount int64) {
		m := groups[rule]
		if m == nil {
			m = map[Key]*acc{}
			groups[rule] = m
		}
		a := m[k]
		if a == nil {
			a = &acc{}
			m[k] = a
		}
		a.subjects += subjects
		a.amount += amount
	}
	for k, n := range in.NotAided {
		if n > 0 {
			sev := map[int]int{1: High, 2: Medium, 3: Low}[k.Severity]
			add(NeedyNotAided, Key{k.Region, k.Year, k.Segment, sev, ""}, n, 0)
		}
	}
	need := inList(catalog.NeedProgrammes())
	err := w.Query(`SELECT a.region_code, a.year, a.stage, COUNT(DISTINCT a.student_id), SUM(a.amount)
		FROM cockpit_aid_records a
		WHERE a.programme IN `+need+`
		AND NOT EXISTS (SELECT 1 FROM cockpit_identifications i WHERE i.student_id = a.student_id AND i.year = a.year)
		GROUP BY a.region_code, a.year, a.stage`, nil, func(scan func(...any) error) error {
		var reg, stage string
		var year int
		var n, amt int64
		if err := scan(&reg, &year, &stage, &n, &amt); err != nil {
			return err
		}
		add(AidToNonNeedy, Key{reg, year, segmentOf(stage), High, ""}, n, amt)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("detect %s: %w", AidToNonNeedy, err)
	}
	pair := catalog.ExclusivePairs[0]
	err = w.Query(`SELECT region_code, year, stage, COUNT(DISTINCT programme),
			SUM(CASE WHEN programme = $1 THEN 1 ELSE 0 END), SUM(CASE WHEN programme = $2 THEN 1 ELSE 0 END), SUM(amount)
		FROM cockpit_aid_records
		GROUP BY student_id, year, region_code, stage
		HAVING COUNT(DISTINCT programme) > $3
			OR (SUM(CASE WHEN programme = $1 THEN 1 ELSE 0 END) > 0 AND SUM(CASE WHEN programme = $2 THEN 1 ELSE 0 END) > 0)`,
		[]any{pair[0], pair[1], catalog.MaxProgrammes}, func(scan func(...any) error) error {
			var reg, stage string
			var year int
			var n, a, b, amt int64
			if err := scan(&reg, &year, &stage, &n, &a, &b, &amt); err != nil {
				return err
			}
			sev := Medium
			if a > 0 && b > 0 {
				sev = High
			}
			add(TooManyProgrammes, Key{reg, year, segmentOf(stage), sev, ""}, 1, amt)
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("detect %s: %w", TooManyProgrammes, err)
	}
	asOf := in.AsOf.Format("2006-01-02")
	err = w.Query(disbursementSQL+` WHERE `+disbursementSeverity+` > 0`, []any{asOf}, func(scan func(...any) error) error {
		var reg, seg string
		var year, sev int
		var allocated, paid int64
		if err := scan(&reg, &year, &seg, &allocated, &paid, &sev); err != nil {
			return err
		}
		add(Disbursement, Key{reg, year, seg, sev, ""}, 1, allocated-paid)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("detect %s: %w", Disbursement, err)
	}
	for k, cur := range in.LeafAid {
		prev, ok := in.LeafAid[Key{k.Region, k.Year - 1, k.Segment, 0, k.Programme}]
		if !ok || prev[0] < 50_000 || prev[1] < 20 {
			continue
		}
		ratio := float64(cur[0]) / float64(prev[0])
		sev := 0
		switch {
		case ratio >= 3:
			sev = High
		case ratio >= 2 || ratio <= 0.4:
			sev = Medium
		}
		if sev > 0 {
			kk := k
			kk.Severity = sev
			add(YearOnYearJump, kk, cur[1], cur[0]-prev[0])
		}
	}
	var out []Warning
	for _, rule := range Rules {
		for k, a := range groups[rule.Code] {
			leaf := in.Tree.Get(k.Region)
			if leaf == nil {
				return nil, fmt.Errorf("detect %s: unknown region %s", rule.Code, k.Region)
			}
			path := leaf.Path()
			prov, city := path[1].Code, ""
			if len(path) > 2 && path[2].Level == region.City {
				city = path[2].Code
			}
			out = append(out, Warning{Rule: rule.Code, Severity: k.Severity, Region: k.Region, Province: prov, City: city,
				Year: k.Year, Segment: k.Segment, Programme: k.Programme, Subjects: a.subjects, Amount: a.amount,
				Detail: detail(rule.Code, k, a.subjects, a.amount)})
		}
	}
	order := map[string]int{}
	for i, r := range Rules {
		order[r.Code] = i
	}
	slices.SortFunc(out, func(a, b Warning) int {
		return cmp.Or(cmp.Compare(order[a.Rule], order[b.Rule]), cmp.Compare(a.Region, b.Region), cmp.Compare(a.Year, b.Year),
			cmp.Compare(a.Segment, b.Segment), cmp.Compare(b.Severity, a.Severity), cmp.Compare(a.Programme, b.Programme))
	})
	return out, nil
}

// disbursementSQL selects allocations with what was paid and the
// severity: 3 when the due day has passed with under 60% paid, 2 under
// 90%, 1 when anything was paid after the due day. $1 is the as-of day.
const disbursementSQL = `SELECT region_code, year, segment, amount, paid, severity FROM (
	SELECT a.id, a.region_code, a.year, a.segment, a.programme, a.source, a.amount, a.due_on,
		COALESCE(d.paid, 0) AS paid, COALESCE(d.late, 0) AS late,
		` + severityExpr + ` AS severity
	FROM cockpit_allocations a
	LEFT JOIN (SELECT allocation_id, SUM(amount) AS paid, SUM(CASE WHEN paid_on > due THEN amount ELSE 0 END) AS late
		FROM (SELECT x.allocation_id, x.amount, x.paid_on, y.due_on AS due FROM cockpit_disbursements x JOIN cockpit_allocations y ON y.id = x.allocation_id) p
		GROUP BY allocation_id) d ON d.allocation_id = a.id
) s`

const severityExpr = `CASE
		WHEN a.due_on < $1 AND COALESCE(d.paid, 0) * 10 < a.amount * 6 THEN 3
		WHEN a.due_on < $1 AND COALESCE(d.paid, 0) * 10 < a.amount * 9 THEN 2
		WHEN COALESCE(d.late, 0) > 0 THEN 1
		ELSE 0 END`

const disbursementSeverity = `s.severity`

func detail(rule string, k Key, n, amount int64) string {
	switch rule {
	case NeedyNotAided:
		return fmt.Sprintf("%d 名已认定困难学生未获资助", n)
	case AidToNonNeedy:
		return fmt.Sprintf("%d 名未认定学生获面向困难学生的资助 %d 元", n, amount)
	case TooManyProgrammes:
		return fmt.Sprintf("%d 名学生超项目资助", n)
	case Disbursement:
		return fmt.Sprintf("%d 笔下达资金发放不足或延迟，未按期发放 %d 元", n, amount)
	case YearOnYearJump:
		p, _ := catalog.ProgrammeOf(k.Programme)
		name := k.Programme
		if p != nil {
			name = p.Name
		}
		return fmt.Sprintf("%s 金额较上年变化 %+d 元", name, amount)
	}
	return ""
}

// Record is one anonymised record behind a warning: the student's
// pseudonym or the allocation number, and what the rule saw.
type Record struct {
	Subject string         `json:"subject"`
	Fields  map[string]any `json:"fields"`
}

func stagesOf(segment string) string {
	var codes []string
	for _, s := range catalog.Stages {
		if string(s.Segment) == segment {
			codes = append(codes, s.Code)
		}
	}
	return inList(codes)
}

// Records returns up to limit records behind a warning, found again by the
// rule's query restricted to the warning's region, year and segment.
func Records(ctx context.Context, db sqldb.Querier, x Warning, asOf time.Time, limit int) ([]Record, error) {
	need := inList(catalog.NeedProgrammes())
	stages := stagesOf(x.Segment)
	var q string
	args := []any{x.Region, x.Year}
	switch x.Rule {
	case NeedyNotAided:
		level := map[int]int{High: 1, Medium: 2, Low: 3}[x.Severity]
		q = `SELECT s.anon_id, s.stage, s.school_id, i.level, i.categories, 0
			FROM cockpit_students s JOIN cockpit_identifications i ON i.student_id = s.id
			WHERE s.region_code = $1 AND i.year = $2 AND s.stage IN ` + stages + ` AND i.level = $3
			AND NOT EXISTS (SELECT 1 FROM cockpit_aid_records a WHERE a.student_id = s.id AND a.year = i.year AND a.programme IN ` + need + `)
			ORDER BY s.anon_id LIMIT $4`
		args = append(args, level, limit)
	case AidToNonNeedy:
		q = `SELECT s.anon_id, a.stage, s.school_id, a.programme, a.paid_on, a.amount
			FROM cockpit_aid_records a JOIN cockpit_students s ON s.id = a.student_id
			WHERE a.region_code = $1 AND a.year = $2 AND a.stage IN ` + stages + ` AND a.programme IN ` + need + `
			AND NOT EXISTS (SELECT 1 FROM cockpit_identifications i WHERE i.student_id = a.student_id AND i.year = a.year)
			ORDER BY s.anon_id, a.programme LIMIT $3`
		args = append(args, limit)
	case TooManyProgrammes:
		q = `SELECT s.anon_id, a.stage, s.school_id, a.programme, a.paid_on, a.amount
			FROM cockpit_aid_records a JOIN cockpit_students s ON s.id = a.student_id
			WHERE a.region_code = $1 AND a.year = $2 AND a.stage IN ` + stages + ` AND a.student_id IN (
				SELECT student_id FROM cockpit_aid_records WHERE region_code = $1 AND year = $2
				GROUP BY student_id HAVING COUNT(DISTINCT programme) > $3
				OR (SUM(CASE WHEN programme = $4 THEN 1 ELSE 0 END) > 0 AND SUM(CASE WHEN programme = $5 THEN 1 ELSE 0 END) > 0))
			ORDER BY s.anon_id, a.programme LIMIT $6`
		pair := catalog.ExclusivePairs[0]
		args = append(args, catalog.MaxProgrammes, pair[0], pair[1], limit)
	case Disbursement:
		q = `SELECT 'F' || CAST(s.id AS TEXT), s.programme, s.source, s.due_on, s.amount, s.paid FROM (
			SELECT a.id, a.region_code, a.year, a.segment, a.programme, a.source, a.amount, a.due_on,
				COALESCE(d.paid, 0) AS paid, ` + strings.ReplaceAll(severityExpr, "$1", "$3") + ` AS severity
			FROM cockpit_allocations a
			LEFT JOIN (SELECT x.allocation_id, SUM(x.amount) AS paid, SUM(CASE WHEN x.paid_on > y.due_on THEN x.amount ELSE 0 END) AS late
				FROM cockpit_disbursements x JOIN cockpit_allocations y ON y.id = x.allocation_id
				WHERE y.region_code = $1 AND y.year = $2 GROUP BY x.allocation_id) d ON d.allocation_id = a.id
			WHERE a.region_code = $1 AND a.year = $2) s
			WHERE s.segment = $4 AND s.severity = $5 ORDER BY s.id LIMIT $6`
		args = append(args, asOf.Format("2006-01-02"), x.Segment, x.Severity, limit)
	case YearOnYearJump:
		q = `SELECT s.anon_id, a.stage, s.school_id, a.programme, a.paid_on, a.amount
			FROM cockpit_aid_records a JOIN cockpit_students s ON s.id = a.student_id
			WHERE a.region_code = $1 AND a.year = $2 AND a.stage IN ` + stages + ` AND a.programme = $3
			ORDER BY s.anon_id LIMIT $4`
		args = append(args, x.Programme, limit)
	default:
		return nil, fmt.Errorf("warning %d: unknown rule %q", x.ID, x.Rule)
	}
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("records of warning %d: %w", x.ID, err)
	}
	defer rows.Close()
	var out []Record
	for rows.Next() {
		var subject, a, c, paidOn string
		switch x.Rule {
		case NeedyNotAided:
			var school, level, cats, zero int64
			if err := rows.Scan(&subject, &a, &school, &level, &cats, &zero); err != nil {
				return nil, fmt.Errorf("records of warning %d: %w", x.ID, err)
			}
			out = append(out, Record{subject, map[string]any{"stage": a, "school_id": school, "level": level, "level_name": catalog.LevelName(int(level)), "categories": categoryNames(cats)}})
		case Disbursement:
			var src, due string
			var amount, paid int64
			if err := rows.Scan(&subject, &a, &src, &due, &amount, &paid); err != nil {
				return nil, fmt.Errorf("records of warning %d: %w", x.ID, err)
			}
			out = append(out, Record{subject, map[string]any{"programme": a, "source": src, "due_on": due, "allocated": amount, "disbursed": paid}})
		default:
			var school, amount int64
			if err := rows.Scan(&subject, &a, &school, &c, &paidOn, &amount); err != nil {
				return nil, fmt.Errorf("records of warning %d: %w", x.ID, err)
			}
			out = append(out, Record{subject, map[string]any{"stage": a, "school_id": school, "programme": c, "paid_on": paidOn, "amount": amount}})
		}
	}
	return out, rows.Err()
}

func categoryNames(bits int64) []string {
	out := []string{}
	for _, c := range catalog.Categories {
		if bits&c.Bit != 0 {
			out = append(out, c.Name)
		}
	}
	return out
}
