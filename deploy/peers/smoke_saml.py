#!/usr/bin/env python3
"""SAML helpers for deploy/peers/smoke-test.sh (standard library only).

  authn-url SSO_URL SP_ENTITY_ID ACS_URL RELAY_STATE [NAMEID_FORMAT]
      Build an AuthnRequest for the HTTP-Redirect binding. Prints two lines: the request ID and
      the URL to GET.
  login-form PAGE_HTML
      Print the AuthState of SimpleSAMLphp's login page (exit 1 if the page is not one).
  post-form PAGE_HTML OUT_DIR
      Extract the auto-POST form that carries a SAMLResponse: writes OUT_DIR/action,
      OUT_DIR/response.xml (decoded) and OUT_DIR/relay_state (if any). Exit 1 if there is none.
  check RESPONSE_XML --idp ENTITY --sp ENTITY --acs URL --user UID [--groups DN;DN]
        [--in-response-to ID] [--encrypted] [--assertion-only]
      Check the shape of a Response (see check() below). With --encrypted the Response must hold
      one EncryptedAssertion (its algorithms are printed) and nothing about the assertion is
      checked; run it again on the decrypted document with --assertion-only.
"""

import argparse
import base64
import datetime
import html
import re
import secrets
import sys
import urllib.parse
import xml.etree.ElementTree as ET
import zlib

NS = {
    "samlp": "urn:oasis:names:tc:SAML:2.0:protocol",
    "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
    "xenc": "http://www.w3.org/2001/04/xmlenc#",
}
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
PERSISTENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"

# The page SimpleSAMLphp 1.19 renders to POST a response (templates/post.php).
POST_FORM_RE = re.compile(r'<form method="post"\s+action="([^"]*)">(.*?)</form>', re.S)
HIDDEN_RE = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)" />')
AUTHSTATE_RE = re.compile(r'<input type="hidden" name="AuthState" value="([^"]*)" />')


class CheckError(Exception):
    pass


def expect(cond, msg):
    if not cond:
        raise CheckError(msg)


def authn_url(sso, sp, acs, relay, nameid_format=None):
    rid = "_" + secrets.token_hex(20)
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    policy = ""
    if nameid_format:
        policy = f'<samlp:NameIDPolicy Format="{html.escape(nameid_format)}" AllowCreate="true"/>'
    xml = (
        f'<samlp:AuthnRequest xmlns:samlp="{NS["samlp"]}" xmlns:saml="{NS["saml"]}" '
        f'ID="{rid}" Version="2.0" IssueInstant="{now}" Destination="{html.escape(sso)}" '
        f'AssertionConsumerServiceURL="{html.escape(acs)}" '
        f'ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST">'
        f"<saml:Issuer>{html.escape(sp)}</saml:Issuer>{policy}</samlp:AuthnRequest>"
    )
    c = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)  # raw DEFLATE
    deflated = c.compress(xml.encode()) + c.flush()
    query = urllib.parse.urlencode(
        {"SAMLRequest": base64.b64encode(deflated).decode(), "RelayState": relay}
    )
    print(rid)
    print(f"{sso}?{query}")


def login_form(page):
    text = open(page, encoding="utf-8", errors="replace").read()
    m = AUTHSTATE_RE.search(text)
    if not m or 'name="username"' not in text or 'name="password"' not in text:
        sys.exit(1)
    print(html.unescape(m.group(1)))


def post_form(page, out):
    text = open(page, encoding="utf-8", errors="replace").read()
    m = POST_FORM_RE.search(text)
    if not m:
        sys.exit(1)
    fields = {k: html.unescape(v) for k, v in HIDDEN_RE.findall(m.group(2))}
    if "SAMLResponse" not in fields:
        sys.exit(1)
    with open(f"{out}/action", "w") as f:
        f.write(html.unescape(m.group(1)))
    with open(f"{out}/response.xml", "wb") as f:
        f.write(base64.b64decode(fields["SAMLResponse"], validate=True))
    if "RelayState" in fields:
        with open(f"{out}/relay_state", "w") as f:
            f.write(fields["RelayState"])


def check_signature(el, what):
    sigs = el.findall("ds:Signature", NS)
    expect(len(sigs) == 1, f"{what}: expected one enveloped ds:Signature, found {len(sigs)}")
    si = sigs[0].find("ds:SignedInfo", NS)
    expect(si.find("ds:CanonicalizationMethod", NS).get("Algorithm") == EXC_C14N, f"{what}: c14n")
    alg = si.find("ds:SignatureMethod", NS).get("Algorithm")
    expect(alg == RSA_SHA256, f"{what}: SignatureMethod {alg}")
    refs = si.findall("ds:Reference", NS)
    expect(len(refs) == 1, f"{what}: {len(refs)} references")
    expect(refs[0].get("URI") == "#" + el.get("ID"), f"{what}: reference does not point at the element")
    transforms = [t.get("Algorithm") for t in refs[0].findall("ds:Transforms/ds:Transform", NS)]
    expect(transforms == [ENVELOPED, EXC_C14N], f"{what}: transforms {transforms}")
    dig = refs[0].find("ds:DigestMethod", NS).get("Algorithm")
    expect(dig == SHA256, f"{what}: DigestMethod {dig}")


