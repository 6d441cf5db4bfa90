// Package demo builds the IdP's part of a demo world: Jiangsu with its
// real cities, a few counties, schools and departments below them, a
// provincial and a central university, and about fifty accounts across the
// six levels with staff and admin roles and a few cockpit grants — so a
// newcomer can sign in as someone at any level a minute after cloning.
//
// Seeding is idempotent: units and accounts that exist are kept as they
// are, and the same people are reported again.
package demo

import (
	"context"
	"errors"
	"fmt"

	"github.com/xszz/xszz/idp/account"
	"github.com/xszz/xszz/idp/org"
	"github.com/xszz/xszz/internal/divisions"
	"github.com/xszz/xszz/internal/sqldb"
)

// Person is one demo account, as printed by xszz demo seed.
type Person struct {
	ID      string   `json:"-"`
	Phone   string   `json:"phone"`
	Name    string   `json:"name"`
	OrgID   string   `json:"org_id"`
	OrgName string   `json:"org_name"`
	OrgPath []string `json:"-"`
	Level   string   `json:"level"`
	Role    string   `json:"role"`
	Cockpit bool     `json:"cockpit"`
}

// Orgs is what the seed needs of the organisation store.
type Orgs interface {
	Seed(ctx context.Context) error
	Get(ctx context.Context, id string) (*org.Org, error)
	Create(ctx context.Context, o org.Org) (*org.Org, error)
}

// Accounts is what the seed needs of the account store.
type Accounts interface {
	Create(ctx context.Context, a account.Account) (*account.Account, error)
	ByPhone(ctx context.Context, phone string) (*account.Account, error)
}

// Grants gives an account an application grant; granting twice is not an
// error.
type Grants interface {
	Add(ctx context.Context, q sqldb.Querier, accountID, app, by string) error
}

// unit is one unit of the demo tree and the people in it.
type unit struct {
	id, parent, name, level, kind, region string
	stages                                []string
	people                                []seat
}

// seat is a person to create in a unit.
type seat struct {
	role    string
	cockpit bool
}

var (
	basic      = []string{org.StagePreschool, org.StageCompulsory, org.StageHighSchool}
	vocational = []string{org.StageSecondaryVocational, org.StageHigherVocational}
	higher     = []string{org.StageUndergraduate, org.StageMaster, org.StageDoctoral}
	admin      = seat{role: account.RoleAdmin}
	staff      = seat{role: account.RoleStaff}
	analyst    = seat{role: account.RoleStaff, cockpit: true}
)

// cities with more than one seat; every other Jiangsu city gets one staff.
var cityPeople = map[string][]seat{
	"320100": {admin, analyst}, // 南京
	"320200": {admin, staff},   // 无锡
	"320500": {admin, analyst}, // 苏州
}

// counties of the demo and their people.
var counties = []struct {
	code   string
	people []seat
}{
	{"320102", []seat{admin, analyst}}, // 玄武区
	{"320104", []seat{admin, staff}},   // 秦淮区
	{"320115", []seat{admin, staff}},   // 江宁区
	{"320281", []seat{admin, staff}},   // 江阴市
	{"320508", []seat{admin, analyst}}, // 姑苏区
	{"320583", []seat{staff}},          // 昆山市
}

