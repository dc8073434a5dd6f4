#!/usr/bin/env bash
# Installs what the local service stack (test/localstack) and the browser
# tests need on a fresh Debian machine: InfluxDB 1.8.10, nats-server 2.15.3, Ory
# Hydra 2.3.0 (the OIDC provider of the sign-in tests) and staticcheck 0.8.2 (make lint)
# into the repo's ignored bin/, and
# Mosquitto, PostgreSQL, Chromium, socat, systemd (for systemd-analyze, which checks
# deploy/systemd), curl and jq (deploy/influxdb) and gcc (Hydra's SQLite) from apt.
# Idempotent: it installs only what is missing. `make tools` runs it.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
influx_module="github.com/influxdata/influxdb"
influx_version="v1.8.10"

say() { printf 'tools.sh: %s\n' "$*"; }

# is_influx_18 says whether the influxd at $1 is 1.8.x. A `go install`
# build reports "vunknown" to `influxd version`, so ask the Go build
# information for the module version as well.
is_influx_18() {
	local bin="$1"
	[[ -x "$bin" ]] || return 1
	if "$bin" version 2>/dev/null | grep -q 'v1\.8\.'; then
		return 0
	fi
	command -v go >/dev/null 2>&1 &&
		go version -m "$bin" 2>/dev/null | grep -Eq "^[[:space:]]+mod[[:space:]]+${influx_module}[[:space:]]+v1\.8\."
}

install_influxd() {
	local target="$repo/bin/influxd"
	if is_influx_18 "$target"; then
		say "influxd: $target is 1.8, nothing to do"
		return
	fi
	local on_path
	on_path="$(command -v influxd || true)"
	if [[ -n "$on_path" ]] && is_influx_18 "$on_path"; then
		say "influxd: $on_path on PATH is 1.8, nothing to do"
		return
	fi
	if [[ -n "$on_path" ]]; then
		say "influxd: $on_path on PATH is not 1.8 (Debian's is 1.6.7, too old); installing $influx_version into bin/"
	fi
	if ! command -v go >/dev/null 2>&1; then
		say "influxd: go is not installed; install Go, then run: GOBIN=$repo/bin go install $influx_module/cmd/influxd@$influx_version"
		return
	fi
	mkdir -p "$repo/bin"
	local dir
	for dir in "${GOBIN:-}" "$(go env GOPATH)/bin"; do
		if [[ -n "$dir" ]] && is_influx_18 "$dir/influxd"; then
			say "influxd: copying $dir/influxd to $target"
			cp "$dir/influxd" "$target"
			return
		fi
	done
	say "influxd: GOBIN=$repo/bin go install $influx_module/cmd/influxd@$influx_version (takes a minute or two)"
	GOBIN="$repo/bin" go install "$influx_module/cmd/influxd@$influx_version"
	say "influxd: installed $target"
}

# go_install NAME MODULE VERSION PACKAGE installs the pinned Go command PACKAGE (of MODULE
# at VERSION) as bin/NAME, unless bin/NAME already is that module version.
go_install() {
	local name="$1" module="$2" version="$3" pkg="$4"
	local target="$repo/bin/$name"
	if [[ -x "$target" ]] && go version -m "$target" 2>/dev/null | grep -Eq "^[[:space:]]+mod[[:space:]]+${module}[[:space:]]+${version}"; then
		say "$name: $target is $version, nothing to do"
		return
	fi
	if ! command -v go >/dev/null 2>&1; then
		say "$name: go is not installed; install Go, then run: GOBIN=$repo/bin go install $pkg@$version"
		return
	fi
	mkdir -p "$repo/bin"
	say "$name: GOBIN=$repo/bin go install $pkg@$version"
	GOBIN="$repo/bin" go install "$pkg@$version"
}

# nats-server (the clustered broker, deploy/nats) is built from the Go module proxy into
# bin/ like influxd: Debian's package is 2.9.10, older than the MQTT fixes we rely on.
install_nats() {
	go_install nats-server github.com/nats-io/nats-server/v2 v2.15.3 github.com/nats-io/nats-server/v2
}

# staticcheck is the linter `make lint` runs after vet (CI fails on any finding). Pinned,
# built from the Go module proxy into bin/ like the services.
install_staticcheck() {
	go_install staticcheck honnef.co/go/tools v0.8.2 honnef.co/go/tools/cmd/staticcheck
}

