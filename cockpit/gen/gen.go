// Package gen generates a deterministic, realistic aid data set over every
// region of the reporting tree, with the programmes and amounts of
// shared/data/aid_programs.md and deliberate anomalies for every warning
// rule, then rebuilds the rollups.
package gen

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/xszz/xszz/cockpit/catalog"
	"github.com/xszz/xszz/cockpit/facts"
	"github.com/xszz/xszz/cockpit/load"
	"github.com/xszz/xszz/cockpit/progress"
	"github.com/xszz/xszz/cockpit/region"
	"github.com/xszz/xszz/cockpit/rollup"
	"github.com/xszz/xszz/internal/sqldb"
)

// Options say how much to generate.
type Options struct {
	// Records is the number of aid records, about (students are added until
	// each region reaches its share).
	Records int
	// Seed makes the data set: the same seed gives the same rows.
	Seed uint64
	// Years are the school years generated; default 2023, 2024, 2025.
	Years []int
	// Progress receives a progress bar (on a terminal) or a summary line.
	Progress io.Writer
	// AsOf is the day lateness is judged for the warnings; default now.
	AsOf time.Time
}

// Stats report what was written.
type Stats struct {
	Students, Identifications, Records, Allocations int64
	Took                                            time.Duration
}

// Anomaly rates, per student-year unless said otherwise.
const (
	rateNotAided   = 0.03  // identified, no need-based aid
	rateNonNeedy   = 0.006 // not identified, need-based aid
	rateTooMany    = 0.004 // exclusive pair or more than allowed
	rateLowDisb    = 0.02  // per allocation: disbursed well below target
	rateLate       = 0.03  // per allocation: paid after the due day
	rateJumpRegion = 0.01  // per leaf: one programme jumps in the last year
)

// stage weights for an urban district, a rural county and a central
// university unit.
var (
	urbanStages   = []float64{6, 22, 16, 12, 8, 9, 12, 4, 1}
	ruralStages   = []float64{8, 34, 24, 14, 10, 6, 4, 0, 0}
	centralStages = []float64{0, 0, 0, 0, 0, 0, 70, 24, 6}
)

// Run replaces the cockpit's facts with a generated set and refreshes the
// rollups.
func Run(ctx context.Context, db *sqldb.DB, tree *region.Tree, o Options) (Stats, error) {
	if o.Records <= 0 {
		return Stats{}, errors.New("gen: records must be positive")
	}
	if len(o.Years) == 0 {
		o.Years = []int{2023, 2024, 2025}
	}
	if o.AsOf.IsZero() {
		o.AsOf = time.Now()
	}
	start := time.Now()
	leaves := tree.Leaves(tree.Root)
	weights := make([]float64, len(leaves))
	var total float64
	for i, l := range leaves {
		r := rand.New(rand.NewPCG(o.Seed, uint64(i)<<32|0xfeed))
		w := 0.3 + 2.7*r.Float64()
		if strings.HasSuffix(l.Name, "区") {
			w *= 1.6
		}
		if l.Code == region.CentralCode {
			w = 120
		}
		weights[i] = w
		total += w
	}
	bar := progress.New(o.Progress, int64(o.Records), "records")
	var st Stats
	g := &generator{o: o, forced: map[string]bool{}}
	err := load.Run(ctx, db, func(w *load.Writer) error {
		if err := facts.Clear(w); err != nil {
			return err
		}
		for i, leaf := range leaves {
			if err := ctx.Err(); err != nil {
				return err
			}
			target := int64(float64(o.Records) * weights[i] / total)
			if target < 8 {
				target = 8 // no region left out, however small the set
			}
			before := g.records
			if err := g.leaf(w, i, leaf, target); err != nil {
				return fmt.Errorf("gen %s: %w", leaf.Code, err)
			}
			bar.Add(g.records - before)
		}
		return nil
	})
	if err != nil {
		return st, err
	}
	bar.Done()
	st = Stats{Students: g.students, Identifications: g.idents, Records: g.records, Allocations: g.allocs}
	if o.Progress != nil {
		fmt.Fprintln(o.Progress, "refreshing rollups and warnings…")
	}
	if _, err := rollup.Refresh(ctx, db, tree, o.AsOf); err != nil {
		return st, err
	}
	st.Took = time.Since(start)
	return st, nil
}

type generator struct {
	o                                 Options
	students, idents, records, allocs int64
	schoolID, disbID                  int64
	// forced anomalies not yet placed: each rule gets at least one, in the
	// first region where it can happen.
	forced map[string]bool
}

