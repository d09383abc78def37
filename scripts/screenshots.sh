#!/usr/bin/env bash
# Screenshots of the real console over a real data directory (scripts/demo-data.py fills one):
# `ferry` under Xvfb, every page at the window sizes asked for, as PNGs in OUT_DIR.
# Usage: scripts/screenshots.sh FERRY DATA_DIR OUT_DIR [WxH ...]   (default 1280x800 1920x1080)
# Needs xvfb, xdotool, x11-apps (xwd) and netpbm: apt-get install xvfb xdotool x11-apps netpbm
set -euo pipefail
ferry=$(realpath "$1")
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
        "$0" --data-dir "$1" --listen 127.0.0.1:0 >"$2/ferry.log" 2>&1 &
        ferry=$!
        for _ in $(seq 1 100); do
            window=$(xdotool search --name "^Ferry$" 2>/dev/null | head -n 1 || true)
            [ -n "$window" ] && break
            sleep 0.2
        done
        [ -n "$window" ] || { cat "$2/ferry.log"; exit 1; }
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
        kill "$ferry"
        wait "$ferry" || true
        ' "$ferry" "$data" "$config" "$w" "$h" "$out"
    rm -rf "$config"
done
ls "$out"
