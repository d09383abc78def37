#!/usr/bin/env bash
# `cmake --install` into a fresh prefix gives a working Ferry: the binary runs from there (its
# version, and a headless node that answers its health check), and the desktop entry, AppStream
# metadata, icons, man page, bash completion and systemd unit are where desktops look for them and
# pass their validators where those are installed.
# Usage: tst_install.sh BUILD_DIR
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib/node-health.sh"
build=$1
work=$(mktemp -d)
node=
cleanup() {
    [ -n "$node" ] && kill "$node" 2>/dev/null && wait "$node" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
failures=0
fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

prefix=$work/prefix
cmake --install "$build" --prefix "$prefix" >"$work/install.log"

for file in bin/ferry \
    share/applications/dev.ferry.Ferry.desktop \
    share/metainfo/dev.ferry.Ferry.metainfo.xml \
    share/icons/hicolor/scalable/apps/dev.ferry.Ferry.svg \
    share/icons/hicolor/16x16/apps/dev.ferry.Ferry.png \
    share/icons/hicolor/48x48/apps/dev.ferry.Ferry.png \
    share/icons/hicolor/256x256/apps/dev.ferry.Ferry.png \
    share/man/man1/ferry.1.gz \
    share/bash-completion/completions/ferry \
    lib/systemd/system/ferry.service \
    share/doc/ferry/copyright share/doc/ferry/changelog.gz; do
    [ -s "$prefix/$file" ] || fail "$file is not installed"
done

version=$("$prefix/bin/ferry" --version)
[[ $version == "ferry "* ]] || fail "ferry --version printed '$version'"
grep -q "^ExecStart=$prefix/bin/ferry --headless" "$prefix/lib/systemd/system/ferry.service" ||
    fail "the systemd unit does not run the installed binary"
gzip -t "$prefix/share/man/man1/ferry.1.gz" || fail "the man page is not valid gzip"
bash -n "$prefix/share/bash-completion/completions/ferry" || fail "the completion is not valid bash"

if command -v desktop-file-validate >/dev/null; then
    desktop-file-validate "$prefix/share/applications/dev.ferry.Ferry.desktop" || fail "desktop-file-validate"
else
    echo "SKIP: desktop-file-validate (package desktop-file-utils) is not installed"
fi
if command -v appstreamcli >/dev/null; then
    appstreamcli validate --no-net --explain "$prefix/share/metainfo/dev.ferry.Ferry.metainfo.xml" ||
        fail "appstreamcli validate"
else
    echo "SKIP: appstreamcli (package appstream) is not installed"
fi

# A headless node from the installed binary answers /api/v1/health.
: >"$work/node.log"
XDG_RUNTIME_DIR=$work "$prefix/bin/ferry" --headless --data-dir "$work/data" --listen 127.0.0.1:0 >"$work/node.log" 2>&1 &
node=$!
health=$(wait_for_health "$work/node.log")
[[ $health == *'"status"'* ]] || { fail "no health answer from the installed node"; cat "$work/node.log"; }

if [ "$failures" -gt 0 ]; then
    echo "$failures failure(s)"
    exit 1
fi
echo "PASS: installed into $prefix; --version '$version'; health: $health"
