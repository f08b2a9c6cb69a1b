#!/usr/bin/env bash
# The whole suite, on SQLite and then on a real PostgreSQL 15.
# PostgreSQL: SHIORI_TEST_PG_URL if set, else a private throw-away cluster started here.
# SHIORI_TEST_BACKENDS="postgresql" (or "sqlite") runs only one of them.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTEST=(.venv/bin/pytest -q -p no:cacheprovider)

BACKENDS=${SHIORI_TEST_BACKENDS:-sqlite postgresql}

if [[ " $BACKENDS " == *" sqlite "* ]]; then
  echo "== suite on SQLite =="
  SHIORI_TEST_BACKEND=sqlite "${PYTEST[@]}" "$@"
fi
[[ " $BACKENDS " == *" postgresql "* ]] || exit 0

cleanup() { :; }
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
  cleanup() { "${as_pg[@]}" "$bin/pg_ctl" -D "$dir/data" -m fast stop >/dev/null || true; rm -rf "$dir"; }
  trap cleanup EXIT
  export SHIORI_TEST_PG_URL="postgresql+psycopg://shiori@127.0.0.1:$port/postgres"
fi

echo "== suite on PostgreSQL =="
SHIORI_TEST_BACKEND=postgresql "${PYTEST[@]}" "$@"
