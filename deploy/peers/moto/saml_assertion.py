"""Builds an AWS-style SAML 2.0 Response by hand (UNSIGNED), as Roleport's SAML broker would shape it.

For experiments and smoke tests against moto only: moto never checks signatures, so an unsigned
Response is enough there. Real AWS (and Roleport's strict checker) need it signed.

    from saml_assertion import build_response
    xml = build_response(role_arn, provider_arn, "alice", duration=3600,
                         source_identity="alice", tags={"team": "ops"})
    b64 = base64.b64encode(xml.encode()).decode()   # the SAMLAssertion parameter
"""

from __future__ import annotations

import datetime
import uuid
from xml.sax.saxutils import escape, quoteattr

AWS_ATTR = "https://aws.amazon.com/SAML/Attributes/"


def _ts(t: datetime.datetime) -> str:
    return t.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _attribute(name: str, values: list[str]) -> str:
    vals = "".join(f'<saml:AttributeValue xsi:type="xs:string">{escape(v)}</saml:AttributeValue>' for v in values)
    return (
        f'<saml:Attribute Name={quoteattr(name)} '
        f'NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:uri">{vals}</saml:Attribute>'
    )


def build_response(
    role_arn: str,
    provider_arn: str,
    session_name: str | None,
    *,
    duration: int | None = None,
    source_identity: str | None = None,
    tags: dict[str, str] | None = None,
    transitive_tag_keys: list[str] | None = None,
    role_values: list[str] | None = None,
    issuer: str = "http://127.0.0.1:8080/aws/saml-metadata.xml",
    recipient: str = "https://signin.aws.amazon.com/saml",
    audience: str = "urn:amazon:webservices",
    name_id: str = "alice",
    now: datetime.datetime | None = None,
    extra_attributes: dict[str, list[str]] | None = None,
) -> str:
    """role_values overrides the Role attribute's values (default one value 'role-arn,provider-arn')."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    not_on_or_after = now + datetime.timedelta(minutes=5)
    rid, aid = "_" + uuid.uuid4().hex, "_" + uuid.uuid4().hex
    attrs: list[str] = [_attribute(AWS_ATTR + "Role", role_values or [f"{role_arn},{provider_arn}"])]
    if session_name is not None:
        attrs.append(_attribute(AWS_ATTR + "RoleSessionName", [session_name]))
    if duration is not None:
        attrs.append(_attribute(AWS_ATTR + "SessionDuration", [str(duration)]))
    if source_identity is not None:
        attrs.append(_attribute(AWS_ATTR + "SourceIdentity", [source_identity]))
    for k, v in (tags or {}).items():
        attrs.append(_attribute(AWS_ATTR + f"PrincipalTag:{k}", [v]))
    if transitive_tag_keys:
        attrs.append(_attribute(AWS_ATTR + "TransitiveTagKeys", transitive_tag_keys))
    for k, vs in (extra_attributes or {}).items():
        attrs.append(_attribute(k, vs))
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ID="{rid}" Version="2.0" IssueInstant="{_ts(now)}" Destination={quoteattr(recipient)}>
<saml:Issuer>{escape(issuer)}</saml:Issuer>
<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>
<saml:Assertion ID="{aid}" Version="2.0" IssueInstant="{_ts(now)}">
<saml:Issuer>{escape(issuer)}</saml:Issuer>
<saml:Subject>
<saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent">{escape(name_id)}</saml:NameID>
<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="{_ts(not_on_or_after)}" Recipient={quoteattr(recipient)}/></saml:SubjectConfirmation>
</saml:Subject>
<saml:Conditions NotBefore="{_ts(now - datetime.timedelta(seconds=30))}" NotOnOrAfter="{_ts(not_on_or_after)}"><saml:AudienceRestriction><saml:Audience>{escape(audience)}</saml:Audience></saml:AudienceRestriction></saml:Conditions>
<saml:AuthnStatement AuthnInstant="{_ts(now)}" SessionIndex="{aid}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>
<saml:AttributeStatement>{"".join(attrs)}</saml:AttributeStatement>
</saml:Assertion>
</samlp:Response>
"""
