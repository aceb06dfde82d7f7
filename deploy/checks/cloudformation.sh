#!/usr/bin/env bash
# Lints every CloudFormation template under deploy/aws with cfn-lint (errors and warnings fail;
# informational notes are printed). The test run does the same (tests/api/aws_registration.rs).
#
#   deploy/checks/cloudformation.sh
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$HERE/../.." && pwd)"
VENV="${ROLEPORT_CHECKS_VENV:-$REPO_ROOT/.run/venv-checks}"
bash "$HERE/install.sh"
shopt -s nullglob
templates=("$REPO_ROOT"/deploy/aws/*.yaml)
(( ${#templates[@]} )) || { echo "cloudformation: no templates under deploy/aws"; exit 1; }
for template in "${templates[@]}"; do
  "$VENV/bin/cfn-lint" --non-zero-exit-code warning --format parseable "$template"
  echo "cloudformation: $(basename "$template"): cfn-lint clean"
done
