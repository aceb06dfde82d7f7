#!/usr/bin/env bash
# Stops the moto_server started by deploy/peers/moto/start.sh from STATE_DIR (TERM to its whole
# process group, KILL after 10 s) and removes STATE_DIR/moto.env. Quiet; exits 0 when nothing was
# running. Keeps STATE_DIR/moto/moto.log for inspection. moto keeps everything in memory: the next
# start begins from an empty account again.
#
#   deploy/peers/moto/stop.sh STATE_DIR
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/moto.sh"

(( $# == 1 )) || { echo "usage: $0 STATE_DIR" >&2; exit 2; }
[[ -d "$1" ]] || exit 0
STATE=$(cd "$1" && pwd -P)

exec 9>"$STATE/.moto.lock"
flock -w 120 9 || moto_die "timed out waiting for the lock on $STATE/.moto.lock"

moto_stop "$STATE"
