"""Re-checks every moto behaviour that deploy/peers/moto/README.md documents, against a running server.

    .run/venv/bin/python deploy/peers/moto/probe.py STATE_DIR/moto.env

Prints one line per fact ("ok" or "DIFFERS: observed …") and exits 1 if any fact no longer holds,
e.g. after bumping the moto pin. Each check creates fresh sessions (unique names) and changes no
shared fixture, so it is safe against a server that tests are using.
"""

from __future__ import annotations

import base64
import datetime
import json
import os
import re
import sys
import time
import uuid

import boto3
import requests
from botocore import UNSIGNED
from botocore.config import Config

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from saml_assertion import build_response  # noqa: E402

env = dict(l.rstrip("\n").split("=", 1) for l in open(sys.argv[1]) if "=" in l and not l.startswith("#"))
EP, ACCT = env["MOTO_URL"], env["AWS_ACCOUNT_ID"]
ADMIN, RO, PROV = env["ADMIN_ROLE_ARN"], env["READONLY_ROLE_ARN"], env["SAML_PROVIDER_ARN"]
NO_RETRY = Config(retries={"max_attempts": 1, "mode": "standard"})
FAKE_SIG = "AWS4-HMAC-SHA256 Credential={}/20200101/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=00"
failures = 0


def check(fact: str, observed, expected) -> None:
    global failures
    ok = expected(observed) if callable(expected) else observed == expected
    if not ok:
        failures += 1
    print(("ok       " if ok else "DIFFERS  ") + fact + ("" if ok else f"\n         observed: {observed!r}"))


def uniq(prefix: str = "s") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def b64(xml: str) -> str:
    return base64.b64encode(xml.encode()).decode()


def post(params: dict, auth_key: str | None = None, raw: str | None = None, headers: dict | None = None):
    h = dict(headers or {})
    if auth_key:
        h["Authorization"] = FAKE_SIG.format(auth_key)
    if raw is not None:
        h.setdefault("Content-Type", "application/x-www-form-urlencoded")
        return requests.post(EP + "/", data=raw, headers=h, timeout=30)
    return requests.post(EP + "/", data={"Version": "2011-06-15", **params}, headers=h, timeout=30)


def tag(body: str, name: str) -> str | None:
    m = re.search(f"<{name}>([^<]*)</{name}>", body)
    return m.group(1) if m else None


def saml(xml: str, role: str = ADMIN, prov: str | None = PROV):
    p = {"Action": "AssumeRoleWithSAML", "RoleArn": role, "SAMLAssertion": b64(xml)}
    if prov:
        p["PrincipalArn"] = prov
    return post(p)


def outcome(r) -> str:
    """'200 <Arn>' for success, '<status> <content-type>' otherwise."""
    if r.status_code == 200 and tag(r.text, "Arn"):
        return f"200 {tag(r.text, 'Arn')}"
    return f"{r.status_code} {r.headers.get('Content-Type')}"


def gci(creds: dict, region: str = "us-east-1") -> dict:
    return boto3.client(
        "sts", endpoint_url=EP, region_name=region, aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"], aws_session_token=creds.get("SessionToken"),
        config=NO_RETRY,
    ).get_caller_identity()


def creds_of(body: str) -> dict:
    return {k: tag(body, k) for k in ("AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration")}


def arn(role: str, session: str, acct: str = ACCT, part: str = "aws") -> str:
    return f"arn:{part}:sts::{acct}:assumed-role/{role}/{session}"


HTML500 = "500 text/html; charset=utf-8"
broker = boto3.client("sts", endpoint_url=EP, region_name="us-east-1", aws_access_key_id=env["BROKER_ACCESS_KEY_ID"],
                      aws_secret_access_key=env["BROKER_SECRET_ACCESS_KEY"], config=NO_RETRY)

# ---------------------------------------------------------------- AssumeRoleWithSAML
s = uniq("alice")
t0 = datetime.datetime.now(datetime.timezone.utc)
r = saml(build_response(ADMIN, PROV, s, duration=1800, source_identity="alice", tags={"team": "ops"},
                        transitive_tag_keys=["team"]))
