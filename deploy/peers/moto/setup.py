"""Registers Roleport's test fixtures in a running moto_server and writes STATE_DIR/moto.env.

Run with the venv's python (deploy/peers/moto/install.sh), normally from start.sh:

    python setup.py --endpoint http://127.0.0.1:PORT --state-dir STATE_DIR --port PORT
                    [--saml-metadata FILE] [--extra-saml-provider NAME=FILE ...]
                    [--oidc-issuer URL] [--oidc-client-id ID] [-q]

Everything lives in moto's default account 123456789012, region us-east-1 (partition aws):

- SAML provider `roleport` with the metadata FILE (Roleport's GET /aws/saml-metadata.xml in the demo
  and tests) or, without one, a placeholder EntityDescriptor written to STATE_DIR/moto/; extra SAML
  providers (e.g. the SimpleSAMLphp IdP for pass-through tests) with --extra-saml-provider.
- OIDC provider for --oidc-issuer (default https://roleport.invalid, client id sts.amazonaws.com).
- IAM user `roleport-broker` with one access key (kept in STATE_DIR/moto/broker-key.json and reused
  while moto still knows it) and an inline policy allowing the STS calls Roleport makes.
- Roles `Admin` (MaxSessionDuration 3600) and `ReadOnly` (7200) trusting every registered SAML
  provider (sts:AssumeRoleWithSAML), the OIDC provider (sts:AssumeRoleWithWebIdentity) and the
  broker user (sts:AssumeRole), each with sts:TagSession and sts:SetSourceIdentity.

Idempotent: existing entities are updated in place, never duplicated. A SAML provider that already
exists keeps its metadata unless a file is given. moto enforces none of the policies.
Prints the resulting moto.env on stdout unless -q.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
# Any credentials work against moto (it checks no signature); these are AWS's documented examples.
DUMMY_ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
DUMMY_SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
SAML_PROVIDER_NAME = "roleport"
BROKER_USER = "roleport-broker"
ROLES = {"Admin": 3600, "ReadOnly": 7200}
ROLE_POLICIES = {
    "Admin": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]},
    "ReadOnly": {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["s3:Get*", "s3:List*", "ec2:Describe*", "iam:Get*", "iam:List*"],
             "Resource": "*"}
        ],
    },
}
DEFAULT_OIDC_ISSUER = "https://roleport.invalid"
DEFAULT_OIDC_CLIENT_ID = "sts.amazonaws.com"
# IAM requires SAMLMetadataDocument to be 1000..10000000 characters (botocore checks the minimum).
MIN_METADATA_LEN = 1000


def clients(endpoint: str):
    cfg = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=30)
    kw = dict(
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=DUMMY_ACCESS_KEY_ID,
        aws_secret_access_key=DUMMY_SECRET_ACCESS_KEY,
        config=cfg,
    )
    return boto3.client("iam", **kw), boto3.client("sts", **kw)


def placeholder_metadata(path: Path) -> str:
    """A minimal but valid IdP EntityDescriptor with a throwaway self-signed signing certificate."""
    if path.exists():
        return path.read_text()
    from base64 import b64encode

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Roleport placeholder IdP (moto test peer)")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    der = b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
    xml = f"""<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="http://127.0.0.1/roleport-placeholder-idp">
  <md:IDPSSODescriptor WantAuthnRequestsSigned="false" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing">
      <ds:KeyInfo><ds:X509Data><ds:X509Certificate>{der}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>
    </md:KeyDescriptor>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="http://127.0.0.1/roleport-placeholder-idp/sso"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>