// tree lists the demo's units from the top down, parents first.
func tree() ([]unit, error) {
	cities, err := divisions.Cities()
	if err != nil {
		return nil, err
	}
	all, err := divisions.Counties()
	if err != nil {
		return nil, err
	}
	countyNames := map[string]divisions.Division{}
	for _, c := range all {
		countyNames[c.Code] = c
	}
	units := []unit{
		{id: org.RootID, people: []seat{admin, analyst, staff}},
		{id: "320000", people: []seat{admin, analyst, staff}},
	}
	for _, c := range cities {
		if c.Parent != "320000" {
			continue
		}
		people := cityPeople[c.Code]
		if people == nil {
			people = []seat{staff}
		}
		units = append(units, unit{id: c.Code, parent: "320000", name: c.Name + "学生资助管理中心", level: org.LevelCity, region: c.Code, stages: org.Stages, people: people})
	}
	for _, c := range counties {
		d, ok := countyNames[c.code]
		if !ok {
			return nil, fmt.Errorf("demo county %s is not in the region data", c.code)
		}
		units = append(units, unit{id: c.code, parent: d.Parent, name: d.Name + "学生资助管理中心", level: org.LevelCounty, region: c.code, stages: org.Stages, people: c.people})
		// Ten-digit ids in the shape of the national school code.
		school := func(n int, kind string) unit {
			return unit{id: fmt.Sprintf("2%s%03d", c.code, n), parent: c.code, name: fmt.Sprintf("%s第1%s", d.Name, kind),
				level: org.LevelSchool, region: c.code, stages: []string{org.StageCompulsory}}
		}
		primary, middle := school(1, "小学"), school(2, "中学")
		primary.stages = basic[:2]
		middle.stages = basic[1:]
		primary.people = []seat{admin, staff}
		middle.people = []seat{staff}
		units = append(units, primary, middle)
		if c.code == "320115" {
			// A rural central school looks after the village schools
			// around it: the sixth level under a school.
			units = append(units, unit{id: primary.id + "-01", parent: primary.id, name: "湖熟中心校", level: org.LevelDepartment, region: c.code, stages: []string{org.StageCompulsory}, people: []seat{staff}})
		}
	}
	units = append(units,
		unit{id: "2320100001", parent: "320100", name: "南京市中等专业学校", level: org.LevelSchool, region: "320100", stages: vocational, people: []seat{admin}},
		unit{id: "2320100001-01", parent: "2320100001", name: "南京市中等专业学校机电系", level: org.LevelDepartment, region: "320100", stages: vocational, people: []seat{staff}},
		unit{id: "4132010291", parent: "320000", name: "南京工业大学", level: org.LevelSchool, region: "320100", stages: higher, people: []seat{admin, staff}},
		unit{id: "4132010291-01", parent: "4132010291", name: "南京工业大学学生工作处", level: org.LevelDepartment, region: "320100", stages: higher, people: []seat{staff}},
		unit{id: "4111010001", parent: org.RootID, name: "北京大学", level: org.LevelSchool, kind: org.KindCentralUniversity, region: "110108", stages: higher, people: []seat{admin, staff}},
		unit{id: "4111010001-01", parent: "4111010001", name: "北京大学学生资助中心", level: org.LevelDepartment, region: "110108", stages: higher, people: []seat{staff}},
		unit{id: "4111010001-02", parent: "4111010001", name: "北京大学信息科学技术学院", level: org.LevelDepartment, region: "110108", stages: higher, people: []seat{staff}},
	)
	return units, nil
}

// Surnames and given names for the demo people: common, and clearly
// invented together.
var (
	surnames = []rune("王李张刘陈杨黄赵吴周徐孙马朱胡郭何林高罗")
	given    = []string{"伟", "芳", "娜", "敏", "静", "磊", "洋", "艳", "勇", "军", "杰", "娟", "涛", "明", "超", "秀英", "华", "平", "刚", "桂英"}
)

// Seed creates the demo units and people that are missing and returns
// every demo person. Phones are 139 0000 00NN in seat order, so a
// newcomer can guess them.
func Seed(ctx context.Context, orgs Orgs, accounts Accounts, grants Grants) ([]Person, error) {
	if err := orgs.Seed(ctx); err != nil {
		return nil, err
	}
	units, err := tree()
	if err != nil {
		return nil, err
	}
	var out []Person
	n := 0
	for _, u := range units {
		o, err := orgs.Get(ctx, u.id)
		if errors.Is(err, sqldb.ErrNotFound) && u.parent != "" {
			kind := u.kind
			if kind == "" {
				kind = org.KindRegular
			}
			o, err = orgs.Create(ctx, org.Org{ID: u.id, ParentID: u.parent, Name: u.name, Level: u.level, RegionCode: u.region,
				Kind: kind, Stages: u.stages, Lines: []string{org.LineAid}})
		}
		if err != nil {
			return nil, fmt.Errorf("demo unit %s: %w", u.id, err)
		}
		for _, s := range u.people {
			n++
			p := Person{
				Phone: fmt.Sprintf("+861390000%04d", n),
				Name:  string(surnames[n%len(surnames)]) + given[(n*7)%len(given)],
				OrgID: o.ID, OrgName: o.Name, OrgPath: o.Path, Level: o.Level, Role: s.role, Cockpit: s.cockpit,
			}
			acc, err := accounts.ByPhone(ctx, p.Phone)
			if errors.Is(err, sqldb.ErrNotFound) {
				acc, err = accounts.Create(ctx, account.Account{Phone: p.Phone, Name: p.Name, OrgID: p.OrgID, Role: p.Role, Status: account.StatusActive})
			}
			if err != nil {
				return nil, fmt.Errorf("demo account %s: %w", p.Phone, err)
			}
			// An existing account keeps what was changed since.
			p.ID, p.Name, p.OrgID, p.Role = acc.ID, acc.Name, acc.OrgID, acc.Role
			if p.Cockpit {
				if err := grants.Add(ctx, nil, acc.ID, "cockpit", "demo"); err != nil {
					return nil, err
				}
			}
			out = append(out, p)
		}
	}
	return out, nil
}
