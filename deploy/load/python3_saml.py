"""python3-saml (OneLogin) verifying the harness's Responses in-process, as a Python SP would:
strict mode, signed Response and signed Assertion required, issuer, audience, destination and
times checked by OneLogin_Saml2_Response.is_valid.

    python python3_saml.py <cert.pem> <cpu-seconds> <idp entity id> <sp entity id> <acs url> <doc.xml>...

Prints "<documents verified per CPU-second> <documents verified>" (this process's CPU time).
"""
import base64
import sys
import time
from urllib.parse import urlsplit

from onelogin.saml2.response import OneLogin_Saml2_Response
from onelogin.saml2.settings import OneLogin_Saml2_Settings

cert_file, budget, idp_entity_id, sp_entity_id, acs_url, *files = sys.argv[1:]
cert = "".join(l for l in open(cert_file).read().splitlines() if "-----" not in l)
settings = OneLogin_Saml2_Settings(
    {
        "strict": True,
        "sp": {
            "entityId": sp_entity_id,
            "assertionConsumerService": {
                "url": acs_url,
                "binding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST",
            },
        },
        "idp": {
            "entityId": idp_entity_id,
            "singleSignOnService": {
                "url": "https://idp.invalid/sso",
                "binding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect",
            },
            "x509cert": cert,
        },
        "security": {"wantAssertionsSigned": True, "wantMessagesSigned": True},
    },
    sp_validation_only=True,
)
acs = urlsplit(acs_url)
request = {
    "https": "on" if acs.scheme == "https" else "off",
    "http_host": acs.hostname,
    "server_port": acs.port or (443 if acs.scheme == "https" else 80),
    "script_name": acs.path,
    "get_data": {},
    "post_data": {},
}
docs = [base64.b64encode(open(f, "rb").read()).decode() for f in files]

start = time.process_time()
verified = 0
while time.process_time() - start < float(budget):
    for doc in docs:
        response = OneLogin_Saml2_Response(settings, doc)
        if not response.is_valid(request, raise_exceptions=True):
            sys.exit(f"does not verify: {response.get_error()}")
        verified += 1
print(f"{verified / (time.process_time() - start):.1f} {verified}")
