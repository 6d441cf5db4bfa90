package main

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/xszz/xszz/idp/account"
	"github.com/xszz/xszz/idp/admin"
	"github.com/xszz/xszz/internal/phone"
)

// accountsImportCmd is `xszz accounts import FILE.csv`: bulk provisioning.
// The file has a header naming the columns phone, name, org_id
// and role (staff or admin; empty means staff), in any order. Every line
// is checked before anything is written; with any error, nothing is.
// Importing the same file twice changes nothing the second time.
func (c *cli) accountsImportCmd() *cobra.Command {
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "import FILE.csv",
		Short: "Create or update accounts from a CSV file (phone,name,org_id,role)",
		Args:  cobra.ExactArgs(1),
		RunE: c.withApp(func(cmd *cobra.Command, a *App, args []string) error {
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			rep, err := a.importAccounts(cmd.Context(), f, dryRun)
			for _, e := range rep.Errors {
				fmt.Fprintln(c.out, e)
			}
			if err != nil {
				return err
			}
			verb := "imported"
			if dryRun {
				verb = "checked (dry run, nothing written)"
			}
			fmt.Fprintf(c.out, "%s %d lines: %d created, %d updated, %d unchanged\n", verb, rep.Lines, rep.Created, rep.Updated, rep.Unchanged)
			return nil
		}),
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "check the file and report what would change, without writing")
	return cmd
}

// importRow is one checked line.
type importRow struct {
	line                     int
	phone, name, orgID, role string
}

// importReport counts what an import did; Errors are "line N: …".
type importReport struct {
	Lines, Created, Updated, Unchanged int
	Errors                             []string
}

var errImportInvalid = errors.New("the file has errors; nothing was imported")

// importAccounts checks every line, then applies them all in one
// transaction through the admin service as the system actor, so every
// change is audited like one made in the console.
func (a *App) importAccounts(ctx context.Context, r io.Reader, dryRun bool) (importReport, error) {
	var rep importReport
	if err := a.Orgs.Seed(ctx); err != nil {
		return rep, err
	}
	rows, errs := a.readImport(ctx, r)
	rep.Lines, rep.Errors = len(rows)+len(errs), errs
	if len(errs) > 0 {
		return rep, errImportInvalid
	}
	in := make([]admin.ImportRow, len(rows))
	for i, row := range rows {
		in[i] = admin.ImportRow{Line: row.line, Phone: row.phone, Name: row.name, OrgID: row.orgID, Role: row.role}
	}
	// One transaction through the admin service: all lines or none, each
	// change audited as the system actor.
	done, err := a.Admin.Import(ctx, admin.Actor{System: true}, in, dryRun)
	rep.Created, rep.Updated, rep.Unchanged = done.Created, done.Updated, done.Unchanged
	return rep, err
}

// readImport parses and checks the file; errors carry line numbers.
func (a *App) readImport(ctx context.Context, r io.Reader) ([]importRow, []string) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		return nil, []string{fmt.Sprintf("line 1: cannot read the header: %v", err)}
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))] = i
	}
	for _, need := range []string{"phone", "name", "org_id"} {
		if _, ok := col[need]; !ok {
			return nil, []string{fmt.Sprintf("line 1: the header must name the columns phone,name,org_id,role (missing %q)", need)}
		}
	}
	var (
		rows   []importRow
		errs   []string
		phones = map[string]int{}
		orgs   = map[string]bool{}
	)
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			errs = append(errs, fmt.Sprintf("line %d: %v", line, err))
			var pe *csv.ParseError
			if errors.As(err, &pe) && pe.Err == csv.ErrFieldCount {
				continue
			}
			if !errors.As(err, &pe) {
				break
			}
			continue
		}
		field := func(name string) string {
			i, ok := col[name]
			if !ok || i >= len(rec) {
				return ""
			}
			return strings.TrimSpace(rec[i])
		}
		if strings.Join(rec, "") == "" {
			continue // blank line
		}
		row := importRow{line: line, name: field("name"), orgID: field("org_id"), role: field("role")}
		bad := func(msg string) { errs = append(errs, fmt.Sprintf("line %d: %s", line, msg)) }
		e164, err := phone.Normalize(field("phone"))
		if err != nil {
			bad("phone: not a mainland mobile number")
			continue
		}
		row.phone = e164
		if first, dup := phones[e164]; dup {
			bad(fmt.Sprintf("phone: same number as line %d", first))
			continue
		}
		phones[e164] = line
		if err := account.ValidateName(row.name); err != nil {
			bad("name: " + err.Error())
			continue
		}
		if row.role == "" {
			row.role = account.RoleStaff
		}
		if row.role != account.RoleStaff && row.role != account.RoleAdmin {
			bad(fmt.Sprintf("role: %q is neither staff nor admin", row.role))
			continue
		}
		if row.orgID == "" {
			bad("org_id: missing")
			continue
		}
		if _, known := orgs[row.orgID]; !known {
			_, err := a.Orgs.Get(ctx, row.orgID)
			orgs[row.orgID] = err == nil
		}
		if !orgs[row.orgID] {
			bad(fmt.Sprintf("org_id: no organisation %q", row.orgID))
			continue
		}
		rows = append(rows, row)
	}
	return rows, errs
}
