package stacktest

import (
	"context"
	"testing"

	"github.com/vagt-dk/vagt/test/localstack"
)

// Hydra starts an OpenID Connect provider (Ory Hydra, in-memory) for t alone and closes it
// when t ends. At most one opts is used.
func Hydra(t testing.TB, opts ...localstack.HydraOptions) *localstack.Hydra {
	t.Helper()
	return start(t, "hydra", func(ctx context.Context) (*localstack.Hydra, error) {
		return localstack.StartHydra(ctx, first(opts))
	})
}
