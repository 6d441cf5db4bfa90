// Package facts names the raw fact tables (students, identifications, aid
// records, enrolment, fund allocations and disbursements) for the loaders
// that fill them: the generator and the CSV import.
package facts

import "github.com/xszz/xszz/cockpit/load"

var (
	Schools         = load.Table{Name: "cockpit_schools", Columns: []string{"id", "code", "region_code", "name"}}
	Students        = load.Table{Name: "cockpit_students", Columns: []string{"id", "anon_id", "region_code", "school_id", "stage"}}
	Identifications = load.Table{Name: "cockpit_identifications", Columns: []string{"student_id", "year", "level", "categories"}}
	AidRecords      = load.Table{Name: "cockpit_aid_records", Columns: []string{"id", "student_id", "year", "region_code", "stage", "programme", "source", "amount", "paid_on"}}
	Enrolment       = load.Table{Name: "cockpit_enrolment", Columns: []string{"region_code", "year", "stage", "students"}}
	Allocations     = load.Table{Name: "cockpit_allocations", Columns: []string{"id", "region_code", "year", "segment", "programme", "source", "amount", "allocated_on", "due_on"}}
	Disbursements   = load.Table{Name: "cockpit_disbursements", Columns: []string{"id", "allocation_id", "amount", "paid_on"}}
)

// All lists the fact tables, parents before children.
var All = []load.Table{Schools, Students, Identifications, AidRecords, Enrolment, Allocations, Disbursements}

// Clear empties every fact table inside the load's transaction.
func Clear(w *load.Writer) error {
	for i := len(All) - 1; i >= 0; i-- {
		if err := w.Exec("DELETE FROM " + All[i].Name); err != nil {
			return err
		}
	}
	return nil
}
