#!/usr/bin/env bash
# bench/migrate on PostgreSQL (issue 7): starts a throwaway PostgreSQL server
# (scripts/pg-test-server.sh), runs Ferry's migrate benchmark against it, with psql's \copy of the
# same generated CSV in the same run, and removes the server afterwards. Since issue 17 each round
# also has the ceiling: psql \copy of exactly the rows Ferry writes (ids, dataset, job, jsonb
# documents) into a table LIKE Ferry's records; ratioToRecordsCeiling is Ferry against it.
#
#   scripts/bench-migrate-pg.sh [BUILD_DIR] [bench/migrate options...]
#   scripts/bench-migrate-pg.sh build --rows 1000000 --rounds 3      (the defaults)
#
# Prints one JSON line per round and a line of medians (bench/migrate's output). docs/benchmarks.md
# records the figures.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}
shift || true
args=("$@")
if [ ${#args[@]} -eq 0 ]; then
    args=(--rows 1000000 --rounds 3)
fi
build=$(cd "$build" && pwd)
server=$(mktemp -d "$build/bench-pg.XXXXXX")
scratch=$(mktemp -d "$build/bench-migrate.XXXXXX")
cleanup() {
    "$here/pg-test-server.sh" stop "$server" >/dev/null 2>&1 || true
    rm -rf "$scratch"
}
trap cleanup EXIT
url=$("$here/pg-test-server.sh" start "$server")
# No autovacuum on this throwaway server: the tables one step loaded would otherwise be vacuumed
# while the next step is timed (bench/migrate also starts each step from a CHECKPOINT).
psql=/usr/lib/postgresql/15/bin/psql
[ -x "$psql" ] || psql=psql
"$psql" -X -q "$url" -c "ALTER SYSTEM SET autovacuum = off" -c "SELECT pg_reload_conf()" >/dev/null
echo "== bench/migrate on PostgreSQL ($url), against psql \\copy of the same CSV and of Ferry's own rows; load: $(cut -d' ' -f1-3 /proc/loadavg)"
"$build/bench/migrate" --db "$url" --dir "$scratch" --rss-gib 0 "${args[@]}"
echo "== load after: $(cut -d' ' -f1-3 /proc/loadavg)"
