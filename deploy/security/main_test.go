package security

import (
	"testing"

	"github.com/vagt-dk/vagt/deploy/localstack/stacktest"
)

func TestMain(m *testing.M) { stacktest.Main(m) }
