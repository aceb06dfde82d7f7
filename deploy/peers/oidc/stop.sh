#!/usr/bin/env bash
# Stops the OpenID provider peer started by deploy/peers/oidc/start.sh from STATE_DIR (TERM to its
# whole process group, KILL after 10 s) and removes STATE_DIR/oidc.env. Quiet; exits 0 when nothing
# was running. Keeps STATE_DIR/oidc/server.log and the registrations in STATE_DIR/oidc-clients.d.
#
#   deploy/peers/oidc/stop.sh STATE_DIR
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/oidc.sh"

(( $# == 1 )) || { echo "usage: $0 STATE_DIR" >&2; exit 2; }
[[ -d "$1" ]] || exit 0
STATE=$(cd "$1" && pwd -P)

exec 9>"$STATE/.oidc.lock"
flock -w 120 9 || oidc_die "timed out waiting for the lock on $STATE/.oidc.lock"

oidc_stop "$STATE"