func (g *generator) force(name string) bool {
	if g.forced[name] {
		return false
	}
	g.forced[name] = true
	return true
}

type fundKey struct {
	year               int
	segment, prog, src string
}

func pick(r *rand.Rand, w []float64) int {
	var t float64
	for _, x := range w {
		t += x
	}
	v := r.Float64() * t
	for i, x := range w {
		if v < x {
			return i
		}
		v -= x
	}
	return len(w) - 1
}

func date(r *rand.Rand, year, fromMonth, toMonth int) string {
	m := fromMonth + r.IntN(toMonth-fromMonth+1)
	return fmt.Sprintf("%04d-%02d-%02d", year, m, 1+r.IntN(28))
}

// leaf generates one region's students until it has target records.
func (g *generator) leaf(w *load.Writer, idx int, leaf *region.Node, target int64) error {
	r := rand.New(rand.NewPCG(g.o.Seed, uint64(idx)))
	urban := strings.HasSuffix(leaf.Name, "区") || leaf.Level == region.City
	weights := ruralStages
	switch {
	case leaf.Code == region.CentralCode:
		weights = centralStages
	case urban:
		weights = urbanStages
	}
	years := g.o.Years
	last := years[len(years)-1]
	// A jump region triples one programme's payments in the last year.
	jumpProg := ""
	// The central universities always jump: their unit is large enough
	// for the rule's floor even in a small set.
	if r.Float64() < rateJumpRegion || (len(years) > 1 && leaf.Code == region.CentralCode) {
		jumpProg = "living"
		if leaf.Code == region.CentralCode {
			jumpProg = "he_grant"
		}
	}
	schools := map[string]int64{}
	enrol := map[[2]int]int64{} // year, stage index → students
	funds := map[fundKey]int64{}
	var recs int64
	for recs < target {
		si := pick(r, weights)
		stage := catalog.Stages[si]
		sch, ok := schools[stage.Code]
		if !ok {
			g.schoolID++
			sch = g.schoolID
			schools[stage.Code] = sch
			if err := w.Add(facts.Schools, sch, fmt.Sprintf("G%s%02d", leaf.Code, si), leaf.Code, leaf.Name+stage.Name+"学校"); err != nil {
				return err
			}
		}
		g.students++
		sid := g.students
		if err := w.Add(facts.Students, sid, fmt.Sprintf("A%011d", sid), leaf.Code, sch, stage.Code); err != nil {
			return err
		}
		progs := catalog.ForStage(stage.Code)
		needy := r.Float64() < 0.55
		level := 1 + pick(r, []float64{25, 40, 35})
		cats := categories(r, level)
		for yi, year := range years {
			enrol[[2]int{yi, si}]++
			identified := needy && r.Float64() < 0.92
			if identified {
				g.idents++
				if err := w.Add(facts.Identifications, sid, year, level, cats); err != nil {
					return err
				}
			}
			var chosen []*catalog.Programme
			for _, p := range progs {
				switch p.Kind {
				case catalog.Universal:
					if p.Code == "nutrition" && urban {
						continue
					}
					if r.Float64() < 0.9 {
						chosen = append(chosen, p)
					}
				case catalog.Merit:
					if r.Float64() < 0.02 {
						chosen = append(chosen, p)
					}
				case catalog.Need:
					if identified && needShare(p.Code, r) {
						chosen = append(chosen, p)
					}
				}
			}
			if identified && !hasNeed(chosen) {
				chosen = append(chosen, firstNeed(progs))
			}
			switch {
			case identified && (r.Float64() < rateNotAided || g.force("not_aided")):
				chosen = dropNeed(chosen)
			case !identified && (r.Float64() < rateNonNeedy || g.force("non_needy")):
				if p := firstNeed(progs); p != nil {
					chosen = append(chosen, p)
				}
			case identified && len(progs) > catalog.MaxProgrammes && (r.Float64() < rateTooMany || g.force("too_many")):
				// Every programme of the stage, which for higher
				// education includes both 国家奖学金 and 国家励志奖学金.
				chosen = progs
			}
			for _, p := range chosen {
				if p == nil {
					continue
				}
				amount := float64(p.Amount[stage.Code]) * p.Tiers[r.IntN(len(p.Tiers))]
				if p.Code == jumpProg && year == last {
					amount *= 3
				}
				src := p.Source
				if src == "central" && r.Float64() < 0.2 {
					src = "local"
				}
				g.records++
				recs++
				amt := int64(amount)
				if err := w.Add(facts.AidRecords, g.records, sid, year, leaf.Code, stage.Code, p.Code, src, amt, date(r, year, 3, 11)); err != nil {
					return err
				}
				funds[fundKey{year, string(stage.Segment), p.Code, src}] += amt
			}
		}
	}
	for k, n := range enrol {
		// The generated students are the ones with aid or an
		// identification; the enrolled are several times more.
		enrolled := n*4 + int64(r.IntN(int(n)+1))
		if err := w.Add(facts.Enrolment, leaf.Code, years[k[0]], catalog.Stages[k[1]].Code, enrolled); err != nil {
			return err
		}
	}
	return g.allocations(w, r, leaf, funds)
}