def check_assertion(a, args):
    idp, sp, acs, user = args.idp, args.sp, args.acs, args.user
    expect(a.find("saml:Issuer", NS).text == idp, "Assertion Issuer")
    check_signature(a, "Assertion")
    nid = a.find("saml:Subject/saml:NameID", NS)
    expect(nid is not None and nid.text == user, f"NameID {nid.text if nid is not None else None!r}")
    expect(nid.get("Format") == PERSISTENT, f"NameID Format {nid.get('Format')}")
    scs = a.findall("saml:Subject/saml:SubjectConfirmation", NS)
    expect(len(scs) == 1 and scs[0].get("Method") == BEARER, "one bearer SubjectConfirmation")
    scd = scs[0].find("saml:SubjectConfirmationData", NS)
    expect(scd.get("Recipient") == acs, f"Recipient {scd.get('Recipient')}")
    expect(scd.get("InResponseTo") == args.in_response_to,
           f"SubjectConfirmationData InResponseTo {scd.get('InResponseTo')}")
    expect(scd.get("NotOnOrAfter"), "SubjectConfirmationData NotOnOrAfter")
    cond = a.find("saml:Conditions", NS)
    expect(cond.get("NotBefore") and cond.get("NotOnOrAfter"), "Conditions window")
    auds = [x.text for x in cond.findall("saml:AudienceRestriction/saml:Audience", NS)]
    expect(auds == [sp], f"Audience {auds}")
    expect(a.find("saml:AuthnStatement", NS) is not None, "AuthnStatement")

    attrs = {}
    for at in a.findall("saml:AttributeStatement/saml:Attribute", NS):
        attrs[at.get("Name")] = [v.text for v in at.findall("saml:AttributeValue", NS)]
        expect(at.get("NameFormat") == "urn:oasis:names:tc:SAML:2.0:attrname-format:basic",
               f"NameFormat of {at.get('Name')}")
    expect(attrs.get("uid") == [user], f"uid {attrs.get('uid')}")
    expect(attrs.get("mail") == [f"{user}@example.org"], f"mail {attrs.get('mail')}")
    expect(attrs.get("displayName") == [f"{user.capitalize()} Example"], f"displayName {attrs.get('displayName')}")
    groups = sorted(g for g in (args.groups or "").split(";") if g)
    if groups:
        expect(sorted(attrs.get("memberOf", [])) == groups, f"memberOf {attrs.get('memberOf')}")
    else:
        expect("memberOf" not in attrs or attrs["memberOf"] == [], f"memberOf {attrs.get('memberOf')}")
    extra = set(attrs) - {"uid", "mail", "displayName", "memberOf"}
    expect(not extra, f"unexpected attributes {sorted(extra)}")
    return attrs, nid


def check(args):
    root = ET.parse(args.response).getroot()
    if args.assertion_only:
        found = root.findall(".//saml:Assertion", NS)
        expect(len(found) == 1, f"{len(found)} assertions after decryption")
        attrs, nid = check_assertion(found[0], args)
        print(f"  decrypted assertion ok: NameID {nid.text} ({nid.get('Format')}), attributes "
              + ", ".join(f"{k}={v}" for k, v in attrs.items()))
        return
    expect(root.tag == f"{{{NS['samlp']}}}Response", f"root is {root.tag}")
    expect(root.get("Destination") == args.acs, f"Destination {root.get('Destination')}")
    expect(root.get("InResponseTo") == args.in_response_to, f"InResponseTo {root.get('InResponseTo')}")
    expect(root.find("saml:Issuer", NS).text == args.idp, "Response Issuer")
    expect(root.find("samlp:Status/samlp:StatusCode", NS).get("Value") == SUCCESS, "Status")
    check_signature(root, "Response")
    plain = root.findall("saml:Assertion", NS)
    enc = root.findall("saml:EncryptedAssertion", NS)
    if args.encrypted:
        expect(not plain and len(enc) == 1, "expected exactly one EncryptedAssertion and no Assertion")
        ed = enc[0].find("xenc:EncryptedData", NS)
        data_alg = ed.find("xenc:EncryptionMethod", NS).get("Algorithm")
        ek = enc[0].find(".//xenc:EncryptedKey", NS)
        key_method = ek.find("xenc:EncryptionMethod", NS)
        key_alg = key_method.get("Algorithm")
        digest = key_method.find("ds:DigestMethod", NS)
        print(f"  EncryptedAssertion: data {data_alg}, key transport {key_alg}"
              + (f" (digest {digest.get('Algorithm')})" if digest is not None else ""))
        return
    expect(len(plain) == 1 and not enc, f"{len(plain)} assertions, {len(enc)} encrypted")
    attrs, nid = check_assertion(plain[0], args)
    print(f"  ok: NameID {nid.text} ({nid.get('Format')}), attributes "
          + ", ".join(f"{k}={v}" for k, v in attrs.items()))


def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    rest = sys.argv[2:]
    if cmd == "authn-url" and len(rest) in (4, 5):
        authn_url(*rest)
    elif cmd == "login-form" and len(rest) == 1:
        login_form(*rest)
    elif cmd == "post-form" and len(rest) == 2:
        post_form(*rest)
    elif cmd == "check":
        p = argparse.ArgumentParser(prog="smoke_saml.py check")
        p.add_argument("response")
        p.add_argument("--idp", required=True)
        p.add_argument("--sp", required=True)
        p.add_argument("--acs", required=True)
        p.add_argument("--user", required=True)
        p.add_argument("--groups", default="")
        p.add_argument("--in-response-to", default=None)
        p.add_argument("--encrypted", action="store_true")
        p.add_argument("--assertion-only", action="store_true")
        try:
            check(p.parse_args(rest))
        except (CheckError, AttributeError) as e:
            print(f"  response check failed: {e}", file=sys.stderr)
            sys.exit(1)
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
