#!/usr/bin/env bash
# The load harness (tests/api/load_harness.rs): a release build of Roleport on 127.0.0.1:18960
# with a fresh database on the suite's Postgres, real SP-initiated sign-ins fired at its ACS, and
# the same Responses verified side by side by libxmlsec1 in C, node-saml and python3-saml, which
# this script installs under .run/load (gcc + pkg-config xmlsec1, npm, PyPI). Prints the table and
# writes it to .run/load/report.md. Needs the suite's Postgres on 127.0.0.1:5432 (deploy/test.sh
# starts it).
#
#   bash deploy/load/run.sh ["LOADS"]      e.g. "closed:16 open:1000 issue:8"
#
# LOADS: open:RATE (offered sign-ins/s, latency from the schedule), closed:N (N connections) or
# issue:N (N connections asking for credentials, closed loop). Without LOADS: the harness's list,
# which has issue:8. ROLEPORT_TEST_LOAD_COUNT (3000) and ROLEPORT_TEST_LOAD_SECONDS (10) bound
# each load. For an issue load this script starts its own moto (the STS emulator) on
# 127.0.0.1:${ROLEPORT_TEST_LOAD_MOTO_PORT:-18962}, state in .run/load/moto, and stops it on exit:
# a moto of its own, so another suite's calls neither slow it nor count in its CPU.
set -euo pipefail
cd "$(dirname "$0")/../.."
run=.run/load
mkdir -p "$run"

# The same C floor the acs bench builds (one source for both).
gcc -O2 -Wall -o "$run/xmlsec_floor" benches/xmlsec_ref/xmlsec_ref.c $(pkg-config --cflags --libs xmlsec1-openssl)
[[ -d $run/node/node_modules/@node-saml/node-saml ]] ||
  npm install --silent --no-audit --no-fund --prefix "$run/node" @node-saml/node-saml@5 >/dev/null
[[ -x $run/venv/bin/python ]] || python3 -m venv "$run/venv"
"$run/venv/bin/python" -c 'import onelogin.saml2' 2>/dev/null ||
  "$run/venv/bin/pip" install --quiet python3-saml >/dev/null

# ROLEPORT_TEST_LOAD_BIN=/path/to/roleport measures that binary instead (e.g. an earlier commit's
# release build, to compare before and after with the same harness).
if [[ -z ${ROLEPORT_TEST_LOAD_BIN:-} ]]; then
  cargo build --release --bin roleport
  export ROLEPORT_TEST_LOAD_BIN=$PWD/target/release/roleport
fi
[[ -n ${1:-} ]] && export ROLEPORT_TEST_LOAD_SCENARIOS=$1

# Empty: the harness's default list, which has an issue load.
loads=${ROLEPORT_TEST_LOAD_SCENARIOS:-}
if [[ -z $loads || $loads == *issue:* ]]; then
  moto_port=${ROLEPORT_TEST_LOAD_MOTO_PORT:-18962}
  trap 'bash deploy/peers/moto/stop.sh "$run/moto" >/dev/null 2>&1 || true' EXIT
  bash deploy/peers/moto/start.sh "$run/moto" "$moto_port"
  export ROLEPORT_TEST_MOTO_ENV=$PWD/$run/moto/moto.env
fi
# Not exec: the trap stops moto once the run is over.
cargo nextest run --test api --no-capture --test-threads 1 --run-ignored only \
  -E 'test(=load_harness::full_run)'