check("SAML: unsigned request + unsigned Response -> 200 text/xml with the assumed-role ARN",
      (r.status_code, r.headers.get("Content-Type"), tag(r.text, "Arn")), (200, "text/xml", arn("Admin", s)))
c = creds_of(r.text)
check("SAML: AccessKeyId ASIA…(20), SecretAccessKey 40 chars, SessionToken starts FQoGZXIvYXdzEBYaD",
      (c["AccessKeyId"][:4], len(c["AccessKeyId"]), len(c["SecretAccessKey"]), c["SessionToken"][:17]),
      ("ASIA", 20, 40, "FQoGZXIvYXdzEBYaD"))
check("SAML: Expiration is RFC 3339 UTC with 6 fractional digits and Z",
      c["Expiration"], lambda v: re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", v) is not None)
exp = datetime.datetime.strptime(c["Expiration"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
check("SAML: SessionDuration attribute sets the lifetime (1800 s)", round((exp - t0).total_seconds() / 10) * 10, 1800)
check("SAML: AssumedRoleId = <IAM RoleId of the role>:<session>",
      tag(r.text, "AssumedRoleId"), lambda v: re.fullmatch(r"AROA[A-Z0-9]{17}:" + re.escape(s), v) is not None)
check("SAML: response has no SourceIdentity element; Issuer is fixed http://localhost:3000/",
      ("<SourceIdentity>" in r.text, tag(r.text, "Issuer"), tag(r.text, "Audience"), tag(r.text, "SubjectType")),
      (False, "http://localhost:3000/", "https://signin.aws.amazon.com/saml", "persistent"))
who = gci(c)
check("SAML: GetCallerIdentity with the credentials -> assumed-role/Admin/<session>, same UserId",
      (who["Arn"], who["Account"], who["UserId"]), (arn("Admin", s), ACCT, tag(r.text, "AssumedRoleId")))

s = uniq()
r = post({"Action": "AssumeRoleWithSAML", "RoleArn": ADMIN, "PrincipalArn": PROV, "DurationSeconds": "7200",
          "SAMLAssertion": b64(build_response(ADMIN, PROV, s))})
e = datetime.datetime.strptime(tag(r.text, "Expiration"), "%Y-%m-%dT%H:%M:%S.%fZ")
check("SAML: DurationSeconds parameter ignored; default 3600 s without SessionDuration",
      round((e - datetime.datetime.utcnow()).total_seconds() / 10) * 10, 3600)
s = uniq()
check("SAML: ARN uses the request's RoleArn (role name), not the assertion's Role",
      outcome(saml(build_response(ADMIN, PROV, s), role=RO)), f"200 {arn('ReadOnly', s)}")
s = uniq()
check("SAML: Role value order provider-arn,role-arn accepted (first element only picks the account)",
      outcome(saml(build_response(ADMIN, PROV, s, role_values=[f"{PROV},{ADMIN}"]))), f"200 {arn('Admin', s)}")
s = uniq()
other = "arn:aws:iam::111122223333:role/Admin"
r = saml(build_response(other, PROV, s), role=other)
check("SAML: account of the credentials = account in the assertion's Role value",
      outcome(r), f"200 {arn('Admin', s, '111122223333')}")
check("SAML: ... but GetCallerIdentity for another account's SAML session is wrong (user/moto)",
      gci(creds_of(r.text))["Arn"], "arn:aws:sts::111122223333:user/moto")
s = uniq()
check("SAML: role need not exist; PrincipalArn may be absent",
      outcome(saml(build_response(f"arn:aws:iam::{ACCT}:role/Nope", PROV, s), role=f"arn:aws:iam::{ACCT}:role/Nope",
                   prov=None)), f"200 {arn('Nope', s)}")
bad_name = "x" * 80 + " !#"
check("SAML: RoleSessionName not validated (80 chars + ' !#')",
      outcome(saml(build_response(ADMIN, PROV, bad_name))), f"200 {arn('Admin', bad_name)}")
s = uniq()
r = saml(build_response(ADMIN, PROV, s, duration=5))
check("SAML: SessionDuration not validated (5 s accepted)", r.status_code, 200)
time.sleep(6)
check("SAML: credentials never expire (GetCallerIdentity works after Expiration)", gci(creds_of(r.text))["Arn"],
      arn("Admin", s))
check("SAML: signature not checked (any access key / secret / no token works for GetCallerIdentity)",
      gci({"AccessKeyId": creds_of(r.text)["AccessKeyId"], "SecretAccessKey": "wrong"})["Arn"], arn("Admin", s))
s = uniq()
check("SAML: Issuer, Audience, Recipient, time window, bogus ds:Signature, 60 long tags, aws: SourceIdentity ignored",
      outcome(saml(build_response(ADMIN, PROV, s, issuer="urn:nobody", audience="urn:nope", recipient="https://evil/",
                                  now=datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc),
                                  source_identity="aws:bad", tags={f"k{i}": "v" * 300 for i in range(60)})
                   .replace("</saml:Issuer>\n<samlp:Status>", "</saml:Issuer><ds:Signature xmlns:ds="
                            "\"http://www.w3.org/2000/09/xmldsig#\"><ds:SignatureValue>Zm9v</ds:SignatureValue>"
                            "</ds:Signature>\n<samlp:Status>", 1))), f"200 {arn('Admin', s)}")
s = uniq()
check("SAML: namespace prefixes do not matter (p2:/a2:)",
      outcome(saml(build_response(ADMIN, PROV, s).replace("samlp:", "p2:").replace("xmlns:samlp", "xmlns:p2")
                   .replace("saml:", "a2:").replace("xmlns:saml=", "xmlns:a2="))), f"200 {arn('Admin', s)}")
s = uniq()
check("SAML: base64 with line breaks (76-column MIME) accepted",
      outcome(post({"Action": "AssumeRoleWithSAML", "RoleArn": ADMIN, "PrincipalArn": PROV,
                    "SAMLAssertion": base64.encodebytes(build_response(ADMIN, PROV, s).encode()).decode()})),
      f"200 {arn('Admin', s)}")
s = uniq()
check("SAML: two Role Attribute elements (one value each) accepted; last one picks the account",
      outcome(saml(build_response(ADMIN, PROV, s, extra_attributes={
          "https://aws.amazon.com/SAML/Attributes/Role": [f"{RO},{PROV}"]}))), f"200 {arn('Admin', s)}")
crashes = {
    "Role attribute only (a single Attribute element)": build_response(ADMIN, PROV, None),
    "no RoleSessionName attribute": build_response(ADMIN, PROV, None, extra_attributes={"mail": ["a@b"]}),
    "no Role attribute": build_response(ADMIN, PROV, "alice", role_values=None).replace(
        "https://aws.amazon.com/SAML/Attributes/Role\"", "urn:x:notrole\""),
    "two values in one Role attribute": build_response(ADMIN, PROV, "alice", role_values=[f"{ADMIN},{PROV}",
                                                                                        f"{RO},{PROV}"]),
    "non-integer SessionDuration": build_response(ADMIN, PROV, "alice", extra_attributes={
        "https://aws.amazon.com/SAML/Attributes/SessionDuration": ["abc"]}),
    "empty RoleSessionName value": build_response(ADMIN, PROV, "alice").replace(
        ">alice</saml:AttributeValue>", "></saml:AttributeValue>"),
    "bare Assertion without Response": '<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"/>',
    "two Assertions": build_response(ADMIN, PROV, "alice").replace(
        "</samlp:Response>", '<saml:Assertion ID="_2"/></samlp:Response>'),
    "EncryptedAssertion": '<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml='
                          '"urn:oasis:names:tc:SAML:2.0:assertion"><saml:EncryptedAssertion/></samlp:Response>',
    "DOCTYPE/entity": '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY e "alice">]>'
                      + build_response(ADMIN, PROV, "&e;").split("?>", 1)[1],
    "not XML": "hello",
}
for what, xml in crashes.items():
    check(f"SAML: {what} -> HTML 500", outcome(saml(xml)), HTML500)
for what, params in {
    "SAMLAssertion not base64": {"SAMLAssertion": "<<<>>>"},
    "SAMLAssertion url-safe base64": {"SAMLAssertion": base64.urlsafe_b64encode(
        build_response(ADMIN, PROV, "alice", tags={"t": "???>>>"}).encode()).decode()},
    "SAMLAssertion missing": {},
}.items():
    check(f"SAML: {what} -> HTML 500",
          outcome(post({"Action": "AssumeRoleWithSAML", "RoleArn": ADMIN, "PrincipalArn": PROV, **params})), HTML500)
check("SAML: RoleArn missing -> HTML 500",
      outcome(post({"Action": "AssumeRoleWithSAML", "PrincipalArn": PROV,
                    "SAMLAssertion": b64(build_response(ADMIN, PROV, "alice"))})), HTML500)

# ----------------------------------------------------- routing of unsigned requests
padded = build_response(ADMIN, PROV, "alice")
while len(padded.encode()) % 3 == 0:  # make sure the base64 ends in '='
    padded += " "
body = f"Action=AssumeRoleWithSAML&Version=2011-06-15&RoleArn={ADMIN}&PrincipalArn={PROV}&SAMLAssertion={b64(padded)}"
s3 = "<ListAllMyBucketsResult"
check("routing: unsigned body with a raw '=' (unencoded base64 padding) goes to S3 (200 ListAllMyBuckets)",
      s3 in post({}, raw=body).text, True)
check("routing: unsigned GET with the query in the URL goes to S3",
      s3 in requests.get(EP + "/", params={"Action": "AssumeRoleWithSAML", "Version": "2011-06-15"}, timeout=30).text,
      True)
check("routing: unsigned chunked body goes to S3",
      s3 in requests.post(EP + "/", data=iter([b"Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=" +
                                               RO.encode() + b"&RoleSessionName=a&WebIdentityToken=abcd"]),
                          headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=30).text, True)
check("routing: unsigned GetCallerIdentity / AssumeRole go to S3 (only the two unsigned STS actions are routed)",
      [s3 in post({"Action": a, "RoleArn": ADMIN, "RoleSessionName": "a"}).text
       for a in ("GetCallerIdentity", "AssumeRole")], [True, True])
check("routing: Content-Type with '; charset=utf-8' is fine",
      post({}, raw="Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=" + RO +
           "&RoleSessionName=cs&WebIdentityToken=abcd",
           headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}).status_code, 200)

# ------------------------------------------------------- AssumeRoleWithWebIdentity
s = uniq()
u = boto3.client("sts", endpoint_url=EP, region_name="us-east-1",
                 config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}))
