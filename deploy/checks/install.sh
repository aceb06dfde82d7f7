#!/usr/bin/env bash
# Installs what deploy/checks/*.sh need: kubectl (its built-in kustomize renders the overlays) and a
# Python venv with the exact pins of deploy/checks/requirements.txt (kubernetes-validate, checkov,
# cfn-lint).
#
#   deploy/checks/install.sh        # venv at ${ROLEPORT_CHECKS_VENV:-<repo>/.run/venv-checks}
#
# Idempotent: a stamp file holding the requirements' sha256 makes a rerun a no-op. pip's output goes
# to <venv>/install.log and is shown only on failure.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$HERE/../.." && pwd)"
VENV="${ROLEPORT_CHECKS_VENV:-$REPO_ROOT/.run/venv-checks}"
REQ="$HERE/requirements.txt"
die() { echo "checks: $*" >&2; exit 1; }

# kustomize v5 syntax (labels, replicas, patches): kubectl 1.27 or newer. Debian's own
# kubernetes-client is 1.20 (kustomize v2), too old; the `kubectl` package of the Google Cloud apt
# repository these machines carry is current.
kubectl_ok() { command -v kubectl >/dev/null && kubectl kustomize --help >/dev/null 2>&1 &&
  [[ $(kubectl version --client -o json 2>/dev/null | python3 -c 'import json,sys;print(json.load(sys.stdin)["clientVersion"]["minor"].rstrip("+"))' 2>/dev/null || echo 0) -ge 27 ]]; }
if ! kubectl_ok; then
  echo "checks: installing kubectl (apt)"
  policy=/usr/sbin/policy-rc.d
  [[ -e $policy ]] || { printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod +x "$policy"; trap 'rm -f "$policy"' EXIT; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q kubectl >/tmp/roleport-kubectl-install.log 2>&1 ||
    { tail -20 /tmp/roleport-kubectl-install.log >&2; die "could not install kubectl 1.27+ (apt package kubectl)"; }
  kubectl_ok || die "kubectl 1.27+ with kustomize is required"
fi

want=$(sha256sum "$REQ" | cut -d' ' -f1)
stamp="$VENV/.roleport-checks.sha256"
if [[ ! -s $stamp || $(<"$stamp") != "$want" || ! -x $VENV/bin/checkov ]]; then
  mkdir -p "$(dirname "$VENV")"
  exec 8>"$VENV.lock"
  flock -w 600 8 || die "timed out waiting for $VENV.lock"
  [[ -x $VENV/bin/python ]] && "$VENV/bin/python" -c '' 2>/dev/null || { rm -rf "$VENV"; python3 -m venv "$VENV"; }
  echo "checks: installing kubernetes-validate, checkov and cfn-lint into $VENV"
  if ! "$VENV/bin/pip" install --disable-pip-version-check -q -r "$REQ" >"$VENV/install.log" 2>&1; then
    tail -30 "$VENV/install.log" >&2
    die "pip install failed (log: $VENV/install.log)"
  fi
  echo "$want" > "$stamp"
fi
