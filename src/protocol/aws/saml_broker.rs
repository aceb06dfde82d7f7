//! Broker mode: the SAML Response Roleport signs as the IdP AWS trusts, naming exactly the
//! picked role. Built here (samael's IdP helper omits NotOnOrAfter and digests with SHA-1)
//! and signed twice with RSA-SHA256 / SHA-256 / exclusive C14N: first the Assertion as a
//! document of its own, then the Response around it.

use std::fmt;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use openssl::pkey::{PKey, Private};
use openssl::x509::X509;
use samael::crypto::SigningKey;

use super::broker_request::{NOT_BEFORE_SKEW_SECONDS, SamlBrokerRequest};
use super::error::AwsRuleError;
use crate::protocol::xml::escape;

/// Every AWS SAML attribute name starts with this.
pub const AWS_SAML_ATTRIBUTE_PREFIX: &str = "https://aws.amazon.com/SAML/Attributes/";
/// The smallest RSA key Roleport signs with.
const MIN_RSA_BITS: u32 = 2048;

const NS_PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
const NS_ASSERTION: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
const NS_DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";
const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
const ENTITY_FORMAT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:entity";
const PERSISTENT_FORMAT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent";
const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";
const URI_NAME_FORMAT: &str = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri";
const AUTHN_CONTEXT_UNSPECIFIED: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified";
const STATUS_SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";

/// Why no Response was produced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BrokerError {
    #[error(transparent)]
    Rule(#[from] AwsRuleError),
    #[error("broker signing key: {0}")]
    Key(String),
    #[error("signing the SAML Response failed: {0}")]
    Signing(String),
}

/// Roleport's active IdP signing key (RSA, at least 2048 bits) and its certificate, which
/// the metadata registered in IAM carries. `Debug` does not show the key.
#[derive(Clone)]
pub struct BrokerSigningKey {
    /// Loaded into libxmlsec1 once, when the key is read (at start or on rotation), not per
    /// signature.
    private_key: Arc<SigningKey>,
    certificate_der: Vec<u8>,
}

impl fmt::Debug for BrokerSigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BrokerSigningKey")
            .field("private_key", &"<redacted>")
            .field("certificate_der_len", &self.certificate_der.len())
            .finish()
    }
}

impl BrokerSigningKey {
    /// From a PEM private key (PKCS#8 or PKCS#1) and its PEM certificate.
    pub fn from_pem(private_key_pem: &[u8], certificate_pem: &[u8]) -> Result<Self, BrokerError> {
        let key = PKey::private_key_from_pem(private_key_pem)
            .map_err(|e| BrokerError::Key(format!("private key is not PEM: {e}")))?;
        let cert = X509::from_pem(certificate_pem)
            .map_err(|e| BrokerError::Key(format!("certificate is not PEM: {e}")))?;
        Self::new(&key, &cert)
    }

    /// From a DER private key (PKCS#8 or PKCS#1) and its DER certificate.
    pub fn from_der(private_key_der: &[u8], certificate_der: &[u8]) -> Result<Self, BrokerError> {
        let key = PKey::private_key_from_der(private_key_der)
            .map_err(|e| BrokerError::Key(format!("private key is not DER: {e}")))?;
        let cert = X509::from_der(certificate_der)
            .map_err(|e| BrokerError::Key(format!("certificate is not DER: {e}")))?;
        Self::new(&key, &cert)
    }

    fn new(key: &PKey<Private>, cert: &X509) -> Result<Self, BrokerError> {
        let rsa = key
            .rsa()
            .map_err(|_| BrokerError::Key("only RSA keys can sign rsa-sha256".into()))?;
        if rsa.size() * 8 < MIN_RSA_BITS {
            return Err(BrokerError::Key(format!(
                "RSA key shorter than {MIN_RSA_BITS} bits"
            )));
        }
        let cert_key = cert
            .public_key()
            .map_err(|e| BrokerError::Key(format!("certificate public key: {e}")))?;
        if !cert_key.public_eq(key) {
            return Err(BrokerError::Key(
                "the certificate is not for this private key".into(),
            ));
        }
        let private_key_der = key
            .private_key_to_pkcs8()
            .map_err(|e| BrokerError::Key(format!("encoding the private key: {e}")))?;
        let certificate_der = cert
            .to_der()
            .map_err(|e| BrokerError::Key(format!("encoding the certificate: {e}")))?;
        let private_key = SigningKey::from_private_key_der(&private_key_der)
            .map_err(|e| BrokerError::Key(format!("libxmlsec1 cannot load the key: {e}")))?;
        Ok(BrokerSigningKey {
            private_key: Arc::new(private_key),
            certificate_der,
        })
    }

