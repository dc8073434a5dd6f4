#!/bin/sh
# Runs init.sql in the postgres container's first start (deploy/compose.yaml mounts it
# under /docker-entrypoint-initdb.d/), with the passwords from the container's environment.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
	-v api_password="$VAGT_API_DB_PASSWORD" -v backup_password="$VAGT_BACKUP_DB_PASSWORD" \
	-v conn_limit="${VAGT_API_CONN_LIMIT:-40}" -f /vagt/init.sql
