#!/usr/bin/env bash
# Start the Debian PostgreSQL cluster and make a throwaway database for the test suite.
# Prints `export WATERDESK_TEST_DATABASE_URL=...` for the Makefile to eval. Does nothing
# (prints nothing) when not root on Debian or when the variable is already set.
set -euo pipefail

if [ -n "${WATERDESK_TEST_DATABASE_URL:-}" ]; then
    echo "export WATERDESK_TEST_DATABASE_URL='$WATERDESK_TEST_DATABASE_URL'"
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v pg_ctlcluster >/dev/null 2>&1; then
    echo "test-database: no local PostgreSQL to start; PostGIS tests need" \
         "WATERDESK_TEST_DATABASE_URL" >&2
    exit 0
fi

v=$(ls /usr/lib/postgresql | sort -n | tail -n 1)
pg_lsclusters -h | awk '{print $1" "$2}' | grep -q "^$v main$" \
    || pg_createcluster "$v" main >/dev/null
port=$(pg_lsclusters -h | awk -v v="$v" '$1==v && $2=="main" {print $3}')
pg_ctlcluster "$v" main start 2>/dev/null || true
for _ in $(seq 1 30); do
    runuser -u postgres -- pg_isready -q -p "$port" && break
    sleep 1
done

db="waterdesk_test"
psql_admin() { runuser -u postgres -- psql -q -v ON_ERROR_STOP=1 -p "$port" "$@"; }
psql_admin -tc "SELECT 1 FROM pg_roles WHERE rolname = 'waterdesk'" | grep -q 1 \
    || psql_admin -c "CREATE ROLE waterdesk LOGIN SUPERUSER PASSWORD 'waterdesk'" >/dev/null
PGOPTIONS="-c client_min_messages=warning" psql_admin -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null
psql_admin -c "CREATE DATABASE $db OWNER waterdesk" >/dev/null
echo "test-database: PostgreSQL $v on port $port, fresh database $db" >&2
echo "export WATERDESK_TEST_DATABASE_URL='postgresql://waterdesk:waterdesk@127.0.0.1:$port/$db'"
