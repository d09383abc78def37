#!/usr/bin/env bash
# A throwaway PostgreSQL 15 for tests: trust auth, loopback only, fsync off, in a temp dir.
#
#   scripts/pg-test-server.sh start [DIR]   initdb + start; prints the connection URL on stdout
#                                           and leaves DIR/url and DIR/port behind
#   scripts/pg-test-server.sh stop DIR      stops it and removes DIR
#
# Root cannot run the server, so as root everything runs as the unprivileged "postgres" user that
# Debian's postgresql package creates (runuser). Nothing is written under /etc/postgresql.
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

start() {
    local root=${1:-}
    if [ -z "$root" ]; then
        root=$(mktemp -d "${TMPDIR:-/tmp}/ferry-pg.XXXXXX")
    fi
    mkdir -p "$root"
    root=$(cd "$root" && pwd)
    if [ "$(id -u)" -eq 0 ]; then
        id postgres >/dev/null 2>&1 || {
            echo "pg-test-server: running as root needs the 'postgres' user (package postgresql)" >&2
            exit 1
        }
        chown postgres:postgres "$root"
        chmod 700 "$root"
    fi
    local initdb pg_ctl port
    initdb=$(find_bin initdb)
    pg_ctl=$(find_bin pg_ctl)
    port=$(free_port)
    as_server_user "$initdb" -D "$root/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
        --no-sync >"$root/initdb.log" 2>&1 || {
        cat "$root/initdb.log" >&2
        exit 1
    }
    as_server_user "$pg_ctl" -D "$root/data" -l "$root/log" -w -t 30 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $root -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
        start >/dev/null || {
        cat "$root/log" >&2
        exit 1
    }
    local url="postgresql://postgres@127.0.0.1:$port/postgres"
    echo "$port" >"$root/port"
    echo "$url" >"$root/url"
    echo "$url"
}

stop() {
    local root=${1:?usage: pg-test-server.sh stop DIR}
    [ -d "$root/data" ] || {
        rm -rf "$root"
        return
    }
    as_server_user "$(find_bin pg_ctl)" -D "$root/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$root"
}

case "${1:-}" in
start) start "${2:-}" ;;
stop) stop "${2:-}" ;;
*)
    echo "usage: $0 start [DIR] | stop DIR" >&2
    exit 2
    ;;
esac
