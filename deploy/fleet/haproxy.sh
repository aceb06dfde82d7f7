#!/usr/bin/env bash
# HAProxy for the fleet fault tests, with deploy/fleet/haproxy.cfg.
#
#   deploy/fleet/haproxy.sh start STATE_DIR LB_PORT REPLICA_A_PORT REPLICA_B_PORT
#   deploy/fleet/haproxy.sh stop STATE_DIR
#
# start: checks the configuration, then runs HAProxy in its own process group, logging to
# STATE_DIR/haproxy.log (one line per request, starting with its reference), its pid in
# STATE_DIR/haproxy.pid. stop: ends that process group. Prints nothing on success.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
usage() { echo "usage: $0 start STATE_DIR LB_PORT A_PORT B_PORT | stop STATE_DIR" >&2; exit 2; }
(($# >= 2)) || usage
action=$1
mkdir -p "$2"
state=$(cd "$2" && pwd -P)
command -v haproxy >/dev/null || { echo "haproxy.sh: haproxy is not installed (deploy/install-deps.sh)" >&2; exit 1; }

stop() {
  [[ -s $state/haproxy.pid ]] || return 0
  local pid
  pid=$(cat "$state/haproxy.pid")
  kill -- "-$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  rm -f "$state/haproxy.pid"
}

case $action in
  start)
    (($# == 5)) || usage
    for p in "$3" "$4" "$5"; do [[ $p =~ ^[0-9]+$ ]] || usage; done
    stop
    export FLEET_STATE=$state FLEET_LB_PORT=$3 FLEET_REPLICA_A_PORT=$4 FLEET_REPLICA_B_PORT=$5
    haproxy -c -q -f "$here/haproxy.cfg" || { echo "haproxy.sh: configuration check failed" >&2; exit 1; }
    setsid haproxy -db -f "$here/haproxy.cfg" >"$state/haproxy.log" 2>&1 </dev/null &
    echo $! >"$state/haproxy.pid"
    for _ in $(seq 1 50); do [[ -S $state/haproxy.sock ]] && exit 0; sleep 0.1; done
    echo "haproxy.sh: HAProxy did not start:" >&2; cat "$state/haproxy.log" >&2; exit 1
    ;;
  stop) stop ;;
  *) usage ;;
esac
