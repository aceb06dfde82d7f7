#!/usr/bin/env bash
# The Roleport demo, from a fresh Debian machine, in one command:
#
#   bash deploy/demo.sh
#
# Installs what is missing (deploy/install-deps.sh), makes sure Postgres answers, creates the demo
# database, builds Roleport (debug build: a few minutes the first time), starts a private OpenLDAP +
# SimpleSAMLphp pair (deploy/peers), registers Roleport with the IdP, applies migrations, imports
# deploy/demo/rules.yaml and runs Roleport on http://127.0.0.1:8080 in the foreground.
# Ctrl-C stops Roleport and the peers. Safe to run again. Everything listens on 127.0.0.1 only.
#
# Environment (all optional):
#   DATABASE_URL   Postgres URL for the demo database (default postgres://postgres@127.0.0.1:5432/roleport_demo;
#                  when unset, deploy/postgres.sh provides a local Postgres). The database is created if missing.
#   DEMO_LDAP_PORT, DEMO_IDP_PORT   ports of the demo peers (default 38910, 38911).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

say() { echo "demo: $*"; }
die() { echo "demo: $*" >&2; exit 1; }

[[ $EUID -eq 0 ]] || die "run as root: it installs Debian packages and runs private slapd/SimpleSAMLphp instances"

if ! command -v cargo >/dev/null && [[ -f "$HOME/.cargo/env" ]]; then
  # shellcheck disable=SC1091
  source "$HOME/.cargo/env"
fi
command -v cargo >/dev/null || die "cargo is missing. Install Rust with rustup (https://rustup.rs):
  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y && source \"\$HOME/.cargo/env\"
then run: bash deploy/demo.sh"

LISTEN_PORT=8080
PUBLIC_URL="http://127.0.0.1:$LISTEN_PORT"
LDAP_PORT=${DEMO_LDAP_PORT:-38910}
IDP_PORT=${DEMO_IDP_PORT:-38911}
RUN="$ROOT/.run/demo"
PEERS="$ROOT/.run/demo-peers"
CONF="$RUN/roleport.toml"
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/roleport"
mkdir -p "$RUN"

# One demo at a time. Long-lived children never inherit this descriptor (9>&-), so a killed
# script does not leave the lock held.
exec 9>"$RUN/.lock"
flock -n 9 || die "another deploy/demo.sh is running; press Ctrl-C there first"

