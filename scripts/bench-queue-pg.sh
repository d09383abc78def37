#!/usr/bin/env bash
# Ferry's queue on PostgreSQL against graphile-worker on the same PostgreSQL, in one run:
# starts ONE throwaway server (scripts/pg-test-server.sh: fsync=off, synchronous_commit=off,
# full_page_writes=off), then alternates rounds: build/bench/queue --db <server> one round,
# graphile-worker (bench/peers/graphile-worker/bench.mjs) one round, R times. Each round of
# either runs on a database of its own created on that server. Prints every round's JSON line
# and, at the end, one line of medians per queue and the ratios Ferry / graphile-worker.
#
#   scripts/bench-queue-pg.sh [BUILD] [--rounds R] [--jobs N] [--single N] [--latency N]
#                             [--workers W] [--only ferry|graphile-worker]
#
# Defaults are bench/queue's: 100,000 jobs, 20,000 single enqueues, 1,000 latency samples,
# 8 workers, 3 rounds. graphile-worker is tuned as in scripts/bench-peers.sh (local queue 500,
# batched completion, poll interval 100 ms). Needs postgresql and npm (scripts/install-deps.sh
# bench); runs npm install in bench/peers/graphile-worker when its node_modules is missing.
# The server is always stopped and removed on exit.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build="$root/build"
if [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; then
    build=$1
    shift
fi
rounds=3 jobs=100000 single=20000 latency=1000 workers=8 only=""
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) rounds=$2; shift 2 ;;
        --jobs) jobs=$2; shift 2 ;;
        --single) single=$2; shift 2 ;;
        --latency) latency=$2; shift 2 ;;
        --workers) workers=$2; shift 2 ;;
        --only) only=$2; shift 2 ;;
        -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "bench-queue-pg: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
want() { [ -z "$only" ] || [ "$only" = "$1" ]; }
log() { echo "bench-queue-pg: $*" >&2; }

queue="$build/bench/queue"
peer="$root/bench/peers/graphile-worker"
if want ferry && [ ! -x "$queue" ]; then
    log "$queue not built (cmake --build $build --target ferry_bench_queue)"
    exit 1
fi
if want graphile-worker; then
    if ! "$peer/node_modules/.bin/node" --version >/dev/null 2>&1; then
        log "npm install in bench/peers/graphile-worker"
        (cd "$peer" && npm install --no-audit --no-fund >&2)
    fi
    node="$peer/node_modules/.bin/node" # Node 22 from npm's `node` package
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/ferry-bench-queue-pg.XXXXXX")
results="$work/rounds.jsonl"
server="$work/pg"
child=""
cleanup() {
    set +e
    if [ -n "$child" ]; then
        kill "$child" 2>/dev/null
        wait "$child" 2>/dev/null
    fi
    "$root/scripts/pg-test-server.sh" stop "$server" >/dev/null 2>&1
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

url=$("$root/scripts/pg-test-server.sh" start "$server")
pg_version=$(psql "$url" -Atc "SHOW server_version" 2>/dev/null || echo "?")
log "PostgreSQL $pg_version at $url"
echo "== queue on PostgreSQL $pg_version (fsync=off, synchronous_commit=off): $jobs no-op jobs, $workers workers, $rounds rounds, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"

# Runs one benchmark round in the background and waits, so INT/TERM reach the trap at once;
# tags its per-round line with the queue's name.
run_round() {
    local name=$1 dir=$2 rc=0
    shift 2
    (cd "$dir" && exec "$@") >"$work/out" &
    child=$!
    wait "$child" || rc=$?
    child=""
    [ "$rc" -eq 0 ] || { cat "$work/out" >&2; return "$rc"; }
    # The first line is the round; the last, the one-round "medians".
    head -n 1 "$work/out" | python3 -c 'import json,sys; d=json.loads(sys.stdin.read()); d["queue"]=sys.argv[1]; print(json.dumps(d))' "$name" | tee -a "$results"
}

common=(--jobs "$jobs" --single "$single" --latency "$latency" --workers "$workers" --rounds 1)
for round in $(seq 1 "$rounds"); do
    if want ferry; then
        run_round ferry "$root" "$queue" --db "$url" "${common[@]}"
    fi
    if want graphile-worker; then
        run_round graphile-worker "$peer" "$node" bench.mjs --pg "$url" "${common[@]}"
    fi
    log "round $round done (load $(cut -d' ' -f1-3 /proc/loadavg))"
done

python3 - "$results" <<'PY'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
keys = ["processPerSec", "singleEnqueuePerSec", "bulkEnqueuePerSec", "latencyP50Ms", "latencyP99Ms"]
medians = {}
for queue in ("ferry", "graphile-worker"):
    mine = [r for r in rows if r["queue"] == queue]
    if not mine:
        continue
    medians[queue] = {k: statistics.median(r[k] for r in mine if k in r) for k in keys}
    print(json.dumps({"bench": "queue-pg", "queue": queue, "rounds": len(mine),
                      **{"median_" + k: round(v, 3) for k, v in medians[queue].items()}}))
if len(medians) == 2:
    f, g = medians["ferry"], medians["graphile-worker"]
    print(json.dumps({"bench": "queue-pg", "ratio": "ferry/graphile-worker",
                      "process": round(f["processPerSec"] / g["processPerSec"], 2),
                      "singleEnqueue": round(f["singleEnqueuePerSec"] / g["singleEnqueuePerSec"], 2),
                      "latencyP50": round(f["latencyP50Ms"] / g["latencyP50Ms"], 2)}))
PY
