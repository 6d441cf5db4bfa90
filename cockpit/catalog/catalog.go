// Package catalog names what the aid data is made of: education stages and
// the three segments, aid programmes with their standard amounts
// (shared/data/aid_programs.md), funding sources, difficulty levels and the
// special categories. Codes are stored; names are shown.
package catalog

import "strings"

// Segment is basic, vocational or higher education.
type Segment string

const (
	Basic      Segment = "basic"
	Vocational Segment = "vocational"
	Higher     Segment = "higher"
)

// Segments in display order.
var Segments = []Segment{Basic, Vocational, Higher}

// SegmentName is the Chinese name of a segment.
var SegmentName = map[Segment]string{Basic: "基础教育", Vocational: "职业教育", Higher: "高等教育"}

// Stage is an education stage.
type Stage struct {
	Code    string
	Name    string
	Segment Segment
}

// Stages in display order.
var Stages = []Stage{
	{"preschool", "学前", Basic},
	{"primary", "小学", Basic},
	{"junior", "初中", Basic},
	{"senior", "普通高中", Basic},
	{"secvoc", "中职", Vocational},
	{"highervoc", "高职(专科)", Vocational},
	{"bachelor", "本科", Higher},
	{"master", "硕士", Higher},
	{"doctor", "博士", Higher},
}

// Kind says why a programme is given.
type Kind int

const (
	// Need programmes go to students identified as in difficulty; aid from
	// one to a student not identified is a warning.
	Need Kind = iota
	// Merit programmes reward results.
	Merit
	// Universal programmes go to every student of the stage (free tuition,
	// nutrition meals, postgraduate grants).
	Universal
)

// Programme is one aid programme. Amounts are yuan per student per year,
// per stage; the generator varies them around the standard by tier.
type Programme struct {
	Code   string
	Name   string
	Kind   Kind
	Amount map[string]int64 // stage code → standard amount
	// Tiers multiply the standard (grants come in 2–3 tiers).
	Tiers []float64
	// Source is the main funding source.
	Source string
}

// Programmes in display order.
var Programmes = []Programme{
	{"pre_aid", "学前教育资助", Need, map[string]int64{"preschool": 1000}, []float64{0.8, 1, 1.2}, "local"},
	{"living", "义务教育生活补助", Need, map[string]int64{"primary": 1250, "junior": 1500}, []float64{0.5, 1}, "central"},
	{"nutrition", "营养改善计划", Universal, map[string]int64{"primary": 1000, "junior": 1000}, []float64{1}, "central"},
	{"hs_fee", "普高免学杂费", Need, map[string]int64{"senior": 800}, []float64{1}, "local"},
	{"hs_grant", "普高国家助学金", Need, map[string]int64{"senior": 2300}, []float64{0.5, 1, 1.3}, "central"},
	{"voc_fee", "中职免学费", Universal, map[string]int64{"secvoc": 2200}, []float64{1}, "central"},
	{"voc_grant", "中职国家助学金", Need, map[string]int64{"secvoc": 2300}, []float64{0.8, 1, 1.2}, "central"},
	{"voc_scholar", "中职国家奖学金", Merit, map[string]int64{"secvoc": 6000}, []float64{1}, "central"},
	{"he_national", "国家奖学金", Merit, map[string]int64{"highervoc": 10000, "bachelor": 10000, "master": 20000, "doctor": 30000}, []float64{1}, "central"},
	{"he_inspire", "国家励志奖学金", Need, map[string]int64{"highervoc": 6000, "bachelor": 6000}, []float64{1}, "central"},
	{"he_grant", "国家助学金", Need, map[string]int64{"highervoc": 3700, "bachelor": 3700, "master": 6000, "doctor": 15000}, []float64{0.81, 1, 1.19}, "central"},
	{"pg_academic", "研究生学业奖学金", Universal, map[string]int64{"master": 10000, "doctor": 12000}, []float64{0.6, 1}, "central"},
	{"loan_home", "生源地信用助学贷款", Need, map[string]int64{"highervoc": 20000, "bachelor": 20000, "master": 25000, "doctor": 25000}, []float64{0.4, 0.6, 0.8, 1}, "bank"},
	{"loan_campus", "校园地国家助学贷款", Need, map[string]int64{"highervoc": 20000, "bachelor": 20000, "master": 25000, "doctor": 25000}, []float64{0.4, 0.6, 0.8, 1}, "bank"},
	{"work_study", "勤工助学", Need, map[string]int64{"highervoc": 2000, "bachelor": 2000, "master": 3000, "doctor": 3000}, []float64{0.5, 1}, "school"},
}