    pub fn certificate_der(&self) -> &[u8] {
        &self.certificate_der
    }
}

/// A signed Response ready for AssumeRoleWithSAML (`SAMLAssertion`) or an HTTP-POST form
/// (`SAMLResponse`). It can be redeemed until `not_on_or_after`, so `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct SignedSamlResponse {
    /// The signed XML document.
    pub xml: String,
    /// `xml` in standard base64.
    pub saml_response: String,
    pub response_id: String,
    pub assertion_id: String,
    pub issue_instant: DateTime<Utc>,
    pub not_before: DateTime<Utc>,
    pub not_on_or_after: DateTime<Utc>,
}

impl fmt::Debug for SignedSamlResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedSamlResponse")
            .field("xml", &format_args!("<{} bytes>", self.xml.len()))
            .field("response_id", &self.response_id)
            .field("assertion_id", &self.assertion_id)
            .field("issue_instant", &self.issue_instant)
            .field("not_before", &self.not_before)
            .field("not_on_or_after", &self.not_on_or_after)
            .finish()
    }
}

/// Validates `req` against every AWS rule, then writes and signs the Response: the Assertion
/// is signed on its own, embedded, and the Response is signed around it.
pub fn build_signed_response(
    req: &SamlBrokerRequest,
    key: &BrokerSigningKey,
) -> Result<SignedSamlResponse, BrokerError> {
    req.validate()?;
    let times = Times::new(req);
    let cert_b64 = STANDARD.encode(&key.certificate_der);

    let assertion = assertion_xml(req, &times, &cert_b64);
    let signed_assertion = sign(&assertion, key)?;
    let signed_assertion = strip_xml_declaration(&signed_assertion);

    let response = response_xml(req, &times, &cert_b64, signed_assertion);
    let signed_response = sign(&response, key)?;
    let xml = strip_xml_declaration(&signed_response)
        .trim_end()
        .to_owned();

    Ok(SignedSamlResponse {
        saml_response: STANDARD.encode(xml.as_bytes()),
        xml,
        response_id: req.response_id.clone(),
        assertion_id: req.assertion_id.clone(),
        issue_instant: times.issue_instant,
        not_before: times.not_before,
        not_on_or_after: times.not_on_or_after,
    })
}

/// The instants written, truncated to whole seconds (never later than intended).
struct Times {
    issue_instant: DateTime<Utc>,
    not_before: DateTime<Utc>,
    not_on_or_after: DateTime<Utc>,
    authn_instant: DateTime<Utc>,
}

impl Times {
    fn new(req: &SamlBrokerRequest) -> Self {
        let whole =
            |t: DateTime<Utc>| t - TimeDelta::nanoseconds(i64::from(t.timestamp_subsec_nanos()));
        let now = whole(req.now);
        Times {
            issue_instant: now,
            not_before: now - TimeDelta::seconds(i64::from(NOT_BEFORE_SKEW_SECONDS)),
            not_on_or_after: now + TimeDelta::seconds(i64::from(req.valid_for_seconds)),
            authn_instant: whole(req.authn_instant),
        }
    }
}

