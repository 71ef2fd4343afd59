#!/usr/bin/env bash
# A throwaway PostgreSQL server on loopback for the tests and benchmarks (installed by
# setup.sh from Debian's package).
#   scripts/postgres.sh start DIR   creates the cluster in DIR if needed, starts it on a free
#                                   port and prints its URL (postgres://stt:stt@127.0.0.1:PORT/postgres)
#   scripts/postgres.sh stop DIR
# DIR must be reachable by the `postgres` user when run as root (initdb refuses root): use a
# directory under /tmp.
set -euo pipefail
command=${1:?start or stop} dir=${2:?a directory}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$bin/initdb" ] || { echo "PostgreSQL is not installed: run scripts/setup.sh" >&2; exit 1; }

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case $command in
  start)
    mkdir -p "$dir"
    [ "$(id -u)" -ne 0 ] || chown postgres "$dir"
    if [ ! -f "$dir/data/PG_VERSION" ]; then
      as_owner sh -c "echo stt > '$dir/password'"
      as_owner "$bin/initdb" -D "$dir/data" -U stt --pwfile="$dir/password" \
        --auth=scram-sha-256 -E UTF8 >"$dir/initdb.log"
    fi
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    # Test data: durability off, connections for several servers' pools.
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c max_connections=300" \
      start >/dev/null
    echo "postgres://stt:stt@127.0.0.1:$port/postgres"
    ;;
  stop)
    [ -f "$dir/data/postmaster.pid" ] || exit 0
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
    ;;
  *)
    echo "usage: $0 start|stop DIR" >&2
    exit 2
    ;;
esac