// allocations writes the funds behind a region's aid: allocated a little
// above what was paid out, disbursed in one or two payments before the due
// day, with shortfalls and late payments for the funds warning.
func (g *generator) allocations(w *load.Writer, r *rand.Rand, leaf *region.Node, funds map[fundKey]int64) error {
	keys := make([]fundKey, 0, len(funds))
	for k := range funds {
		keys = append(keys, k)
	}
	// Map order is random; sort for a deterministic data set.
	slices.SortFunc(keys, func(a, b fundKey) int {
		return cmp.Or(cmp.Compare(a.year, b.year), cmp.Compare(a.segment, b.segment), cmp.Compare(a.prog, b.prog), cmp.Compare(a.src, b.src))
	})
	for _, k := range keys {
		paid := funds[k]
		g.allocs++
		id := g.allocs
		allocated := (paid*(100+int64(r.IntN(4))) + 99_999) / 100_000 * 1000
		if err := w.Add(facts.Allocations, id, leaf.Code, k.year, k.segment, k.prog, k.src, allocated, fmt.Sprintf("%04d-02-20", k.year), fmt.Sprintf("%04d-11-30", k.year)); err != nil {
			return err
		}
		disbursed := allocated
		if r.Float64() < rateLowDisb || g.force("low_disbursement") {
			disbursed = allocated * int64(30+r.IntN(50)) / 100
		}
		late := r.Float64() < rateLate || g.force("late")
		first := disbursed * 6 / 10
		payments := [][2]any{{first, date(r, k.year, 3, 6)}, {disbursed - first, date(r, k.year, 7, 11)}}
		if late {
			payments[1][1] = fmt.Sprintf("%04d-%02d-%02d", k.year+1, 1+r.IntN(3), 1+r.IntN(28))
		}
		for _, p := range payments {
			if p[0].(int64) == 0 {
				continue
			}
			g.disbID++
			if err := w.Add(facts.Disbursements, g.disbID, id, p[0], p[1]); err != nil {
				return err
			}
		}
	}
	return nil
}

func categories(r *rand.Rand, level int) int64 {
	switch level {
	case 1:
		special := []int{0, 2, 3, 4, 5, 6, 7, 8}
		bits := catalog.Categories[special[pick(r, []float64{40, 25, 6, 5, 3, 1, 8, 6})]].Bit
		if r.Float64() < 0.15 {
			bits |= catalog.Categories[1].Bit
		}
		return bits
	case 2:
		if r.Float64() < 0.5 {
			return catalog.Categories[[]int{0, 1, 9}[r.IntN(3)]].Bit
		}
		return catalog.Categories[10].Bit
	}
	if r.Float64() < 0.3 {
		return catalog.Categories[10].Bit
	}
	return 0
}

// needShare says whether an identified student gets a need programme.
func needShare(code string, r *rand.Rand) bool {
	switch code {
	case "he_inspire":
		return r.Float64() < 0.25
	case "loan_home":
		return r.Float64() < 0.35
	case "loan_campus":
		return r.Float64() < 0.08
	case "work_study":
		return r.Float64() < 0.2
	case "hs_fee":
		return r.Float64() < 0.7
	}
	return r.Float64() < 0.85
}

func hasNeed(ps []*catalog.Programme) bool {
	for _, p := range ps {
		if p != nil && p.Kind == catalog.Need {
			return true
		}
	}
	return false
}

func firstNeed(ps []*catalog.Programme) *catalog.Programme {
	for _, p := range ps {
		if p.Kind == catalog.Need {
			return p
		}
	}
	return nil
}

func dropNeed(ps []*catalog.Programme) []*catalog.Programme {
	var out []*catalog.Programme
	for _, p := range ps {
		if p != nil && p.Kind != catalog.Need {
			out = append(out, p)
		}
	}
	return out
}
