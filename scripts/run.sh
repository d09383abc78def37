#!/usr/bin/env bash
# Starts Ferry: the console when a display is available, otherwise the headless engine.
set -euo pipefail
binary=$1
shift
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ] && [ -z "${QT_QPA_PLATFORM:-}" ]; then
    echo "ferry: no display found; starting headless (Ctrl+C stops it)"
    exec "$binary" --headless "$@"
fi
exec "$binary" "$@"
