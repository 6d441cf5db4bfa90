// Package org keeps the organisation tree of the national student-aid
// deployment: the ministry at the root, province-level units, cities,
// counties, schools and their departments. It checks where each kind of
// unit may sit, stores the tree as a materialised path so that subtree
// questions ("everything under Jiangsu", "is this school under that
// county?") are one index range or one key lookup, imports the whole tree
// from CSV, and gives the token issuer a cached org claim.
//
// The model and the rules are described in docs/orgs.md.
package org

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Org is one unit of the tree.
type Org struct {
	ID         string   `json:"id"`
	ParentID   string   `json:"parent_id,omitempty"` // empty for the root only
	Name       string   `json:"name"`
	Level      string   `json:"level"`                 // LevelMinistry … LevelDepartment
	RegionCode string   `json:"region_code,omitempty"` // GB/T 2260 six digits; may be empty for departments
	Kind       string   `json:"kind"`                  // KindRegular unless the unit reports out of line
	Stages     []string `json:"stages,omitempty"`
	Lines      []string `json:"lines,omitempty"` // business lines: LineAid, LineNutrition
	Status     string   `json:"status"`          // StatusActive or StatusDisabled
	Path       []string `json:"path"`            // ids from the root down to and including this unit
	Depth      int      `json:"depth"`           // 0 for the root
}

// Levels: the six tiers of "一级部署，六级应用".
const (
	LevelMinistry   = "ministry"
	LevelProvince   = "province"
	LevelCity       = "city"
	LevelCounty     = "county"
	LevelSchool     = "school"
	LevelDepartment = "department"
)

// Kinds mark units that do not report through the ordinary line.
const (
	KindRegular = "regular"
	// KindPlannedCity is one of the five 计划单列市 (Dalian, Qingdao,
	// Ningbo, Xiamen, Shenzhen): level city, but it reports like a
	// province, so it sits directly under the ministry.
	KindPlannedCity = "planned-city"
	// KindCorps is 新疆生产建设兵团: level province, under the ministry.
	KindCorps = "corps"
	// KindCentralUniversity is a university run by a central ministry
	// (中央部门所属高校): level school, directly under the ministry.
	KindCentralUniversity = "central-university"
)

// Education stages an organisation handles.
const (
	StagePreschool           = "preschool"
	StageCompulsory          = "compulsory"
	StageHighSchool          = "high_school"
	StageSecondaryVocational = "secondary_vocational"
	StageHigherVocational    = "higher_vocational"
	StageUndergraduate       = "undergraduate"
	StageMaster              = "master"
	StageDoctoral            = "doctoral"
)

// Business lines an organisation works in.
const (
	LineAid       = "aid"       // 学生资助
	LineNutrition = "nutrition" // 农村义务教育学生营养改善计划
)

// Statuses of an organisation.
const (
	StatusActive   = "active"
	StatusDisabled = "disabled"
)

// RootID and RootName identify the ministry, the only root of the tree.
const (
	RootID   = "000000"
	RootName = "全国学生资助管理中心"
)

// Levels, Kinds, Stages and Lines list the valid values in a stable
// order, for forms and documentation.
var (
	Levels = []string{LevelMinistry, LevelProvince, LevelCity, LevelCounty, LevelSchool, LevelDepartment}
	Kinds  = []string{KindRegular, KindPlannedCity, KindCorps, KindCentralUniversity}
	Stages = []string{StagePreschool, StageCompulsory, StageHighSchool, StageSecondaryVocational,
		StageHigherVocational, StageUndergraduate, StageMaster, StageDoctoral}
	Lines = []string{LineAid, LineNutrition}
)

// levelNames are the Chinese names of the levels, for messages shown in
// the admin console.
var levelNames = map[string]string{
	LevelMinistry:   "部级单位",
	LevelProvince:   "省级单位",
	LevelCity:       "地市级单位",
	LevelCounty:     "区县级单位",
	LevelSchool:     "学校",
	LevelDepartment: "院系/中心校",
}

