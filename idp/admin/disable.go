package admin

import (
	"context"

	"github.com/xszz/xszz/idp/account"
)

// DisableByOperator disables an account at an operator's request (the
// command line, `xszz accounts disable`): the console's Disable with the
// system as actor, so the account is stopped, signed out everywhere and
// recorded in the audit trail the same way, with "cli" as the actor.
func (s *Service) DisableByOperator(ctx context.Context, id string) (*account.Account, error) {
	return s.Disable(ctx, Actor{System: true}, id)
}
