-- vagt's SQL store on PostgreSQL (15): the api's role and database, a backup role, and the
-- limits. Run as a superuser with psql; idempotent (creates what is missing, sets the
-- rest again):
--
--   psql -v ON_ERROR_STOP=1 -v api_password="$API_PW" -v backup_password="$BACKUP_PW" \
--        -v conn_limit=80 -f init.sql postgres://postgres@db.example/postgres
--
-- conn_limit caps vagt_api's connections over all api replicas: each replica opens at most
-- 16 pooled connections plus one for LISTEN vagt_events, so N replicas need N × 17; leave
-- headroom for a rolling restart (old and new replica at once) and stay below the
-- server's max_connections minus superuser_reserved_connections. See README.md.
-- deploy/postgres/postgres_test.go runs this file against a real PostgreSQL.

\set ON_ERROR_STOP 1

-- The api's role. It owns the database and its public schema (PostgreSQL 15 lets only the
-- database owner create there), because vagt api runs its migrations at start.
SELECT 'CREATE ROLE vagt_api LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'vagt_api') \gexec
ALTER ROLE vagt_api WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION
    PASSWORD :'api_password' CONNECTION LIMIT :conn_limit;
-- A statement that runs for half a minute is a bug or a lock; fail it rather than pile up
-- connections. An idle transaction holds locks that block alert acknowledgements.
ALTER ROLE vagt_api SET statement_timeout = '30s';
ALTER ROLE vagt_api SET idle_in_transaction_session_timeout = '60s';
ALTER ROLE vagt_api SET lock_timeout = '10s';

-- The backup role: reads everything (pg_dump), writes nothing.
SELECT 'CREATE ROLE vagt_backup LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'vagt_backup') \gexec
ALTER ROLE vagt_backup WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION
    PASSWORD :'backup_password' CONNECTION LIMIT 2;
GRANT pg_read_all_data TO vagt_backup;

SELECT 'CREATE DATABASE vagt OWNER vagt_api ENCODING ''UTF8'' TEMPLATE template0'
    WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'vagt') \gexec
ALTER DATABASE vagt OWNER TO vagt_api;
-- Personal data lives here: only the roles that need it may connect.
REVOKE CONNECT, TEMPORARY ON DATABASE vagt FROM PUBLIC;
GRANT CONNECT ON DATABASE vagt TO vagt_api, vagt_backup;
-- Timestamps are stored as timestamptz; the session zone only affects what psql shows.
ALTER DATABASE vagt SET timezone = 'UTC';
