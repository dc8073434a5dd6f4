#!/usr/bin/env bash
# Sets up InfluxDB 2.x for vagt: the initial user, organisation and bucket (with its
# retention) when the server is new, then a write-only token for vagt ingest and a
# read-and-write token for vagt api (it reads statistics and deletes a citizen's telemetry
# on erasure and by retention; the delete API needs write), both limited to the bucket.
# Needs the influx CLI (2.x) and jq. Idempotent for the set-up; each run makes a new pair of tokens (revoke the old
# ones with `influx auth delete --id ...`).
#
#   INFLUX_HOST=http://127.0.0.1:8086 INFLUX_ADMIN_PASSWORD=... ./setup-2x.sh
#
# Settings (environment):
#   INFLUX_HOST            server URL                                  default http://127.0.0.1:8086
#   INFLUX_ADMIN_USER      initial user (set-up only)                  default admin
#   INFLUX_ADMIN_PASSWORD  its password (set-up only; >= 8 characters)
#   INFLUX_TOKEN           an operator token: required when the server was set up already;
#                          for a new server the one to create (default: a random one,
#                          written to ./influx-operator.token, mode 0600)
#   VAGT_INFLUX_ORG        organisation                                default vagt
#   VAGT_INFLUX_BUCKET     bucket                                      default vagt
#   VAGT_RETENTION         bucket retention, e.g. 8760h (a year), 0 = forever   default 8760h
# Output: VAGT_INFLUX_TOKEN lines for /etc/vagt/ingest.env and /etc/vagt/api.env, on stdout;
# everything else on stderr.
set -euo pipefail

host="${INFLUX_HOST:-http://127.0.0.1:8086}"
org="${VAGT_INFLUX_ORG:-vagt}"
bucket="${VAGT_INFLUX_BUCKET:-vagt}"
retention="${VAGT_RETENTION:-8760h}"

say() { printf 'setup-2x.sh: %s\n' "$*" >&2; }
need() { command -v "$1" >/dev/null 2>&1 || { say "$1 is not installed"; exit 1; }; }
need influx
need jq
need curl

# GET /api/v2/setup says whether the server still waits for its initial user.
if curl -fsS "$host/api/v2/setup" | jq -e '.allowed == true' >/dev/null; then
	: "${INFLUX_ADMIN_PASSWORD:?set INFLUX_ADMIN_PASSWORD for the initial user}"
	# influx setup prints no token; make the operator token here and hand it over.
	if [[ -z "${INFLUX_TOKEN:-}" ]]; then
		INFLUX_TOKEN="$(head -c 32 /dev/urandom | base64 | tr -d '=+/\n')"
		(umask 077 && printf '%s\n' "$INFLUX_TOKEN" >influx-operator.token)
		say "operator token (can do everything) written to $PWD/influx-operator.token: move it to your secret store"
	fi
	say "new server: setting up user ${INFLUX_ADMIN_USER:-admin}, org $org, bucket $bucket (retention $retention)"
	influx setup --host "$host" --force --token "$INFLUX_TOKEN" \
		--username "${INFLUX_ADMIN_USER:-admin}" --password "$INFLUX_ADMIN_PASSWORD" \
		--org "$org" --bucket "$bucket" --retention "$retention" >&2
else
	: "${INFLUX_TOKEN:?the server is set up already: set INFLUX_TOKEN to an operator token}"
	say "server is set up already"
	if ! influx bucket list --host "$host" --token "$INFLUX_TOKEN" --org "$org" --name "$bucket" --json >/dev/null 2>&1; then
		say "creating bucket $bucket (retention $retention)"
		influx bucket create --host "$host" --token "$INFLUX_TOKEN" --org "$org" \
			--name "$bucket" --retention "$retention" --json >/dev/null
	fi
fi
export INFLUX_TOKEN

bucket_id="$(influx bucket list --host "$host" --org "$org" --name "$bucket" --json | jq -r '.[0].id')"
[[ -n "$bucket_id" && "$bucket_id" != null ]] || { say "bucket $bucket not found in org $org"; exit 1; }

ingest_token="$(influx auth create --host "$host" --org "$org" --write-bucket "$bucket_id" \
	--description "vagt ingest: write $bucket" --json | jq -r '.token')"
api_token="$(influx auth create --host "$host" --org "$org" --read-bucket "$bucket_id" \
	--write-bucket "$bucket_id" --description "vagt api: read and delete $bucket" --json | jq -r '.token')"

say "tokens made; put them into the env files (vagt ingest runs with VAGT_SETUP=false: its token cannot create buckets)"
printf '# /etc/vagt/ingest.env\nVAGT_INFLUX_ORG=%s\nVAGT_INFLUX_BUCKET=%s\nVAGT_INFLUX_TOKEN=%s\n' "$org" "$bucket" "$ingest_token"
printf '# /etc/vagt/api.env (statistics, erasure)\nVAGT_INFLUX_ORG=%s\nVAGT_INFLUX_BUCKET=%s\nVAGT_INFLUX_TOKEN=%s\n' "$org" "$bucket" "$api_token"
