#!/usr/bin/env bash
# Runs Ferry's benchmarks (make bench), and in the same run the baselines the issues name, so
# the ratios compare figures taken on the same machine minutes apart. Every benchmark prints one
# JSON line per round and a line of medians; docs/benchmarks.md records them.
set -euo pipefail
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
"$here/install-deps.sh" bench

echo "== bench/queue: durable SQLite queue (WAL, synchronous=NORMAL), 100,000 no-op jobs, 8 workers"
"$build/bench/queue" --jobs 100000 --single 20000 --latency 1000 --workers 8 --rounds 5
echo "== bench/queue: the same with synchronous=FULL (survives power loss)"
"$build/bench/queue" --jobs 100000 --single 5000 --latency 1000 --workers 8 --rounds 3 --sync full
echo "== baselines: graphile-worker (PostgreSQL) and BullMQ (Redis), same measures"
"$here/bench-peers.sh" --rounds 3
# Queue on PostgreSQL (issue 7): Ferry and graphile-worker on one throwaway server, same run
echo "== bench/queue on PostgreSQL against graphile-worker on the same server"
"$here/bench-queue-pg.sh" "$build" --rounds 3
echo "== bench/migrate: 1,000,000-row CSV, typed 8-field mapping, against sqlite3 .import; 1 GiB RSS"
"$build/bench/migrate" --rows 1000000 --rounds 3 --rss-gib 1
echo "== bench/console: Jobs page over 1,000,000 jobs, 8 sleep jobs running, 10 s of scrolling; event-loop gaps"
"$build/bench/console" --jobs 1000000 --seconds 10 --running 8
"$build/bench/console" --jobs 1000000 --seconds 10 --running 8 --idle
echo "== bench/http (issue 4, in progress): GET /api/v1/jobs/{id}, Ferry against Express 5 + express-rate-limit"
"$here/bench-http.sh" "$build" --rounds 3 --seconds 10