w = u.assume_role_with_web_identity(RoleArn=RO, RoleSessionName=s, WebIdentityToken="not-a-jwt", DurationSeconds=900)
check("WebIdentity: any token accepted ('not-a-jwt'); ARN from RoleArn + RoleSessionName",
      w["AssumedRoleUser"]["Arn"], arn("ReadOnly", s))
check("WebIdentity: AssumedRoleId is the constant ARO123EXAMPLE123:<session>",
      w["AssumedRoleUser"]["AssumedRoleId"], f"ARO123EXAMPLE123:{s}")
check("WebIdentity: no SubjectFromWebIdentityToken / Provider / Audience / SourceIdentity in the result",
      sorted(k for k in w if k != "ResponseMetadata"), ["AssumedRoleUser", "Credentials", "PackedPolicySize"])
gw = gci(w["Credentials"])
check("WebIdentity: GetCallerIdentity -> assumed-role/ReadOnly/<session>, UserId uses the real RoleId",
      (gw["Arn"], gw["UserId"].startswith("AROA")), (arn("ReadOnly", s), True))
check("WebIdentity: DurationSeconds honoured (900)", round((w["Credentials"]["Expiration"] -
      datetime.datetime.now(datetime.timezone.utc)).total_seconds() / 10) * 10, 900)
