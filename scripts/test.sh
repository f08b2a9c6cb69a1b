#!/usr/bin/env bash
# The whole suite, on SQLite and on a real PostgreSQL 15: both passes at the same time (two
# pytest processes, each with its own databases and ports), since much of a test's time is
# spent waiting on a server, a browser or the database. Each line of output says its engine
# ("[sqlite] ", "[postgresql] "); the run fails if either pass fails, and says which.
# SHIORI_TEST_PARALLEL=0 runs them one after the other, unprefixed.
# PostgreSQL: SHIORI_TEST_PG_URL if set, else a private throw-away cluster started here.
# SHIORI_TEST_BACKENDS="postgresql" (or "sqlite") runs only one of them.
# Then, on the private cluster, the catalogue's tests once more with their reads on a
# streaming replica made with pg_basebackup (SHIORI_DATABASE_READ_URL, db/engine.py):
# by default after a whole-suite run; SHIORI_TEST_REPLICA=1 forces it, =0 skips it.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTEST=(.venv/bin/pytest -q -p no:cacheprovider)
export PYTHONUNBUFFERED=1

BACKENDS=${SHIORI_TEST_BACKENDS:-sqlite postgresql}
wants() { [[ " $BACKENDS " == *" $1 "* ]]; }

# (tests/test_search.py reads no database: it has nothing to show on a replica.)
REPLICA_TESTS=(tests/test_replica.py tests/test_search_matching.py tests/test_queries_catalog.py
  tests/test_web_catalog.py)
replica=${SHIORI_TEST_REPLICA:-$([ $# -eq 0 ] && echo 1 || echo 0)}

sqlite_pass() {
  echo "== suite on SQLite =="
  SHIORI_TEST_BACKEND=sqlite "${PYTEST[@]}" "$@"
}

# In a subshell: the private cluster is stopped and removed however the pass ends.
postgresql_pass() (
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
    cleanup() {
      for data in "$dir/standby" "$dir/data"; do
        [ -d "$data" ] && { "${as_pg[@]}" "$bin/pg_ctl" -D "$data" -m fast stop >/dev/null || true; }
      done
      rm -rf "$dir"
    }
    trap cleanup EXIT
    trap 'exit 143' INT TERM
    "${as_pg[@]}" "$bin/initdb" -D "$dir/data" -U shiori -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
    "${as_pg[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off" \
      start >/dev/null
    standby_port=${SHIORI_TEST_PG_REPLICA_PORT:-$((port + 1))}
    export SHIORI_TEST_PG_URL="postgresql+psycopg://shiori@127.0.0.1:$port/postgres"
    # The suite's session templates, built once in this cluster and left there for the
    # replica's pass (tests/conftest.py); the cluster goes at the end.
    export SHIORI_TEST_SHARED_TEMPLATES=run
    # A hot standby of the test cluster (wal_level=replica is PostgreSQL 15's default; initdb's
    # trust rules allow replication from 127.0.0.1). Commits wait until the standby applied
    # them (remote_apply), so a test reads on the replica what it just wrote on the primary;
    # tests/test_replica.py turns that off to show what a lagging replica does.
    start_replica() {
      # A replication slot (-C -S): the primary keeps its WAL until the standby has it. Without
      # one, a burst of WAL (CREATE DATABASE copies its template through the WAL) could be
      # recycled before a lagging standby read it, and the standby would wait for ever.
      "${as_pg[@]}" "$bin/pg_basebackup" -h 127.0.0.1 -p "$port" -U shiori -D "$dir/standby" -R -X stream \
        -C -S shiori_test_standby
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
)

if ! wants sqlite || ! wants postgresql || [ "${SHIORI_TEST_PARALLEL:-1}" = 0 ]; then
  if wants sqlite; then sqlite_pass "$@"; fi
  if wants postgresql; then postgresql_pass "$@"; fi
  exit 0
fi

# Both at once. Each pass runs in its own process group (job control), so an interrupted
# run stops both, and the PostgreSQL pass still removes its cluster.
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
set -m
prefixed() { # NAME COMMAND...: its output, each line marked with NAME, also kept in $logs/NAME
  local name=$1
  shift
  "$@" 2>&1 | tee "$logs/$name" | sed -u "s/^/[$name] /"
}
start=$SECONDS
prefixed sqlite sqlite_pass "$@" &
sqlite_job=$!
prefixed postgresql postgresql_pass "$@" &
postgresql_job=$!
set +m
trap 'kill -TERM -- "-$sqlite_job" "-$postgresql_job" 2>/dev/null || true' INT TERM
failed=()
for name in sqlite postgresql; do
  job_var=${name}_job
  status=0
  wait "${!job_var}" || status=$?
  echo "== $name pass: $([ "$status" = 0 ] && echo passed || echo "FAILED (exit $status)")," \
    "$((SECONDS - start)) s since the start =="
  [ "$status" = 0 ] || failed+=("$name")
done
for name in "${failed[@]}"; do # what failed, unmarked and in one piece
  echo "== $name: the end of its output =="
  if grep -q "short test summary info" "$logs/$name"; then
    sed -n '/short test summary info/,$p' "$logs/$name"
  else
    tail -n 40 "$logs/$name"
  fi
done
[ ${#failed[@]} -eq 0 ] || { echo "== FAILED: ${failed[*]} ==" >&2; exit 1; }
