package admin

import (
	"context"
	"errors"
	"fmt"

	"github.com/xszz/xszz/idp/account"
	"github.com/xszz/xszz/internal/sqldb"
)

// ImportRow is one checked line of a bulk import: the account with this
// phone number is created, or brought to this name, unit and role.
type ImportRow struct {
	Line                     int
	Phone, Name, OrgID, Role string // Phone in E.164
}

// ImportReport counts what an import did (or, in a dry run, would do).
type ImportReport struct {
	Created, Updated, Unchanged int
}

// errDryRun rolls a dry run back after it has gone through every row.
var errDryRun = errors.New("dry run")

// Import applies rows in one transaction: every line or none. Each change
// goes through the same operation as in the console (and is audited like
// one), so an import can do nothing an admin could not. A dry run applies
// everything and rolls back, so it finds every error an import would.
func (s *Service) Import(ctx context.Context, a Actor, rows []ImportRow, dryRun bool) (ImportReport, error) {
	var (
		rep  ImportReport
		told []func()
	)
	ctx = context.WithValue(ctx, tellKey{}, &told)
	err := s.inTx(ctx, func(ctx context.Context) error {
		for _, row := range rows {
			if err := s.importRow(ctx, a, row, &rep); err != nil {
				return fmt.Errorf("line %d: %w", row.Line, err)
			}
		}
		if dryRun {
			return errDryRun
		}
		return nil
	})
	if dryRun && errors.Is(err, errDryRun) {
		return rep, nil
	}
	if err != nil {
		return rep, err
	}
	for _, f := range told {
		f()
	}
	return rep, nil
}

func (s *Service) importRow(ctx context.Context, a Actor, row ImportRow, rep *ImportReport) error {
	acc, err := s.Accounts.ByPhone(ctx, row.Phone)
	if errors.Is(err, sqldb.ErrNotFound) {
		rep.Created++
		_, err := s.Provision(ctx, a, row.Phone, row.Name, row.OrgID, row.Role)
		return err
	}
	if err != nil {
		return err
	}
	if acc.Name == row.Name && acc.OrgID == row.OrgID && acc.Role == row.Role {
		rep.Unchanged++
		return nil
	}
	rep.Updated++
	if acc.Name != row.Name {
		if _, err := s.Rename(ctx, a, acc.ID, row.Name); err != nil {
			return err
		}
	}
	if acc.OrgID != row.OrgID {
		if _, err := s.Move(ctx, a, acc.ID, row.OrgID); err != nil {
			return err
		}
	}
	if acc.Role != row.Role {
		if _, err := s.SetRole(ctx, a, acc.ID, row.Role); err != nil {
			return err
		}
	}
	return nil
}

// Rename corrects an account's real name.
func (s *Service) Rename(ctx context.Context, a Actor, id, name string) (*account.Account, error) {
	if err := account.ValidateName(name); err != nil {
		return nil, invalid(err.Error())
	}
	return s.update(ctx, a, id, "account.renamed", nil, func(acc *account.Account) error {
		acc.Name = name
		return nil
	}, false)
}

// tellKey carries, through an operation that spans several actions (an
// import), the back-channel logouts to send once the whole is committed.
type tellKey struct{}
