package auth

import (
	"context"
	"time"

	"github.com/vagt-dk/vagt/api"
)

// TokenService finds principals by token hash, issues and revokes tokens and citizens'
// activation codes. api/sqlstore implements it (checked in api/sqlstore/contracts.go);
// api/httpapi consumes it. It lives here rather than in package api because it speaks of
// this package's TokenInfo and IssueOptions.
type TokenService interface {
	Principal(ctx context.Context, hash string, now time.Time) (*api.Principal, error)
	IssueTokenWith(ctx context.Context, p api.Principal, hash string, expires *time.Time, now time.Time, o IssueOptions) (api.Principal, error)
	Tokens(ctx context.Context, userID int64) ([]TokenInfo, error)
	RevokeToken(ctx context.Context, id int64, actor string, now time.Time) (TokenInfo, error)
	RevokeUserTokens(ctx context.Context, userID int64, actor string, now time.Time) (int, error)
	IssueActivationCode(ctx context.Context, scope api.Scope, citizen int64, hash, issuer string, expires, now time.Time) error
	Activate(ctx context.Context, codeHash, tokenHash string, expires, now time.Time) (api.Principal, int64, error)
}
