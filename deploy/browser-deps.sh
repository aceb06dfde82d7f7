#!/usr/bin/env bash
# Installs, idempotently, what the browser tests (tests/api/browser.rs) need: Debian's Chromium
# (deploy/install-deps.sh installs it from apt; no browser is ever downloaded) and the pinned
# playwright-core and axe-core (tests/browser/a11y.mjs) in tests/browser/node_modules, from tests/browser/package-lock.json.
# `npm ci` runs only when node_modules is missing or was installed from another lock file.
set -euo pipefail
cd "$(dirname "$0")/.."

CHROMIUM=/usr/bin/chromium
[[ -x $CHROMIUM ]] || { echo "browser-deps: $CHROMIUM is missing: run deploy/install-deps.sh (apt package chromium)" >&2; exit 1; }
command -v node >/dev/null && command -v npm >/dev/null || {
  echo "browser-deps: node and npm are required (Node.js 20)" >&2; exit 1; }

DIR=tests/browser
STAMP="$DIR/node_modules/.roleport-lock.sha256"
want=$(sha256sum "$DIR/package-lock.json" | cut -d' ' -f1)
have=$(cat "$STAMP" 2>/dev/null || true)
if [[ $want != "$have" || ! -f $DIR/node_modules/playwright-core/package.json || ! -f $DIR/node_modules/axe-core/axe.min.js ]]; then
  echo "browser-deps: installing tests/browser/node_modules (npm ci)"
  # Never let an install script fetch a browser build: the machine's Chromium is the one used.
  if ! (cd "$DIR" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error >/tmp/roleport-npm-ci.log 2>&1); then
    tail -30 /tmp/roleport-npm-ci.log >&2
    exit 1
  fi
  echo "$want" > "$STAMP"
fi
echo "browser-deps: chromium, playwright-core and axe-core present"
