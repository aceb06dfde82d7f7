#!/usr/bin/env bash
# Installs, idempotently, everything Roleport's build, demo and tests need on a Debian machine.
# Package installs must not start system services (slapd, apache2, samba, haproxy, postgresql): we
# run private instances on our own ports, so a policy-rc.d that refuses every start is in place
# while apt runs.
set -euo pipefail

APT_PACKAGES=(
  # building samael (bindgen + libxmlsec1) and openssl
  pkg-config libssl-dev libxml2-dev libxmlsec1-dev libxmlsec1-openssl libclang-dev clang
  # peers: OpenLDAP, SimpleSAMLphp (PHP built-in server), xmlsec1 for the strict checker
  slapd ldap-utils simplesamlphp php-cli php-ldap php-xml php-mbstring xmlsec1
  # peer: Samba as an Active Directory domain controller (LDAP only, loopback)
  samba samba-ad-dc samba-ad-provision samba-dsdb-modules
  # deploy/peers: key generation (openssl), smoke-test helper (python3)
  openssl python3 python3-venv
  # browser tests
  chromium chromium-driver
  # fleet fault tests (deploy/fleet): the load balancer in front of two replicas, and Postgres's
  # server binaries for the private cluster it restarts (present even where the suite's own
  # Postgres runs elsewhere; Debian's cluster is not started here, see deploy/postgres.sh)
  haproxy postgresql
  curl ca-certificates
)
# Node.js drives Chromium in the browser tests; keep a Node the machine already has.
command -v node >/dev/null && command -v npm >/dev/null || APT_PACKAGES+=(nodejs npm)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  had_policy=0
  if [[ -e /usr/sbin/policy-rc.d ]]; then had_policy=1; cp /usr/sbin/policy-rc.d /tmp/policy-rc.d.roleport-saved; fi
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  restore() {
    if ((had_policy)); then mv /tmp/policy-rc.d.roleport-saved /usr/sbin/policy-rc.d; else rm -f /usr/sbin/policy-rc.d; fi
  }
  trap restore EXIT
  apt-get update -qq
  # slapd asks debconf questions; the system instance is never used, so any answer will do.
  echo "slapd slapd/no_configuration boolean true" | debconf-set-selections
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/tmp/roleport-apt.log 2>&1 || {
    tail -50 /tmp/roleport-apt.log; exit 1; }
  restore
  trap - EXIT
  # Some packages start services despite policy-rc.d on non-systemd machines; stop the system
  # ones by their own pid files, never by name: private peers (the suite's, the demo's, another
  # checkout's) run the same programs.
  for pidfile in /run/slapd/slapd.pid /run/apache2/apache2.pid /run/samba/samba.pid /run/haproxy.pid; do
    [[ -s $pidfile ]] && kill "$(cat "$pidfile")" 2>/dev/null || true
  done
fi
echo "install-deps: system packages present"

# The OIDC peer (npm oidc-provider 9) needs Node >= 20.12 (`crypto.hash`); Debian 12's apt
# nodejs is 18. This machine reaches only apt, PyPI, npm and crates.io, so no NodeSource repo:
# the npm registry publishes the official Node binaries as `node-linux-<arch>` packages (what
# the `node` wrapper package installs), so Debian's npm fetches a pinned Node 20 from there into
# /opt/roleport-node and links it into /usr/local/bin, ahead of /usr/bin on PATH.
NODE_PIN=20.20.2
node_ok() {
  command -v node >/dev/null 2>&1 &&
    node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>20||(a==20&&b>=12)?0:1)'
}
if ! node_ok; then
  case "$(uname -m)" in
    x86_64) node_arch=x64 ;;
    aarch64) node_arch=arm64 ;;
    *) echo "install-deps: no Node binary package for $(uname -m)"; exit 1 ;;
  esac
  echo "install-deps: installing Node $NODE_PIN from the npm registry (node-linux-$node_arch)"
  mkdir -p /opt/roleport-node
  npm install --prefix /opt/roleport-node --no-audit --no-fund --ignore-scripts \
    "node-linux-$node_arch@$NODE_PIN" >/tmp/roleport-node.log 2>&1 || {
    tail -20 /tmp/roleport-node.log; exit 1; }
  ln -sf "/opt/roleport-node/node_modules/node-linux-$node_arch/bin/node" /usr/local/bin/node
  hash -r
  node_ok || { echo "install-deps: Node $NODE_PIN did not install"; exit 1; }
fi
echo "install-deps: node $(node --version)"
