//! Roleport as the OAuth 2.0 authorization server of its own command-line client, and of that
//! client only: one fixed public client, PKCE S256 required (RFC 7636), loopback redirects only
//! (RFC 8252 §7.3), single-use short-lived codes, the device authorization grant (RFC 8628), and
//! access/refresh tokens that never outlive the Roleport session they were issued for.
//!
//! Pure: no I/O, time passed in, typed errors. Storage is `crate::db::cli_oauth`, the flow
//! `crate::service::cli_oauth`.

pub mod device;
pub mod pkce;
pub mod redirect;
pub mod tokens;

pub use device::{DeviceState, PollAnswer, UserCode, poll};
pub use pkce::{CodeChallenge, PkceError, verify_pkce};
pub use redirect::{LoopbackRedirect, RedirectError};
pub use tokens::{Lifetimes, RefreshDecision, RefreshRow, decide_refresh};

/// The one client this authorization server knows. It is public (a binary on a laptop holds no
/// secret), so PKCE and the loopback rule are what bind a code to the process that asked.
pub const CLIENT_ID: &str = "roleport-cli";

/// The grant type of RFC 8628 §3.4.
pub const DEVICE_GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// An OAuth error code (RFC 6749 §5.2, RFC 8628 §3.5) with a description safe to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub code: &'static str,
    pub description: String,
}

impl OAuthError {
    pub fn new(code: &'static str, description: impl Into<String>) -> Self {
        Self {
            code,
            description: description.into(),
        }
    }
}

/// Whether `client_id` is Roleport's own CLI (exact comparison).
pub fn check_client(client_id: Option<&str>) -> Result<(), OAuthError> {
    match client_id {
        Some(CLIENT_ID) => Ok(()),
        Some(_) => Err(OAuthError::new(
            "invalid_client",
            "this authorization server serves only the roleport-cli client",
        )),
        None => Err(OAuthError::new("invalid_request", "client_id is missing")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_cli_is_a_client() {
        assert!(check_client(Some("roleport-cli")).is_ok());
        for other in ["Roleport-cli", "roleport-cli ", "", "aws-cli"] {
            assert_eq!(
                check_client(Some(other)).unwrap_err().code,
                "invalid_client"
            );
        }
        assert_eq!(check_client(None).unwrap_err().code, "invalid_request");
    }
}
