#!/usr/bin/env bash
# Renders every overlay under deploy/kubernetes/overlays with kustomize and checks the result:
# kubernetes-validate (schemas of the Kubernetes version below, strict: unknown fields are errors)
# and the checkov policy scanner (every finding fails; a justified exception must be written in
# the manifest as a `checkov.io/skip<N>` annotation with its reason).
#
#   deploy/checks/kubernetes.sh [OUT_DIR]    # rendered overlays kept in OUT_DIR (default: a temp dir)
#
# Exit status 0 only when every overlay renders, validates and scans clean.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$HERE/../.." && pwd)"
VENV="${ROLEPORT_CHECKS_VENV:-$REPO_ROOT/.run/venv-checks}"
K8S_VERSION=${ROLEPORT_CHECKS_K8S_VERSION:-1.30.0}
OUT=${1:-$(mktemp -d)}
mkdir -p "$OUT"
bash "$HERE/install.sh"

failed=0
for overlay in "$REPO_ROOT"/deploy/kubernetes/overlays/*/; do
  name=$(basename "$overlay")
  rendered="$OUT/$name.yaml"
  "$VENV/bin/kubectl" kustomize "$overlay" > "$rendered" || { echo "kubernetes: $name: kustomize failed"; failed=1; continue; }
  if ! "$VENV/bin/kubernetes-validate" --strict --quiet -k "$K8S_VERSION" "$rendered" >"$OUT/$name.validate.log" 2>&1; then
    echo "kubernetes: $name: schema validation failed:"; cat "$OUT/$name.validate.log"; failed=1
  fi
  # No network: checkov's guideline download is skipped. Its JSON report is read for the verdict.
  BC_SKIP_MAPPING=TRUE "$VENV/bin/checkov" --quiet --skip-download --framework kubernetes -f "$rendered" \
    -o json >"$OUT/$name.checkov.json" 2>"$OUT/$name.checkov.log" || true
  if ! summary=$("$VENV/bin/python" - "$OUT/$name.checkov.json" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
s = report["summary"]
for check in report.get("results", {}).get("failed_checks", []):
    print(f"  {check['check_id']} {check['check_name']}: {check['resource']}", file=sys.stderr)
print(f"{s['passed']} passed, {s['failed']} failed, {s['skipped']} skipped, {s['parsing_errors']} parsing errors")
sys.exit(1 if s["failed"] or s["parsing_errors"] or s["passed"] == 0 else 0)
PY
  ); then
    echo "kubernetes: $name: checkov findings (above; log: $OUT/$name.checkov.log)"; failed=1
  fi
  echo "kubernetes: $name: $(grep -c '^kind:' "$rendered") objects; checkov: ${summary:-no report}"
done
exit "$failed"
