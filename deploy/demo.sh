#!/usr/bin/env bash
# The Roleport demo, from a fresh Debian machine, in one command:
#
#   bash deploy/demo.sh
#
# Installs what is missing (deploy/install-deps.sh, and moto's venv at .run/venv), makes sure
# Postgres answers, creates the demo database, builds Roleport (debug build: a few minutes the first
# time), generates Roleport's AWS IdP signing key once (.run/demo/aws-idp-*.pem), starts a private
# OpenLDAP + SimpleSAMLphp pair (deploy/peers) and the OpenID provider (deploy/peers/oidc, npm
# oidc-provider, the same users), registers Roleport with both (SAML SP; OIDC confidential client
# `roleport-demo` with a secret generated once into .run/demo/oidc-client-secret), applies migrations,
# imports deploy/demo/rules.yaml and runs Roleport on http://127.0.0.1:8080 in the foreground. Then
# it starts the local "AWS": moto's STS emulator (deploy/peers/moto) with Roleport's
# /aws/saml-metadata.xml registered as the SAML provider `roleport`, and deploy/demo/federation.py,
# a stand-in for AWS's console sign-in endpoint.
# Ctrl-C stops all of it. Safe to run again. Everything listens on 127.0.0.1 only.
#
# Environment (all optional):
#   DATABASE_URL   Postgres URL for the demo database (default postgres://postgres@127.0.0.1:5432/roleport_demo;
#                  when unset, deploy/postgres.sh provides a local Postgres). The database is created if missing.
#   DEMO_LDAP_PORT, DEMO_IDP_PORT   ports of the demo peers (default 18910, 18911).
#   DEMO_MOTO_PORT, DEMO_FEDERATION_PORT   the STS emulator and the sign-in stand-in (default 18912, 18913).
#   DEMO_OIDC_PORT the OpenID provider (default 18914; needs Node.js 20.12+ and npm).
#   DEMO_DIRECTORY=samba   also run an Active Directory: Samba's AD DC (deploy/peers/samba; LDAP on
#                  127.0.0.1:389/636, fixed) with SimpleSAMLphp in front of it (DEMO_SAMBA_IDP_PORT,
#                  default 18915), as a third IdP `demo-ad` whose nested groups Roleport resolves
#                  from the directory ([idp.directory]).
#   ROLEPORT_VENV  moto's venv (default .run/venv; deploy/peers/moto/install.sh creates it).
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
# deploy/demo/roleport.toml [metrics] listen: Prometheus metrics, off the public listener.
METRICS_PORT=9464
PUBLIC_URL="http://127.0.0.1:$LISTEN_PORT"
LDAP_PORT=${DEMO_LDAP_PORT:-18910}
IDP_PORT=${DEMO_IDP_PORT:-18911}
MOTO_PORT=${DEMO_MOTO_PORT:-18912}
FED_PORT=${DEMO_FEDERATION_PORT:-18913}
OIDC_PORT=${DEMO_OIDC_PORT:-18914}
SAMBA_IDP_PORT=${DEMO_SAMBA_IDP_PORT:-18915}
DIRECTORY=${DEMO_DIRECTORY:-openldap}
case "$DIRECTORY" in
  openldap | samba) ;;
  *) echo "demo: DEMO_DIRECTORY must be openldap (default) or samba, not '$DIRECTORY'" >&2; exit 1 ;;
