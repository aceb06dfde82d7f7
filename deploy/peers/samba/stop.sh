#!/usr/bin/env bash
# Stops what deploy/peers/samba/start.sh started from STATE_DIR (samba and the php -S group, each
# by its recorded process group). Quiet; exits 0 when nothing was running; keeps the template.
#
#   deploy/peers/samba/stop.sh STATE_DIR
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
source "$PEERS_DIR/samba/samba.sh"
source "$PEERS_DIR/saml-idp/idp.sh"

(( $# == 1 )) || { echo "usage: $0 STATE_DIR" >&2; exit 2; }
[[ -d "$1" ]] || exit 0
STATE=$(cd "$1" && pwd -P)
exec 9>"$STATE/.peers.lock"
flock -w 180 9 || die "timed out waiting for the lock on $STATE"
idp_stop "$STATE"
samba_stop "$STATE"
rm -f "$STATE/samba.env"
