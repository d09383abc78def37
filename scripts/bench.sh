#!/usr/bin/env bash
# Runs Ferry's benchmarks (make bench). Each prints one JSON line per round and a line of medians.
set -euo pipefail
build=${1:-build}
echo "== bench/queue: durable SQLite queue (WAL, synchronous=NORMAL), 100,000 no-op jobs, 8 workers"
"$build/bench/queue" --jobs 100000 --single 20000 --latency 1000 --workers 8 --rounds 5
echo "== bench/queue: the same with synchronous=FULL (survives power loss)"
"$build/bench/queue" --jobs 100000 --single 5000 --latency 1000 --workers 8 --rounds 3 --sync full