// ExclusivePairs may not both go to one student in one year (国家奖学金
// and 国家励志奖学金 in the same school year).
var ExclusivePairs = [][2]string{{"he_national", "he_inspire"}}

// MaxProgrammes is how many programmes one student may receive in a year
// before the warning rule fires.
const MaxProgrammes = 4

// Sources of funds.
var Sources = []struct{ Code, Name string }{
	{"central", "中央财政"},
	{"local", "地方财政"},
	{"school", "学校事业收入"},
	{"social", "社会资助"},
	{"bank", "金融机构(贷款)"},
}

// Difficulty levels; 0 means not identified.
var Levels = []struct {
	Level int
	Name  string
}{{1, "特别困难"}, {2, "比较困难"}, {3, "一般困难"}}

// Categories are bits of the identification's categories column.
var Categories = []struct {
	Bit  int64
	Code string
	Name string
}{
	{1 << 0, "poverty", "脱贫家庭"},
	{1 << 1, "monitored", "防返贫监测对象"},
	{1 << 2, "dibao", "低保"},
	{1 << 3, "tekun", "特困供养"},
	{1 << 4, "orphan", "孤儿"},
	{1 << 5, "unattended", "事实无人抚养儿童"},
	{1 << 6, "martyr", "烈士子女"},
	{1 << 7, "disabled", "残疾学生"},
	{1 << 8, "disabled_parent", "残疾人子女"},
	{1 << 9, "needy_worker", "困难职工子女"},
	{1 << 10, "other", "其他"},
}

var (
	stageByCode     = map[string]Stage{}
	programmeByCode = map[string]*Programme{}
	sourceName      = map[string]string{}
)

func init() {
	for _, s := range Stages {
		stageByCode[s.Code] = s
	}
	for i := range Programmes {
		programmeByCode[Programmes[i].Code] = &Programmes[i]
	}
	for _, s := range Sources {
		sourceName[s.Code] = s.Name
	}
}

// StageOf returns the stage with the code.
func StageOf(code string) (Stage, bool) { s, ok := stageByCode[code]; return s, ok }

// ProgrammeOf returns the programme with the code.
func ProgrammeOf(code string) (*Programme, bool) { p, ok := programmeByCode[code]; return p, ok }

// SourceName returns a source's Chinese name ("" if unknown).
func SourceName(code string) string { return sourceName[code] }

// LevelName returns a difficulty level's name.
func LevelName(l int) string {
	for _, x := range Levels {
		if x.Level == l {
			return x.Name
		}
	}
	return "不困难"
}

// ParseCategories turns "低保|孤儿" (names or codes) into bits.
func ParseCategories(s string) (int64, bool) {
	var bits int64
	for _, part := range strings.Split(s, "|") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		found := false
		for _, c := range Categories {
			if part == c.Code || part == c.Name {
				bits |= c.Bit
				found = true
			}
		}
		if !found {
			return 0, false
		}
	}
	return bits, true
}

// NeedProgrammes lists the codes of Need programmes, for SQL IN lists.
func NeedProgrammes() []string {
	var out []string
	for _, p := range Programmes {
		if p.Kind == Need {
			out = append(out, p.Code)
		}
	}
	return out
}

// ForStage lists the programmes given at a stage.
func ForStage(stage string) []*Programme {
	var out []*Programme
	for i := range Programmes {
		if _, ok := Programmes[i].Amount[stage]; ok {
			out = append(out, &Programmes[i])
		}
	}
	return out
}
