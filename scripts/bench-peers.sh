#!/usr/bin/env bash
# Runs Ferry's queue benchmark (bench/queue.cpp's measurements) on two peer job queues, so
# Ferry can be compared with them on the same machine in the same run:
#   graphile-worker (Node + PostgreSQL) in bench/peers/graphile-worker/
#   BullMQ (Node + Redis)               in bench/peers/bullmq/
# Each prints one JSON line per round and a line of medians with Ferry's keys
# (median_bulkEnqueuePerSec, median_singleEnqueuePerSec, median_processPerSec,
# median_latencyP50Ms, median_latencyP99Ms) plus "bench":"graphile-worker" / "bullmq".
#
#   scripts/bench-peers.sh [--rounds R] [--jobs N] [--single N] [--latency N] [--workers W]
#                          [--sync normal|full] [--only graphile-worker|bullmq]
#
# Defaults are Ferry's: 100,000 jobs, 20,000 single enqueues, 1,000 latency samples,
# 8 workers, 3 rounds. --sync normal runs PostgreSQL with synchronous_commit=off (like
# SQLite's WAL + synchronous=NORMAL: no fsync per commit), --sync full with
# synchronous_commit=on. Redis always runs without persistence (--save '' --appendonly no).
#
# Installs what is missing (postgresql and redis-server through apt-get, as root or via
# sudo; the npm packages pinned by each peer's package-lock.json, Node 22 among them, with
# npm install in the peer's folder), starts throwaway servers on free loopback ports in a
# temporary folder, and always stops them and removes the folder on exit.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
peers="$root/bench/peers"

rounds=3 jobs=100000 single=20000 latency=1000 workers=8 sync=normal only=""
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) rounds=$2; shift 2 ;;
        --jobs) jobs=$2; shift 2 ;;
        --single) single=$2; shift 2 ;;
        --latency) latency=$2; shift 2 ;;
        --workers) workers=$2; shift 2 ;;
        --sync) sync=$2; shift 2 ;;
        --only) only=$2; shift 2 ;;
        -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "bench-peers: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
case "$sync" in
    normal) synchronous_commit=off ;;
    full) synchronous_commit=on ;;
    *) echo "bench-peers: --sync is normal or full" >&2; exit 2 ;;
esac
case "$only" in
    ""|graphile-worker|bullmq) ;;
    *) echo "bench-peers: --only is graphile-worker or bullmq" >&2; exit 2 ;;
esac
want() { [ -z "$only" ] || [ "$only" = "$1" ]; }
log() { echo "bench-peers: $*" >&2; }

# --- Debian packages -------------------------------------------------------------------------
if [ "$(id -u)" -eq 0 ]; then
    sudo=()
else
    sudo=(sudo)
fi
packages=()
want graphile-worker && packages+=(postgresql)
want bullmq && packages+=(redis-server)
command -v npm >/dev/null 2>&1 || packages+=(npm)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    log "installing Debian packages: ${missing[*]}"
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >&2
fi

# --- npm packages (node_modules is not committed; package-lock.json pins the versions) --------
peer_node() {
    local dir="$peers/$1"
    if ! (cd "$dir" && npm ls --depth=0 >/dev/null 2>&1) || ! "$dir/node_modules/.bin/node" --version >/dev/null 2>&1; then
        log "npm install in bench/peers/$1"
        (cd "$dir" && npm install --no-audit --no-fund >&2)
    fi
    "$dir/node_modules/.bin/node" --version >/dev/null # the Node 22 from npm's `node` package
    echo "$dir/node_modules/.bin/node"
}
want graphile-worker && gw_node=$(peer_node graphile-worker)
want bullmq && bq_node=$(peer_node bullmq)

