#!/usr/bin/env bash
# Starts the STS/IAM emulator (moto_server from PyPI) on 127.0.0.1 and registers Roleport's test
# fixtures in account 123456789012: roles Admin and ReadOnly, the SAML provider `roleport`, an OIDC
# provider, and the IAM user roleport-broker with an access key.
#
#   deploy/peers/moto/start.sh STATE_DIR PORT [SAML_METADATA_FILE]
#
# SAML_METADATA_FILE is the IdP metadata registered for the provider `roleport` (the demo and tests
# pass Roleport's own GET /aws/saml-metadata.xml); without it a placeholder is registered. moto
# never checks signatures, so the metadata only matters for realism. Env MOTO_OIDC_ISSUER /
# MOTO_OIDC_CLIENT_ID name the OIDC provider (defaults: see setup.py).
#
# Installs the venv first (deploy/peers/moto/install.sh; quick when done), waits until the server
# answers, runs setup.py, writes STATE_DIR/moto.env, prints nothing on success. Idempotent: if the
# server already runs from STATE_DIR on PORT and answers, it only re-runs setup.py (which keeps
# existing roles, providers and the broker key, and updates the metadata if a file is given). A
# server from STATE_DIR on another port is an error (run stop.sh first). See README.md here.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/moto.sh"

(( $# == 2 || $# == 3 )) || { echo "usage: $0 STATE_DIR PORT [SAML_METADATA_FILE]" >&2; exit 2; }
check_port_arg "$2"
PORT=$2
METADATA=${3:-}
if [[ -n "$METADATA" ]]; then
  [[ -r "$METADATA" ]] || moto_die "cannot read the SAML metadata file $METADATA"
  METADATA=$(cd "$(dirname "$METADATA")" && pwd -P)/$(basename "$METADATA")
fi
STATE=$(abs_dir "$1")
[[ "$STATE" =~ ^[A-Za-z0-9_./+,=@%:-]+$ ]] || moto_die "STATE_DIR path must not contain spaces or shell metacharacters: $STATE"
command -v curl >/dev/null || moto_die "curl not found"

"$MOTO_DIR/install.sh"

exec 9>"$STATE/.moto.lock"
flock -w 120 9 || moto_die "timed out waiting for the lock on $STATE/.moto.lock"

setup() {
  local args=(--endpoint "http://127.0.0.1:$PORT" --state-dir "$STATE" --port "$PORT" -q)
  [[ -z "$METADATA" ]] || args+=(--saml-metadata "$METADATA")
  "$MOTO_VENV/bin/python" "$MOTO_DIR/setup.py" "${args[@]}" 9>&-
}

if moto_running "$STATE"; then
  if [[ -s "$STATE/moto/port" && "$(<"$STATE/moto/port")" != "$PORT" ]]; then
    moto_die "moto in $STATE already runs on port $(<"$STATE/moto/port"); run stop.sh first"
  fi
  if moto_answers "$PORT"; then
    setup || moto_die "setup.py failed against the running server on port $PORT"
    exit 0
  fi
  moto_stop "$STATE"
fi

rm -f "$STATE/moto.env"
trap 'moto_stop "$STATE"' ERR EXIT
moto_start "$STATE" "$PORT"
setup || moto_die "setup.py failed (server log: $STATE/moto/moto.log)"
trap - ERR EXIT
