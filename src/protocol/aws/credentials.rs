//! Temporary AWS credentials as STS returns them, and which call produced them.

use std::fmt;

use chrono::{DateTime, Utc};

/// STS temporary credentials. `Debug` never shows the secret key or the session token.
#[derive(Clone, PartialEq, Eq)]
pub struct TemporaryCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    pub expiration: DateTime<Utc>,
}

impl fmt::Debug for TemporaryCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TemporaryCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("session_token", &"<redacted>")
            .field("expiration", &self.expiration)
            .finish()
    }
}

/// Which STS call produced a set of credentials; decides what the console federation
/// endpoint allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CredentialKind {
    AssumeRoleWithSaml,
    AssumeRoleWithWebIdentity,
    /// `chained`: AssumeRole was called with temporary credentials (role chaining).
    AssumeRole {
        chained: bool,
    },
    FederationToken,
}

impl CredentialKind {
    /// Whether `getSigninToken` accepts a `SessionDuration` for these credentials: only for
    /// AssumeRole* credentials that are not role-chained.
    pub fn allows_console_session_duration(self) -> bool {
        match self {
            CredentialKind::AssumeRoleWithSaml
            | CredentialKind::AssumeRoleWithWebIdentity
            | CredentialKind::AssumeRole { chained: false } => true,
            CredentialKind::AssumeRole { chained: true } | CredentialKind::FederationToken => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_secrets() {
        let c = TemporaryCredentials {
            access_key_id: "ASIAEXAMPLE".into(),
            secret_access_key: "very-secret-key".into(),
            session_token: "very-secret-token".into(),
            expiration: DateTime::<Utc>::UNIX_EPOCH,
        };
        let shown = format!("{c:?} {c:#?}");
        assert!(shown.contains("ASIAEXAMPLE"));
        assert!(!shown.contains("very-secret"));
        assert!(shown.contains("<redacted>"));
    }

    #[test]
    fn console_session_duration_table() {
        let table = [
            (CredentialKind::AssumeRoleWithSaml, true),
            (CredentialKind::AssumeRoleWithWebIdentity, true),
            (CredentialKind::AssumeRole { chained: false }, true),
            (CredentialKind::AssumeRole { chained: true }, false),
            (CredentialKind::FederationToken, false),
        ];
        for (kind, want) in table {
            assert_eq!(kind.allows_console_session_duration(), want, "{kind:?}");
        }
    }
}
