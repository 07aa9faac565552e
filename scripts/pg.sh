#!/usr/bin/env bash
# A private PostgreSQL cluster for the store tests (tests/store_postgres.rs): Debian's
# `postgresql` binaries, a throw-away data directory, 127.0.0.1 only, trust authentication (no
# password anywhere). Idempotent: `up` on a running cluster and `down` on a stopped one do nothing.
#
#   scripts/pg.sh up     # start it; prints the URL to export as SMB1SCAN_TEST_PG
#   scripts/pg.sh url    # the URL
#   scripts/pg.sh down   # stop it and remove its data
set -euo pipefail

PORT="${SMB1SCAN_PG_PORT:-54329}"
DIR="${SMB1SCAN_PG_DIR:-/tmp/smb1scan-pg-$PORT}"
URL="postgres://postgres@127.0.0.1:$PORT/postgres"

bindir() {
    local d
    d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
    if [[ -z "$d" || ! -x "$d/pg_ctl" ]]; then
        echo "pg.sh: PostgreSQL is not installed (apt-get install postgresql)" >&2
        exit 1
    fi
    echo "$d"
}

# initdb and the server refuse to run as root: run them as the `postgres` user when we are root.
as_pg() {
    if [[ "$(id -u)" == 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

up() {
    local bin
    bin="$(bindir)"
    if [[ -f "$DIR/data/postmaster.pid" ]] && as_pg "$bin/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1; then
        echo "$URL"
        return 0
    fi
    rm -rf "$DIR"
    mkdir -p "$DIR"
    if [[ "$(id -u)" == 0 ]]; then chown postgres: "$DIR"; fi
    as_pg "$bin/initdb" -D "$DIR/data" -U postgres --auth=trust -E UTF8 >"$DIR/initdb.log" 2>&1 </dev/null \
        || { cat "$DIR/initdb.log" >&2; exit 1; }
    as_pg "$bin/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 \
        -o "-p $PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=$DIR -c max_connections=100 -c fsync=off" \
        start >/dev/null </dev/null || { cat "$DIR/server.log" >&2; exit 1; }
    echo "$URL"
}

down() {
    local bin
    bin="$(bindir 2>/dev/null)" || { rm -rf "$DIR"; return 0; }
    if [[ -d "$DIR/data" ]]; then
        as_pg "$bin/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null 2>&1 </dev/null || true
    fi
    rm -rf "$DIR"
}

case "${1:-}" in
    up) up ;;
    down) down ;;
    url) echo "$URL" ;;
    *)
        echo "usage: $0 up|down|url" >&2
        exit 2
        ;;
esac
