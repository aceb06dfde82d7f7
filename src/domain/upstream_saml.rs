//! The upstream IdP's own signed SAML Response, kept with the session for SAML pass-through.

use chrono::{DateTime, Utc};
use std::fmt;

/// AWS redeems an assertion only within this many seconds of its IssueInstant.
pub const AWS_SAML_REDEMPTION_SECONDS: i64 = 300;

/// The name of the attribute that marks an assertion as usable for pass-through.
pub const AWS_ROLE_ATTRIBUTE: &str = "https://aws.amazon.com/SAML/Attributes/Role";

/// A verified upstream Response, base64 exactly as it was verified. It is a bearer credential
/// for AWS while AWS accepts it, so `Debug` never shows it and nothing logs it.
#[derive(Clone, PartialEq, Eq)]
pub struct UpstreamSaml {
    response_b64: String,
    /// The Assertion's IssueInstant.
    pub issue_instant: DateTime<Utc>,
}

impl UpstreamSaml {
    pub fn new(response_b64: String, issue_instant: DateTime<Utc>) -> Self {
        Self {
            response_b64,
            issue_instant,
        }
    }

    /// The Response as base64, for AssumeRoleWithSAML (and the database) only.
    pub fn response_b64(&self) -> &str {
        &self.response_b64
    }

    /// The last instant at which AWS still redeems it.
    pub fn redeemable_until(&self) -> DateTime<Utc> {
        self.issue_instant + chrono::Duration::seconds(AWS_SAML_REDEMPTION_SECONDS)
    }
}

impl fmt::Debug for UpstreamSaml {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpstreamSaml")
            .field(
                "response_b64",
                &format_args!("<{} bytes>", self.response_b64.len()),
            )
            .field("issue_instant", &self.issue_instant)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn debug_never_shows_the_response() {
        let at = Utc
            .with_ymd_and_hms(2026, 1, 2, 3, 4, 5)
            .single()
            .unwrap_or_default();
        let u = UpstreamSaml::new("PHNhbWxwOlJlc3BvbnNlIHNlY3JldA==".into(), at);
        let shown = format!("{u:?} {u:#?}");
        assert!(!shown.contains("PHNhbW"), "{shown}");
        assert!(shown.contains("32 bytes"));
        assert_eq!(u.redeemable_until(), at + chrono::Duration::seconds(300));
    }
}
