#!/usr/bin/env bash
# Screenshots of the real console over a real data directory (scripts/demo-data.py fills one):
# `ferry` under Xvfb, every page at the window sizes asked for, as PNGs in OUT_DIR.
# Usage: scripts/screenshots.sh FERRY DATA_DIR OUT_DIR [WxH ...]   (default 1280x800 1920x1080)
# LIVE_SECONDS=N: the console at work instead: scripts/demo-data.py uploads to the console's own
# endpoint (8 clients, real CSV, TSV, NDJSON and JSON files) for N seconds before the pictures are
# taken and while they are, so jobs are running and the charts hold N seconds of real history.
# Needs xvfb, xdotool, x11-apps (xwd) and netpbm: apt-get install xvfb xdotool x11-apps netpbm
set -euo pipefail
here=$(dirname "$(realpath "$0")")
ferry=$(realpath "$1")
mkdir -p "$2"
data=$(realpath "$2")
out=$3
shift 3
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1280x800 1920x1080)
mkdir -p "$out"
out=$(realpath "$out")
pages=(overview jobs datasets users settings nodes)

for size in "${sizes[@]}"; do
    w=${size%x*}
    h=${size#*x}
    config=$(mktemp -d)
    # The first start takes 85% of the screen: a screen of size / 0.85 gives the window the size.
    XDG_CONFIG_HOME=$config XDG_RUNTIME_DIR=$config xvfb-run -a -s "-screen 0 $((w * 100 / 85 + 1))x$((h * 100 / 85 + 1))x24" \
        bash -c '
        set -euo pipefail
        live=()
        [ "$7" -gt 0 ] && live=(--rate-limit 1000000 --max-concurrency 4)
        "$0" --data-dir "$1" --listen 127.0.0.1:0 "${live[@]}" >"$2/ferry.log" 2>&1 &
        ferry=$!
        for _ in $(seq 1 100); do
            window=$(xdotool search --name "^Ferry$" 2>/dev/null | head -n 1 || true)
            [ -n "$window" ] && break
            sleep 0.2
        done
        [ -n "$window" ] || { cat "$2/ferry.log"; exit 1; }
        demo=
        if [ "$7" -gt 0 ]; then
            port=$(sed -n "s|.*HTTP endpoint on http://127\.0\.0\.1:\([0-9]*\)/api/v1/.*|\1|p" "$2/ferry.log" | head -n 1)
            "$6/demo-data.py" --ferry "$0" --data-dir "$1" --port "$port" --users 12 \
                --uploads 1000000 --pace 0.3 >"$2/demo.log" 2>&1 &
            demo=$!
            sleep "$7"
        fi
        sleep 4 # the first reads and a few chart samples
        eval "$(xdotool getwindowgeometry --shell "$window")" # X, Y, WIDTH, HEIGHT
        i=1
        for page in '"${pages[*]}"'; do
            # A click on the page in the navigation list (Xvfb has no window manager to give
            # the window keyboard focus for Ctrl+N).
            xdotool mousemove $((X + 60)) $((Y + 79 + 24 * (i - 1))) click 1
            sleep 2.5
            xwd -root -silent | xwdtopnm 2>/dev/null | pnmcut -left "$X" -top "$Y" -width "$WIDTH" -height "$HEIGHT" | pnmtopng >"$5/$page-$3x$4.png"
            i=$((i + 1))
        done
        [ -z "$demo" ] || { kill "$demo"; wait "$demo" || true; }
        kill "$ferry"
        wait "$ferry" || true
        ' "$ferry" "$data" "$config" "$w" "$h" "$out" "$here" "${LIVE_SECONDS:-0}"
    rm -rf "$config"
done
ls "$out"
