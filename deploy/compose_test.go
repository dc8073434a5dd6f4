// Package deploy_test checks deploy/compose.yaml and deploy/Dockerfile without a container
// engine (none runs where the tests run): the file is parsed and every service is held to
// what the platform needs — an image or a build, a healthcheck for what others wait on,
// depends_on with conditions, declared volumes and existing bind-mount sources, VAGT_*
// variables that the commands really read, and no secret without a ${VARIABLE} to set it.
package deploy_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/vagt-dk/vagt/deploy/internal/configref"
)

type composeFile struct {
	Name     string
	Services map[string]service
	Volumes  map[string]any
}

type service struct {
	Image       string
	Build       *struct{ Context, Dockerfile string }
	Command     []string
	Environment map[string]string
	Volumes     []string
	Ports       []string
	DependsOn   map[string]struct{ Condition string } `yaml:"depends_on"`
	Healthcheck *struct {
		Test     []string
		Interval string
	}
	Restart  string
	ReadOnly bool     `yaml:"read_only"`
	CapDrop  []string `yaml:"cap_drop"`
	User     string
}

func readCompose(t *testing.T) (composeFile, string) {
	t.Helper()
	raw, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	dec.KnownFields(false) // x- extensions and keys we do not check
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	if len(c.Services) == 0 {
		t.Fatal("compose.yaml: no services")
	}
	return c, string(raw)
}

// The platform is all there, each service from an image with a tag or from a build whose
// Dockerfile exists.
func TestComposeServices(t *testing.T) {
	c, _ := readCompose(t)
	for _, want := range []string{"mosquitto", "influxdb", "postgres", "ingest", "api"} {
		if _, ok := c.Services[want]; !ok {
			t.Errorf("no service %s", want)
		}
	}
	for name, s := range c.Services {
		switch {
		case s.Build != nil:
			df := filepath.Join(s.Build.Context, s.Build.Dockerfile)
			if _, err := os.Stat(df); err != nil {
				t.Errorf("%s: build: %v", name, err)
			}
		case s.Image == "":
			t.Errorf("%s: neither image nor build", name)
		case !strings.Contains(s.Image, ":") || strings.HasSuffix(s.Image, ":latest"):
			t.Errorf("%s: image %q is not pinned to a tag", name, s.Image)
		}
	}
	for _, name := range []string{"ingest", "api"} {
		s := c.Services[name]
		if s.Build == nil || len(s.Command) == 0 || s.Command[0] != name {
			t.Errorf("%s: want a build of deploy/Dockerfile running `vagt %s`, got build %v, command %q", name, name, s.Build, s.Command)
		}
		if !s.ReadOnly || !slices.Contains(s.CapDrop, "ALL") {
			t.Errorf("%s: read_only %t, cap_drop %v: want a read-only root and no capabilities", name, s.ReadOnly, s.CapDrop)
		}
	}
}

// Long-running services have healthchecks; every dependency names a condition, and
// service_healthy only on services that have a healthcheck.
func TestComposeHealthAndDependencies(t *testing.T) {
	c, _ := readCompose(t)
	conditions := []string{"service_started", "service_healthy", "service_completed_successfully"}
	for name, s := range c.Services {
		oneShot := strings.HasSuffix(name, "-init")
		if oneShot {
			if s.Restart != "" && s.Restart != "no" {
				t.Errorf("%s: a one-shot service with restart %q", name, s.Restart)
			}
		} else {
			if s.Healthcheck == nil || len(s.Healthcheck.Test) < 2 {
				t.Errorf("%s: no healthcheck", name)
			}
			if s.Restart == "" || s.Restart == "no" {
				t.Errorf("%s: restart %q; a platform service must come back", name, s.Restart)
			}
		}
		for dep, d := range s.DependsOn {
			target, ok := c.Services[dep]
			switch {
			case !ok:
				t.Errorf("%s depends on unknown service %s", name, dep)
			case !slices.Contains(conditions, d.Condition):
				t.Errorf("%s → %s: condition %q, want one of %v", name, dep, d.Condition, conditions)
			case d.Condition == "service_healthy" && target.Healthcheck == nil:
				t.Errorf("%s waits for %s to be healthy, which has no healthcheck", name, dep)
			case d.Condition == "service_completed_successfully" && !strings.HasSuffix(dep, "-init"):
				t.Errorf("%s waits for %s to complete, which is not a one-shot", name, dep)
			}
		}
	}
	// Alarms must become alerts when ingest or InfluxDB is down: the api waits for neither.
	for _, dep := range []string{"ingest", "influxdb"} {
		if _, ok := c.Services["api"].DependsOn[dep]; ok {
			t.Errorf("api depends on %s", dep)
		}
	}
}