# hydra (Ory Hydra, a certified OpenID Connect provider) stands in for a municipality's
# identity provider in the sign-in tests (test/localstack/hydra.go). Its module has a
# replace directive pointing at a directory the module zip leaves out, so `go install
# module@version` refuses it: the source is copied from the module cache, the replace is
# dropped (the published hydra-client-go it names is used instead), and it is built with
# SQLite for its in-memory store (cgo: gcc). The version is stamped into `hydra version`.
hydra_module="github.com/ory/hydra/v2"
hydra_version="v2.3.0"
install_hydra() {
	local target="$repo/bin/hydra"
	if [[ -x "$target" ]] && "$target" version 2>/dev/null | grep -q "$hydra_version"; then
		say "hydra: $target is $hydra_version, nothing to do"
		return
	fi
	if ! command -v go >/dev/null 2>&1; then
		say "hydra: go is not installed; install Go, then run: deploy/tools.sh hydra"
		return
	fi
	local src work
	src="$(cd "$repo" && go mod download -json "$hydra_module@$hydra_version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
	if [[ -z "$src" ]]; then
		say "hydra: could not download $hydra_module@$hydra_version"
		return 1
	fi
	work="$(mktemp -d)"
	cp -r "$src/." "$work/"
	chmod -R u+w "$work"
	mkdir -p "$repo/bin"
	say "hydra: building $hydra_module@$hydra_version into bin/ (takes a few minutes)"
	(cd "$work" && go mod edit -dropreplace github.com/ory/hydra-client-go/v2 &&
		GOFLAGS=-mod=mod go build -tags sqlite,sqlite_omit_load_extension \
			-ldflags "-X $hydra_module/driver/config.Version=$hydra_version" -o "$target" .)
	rm -rf "$work"
	say "hydra: installed $target"
}

have() { command -v "$1" >/dev/null 2>&1 || [[ -x "/usr/sbin/$1" ]]; }

# PostgreSQL counts as installed when initdb exists and, because PostgreSQL
# will not run as root, so does the postgres system user the package makes.
have_postgres() {
	local found=""
	if command -v initdb >/dev/null 2>&1; then
		found=yes
	else
		compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null && found=yes
	fi
	[[ -n "$found" ]] && id postgres >/dev/null 2>&1
}

install_packages() {
	local missing=()
	have mosquitto || missing+=(mosquitto)
	have mosquitto_pub || missing+=(mosquitto-clients)
	have_postgres || missing+=(postgresql)
	have chromium || missing+=(chromium)
	have socat || missing+=(socat)
	have systemd-analyze || missing+=(systemd)
	have curl || missing+=(curl)
	have jq || missing+=(jq)
	have promtool || missing+=(prometheus) # promtool checks and unit-tests deploy/prometheus
	have sqlite3 || missing+=(sqlite3)     # the online backup of the SQLite store (make restore-drill)
	have gcc || missing+=(gcc)             # cgo for Hydra's SQLite (install_hydra)
	if ((${#missing[@]} == 0)); then
		say "apt: mosquitto, mosquitto-clients, postgresql, chromium, socat, systemd, curl, jq, prometheus (promtool) and sqlite3 are installed, nothing to do"
		return
	fi
	local cmd=(apt-get install -y --no-install-recommends "${missing[@]}")
	if [[ "$(id -u)" != 0 ]]; then
		say "apt: missing ${missing[*]}; not root, so run this yourself:"
		say "  sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive ${cmd[*]}"
		return
	fi
	say "apt: apt-get update"
	apt-get update
	say "apt: DEBIAN_FRONTEND=noninteractive ${cmd[*]}"
	DEBIAN_FRONTEND=noninteractive "${cmd[@]}"
	# Debian's mosquitto package also starts a system broker on :1883. The
	# local stack never uses 1883, so it does no harm; nothing relies on it.
	# Likewise the prometheus package may start a server on :9090; only promtool is used.
}

# `tools.sh influxd` installs only InfluxDB (what `make run` needs); no argument: all.
case "${1:-all}" in
influxd) install_influxd ;;
nats) install_nats ;;
hydra) install_hydra ;;
staticcheck) install_staticcheck ;;
all)
	install_influxd
	install_nats
	install_staticcheck
	install_packages
	install_hydra # after the packages: it needs gcc
	;;
*)
	say "usage: tools.sh [influxd|nats|hydra|staticcheck]"
	exit 2
	;;
esac
say "done"
