#!/usr/bin/env bash
# Runs Roleport from the image built by deploy/container/build.sh against the local Postgres, the
# way Kubernetes runs it (deploy/kubernetes): root filesystem read-only, uid 10001, settings at
# /etc/roleport, secrets under /run/secrets/roleport, a tmpfs /tmp, the image's environment only.
#
#   deploy/container/smoke.sh [TAG]      # default tag: localhost/roleport:dev
#
# No container runtime runs images on these machines (podman fails on the sandbox's rlimits), so
# the image's root filesystem is mounted with `buildah mount` and entered with chroot inside a
# private mount namespace (unshare), read-only. Checks: the image's metadata (user, entrypoint,
# health check), `migrate`, `serve` answering /readyz 200 as uid 10001, the image's HEALTHCHECK
# command, and that the root filesystem cannot be written. Exit status 0 only if all hold.
set -euo pipefail
cd "$(dirname "$0")/../.."
TAG=${1:-localhost/roleport:dev}
STATE=${ROLEPORT_CONTAINER_STATE:-$PWD/.run/container}
PG=${ROLEPORT_CONTAINER_PG:-postgres://postgres@127.0.0.1:5432}
say() { echo "container smoke: $*" >&2; }
fail() { say "FAILED: $*"; exit 1; }

# The image's own metadata (docker format, as build.sh writes it): user, entrypoint, health check.
image_env=$(buildah inspect --type image "$TAG" | python3 -c '
import json, sys
config = json.load(sys.stdin)["Docker"]["config"]
problems = []
if config.get("User") != "10001:10001":
    problems.append("user is %r, not 10001:10001" % config.get("User"))
if config.get("Entrypoint") != ["/usr/local/bin/roleport"]:
    problems.append("entrypoint is %r" % config.get("Entrypoint"))
test = (config.get("Healthcheck") or {}).get("Test") or []
if "healthcheck" not in test:
    problems.append("no HEALTHCHECK running roleport healthcheck: %r" % test)
if problems:
    sys.exit("; ".join(problems))
print("\n".join(config.get("Env") or []))
') || fail "image metadata"

run=$(mktemp -d "$STATE/smoke.XXXXXX")
db="roleport_container_$(date +%s)_$$"
ctr=""
cleanup() {
  [[ -n $ctr ]] && { buildah umount "$ctr" >/dev/null 2>&1 || true; buildah rm "$ctr" >/dev/null 2>&1 || true; }
  psql "$PG/postgres" -q -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$run"
}
trap cleanup EXIT

port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
PORT=$(port); METRICS=$(port)
mkdir -p "$run/config" "$run/secrets" "$run/root"
psql "$PG/postgres" -q -c "CREATE DATABASE $db" >/dev/null
echo "$PG/$db" > "$run/secrets/database-url"
openssl req -x509 -newkey rsa:2048 -sha256 -nodes -days 30 -subj "/CN=Roleport container smoke" \
  -keyout "$run/secrets/aws-signing-key.pem" -out "$run/secrets/aws-signing-cert.pem" 2>/dev/null
openssl req -x509 -newkey rsa:2048 -sha256 -nodes -days 30 -subj "/CN=idp.container.test" \
  -keyout "$run/idp-key.pem" -out "$run/idp-cert.pem" 2>/dev/null
echo "smoke-1 $(openssl rand -base64 32)" > "$run/secrets/audit-keys"
echo "smoke-seal-1 $(openssl rand -base64 32)" > "$run/secrets/sealing-keys"
idp_cert=$(grep -v '^-----' "$run/idp-cert.pem" | tr -d '\n')
cat > "$run/config/idp-metadata.xml" <<XML
<?xml version="1.0" encoding="UTF-8"?><md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.container.test/metadata"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>$idp_cert</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.container.test/sso"/></md:IDPSSODescriptor></md:EntityDescriptor>
XML
# A production configuration (no dev_mode), as in deploy/kubernetes, on loopback ports.
cat > "$run/config/roleport.toml" <<TOML
[server]
listen = "127.0.0.1:$PORT"
public_url = "https://roleport.container.test"
[metrics]
listen = "127.0.0.1:$METRICS"
[database]
migrate_on_start = false
[[idp]]
id = "corp"
kind = "saml"
display_name = "Corporate"
metadata_file = "/etc/roleport/idp-metadata.xml"
[aws]
signing_keys = [{ key_file = "/run/secrets/roleport/aws-signing-key.pem", cert_file = "/run/secrets/roleport/aws-signing-cert.pem" }]
[audit]
key_file = "/run/secrets/roleport/audit-keys"
[sealing]
key_file = "/run/secrets/roleport/sealing-keys"
TOML
# Readable by the image's user only through its group, as a Secret mounted with defaultMode 0440.
chown -R 0:10001 "$run/config" "$run/secrets"
chmod 0750 "$run/config" "$run/secrets"; chmod 0440 "$run/secrets"/* "$run/config"/*

ctr=$(buildah from -q "$TAG")
image_root=$(buildah mount "$ctr")
env_args=()
while IFS= read -r line; do [[ -n $line ]] && env_args+=("$line"); done <<<"$image_env"
env_args+=(ROLEPORT_DATABASE__URL_FILE=/run/secrets/roleport/database-url)

# Everything below runs in a private mount namespace: the mounts disappear with it.
ROOT="$run/root" IMAGE_ROOT="$image_root" RUN_DIR="$run" PORT="$PORT" \
unshare --mount --propagation private -- bash -s -- "${env_args[@]}" <<'NS'
set -euo pipefail
fail() { echo "container smoke: FAILED: $*" >&2; exit 1; }
mount --bind "$IMAGE_ROOT" "$ROOT"
mount -o remount,bind,ro "$ROOT"
mount --bind "$RUN_DIR/config" "$ROOT/etc/roleport"; mount -o remount,bind,ro "$ROOT/etc/roleport"
mount --bind "$RUN_DIR/secrets" "$ROOT/run/secrets/roleport"; mount -o remount,bind,ro "$ROOT/run/secrets/roleport"
mount -t tmpfs -o size=16m,mode=1777 tmpfs "$ROOT/tmp"
mount -t proc proc "$ROOT/proc"
mount --rbind /dev "$ROOT/dev"
as_roleport() { chroot --userspec=10001:10001 "$ROOT" /usr/bin/env -i "${ENV[@]}" "$@"; }
ENV=("$@")
as_roleport /usr/local/bin/roleport --config /etc/roleport/roleport.toml migrate >"$RUN_DIR/migrate.log" 2>&1 ||
  { cat "$RUN_DIR/migrate.log" >&2; fail "roleport migrate"; }
as_roleport /usr/local/bin/roleport --config /etc/roleport/roleport.toml serve >"$RUN_DIR/serve.log" 2>&1 &
server=$!
ready=""
for _ in $(seq 1 100); do
  if code=$(curl -s -o "$RUN_DIR/readyz.json" -w '%{http_code}' "http://127.0.0.1:$PORT/readyz") && [[ $code == 200 ]]; then ready=1; break; fi
  kill -0 "$server" 2>/dev/null || { cat "$RUN_DIR/serve.log" >&2; fail "roleport serve exited"; }
  sleep 0.2
done
[[ -n $ready ]] || { cat "$RUN_DIR/serve.log" >&2; fail "/readyz never answered 200 (last: ${code:-none})"; }
pid=$(pgrep -f -n "roleport --config /etc/roleport/roleport.toml serve")
uid=$(awk '/^Uid:/{print $2}' "/proc/$pid/status")
[[ $uid == 10001 ]] || fail "serve runs as uid $uid"
as_roleport /usr/local/bin/roleport --config /etc/roleport/roleport.toml healthcheck || fail "the image's HEALTHCHECK command failed"
if chroot "$ROOT" /usr/bin/touch /probe-write 2>/dev/null; then fail "the root filesystem is writable"; fi
if as_roleport /usr/bin/touch /tmp/probe && as_roleport /usr/bin/cat /run/secrets/roleport/audit-keys >/dev/null; then :; else fail "tmp or secrets unusable"; fi
# `$server` is the shell running chroot, not roleport: stop roleport itself (by its pid) and wait
# for it, so no smoke run leaves a server behind.
kill -TERM "$pid" 2>/dev/null || true
for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && fail "roleport did not stop on SIGTERM"
wait "$server" 2>/dev/null || true
echo "container smoke: /readyz $(cat "$RUN_DIR/readyz.json")"
NS
say "passed: $TAG runs read-only as uid 10001, migrates, serves /readyz 200, its health check passes"
