#!/usr/bin/env bash
# The whole suite, on SQLite and then on a real PostgreSQL 15.
# PostgreSQL: SHIORI_TEST_PG_URL if set, else a private throw-away cluster started here.
# SHIORI_TEST_BACKENDS="postgresql" (or "sqlite") runs only one of them.
# Then, on the private cluster, the catalogue's tests once more with their reads on a
# streaming replica made with pg_basebackup (SHIORI_DATABASE_READ_URL, db/engine.py):
# by default after a whole-suite run; SHIORI_TEST_REPLICA=1 forces it, =0 skips it.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTEST=(.venv/bin/pytest -q -p no:cacheprovider)

BACKENDS=${SHIORI_TEST_BACKENDS:-sqlite postgresql}

if [[ " $BACKENDS " == *" sqlite "* ]]; then
  echo "== suite on SQLite =="
  SHIORI_TEST_BACKEND=sqlite "${PYTEST[@]}" "$@"
fi
[[ " $BACKENDS " == *" postgresql "* ]] || exit 0

# (tests/test_search.py reads no database: it has nothing to show on a replica.)
REPLICA_TESTS=(tests/test_replica.py tests/test_search_matching.py tests/test_queries_catalog.py
  tests/test_web_catalog.py)
replica=${SHIORI_TEST_REPLICA:-$([ $# -eq 0 ] && echo 1 || echo 0)}

cleanup() { :; }
start_replica() { echo "replica run skipped: set SHIORI_TEST_PG_READ_URL (a standby)" >&2; exit 0; }
if [ -z "${SHIORI_TEST_PG_URL:-}" ]; then
  bin=/usr/lib/postgresql/15/bin
  # In memory where the machine has it: a test cluster creates and drops a database per test.
  tmp=/tmp
  if [ -d /dev/shm ] && [ -w /dev/shm ]; then tmp=/dev/shm; fi
  dir=$(mktemp -d "$tmp/shiori-pg.XXXXXX")
  port=${SHIORI_TEST_PG_PORT:-55432}
  as_pg=()
  if [ "$(id -u)" -eq 0 ]; then chown postgres: "$dir"; as_pg=(runuser -u postgres --); fi
  "${as_pg[@]}" "$bin/initdb" -D "$dir/data" -U shiori -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
  "${as_pg[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off" start >/dev/null
  standby_port=${SHIORI_TEST_PG_REPLICA_PORT:-$((port + 1))}
  cleanup() {
    for data in "$dir/standby" "$dir/data"; do
      [ -d "$data" ] && { "${as_pg[@]}" "$bin/pg_ctl" -D "$data" -m fast stop >/dev/null || true; }
    done
    rm -rf "$dir"
  }
  trap cleanup EXIT
  export SHIORI_TEST_PG_URL="postgresql+psycopg://shiori@127.0.0.1:$port/postgres"
  # A hot standby of the test cluster (wal_level=replica is PostgreSQL 15's default; initdb's
  # trust rules allow replication from 127.0.0.1). Commits wait until the standby applied
  # them (remote_apply), so a test reads on the replica what it just wrote on the primary;
  # tests/test_replica.py turns that off to show what a lagging replica does.
  start_replica() {
    "${as_pg[@]}" "$bin/pg_basebackup" -h 127.0.0.1 -p "$port" -U shiori -D "$dir/standby" -R -X stream
    "${as_pg[@]}" "$bin/pg_ctl" -D "$dir/standby" -l "$dir/standby.log" -w -o \
      "-p $standby_port -k $dir -c listen_addresses=127.0.0.1 -c hot_standby=on -c fsync=off" \
      start >/dev/null
    psql_primary=("${as_pg[@]}" "$bin/psql" -h 127.0.0.1 -p "$port" -U shiori -d postgres -qAt)
    "${psql_primary[@]}" -c "ALTER SYSTEM SET synchronous_standby_names = '*'" \
      -c "ALTER SYSTEM SET synchronous_commit = 'remote_apply'" -c "SELECT pg_reload_conf()" >/dev/null
    export SHIORI_TEST_PG_READ_URL="postgresql+psycopg://shiori@127.0.0.1:$standby_port/postgres"
  }
fi

echo "== suite on PostgreSQL =="
SHIORI_TEST_BACKEND=postgresql "${PYTEST[@]}" "$@"

[ "$replica" = 1 ] || exit 0
[ -n "${SHIORI_TEST_PG_READ_URL:-}" ] || start_replica
echo "== catalogue on a PostgreSQL streaming replica =="
files=("$@")
[ $# -gt 0 ] || files=("${REPLICA_TESTS[@]}")
SHIORI_TEST_BACKEND=postgresql "${PYTEST[@]}" "${files[@]}"
