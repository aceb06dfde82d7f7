//! The ACS pipeline: pre-scan → signature policy → libxmlsec1 verification against pinned
//! certificates (samael keeps only the signed bytes) → decryption → profile checks.

use super::checks::{self, Expectations};
use super::guard::{self, Limits, Prescan, RootKind};
use super::{SamlError, decrypt, policy};
use chrono::{DateTime, Duration, Utc};
use openssl::pkey::{PKey, Private};
use samael::crypto::{CertificateDer, Crypto, CryptoProvider, ReduceMode};
use samael::schema::{Assertion, Response};
use std::collections::BTreeMap;

/// What an IdP is trusted for: its entity id and the signing certificates pinned for it (several,
/// so a rollover does not break sign-in).
#[derive(Debug, Clone)]
pub struct IdpTrust {
    pub entity_id: String,
    pub certificates: Vec<CertificateDer>,
}

pub struct SpContext<'a> {
    pub entity_id: &'a str,
    pub acs_url: &'a str,
    pub decryption_key: Option<&'a PKey<Private>>,
    pub skew: Duration,
    pub max_assertion_age: Duration,
    /// Longest NotOnOrAfter − IssueInstant accepted (`[saml] max_assertion_lifetime_seconds`).
    pub max_assertion_lifetime: Duration,
    pub limits: Limits,
}

/// Whether this browser started the login (and with which AuthnRequest id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Solicitation {
    Solicited { request_id: String },
    Unsolicited { allowed: bool },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedAssertion {
    pub assertion_id: String,
    pub issuer: String,
    pub name_id: Option<String>,
    pub name_id_format: Option<String>,
    pub session_index: Option<String>,
    /// Until when the assertion id must stay in the replay cache.
    pub replay_until: DateTime<Utc>,
    /// The Assertion's IssueInstant (AWS redeems an assertion within 5 minutes of it).
    pub issue_instant: DateTime<Utc>,
    pub attributes: BTreeMap<String, Vec<String>>,
}

/// Reads the Response header without trusting it, so the caller can pick the IdP (by Issuer) and
/// the pending login (by InResponseTo) before verification.
pub fn peek(xml: &str, limits: &Limits) -> Result<guard::RawHeader, SamlError> {
    guard::prescan(xml, limits, RootKind::Response).map(|p| p.header)
}

pub fn verify_response(
    xml: &str,
    idp: &IdpTrust,
    sp: &SpContext<'_>,
    solicitation: &Solicitation,
    now: DateTime<Utc>,
) -> Result<VerifiedAssertion, SamlError> {
    let scan = guard::prescan(xml, &sp.limits, RootKind::Response)?;
    if let Solicitation::Unsolicited { allowed: false } = solicitation {
        return Err(SamlError::UnsolicitedRefused);
    }
    // Refuse on the raw header first: a failed login usually arrives unsigned and without an
    // assertion, and its status is the reason worth logging.
    let expect = Expectations {
        idp_entity_id: &idp.entity_id,
        sp_entity_id: sp.entity_id,
        acs_url: sp.acs_url,
        solicitation,
        skew: sp.skew,
        max_age: sp.max_assertion_age,
        max_lifetime: sp.max_assertion_lifetime,
        now,
    };
    checks::header(&expect, &scan.header, false)?;
    let total = scan.assertions + scan.encrypted_assertions;
    if total != 1 {
        return Err(SamlError::AssertionCount(total));
    }

    let assertion = if scan.encrypted_assertions == 1 {
        // An encrypted assertion's own signature is inside the ciphertext, so the Response may
        // be unsigned; `encrypted_assertion` then requires the inner signature.
        let response_signed = !scan.signatures.is_empty() && policy::check(&scan)?.root;
        encrypted_assertion(&scan, response_signed, idp, sp, &expect)?
    } else {
        policy::check(&scan)?;
        plain_assertion(&scan, idp, &expect)?
    };
    checks::assertion(&expect, &assertion)
}

fn plain_assertion(
    scan: &Prescan,
    idp: &IdpTrust,
    expect: &Expectations<'_>,
) -> Result<Assertion, SamlError> {
    let reduced = reduce(&scan.xml, idp)?;
    if is_root(&reduced, "Response") {
        let response = parse_response(&reduced)?;
        checks::signed_response(expect, &response)?;
        response.assertion.ok_or(SamlError::AssertionCount(0))
    } else {
        parse_assertion(&reduced)
    }
}

fn encrypted_assertion(
    scan: &Prescan,
    response_signed: bool,
    idp: &IdpTrust,
    sp: &SpContext<'_>,
    expect: &Expectations<'_>,
) -> Result<Assertion, SamlError> {
    let key = sp.decryption_key.ok_or(SamlError::DecryptionFailed)?;
    let response = if response_signed {
        let reduced = reduce(&scan.xml, idp)?;
        let response = parse_response(&reduced)?;
        checks::signed_response(expect, &response)?;
        response
    } else {
        parse_response(&scan.xml)?
    };
    let encrypted = response
        .encrypted_assertion
        .as_ref()
        .ok_or(SamlError::AssertionCount(0))?;
    // CBC is malleable: without an outer signature it would be a padding oracle.
    if !response_signed && decrypt::content_cipher(encrypted)?.is_cbc() {
        return Err(SamlError::CbcOutsideSignedResponse);
    }
    let plain = decrypt::decrypt(encrypted, key)?;
    let inner = guard::prescan(&plain, &sp.limits, RootKind::Assertion)?;
    if inner.assertions != 1 || inner.encrypted_assertions != 0 {
        return Err(SamlError::AssertionCount(inner.assertions));
    }
    if inner.signatures.is_empty() {
        if !response_signed {
            return Err(SamlError::Unsigned);
        }
        return parse_assertion(&inner.xml);
    }
    policy::check(&inner)?;
    parse_assertion(&reduce(&inner.xml, idp)?)
}

fn reduce(xml: &str, idp: &IdpTrust) -> Result<String, SamlError> {
    if idp.certificates.is_empty() {
        // Unreachable through configuration; kept so no path ever verifies against nothing.
        return Err(SamlError::BadSignature);
    }
    Crypto::reduce_xml_to_signed_with_allowed_algorithms(
        xml,
        &idp.certificates,
        ReduceMode::ValidateAndMarkNoAncestors,
        Some(policy::ALLOWED_SIGNATURES),
    )
    .map_err(|_| SamlError::BadSignature)
}

fn is_root(xml: &str, local: &str) -> bool {
    let mut reader = quick_xml::Reader::from_str(xml);
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Start(e)) | Ok(quick_xml::events::Event::Empty(e)) => {
                return e.local_name().as_ref() == local.as_bytes();
            }
            Ok(quick_xml::events::Event::Eof) | Err(_) => return false,
            Ok(_) => {}
        }
    }
}

fn parse_response(xml: &str) -> Result<Response, SamlError> {
    xml.parse::<Response>()
        .map_err(|e| SamlError::Malformed(format!("Response: {e}")))
}

fn parse_assertion(xml: &str) -> Result<Assertion, SamlError> {
    xml.parse::<Assertion>()
        .map_err(|e| SamlError::Malformed(format!("Assertion: {e}")))
}
