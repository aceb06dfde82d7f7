//! The ACS pipeline: pre-scan → signature policy → libxmlsec1 verification on one parsed tree
//! with keys parsed once per IdP (`signed_tree`) → identity read from that tree → decryption →
//! profile checks.

use super::checks::{self, Expectations};
use super::guard::{self, Limits, Prescan, RootKind};
use super::signed_tree::{self, SharedKey, SignedTree};
use super::tree_reader;
use super::{SamlError, decrypt, policy};
use chrono::{DateTime, Duration, Utc};
use openssl::pkey::{PKey, Private};
use samael::crypto::CertificateDer;
use samael::schema::Assertion;
use std::borrow::Cow;
use std::collections::BTreeMap;

/// What an IdP is trusted for: its entity id and the signing certificates pinned for it (several,
/// so a rollover does not break sign-in).
#[derive(Debug, Clone)]
pub struct IdpTrust {
    pub entity_id: String,
    pub certificates: Vec<CertificateDer>,
    /// The certificates' public keys, loaded into libxmlsec1 once (here, when the IdP's trust is
    /// built or its metadata refreshed), never per request.
    keys: Vec<SharedKey>,
}

impl IdpTrust {
    /// Pins `certificates` for `entity_id`; refuses a certificate whose key libxmlsec1 cannot load.
    pub fn new(entity_id: String, certificates: Vec<CertificateDer>) -> Result<Self, String> {
        let keys = signed_tree::load_keys(&certificates)?;
        Ok(Self {
            entity_id,
            certificates,
            keys,
        })
    }
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

/// A Response pre-scanned once, owning its (comment-free) text: the ACS reads the untrusted header
/// from it to pick the IdP (by Issuer) and the pending login (by InResponseTo), then verifies the
/// same scan, so the document is not scanned twice.
pub struct ScannedResponse {
    scan: Prescan<'static>,
}

impl ScannedResponse {
    /// The header as it stands in the document, not yet trusted.
    pub fn header(&self) -> &guard::RawHeader {
        &self.scan.header
    }
}

/// Pre-scans `xml` (the guard's structural rules and limits) and keeps it for `verify_scanned`.
pub fn scan(xml: String, limits: &Limits) -> Result<ScannedResponse, SamlError> {
    let Prescan {
        xml: text,
        root,
        header,
        assertions,
        encrypted_assertions,
        signatures,
    } = guard::prescan(&xml, limits, RootKind::Response)?;
    // Without comments the scan borrowed the input, which is then kept as is (no copy).
    let stripped = match text {
        Cow::Owned(stripped) => Some(stripped),
        Cow::Borrowed(_) => None,
    };
    let scan = Prescan {
        xml: Cow::Owned(stripped.unwrap_or(xml)),
        root,
        header,
        assertions,
        encrypted_assertions,
        signatures,
    };
    Ok(ScannedResponse { scan })
}

pub fn verify_response(
    xml: &str,
    idp: &IdpTrust,
    sp: &SpContext<'_>,
    solicitation: &Solicitation,
    now: DateTime<Utc>,
) -> Result<VerifiedAssertion, SamlError> {
    let scan = guard::prescan(xml, &sp.limits, RootKind::Response)?;
    verify_prescanned(&scan, idp, sp, solicitation, now)
}

/// `verify_response` on a Response `scan` already pre-scanned (with the limits in `sp`).
pub fn verify_scanned(
    scanned: &ScannedResponse,
    idp: &IdpTrust,
    sp: &SpContext<'_>,
    solicitation: &Solicitation,
    now: DateTime<Utc>,
) -> Result<VerifiedAssertion, SamlError> {
    verify_prescanned(&scanned.scan, idp, sp, solicitation, now)
}

fn verify_prescanned(
    scan: &Prescan<'_>,
    idp: &IdpTrust,
    sp: &SpContext<'_>,
    solicitation: &Solicitation,
    now: DateTime<Utc>,
) -> Result<VerifiedAssertion, SamlError> {
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
        let response_signed = !scan.signatures.is_empty() && policy::check(scan)?.root;
        encrypted_assertion(scan, response_signed, idp, sp, &expect)?
    } else {
        policy::check(scan)?;
        plain_assertion(scan, idp, &expect)?
    };
    checks::assertion(&expect, assertion)
}

fn plain_assertion(
    scan: &Prescan<'_>,
    idp: &IdpTrust,
    expect: &Expectations<'_>,
) -> Result<Assertion, SamlError> {
    let tree = SignedTree::verify(&scan.xml, &idp.keys, scan.signatures.len())?;
    if let Some(root) = tree.signed_root() {
        signed_header(expect, root)?;
    }
    let node = tree
        .covered_assertion()
        .ok_or(SamlError::AssertionCount(0))?;
    tree_reader::assertion(node)
}

/// The header again, from the verified (signed) Response.
fn signed_header(
    expect: &Expectations<'_>,
    root: libxml::readonly::RoNode,
) -> Result<(), SamlError> {
    let (header, version) = tree_reader::response_header(root)?;
    checks::header(expect, &header, true)?;
    if version.as_deref() != Some("2.0") {
        return Err(SamlError::Malformed("Response version is not 2.0".into()));
    }
    Ok(())
}

fn encrypted_assertion(
    scan: &Prescan<'_>,
    response_signed: bool,
    idp: &IdpTrust,
    sp: &SpContext<'_>,
    expect: &Expectations<'_>,
) -> Result<Assertion, SamlError> {
    let key = sp.decryption_key.ok_or(SamlError::DecryptionFailed)?;
    // The pre-scan found exactly one EncryptedAssertion and no Assertion in this text; it is
    // read from the one parsed tree, which, when the Response is signed, is the verified one.
    let encrypted = if response_signed {
        let tree = SignedTree::verify(&scan.xml, &idp.keys, scan.signatures.len())?;
        let root = tree.signed_root().ok_or(SamlError::Unsigned)?;
        signed_header(expect, root)?;
        tree_reader::encrypted_assertion(root)?
    } else {
        let doc = signed_tree::parse(&scan.xml)?;
        let root = doc
            .get_root_readonly()
            .ok_or(SamlError::AssertionCount(0))?;
        tree_reader::encrypted_assertion(root)?
    };
    // CBC is malleable: without an outer signature it would be a padding oracle.
    if !response_signed && decrypt::content_cipher(&encrypted)?.is_cbc() {
        return Err(SamlError::CbcOutsideSignedResponse);
    }
    let plain = decrypt::decrypt(&encrypted, key)?;
    let inner = guard::prescan(&plain, &sp.limits, RootKind::Assertion)?;
    if inner.assertions != 1 || inner.encrypted_assertions != 0 {
        return Err(SamlError::AssertionCount(inner.assertions));
    }
    if inner.signatures.is_empty() {
        if !response_signed {
            return Err(SamlError::Unsigned);
        }
        return unsigned_assertion(&inner.xml);
    }
    policy::check(&inner)?;
    let tree = SignedTree::verify(&inner.xml, &idp.keys, inner.signatures.len())?;
    tree_reader::assertion(tree.root().ok_or(SamlError::AssertionCount(0))?)
}

/// An assertion covered by the (verified) outer Response signature: decrypted plaintext is
/// parsed once, with the same reader.
pub(super) fn unsigned_assertion(xml: &str) -> Result<Assertion, SamlError> {
    let doc = signed_tree::parse(xml)?;
    let root = doc
        .get_root_readonly()
        .ok_or(SamlError::AssertionCount(0))?;
    tree_reader::assertion(root)
}
