#!/usr/bin/env bash
# Runs every test: installs what is missing, starts the peers on loopback, runs the whole suite,
# stops what it started. The test runner's summary is the last thing printed.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

bash deploy/install-deps.sh
bash deploy/browser-deps.sh
# rustup puts cargo in ~/.cargo/bin, which non-login shells (CI) may not have on PATH.
if ! command -v cargo >/dev/null && [[ -f "$HOME/.cargo/env" ]]; then source "$HOME/.cargo/env"; fi
command -v cargo >/dev/null || { echo "test: cargo is required (rustup)"; exit 1; }
if ! cargo nextest --version >/dev/null 2>&1; then
  echo "test: installing cargo-nextest"
  cargo install --locked cargo-nextest >/dev/null
fi
bash deploy/postgres.sh
bash deploy/peers/moto/install.sh
bash deploy/checks/install.sh

# Overridable so a second run (another checkout, another engineer's peers) does not collide. The
# defaults sit below Linux's ephemeral range (32768-60999), where an outgoing connection could hold them.
STATE=${ROLEPORT_TEST_STATE:-$ROOT/.run/test-peers}
LDAP_PORT=${ROLEPORT_TEST_LDAP_PORT:-18900}
IDP_PORT=${ROLEPORT_TEST_IDP_PORT:-18901}
MOTO_PORT=${ROLEPORT_TEST_MOTO_PORT:-18902}
OIDC_PORT=${ROLEPORT_TEST_OIDC_PORT:-18903}
# The Samba AD DC's LDAP ports are fixed (389/636): only its SimpleSAMLphp port is chosen.
SAMBA_IDP_PORT=${ROLEPORT_TEST_SAMBA_IDP_PORT:-18904}
# Roleport reads every ROLEPORT_* variable as a setting: keep these knobs away from the binary.
unset ROLEPORT_TEST_STATE ROLEPORT_TEST_LDAP_PORT ROLEPORT_TEST_IDP_PORT ROLEPORT_TEST_MOTO_PORT ROLEPORT_TEST_OIDC_PORT \
  ROLEPORT_TEST_SAMBA_IDP_PORT
mkdir -p "$STATE"
cleanup() {
  bash deploy/peers/stop.sh "$STATE" >/dev/null 2>&1 || true
  bash deploy/peers/moto/stop.sh "$STATE" >/dev/null 2>&1 || true
  bash deploy/peers/oidc/stop.sh "$STATE" >/dev/null 2>&1 || true
  bash deploy/peers/samba/stop.sh "$STATE/samba" >/dev/null 2>&1 || true
}
trap cleanup EXIT
cleanup
bash deploy/peers/start.sh "$STATE" "$LDAP_PORT" "$IDP_PORT"
bash deploy/peers/moto/start.sh "$STATE" "$MOTO_PORT" >/dev/null
bash deploy/peers/oidc/install.sh
ALLOW_TEST_ENDPOINTS=1 bash deploy/peers/oidc/start.sh "$STATE" "$OIDC_PORT"
bash deploy/peers/samba/start.sh "$STATE/samba" "$SAMBA_IDP_PORT"
export ROLEPORT_TEST_PEERS_ENV="$STATE/peers.env"
export ROLEPORT_TEST_MOTO_ENV="$STATE/moto.env"
export ROLEPORT_TEST_OIDC_ENV="$STATE/oidc.env"
export ROLEPORT_TEST_SAMBA_ENV="$STATE/samba/samba.env"
export ROLEPORT_TEST_DATABASE_URL="${ROLEPORT_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"

# Style and lint failures fail the run, but the tests still run so their summary comes last.
checks=0
# The container image: built from deploy/container/Containerfile (release build; incremental after
# the first run) and run read-only against the local Postgres.
if ! { bash deploy/container/build.sh localhost/roleport:test >/dev/null && bash deploy/container/smoke.sh localhost/roleport:test; }; then
  checks=1; echo "test: the container image failed to build or to run (see above)"
fi
cargo fmt --check || { checks=1; echo "test: cargo fmt --check failed (run cargo fmt)"; }
cargo clippy --workspace --all-targets --quiet -- -D warnings || { checks=1; echo "test: cargo clippy failed"; }
LOG="$STATE/nextest.log"
set +e
cargo nextest run --workspace --no-fail-fast --test-threads 4 2>&1 | tee "$LOG"
status=${PIPESTATUS[0]}
set -e
cleanup
trap - EXIT
((status)) || status=$checks
((checks)) && echo "test: FAILED: cargo fmt --check, cargo clippy or the container image (see above)"
# The summary line last, whatever the cleanup printed.
grep -E '^\s+Summary \[' "$LOG" | tail -1 | sed 's/^ *//'
exit "$status"
