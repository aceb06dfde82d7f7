//! The fixed world every target runs in: names, the clock, and the keys the committed seeds
//! were made with (`tests/api/fuzz.rs`, `regenerate_fuzz_corpus`, writes both).

use chrono::{DateTime, TimeZone, Utc};
use openssl::pkey::{PKey, Private};
use openssl::x509::X509;
use roleport::protocol::oidc::KeySet;
use samael::crypto::CertificateDer;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::LazyLock;

pub const IDP_ENTITY_ID: &str = "https://idp.fuzz.test/metadata";
pub const SP_ENTITY_ID: &str = "https://roleport.fuzz.test/saml/metadata";
pub const ACS_URL: &str = "https://roleport.fuzz.test/saml/acs";
/// The AuthnRequest id a solicited seed answers.
pub const REQUEST_ID: &str = "_fuzz-request-0001";

pub const OIDC_ISSUER: &str = "https://op.fuzz.test";
pub const OIDC_CLIENT: &str = "roleport-fuzz";
pub const OIDC_NONCE: &str = "fuzz-nonce-0001";
pub const OIDC_ACCESS_TOKEN: &str = "fuzz-access-token";
/// An audience the ID token policy trusts besides the client id.
pub const OIDC_TRUSTED_AUDIENCE: &str = "roleport-fuzz-other";

/// The instant every seed was issued at; targets run a minute later.
pub fn issued() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_default()
}

pub fn now() -> DateTime<Utc> {
    issued() + chrono::Duration::minutes(1)
}

/// The IdP signing certificate Roleport pins (public; the key was thrown away).
pub static IDP_CERT: LazyLock<CertificateDer> = LazyLock::new(|| {
    let cert = X509::from_pem(include_bytes!("../fixtures/idp-signing-cert.pem"))
        .expect("fixtures/idp-signing-cert.pem is a certificate");
    CertificateDer::from(cert.to_der().expect("DER"))
});

/// Roleport's SAML decryption key: a test-only key, so encrypted seeds reach decryption.
pub static SP_KEY: LazyLock<PKey<Private>> = LazyLock::new(|| {
    PKey::private_key_from_pem(include_bytes!("../fixtures/sp-encryption.pem"))
        .expect("fixtures/sp-encryption.pem holds a private key")
});

/// The OpenID provider's public key set (the private keys were thrown away).
pub static OIDC_KEYS: LazyLock<KeySet> = LazyLock::new(|| {
    KeySet::from_jwks(include_bytes!("../fixtures/oidc-jwks.json"))
        .expect("fixtures/oidc-jwks.json is a usable JWKS")
});

/// The ID of an assertion whose content is this identity. The seed generator names every
/// signed assertion this way, so an accepted assertion whose identity does not match its ID
/// was not what the key signed: identity came from unsigned bytes.
pub fn assertion_fingerprint(
    name_id: Option<&str>,
    attributes: &BTreeMap<String, Vec<String>>,
) -> String {
    let canonical = serde_json::to_vec(&(name_id, attributes)).unwrap_or_default();
    format!(
        "_fz{}",
        &hex::encode(openssl::sha::sha256(&canonical))[..40]
    )
}

/// The `jti` of an ID token whose other claims are these: the same idea for OIDC. The claims
/// map is ordered, so its JSON is canonical.
pub fn claims_fingerprint(claims: &serde_json::Map<String, Value>) -> String {
    let mut rest = claims.clone();
    rest.remove("jti");
    let canonical = serde_json::to_vec(&rest).unwrap_or_default();
    format!("fz{}", &hex::encode(openssl::sha::sha256(&canonical))[..40])
}