# --- throwaway servers -----------------------------------------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/ferry-bench-peers.XXXXXX")
chmod 755 "$work" # the postgres user must reach its data folder below
pg_bin="" pg_data="" redis_port="" child=""
as_pg() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
cleanup() {
    set +e
    if [ -n "$child" ]; then # a benchmark still running (the driver was interrupted)
        kill "$child" 2>/dev/null
        wait "$child" 2>/dev/null
    fi
    if [ -n "$pg_data" ] && [ -f "$pg_data/postmaster.pid" ]; then
        as_pg "$pg_bin/pg_ctl" -D "$pg_data" -m fast -w -t 30 stop >/dev/null
    fi
    if [ -n "$redis_port" ]; then
        redis-cli -h 127.0.0.1 -p "$redis_port" shutdown nosave >/dev/null 2>&1
        if [ -f "$work/redis/redis.pid" ]; then
            pid=$(cat "$work/redis/redis.pid")
            for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
            kill "$pid" 2>/dev/null
        fi
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A loopback port nothing listens on (from a range away from the usual services).
free_port() {
    local port
    for _ in $(seq 1 100); do
        port=$((20000 + RANDOM % 30000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return
        fi
    done
    log "no free port found"
    return 1
}

start_postgres() {
    pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    local pg_root="$work/pg"
    if [ "$(id -u)" -eq 0 ]; then
        install -d -o postgres -g postgres -m 700 "$pg_root"
    else
        install -d -m 700 "$pg_root"
    fi
    pg_port=$(free_port)
    as_pg "$pg_bin/initdb" -D "$pg_root/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
        --no-sync >"$work/initdb.log" 2>&1 || { cat "$work/initdb.log" >&2; return 1; }
    pg_data="$pg_root/data"
    as_pg "$pg_bin/pg_ctl" -D "$pg_data" -l "$pg_root/log" -w -t 30 \
        -o "-c listen_addresses=127.0.0.1 -p $pg_port -k $pg_root -c synchronous_commit=$synchronous_commit" \
        start >/dev/null || { cat "$pg_root/log" >&2; return 1; }
    log "PostgreSQL $("$pg_bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$pg_port (synchronous_commit=$synchronous_commit)"
}

start_redis() {
    mkdir -p "$work/redis"
    redis_port=$(free_port)
    redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
        --dir "$work/redis" --pidfile "$work/redis/redis.pid" --logfile "$work/redis/log" >/dev/null
    for _ in $(seq 1 50); do
        redis-cli -h 127.0.0.1 -p "$redis_port" ping 2>/dev/null | grep -q PONG && break
        sleep 0.1
    done
    redis-cli -h 127.0.0.1 -p "$redis_port" ping | grep -q PONG
    log "Redis $(redis-server --version | sed 's/.* v=\([^ ]*\).*/\1/') on 127.0.0.1:$redis_port (no persistence)"
}

# Runs a peer's benchmark in the background and waits, so INT/TERM reach the trap at once.
run_bench() {
    local dir=$1 rc=0
    shift
    (cd "$dir" && exec "$@") &
    child=$!
    wait "$child" || rc=$?
    child=""
    return "$rc"
}

common=(--jobs "$jobs" --single "$single" --latency "$latency" --workers "$workers" --rounds "$rounds")
if want graphile-worker; then
    start_postgres
    echo "== graphile-worker $(cd "$peers/graphile-worker" && "$gw_node" -p 'require("./node_modules/graphile-worker/package.json").version') on PostgreSQL, $jobs no-op jobs, $workers workers, synchronous_commit=$synchronous_commit"
    run_bench "$peers/graphile-worker" "$gw_node" bench.mjs --pg "postgres://postgres@127.0.0.1:$pg_port/postgres" \
        --synchronous "$sync" "${common[@]}"
    as_pg "$pg_bin/pg_ctl" -D "$pg_data" -m fast -w -t 30 stop >/dev/null
    pg_data=""
fi
if want bullmq; then
    start_redis
    echo "== bullmq $(cd "$peers/bullmq" && "$bq_node" -p 'require("./node_modules/bullmq/package.json").version') on Redis (no persistence), $jobs no-op jobs, concurrency $workers"
    run_bench "$peers/bullmq" "$bq_node" bench.mjs --redis "redis://127.0.0.1:$redis_port" "${common[@]}"
fi
