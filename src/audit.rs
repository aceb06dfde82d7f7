//! Typed audit events. Each is one row of the `audit_events` table, linked into a keyed chain by
//! the [`sealer`] (the ordering guarantee is explained there) and checked by [`verify`].

pub mod canonical;
pub mod keys;
pub mod mac;
pub mod sealer;
pub mod settings;
pub mod verify;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Accepted,
    Rejected,
    NoRoles,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    SignIn,
    SignOut,
    RolesListed,
    CredentialsIssued,
    ConsoleLink,
    ConsoleSamlPost,
    /// Credentials issued only to be checked with GetCallerIdentity (never handed out).
    CredentialsCheck,
    /// The result of that GetCallerIdentity.
    CallerIdentityChecked,
    /// A support tool: DecodeAuthorizationMessage (also its refusals).
    AuthorizationMessageDecoded,
    /// Something done on the admin pages (`details.action`: `audit.search`, `sessions.end`,
    /// `rules.dry_run`, …), also refusals of people without the capability.
    AdminAction,
    /// A rules document imported (command line or admin page), or refused at import.
    RulesImported,
    /// The CLI was authorized by a signed-in person: an authorization code handed to its
    /// loopback redirect, or a device code approved or denied.
    CliAuthorized,
    /// The token endpoint issued (or refused, for a known session) CLI tokens.
    CliTokens,
    /// The CLI signed out (its token family revoked).
    CliSignOut,
    /// `roleport aws register --apply` created or updated an IAM SAML/OIDC provider in an
    /// account (or failed to).
    AwsRegistration,
    /// A step of the AWS signing key rotation (`details.step`: `generated`, `pushed`,
    /// `confirmed`, `switched`, `retired`, or a refused/failed step).
    AwsKeyRotation,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub kind: EventKind,
    pub outcome: Outcome,
    /// The precise reason for a rejection (a stable code plus detail).
    pub reason: Option<String>,
    pub idp: Option<String>,
    pub subject: Option<String>,
    pub groups: Vec<String>,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    /// Grants, rule ids, assertion id… whatever the event kind needs.
    pub details: serde_json::Value,
}

impl AuditEvent {
    pub fn new(kind: EventKind, outcome: Outcome) -> Self {
        Self {
            kind,
            outcome,
            reason: None,
            idp: None,
            subject: None,
            groups: Vec::new(),
            source_ip: None,
            user_agent: None,
            details: serde_json::Value::Object(serde_json::Map::new()),
        }
    }

    /// Postgres text and JSONB cannot hold NUL, and control characters have no place in a log:
    /// replace them so an odd user agent can never make the audit write fail.
    pub fn sanitized(mut self) -> Self {
        fn clean(s: &str) -> String {
            s.chars()
                .map(|c| if c.is_control() { '\u{fffd}' } else { c })
                .take(1024)
                .collect()
        }
        for field in [
            &mut self.reason,
            &mut self.idp,
            &mut self.subject,
            &mut self.source_ip,
            &mut self.user_agent,
        ] {
            if let Some(v) = field.as_mut() {
                *v = clean(v);
            }
        }
        for g in &mut self.groups {
            *g = clean(g);
        }
        self
    }
}

/// A short reference id shown to the user and carried by the log line and the audit row.
pub fn new_reference() -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    id.get(..12).unwrap_or(&id).to_uppercase()
}