esac
MOTO_URL="http://127.0.0.1:$MOTO_PORT"
FED_URL="http://127.0.0.1:$FED_PORT"
VENV=${ROLEPORT_VENV:-$ROOT/.run/venv}
# Roleport reads every other ROLEPORT_* variable as a setting: only moto's scripts get this one.
unset ROLEPORT_VENV
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
FED_PID=
stopped=0
# Stops one child we started: TERM, up to 10 s, then KILL.
stop_child() { # PID
  kill -TERM "$1" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
cleanup() {
  ((stopped)) && return 0
  stopped=1
  if [[ -n "$ROLEPORT_PID" ]] && kill -0 "$ROLEPORT_PID" 2>/dev/null; then
    say "stopping Roleport"
    stop_child "$ROLEPORT_PID"
  fi
  rm -f "$RUN/roleport.pid"
  if [[ -n "$FED_PID" ]] && kill -0 "$FED_PID" 2>/dev/null; then
    say "stopping the sign-in stand-in (federation.py)"
    stop_child "$FED_PID"
  fi
  rm -f "$RUN/federation.pid"
  if [[ -d "$PEERS" ]]; then
    say "stopping moto, the OpenID provider, OpenLDAP and SimpleSAMLphp"
    ROLEPORT_VENV=$VENV bash deploy/peers/moto/stop.sh "$PEERS" 9>&- || true
    bash deploy/peers/oidc/stop.sh "$PEERS" 9>&- || true
    bash deploy/peers/stop.sh "$PEERS" 9>&- || true
    if [[ -d "$PEERS/samba" ]]; then
      say "stopping Samba and its SimpleSAMLphp"
      bash deploy/peers/samba/stop.sh "$PEERS/samba" 9>&- || true
    fi
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
# The same for the sign-in stand-in (a python running deploy/demo/federation.py).
if [[ -s "$RUN/federation.pid" ]]; then
  old=$(<"$RUN/federation.pid")
  if [[ "$old" =~ ^[0-9]+$ ]] && tr '\0' ' ' <"/proc/$old/cmdline" 2>/dev/null | grep -qF "deploy/demo/federation.py"; then
    say "stopping a federation.py left over from an earlier demo (pid $old)"
    kill -TERM "$old" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$old" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$RUN/federation.pid"
fi

say "checking system packages (deploy/install-deps.sh)"
bash deploy/install-deps.sh
# moto's venv needs the venv module (Debian ships it apart from python3).
if ! "${PYTHON:-python3}" -c 'import ensurepip, venv' 2>/dev/null; then
  say "installing python3-venv"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
fi
say "checking the STS emulator's venv (deploy/peers/moto/install.sh; about a minute the first time)"
ROLEPORT_VENV=$VENV bash deploy/peers/moto/install.sh 9>&-

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

# --- Roleport's AWS IdP signing key (generated once) ---------------------------------------------
AWS_KEY="$RUN/aws-idp-key.pem"
AWS_CERT="$RUN/aws-idp-cert.pem"
if [[ ! -s "$AWS_KEY" || ! -s "$AWS_CERT" ]]; then
  say "generating Roleport's AWS IdP signing key ($AWS_KEY)"
  (umask 077 && openssl req -x509 -newkey rsa:2048 -sha256 -nodes -days 3650 \
     -subj "/CN=Roleport demo AWS IdP" -keyout "$AWS_KEY.tmp" -out "$AWS_CERT.tmp" 2>/dev/null) ||
    die "openssl could not generate the signing key"
  chmod 644 "$AWS_CERT.tmp"
  mv "$AWS_CERT.tmp" "$AWS_CERT"
  mv "$AWS_KEY.tmp" "$AWS_KEY"
fi

# --- The audit chain's HMAC key (generated once; never in the database or a committed file) ----
AUDIT_KEYS="$RUN/audit-keys"
if [[ ! -s "$AUDIT_KEYS" ]]; then
  say "generating the audit chain's key ($AUDIT_KEYS)"
  (umask 077 && printf 'demo-1 %s\n' "$(openssl rand -base64 32)" >"$AUDIT_KEYS.tmp") ||
    die "openssl could not generate the audit key"
  mv "$AUDIT_KEYS.tmp" "$AUDIT_KEYS"
fi

# --- The key that seals kept OIDC ID tokens (generated once; never in the database) ------------
SEALING_KEYS="$RUN/sealing-keys"
if [[ ! -s "$SEALING_KEYS" ]]; then
  say "generating the key that seals kept ID tokens ($SEALING_KEYS)"
  (umask 077 && printf 'demo-seal-1 %s\n' "$(openssl rand -base64 32)" >"$SEALING_KEYS.tmp") ||
    die "openssl could not generate the sealing key"
  mv "$SEALING_KEYS.tmp" "$SEALING_KEYS"
fi

# --- Peers: OpenLDAP + SimpleSAMLphp ------------------------------------------------------------
for port in "$LISTEN_PORT" "$METRICS_PORT" "$FED_PORT"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    die "127.0.0.1:$port is already in use; stop what listens there (ss -ltnp 'sport = :$port') and run again"
  fi
done
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

# --- Peer: the OpenID provider (npm oidc-provider; same users, passwords and groups as LDAP) -------
# No test endpoints (key rotation etc.) in the demo. Every start gives new signing keys; Roleport
# fetches them by discovery.
command -v node >/dev/null && command -v npm >/dev/null ||
  die "node and npm are needed for the demo OpenID provider (Node.js 20.12 or newer; see deploy/peers/oidc/README.md)"
say "starting the OpenID provider (127.0.0.1:$OIDC_PORT; deploy/peers/oidc)"
ALLOW_TEST_ENDPOINTS=0 bash deploy/peers/oidc/start.sh "$PEERS" "$OIDC_PORT" 9>&- ||
  die "the OpenID provider did not start (log: $PEERS/oidc/server.log)"
oidc_peer() { sed -n "s/^$1=//p" "$PEERS/oidc.env"; }
OIDC_ISSUER=$(oidc_peer OIDC_ISSUER)
OIDC_CLIENTS_DIR=$(oidc_peer OIDC_CLIENTS_DIR)
[[ -n "$OIDC_ISSUER" && -n "$OIDC_CLIENTS_DIR" ]] || die "oidc.env is incomplete: $PEERS/oidc.env"

# Roleport's client secret at the provider: generated once, kept in .run/demo (git-ignored), given
# to Roleport through client_secret_file; never in a committed file.
OIDC_SECRET_FILE="$RUN/oidc-client-secret"
if [[ ! -s "$OIDC_SECRET_FILE" ]]; then
  say "generating Roleport's OIDC client secret ($OIDC_SECRET_FILE)"
  (umask 077 && openssl rand -hex 32 >"$OIDC_SECRET_FILE.tmp") || die "openssl could not generate the client secret"
  mv "$OIDC_SECRET_FILE.tmp" "$OIDC_SECRET_FILE"
fi
# Register Roleport as a confidential client (read on every lookup; publish atomically, 0600).
mkdir -p "$OIDC_CLIENTS_DIR"
(umask 077 && python3 - "$OIDC_SECRET_FILE" "$PUBLIC_URL/oidc/callback" >"$OIDC_CLIENTS_DIR/.roleport-demo.json.tmp" <<'CLIENT'
import json, sys
secret = open(sys.argv[1]).read().strip()
print(json.dumps({
    "comment": "written by deploy/demo.sh",
    "client_id": "roleport-demo",
    "client_secret": secret,
    "redirect_uris": [sys.argv[2]],
    "id_token_signed_response_alg": "RS256",
}))
CLIENT
) || die "could not write the OIDC client registration"
mv "$OIDC_CLIENTS_DIR/.roleport-demo.json.tmp" "$OIDC_CLIENTS_DIR/roleport-demo.json"

# --- DEMO_DIRECTORY=samba: Samba's AD DC with SimpleSAMLphp in front of it -------------------------
if [[ "$DIRECTORY" == samba ]]; then
  say "starting Samba's AD DC (127.0.0.1:389/636) and its SimpleSAMLphp (127.0.0.1:$SAMBA_IDP_PORT)"
  bash deploy/peers/samba/start.sh "$PEERS/samba" "$SAMBA_IDP_PORT" 9>&- ||
    die "the Samba peer did not start (see $PEERS/samba)"
  samba_peer() { sed -n "s/^$1=//p" "$PEERS/samba/samba.env"; }
  SAMBA_SP_DIR=$(samba_peer SP_REMOTE_DIR)
  cat >"$SAMBA_SP_DIR/.roleport-demo.tmp" <<JSON
{ "entity_id": "$PUBLIC_URL/saml/metadata", "acs_url": "$PUBLIC_URL/saml/acs", "allow_idp_initiated": false }
JSON
  mv "$SAMBA_SP_DIR/.roleport-demo.tmp" "$SAMBA_SP_DIR/roleport-demo.json"
  # The bind password reaches Roleport as a file, never in the settings.
  (umask 077 && samba_peer SAMBA_BIND_PW >"$RUN/samba-bind-password")
fi

# ROLEPORT_* overrides cannot reach into the [[idp]] array: render the settings with the peers' URL,
# the local AWS endpoints and the signing key's absolute paths (one line each, or stop).
python3 - deploy/demo/roleport.toml "$CONF.tmp" "$IDP_METADATA_URL" "$MOTO_URL" "$FED_URL" "$AWS_KEY" "$AWS_CERT" \
  "$OIDC_ISSUER" "$OIDC_SECRET_FILE" "$AUDIT_KEYS" "$SEALING_KEYS" <<'RENDER' ||
import json, re, sys
src, dst, idp, sts, fed, key, cert, issuer, secret_file, audit_keys, sealing_keys = sys.argv[1:]
text = open(src).read()
q = json.dumps  # a TOML basic string is a JSON string for these values
for pattern, line in [
    (r'^metadata_url = ".*"$', f"metadata_url = {q(idp)}"),
    (r"^signing_keys = .*$", f"signing_keys = [{{ key_file = {q(key)}, cert_file = {q(cert)} }}]"),
    (r'^sts = ".*"$', f"sts = {q(sts)}"),
    (r'^federation = ".*"$', f"federation = {q(fed + '/federation')}"),
    (r'^console = ".*"$', f"console = {q(fed + '/console/')}"),
    (r'^issuer = ".*"$', f"issuer = {q(issuer)}"),
    (r'^client_secret_file = ".*"$', f"client_secret_file = {q(secret_file)}"),
    (r'^key_file = ".*audit-keys"$', f"key_file = {q(audit_keys)}"),
    (r'^key_file = ".*sealing-keys"$', f"key_file = {q(sealing_keys)}"),
]:
    text, n = re.subn(pattern, lambda _m: line, text, flags=re.M)
    if n != 1:
        sys.exit(f"demo: expected one line matching {pattern} in {src}, found {n}")
open(dst, "w").write(text)
RENDER
  die "could not render $CONF from deploy/demo/roleport.toml"
if [[ "$DIRECTORY" == samba ]]; then
  # A third IdP, appended (TOML allows [[idp]] after other tables); values as JSON strings.
  python3 - "$PEERS/samba/samba.env" "$RUN/samba-bind-password" >>"$CONF.tmp" <<'AD' ||
import json, sys
env = dict(l.split("=", 1) for l in open(sys.argv[1]).read().splitlines() if "=" in l and not l.startswith("#"))
q = json.dumps
print(f'''
# DEMO_DIRECTORY=samba (added by deploy/demo.sh): SimpleSAMLphp on Samba's AD DC.
[[idp]]
id = "demo-ad"
kind = "saml"
display_name = "Demo Active Directory (SimpleSAMLphp on Samba AD DC)"
metadata_url = {q(env["IDP_METADATA_URL"])}
attributes.subject = "uid"
# "Token-Groups - Qualified by Domain Name" style: EXAMPLE\\name, direct memberships only.
attributes.groups = ["http://schemas.microsoft.com/ws/2008/06/identity/claims/groups"]

[idp.directory]
kind = "ad"
url = {q(env["SAMBA_LDAPS_URL"])}
ca_file = {q(env["SAMBA_CA_FILE"])}
base_dn = {q(env["SAMBA_BASE_DN"])}
bind_dn = {q(env["SAMBA_BIND_DN"])}
bind_password_file = {q(sys.argv[2])}
group_format = "qualified"
netbios_domain = {q(env["SAMBA_DOMAIN"])}
''')
AD
    die "could not add the demo-ad IdP to $CONF"
fi
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

# --- The local "AWS": moto (STS/IAM) and the sign-in stand-in ------------------------------------
# moto registers Roleport's own IdP metadata as the SAML provider `roleport` (what an AWS admin does
# once per account). moto runs in its own process group; the trap stops it with moto/stop.sh.
curl -fsS -o "$RUN/aws-idp-metadata.xml" "$PUBLIC_URL/aws/saml-metadata.xml" ||
  die "could not fetch $PUBLIC_URL/aws/saml-metadata.xml"
say "starting the STS emulator moto ($MOTO_URL) with Roleport's metadata as SAML provider roleport"
ROLEPORT_VENV=$VENV bash deploy/peers/moto/start.sh "$PEERS" "$MOTO_PORT" "$RUN/aws-idp-metadata.xml" 9>&- ||
  die "moto did not start (log: $PEERS/moto/moto.log)"

say "starting the sign-in stand-in deploy/demo/federation.py ($FED_URL; log $RUN/federation.log)"
"$VENV/bin/python" "$ROOT/deploy/demo/federation.py" --port "$FED_PORT" --sts "$MOTO_URL" \
  </dev/null >"$RUN/federation.log" 2>&1 9>&- &
FED_PID=$!
echo "$FED_PID" >"$RUN/federation.pid"
for _ in $(seq 1 100); do
  curl -fsS -o /dev/null "$FED_URL/healthz" 2>/dev/null && break
  kill -0 "$FED_PID" 2>/dev/null || { tail -20 "$RUN/federation.log" >&2; die "federation.py exited during start-up"; }
  sleep 0.1
done
curl -fsS -o /dev/null "$FED_URL/healthz" || die "federation.py does not answer on $FED_URL/healthz"

cat <<BANNER

  ==================================================================
   Roleport demo is running.  Open  $PUBLIC_URL/login
   Two IdPs, the same people, the same roles:
     /login/demo-saml  SAML: SimpleSAMLphp on OpenLDAP (127.0.0.1:$IDP_PORT)
     /login/demo-oidc  OpenID Connect: oidc-provider ($OIDC_ISSUER)
   Sign in at either as:
     alice / alicepw   groups aws-admins, aws-readonly -> Admin + ReadOnly
     bob   / bobpw     group  aws-readonly             -> ReadOnly
     carol / carolpw   no group                         -> no roles
   Rules: deploy/demo/rules.yaml    Settings: .run/demo/roleport.toml
$( [[ "$DIRECTORY" == samba ]] && printf '%s\n' \
"   DEMO_DIRECTORY=samba: /login/demo-ad, SimpleSAMLphp on Samba's AD DC" \
"     alice / Al1ce-Passw0rd!   aws-admins, AWS-ReadOnly      -> Admin + ReadOnly" \
"     bob   / B0b-Passw0rd!     oncall (nested in aws-admins) -> Admin" \
"     carol / C4rol-Passw0rd!   AWS-ReadOnly                   -> ReadOnly" )

   Then pick a role:
     Console      a console sign-in link; here a local stand-in
                  page ($FED_URL) names your AWS session
     Credentials  shell export lines, ~/.aws/credentials, PowerShell,
                  credential_process JSON
   Check the credentials with the STS emulator (moto, $MOTO_URL):
   paste the export lines into a shell, then run
     $VENV/bin/python -c 'import boto3;print(boto3.client("sts",endpoint_url="$MOTO_URL",region_name="us-east-1").get_caller_identity()["Arn"])'
   For alice on Administrator it prints
     arn:aws:sts::123456789012:assumed-role/Admin/alice@example.org@demo-saml
   Logs: $PEERS/moto/moto.log, $RUN/federation.log,
         $PEERS/oidc/server.log
   Press Ctrl-C to stop Roleport, moto, the sign-in stand-in,
   the OpenID provider, OpenLDAP and SimpleSAMLphp.
  ==================================================================

BANNER

status=0
wait "$ROLEPORT_PID" || status=$?
ROLEPORT_PID=
say "Roleport exited (status $status)"
exit "$status"
