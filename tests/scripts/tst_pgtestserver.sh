#!/usr/bin/env bash
# Tests scripts/pg-test-server.sh itself: the throwaway PostgreSQL must start from a state directory
# the server user cannot enter (a clone under /root, or under a 0700 `mktemp -d` directory, as root),
# answer queries, and leave nothing behind after `stop`: no server directory, no process, no port.
set -euo pipefail
script=${1:?usage: tst_pgtestserver.sh path/to/pg-test-server.sh}

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

outer=$(mktemp -d "${TMPDIR:-/tmp}/ferry-pgtest-outer.XXXXXX")
chmod 700 "$outer" # what `mktemp -d` gives, and what /root is: closed to the postgres user
state="$outer/build/pgtest"
cleanup() {
    "$script" stop "$state" >/dev/null 2>&1 || true
    rm -rf "$outer"
}
trap cleanup EXIT

url=$("$script" start "$state") || fail "start failed from a 0700 directory"
[ "$(cat "$state/url")" = "$url" ] || fail "state/url does not hold the printed URL"
port=$(cat "$state/port")
server=$(cat "$state/server")
case "$server" in
"$outer"/*) fail "the server's files are inside the caller's directory ($server)" ;;
esac
[ -d "$server/data" ] || fail "no data directory in $server"
if [ "$(id -u)" -eq 0 ]; then
    [ "$(stat -c %U "$server")" = postgres ] || fail "$server is not owned by the postgres user"
fi

answer=$(psql "$url" -Atc "SELECT 40 + 2") || fail "the server at $url does not answer"
[ "$answer" = 42 ] || fail "the server answered '$answer' to SELECT 40 + 2"

# A second start on the same state after a stop works (the CTest fixture runs stop, then start).
"$script" stop "$state"
[ ! -e "$state" ] || fail "stop left the state directory $state"
[ ! -e "$server" ] || fail "stop left the server directory $server"
if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    fail "something still listens on port $port after stop"
fi

# A failed start still leaves a state that stop cleans up: here, a state path that is a file.
touch "$outer/not-a-dir"
if "$script" start "$outer/not-a-dir" >/dev/null 2>&1; then
    fail "start succeeded with a state path that is a regular file"
fi
echo "PASS: pg-test-server.sh starts from a 0700 directory and cleans up"
