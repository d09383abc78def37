#!/usr/bin/env bash
# bench/http: wrk -t2 -c64 on GET /api/v1/jobs/{id} (authenticated, rate-limited with the limit set
# high, one job read from the store), against Ferry and, in the same run, the seed's own stack
# (Express 5 + express-rate-limit on Node) serving the same JSON. Prints one JSON line per server
# and round: requests/s, p50/p99 latency, server RSS after the run.
#
#   scripts/bench-http.sh [BUILD_DIR] [--rounds R] [--seconds S] [--db URL]
#
# --db postgresql://...: Ferry's node on that (empty) PostgreSQL database instead of SQLite in its
# data dir (issue 17: the same measures on the cluster's store; the shared rate limit included).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}
shift || true
rounds=3
seconds=10
db=()
while [ $# -gt 0 ]; do
    case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --db) db=(--db "$2"); shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
command -v wrk >/dev/null || { echo "bench-http: wrk is missing (scripts/install-deps.sh bench)" >&2; exit 1; }
scratch=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$scratch"; }
trap cleanup EXIT INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo $((20000 + RANDOM % 20000)); }
rss_mb() { awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }
# wrk's summary -> {"rps":..., "p50Ms":..., "p99Ms":...}
run_wrk() {
    local url=$1 token=$2
    shift 2
    wrk -t2 -c"${connections:-64}" -d"${seconds}s" --latency -H "Authorization: Bearer $token" "$@" "$url" | awk '
        function ms(v) { if (v ~ /us$/) return v/1000; if (v ~ /ms$/) return v+0; if (v ~ /s$/) return v*1000; return v }
        /^ +50%/ { p50 = ms($2) } /^ +99%/ { p99 = ms($2) } /^Requests\/sec/ { rps = $2 }
        /Non-2xx/ { bad = $NF }
        END { printf "{\"rps\":%s,\"p50Ms\":%s,\"p99Ms\":%s,\"non2xx\":%d}", rps, p50, p99, bad+0 }'
}

# Ferry: a fresh data dir, one user, one finished job.
ferry="$build/app/ferry"
data="$scratch/ferry"
token=$("$ferry" --data-dir "$data" "${db[@]}" user add bench --json | sed -E 's/.*"token":"([^"]+)".*/\1/')
"$ferry" --data-dir "$data" "${db[@]}" enqueue noop --user bench >/dev/null
# Uploads: no quota in the way, and the queue paused so that only receiving is measured (the
# Express peer stores the file and answers; it runs nothing either).
"$ferry" --data-dir "$data" "${db[@]}" quota set bench --uploads unlimited --bytes unlimited >/dev/null
"$ferry" --data-dir "$data" "${db[@]}" pause >/dev/null
port=$(free_port)
"$ferry" --headless --data-dir "$data" "${db[@]}" --listen "127.0.0.1:$port" --rate-limit 1000000000 \
    >"$scratch/ferry.log" 2>&1 &
pids+=($!)
ferry_pid=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/api/v1/health" >/dev/null 2>&1 && break; sleep 0.1; done

# Express: the same JSON, the same kind of checks.
express_dir="$here/../bench/peers/express"
[ -d "$express_dir/node_modules" ] || (cd "$express_dir" && npm install --no-audit --no-fund >/dev/null)
eport=$(free_port)
mkdir -p "$scratch/express-uploads"
node "$express_dir/server.mjs" "$eport" 1000000000 "$token" "$scratch/express-uploads" >"$scratch/express.log" 2>&1 &
pids+=($!)
express_pid=$!
for _ in $(seq 50); do curl -sf -H "Authorization: Bearer $token" "http://127.0.0.1:$eport/api/v1/jobs/1" >/dev/null 2>&1 && break; sleep 0.1; done

echo "== bench/http: Ferry on ${db[1]:-SQLite}"
echo "== bench/http: wrk -t2 -c64 -d${seconds}s GET /api/v1/jobs/1, Ferry and Express 5 + express-rate-limit (node $(node --version))"
for round in $(seq "$rounds"); do
    f=$(run_wrk "http://127.0.0.1:$port/api/v1/jobs/1" "$token")
    echo "{\"server\":\"ferry\",\"round\":$round,${f:1:-1},\"rssMiB\":$(rss_mb "$ferry_pid")}"
    e=$(run_wrk "http://127.0.0.1:$eport/api/v1/jobs/1" "$token")
    echo "{\"server\":\"express\",\"round\":$round,${e:1:-1},\"rssMiB\":$(rss_mb "$express_pid")}"
done

echo "== bench/http: wrk -t2 -c8 -d${seconds}s POST /api/v1/uploads, a 1 MiB CSV as multipart/form-data (Express: multer to disk)"
for round in $(seq "$rounds"); do
    f=$(TOKEN=$token connections=8 run_wrk "http://127.0.0.1:$port/api/v1/uploads" "$token" -s "$express_dir/upload.lua")
    echo "{\"server\":\"ferry\",\"route\":\"upload\",\"round\":$round,${f:1:-1},\"rssMiB\":$(rss_mb "$ferry_pid")}"
    e=$(TOKEN=$token connections=8 run_wrk "http://127.0.0.1:$eport/api/v1/uploads" "$token" -s "$express_dir/upload.lua")
    echo "{\"server\":\"express\",\"route\":\"upload\",\"round\":$round,${e:1:-1},\"rssMiB\":$(rss_mb "$express_pid")}"
    rm -rf "$scratch/express-uploads"/*
done