// Named volumes are declared; bind-mount sources exist; the broker runs the very files
// deploy/mosquitto/mosquitto_test.go tests.
func TestComposeVolumes(t *testing.T) {
	c, _ := readCompose(t)
	for name, s := range c.Services {
		for _, v := range s.Volumes {
			src, dst, ok := strings.Cut(v, ":")
			if !ok || !strings.HasPrefix(dst, "/") {
				t.Errorf("%s: volume %q is not source:/target", name, v)
				continue
			}
			if strings.HasPrefix(src, ".") || strings.HasPrefix(src, "/") {
				if _, err := os.Stat(src); err != nil {
					t.Errorf("%s: bind mount %q: %v", name, v, err)
				}
			} else if _, ok := c.Volumes[src]; !ok {
				t.Errorf("%s: volume %q is not declared under volumes:", name, src)
			}
		}
	}
	m := c.Services["mosquitto"]
	for _, want := range []string{
		"./mosquitto/mosquitto.conf:/etc/mosquitto/vagt/mosquitto.conf:ro",
		"./mosquitto/acl:/etc/mosquitto/vagt/acl:ro",
	} {
		if !slices.Contains(m.Volumes, want) {
			t.Errorf("mosquitto does not mount %s", want)
		}
	}
	if !slices.Contains(m.Command, "/etc/mosquitto/vagt/mosquitto.conf") {
		t.Errorf("mosquitto runs %q, not the production config", m.Command)
	}
	// Only the gateways' TLS listeners and the api (on loopback) are published.
	published := map[string][]string{}
	for name, s := range c.Services {
		if len(s.Ports) > 0 {
			published[name] = s.Ports
		}
	}
	want := map[string][]string{"mosquitto": {"8883:8883", "8884:8884"}, "api": {"127.0.0.1:8080:8080"}}
	if len(published) != len(want) {
		t.Errorf("published ports %v, want %v", published, want)
	}
	for name, ports := range want {
		if !slices.Equal(published[name], ports) {
			t.Errorf("%s publishes %v, want %v", name, published[name], ports)
		}
	}
}

// The VAGT_* variables given to ingest and api are ones `vagt ingest` and `vagt api` read,
// with values of the flags' types.
func TestComposeVariablesExistInTheCode(t *testing.T) {
	c, _ := readCompose(t)
	for name, command := range map[string]string{"ingest": "vagt ingest", "api": "vagt api"} {
		known, err := configref.Variables(command)
		if err != nil {
			t.Fatal(err)
		}
		env := c.Services[name].Environment
		if len(env) == 0 {
			t.Errorf("%s: no environment", name)
		}
		for k, v := range env {
			if !strings.HasPrefix(k, "VAGT_") {
				continue
			}
			kind, ok := known[k]
			if !ok {
				t.Errorf("%s: %s is not a flag of %s (docs/configuration.md)", name, k, command)
			} else if err := configref.Check(kind, v); err != nil {
				t.Errorf("%s: %s=%s: not a valid %s: %v", name, k, v, kind, err)
			}
		}
		for _, must := range []string{"VAGT_BROKER", "VAGT_USERNAME", "VAGT_PASSWORD", "VAGT_CLIENT_ID"} {
			if env[must] == "" {
				t.Errorf("%s: %s is not set", name, must)
			}
		}
	}
}

