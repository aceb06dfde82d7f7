#!/usr/bin/env bash
# Installs the STS/IAM emulator (moto_server) and boto3 into a Python venv, from the exact pins in
# deploy/peers/moto/requirements.txt and the AWS CLI from clients-requirements.txt (PyPI only).
#
#   deploy/peers/moto/install.sh            # venv at ${ROLEPORT_VENV:-<repo>/.run/venv}
#
# Idempotent and quiet: when the venv's stamp file holds the sha256 of requirements.txt it does
# nothing (a few ms). Otherwise it (re)creates the venv if needed and runs pip; pip's output goes to
# <venv>/roleport-moto-install.log and is shown only on failure. Concurrent runs are serialised with
# flock. PYTHON selects the interpreter (default python3; needs 3.9+ with the venv module).
# Prints the venv path on stdout only with -p.
set -euo pipefail

MOTO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$MOTO_DIR/../../.." && pwd)"
VENV="${ROLEPORT_VENV:-$REPO_ROOT/.run/venv}"
REQ="$MOTO_DIR/requirements.txt"
# The real AWS clients of the CLI tests (awscli), pinned apart so moto's closure stays readable.
CLIENTS_REQ="$MOTO_DIR/clients-requirements.txt"
PYTHON="${PYTHON:-python3}"

die() { echo "peers: moto: $*" >&2; exit 1; }

print_path=0
if [[ "${1:-}" == -p ]]; then print_path=1; shift; fi
(( $# == 0 )) || { echo "usage: $0 [-p]" >&2; exit 2; }

want=$(cat "$REQ" "$CLIENTS_REQ" | sha256sum | cut -d' ' -f1)
stamp="$VENV/.roleport-moto-requirements.sha256"

installed() {
  [[ -s "$stamp" && "$(<"$stamp")" == "$want" && -x "$VENV/bin/moto_server" && -x "$VENV/bin/aws" && -x "$VENV/bin/python" ]] &&
    "$VENV/bin/python" -c '' 2>/dev/null
}

if ! installed; then
  mkdir -p "$(dirname "$VENV")"
  exec 8>"$VENV.lock"
  flock -w 600 8 || die "timed out waiting for the lock on $VENV.lock"
  if ! installed; then
    command -v "$PYTHON" >/dev/null || die "$PYTHON not found (set PYTHON=/path/to/python3)"
    # A venv whose interpreter went away (e.g. another Python) is rebuilt from scratch.
    if [[ -e "$VENV" ]] && ! "$VENV/bin/python" -c '' 2>/dev/null; then
      rm -rf "$VENV"
    fi
    if [[ ! -x "$VENV/bin/python" ]]; then
      "$PYTHON" -m venv "$VENV" || die "could not create the venv $VENV with $PYTHON"
    fi
    rm -f "$stamp"
    log="$VENV/roleport-moto-install.log"
    if ! "$VENV/bin/python" -m pip install --disable-pip-version-check --no-input -q \
         -r "$REQ" -r "$CLIENTS_REQ" >"$log" 2>&1; then
      tail -40 "$log" >&2
      die "pip install -r $REQ -r $CLIENTS_REQ failed (full log: $log)"
    fi
    "$VENV/bin/python" -c 'import moto, boto3, flask, awscli' 2>>"$log" || die "moto/boto3/awscli do not import (see $log)"
    echo "$want" >"$stamp"
  fi
  exec 8>&-
fi

(( print_path == 0 )) || echo "$VENV"