check("WebIdentity: no token and no session name -> 200, session name 'None'",
      outcome(post({"Action": "AssumeRoleWithWebIdentity", "RoleArn": RO})), f"200 {arn('ReadOnly', 'None')}")

# ------------------------------------------------------------------- AssumeRole
s = uniq()
a = broker.assume_role(RoleArn=ADMIN, RoleSessionName=s, SourceIdentity="alice", ExternalId="ext",
                       Tags=[{"Key": "team", "Value": "ops"}], TransitiveTagKeys=["team"], DurationSeconds=43200)
check("AssumeRole: ARN assumed-role/Admin/<session>; SourceIdentity/Tags/ExternalId accepted and not echoed",
      (a["AssumedRoleUser"]["Arn"], "SourceIdentity" in a), (arn("Admin", s), False))
check("AssumeRole: DurationSeconds 43200 accepted for a role with MaxSessionDuration 3600",
      round((a["Credentials"]["Expiration"] - datetime.datetime.now(datetime.timezone.utc)).total_seconds() / 60),
      720)
check("AssumeRole: GetCallerIdentity -> assumed-role/Admin/<session>", gci(a["Credentials"])["Arn"], arn("Admin", s))
s2 = uniq()
ch = boto3.client("sts", endpoint_url=EP, region_name="us-east-1", aws_access_key_id=a["Credentials"]["AccessKeyId"],
                  aws_secret_access_key=a["Credentials"]["SecretAccessKey"],
                  aws_session_token=a["Credentials"]["SessionToken"], config=NO_RETRY
                  ).assume_role(RoleArn=RO, RoleSessionName=s2, DurationSeconds=43200)
