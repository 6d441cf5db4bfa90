package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/xszz/xszz/idp/org"
)

func (c *cli) orgsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "orgs", Short: "Manage the organisation tree"}
	imp := &cobra.Command{
		Use:   "import FILE.csv",
		Short: "Import units (header: id,parent_id,name,level,region_code,kind,stages); all rows or none",
		Args:  cobra.ExactArgs(1),
		RunE: c.withApp(func(cmd *cobra.Command, a *App, args []string) error {
			if err := a.Orgs.Seed(cmd.Context()); err != nil {
				return err
			}
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			res, err := a.Orgs.Import(cmd.Context(), f)
			var ie *org.ImportError
			if errors.As(err, &ie) {
				for _, re := range ie.Errors {
					fmt.Fprintf(c.log, "%s:%d: %s\n", args[0], re.Line, re.Reason)
				}
				return fmt.Errorf("%d bad row(s); nothing was imported", len(ie.Errors))
			}
			if err != nil {
				return err
			}
			if err := a.audit(cmd.Context(), "org.imported", "", map[string]string{"rows": fmt.Sprint(res.Rows), "inserted": fmt.Sprint(res.Inserted), "updated": fmt.Sprint(res.Updated)}); err != nil {
				return err
			}
			return c.printJSON(res)
		}),
	}
	var o org.Org
	var stages string
	create := &cobra.Command{
		Use:   "create",
		Short: "Create one unit",
		RunE: c.withApp(func(cmd *cobra.Command, a *App, _ []string) error {
			if err := a.Orgs.Seed(cmd.Context()); err != nil {
				return err
			}
			o.Stages = strings.FieldsFunc(stages, func(r rune) bool { return r == ';' || r == ',' })
			created, err := a.Orgs.Create(cmd.Context(), o)
			if err != nil {
				return err
			}
			if err := a.audit(cmd.Context(), "org.created", created.ID, nil); err != nil {
				return err
			}
			return c.printJSON(created)
		}),
	}
	f := create.Flags()
	f.StringVar(&o.ID, "id", "", "stable id: region code, school identification code, …")
	f.StringVar(&o.ParentID, "parent", "", "parent unit id")
	f.StringVar(&o.Name, "name", "", "name")
	f.StringVar(&o.Level, "level", "", "ministry, province, city, county, school or department")
	f.StringVar(&o.RegionCode, "region-code", "", "GB/T 2260 region code")
	f.StringVar(&o.Kind, "kind", "", "regular (default), planned-city, corps or central-university")
	f.StringVar(&stages, "stages", "", "education stages, ';'-separated")

	var under string
	var limit int
	list := &cobra.Command{
		Use:   "list",
		Short: "List the units under one (default: the children of the root)",
		RunE: c.withApp(func(cmd *cobra.Command, a *App, _ []string) error {
			if err := a.Orgs.Seed(cmd.Context()); err != nil {
				return err
			}
			units, err := a.Orgs.Subtree(cmd.Context(), under, limit, "")
			if err != nil {
				return err
			}
			if units == nil {
				units = []org.Org{}
			}
			return c.printJSON(units)
		}),
	}
	list.Flags().StringVar(&under, "under", org.RootID, "unit whose subtree to list")
	list.Flags().IntVar(&limit, "limit", 100, "at most this many")

	move := &cobra.Command{
		Use:   "move ID NEW_PARENT_ID",
		Short: "Move a unit and its whole subtree under another parent",
		Args:  cobra.ExactArgs(2),
		RunE: c.withApp(func(cmd *cobra.Command, a *App, args []string) error {
			if err := a.Orgs.Move(cmd.Context(), args[0], args[1]); err != nil {
				return err
			}
			if err := a.audit(cmd.Context(), "org.moved", args[0], map[string]string{"parent_id": args[1]}); err != nil {
				return err
			}
			moved, err := a.Orgs.Get(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return c.printJSON(moved)
		}),
	}
	cmd.AddCommand(imp, create, list, move)
	return cmd
}
