#!/usr/bin/env bash
# Starts Roleport's private test peers on 127.0.0.1: OpenLDAP (slapd) and a SimpleSAMLphp IdP.
#
#   deploy/peers/start.sh STATE_DIR LDAP_PORT IDP_PORT
#
# Waits until both answer, writes STATE_DIR/peers.env, prints nothing on success. Idempotent:
# if both already run from STATE_DIR on these ports and answer, it only rewrites peers.env. A
# half-running or unhealthy set is stopped and started afresh; a set running on other ports is an
# error (run stop.sh first). Every (re)start gives a freshly seeded directory and a new IdP key;
# SP registrations in STATE_DIR/sp-remote.d are kept. See deploy/peers/README.md.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$PEERS_DIR/ldap/ldap.sh"
source "$PEERS_DIR/saml-idp/idp.sh"

(( $# == 3 )) || { echo "usage: $0 STATE_DIR LDAP_PORT IDP_PORT" >&2; exit 2; }
check_port_arg "$2"
check_port_arg "$3"
LDAP_PORT=$2
IDP_PORT=$3
(( LDAP_PORT != IDP_PORT )) || die "LDAP_PORT and IDP_PORT must differ"
STATE=$(abs_dir "$1")
# peers.env is KEY=value without quoting: keep it trivially parseable (and shell-sourceable).
[[ "$STATE" =~ ^[A-Za-z0-9_./+,=@%:-]+$ ]] || die "STATE_DIR path must not contain spaces or shell metacharacters: $STATE"
for tool in slapd slaptest slappasswd ldapsearch ldapadd php openssl curl setsid flock; do
  command -v "$tool" >/dev/null || die "$tool not found: run deploy/install-deps.sh"
done

# One start.sh/stop.sh at a time per state directory.
exec 9>"$STATE/.peers.lock"
flock -w 120 9 || die "timed out waiting for the lock on $STATE"

LDAP_URL="ldap://127.0.0.1:$LDAP_PORT"
IDP_BASE_URL="http://127.0.0.1:$IDP_PORT/"
IDP_METADATA_URL="${IDP_BASE_URL}saml2/idp/metadata.php"

write_env() {
  local tmp="$STATE/peers.env.tmp"
  cat >"$tmp" <<ENV
# Written by deploy/peers/start.sh; KEY=value, no quoting.
STATE_DIR=$STATE
LDAP_PORT=$LDAP_PORT
LDAP_URL=$LDAP_URL
LDAP_BASE_DN=$LDAP_SUFFIX
LDAP_ADMIN_DN=$LDAP_ADMIN_DN
LDAP_ADMIN_PW=$LDAP_ADMIN_PW
IDP_PORT=$IDP_PORT
IDP_BASE_URL=$IDP_BASE_URL
IDP_ENTITY_ID=$IDP_METADATA_URL
IDP_METADATA_URL=$IDP_METADATA_URL
IDP_SSO_URL=${IDP_BASE_URL}saml2/idp/SSOService.php
IDP_SLO_URL=${IDP_BASE_URL}saml2/idp/SingleLogoutService.php
IDP_CERT=$STATE/idp.crt
SP_REMOTE_DIR=$STATE/sp-remote.d
ENV
  mv "$tmp" "$STATE/peers.env"
}

if ldap_running "$STATE" || idp_running "$STATE"; then
  if [[ -s "$STATE/ports" && "$(<"$STATE/ports")" != "$LDAP_PORT $IDP_PORT" ]]; then
    die "peers in $STATE already run on ports $(<"$STATE/ports") (ldap idp); run stop.sh first"
  fi
  if ldap_running "$STATE" && idp_running "$STATE" && ldap_answers "$LDAP_URL" && idp_answers "$IDP_METADATA_URL"; then
    write_env
    exit 0
  fi
  # Half up or not answering: start over.
  idp_stop "$STATE"
  ldap_stop "$STATE"
fi

rm -f "$STATE/ports" "$STATE/peers.env"
# On any failure below, leave nothing running.
trap 'idp_stop "$STATE"; ldap_stop "$STATE"' ERR EXIT
ldap_start "$STATE" "$LDAP_PORT"
idp_start "$STATE" "$LDAP_PORT" "$IDP_PORT"
echo "$LDAP_PORT $IDP_PORT" >"$STATE/ports"
write_env
trap - ERR EXIT