check("AssumeRole: role chaining not capped at 1 h (43200 accepted)",
      round((ch["Credentials"]["Expiration"] - datetime.datetime.now(datetime.timezone.utc)).total_seconds() / 60),
      720)
check("AssumeRole: only check is RoleSessionName length > 64 -> 400 ErrorResponse ValidationError",
      (lambda r: (r.status_code, r.headers.get("Content-Type"), tag(r.text, "Type"), tag(r.text, "Code"),
                  r.text.startswith("<ErrorResponse")))(
          post({"Action": "AssumeRole", "RoleArn": ADMIN, "RoleSessionName": "z" * 65}, auth_key="AKIAIOSFODNN7EXAMPLE")),
      (400, "text/xml", "Sender", "ValidationError", True))
check("AssumeRole: session name 'a b', nonexistent role, unknown signing key all accepted",
      [outcome(post({"Action": "AssumeRole", "RoleArn": ra, "RoleSessionName": "a b"}, auth_key=k)) for ra, k in
       ((ADMIN, env["BROKER_ACCESS_KEY_ID"]), (f"arn:aws:iam::{ACCT}:role/Nope", "AKIAUNKNOWN000000000"))],
      [f"200 {arn('Admin', 'a b')}", f"200 {arn('Nope', 'a b')}"])

# ------------------------------------------------------------ GetFederationToken
n = uniq("f")[:12]
pol = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:List*", "Resource": "*"}]})
f = broker.get_federation_token(Name=n, Policy=pol, DurationSeconds=900)
check("GetFederationToken: FederatedUser Arn federated-user/<Name>, FederatedUserId <account>:<Name>",
      (f["FederatedUser"]["Arn"], f["FederatedUser"]["FederatedUserId"]),
      (f"arn:aws:sts::{ACCT}:federated-user/{n}", f"{ACCT}:{n}"))
check("GetFederationToken: credentials are the constant AKIAIOSFODNN7EXAMPLE / …CYzEXAMPLEKEY",
      (f["Credentials"]["AccessKeyId"], f["Credentials"]["SecretAccessKey"]),
      ("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"))
check("GetFederationToken: GetCallerIdentity with them -> arn:aws:sts::<acct>:user/moto (NOT federated-user)",
      gci(f["Credentials"])["Arn"], f"arn:aws:sts::{ACCT}:user/moto")
