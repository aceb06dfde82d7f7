#!/usr/bin/env bash
# Stops the peers started by deploy/peers/start.sh from STATE_DIR: slapd (by its pid file) and the
# whole php -S process group. Quiet; exits 0 when nothing was running. Keeps the state directory
# (logs, sp-remote.d) for inspection.
#
#   deploy/peers/stop.sh STATE_DIR
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$PEERS_DIR/ldap/ldap.sh"
source "$PEERS_DIR/saml-idp/idp.sh"

(( $# == 1 )) || { echo "usage: $0 STATE_DIR" >&2; exit 2; }
[[ -d "$1" ]] || exit 0
STATE=$(cd "$1" && pwd -P)

exec 9>"$STATE/.peers.lock"
flock -w 120 9 || die "timed out waiting for the lock on $STATE"

idp_stop "$STATE"
ldap_stop "$STATE"
rm -f "$STATE/ports" "$STATE/peers.env"
