//! The upstream provider's own verified ID token, kept with the session for OIDC pass-through.

use chrono::{DateTime, Utc};
use std::fmt;

/// A verified upstream ID token exactly as the provider issued it. It is a bearer credential
/// for AWS until it expires, so `Debug` never shows it and nothing logs it.
#[derive(Clone, PartialEq, Eq)]
pub struct UpstreamIdToken {
    token: String,
    /// The token's `exp`.
    pub expires_at: DateTime<Utc>,
}

impl UpstreamIdToken {
    pub fn new(token: String, expires_at: DateTime<Utc>) -> Self {
        Self { token, expires_at }
    }

    /// The compact JWS, for AssumeRoleWithWebIdentity (and the database) only.
    pub fn token(&self) -> &str {
        &self.token
    }
}

impl fmt::Debug for UpstreamIdToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpstreamIdToken")
            .field("token", &format_args!("<{} chars>", self.token.len()))
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// What a session holds for OIDC pass-through.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum KeptIdToken {
    /// The sign-in kept no ID token (SAML).
    #[default]
    None,
    /// Opened from its sealed form.
    Open(UpstreamIdToken),
    /// Kept, but it cannot be read: the person must sign in again for pass-through.
    Unreadable(UnreadableIdToken),
}

/// Why a kept ID token cannot be read. Each fails closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnreadableIdToken {
    #[error("it was sealed with key `{key_id}`, which is no longer configured ([sealing])")]
    KeyRemoved { key_id: String },
    #[error(
        "it does not open with key `{key_id}` for this session (sealed for another session, \
         altered, or the key's material changed)"
    )]
    DoesNotOpen { key_id: String },
    #[error("it was stored before ID tokens were sealed and was dropped (migration 0015)")]
    Dropped,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_token() {
        let t = UpstreamIdToken::new("eyJhbGciOi.secret.sig".into(), DateTime::UNIX_EPOCH);
        assert!(!format!("{t:?}").contains("secret"));
    }
}
