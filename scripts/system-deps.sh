#!/usr/bin/env bash
# Install the Debian packages the full test suite needs: PostgreSQL with PostGIS, and
# Chromium for the browser tests. Runs only as root on Debian; elsewhere it says what
# it skipped and the suite uses WATERDESK_TEST_DATABASE_URL instead.
set -euo pipefail

if [ "$(id -u)" != 0 ] || [ ! -f /etc/debian_version ]; then
    echo "system-deps: not root on Debian; skipping PostgreSQL/PostGIS and Chromium installs"
    exit 0
fi

need=()
command -v pg_ctlcluster >/dev/null 2>&1 || need+=(postgresql postgresql-common)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v npm >/dev/null 2>&1 || need+=(npm)
pg_version() { ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -n 1; }
if [ -n "$(pg_version)" ]; then
    v=$(pg_version)
    [ -f "/usr/share/postgresql/$v/extension/postgis.control" ] || need+=("postgresql-$v-postgis-3")
fi

if [ ${#need[@]} -gt 0 ]; then
    echo "system-deps: installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${need[@]}" >/dev/null
fi

# a fresh PostgreSQL install brings no PostGIS for its own version: add it now
v=$(pg_version)
if [ ! -f "/usr/share/postgresql/$v/extension/postgis.control" ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq "postgresql-$v-postgis-3" >/dev/null
fi
echo "system-deps: PostgreSQL $v with PostGIS, $(chromium --version 2>/dev/null || echo 'no chromium')"
