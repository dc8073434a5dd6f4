#!/usr/bin/env bash
# Sets up InfluxDB 1.8 for vagt over its HTTP API (curl only): the database, the retention
# of its default policy (autogen, so the 2.x-style bucket stays "vagt/autogen"), an admin
# user, and users for vagt ingest (WRITE) and vagt api (ALL: it reads statistics and
# deletes a citizen's telemetry on erasure and by retention). Idempotent: it creates what
# is missing and sets the passwords and the retention again.
#
#   INFLUX_URL=http://127.0.0.1:8086 INFLUX_ADMIN_PASSWORD=... \
#   INFLUX_INGEST_PASSWORD=... INFLUX_API_PASSWORD=... ./setup-18.sh
#
# The server needs, in influxdb.conf (see README.md):  [http] auth-enabled = true,
# flux-enabled = true. Until the first admin user exists, 1.8 accepts the statement that
# creates it without credentials; after that this script logs in as that admin.
# deploy/influxdb/setup_test.go runs it against a real 1.8 (with authentication off).
#
# Settings (environment):
#   INFLUX_URL           default http://127.0.0.1:8086
#   INFLUX_ADMIN_USER    default admin
#   INFLUX_ADMIN_PASSWORD, INFLUX_INGEST_PASSWORD, INFLUX_API_PASSWORD   required
#   VAGT_INFLUX_DB       database, default vagt
#   VAGT_RETENTION       InfluxQL duration of autogen, e.g. 52w; INF = forever. Default 52w
#   VAGT_SHARD_DURATION  default 1w
set -euo pipefail

url="${INFLUX_URL:-http://127.0.0.1:8086}"
admin="${INFLUX_ADMIN_USER:-admin}"
db="${VAGT_INFLUX_DB:-vagt}"
retention="${VAGT_RETENTION:-52w}"
shard="${VAGT_SHARD_DURATION:-1w}"
: "${INFLUX_ADMIN_PASSWORD:?}" "${INFLUX_INGEST_PASSWORD:?}" "${INFLUX_API_PASSWORD:?}"

say() { printf 'setup-18.sh: %s\n' "$*" >&2; }

# quote makes an InfluxQL string literal.
quote() { local s="${1//\\/\\\\}"; printf "'%s'" "${s//\'/\\\'}"; }

# q runs one InfluxQL statement; InfluxDB answers 200 with {"error": ...} inside for a
# failed statement, so look at the body too.
q() {
	local body
	body="$(curl -sS --fail-with-body "${auth[@]}" -XPOST "$url/query" --data-urlencode "q=$1")" ||
		{ say "query failed: ${1%%PASSWORD*}...: $body"; exit 1; }
	if grep -q '"error"' <<<"$body"; then
		say "query failed: ${1%%PASSWORD*}...: $body"
		exit 1
	fi
}

# user makes a user, or sets its password when it exists already.
user() {
	local name="$1" password="$2" extra="${3:-}" body
	body="$(curl -sS "${auth[@]}" -XPOST "$url/query" \
		--data-urlencode "q=CREATE USER \"$name\" WITH PASSWORD $(quote "$password")$extra")"
	if grep -q 'user already exists' <<<"$body"; then
		q "SET PASSWORD FOR \"$name\" = $(quote "$password")"
	elif grep -q '"error"' <<<"$body"; then
		say "CREATE USER $name failed: $body"
		exit 1
	fi
}

auth=(-u "$admin:$INFLUX_ADMIN_PASSWORD")
status="$(curl -sS -o /dev/null -w '%{http_code}' "${auth[@]}" -XPOST "$url/query" --data-urlencode "q=SHOW USERS")"
case "$status" in
200) # the admin exists, or authentication is off
	if [[ "$(curl -sS -o /dev/null -w '%{http_code}' -XPOST "$url/query" --data-urlencode "q=SHOW USERS")" == 200 ]]; then
		say "warning: authentication is off on $url; set [http] auth-enabled = true in production"
	fi
	user "$admin" "$INFLUX_ADMIN_PASSWORD" " WITH ALL PRIVILEGES" ;;
401 | 403) # no admin yet: 1.8 allows creating the first one without credentials
	say "creating the admin user $admin"
	auth=()
	user "$admin" "$INFLUX_ADMIN_PASSWORD" " WITH ALL PRIVILEGES"
	auth=(-u "$admin:$INFLUX_ADMIN_PASSWORD") ;;
*)
	say "unexpected HTTP $status from $url/query"
	exit 1 ;;
esac

say "database $db, autogen retention $retention, shards of $shard"
q "CREATE DATABASE \"$db\""
q "ALTER RETENTION POLICY \"autogen\" ON \"$db\" DURATION $retention SHARD DURATION $shard DEFAULT"

say "users vagt_ingest (WRITE) and vagt_api (ALL: read, and DELETE for erasure) on $db"
user vagt_ingest "$INFLUX_INGEST_PASSWORD"
q "GRANT WRITE ON \"$db\" TO \"vagt_ingest\""
user vagt_api "$INFLUX_API_PASSWORD"
q "GRANT ALL ON \"$db\" TO \"vagt_api\""

say "done; for 1.8 the token is user:password and the bucket db/rp:"
printf '# /etc/vagt/ingest.env\nVAGT_INFLUX_BUCKET=%s/autogen\nVAGT_INFLUX_TOKEN=vagt_ingest:<INFLUX_INGEST_PASSWORD>\n' "$db"
printf '# /etc/vagt/api.env\nVAGT_INFLUX_BUCKET=%s/autogen\nVAGT_INFLUX_TOKEN=vagt_api:<INFLUX_API_PASSWORD>\n' "$db"
