#!/usr/bin/env bash
# Starts the Active Directory test peers on 127.0.0.1: a Samba AD DC (LDAP 389, LDAPS 636: fixed,
# so one per machine) and a SimpleSAMLphp IdP in front of it (deploy/peers/saml-idp, directory
# "samba") that sends groups as memberOf DNs and under both AD FS claim URIs.
#
#   deploy/peers/samba/start.sh STATE_DIR IDP_PORT
#
# Waits until both answer and writes STATE_DIR/samba.env. Every start copies a freshly seeded
# domain (from a template provisioned once, see samba.sh) and gives the IdP a new key; SP
# registrations in STATE_DIR/sp-remote.d are kept.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
source "$PEERS_DIR/samba/samba.sh"
source "$PEERS_DIR/saml-idp/idp.sh"

(( $# == 2 )) || { echo "usage: $0 STATE_DIR IDP_PORT" >&2; exit 2; }
check_port_arg "$2"
IDP_PORT=$2
STATE=$(abs_dir "$1")
[[ "$STATE" =~ ^[A-Za-z0-9_./+,=@%:-]+$ ]] || die "STATE_DIR path must not contain spaces or shell metacharacters: $STATE"
for tool in samba samba-tool ldapsearch php openssl curl setsid flock; do
  command -v "$tool" >/dev/null || die "$tool not found: run deploy/install-deps.sh"
done

exec 9>"$STATE/.peers.lock"
flock -w 180 9 || die "timed out waiting for the lock on $STATE"

SAMBA_CA_FILE="$STATE/tls/ca.crt"
IDP_BASE_URL="http://127.0.0.1:$IDP_PORT/"
IDP_METADATA_URL="${IDP_BASE_URL}saml2/idp/metadata.php"

# Always from scratch: a fresh copy of the domain is what the tests expect.
idp_stop "$STATE"
samba_stop "$STATE"
rm -f "$STATE/samba.env"
trap 'idp_stop "$STATE"; samba_stop "$STATE"' ERR EXIT
samba_start "$STATE"
idp_start "$STATE" 0 "$IDP_PORT" samba

tmp="$STATE/samba.env.tmp"
cat >"$tmp" <<ENV
# Written by deploy/peers/samba/start.sh; KEY=value, no quoting.
STATE_DIR=$STATE
SAMBA_LDAP_URL=ldap://127.0.0.1:$SAMBA_LDAP_PORT
SAMBA_LDAPS_URL=ldaps://127.0.0.1:$SAMBA_LDAPS_PORT
SAMBA_CA_FILE=$SAMBA_CA_FILE
SAMBA_BASE_DN=$SAMBA_BASE_DN
SAMBA_DOMAIN=$SAMBA_DOMAIN
SAMBA_REALM=$SAMBA_REALM
SAMBA_BIND_DN=$SAMBA_ADMIN_DN
SAMBA_BIND_PW=$SAMBA_ADMIN_PW
IDP_PORT=$IDP_PORT
IDP_BASE_URL=$IDP_BASE_URL
IDP_ENTITY_ID=$IDP_METADATA_URL
IDP_METADATA_URL=$IDP_METADATA_URL
IDP_SSO_URL=${IDP_BASE_URL}saml2/idp/SSOService.php
IDP_CERT=$STATE/idp.crt
SP_REMOTE_DIR=$STATE/sp-remote.d
ENV
mv "$tmp" "$STATE/samba.env"
trap - ERR EXIT
