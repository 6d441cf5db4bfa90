package cockpit

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/xszz/xszz/cockpit/ingest"
	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/internal/sqldb/sqldbtest"
)

// The files of a small real import, given out of order on purpose.
var importFiles = []CSVFile{
	{Name: "aid.csv", Data: []byte("anon_id,year,programme,source,amount,paid_on\n" +
		"S-1,2025,he_grant,central,3700,2025-10-15\n" +
		"S-1,2025,国家励志奖学金,中央财政,6000.00,2025-11-20\n" +
		"S-2,2025,living,central,1250,2025-09-30\n")},
	{Name: "students.csv", Data: []byte("\ufeffanon_id,region_code,school_code,stage\n" +
		"S-1,510104,4151010001,bachelor\n" +
		"S-2,510105,4151010002,小学\n")},
	{Name: "schools.csv", Data: []byte("school_code,region_code,name\n" +
		"4151010001,510104,锦江某大学\n" +
		"4151010002,510105,\"青羊区某小学\"\n")},
	{Name: "ident.csv", Data: []byte("anon_id,year,level,categories\n" +
		"S-1,2025,1,低保|孤儿\n" +
		"S-2,2025,比较困难,\n")},
	{Name: "enrolment.csv", Data: []byte("region_code,year,stage,students\n510104,2025,bachelor,1000\n510105,2025,primary,2000\n")},
	{Name: "alloc.csv", Data: []byte("allocation_id,region_code,year,segment,programme,source,amount,allocated_on,due_on\n" +
		"900001,510104,2025,higher,he_grant,central,100000,2025-09-01,2025-11-30\n")},
	{Name: "disb.csv", Data: []byte("allocation_id,amount,paid_on\n900001,40000,2025-10-01\n")},
}

func count(t *testing.T, db *sqldb.DB, query string) int64 {
	t.Helper()
	var n int64
	if err := db.QueryRowContext(context.Background(), query).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// TestImportCSV: a set of files in any order is read in dependency order
// and the rollups follow; a file with bad lines is refused whole, its
// errors numbered by line; a file already imported is refused, nothing
// written twice.
func TestImportCSV(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		asOf := time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)
		res, err := Import(ctx, db, importFiles, nil, asOf)
		if err != nil {
			t.Fatal(err)
		}
		var kinds []string
		for _, r := range res {
			kinds = append(kinds, r.Kind)
		}
		if got := strings.Join(kinds, " "); got != "schools students identifications aid_records enrolment allocations disbursements" {
			t.Errorf("imported in the order %s", got)
		}
		for q, want := range map[string]int64{
			`SELECT COUNT(*) FROM cockpit_aid_records`:                                                           3,
			`SELECT SUM(amount) FROM cockpit_aid_records WHERE region_code = '510104'`:                           9700,
			`SELECT amount FROM cockpit_rollup_aid WHERE region_code = '000000' AND programme = 'living'`:        1250,
			`SELECT SUM(amount) FROM cockpit_rollup_aid WHERE region_code = '510100'`:                            10950,
			`SELECT identified FROM cockpit_rollup_students WHERE region_code = '510000' AND stage = 'bachelor'`: 1,
			`SELECT disbursed FROM cockpit_rollup_funds WHERE region_code = '000000'`:                            40000,
			// 40 % disbursed by the due day: the disbursement rule fires.
			`SELECT COUNT(*) FROM cockpit_warnings WHERE rule = 'disbursement' AND region_code = '510104'`: 1,
		} {
			if got := count(t, db, q); got != want {
				t.Errorf("%s = %d, want %d", q, got, want)
			}
		}

		before := count(t, db, `SELECT COUNT(*) FROM cockpit_aid_records`)
		bad := []CSVFile{{Name: "bad-aid.csv", Data: []byte("anon_id,year,programme,source,amount,paid_on\n" +
			"S-1,2025,he_grant,central,3700,2025-10-15\n" + // fine, yet not written
			"S-9,2025,he_grant,central,3700,2025-10-15\n" + // no such student
			"S-2,2025,he_grant,central,-5,2025-13-01\n" + // wrong stage, amount, date
			"S-2,2025,living,central,1250\n")}} // a field short
		_, err = Import(ctx, db, bad, nil, asOf)
		var fe *ingest.FileError
		if !errors.As(err, &fe) {
			t.Fatalf("bad file: %v, want a FileError", err)
		}
		for _, want := range []string{
			`line 3, anon_id: "S-9" is no student imported before`,
			`line 4, programme: 国家助学金 is not given at the student's stage (primary)`,
			`line 4, amount: "-5" is not an amount`,
			`line 4, paid_on: "2025-13-01" is not a date`,
			`line 5: 5 fields, the header has 6`,
		} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error lacks %q:\n%v", want, err)
			}
		}
		if got := count(t, db, `SELECT COUNT(*) FROM cockpit_aid_records`); got != before {
			t.Errorf("a refused file wrote %d records", got-before)
		}

		_, err = Import(ctx, db, importFiles[2:3], nil, asOf)
		if err == nil || !strings.Contains(err.Error(), `line 2, school_code: "4151010001" is already imported`) {
			t.Errorf("schools again: %v", err)
		}
		dup := []CSVFile{{Name: "dup.csv", Data: []byte("region_code,year,stage,students\n510104,2024,bachelor,1\n510000,2024,bachelor,1\n510104,2024,bachelor,2\n")}}
		_, err = Import(ctx, db, dup, nil, asOf)
		for _, want := range []string{`line 3, region_code: "510000" (四川省) is not a county-level region`, `line 4: repeats line 2`} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("enrolment with a province and a repeat: %v, want %q", err, want)
			}
		}
		if _, err := Import(ctx, db, []CSVFile{{Name: "odd.csv", Data: []byte("name,phone\n张三,13900000000\n")}}, nil, asOf); err == nil || !strings.Contains(err.Error(), "matches no kind of file") {
			t.Errorf("a file of no known kind: %v", err)
		}
	})
}
