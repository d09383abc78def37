#!/usr/bin/env bash
# Builds the Debian package (make package), checks it with lintian (no errors allowed), installs it
# with apt-get as a user would, runs the installed `ferry --version` and a headless node's health
# check, then purges it again. Needs root (apt-get); .ci/run runs it.
# Usage: scripts/check-package.sh [BUILD_DIR]
set -euo pipefail
source "$(dirname "$0")/lib/node-health.sh"
cd "$(dirname "$0")/.."
build=${1:-build}
scripts/install-deps.sh package
make --no-print-directory package BUILD_DIR="$build"
deb=$(ls -t "$build"/ferry_*.deb | head -n 1)
echo "check-package: $deb"
dpkg-deb --info "$deb" | sed -n '/Depends/p'

# lintian: errors fail; warnings are printed. Run as a normal user's tool would (not as root).
lintian_args=(--fail-on error --tag-display-limit 0)
[ "$(id -u)" -eq 0 ] && lintian_args+=(--allow-root)
lintian "${lintian_args[@]}" "$deb"

if [ "$(id -u)" -ne 0 ]; then
    echo "check-package: not root; skipping the apt-get install test"
    exit 0
fi
if dpkg-query -W -f='${Status}' ferry 2>/dev/null | grep -q "install ok installed"; then
    echo "check-package: a ferry package is already installed here; not touching it" >&2
    exit 1
fi
work=$(mktemp -d)
node=
cleanup() {
    [ -n "$node" ] && kill "$node" 2>/dev/null && wait "$node" 2>/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get purge -y ferry >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
DEBIAN_FRONTEND=noninteractive apt-get install -y "$(realpath "$deb")" >"$work/apt.log" 2>&1 ||
    { cat "$work/apt.log"; exit 1; }
[ "$(command -v ferry)" = /usr/bin/ferry ] || { echo "ferry is not on PATH at /usr/bin"; exit 1; }
getent passwd ferry >/dev/null || { echo "the package did not create the ferry user"; exit 1; }
ferry --version
chown ferry: "$work"
touch "$work/node.log"
runuser -u ferry -- env XDG_RUNTIME_DIR="$work" QT_QPA_PLATFORM=offscreen \
    ferry --headless --data-dir "$work/data" --listen 127.0.0.1:0 >"$work/node.log" 2>&1 &
node=$!
health=$(wait_for_health "$work/node.log")
[[ $health == *'"status"'* ]] || { cat "$work/node.log"; echo "no health answer from the installed node"; exit 1; }
echo "check-package: installed node healthy: $health"
kill "$node"; wait "$node" 2>/dev/null || true; node=
DEBIAN_FRONTEND=noninteractive apt-get purge -y ferry >/dev/null
[ ! -e /usr/bin/ferry ] || { echo "/usr/bin/ferry is still there after purge"; exit 1; }
echo "check-package: PASS (lintian clean of errors, installed, healthy, purged)"
