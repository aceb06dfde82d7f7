#!/usr/bin/env bash
# The long run of the fleet fault scenario (tests/api/fleet.rs): the same faults with every phase
# SCALE times longer (default 6: about a minute of load per fault), then the figures table.
#
#   bash deploy/fleet/soak.sh [SCALE]
#
# Needs the suite's moto (STS): run it where deploy/test.sh's peers are up, with
# ROLEPORT_TEST_MOTO_ENV set as test.sh sets it. Uses ports 18940-18944 on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/../.."
scale=${1:-6}
[[ $scale =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 [SCALE]" >&2; exit 2; }
[[ -n ${ROLEPORT_TEST_MOTO_ENV:-} ]] ||
  { echo "soak.sh: ROLEPORT_TEST_MOTO_ENV is not set (start moto as deploy/test.sh does)" >&2; exit 1; }
export ROLEPORT_TEST_FLEET_SCALE=$scale
cargo nextest run --test api --no-capture --test-threads 1 \
  -E 'test(=fleet::fleet_survives_postgres_restart_replica_kill_and_sts_faults)'
