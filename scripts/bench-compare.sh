#!/usr/bin/env bash
# Before and after, in one run: the same benchmarks from two build directories (for example the
# commit before a refactor and main), their rounds interleaved (base, new; then new, base; ...) so
# that a machine getting busier or quieter weighs on both alike. For each benchmark it prints every
# round's JSON line tagged with its build, then the medians of each build, the ratio of those
# medians new/base, and the median of the rounds' own new/base ratios (steadier when the machine's
# load drifts: each round's pair ran back to back). Above 1 is faster for rates, slower for
# latencies.
#
#   scripts/bench-compare.sh BASE_BUILD NEW_BUILD [--rounds R] [--only NAME[,NAME...]]
#
# NAME is one of queue, queue-pg, migrate, migrate-pg, http (all by default). Each build needs
# bench/queue, bench/migrate and app/ferry built. Sizes are those of docs/benchmarks.md's issue 14
# table: queue 100,000 no-op jobs with 8 workers; migrate a 1,000,000-row CSV; http wrk -t2 -c64
# for 10 s on GET /api/v1/jobs/{id}. The PostgreSQL runs share one throwaway server
# (scripts/pg-test-server.sh), always removed on exit.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[ $# -ge 2 ] || { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
base=$(cd "$1" && pwd)
new=$(cd "$2" && pwd)
shift 2
rounds=5
only=queue,queue-pg,migrate,migrate-pg,http
while [ $# -gt 0 ]; do
    case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    *) echo "bench-compare: unknown option $1" >&2; exit 2 ;;
    esac
done
"$here/install-deps.sh" bench
for b in "$base" "$new"; do
    for f in bench/queue bench/migrate app/ferry; do
        [ -x "$b/$f" ] || { echo "bench-compare: $b/$f is not built" >&2; exit 1; }
    done
done

scratch=$(mktemp -d)
server="$scratch/pg-state"
pg=""
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    [ -z "$pg" ] || "$here/pg-test-server.sh" stop "$server" >/dev/null 2>&1 || true
    rm -rf "$scratch"
}
trap cleanup EXIT INT TERM

wanted() { [[ ",$only," == *",$1,"* ]]; }
# The last line a benchmark prints is its medians over its own rounds (one round here).
last_json() { grep '^{' | tail -n 1; }

# run_bench NAME ROUND BUILD_LABEL BUILD_DIR: one round of NAME, one JSON line on stdout.
run_bench() {
    local name=$1 round=$2 label=$3 dir=$4 line
    case "$name" in
    queue) line=$("$dir/bench/queue" --jobs 100000 --single 20000 --latency 1000 --workers 8 \
        --rounds 1 --dir "$scratch" | last_json) ;;
    queue-pg) line=$("$dir/bench/queue" --jobs 100000 --single 20000 --latency 1000 --workers 8 \
        --rounds 1 --db "$pg" | last_json) ;;
    migrate) line=$("$dir/bench/migrate" --rows 1000000 --rounds 1 --rss-gib 0 \
        --dir "$scratch" | last_json) ;;
    migrate-pg) line=$("$dir/bench/migrate" --rows 1000000 --rounds 1 --rss-gib 0 \
        --dir "$scratch" --db "$pg" | last_json) ;;
    http) line=$(http_round "$dir") ;;
    esac
    jq -c --arg b "$label" --argjson r "$round" --arg n "$name" \
        'with_entries(.key |= sub("^median_"; "")) + {bench: $n, build: $b, round: $r}' <<<"$line"
}

# One wrk run against a fresh headless node of the build in $1.
http_round() {
    local dir=$1 data="$scratch/http-data" port token pid out
    rm -rf "$data"
    token=$("$dir/app/ferry" --data-dir "$data" user add bench --json 2>/dev/null | jq -r .token)
    "$dir/app/ferry" --data-dir "$data" enqueue noop --user bench >/dev/null
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    "$dir/app/ferry" --headless --data-dir "$data" --listen "127.0.0.1:$port" \
        --rate-limit 1000000000 >"$scratch/http.log" 2>&1 &
    pid=$!
    pids+=("$pid")
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/api/v1/health" >/dev/null 2>&1 && break; sleep 0.1; done
    out=$(wrk -t2 -c64 -d10s --latency -H "Authorization: Bearer $token" \
        "http://127.0.0.1:$port/api/v1/jobs/1" | awk '
        function ms(v) { if (v ~ /us$/) return v/1000; if (v ~ /ms$/) return v+0; if (v ~ /s$/) return v*1000; return v }
        /^ +50%/ { p50 = ms($2) } /^ +99%/ { p99 = ms($2) } /^Requests\/sec/ { rps = $2 }
        /Non-2xx/ { bad = $NF }
        END { printf "{\"requestsPerSec\":%s,\"latencyP50Ms\":%s,\"latencyP99Ms\":%s,\"non2xx\":%d}", rps, p50, p99, bad+0 }')
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    echo "$out"
}

# The commit each build directory was configured from (its CMakeCache names the source tree).
commit_of() {
    local src
    src=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$1/CMakeCache.txt" 2>/dev/null)
    git -C "${src:-$1}" rev-parse --short HEAD 2>/dev/null || echo '?'
}
echo "== bench-compare: base $base ($(commit_of "$base")), new $new ($(commit_of "$new"));" \
    "$rounds rounds; $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
results="$scratch/results.jsonl"
for name in queue queue-pg migrate migrate-pg http; do
    wanted "$name" || continue
    if [[ "$name" == *-pg && -z "$pg" ]]; then
        pg=$("$here/pg-test-server.sh" start "$server")
    fi
    echo "== $name"
    for round in $(seq "$rounds"); do
        if [ $((round % 2)) -eq 1 ]; then order=("base:$base" "new:$new"); else order=("new:$new" "base:$base"); fi
        for entry in "${order[@]}"; do
            run_bench "$name" "$round" "${entry%%:*}" "${entry#*:}" | tee -a "$results"
        done
    done
    # Medians of every numeric field per build, and new/base.
    jq -s -c --arg n "$name" '
        def median: sort | if length % 2 == 1 then .[length / 2 | floor]
                           else (.[length / 2 - 1] + .[length / 2]) / 2 end;
        def medians($b): [.[] | select(.bench == $n and .build == $b)] as $rows
            | ($rows | map(to_entries[] | select(.value | type == "number") | .key) | unique
               - ["round", "rounds", "jobs", "rows", "columns", "csvBytes", "workers", "users",
                  "maxPerUser", "non2xx"]) as $keys
            | reduce $keys[] as $k ({}; .[$k] = ($rows | map(.[$k] | select(. != null)) | median));
        # Each round ran both builds back to back: new/base per round, then their median.
        def paired: [.[] | select(.bench == $n)] | group_by(.round)
            | map((map(select(.build == "base"))[0]) as $x | (map(select(.build == "new"))[0]) as $y
                  | $x | with_entries(select(.value | type == "number") | select(.value != 0)
                                     | .value = ($y[.key] / .value)))
            | . as $pairs | (map(keys) | add | unique) as $keys
            | reduce $keys[] as $k ({}; .[$k] = ($pairs | map(.[$k] | select(. != null)) | median * 1000 | round / 1000));
        medians("base") as $b | medians("new") as $w | paired as $p
        | {bench: $n, summary: "medians", base: $b, new: $w,
           ratioNewOverBase: ($b | with_entries(.value = (if .value != 0 then ($w[.key] / .value * 1000 | round / 1000) else null end))),
           medianOfPairedRatios: ($p | with_entries(select(.key as $k | $b | has($k))))}
        ' "$results"
done
