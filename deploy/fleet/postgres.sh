#!/usr/bin/env bash
# A private Postgres cluster for the fleet fault tests, so a test can stop and restart "the
# database" mid-run without touching the machine's shared Postgres on 5432.
#
#   deploy/fleet/postgres.sh start|stop|restart DIR PORT
#
# start: initdb DIR/data on first use (trust auth, user postgres), then listen on 127.0.0.1:PORT
# only (its socket in DIR too). stop: fast shutdown, waits. restart: stop, then start. Prints
# nothing on success. Postgres refuses to run as root, so as root the cluster belongs to the
# `postgres` user (DIR must be reachable by it: the fleet test keeps it under /tmp).
set -euo pipefail
(( $# == 3 )) || { echo "usage: $0 start|stop|restart DIR PORT" >&2; exit 2; }
action=$1 dir=$2 port=$3
[[ $port =~ ^[0-9]+$ ]] || { echo "postgres.sh: bad port $port" >&2; exit 2; }
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[[ -x $bin/pg_ctl ]] || { echo "postgres.sh: no Postgres server binaries under /usr/lib/postgresql" >&2; exit 1; }
mkdir -p "$dir"
dir=$(cd "$dir" && pwd -P)

as_owner() {
  if ((EUID == 0)); then runuser -u postgres -- "$@"; else "$@"; fi
}

start() {
  if [[ ! -s $dir/data/PG_VERSION ]]; then
    ((EUID == 0)) && chown postgres: "$dir"
    as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 || {
      cat "$dir/initdb.log" >&2; exit 1; }
  fi
  # fsync off: this cluster holds only the test's data, and the test restarts it, it never crashes
  # the machine under it. Small shared buffers: two cores shared by several suites.
  as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c shared_buffers=32MB -c max_connections=60" \
    start >/dev/null
}

stop() {
  [[ -s $dir/data/postmaster.pid ]] || return 0
  as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null
}

case $action in
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  *) echo "usage: $0 start|stop|restart DIR PORT" >&2; exit 2 ;;
esac
