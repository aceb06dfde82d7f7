//! Roleport as a SAML service provider: its own keys and the limits every response is held to.

use serde::Deserialize;
use std::path::PathBuf;

use super::default_max_lifetime;

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct SamlSettings {
    /// Defaults to `<public_url>/saml/metadata`.
    #[serde(default)]
    pub entity_id: Option<String>,
    /// PEM key and certificate for signing AuthnRequests and decrypting assertions.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    #[serde(default)]
    pub cert_file: Option<PathBuf>,
    #[serde(default = "default_skew")]
    pub clock_skew_seconds: i64,
    #[serde(default = "default_max_response_bytes")]
    pub max_response_bytes: usize,
    #[serde(default = "default_max_depth")]
    pub max_xml_depth: usize,
    /// Assertions issued longer ago than this are refused even if their conditions allow more.
    #[serde(default = "default_max_assertion_age")]
    pub max_assertion_age_seconds: i64,
    /// Longest NotOnOrAfter − IssueInstant accepted, for the Conditions and every bearer
    /// SubjectConfirmationData. Default 86400 (24 h), 60..=86400.
    #[serde(default = "default_max_lifetime")]
    pub max_assertion_lifetime_seconds: i64,
}

impl Default for SamlSettings {
    fn default() -> Self {
        Self {
            entity_id: None,
            key_file: None,
            cert_file: None,
            clock_skew_seconds: default_skew(),
            max_response_bytes: default_max_response_bytes(),
            max_xml_depth: default_max_depth(),
            max_assertion_age_seconds: default_max_assertion_age(),
            max_assertion_lifetime_seconds: default_max_lifetime(),
        }
    }
}

/// What kind of upstream an `[[idp]]` is. `kind = "saml"` keeps its settings in [`IdpSettings`]
fn default_skew() -> i64 {
    90
}
fn default_max_response_bytes() -> usize {
    256 * 1024
}
fn default_max_depth() -> usize {
    32
}
fn default_max_assertion_age() -> i64 {
    600
}
