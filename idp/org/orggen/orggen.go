// Package orggen writes realistic organisation-tree import files, for
// the import benchmark and for trying the admin console on a national-size
// tree: the seeded ministry and province-level units, the real cities and
// counties of the 2023 division tables, schools under every county,
// universities under the provinces (and central universities under the
// ministry), university departments and the village teaching points run by
// rural central schools. Output is deterministic for a given seed.
package orggen

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"

	"github.com/xszz/xszz/idp/org"
	"github.com/xszz/xszz/internal/divisions"
)

// Options shape a generated file.
type Options struct {
	Rows    int    // data rows to write; at least MinRows
	Seed    uint64 // same seed, same file
	Shuffle bool   // write rows in random order instead of parents first
}

// MinRows is the smallest file: every administrative unit, with at least
// a few hundred schools.
const MinRows = 4000

// Row is one line of an import file.
type Row struct {
	ID, ParentID, Name, Level, RegionCode, Kind string
	Stages                                      []string
}

// Generate writes a file of opt.Rows data rows with the import header.
func Generate(w io.Writer, opt Options) error {
	rows, err := Rows(opt)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	cw := csv.NewWriter(bw)
	if err := cw.Write(strings.Split(org.ImportHeader, ",")); err != nil {
		return fmt.Errorf("write header: %w", err)
	}
	rec := make([]string, 7)
	for _, r := range rows {
		kind := r.Kind
		if kind == org.KindRegular {
			kind = ""
		}
		rec[0], rec[1], rec[2], rec[3], rec[4], rec[5], rec[6] = r.ID, r.ParentID, r.Name, r.Level, r.RegionCode, kind, strings.Join(r.Stages, ";")
		if err := cw.Write(rec); err != nil {
			return fmt.Errorf("write row %s: %w", r.ID, err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write rows: %w", err)
	}
	return bw.Flush()
}

// placeholders are NBS city rows that only group counties a province
// governs directly; those counties hang under the province instead.
var placeholders = map[string]bool{"市辖区": true, "县": true, "省直辖县级行政区划": true, "自治区直辖县级行政区划": true}

// corpsCities is the NBS group of 兵团 cities (石河子 …), which the
// generator puts under the corps.
const corpsCities = "659000"

type schoolType struct {
	weight int
	suffix string
	stages []string
}

var k12Types = []schoolType{
	{45, "幼儿园", []string{org.StagePreschool}},
	{32, "小学", []string{org.StageCompulsory}},
	{10, "初级中学", []string{org.StageCompulsory}},
	{3, "九年一贯制学校", []string{org.StageCompulsory}},
	{5, "高级中学", []string{org.StageHighSchool}},
	{2, "完全中学", []string{org.StageCompulsory, org.StageHighSchool}},
	{3, "职业中等专业学校", []string{org.StageSecondaryVocational}},
}

var (
	uniWords  = []string{"理工", "师范", "医科", "财经", "农业", "工业", "科技", "交通", "外国语", "艺术", "中医药", "政法", "石油", "林业", "海洋", "电力"}
	deptNames = []string{"计算机学院", "数学学院", "物理学院", "化学学院", "文学院", "外国语学院", "经济学院", "管理学院",
		"法学院", "医学院", "机械工程学院", "电气工程学院", "土木工程学院", "材料学院", "生命科学学院", "马克思主义学院",
		"艺术学院", "体育学院", "教育学院", "历史学院", "新闻传播学院", "公共管理学院", "环境学院", "农学院", "建筑学院",
		"研究生院", "继续教育学院", "国际学院", "软件学院", "信息学院"}
)

// Rows builds the rows Generate writes.
func Rows(opt Options) ([]Row, error) {
	if opt.Rows < MinRows {
		return nil, fmt.Errorf("orggen: %d rows requested, at least %d needed", opt.Rows, MinRows)
	}
	rng := rand.New(rand.NewPCG(opt.Seed, opt.Seed^0x9e3779b97f4a7c15))
	seeds, err := org.SeedOrgs()
	if err != nil {
		return nil, err
	}
	provs, err := divisions.Provinces()
	if err != nil {
		return nil, err
	}
	cities, err := divisions.Cities()
	if err != nil {
		return nil, err
	}
	counties, err := divisions.Counties()
	if err != nil {
		return nil, err
	}
	rows := make([]Row, 0, opt.Rows)
	short := map[string]string{}
	for _, p := range provs {
		short[p.Code] = p.Short
	}
	for _, s := range seeds {
		rows = append(rows, Row{s.ID, s.ParentID, s.Name, s.Level, s.RegionCode, s.Kind, s.Stages})
	}

	// Administrative units. A county's parent is its city, or the
	// province when the city row is a placeholder.
	placed := map[string]string{} // city code → org id counties go under
	for _, s := range seeds {
		placed[s.ID] = s.ID
	}
	for _, c := range cities {
		switch {
		case c.Code == corpsCities:
			placed[c.Code] = "660000"
		case placeholders[c.Name]:
			placed[c.Code] = c.Parent
		case placed[c.Code] != "": // a planned city, already seeded
		default:
			placed[c.Code] = c.Code
			rows = append(rows, Row{c.Code, c.Parent, c.Name + "学生资助管理中心", org.LevelCity, c.Code, org.KindRegular, nil})
		}
	}
	type county struct{ id, name, province string }
	var cs []county
	for _, c := range counties {
		parent := placed[c.Parent]
		if parent == "" {
			return nil, fmt.Errorf("orggen: county %s: city %s unknown", c.Code, c.Parent)
		}
		// 东莞, 中山 and 儋州 have no counties: NBS lists the city
		// itself once more as its only county. Schools go under the city.
		if c.Code != c.Parent {
			rows = append(rows, Row{c.Code, parent, c.Name + "学生资助管理中心", org.LevelCounty, c.Code, org.KindRegular, nil})
		}
		cs = append(cs, county{c.Code, c.Name, c.Code[:2] + "0000"})
	}

	// Budget the rest: 0.5% universities with ~20 departments each, 1%
	// village teaching points, the remainder K-12 and vocational schools.
	rest := opt.Rows - len(rows)
	nUni := max(rest/200, 10)
	nVillage := rest / 100

	// Universities: a few central ones under the ministry, the rest under
	// their province. 学校标识码 of higher education: 41 + province + seq.
	var unis []Row
	uniSeq := map[string]int{}
	var provCodes []string
	for _, s := range seeds {
		if s.Level == org.LevelProvince && s.Kind == org.KindRegular {
			provCodes = append(provCodes, s.ID)
		}
	}
	for i := range nUni {
		prov := provCodes[rng.IntN(len(provCodes))]
		uniSeq[prov]++
		id := fmt.Sprintf("41%s%06d", prov[:2], uniSeq[prov])
		word := uniWords[rng.IntN(len(uniWords))]
		u := Row{ID: id, ParentID: prov, Level: org.LevelSchool, RegionCode: prov, Kind: org.KindRegular}
		switch r := rng.IntN(10); {
		case r < 3:
			u.Name = fmt.Sprintf("%s%s职业技术学院", short[prov], word)
			u.Stages = []string{org.StageHigherVocational}
		case r < 6:
			u.Name = fmt.Sprintf("%s%s学院", short[prov], word)
			u.Stages = []string{org.StageUndergraduate}
		case r < 8:
			u.Name = fmt.Sprintf("%s%s大学", short[prov], word)
			u.Stages = []string{org.StageUndergraduate, org.StageMaster}
		default:
			u.Name = fmt.Sprintf("%s%s大学", short[prov], word)
			u.Stages = []string{org.StageUndergraduate, org.StageMaster, org.StageDoctoral}
		}
		if i%25 == 0 {
			u.ParentID, u.Kind = org.RootID, org.KindCentralUniversity
			u.Name = fmt.Sprintf("%s%s大学", short[prov], word)
			u.Stages = []string{org.StageUndergraduate, org.StageMaster, org.StageDoctoral}
		}
		unis = append(unis, u)
	}
	rows = append(rows, unis...)
	for _, u := range unis {
		n := 10 + rng.IntN(21)
		if budget := opt.Rows - len(rows) - nVillage - len(cs); n > budget {
			n = max(budget, 0)
		}
		for j := range n {
			rows = append(rows, Row{fmt.Sprintf("%s-%02d", u.ID, j+1), u.ID, deptNames[j%len(deptNames)],
				org.LevelDepartment, u.RegionCode, org.KindRegular, u.Stages})
		}
	}

	// Schools, spread over counties with uneven weights. K-12 学校标识码:
	// type digit 2 + county code + three-digit sequence.
	nSchools := opt.Rows - len(rows) - nVillage
	weights := make([]float64, len(cs))
	var total float64
	for i := range weights {
		weights[i] = 0.5 + rng.Float64()
		total += weights[i]
	}
	per := make([]int, len(cs))
	given := 0
	for i := range per {
		per[i] = int(float64(nSchools) * weights[i] / total)
		given += per[i]
	}
	for i := 0; given < nSchools; i = (i + 1) % len(per) {
		per[i]++
		given++
	}
	var primaries []int
	pickType := func() schoolType {
		r := rng.IntN(100)
		for _, t := range k12Types {
			if r < t.weight {
				return t
			}
			r -= t.weight
		}
		return k12Types[0]
	}
	for i, c := range cs {
		if per[i] > 999 {
			return nil, fmt.Errorf("orggen: %d rows put %d schools in county %s; at most 999 fit its code range", opt.Rows, per[i], c.id)
		}
		for j := range per[i] {
			t := pickType()
			if t.suffix == "小学" {
				primaries = append(primaries, len(rows))
			}
			rows = append(rows, Row{fmt.Sprintf("2%s%03d", c.id, j+1), c.id, fmt.Sprintf("%s第%d%s", c.name, j+1, t.suffix),
				org.LevelSchool, c.id, org.KindRegular, t.stages})
		}
	}

	// Village teaching points under rural central primary schools.
	for left := nVillage; left > 0 && len(primaries) > 0; {
		k := rng.IntN(len(primaries))
		school := rows[primaries[k]]
		primaries[k] = primaries[len(primaries)-1]
		primaries = primaries[:len(primaries)-1]
		n := min(1+rng.IntN(5), left)
		for j := range n {
			rows = append(rows, Row{fmt.Sprintf("%s-%02d", school.ID, j+1), school.ID, fmt.Sprintf("%s第%d教学点", school.Name, j+1),
				org.LevelDepartment, school.RegionCode, org.KindRegular, school.Stages})
		}
		left -= n
	}
	if len(rows) != opt.Rows {
		return nil, fmt.Errorf("orggen: built %d rows, want %d", len(rows), opt.Rows)
	}
	if opt.Shuffle {
		rng.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
	}
	return rows, nil
}
