package org

import (
	"errors"
	"fmt"
)

// Rule names one rule of the tree; it is part of every refusal so logs,
// API clients and tests can tell refusals apart without parsing text.
type Rule string

const (
	RuleField                   Rule = "field"                     // a field has an invalid value
	RuleRoot                    Rule = "root"                      // the ministry 000000 is the one and only root
	RuleKindLevel               Rule = "kind-level"                // a kind belongs to one level
	RuleProvinceParent          Rule = "province-parent"           // a province-level unit sits under the ministry
	RulePlannedCityParent       Rule = "planned-city-parent"       // a planned city sits under the ministry
	RuleCityParent              Rule = "city-parent"               // a city sits under a province
	RuleCountyParent            Rule = "county-parent"             // a county sits under a city or a province-level unit
	RuleSchoolParent            Rule = "school-parent"             // a school sits under a county, city or province-level unit
	RuleCentralUniversityParent Rule = "central-university-parent" // a central university sits under the ministry
	RuleDepartmentParent        Rule = "department-parent"         // a department sits under a school
	RuleCycle                   Rule = "cycle"                     // a unit cannot sit under itself or its descendants
	RuleImmutable               Rule = "immutable"                 // id and parent do not change through Update
)

// ErrRule matches every *RuleError with errors.Is.
var ErrRule = errors.New("org rule")

// RuleError refuses a change that would break a rule of the tree.
type RuleError struct {
	Rule    Rule
	OrgID   string // the unit being placed or changed
	Message string // English, for logs and API clients
	Chinese string // 简体中文, for the admin console
}

func (e *RuleError) Error() string {
	return fmt.Sprintf("org rule %s: %s", e.Rule, e.Message)
}

// Is makes errors.Is(err, ErrRule) true for every rule refusal.
func (e *RuleError) Is(target error) bool { return target == ErrRule }

// place is the part of a unit the placement rules look at.
type place struct {
	ID, Level, Kind string
}

func (p place) describe() string {
	if p.Kind != KindRegular {
		return fmt.Sprintf("%s %s (%s)", p.Level, p.ID, p.Kind)
	}
	return fmt.Sprintf("%s %s", p.Level, p.ID)
}

func (p place) chinese() string {
	return fmt.Sprintf("%s（%s）", levelNames[p.Level], p.ID)
}

// provinceLevel reports whether p reports directly to the ministry as a
// province does: provinces, the corps and the planned cities.
func (p place) provinceLevel() bool {
	return p.Level == LevelProvince || p.Kind == KindPlannedCity
}

// kindLevels says which level each special kind belongs to.
var kindLevels = map[string]string{
	KindPlannedCity:       LevelCity,
	KindCorps:             LevelProvince,
	KindCentralUniversity: LevelSchool,
}

// checkPlacement checks that child may sit under parent (nil for no
// parent). It is the single statement of the level rules; Create, Update,
// Move and Import all call it.
func checkPlacement(parent *place, child place) error {
	refuse := func(rule Rule, want, wantZH string) error {
		e := &RuleError{Rule: rule, OrgID: child.ID}
		if parent == nil {
			e.Message = fmt.Sprintf("%s must sit under %s, not at the root", child.describe(), want)
			e.Chinese = fmt.Sprintf("%s必须隶属于%s，不能作为根单位", child.chinese(), wantZH)
		} else {
			e.Message = fmt.Sprintf("%s must sit under %s, not under %s", child.describe(), want, parent.describe())
			e.Chinese = fmt.Sprintf("%s只能隶属于%s，不能隶属于%s", child.chinese(), wantZH, parent.chinese())
		}
		return e
	}
	if lvl, ok := kindLevels[child.Kind]; ok && lvl != child.Level {
		return &RuleError{Rule: RuleKindLevel, OrgID: child.ID,
			Message: fmt.Sprintf("kind %s is only for level %s, not %s", child.Kind, lvl, child.Level),
			Chinese: fmt.Sprintf("单位类型“%s”只适用于%s", child.Kind, levelNames[lvl])}
	}
	if child.Level == LevelMinistry {
		if parent != nil || child.ID != RootID {
			return &RuleError{Rule: RuleRoot, OrgID: child.ID,
				Message: fmt.Sprintf("the ministry is the only root, with id %s and no parent", RootID),
				Chinese: fmt.Sprintf("部级单位只能是根单位（%s），且没有上级单位", RootID)}
		}
		return nil
	}
	if child.ID == RootID {
		return &RuleError{Rule: RuleRoot, OrgID: child.ID,
			Message: fmt.Sprintf("id %s is reserved for the ministry", RootID),
			Chinese: fmt.Sprintf("编号%s保留给全国学生资助管理中心", RootID)}
	}
	under := func(ok bool, rule Rule, want, wantZH string) error {
		if parent != nil && ok {
			return nil
		}
		return refuse(rule, want, wantZH)
	}
	var p place
	if parent != nil {
		p = *parent
	}
	switch {
	case child.Level == LevelProvince:
		return under(p.Level == LevelMinistry, RuleProvinceParent, "the ministry", "全国学生资助管理中心")
	case child.Kind == KindPlannedCity:
		return under(p.Level == LevelMinistry, RulePlannedCityParent, "the ministry (it reports like a province)", "全国学生资助管理中心（计划单列市按省级单位报送）")
	case child.Level == LevelCity:
		return under(p.Level == LevelProvince, RuleCityParent, "a province or the corps", "省级单位")
	case child.Level == LevelCounty:
		return under(p.Level == LevelCity || p.provinceLevel(), RuleCountyParent, "a city or a province-level unit", "地市级单位或省级单位")
	case child.Kind == KindCentralUniversity:
		return under(p.Level == LevelMinistry, RuleCentralUniversityParent, "the ministry", "全国学生资助管理中心")
	case child.Level == LevelSchool:
		return under(p.Level == LevelCounty || p.Level == LevelCity || p.Level == LevelProvince, RuleSchoolParent,
			"a county, a city or a province-level unit (only central universities sit under the ministry)",
			"区县级、地市级或省级单位（只有中央部属高校直属全国学生资助管理中心）")
	case child.Level == LevelDepartment:
		return under(p.Level == LevelSchool, RuleDepartmentParent, "a school", "学校")
	}
	return &RuleError{Rule: RuleField, OrgID: child.ID,
		Message: fmt.Sprintf("level %q is unknown", child.Level), Chinese: "单位级别无效"}
}
