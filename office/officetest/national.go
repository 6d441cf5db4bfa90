package officetest

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/office/directory"
)

// NationalOptions shape a generated national directory.
type NationalOptions struct {
	// Units is roughly how many units to write (at least 5,000): 34
	// provinces, 10 cities each, 8 counties per city, and schools under
	// the counties for the rest; every 25th school has two departments.
	Units int
	// People is how many accounts: an admin per unit below the ministry
	// (as far as they go), the rest staff of schools and departments,
	// unevenly spread.
	People int
	Seed   uint64
}

// National is a generated directory of the whole country.
type National struct {
	// Ministry, Province and County are admins of the ministry, of the
	// first province and of its first county.
	Ministry, Province, County directory.Viewer
	Units, People              int
	// Levels counts the units per level.
	Levels map[string]int
}

// BuildNational writes a national-scale directory straight into the
// office's tables (many rows per statement, one transaction), then
// computes the unit sizes as a sync would.
func BuildNational(tb testing.TB, db *sqldb.DB, opt NationalOptions) *National {
	tb.Helper()
	ctx := context.Background()
	const provinces, cities, counties = 34, 10, 8
	admin := provinces*(1+cities*(1+counties)) + 1
	perCounty := max((opt.Units-admin)*25/27/(provinces*cities*counties), 1)
	rng := rand.New(rand.NewPCG(opt.Seed, opt.Seed^0x5bd1e995))
	n := &National{Levels: map[string]int{}}
	var (
		units  [][]any
		leaves []directory.Unit // schools and departments, where staff sit
		placed []directory.Unit // every unit below the ministry
	)
	add := func(id, parent, path, level string) directory.Unit {
		u := directory.Unit{ID: id, ParentID: parent, Path: path + id + "/", Level: level, Name: fmt.Sprintf("%s%s", directory.LevelNames[level], id)}
		var p any
		if parent != "" {
			p = parent
		}
		units = append(units, []any{u.ID, p, u.Name, u.Level, u.Path})
		n.Levels[level]++
		if level != "ministry" {
			placed = append(placed, u)
		}
		return u
	}
	root := add("000000", "", "/", "ministry")
	school := 0
	for p := range provinces {
		prov := add(fmt.Sprintf("%02d0000", 11+p), root.ID, root.Path, "province")
		for c := range cities {
			city := add(fmt.Sprintf("%02d%02d00", 11+p, c+1), prov.ID, prov.Path, "city")
			for k := range counties {
				county := add(fmt.Sprintf("%02d%02d%02d", 11+p, c+1, k+1), city.ID, city.Path, "county")
				for s := range perCounty {
					sc := add(fmt.Sprintf("%s%04d", county.ID, s+1), county.ID, county.Path, "school")
					school++
					if school%25 == 0 {
						for d := range 2 {
							leaves = append(leaves, add(fmt.Sprintf("%sD%d", sc.ID, d+1), sc.ID, sc.Path, "department"))
						}
					} else {
						leaves = append(leaves, sc)
					}
				}
			}
		}
	}
	n.Units = len(units)
	var people [][]any
	person := func(u directory.Unit, role string) {
		i := len(people)
		people = append(people, []any{fmt.Sprintf("n%07d", i), fmt.Sprintf("人员%07d", i), fmt.Sprintf("+86139%08d", i), u.ID, u.Path, role})
	}
	person(root, "admin")
	for i := 0; len(people) < opt.People; i++ {
		switch {
		case i < len(placed):
			person(placed[i], "admin")
		default:
			// Skewed: half the staff crowd into a fifth of the leaves, so
			// some schools are large and many have one or two people.
			j := rng.IntN(len(leaves))
			if rng.IntN(2) == 0 {
				j = rng.IntN(len(leaves) / 5)
			}
			person(leaves[j], "staff")
		}
	}
	n.People = len(people)
	err := db.InTx(ctx, func(tx *sql.Tx) error {
		if err := InsertRows(ctx, tx, `office_units (id, parent_id, name, level, path, region_code, kind, active, modified)`, `'', 'regular', 1, 1`, ``, units); err != nil {
			return fmt.Errorf("units: %w", err)
		}
		if err := InsertRows(ctx, tx, `office_people (id, name, phone, org_id, org_path, role, active, show_phone, modified, name_key)`, `1, 0, 1, ''`, ``, people); err != nil {
			return fmt.Errorf("people: %w", err)
		}
		_, err := tx.ExecContext(ctx, `UPDATE office_people SET name_key = name`)
		return err
	})
	if err != nil {
		tb.Fatalf("national directory: %v", err)
	}
	if err := directory.NewStore(db).RecomputeSizes(ctx); err != nil {
		tb.Fatal(err)
	}
	viewer := func(row []any, u directory.Unit) directory.Viewer {
		return directory.Viewer{Sub: row[0].(string), Name: row[1].(string), OrgID: u.ID, OrgName: u.Name, Level: u.Level, Path: u.Path, Roles: []string{"admin"}}
	}
	n.Ministry = viewer(people[0], root)
	n.Province = viewer(people[1], placed[0])
	n.County = viewer(people[3], placed[2])
	return n
}

// InsertRows writes rows into table (a name and its column list), each
// row's values followed by the constant tail, a few hundred rows per
// statement ending in suffix (an ON CONFLICT clause, or empty).
func InsertRows(ctx context.Context, tx *sql.Tx, table, tail, suffix string, rows [][]any) error {
	const per = 50
	for start := 0; start < len(rows); start += per {
		chunk := rows[start:min(start+per, len(rows))]
		var (
			b    strings.Builder
			args []any
		)
		b.WriteString("INSERT INTO " + table + " VALUES ")
		for i, r := range chunk {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(")
			for k, v := range r {
				args = append(args, v)
				if k > 0 {
					b.WriteString(", ")
				}
				fmt.Fprintf(&b, "$%d", len(args))
			}
			if tail != "" {
				b.WriteString(", " + tail)
			}
			b.WriteString(")")
		}
		if _, err := tx.ExecContext(ctx, b.String()+" "+suffix, args...); err != nil {
			return err
		}
	}
	return nil
}
