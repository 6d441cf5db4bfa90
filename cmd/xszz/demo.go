package main

import (
	"encoding/json"
	"strings"

	"github.com/spf13/cobra"

	"github.com/xszz/xszz/cockpit"
	"github.com/xszz/xszz/idp/demo"
	officepkg "github.com/xszz/xszz/office"
)

func (c *cli) demoCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "demo", Short: "Demo data for trying the system"}
	cmd.AddCommand(&cobra.Command{
		Use:   "seed",
		Short: "Fill the configured database with a demo world (idempotent); prints one JSON line per demo account",
		Long: `Builds Jiangsu with its cities, a few counties, schools and departments, a
provincial and a central university, and about fifty accounts at all six levels
(staff and admins, a few with the cockpit grant). Prints one JSON object per
line for every demo account: {"phone","name","org_id","org_name","level","role","cockpit"}.
It also adds office notices (published by the centre, forwarded down to the
schools) and a training open for sign-in, and generates the cockpit's demo data (200,000 aid records, a fixed seed).
Sign in with the phone number at the IdP; the code is in the SMS outbox file.
Admins set up an authenticator app at their first sign-in.`,
		RunE: c.withApp(func(cmd *cobra.Command, a *App, _ []string) error {
			ctx := cmd.Context()
			if err := a.prepare(ctx); err != nil {
				return err
			}
			people, err := demo.Seed(ctx, a.Orgs, a.Accounts, a.Grants)
			if err != nil {
				return err
			}
			// Notices forwarded level by level and a training, so both office
			// modules have something to click through.
			office := make([]officepkg.DemoPerson, 0, len(people))
			for _, p := range people {
				office = append(office, officepkg.DemoPerson{Sub: p.ID, Name: p.Name, Phone: p.Phone, OrgID: p.OrgID, OrgName: p.OrgName,
					OrgLevel: p.Level, OrgPath: p.OrgPath, Role: p.Role})
			}
			if err := officepkg.SeedDemo(ctx, a.DB, office, a.Now()); err != nil {
				return err
			}
			// A laptop-sized data set, the same every time (a fixed seed).
			if err := cockpit.SeedDemo(ctx, a.DB, c.log); err != nil {
				return err
			}
			enc := json.NewEncoder(c.out)
			enc.SetEscapeHTML(false)
			for _, p := range people {
				// People type the national number, not E.164.
				p.Phone = strings.TrimPrefix(p.Phone, "+86")
				if err := enc.Encode(p); err != nil {
					return err
				}
			}
			return nil
		}),
	})
	return cmd
}