// ingest and api reach the broker on a listener that compose.d opens on the compose
// network; mosquitto.conf's own plain listener is on the broker container's loopback.
func TestComposeServicesReachTheBroker(t *testing.T) {
	c, _ := readCompose(t)
	files, err := filepath.Glob("mosquitto/compose.d/*.conf")
	if err != nil || len(files) == 0 {
		t.Fatalf("no mosquitto/compose.d/*.conf (%v)", err)
	}
	network := map[string]bool{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range regexp.MustCompile(`(?m)^listener (\d+)\s*$`).FindAllStringSubmatch(string(data), -1) {
			network[m[1]] = true
		}
	}
	for _, name := range []string{"ingest", "api"} {
		broker := c.Services[name].Environment["VAGT_BROKER"]
		m := regexp.MustCompile(`^tcp://mosquitto:(\d+)$`).FindStringSubmatch(broker)
		if m == nil || !network[m[1]] {
			t.Errorf("%s: VAGT_BROKER = %q, want tcp://mosquitto:<a listener of compose.d on all addresses> (%v)", name, broker, network)
		}
	}
}

var (
	secretKey     = regexp.MustCompile(`(?i)PASSWORD|TOKEN|SECRET|_KEY$`)
	interpolation = regexp.MustCompile(`\$\{([A-Z0-9_]+)(?::?-([^}]*))?\}`)
	dsnPassword   = regexp.MustCompile(`://[^:/@\s]+:([^@\s]+)@`)
)

// No secret is written into the file: each is a ${VARIABLE} whose default, if any, says
// dev-only; one variable has one default everywhere, so the services agree.
func TestComposeHasNoHardCodedSecrets(t *testing.T) {
	c, raw := readCompose(t)
	isSafe := func(v string) bool {
		m := interpolation.FindStringSubmatch(v)
		return m != nil && strings.TrimSpace(v) == m[0]
	}
	for name, s := range c.Services {
		for k, v := range s.Environment {
			if secretKey.MatchString(k) && !strings.HasPrefix(v, "$$") && !isSafe(v) {
				t.Errorf("%s: %s = %q: set it through ${VARIABLE:-dev-only-...}", name, k, v)
			}
			if m := dsnPassword.FindStringSubmatch(v); m != nil && !isSafe(m[1]) {
				t.Errorf("%s: %s has a password in its URL: %q", name, k, v)
			}
		}
	}
	defaults := map[string]string{}
	for _, m := range interpolation.FindAllStringSubmatch(raw, -1) {
		name, def := m[1], m[2]
		if secretKey.MatchString(name) && def != "" && !strings.HasPrefix(def, "dev-only-") {
			t.Errorf("${%s} defaults to %q: a secret's default must say dev-only-", name, def)
		}
		if prev, ok := defaults[name]; ok && prev != def {
			t.Errorf("${%s} has two defaults, %q and %q: the services would not agree", name, prev, def)
		}
		defaults[name] = def
	}
}

// The image is built in stages and runs as a user other than root.
func TestDockerfile(t *testing.T) {
	raw, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var froms []string
	user := ""
	for _, line := range strings.Split(string(raw), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		switch strings.ToUpper(f[0]) {
		case "FROM":
			froms = append(froms, f[1])
			user = "" // USER is per stage
		case "USER":
			user = f[1]
		case "RUN":
			for _, pkg := range regexp.MustCompile(`\./cmd/[a-z-]+`).FindAllString(line, -1) {
				if _, err := os.Stat(filepath.Join("..", pkg)); err != nil {
					t.Errorf("Dockerfile builds %s: %v", pkg, err)
				}
			}
		}
	}
	if len(froms) < 2 {
		t.Fatalf("FROM %v: want a multi-stage build", froms)
	}
	final := froms[len(froms)-1]
	if !strings.Contains(final, "distroless") && !strings.Contains(final, "-slim") {
		t.Errorf("final stage %s: want distroless or a slim Debian", final)
	}
	if user == "" || user == "root" || strings.HasPrefix(user, "0") {
		t.Errorf("final stage runs as %q, want a non-root USER", user)
	}
	if _, err := os.Stat("Dockerfile.dockerignore"); err != nil {
		t.Errorf("no Dockerfile.dockerignore: the build context would carry bin/ and var/: %v", err)
	}
}
