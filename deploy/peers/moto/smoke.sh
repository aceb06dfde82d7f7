#!/usr/bin/env bash
# Smoke test of a running moto started by deploy/peers/moto/start.sh:
#   1. AssumeRoleWithSAML (unsigned request) with a hand-built, unsigned SAML Response for the Admin
#      role returns credentials, and the assumed-role ARN names Admin and the session;
#   2. GetCallerIdentity signed with those credentials returns
#      arn:aws:sts::123456789012:assumed-role/Admin/<session name>.
#
#   deploy/peers/moto/smoke.sh STATE_DIR          # quiet; prints "moto smoke: ok" at the end
#   deploy/peers/moto/smoke.sh STATE_DIR --full   # also runs probe.py (every documented behaviour)
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/moto.sh"

(( $# == 1 || $# == 2 )) || { echo "usage: $0 STATE_DIR [--full]" >&2; exit 2; }
STATE=$(cd "$1" && pwd -P)
[[ -s "$STATE/moto.env" ]] || moto_die "$STATE/moto.env missing: run start.sh first"

MOTO_DIR="$MOTO_DIR" "$MOTO_VENV/bin/python" - "$STATE/moto.env" <<'PY'
import base64, os, sys, uuid
sys.path.insert(0, os.environ.get("MOTO_DIR", ""))
import boto3
from botocore import UNSIGNED
from botocore.config import Config
from saml_assertion import build_response

env = dict(l.rstrip("\n").split("=", 1) for l in open(sys.argv[1]) if "=" in l and not l.startswith("#"))
ep, role, provider = env["MOTO_URL"], env["ADMIN_ROLE_ARN"], env["SAML_PROVIDER_ARN"]
session = f"alice.smoke-{uuid.uuid4().hex[:8]}@example.org"
want = f"arn:aws:sts::{env['AWS_ACCOUNT_ID']}:assumed-role/Admin/{session}"
no_retry = {"max_attempts": 1, "mode": "standard"}

xml = build_response(role, provider, session, duration=900, source_identity="alice", tags={"team": "ops"})
sts = boto3.client("sts", endpoint_url=ep, region_name="us-east-1",
                   config=Config(signature_version=UNSIGNED, retries=no_retry))
r = sts.assume_role_with_saml(RoleArn=role, PrincipalArn=provider,
                              SAMLAssertion=base64.b64encode(xml.encode()).decode())
c = r["Credentials"]
assert c["AccessKeyId"].startswith("ASIA") and c["SecretAccessKey"] and c["SessionToken"], r
assert r["AssumedRoleUser"]["Arn"] == want, (r["AssumedRoleUser"], want)

who = boto3.client("sts", endpoint_url=ep, region_name="us-east-1", aws_access_key_id=c["AccessKeyId"],
                   aws_secret_access_key=c["SecretAccessKey"], aws_session_token=c["SessionToken"],
                   config=Config(retries=no_retry)).get_caller_identity()
assert who["Arn"] == want, (who, want)
assert who["Account"] == env["AWS_ACCOUNT_ID"], who
PY
[[ "${2:-}" != --full ]] || "$MOTO_VENV/bin/python" "$MOTO_DIR/probe.py" "$STATE/moto.env"
echo "moto smoke: ok"
