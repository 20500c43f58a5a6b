#!/usr/bin/env bash
# Runs once, when the PostgreSQL volume is initialised (/docker-entrypoint-initdb.d), as POSTGRES_USER.
#
# Per service <s> (one database each; no service can connect to another's):
#   qs_<s>       owner of database qs_<s> and of everything its migrations create. It logs in with
#                <S>_DB_OWNER_PASSWORD, only to migrate and to grant; not a superuser, cannot create
#                roles or databases, does not bypass row-level security.
#   qs_<s>_app   what the service runs as (<S>_DB_APP_PASSWORD): owns nothing, bypasses nothing;
#                the service (as owner) grants it DML on its tables and forces row-level security.
# Both roles are created here, so no service ever needs CREATEROLE or the superuser.
#
# Idempotent: run it again by hand to rotate passwords (after changing them in .env), or once on a
# volume initialised before this layout (it hands the database and its tables to the owner role):
#   docker compose exec postgres bash /docker-entrypoint-initdb.d/10-init-databases.sh
#
# Passwords never reach a command line: psql reads them from the environment (\getenv).
set -Eeo pipefail  # the postgres entrypoint's own options, so harmless when it sources this file

qs_init_databases() {
  local service upper owner_env app_env
  for service in intake dispatch tracking evaluation archive; do
    upper=${service^^}
    owner_env="${upper}_DB_OWNER_PASSWORD"
    app_env="${upper}_DB_APP_PASSWORD"
    if [ -z "${!owner_env}" ] || [ -z "${!app_env}" ]; then
      echo "init-databases: set ${owner_env} and ${app_env} (see deploy/.env.example)" >&2
      return 1
    fi
    psql -v ON_ERROR_STOP=1 --no-psqlrc --quiet \
      --username "${POSTGRES_USER:-postgres}" --dbname postgres \
      -v db="qs_${service}" -v owner="qs_${service}" -v app="qs_${service}_app" \
      -v owner_env="$owner_env" -v app_env="$app_env" <<'SQL'
\getenv owner_password :owner_env
\getenv app_password :app_env

SELECT format('CREATE ROLE %I', :'owner') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'owner')
\gexec
SELECT format('ALTER ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD %L',
              :'owner', :'owner_password')
\gexec
SELECT format('CREATE ROLE %I', :'app') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'app')
\gexec
SELECT format('ALTER ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD %L',
              :'app', :'app_password')
\gexec

SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'owner')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db')
\gexec
ALTER DATABASE :"db" OWNER TO :"owner";
-- Only the owner and the app role may connect; PUBLIC loses the default CONNECT and TEMPORARY.
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"db" TO :"app";

-- A volume from before this layout: what the superuser created passes to the owner role
-- (a table's sequences follow it). Nothing to do on a fresh volume.
\connect :"db"
SELECT format('ALTER TABLE %I.%I OWNER TO %I', schemaname, tablename, :'owner')
  FROM pg_tables WHERE schemaname = 'public' AND tableowner <> :'owner'
\gexec
SELECT format('ALTER FUNCTION %s OWNER TO %I', p.oid::regprocedure, :'owner')
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = 'public' AND pg_get_userbyid(p.proowner) <> :'owner'
\gexec
SQL
    echo "init-databases: database qs_${service}, roles qs_${service} (owner) and qs_${service}_app"
  done
}

qs_init_databases