check("GetFederationToken: only check is Policy length > 2048 -> 400 ValidationError",
      (lambda r: (r.status_code, tag(r.text, "Code")))(post(
          {"Action": "GetFederationToken", "Name": "x", "Policy": "x" * 2049}, auth_key="AKIAIOSFODNN7EXAMPLE")),
      (400, "ValidationError"))
check("GetFederationToken: malformed Policy, 40-char Name, temporary-credential caller accepted",
      [outcome(post({"Action": "GetFederationToken", "Name": nm, "Policy": "not json"}, auth_key=k))[:3]
       for nm, k in (("n" * 40, "AKIAIOSFODNN7EXAMPLE"), ("x", a["Credentials"]["AccessKeyId"]))], ["200", "200"])

# --------------------------------------------------------------- other actions
check("DecodeAuthorizationMessage: not implemented -> HTML 500",
      outcome(post({"Action": "DecodeAuthorizationMessage", "EncodedMessage": "abc"},
                   auth_key=env["BROKER_ACCESS_KEY_ID"])), HTML500)
check("unknown Action -> HTML 500", outcome(post({"Action": "FooBar"}, auth_key="AKIAIOSFODNN7EXAMPLE")), HTML500)
check("Authorization header that is not SigV4 -> HTML 500",
      outcome(post({"Action": "GetCallerIdentity"}, headers={"Authorization": "garbage"})), HTML500)
check("GetCallerIdentity with the broker key (wrong secret) -> the IAM user",
      gci({"AccessKeyId": env["BROKER_ACCESS_KEY_ID"], "SecretAccessKey": "wrong"})["Arn"], env["BROKER_USER_ARN"])
check("GetCallerIdentity with an unknown key -> arn:aws:sts::<acct>:user/moto",
      gci({"AccessKeyId": "AKIAIOSFODNN7EXAMPLE", "SecretAccessKey": "x"})["Arn"], f"arn:aws:sts::{ACCT}:user/moto")
check("signed GET with the query in the URL works", tag(requests.get(
    EP + "/", params={"Action": "GetCallerIdentity", "Version": "2011-06-15"},
    headers={"Authorization": FAKE_SIG.format(env["BROKER_ACCESS_KEY_ID"])}, timeout=30).text, "Arn"),
      env["BROKER_USER_ARN"])

# -------------------------------------------------------------------- partitions
cn = boto3.client("sts", endpoint_url=EP, region_name="cn-north-1", aws_access_key_id=env["BROKER_ACCESS_KEY_ID"],
                  aws_secret_access_key=env["BROKER_SECRET_ACCESS_KEY"], config=NO_RETRY)
s = uniq()
acn = cn.assume_role(RoleArn=f"arn:aws-cn:iam::{ACCT}:role/Admin", RoleSessionName=s)
check("partition: signing region cn-north-1 -> arn:aws-cn:… ARNs, GetCallerIdentity (cn-north-1) agrees",
      (acn["AssumedRoleUser"]["Arn"], gci(acn["Credentials"], "cn-north-1")["Arn"]),
      (arn("Admin", s, part="aws-cn"),) * 2)
check("partition: IAM fixtures exist only in 'aws'; broker GetCallerIdentity signed for cn-north-1 -> user/moto",
      cn.get_caller_identity()["Arn"], f"arn:aws-cn:sts::{ACCT}:user/moto")
s = uniq()
rs = saml(build_response(f"arn:aws-cn:iam::{ACCT}:role/Admin", f"arn:aws-cn:iam::{ACCT}:saml-provider/roleport", s),
          role=f"arn:aws-cn:iam::{ACCT}:role/Admin")
check("partition: AssumeRoleWithSAML is always partition aws (unsigned -> us-east-1), whatever the ARNs say",
      outcome(rs), f"200 {arn('Admin', s)}")

print(f"\n{failures} fact(s) differ" if failures else "\nall facts hold")
sys.exit(1 if failures else 0)
