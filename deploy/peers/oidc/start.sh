#!/usr/bin/env bash
# Starts the OpenID provider peer (node server.mjs with npm oidc-provider 9) on 127.0.0.1:PORT with
# issuer http://127.0.0.1:PORT, the demo users alice/bob/carol, PKCE required, and clients read from
# STATE_DIR/oidc-clients.d/*.json.
#
#   deploy/peers/oidc/start.sh STATE_DIR PORT
#   ALLOW_TEST_ENDPOINTS=1 deploy/peers/oidc/start.sh STATE_DIR PORT   # + POST /__test/rotate etc.
#
# Installs the npm dependencies first (install.sh; quick when done), waits until
# /.well-known/openid-configuration answers 200, writes STATE_DIR/oidc.env, prints nothing on
# success. Idempotent: if the server from STATE_DIR already answers on PORT with the same
# ALLOW_TEST_ENDPOINTS, it only rewrites oidc.env. A dead or hung server is restarted; one from
# STATE_DIR on another port or with the other ALLOW_TEST_ENDPOINTS is an error (run stop.sh first).
# Every (re)start gives new signing keys and forgets all sessions; registrations are kept.
# See README.md here.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/oidc.sh"

(( $# == 2 )) || { echo "usage: $0 STATE_DIR PORT" >&2; exit 2; }
check_port_arg "$2"
PORT=$2
case "${ALLOW_TEST_ENDPOINTS:-0}" in
  1) TEST_ENDPOINTS=1 ;;
  0 | '') TEST_ENDPOINTS=0 ;;
  *) oidc_die "ALLOW_TEST_ENDPOINTS must be 0 or 1" ;;
esac
STATE=$(abs_dir "$1")
# oidc.env is KEY=value without quoting: keep it trivially parseable (and shell-sourceable).
[[ "$STATE" =~ ^[A-Za-z0-9_./+,=@%:-]+$ ]] || oidc_die "STATE_DIR path must not contain spaces or shell metacharacters: $STATE"
for tool in curl setsid flock; do
  command -v "$tool" >/dev/null || oidc_die "$tool not found"
done

"$OIDC_DIR/install.sh"

exec 9>"$STATE/.oidc.lock"
flock -w 120 9 || oidc_die "timed out waiting for the lock on $STATE/.oidc.lock"

ISSUER="http://127.0.0.1:$PORT"
write_env() {
  local tmp="$STATE/oidc.env.tmp"
  cat >"$tmp" <<ENV
# Written by deploy/peers/oidc/start.sh; KEY=value, no quoting.
OIDC_PORT=$PORT
OIDC_ISSUER=$ISSUER
OIDC_DISCOVERY_URL=$ISSUER/.well-known/openid-configuration
OIDC_JWKS_URL=$ISSUER/jwks
OIDC_AUTHORIZATION_URL=$ISSUER/auth
OIDC_TOKEN_URL=$ISSUER/token
OIDC_USERINFO_URL=$ISSUER/me
OIDC_CLIENTS_DIR=$STATE/oidc-clients.d
OIDC_JWKS_FILE=$STATE/oidc/jwks.json
OIDC_JWKS_PRIVATE_FILE=$STATE/oidc/jwks-private.json
OIDC_TEST_ENDPOINTS=$TEST_ENDPOINTS
ENV
  mv "$tmp" "$STATE/oidc.env"
}

if oidc_running "$STATE"; then
  if [[ -s "$STATE/oidc/settings" && "$(<"$STATE/oidc/settings")" != "$PORT $TEST_ENDPOINTS" ]]; then
    read -r p t <"$STATE/oidc/settings"
    oidc_die "the OpenID provider in $STATE already runs on port $p with ALLOW_TEST_ENDPOINTS=$t; run stop.sh first"
  fi
  if oidc_answers "$PORT"; then
    write_env
    exit 0
  fi
  oidc_stop "$STATE"
fi

rm -f "$STATE/oidc.env"
trap 'oidc_stop "$STATE"' ERR EXIT
oidc_start "$STATE" "$PORT" "$TEST_ENDPOINTS"
write_env
trap - ERR EXIT
