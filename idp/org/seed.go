package org

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/xszz/xszz/internal/divisions"
)

// plannedCities are the five 计划单列市 of provinces.csv.
var plannedCities = map[string]bool{"210200": true, "370200": true, "330200": true, "350200": true, "440300": true}

// corpsID is 新疆生产建设兵团 in provinces.csv (a convention, not a GB/T
// 2260 code; see idp/org/data/README.md).
const corpsID = "660000"

// SeedOrgs returns the units Seed creates: the ministry and the 37
// province-level units of provinces.csv, each named after its student-aid
// management centre.
func SeedOrgs() ([]Org, error) {
	provs, err := divisions.Provinces()
	if err != nil {
		return nil, fmt.Errorf("seed orgs: %w", err)
	}
	out := []Org{{ID: RootID, Name: RootName, Level: LevelMinistry, RegionCode: RootID, Kind: KindRegular,
		Stages: Stages, Lines: []string{LineAid, LineNutrition}, Status: StatusActive, Path: []string{RootID}}}
	for _, p := range provs {
		o := Org{ID: p.Code, ParentID: RootID, Name: p.Name + "学生资助管理中心", Level: LevelProvince,
			RegionCode: p.Code, Kind: KindRegular, Stages: Stages, Lines: []string{LineAid, LineNutrition},
			Status: StatusActive, Path: []string{RootID, p.Code}, Depth: 1}
		switch {
		case plannedCities[p.Code]:
			o.Level, o.Kind = LevelCity, KindPlannedCity
		case p.Code == corpsID:
			o.Kind = KindCorps
		}
		out = append(out, o)
	}
	return out, nil
}

// Seed creates the root and the province-level units that are missing.
// It never changes a unit that exists, so it is safe on every start and
// keeps what admins or imports have changed since.
func (s *Store) Seed(ctx context.Context) error {
	orgs, err := SeedOrgs()
	if err != nil {
		return err
	}
	for i := range orgs {
		var parent *place
		if i > 0 {
			p := orgs[0].place()
			parent = &p
		}
		if err := checkPlacement(parent, orgs[i].place()); err != nil {
			return fmt.Errorf("seed org %q: %w", orgs[i].ID, err)
		}
	}
	now := s.now().Unix()
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.lockTree(ctx, tx); err != nil {
			return err
		}
		for _, o := range orgs {
			if _, err := tx.ExecContext(ctx, `INSERT INTO orgs (`+orgColumns+`, created_at, updated_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) ON CONFLICT (id) DO NOTHING`,
				o.ID, nullable(o.ParentID), o.Name, o.Level, o.RegionCode, o.Kind, joinList(o.Stages), joinList(o.Lines),
				o.Status, pathString(o.Path), o.Depth, now); err != nil {
				return fmt.Errorf("seed org %q: %w", o.ID, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("seed org tree: %w", err)
	}
	return nil
}
