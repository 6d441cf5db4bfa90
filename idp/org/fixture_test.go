package org_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xszz/xszz/idp/org"
	"github.com/xszz/xszz/internal/sqldb"
)

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Unix(1_750_000_000, 0)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// fixture is a seeded store with one unit of every level and kind:
//
//	000000 ministry
//	├── 320000 江苏 province
//	│   ├── 320100 南京 city
//	│   │   └── 320102 玄武区 county
//	│   │       └── 2320102001 school
//	│   │           └── 2320102001-01 department
//	│   └── 320200 无锡 city
//	├── 660000 兵团 province (corps)
//	├── 210200 大连 city (planned-city)
//	└── 4111010001 central university
type fixture struct {
	ctx   context.Context
	db    *sqldb.DB
	store *org.Store
	clock *clock
}

func newFixture(t *testing.T, db *sqldb.DB) *fixture {
	t.Helper()
	f := &fixture{ctx: context.Background(), db: db, clock: newClock()}
	f.store = org.NewStore(db, org.WithClock(f.clock.Now))
	if err := f.store.Seed(f.ctx); err != nil {
		t.Fatalf("seed: %v", err)
	}
	for _, o := range []org.Org{
		{ID: "320100", ParentID: "320000", Name: "南京市学生资助管理中心", Level: org.LevelCity, RegionCode: "320100"},
		{ID: "320200", ParentID: "320000", Name: "无锡市学生资助管理中心", Level: org.LevelCity, RegionCode: "320200"},
		{ID: "320102", ParentID: "320100", Name: "玄武区学生资助管理中心", Level: org.LevelCounty, RegionCode: "320102"},
		{ID: "2320102001", ParentID: "320102", Name: "玄武区第一小学", Level: org.LevelSchool, RegionCode: "320102", Stages: []string{org.StageCompulsory}},
		{ID: "2320102001-01", ParentID: "2320102001", Name: "孝陵卫教学点", Level: org.LevelDepartment, RegionCode: "320102"},
		{ID: "4111010001", ParentID: org.RootID, Name: "北京大学", Level: org.LevelSchool, RegionCode: "110000", Kind: org.KindCentralUniversity,
			Stages: []string{org.StageUndergraduate, org.StageMaster, org.StageDoctoral}},
	} {
		f.create(t, o)
	}
	return f
}

func (f *fixture) create(t *testing.T, o org.Org) *org.Org {
	t.Helper()
	got, err := f.store.Create(f.ctx, o)
	if err != nil {
		t.Fatalf("create %s: %v", o.ID, err)
	}
	return got
}

func (f *fixture) get(t *testing.T, id string) *org.Org {
	t.Helper()
	o, err := f.store.Get(f.ctx, id)
	if err != nil {
		t.Fatalf("get %s: %v", id, err)
	}
	return o
}

func (f *fixture) count(t *testing.T) int {
	t.Helper()
	n, err := f.store.CountSubtree(f.ctx, org.RootID)
	if err != nil {
		t.Fatalf("count: %v", err)
	}
	return n
}

// checkTree asserts the invariant every change must keep: each stored
// path is its parent's path plus its own id, and depth matches.
func checkTree(t *testing.T, db *sqldb.DB) {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), `SELECT c.id, c.path, c.depth, COALESCE(p.path, '') FROM orgs c LEFT JOIN orgs p ON p.id = c.parent_id`)
	if err != nil {
		t.Fatalf("check tree: %v", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, path, parentPath string
		var depth int
		if err := rows.Scan(&id, &path, &depth, &parentPath); err != nil {
			t.Fatal(err)
		}
		want := parentPath + id + "/"
		if parentPath == "" {
			want = "/" + id + "/"
		}
		if path != want || depth != strings.Count(path, "/")-2 {
			t.Errorf("org %s: path %q depth %d, want path %q depth %d", id, path, depth, want, strings.Count(want, "/")-2)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
}

func pathOf(t *testing.T, f *fixture, id string) string {
	t.Helper()
	return strings.Join(f.get(t, id).Path, "/")
}