const (
	maxIDLen   = 64
	maxNameLen = 100 // runes
)

// validID reports whether id may be used as an organisation id. Ids are
// path segments, so '/' is out; the rest is kept to what region codes,
// school codes and sensible department codes use, which also keeps ids
// safe in URLs, CSV and LIKE patterns.
func validID(id string) bool {
	if id == "" || len(id) > maxIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '-', c == '.':
		default:
			return false
		}
	}
	return true
}

func validRegionCode(code string) bool {
	if code == "" {
		return true
	}
	if len(code) != 6 {
		return false
	}
	for i := 0; i < len(code); i++ {
		if code[i] < '0' || code[i] > '9' {
			return false
		}
	}
	return true
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// checkFields checks every field of o that does not depend on other
// units. It returns a *RuleError naming the first bad field.
func checkFields(o *Org) error {
	bad := func(field, msg, zh string) error {
		return &RuleError{Rule: RuleField, OrgID: o.ID,
			Message: fmt.Sprintf("%s: %s", field, msg), Chinese: zh}
	}
	switch {
	case !validID(o.ID):
		return bad("id", fmt.Sprintf("%q must be 1–%d characters of 0-9, a-z, A-Z, '-' or '.'", o.ID, maxIDLen),
			"单位编号只能由数字、字母、“-”和“.”组成，且不超过64个字符")
	case o.ParentID != "" && !validID(o.ParentID):
		return bad("parent_id", fmt.Sprintf("%q is not a valid id", o.ParentID), "上级单位编号无效")
	case strings.TrimSpace(o.Name) == "" || !utf8.ValidString(o.Name) || utf8.RuneCountInString(o.Name) > maxNameLen:
		return bad("name", fmt.Sprintf("must be 1–%d characters of UTF-8 text", maxNameLen), "单位名称不能为空，且不超过100个字")
	case strings.ContainsAny(o.Name, "\r\n\t\x00"):
		return bad("name", "must not contain control characters", "单位名称不能包含换行等控制字符")
	case !contains(Levels, o.Level):
		return bad("level", fmt.Sprintf("%q is not one of %s", o.Level, strings.Join(Levels, ", ")), "单位级别无效")
	case !contains(Kinds, o.Kind):
		return bad("kind", fmt.Sprintf("%q is not one of %s", o.Kind, strings.Join(Kinds, ", ")), "单位类型无效")
	case !validRegionCode(o.RegionCode):
		return bad("region_code", fmt.Sprintf("%q must be six digits (GB/T 2260)", o.RegionCode), "行政区划代码应为6位数字")
	case o.Status != StatusActive && o.Status != StatusDisabled:
		return bad("status", fmt.Sprintf("%q is not active or disabled", o.Status), "单位状态无效")
	}
	for _, s := range o.Stages {
		if !contains(Stages, s) {
			return bad("stages", fmt.Sprintf("%q is not one of %s", s, strings.Join(Stages, ", ")), "学段无效")
		}
	}
	for _, l := range o.Lines {
		if !contains(Lines, l) {
			return bad("lines", fmt.Sprintf("%q is not one of %s", l, strings.Join(Lines, ", ")), "业务条线无效")
		}
	}
	return nil
}

// joinList and splitList store a list in one TEXT column; the values are
// from fixed vocabularies without ';'.
func joinList(l []string) string { return strings.Join(l, ";") }

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ";")
}

// pathString encodes root..self ids as the stored materialised path.
func pathString(ids []string) string {
	return "/" + strings.Join(ids, "/") + "/"
}

func pathIDs(p string) []string {
	return strings.Split(strings.Trim(p, "/"), "/")
}

// subtreeRange returns the bounds of every path at or under p: the
// smallest string greater than all extensions of p replaces the final '/'
// with '0', its successor in byte order.
func subtreeRange(p string) (lo, hi string) {
	return p, p[:len(p)-1] + "0"
}
