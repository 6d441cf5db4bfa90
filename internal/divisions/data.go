// Package divisions holds China's administrative divisions (GB/T 2260)
// that the IdP's organisation tree (seeded with the province-level units,
// test files generated from the rest) and the cockpit's region tree are
// built from. The CSV files are copies of shared/data (see README.md for
// their provenance) embedded so the binary needs nothing beside it.
package divisions

import (
	"bytes"
	"embed"
	"encoding/csv"
	"fmt"
)

//go:embed provinces.csv cities.csv counties.csv
var files embed.FS

// Division is one row of a division table.
type Division struct {
	Code   string // six-digit region code, the organisation id of the unit
	Name   string // official name, e.g. 江苏省
	Parent string // code of the enclosing division; empty for provinces
	Short  string // common short name (provinces only), e.g. 江苏
}

// Provinces returns the 37 province-level units in file order: 31
// provincial divisions, 新疆生产建设兵团 (660000) and the five 计划单列市.
func Provinces() ([]Division, error) {
	return read("provinces.csv", func(rec []string) Division {
		return Division{Code: rec[0], Name: rec[1], Short: rec[2]}
	})
}

// Cities returns the prefecture-level divisions, including the NBS
// placeholder rows (市辖区, 县, 省直辖县级行政区划) that group counties
// governed directly by a province.
func Cities() ([]Division, error) {
	return read("cities.csv", func(rec []string) Division {
		return Division{Code: rec[0], Name: rec[1], Parent: rec[2]}
	})
}

// Counties returns the county-level divisions, each with its city code.
func Counties() ([]Division, error) {
	return read("counties.csv", func(rec []string) Division {
		return Division{Code: rec[0], Name: rec[1], Parent: rec[2]}
	})
}

func read(name string, row func([]string) Division) ([]Division, error) {
	b, err := files.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	r := csv.NewReader(bytes.NewReader(b))
	r.FieldsPerRecord = 3
	recs, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", name, err)
	}
	out := make([]Division, 0, len(recs)-1)
	for _, rec := range recs[1:] {
		out = append(out, row(rec))
	}
	return out, nil
}
