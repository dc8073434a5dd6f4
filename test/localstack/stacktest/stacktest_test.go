package stacktest

import (
	"fmt"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/vagt-dk/vagt/test/localstack"
)

// recorder stands in for the test a helper ends; Skipf and Fatalf end the
// goroutine as the real ones do.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper() {}
func (r *recorder) Skipf(format string, args ...any) {
	r.skipped = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.failed = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func TestUnavailableSkipsUnlessServicesAreRequired(t *testing.T) {
	missing := &localstack.MissingBinaryError{Name: "influxd", Hint: "make tools"}
	for _, c := range []struct {
		name, require string
		err           error
		skip          bool
	}{
		{"missing", "", missing, true},
		{"missing but required", "1", missing, false},
		{"broken", "", fmt.Errorf("exited during start"), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv(RequireEnv, c.require)
			r := &recorder{TB: t}
			done := make(chan struct{})
			go func() {
				defer close(done)
				unavailable(r, "influxd", c.err)
			}()
			<-done
			if c.skip && (r.skipped == "" || r.failed != "") || !c.skip && (r.failed == "" || r.skipped != "") {
				t.Fatalf("skipped %q, failed %q; want skip = %t", r.skipped, r.failed, c.skip)
			}
			if c.err == missing && !strings.Contains(r.skipped+r.failed, "make tools") {
				t.Errorf("the message does not say how to install: %q", r.skipped+r.failed)
			}
		})
	}
}

func TestDatabaseNamesAreUniqueAndPlain(t *testing.T) {
	valid := regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)
	seen := map[string]bool{}
	for range 3 {
		t.Run("A very/long Name with ÆØÅ and more characters than PostgreSQL allows", func(t *testing.T) {
			name := databaseName(t)
			if !valid.MatchString(name) || seen[name] {
				t.Fatalf("databaseName = %q (seen before: %t)", name, seen[name])
			}
			seen[name] = true
		})
	}
}