ROLEPORT_PID=
stopped=0
cleanup() {
  ((stopped)) && return 0
  stopped=1
  if [[ -n "$ROLEPORT_PID" ]] && kill -0 "$ROLEPORT_PID" 2>/dev/null; then
    say "stopping Roleport"
    kill -TERM "$ROLEPORT_PID" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$ROLEPORT_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$ROLEPORT_PID" 2>/dev/null || true
    wait "$ROLEPORT_PID" 2>/dev/null || true
  fi
  rm -f "$RUN/roleport.pid"
  if [[ -d "$PEERS" ]]; then
    say "stopping OpenLDAP and SimpleSAMLphp"
    bash deploy/peers/stop.sh "$PEERS" 9>&- || true
  fi
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM

# A Roleport left behind by a demo that was killed outright: stop it (only that pid, only if it is ours).
if [[ -s "$RUN/roleport.pid" ]]; then
  old=$(<"$RUN/roleport.pid")
  if [[ "$old" =~ ^[0-9]+$ && "$(cat "/proc/$old/comm" 2>/dev/null)" == roleport ]]; then
    say "stopping a Roleport left over from an earlier demo (pid $old)"
    kill -TERM "$old" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$old" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$RUN/roleport.pid"
fi

say "checking system packages (deploy/install-deps.sh)"
bash deploy/install-deps.sh

# --- Postgres and the demo database -------------------------------------------------------------
if [[ -n "${DATABASE_URL:-}" ]]; then
  DB_URL=$DATABASE_URL
else
  DB_URL="postgres://postgres@127.0.0.1:5432/roleport_demo"
  say "making sure Postgres answers on 127.0.0.1:5432 (deploy/postgres.sh)"
  bash deploy/postgres.sh
fi
if ! command -v psql >/dev/null; then
  say "installing postgresql-client"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql-client >/dev/null
fi
# Split the URL into the database name and a URL of the server's maintenance database.
mapfile -t db_parts < <(python3 - "$DB_URL" <<'PY'
import sys
from urllib.parse import urlsplit, urlunsplit
u = urlsplit(sys.argv[1])
print(u.path.lstrip("/"))
print(urlunsplit((u.scheme, u.netloc, "/postgres", u.query, "")))
print(f"{u.hostname or 'localhost'}:{u.port or 5432}")
PY
)
DB_NAME=${db_parts[0]:-}
ADMIN_URL=${db_parts[1]:-}
DB_SERVER=${db_parts[2]:-}
[[ "$DB_NAME" =~ ^[A-Za-z0-9_]+$ ]] || die "DATABASE_URL must name a database of letters, digits and _ (got '${DB_NAME}')"
psql "$ADMIN_URL" -Atqc 'select 1' >/dev/null || die "cannot reach Postgres at $DB_SERVER"
if [[ -z "$(psql "$ADMIN_URL" -Atqc "select 1 from pg_database where datname = '$DB_NAME'")" ]]; then
  say "creating database $DB_NAME on $DB_SERVER"
  psql "$ADMIN_URL" -qc "CREATE DATABASE \"$DB_NAME\"" >/dev/null
fi
# The settings file carries no password: the URL reaches Roleport through its env override.
export ROLEPORT_DATABASE__URL="$DB_URL"

# --- Build --------------------------------------------------------------------------------------
say "building Roleport (cargo build; the first build takes several minutes)"
cargo build --bin roleport 9>&-

# --- Peers: OpenLDAP + SimpleSAMLphp ------------------------------------------------------------
if (exec 3<>"/dev/tcp/127.0.0.1/$LISTEN_PORT") 2>/dev/null; then
  die "127.0.0.1:$LISTEN_PORT is already in use; stop what listens there (ss -ltnp 'sport = :$LISTEN_PORT') and run again"
fi
say "starting OpenLDAP (127.0.0.1:$LDAP_PORT) and SimpleSAMLphp (127.0.0.1:$IDP_PORT)"
bash deploy/peers/start.sh "$PEERS" "$LDAP_PORT" "$IDP_PORT" 9>&-
peer() { sed -n "s/^$1=//p" "$PEERS/peers.env"; }
IDP_METADATA_URL=$(peer IDP_METADATA_URL)
SP_REMOTE_DIR=$(peer SP_REMOTE_DIR)
[[ -n "$IDP_METADATA_URL" && -d "$SP_REMOTE_DIR" ]] || die "peers.env is incomplete: $PEERS/peers.env"

# Register Roleport's SP with SimpleSAMLphp (read on every request; publish atomically).
cat >"$SP_REMOTE_DIR/.roleport-demo.tmp" <<JSON
{
  "entity_id": "$PUBLIC_URL/saml/metadata",
  "acs_url": "$PUBLIC_URL/saml/acs",
  "allow_idp_initiated": true,
  "sign_response": true,
  "sign_assertion": true
}
JSON
mv "$SP_REMOTE_DIR/.roleport-demo.tmp" "$SP_REMOTE_DIR/roleport-demo.json"

# ROLEPORT_* overrides cannot reach into the [[idp]] array: render the settings with the peers' URL.
sed -E "s|^metadata_url = \".*\"$|metadata_url = \"$IDP_METADATA_URL\"|" deploy/demo/roleport.toml >"$CONF.tmp"
grep -qF "metadata_url = \"$IDP_METADATA_URL\"" "$CONF.tmp" || die "could not set metadata_url in $CONF"
mv "$CONF.tmp" "$CONF"

# --- Roleport -----------------------------------------------------------------------------------
"$BIN" --config "$CONF" migrate 9>&-
"$BIN" --config "$CONF" rules import deploy/demo/rules.yaml 9>&-

say "starting Roleport on $PUBLIC_URL (logs below, JSON lines)"
"$BIN" --config "$CONF" serve 9>&- &
ROLEPORT_PID=$!
echo "$ROLEPORT_PID" >"$RUN/roleport.pid"
for _ in $(seq 1 300); do
  curl -fsS -o /dev/null "$PUBLIC_URL/healthz" 2>/dev/null && break
  kill -0 "$ROLEPORT_PID" 2>/dev/null || { status=0; wait "$ROLEPORT_PID" || status=$?; die "Roleport exited during start-up (status $status); see its log above"; }
  sleep 0.2
done
curl -fsS -o /dev/null "$PUBLIC_URL/healthz" || die "Roleport does not answer on $PUBLIC_URL/healthz"

cat <<BANNER

  ==================================================================
   Roleport demo is running.  Open  $PUBLIC_URL/login
   Sign in at the demo IdP as:
     alice / alicepw   groups aws-admins, aws-readonly -> Admin + ReadOnly
     bob   / bobpw     group  aws-readonly             -> ReadOnly
     carol / carolpw   no group                         -> no roles
   Rules: deploy/demo/rules.yaml    Settings: .run/demo/roleport.toml
   Press Ctrl-C to stop Roleport, OpenLDAP and SimpleSAMLphp.
  ==================================================================

BANNER

status=0
wait "$ROLEPORT_PID" || status=$?
ROLEPORT_PID=
say "Roleport exited (status $status)"
exit "$status"