"""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(xml)
    tmp.replace(path)
    return xml


def read_metadata(path: str) -> str:
    text = Path(path).read_text()
    if "EntityDescriptor" not in text:
        sys.exit(f"setup.py: {path} does not look like SAML metadata (no EntityDescriptor)")
    if len(text) < MIN_METADATA_LEN:
        # IAM's minimum; pad with an XML comment so that small hand-made files still register.
        text = text.rstrip() + "\n<!-- " + "padding to IAM's 1000-character minimum " * 25 + "-->\n"
    return text


def ensure_saml_provider(iam, name: str, metadata: str | None) -> str:
    arn = f"arn:aws:iam::{ACCOUNT_ID}:saml-provider/{name}"
    existing = {p["Arn"] for p in iam.list_saml_providers()["SAMLProviderList"]}
    if arn in existing:
        if metadata is not None:
            iam.update_saml_provider(SAMLProviderArn=arn, SAMLMetadataDocument=metadata)
        return arn
    if metadata is None:
        raise ValueError(f"no metadata for the new SAML provider {name}")
    return iam.create_saml_provider(Name=name, SAMLMetadataDocument=metadata)["SAMLProviderArn"]


def ensure_oidc_provider(iam, issuer: str, client_id: str) -> str:
    host_path = issuer.split("://", 1)[-1].rstrip("/")
    arn = f"arn:aws:iam::{ACCOUNT_ID}:oidc-provider/{host_path}"
    existing = {p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]}
    if arn not in existing:
        arn = iam.create_open_id_connect_provider(
            Url=issuer, ClientIDList=[client_id], ThumbprintList=["0" * 40]
        )["OpenIDConnectProviderArn"]
    else:
        ids = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn).get("ClientIDList", [])
        if client_id not in ids:
            iam.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID=client_id)
    return arn


def ensure_broker(iam, key_file: Path) -> tuple[str, str, str]:
    try:
        user_arn = iam.get_user(UserName=BROKER_USER)["User"]["Arn"]
    except ClientError as e:
        if e.response["Error"]["Code"] != "NoSuchEntity":
            raise
        user_arn = iam.create_user(UserName=BROKER_USER)["User"]["Arn"]
    role_arns = [f"arn:aws:iam::{ACCOUNT_ID}:role/{r}" for r in ROLES]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"],
             "Resource": role_arns},
            {"Effect": "Allow", "Action": ["sts:GetFederationToken", "sts:DecodeAuthorizationMessage",
                                           "sts:GetCallerIdentity"], "Resource": "*"},
        ],
    }
    iam.put_user_policy(UserName=BROKER_USER, PolicyName="roleport-broker", PolicyDocument=json.dumps(policy))

    keys = {k["AccessKeyId"] for k in iam.list_access_keys(UserName=BROKER_USER)["AccessKeyMetadata"]}
    if key_file.exists():
        saved = json.loads(key_file.read_text())
        if saved.get("AccessKeyId") in keys:
            return user_arn, saved["AccessKeyId"], saved["SecretAccessKey"]
    for k in keys:  # secrets we no longer know: replace them
        iam.delete_access_key(UserName=BROKER_USER, AccessKeyId=k)
    key = iam.create_access_key(UserName=BROKER_USER)["AccessKey"]
    tmp = key_file.with_suffix(".tmp")
    tmp.write_text(json.dumps({"AccessKeyId": key["AccessKeyId"], "SecretAccessKey": key["SecretAccessKey"]}))
    os.chmod(tmp, 0o600)
    tmp.replace(key_file)
    return user_arn, key["AccessKeyId"], key["SecretAccessKey"]


def trust_policy(saml_arns: list[str], oidc_arn: str, oidc_client_id: str, broker_arn: str) -> dict:
    oidc_host = oidc_arn.split(":oidc-provider/", 1)[1]
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "SamlFederation",
                "Effect": "Allow",
                "Principal": {"Federated": saml_arns if len(saml_arns) > 1 else saml_arns[0]},
                "Action": ["sts:AssumeRoleWithSAML", "sts:TagSession", "sts:SetSourceIdentity"],
                "Condition": {"StringEquals": {"SAML:aud": "https://signin.aws.amazon.com/saml"}},
            },
            {
                "Sid": "OidcFederation",
                "Effect": "Allow",
                "Principal": {"Federated": oidc_arn},
                "Action": ["sts:AssumeRoleWithWebIdentity", "sts:TagSession", "sts:SetSourceIdentity"],
                "Condition": {"StringEquals": {f"{oidc_host}:aud": oidc_client_id}},
            },
            {
                "Sid": "RoleportBroker",
                "Effect": "Allow",
                "Principal": {"AWS": broker_arn},
                "Action": ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"],
            },
        ],
    }


def ensure_role(iam, name: str, max_session: int, trust: dict) -> str:
    doc = json.dumps(trust)
    try:
        arn = iam.get_role(RoleName=name)["Role"]["Arn"]
        iam.update_assume_role_policy(RoleName=name, PolicyDocument=doc)
        iam.update_role(RoleName=name, MaxSessionDuration=max_session)
    except ClientError as e:
        if e.response["Error"]["Code"] != "NoSuchEntity":
            raise
        arn = iam.create_role(
            RoleName=name,
            AssumeRolePolicyDocument=doc,
            MaxSessionDuration=max_session,
            Description=f"Roleport test role {name}",
        )["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName=f"{name}-access", PolicyDocument=json.dumps(ROLE_POLICIES[name]))
    return arn


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--endpoint", required=True, help="http://127.0.0.1:PORT")
    ap.add_argument("--state-dir", required=True)
    ap.add_argument("--port", required=True, type=int)
    ap.add_argument("--saml-metadata", help="IdP metadata XML for the SAML provider 'roleport'")
    ap.add_argument("--extra-saml-provider", action="append", default=[], metavar="NAME=FILE",
                    help="another SAML provider (e.g. the upstream IdP for pass-through tests)")
    ap.add_argument("--oidc-issuer", default=os.environ.get("MOTO_OIDC_ISSUER") or DEFAULT_OIDC_ISSUER)
    ap.add_argument("--oidc-client-id", default=os.environ.get("MOTO_OIDC_CLIENT_ID") or DEFAULT_OIDC_CLIENT_ID)
    ap.add_argument("-q", "--quiet", action="store_true", help="do not print moto.env")
    a = ap.parse_args()

    state = Path(a.state_dir).resolve()
    mdir = state / "moto"
    mdir.mkdir(parents=True, exist_ok=True)
    iam, sts = clients(a.endpoint)

    # The SAML provider `roleport`: the given metadata, or (only when it does not exist yet) a placeholder.
    metadata: str | None = None
    if a.saml_metadata:
        metadata = read_metadata(a.saml_metadata)
    else:
        names = {p["Arn"].rsplit("/", 1)[1] for p in iam.list_saml_providers()["SAMLProviderList"]}
        if SAML_PROVIDER_NAME not in names:
            metadata = placeholder_metadata(mdir / "placeholder-idp-metadata.xml")
    saml_arn = ensure_saml_provider(iam, SAML_PROVIDER_NAME, metadata)
    # A copy of exactly what IAM holds now (the given file, the placeholder, or an earlier file).
    metadata_file = mdir / "saml-provider-roleport.xml"
    tmp = metadata_file.with_suffix(".tmp")
    tmp.write_text(iam.get_saml_provider(SAMLProviderArn=saml_arn)["SAMLMetadataDocument"])
    tmp.replace(metadata_file)
    for spec in a.extra_saml_provider:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            sys.exit(f"setup.py: --extra-saml-provider wants NAME=FILE, got {spec!r}")
        ensure_saml_provider(iam, name, read_metadata(path))
    saml_arns = sorted(p["Arn"] for p in iam.list_saml_providers()["SAMLProviderList"])

    oidc_arn = ensure_oidc_provider(iam, a.oidc_issuer, a.oidc_client_id)
    broker_arn, key_id, secret = ensure_broker(iam, mdir / "broker-key.json")
    trust = trust_policy(saml_arns, oidc_arn, a.oidc_client_id, broker_arn)
    role_arns = {name: ensure_role(iam, name, max_s, trust) for name, max_s in ROLES.items()}

    # Sanity: the broker key is what GetCallerIdentity resolves.
    who = boto3.client(
        "sts", endpoint_url=a.endpoint, region_name=REGION, aws_access_key_id=key_id,
        aws_secret_access_key=secret, config=Config(retries={"max_attempts": 1}),
    ).get_caller_identity()
    if who["Arn"] != broker_arn:
        sys.exit(f"setup.py: GetCallerIdentity with the broker key gave {who['Arn']}, expected {broker_arn}")

    env = {
        "MOTO_URL": a.endpoint,
        "MOTO_PORT": str(a.port),
        # The venv's interpreter, with boto3: tests drive moto's CloudFormation and IAM with it.
        "MOTO_PYTHON": sys.executable,
        "AWS_ACCOUNT_ID": ACCOUNT_ID,
        "AWS_REGION": REGION,
        "SAML_PROVIDER_ARN": saml_arn,
        "SAML_METADATA_FILE": str(metadata_file),
        "ADMIN_ROLE_ARN": role_arns["Admin"],
        "READONLY_ROLE_ARN": role_arns["ReadOnly"],
        "OIDC_PROVIDER_ARN": oidc_arn,
        "OIDC_ISSUER": a.oidc_issuer,
        "OIDC_CLIENT_ID": a.oidc_client_id,
        "BROKER_USER_ARN": broker_arn,
        "BROKER_ACCESS_KEY_ID": key_id,
        "BROKER_SECRET_ACCESS_KEY": secret,
    }
    for k, v in env.items():
        if any(c.isspace() or c in "\"'`$\\;&|<>()*?[]#~" for c in v):
            sys.exit(f"setup.py: {k} has a character that moto.env cannot hold unquoted: {v!r}")
    body = "# Written by deploy/peers/moto/setup.py; KEY=value, no quoting.\n" + "".join(
        f"{k}={v}\n" for k, v in env.items()
    )
    tmp = state / "moto.env.tmp"
    tmp.write_text(body)
    os.chmod(tmp, 0o600)
    tmp.replace(state / "moto.env")
    if not a.quiet:
        sys.stdout.write(body)


if __name__ == "__main__":
    main()
