#!/usr/bin/env bash
# Makes sure a Postgres answers on 127.0.0.1:5432 for user postgres (trust auth, loopback only).
# Uses the one already running when there is one; otherwise installs and starts Debian's.
set -euo pipefail
if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && psql -h 127.0.0.1 -U postgres -d postgres -Atqc 'select 1' >/dev/null 2>&1; then
  exit 0
fi
if ! command -v pg_ctlcluster >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d
  apt-get update -qq && apt-get install -y -qq --no-install-recommends postgresql postgresql-client >/dev/null
  rm -f /usr/sbin/policy-rc.d
fi
version=$(ls /etc/postgresql | sort -V | tail -1)
conf=/etc/postgresql/$version/main
# Loopback only, trust for the local test user: this cluster holds nothing but test data.
sed -i "s/^#\?listen_addresses.*/listen_addresses = '127.0.0.1'/" "$conf/postgresql.conf"
grep -q 'roleport-trust' "$conf/pg_hba.conf" || sed -i '1i host all all 127.0.0.1/32 trust # roleport-trust' "$conf/pg_hba.conf"
pg_ctlcluster --skip-systemctl-redirect "$version" main start || pg_ctlcluster --skip-systemctl-redirect "$version" main restart
for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
pg_isready -q -h 127.0.0.1 -p 5432