fn instant(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// An enveloped-signature template for `reference_id`, with the certificate as KeyInfo.
fn signature_template(reference_id: &str, cert_b64: &str) -> String {
    format!(
        "<ds:Signature xmlns:ds=\"{NS_DSIG}\"><ds:SignedInfo>\
         <ds:CanonicalizationMethod Algorithm=\"{EXC_C14N}\"/>\
         <ds:SignatureMethod Algorithm=\"{RSA_SHA256}\"/>\
         <ds:Reference URI=\"#{id}\"><ds:Transforms>\
         <ds:Transform Algorithm=\"{ENVELOPED}\"/>\
         <ds:Transform Algorithm=\"{EXC_C14N}\"/>\
         </ds:Transforms><ds:DigestMethod Algorithm=\"{SHA256}\"/>\
         <ds:DigestValue></ds:DigestValue></ds:Reference></ds:SignedInfo>\
         <ds:SignatureValue></ds:SignatureValue>\
         <ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert_b64}</ds:X509Certificate>\
         </ds:X509Data></ds:KeyInfo></ds:Signature>",
        id = escape(reference_id),
    )
}

fn attribute(out: &mut String, name: &str, values: &[&str]) {
    out.push_str(&format!(
        "<saml:Attribute Name=\"{}{}\" NameFormat=\"{URI_NAME_FORMAT}\">",
        AWS_SAML_ATTRIBUTE_PREFIX,
        escape(name)
    ));
    for v in values {
        out.push_str(&format!(
            "<saml:AttributeValue>{}</saml:AttributeValue>",
            escape(v)
        ));
    }
    out.push_str("</saml:Attribute>");
}

fn assertion_xml(req: &SamlBrokerRequest, t: &Times, cert_b64: &str) -> String {
    let mut attributes = String::new();
    attribute(&mut attributes, "Role", &[&req.role_attribute_value()]);
    attribute(
        &mut attributes,
        "RoleSessionName",
        &[req.role_session_name.as_str()],
    );
    attribute(
        &mut attributes,
        "SessionDuration",
        &[&req.session_duration_seconds.to_string()],
    );
    attribute(
        &mut attributes,
        "SourceIdentity",
        &[req.source_identity.as_str()],
    );
    for (key, value) in req.session_tags.tags() {
        attribute(&mut attributes, &format!("PrincipalTag:{key}"), &[value]);
    }
    let transitive: Vec<&str> = req
        .session_tags
        .transitive_keys()
        .iter()
        .map(String::as_str)
        .collect();
    if !transitive.is_empty() {
        attribute(&mut attributes, "TransitiveTagKeys", &transitive);
    }
    let recipient = escape(req.endpoints.saml_recipient.as_str());
    format!(
        "<saml:Assertion xmlns:saml=\"{NS_ASSERTION}\" ID=\"{id}\" Version=\"2.0\" IssueInstant=\"{issued}\">\
         <saml:Issuer Format=\"{ENTITY_FORMAT}\">{issuer}</saml:Issuer>\
         {signature}\
         <saml:Subject><saml:NameID Format=\"{PERSISTENT_FORMAT}\">{name_id}</saml:NameID>\
         <saml:SubjectConfirmation Method=\"{BEARER}\">\
         <saml:SubjectConfirmationData NotOnOrAfter=\"{not_after}\" Recipient=\"{recipient}\"/>\
         </saml:SubjectConfirmation></saml:Subject>\
         <saml:Conditions NotBefore=\"{not_before}\" NotOnOrAfter=\"{not_after}\">\
         <saml:AudienceRestriction><saml:Audience>{audience}</saml:Audience></saml:AudienceRestriction>\
         </saml:Conditions>\
         <saml:AuthnStatement AuthnInstant=\"{authn}\" SessionIndex=\"{id}\">\
         <saml:AuthnContext><saml:AuthnContextClassRef>{AUTHN_CONTEXT_UNSPECIFIED}</saml:AuthnContextClassRef>\
         </saml:AuthnContext></saml:AuthnStatement>\
         <saml:AttributeStatement>{attributes}</saml:AttributeStatement>\
         </saml:Assertion>",
        id = escape(&req.assertion_id),
        issued = instant(t.issue_instant),
        issuer = escape(&req.issuer),
        signature = signature_template(&req.assertion_id, cert_b64),
        name_id = escape(&req.name_id),
        not_after = instant(t.not_on_or_after),
        not_before = instant(t.not_before),
        audience = escape(&req.endpoints.saml_audience),
        authn = instant(t.authn_instant),
    )
}

fn response_xml(
    req: &SamlBrokerRequest,
    t: &Times,
    cert_b64: &str,
    signed_assertion: &str,
) -> String {
    format!(
        "<samlp:Response xmlns:samlp=\"{NS_PROTOCOL}\" xmlns:saml=\"{NS_ASSERTION}\" \
         ID=\"{id}\" Version=\"2.0\" IssueInstant=\"{issued}\" Destination=\"{destination}\">\
         <saml:Issuer Format=\"{ENTITY_FORMAT}\">{issuer}</saml:Issuer>\
         {signature}\
         <samlp:Status><samlp:StatusCode Value=\"{STATUS_SUCCESS}\"/></samlp:Status>\
         {signed_assertion}\
         </samlp:Response>",
        id = escape(&req.response_id),
        issued = instant(t.issue_instant),
        destination = escape(req.endpoints.saml_recipient.as_str()),
        issuer = escape(&req.issuer),
        signature = signature_template(&req.response_id, cert_b64),
    )
}

/// Signs the first `ds:Signature` template of `xml` (document order) with `key`.
fn sign(xml: &str, key: &BrokerSigningKey) -> Result<String, BrokerError> {
    key.private_key
        .sign_xml(xml)
        .map_err(|e| BrokerError::Signing(e.to_string()))
}

/// libxml2 writes `<?xml version="1.0"?>` first; an embedded Assertion must not carry it.
fn strip_xml_declaration(xml: &str) -> &str {
    let trimmed = xml.trim_start();
    match trimmed
        .strip_prefix("<?xml")
        .and_then(|rest| rest.split_once("?>"))
    {
        Some((_, rest)) => rest.trim_start(),
        None => trimmed,
    }
}

#[cfg(test)]
#[path = "saml_broker_tests.rs"]
mod tests;
