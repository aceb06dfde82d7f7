#!/usr/bin/env bash
# Installs the OpenID provider peer's npm dependencies (oidc-provider, pinned exactly in
# package.json / package-lock.json) into deploy/peers/oidc/node_modules with `npm ci`.
#
#   deploy/peers/oidc/install.sh
#
# Idempotent and quiet: when node_modules holds a stamp with the sha256 of package-lock.json it does
# nothing (a few ms). Otherwise it runs `npm ci --no-audit --no-fund` (about 5 s with a warm npm
# cache); npm's output goes to deploy/peers/oidc/.install.log and is shown only on failure.
# Concurrent runs are serialised with flock. NODE / NPM select the binaries (default node, npm).
set -euo pipefail

OIDC_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
NODE="${NODE:-node}"
NPM="${NPM:-npm}"

die() { echo "peers: oidc: $*" >&2; exit 1; }

(( $# == 0 )) || { echo "usage: $0" >&2; exit 2; }

want=$(sha256sum "$OIDC_DIR/package-lock.json" | cut -d' ' -f1)
stamp="$OIDC_DIR/node_modules/.roleport-package-lock.sha256"

installed() {
  [[ -s "$stamp" && "$(<"$stamp")" == "$want" && -f "$OIDC_DIR/node_modules/oidc-provider/package.json" ]]
}

installed && exit 0

command -v "$NODE" >/dev/null || die "node not found (Node.js 20.12+ is needed; set NODE=/path/to/node)"
command -v "$NPM" >/dev/null || die "npm not found (set NPM=/path/to/npm)"
# oidc-provider 9 uses crypto.hash (Node 20.12+ / 21.7+); it officially targets Node 22 LTS and
# prints an "Unsupported runtime" warning on Node 20, but works there.
"$NODE" -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=12)?0:1)' ||
  die "Node.js $("$NODE" --version) is too old: oidc-provider 9 needs 20.12 or newer"

exec 8>"$OIDC_DIR/.install.lock"
flock -w 600 8 || die "timed out waiting for the lock on $OIDC_DIR/.install.lock"
if ! installed; then
  log="$OIDC_DIR/.install.log"
  if ! (cd "$OIDC_DIR" && "$NPM" ci --no-audit --no-fund --ignore-scripts --prefer-offline) >"$log" 2>&1; then
    tail -40 "$log" >&2
    die "npm ci failed (full log: $log)"
  fi
  (cd "$OIDC_DIR" && "$NODE" --input-type=module -e 'await import("oidc-provider")') >>"$log" 2>&1 ||
    die "oidc-provider does not load (see $log)"
  echo "$want" >"$stamp"
fi
exec 8>&-
