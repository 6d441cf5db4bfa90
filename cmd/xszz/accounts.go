package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/xszz/xszz/idp/account"
	"github.com/xszz/xszz/idp/admin"
	"github.com/xszz/xszz/internal/phone"
	"github.com/xszz/xszz/internal/sqldb"
)

func (c *cli) accountsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "accounts", Short: "Manage staff accounts"}
	var ph, name, orgID, role string
	create := &cobra.Command{
		Use:   "create",
		Short: "Create an active account; prints it as JSON",
		RunE: c.withApp(func(cmd *cobra.Command, a *App, _ []string) error {
			e164, err := phone.Normalize(ph)
			if err != nil {
				return fmt.Errorf("--phone: %w", err)
			}
			if err := account.ValidateName(name); err != nil {
				return fmt.Errorf("--name: %w", err)
			}
			if role != account.RoleStaff && role != account.RoleAdmin {
				return errors.New("--role: must be staff or admin")
			}
			if orgID != "" {
				if err := a.Orgs.Seed(cmd.Context()); err != nil {
					return err
				}
				if _, err := a.Orgs.Get(cmd.Context(), orgID); err != nil {
					return fmt.Errorf("--org: no organisation %q", orgID)
				}
			}
			acc, err := a.Accounts.Create(cmd.Context(), account.Account{Phone: e164, Name: name, OrgID: orgID, Role: role, Status: account.StatusActive})
			if errors.Is(err, account.ErrPhoneTaken) {
				return errors.New("this phone number already has an account")
			}
			if err != nil {
				return err
			}
			if err := a.auditAccount(cmd.Context(), "account.created", acc, map[string]string{"role": role, "org_id": orgID}); err != nil {
				return err
			}
			return c.printJSON(acc)
		}),
	}
	create.Flags().StringVar(&ph, "phone", "", "mainland mobile number (required)")
	create.Flags().StringVar(&name, "name", "", "real name (required)")
	create.Flags().StringVar(&orgID, "org", "", "organisation id")
	create.Flags().StringVar(&role, "role", account.RoleStaff, "role: staff or admin")

	var after string
	var limit int
	list := &cobra.Command{
		Use:   "list",
		Short: "List accounts as JSON",
		RunE: c.withApp(func(cmd *cobra.Command, a *App, _ []string) error {
			accs, err := a.Accounts.List(cmd.Context(), after, limit)
			if err != nil {
				return err
			}
			if accs == nil {
				accs = []*account.Account{}
			}
			return c.printJSON(accs)
		}),
	}
	list.Flags().StringVar(&after, "after", "", "list accounts after this id")
	list.Flags().IntVar(&limit, "limit", 100, "at most this many")

	var dph string
	disable := &cobra.Command{
		Use:   "disable",
		Short: "Disable an account: it cannot sign in, and its sessions and tokens end",
		RunE: c.withApp(func(cmd *cobra.Command, a *App, _ []string) error {
			e164, err := phone.Normalize(dph)
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
			acc, err = a.disableAccount(cmd.Context(), acc.ID)
			if err != nil {
				return err
			}
			return c.printJSON(acc)
		}),
	}
	disable.Flags().StringVar(&dph, "phone", "", "mainland mobile number (required)")

	// A disable made here is lifted only here: no admin, however high,
	// undoes the operator's decision.
	var eph string
	enable := &cobra.Command{
		Use:   "enable",
		Short: "Enable a disabled account again",
		RunE: c.withApp(func(cmd *cobra.Command, a *App, _ []string) error {
			e164, err := phone.Normalize(eph)
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
			if acc, err = a.Admin.Enable(cmd.Context(), admin.Actor{System: true}, acc.ID); err != nil {
				return err
			}
			return c.printJSON(acc)
		}),
	}
	enable.Flags().StringVar(&eph, "phone", "", "mainland mobile number (required)")
	cmd.AddCommand(create, list, disable, enable, c.accountsImportCmd())
	return cmd
}
