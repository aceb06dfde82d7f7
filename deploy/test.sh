#!/usr/bin/env bash
# Runs every test: installs what is missing, starts the peers on loopback, runs the whole suite,
# stops what it started. The test runner's summary is the last thing printed.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

bash deploy/install-deps.sh
command -v cargo >/dev/null || { echo "test: cargo is required (rustup)"; exit 1; }
if ! cargo nextest --version >/dev/null 2>&1; then
  echo "test: installing cargo-nextest"
  cargo install --locked cargo-nextest >/dev/null
fi
bash deploy/postgres.sh

STATE="$ROOT/.run/test-peers"
LDAP_PORT=${ROLEPORT_TEST_LDAP_PORT:-38900}
IDP_PORT=${ROLEPORT_TEST_IDP_PORT:-38901}
mkdir -p "$STATE"
cleanup() { bash deploy/peers/stop.sh "$STATE" >/dev/null 2>&1 || true; }
trap cleanup EXIT
bash deploy/peers/stop.sh "$STATE" >/dev/null 2>&1 || true
bash deploy/peers/start.sh "$STATE" "$LDAP_PORT" "$IDP_PORT"
export ROLEPORT_TEST_PEERS_ENV="$STATE/peers.env"
export ROLEPORT_TEST_DATABASE_URL="${ROLEPORT_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"

cargo fmt --check
cargo clippy --all-targets --quiet -- -D warnings
set +e
cargo nextest run --no-fail-fast --test-threads 4 2>&1 | tee "$ROOT/.run/nextest.log"
status=${PIPESTATUS[0]}
set -e
cleanup
trap - EXIT
# The summary line last, whatever the cleanup printed.
grep -E '^\s+Summary \[' "$ROOT/.run/nextest.log" | tail -1 | sed 's/^ *//'
exit "$status"
