package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/xszz/xszz/idp/admin"
	"github.com/xszz/xszz/idp/grant"
	"github.com/xszz/xszz/internal/phone"
	"github.com/xszz/xszz/internal/sqldb"
)

func (c *cli) grantsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "grants", Short: "Grant or revoke application access (the data cockpit) per account"}
	var ph, app string
	change := func(use, short string, revoke bool) *cobra.Command {
		sub := &cobra.Command{
			Use:   use,
			Short: short,
			RunE: c.withApp(func(cmd *cobra.Command, a *App, _ []string) error {
				e164, err := phone.Normalize(ph)
				if err != nil {
					return fmt.Errorf("--phone: %w", err)
				}
				acc, err := a.Accounts.ByPhone(cmd.Context(), e164)
				if errors.Is(err, sqldb.ErrNotFound) {
					return errors.New("no account has this phone number")
				}
				if err != nil {
					return err
				}
				actor := admin.Actor{System: true}
				if revoke {
					err = a.Admin.Revoke(cmd.Context(), actor, acc.ID, app)
				} else {
					err = a.Admin.Grant(cmd.Context(), actor, acc.ID, app)
				}
				if err != nil {
					return err
				}
				grants, err := a.Grants.Grants(cmd.Context(), acc.ID)
				if err != nil {
					return err
				}
				if grants == nil {
					grants = []string{}
				}
				return c.printJSON(map[string]any{"account_id": acc.ID, "grants": grants})
			}),
		}
		sub.Flags().StringVar(&ph, "phone", "", "the account's mobile number (required)")
		sub.Flags().StringVar(&app, "app", grant.Cockpit, "application: cockpit")
		return sub
	}
	var listApp string
	list := &cobra.Command{
		Use:   "list",
		Short: "List the accounts holding a grant",
		RunE: c.withApp(func(cmd *cobra.Command, a *App, _ []string) error {
			gs, err := a.Grants.List(cmd.Context(), listApp, "", 1000)
			if err != nil {
				return err
			}
			if gs == nil {
				gs = []grant.Grant{}
			}
			return c.printJSON(gs)
		}),
	}
	list.Flags().StringVar(&listApp, "app", grant.Cockpit, "application: cockpit")
	cmd.AddCommand(change("add", "Grant access (ministry, province, city and county accounts only)", false),
		change("revoke", "Revoke access; the account's tokens end and relying parties are told", true), list)
	return cmd
}
