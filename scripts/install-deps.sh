#!/usr/bin/env bash
# Installs the Debian 12 packages Ferry needs to build, run and test, and only the missing ones.
# Runs apt-get directly as root, through sudo otherwise. Safe to run again: it does nothing when
# everything is present.
set -euo pipefail

packages=(
    g++ cmake make pkgconf
    qt6-base-dev libqt6opengl6-dev qt6-charts-dev
    libqt6sql6-sqlite libqt6sql6-psql libsqlite3-dev
    zlib1g-dev libssl-dev
    qcoro-qt6-dev libxkbcommon-dev
    node-llhttp
    xvfb xauth fonts-dejavu-core
    postgresql # a throwaway server for the PostgreSQL store tests (scripts/pg-test-server.sh)
    libpq-dev  # libpq headers: the PostgreSQL store's imports COPY through QPSQL's own connection
    nginx # the load balancer in front of two nodes in tests/cluster/tst_nginxcluster
    curl jq # tests/scripts/tst_apidocs.sh runs docs/api.md's curl examples (they use jq)
    bash-completion # tests/scripts/tst_completion.sh loads it to test resources/completion/ferry.bash
    faketime # nodes with a wrong clock in tests/cluster/tst_clusterclock
)

# Node.js and npm run the stock tus-js-client in tests/api/tst_tusjsclient. Node may come from
# elsewhere (NodeSource); only install Debian's when there is none.
command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)

# `install-deps.sh bench` adds what the benchmarks' baselines need.
if [ "${1:-}" = "bench" ]; then
    packages+=(sqlite3 redis-server wrk)
fi
# `install-deps.sh package` adds what `make package` and its checks need (scripts/check-package.sh).
if [ "${1:-}" = "package" ]; then
    packages+=(dpkg-dev lintian appstream desktop-file-utils)
fi
# `install-deps.sh fuzz` adds what `make fuzz` needs: clang with libFuzzer and the sanitizer
# runtimes (libclang-rt-14-dev), and lld (tests/fuzz/CMakeLists.txt says why).
if [ "${1:-}" = "fuzz" ]; then
    packages+=(clang libclang-rt-14-dev lld)
fi

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

echo "ferry: installing missing Debian packages: ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
    sudo=()
elif command -v sudo >/dev/null 2>&1; then
    sudo=(sudo)
else
    echo "ferry: need root or sudo to install: ${missing[*]}" >&2
    exit 1
fi
"${sudo[@]}" apt-get update
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
