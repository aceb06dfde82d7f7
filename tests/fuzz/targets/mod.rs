//! Fuzz targets for every parser that reads attacker-controlled bytes.
//!
//! Each target is a plain function of `&[u8]`, so the same body runs in two places: under
//! AFL++ (`tests/fuzz/bin/*.rs`, `bash deploy/fuzz.sh`), and as an ordinary test over the committed
//! corpus plus bounded mutations (`tests/api/fuzz.rs`), which needs no fuzzer toolchain. A
//! target panics only when an invariant breaks; a refusal is a normal outcome.
//!
//! Fixed inputs (the pinned IdP certificate, the SP decryption key, the OIDC key set and the
//! clock) live in `tests/fuzz/fixtures/`, so signed seeds in the corpus reach the signature checks
//! and beyond on every run.

pub mod fixtures;
pub mod oidc;
pub mod redirects;
pub mod rules;
pub mod saml;

/// What a target did with one input, for the test runner's "the corpus reaches the deep
/// path" checks. The fuzzer ignores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The input is not text; every entry point refuses such bytes before parsing.
    NotText,
    Refused,
    Accepted,
}

pub type Target = fn(&[u8]) -> Outcome;

/// Every target by name, as `deploy/fuzz.sh` and the test runner know them.
pub const TARGETS: &[(&str, Target)] = &[
    ("saml_response", saml::saml_response),
    ("saml_metadata", saml::saml_metadata),
    ("jws_header", oidc::jws_header),
    ("id_token", oidc::id_token),
    ("jwks", oidc::jwks),
    ("strict_json", oidc::strict_json),
    ("rules_document", rules::rules_document),
    ("return_to", redirects::return_to),
    ("console_destination", redirects::console_destination),
];

/// The target named `name`.
pub fn target(name: &str) -> Option<Target> {
    TARGETS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
}

fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}
