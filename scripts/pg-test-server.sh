#!/usr/bin/env bash
# A throwaway PostgreSQL 15 for tests: trust auth, loopback only, fsync off.
#
#   scripts/pg-test-server.sh start STATE   initdb + start; prints the connection URL on stdout and
#                                           leaves STATE/url, STATE/port and STATE/server behind
#   scripts/pg-test-server.sh stop STATE    stops the server STATE names, removes it and STATE
#   scripts/pg-test-server.sh start         as above, with a new temporary STATE directory
#
# STATE may be anywhere the caller can write (the build tree, say). The server's own files never
# go there: root cannot run PostgreSQL, so as root the server runs as Debian's unprivileged
# "postgres" user, which cannot enter a clone under /root or under a 0700 `mktemp -d` directory.
# The data directory therefore lives in a fresh directory of its own under ${TMPDIR:-/tmp} (or
# /tmp when the server user cannot reach TMPDIR), owned by the server user; STATE/server names it.
# Nothing is written under /etc/postgresql.
set -euo pipefail

find_bin() {
    local name=$1
    for dir in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
        if [ -x "$dir/$name" ]; then
            echo "$dir/$name"
            return
        fi
    done
    command -v "$name" || {
        echo "pg-test-server: $name not found; run scripts/install-deps.sh (package postgresql)" >&2
        exit 1
    }
}

as_server_user() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

free_port() {
    local port
    for _ in $(seq 1 50); do
        port=$((20000 + RANDOM % 30000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return
        fi
    done
    echo "pg-test-server: found no free port" >&2
    exit 1
}

# A new directory for the server's files that the server user can enter and own.
make_server_dir() {
    local parent=${TMPDIR:-/tmp}
    if [ "$(id -u)" -eq 0 ] && ! runuser -u postgres -- test -x "$parent" -a -w "$parent" 2>/dev/null; then
        parent=/tmp
    fi
    local dir
    dir=$(mktemp -d "$parent/ferry-pg.XXXXXX")
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres:postgres "$dir"
    fi
    chmod 700 "$dir"
    echo "$dir"
}

start() {
    local state=${1:-}
    if [ -z "$state" ]; then
        state=$(mktemp -d "${TMPDIR:-/tmp}/ferry-pg-state.XXXXXX")
    fi
    mkdir -p "$state"
    state=$(cd "$state" && pwd)
    if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
        echo "pg-test-server: running as root needs the 'postgres' user (package postgresql)" >&2
        exit 1
    fi
    local initdb pg_ctl port server
    initdb=$(find_bin initdb)
    pg_ctl=$(find_bin pg_ctl)
    port=$(free_port)
    server=$(make_server_dir)
    # Written first, so that `stop STATE` removes the server directory even if start fails below.
    echo "$server" >"$state/server"
    as_server_user "$initdb" -D "$server/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
        --no-sync >"$state/initdb.log" 2>&1 || {
        echo "pg-test-server: initdb failed in $server:" >&2
        cat "$state/initdb.log" >&2
        exit 1
    }
    as_server_user "$pg_ctl" -D "$server/data" -l "$server/log" -w -t 30 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $server -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
        start >/dev/null || {
        echo "pg-test-server: the server in $server did not start:" >&2
        cat "$server/log" >&2
        exit 1
    }
    local url="postgresql://postgres@127.0.0.1:$port/postgres"
    echo "$port" >"$state/port"
    echo "$url" >"$state/url"
    echo "$url"
}

stop() {
    local state=${1:?usage: pg-test-server.sh stop STATE}
    if [ -f "$state/server" ]; then
        local server
        server=$(cat "$state/server")
        # Only ever remove what this script made: a ferry-pg.* directory.
        case "$(basename "$server")" in
        ferry-pg.*)
            if [ -d "$server/data" ]; then
                as_server_user "$(find_bin pg_ctl)" -D "$server/data" -m immediate -w stop \
                    >/dev/null 2>&1 || true
            fi
            rm -rf "$server"
            ;;
        esac
    fi
    rm -rf "$state"
}

case "${1:-}" in
start) start "${2:-}" ;;
stop) stop "${2:-}" ;;
*)
    echo "usage: $0 start [STATE] | stop STATE" >&2
    exit 2
    ;;
esac
