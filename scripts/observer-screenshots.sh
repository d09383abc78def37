#!/usr/bin/env bash
# Screenshots of `ferry --observe` over a real two-node cluster at work (issue 16): a throwaway
# PostgreSQL (scripts/pg-test-server.sh), two `ferry --headless` nodes on it, scripts/demo-data.py
# uploading real files to one of them for SECONDS, and the observing console under Xvfb; its
# Overview and Nodes pages as PNGs in OUT_DIR (observer-overview.png, observer-nodes.png).
# Usage: scripts/observer-screenshots.sh FERRY OUT_DIR [SECONDS]   (default 90)
# Needs xvfb, xdotool, x11-apps (xwd) and netpbm: apt-get install xvfb xdotool x11-apps netpbm
set -euo pipefail
here=$(dirname "$(realpath "$0")")
ferry=$(realpath "$1")
mkdir -p "$2"
out=$(realpath "$2")
seconds=${3:-90}

work=$(mktemp -d)
state="$work/pg"
nodes=()
cleanup() {
    for pid in "${nodes[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    "$here/pg-test-server.sh" stop "$state" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

url=$("$here/pg-test-server.sh" start "$state")
# One data directory for the nodes and the shell commands of this machine: its ferry.conf names
# the cluster's database (uploads live in the database).
mkdir -p "$work/data"
echo "db=$url" >"$work/data/ferry.conf"
for port in 18481 18482; do
    "$ferry" --headless --data-dir "$work/data" --listen "127.0.0.1:$port" --rate-limit 1000000 \
        --max-concurrency 3 >"$work/node-$port.log" 2>&1 &
    nodes+=($!)
done
for _ in $(seq 1 100); do
    grep -q "HTTP endpoint on" "$work/node-18482.log" 2>/dev/null && break
    sleep 0.2
done
"$here/demo-data.py" --ferry "$ferry" --data-dir "$work/data" --port 18481 --users 12 \
    --uploads 1000000 --pace 0.3 >"$work/demo.log" 2>&1 &
nodes+=($!)

config="$work/config"
mkdir -p "$config"
XDG_CONFIG_HOME=$config XDG_RUNTIME_DIR=$config xvfb-run -a -s "-screen 0 1506x942x24" bash -c '
    set -euo pipefail
    outdir=$3
    "$0" --observe --db "$1" --data-dir "$2/observer" >"$2/observer.log" 2>&1 &
    console=$!
    for _ in $(seq 1 100); do
        window=$(xdotool search --name "^Ferry — observing" 2>/dev/null | head -n 1 || true)
        [ -n "$window" ] && break
        sleep 0.2
    done
    [ -n "$window" ] || { cat "$2/observer.log"; exit 1; }
    sleep "$4"
    eval "$(xdotool getwindowgeometry --shell "$window")" # X, Y, WIDTH, HEIGHT
    shot() {
        xwd -root -silent | xwdtopnm 2>/dev/null |
            pnmcut -left "$X" -top "$Y" -width "$WIDTH" -height "$HEIGHT" | pnmtopng >"$outdir/$1"
    }
    xdotool mousemove $((X + 60)) $((Y + 79)) click 1 # Overview
    sleep 3
    shot observer-overview.png
    xdotool mousemove $((X + 60)) $((Y + 79 + 24 * 5)) click 1 # Nodes
    sleep 3
    shot observer-nodes.png
    kill "$console"
    wait "$console" || true
' "$ferry" "$url" "$work" "$out" "$seconds"
ls "$out"
