//! The support tools' STS calls, which are SigV4-signed and therefore need credentials:
//! DecodeAuthorizationMessage with Roleport's own AWS credentials (from the environment), and
//! GetCallerIdentity with credentials Roleport has just issued.
//!
//! The per-partition clients of [`Sts`] carry no credentials (the SAML calls are unsigned), so
//! each call here brings its own through a per-operation config override, with identity
//! caching off: a credential handed to one call is never seen by another.

use super::sts::{Sts, StsError, classify};
use crate::configuration::AwsSettings;
use crate::protocol::aws::{PartitionEndpoints, TemporaryCredentials};
use crate::protocol::mapping::Partition;
use aws_credential_types::Credentials;
use aws_sdk_sts::config::IdentityCache;
use aws_sdk_sts::operation::RequestId;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

/// DecodeAuthorizationMessage's EncodedMessage is 1 to 10240 characters.
pub const MAX_ENCODED_MESSAGE_CHARS: usize = 10_240;

/// Where Roleport's own AWS credentials come from.
pub const ACCESS_KEY_VAR: &str = "AWS_ACCESS_KEY_ID";
pub const SECRET_KEY_VAR: &str = "AWS_SECRET_ACCESS_KEY";
pub const SESSION_TOKEN_VAR: &str = "AWS_SESSION_TOKEN";

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum SupportError {
    #[error(
        "Roleport has no AWS credentials of its own: set {ACCESS_KEY_VAR} and {SECRET_KEY_VAR} (and {SESSION_TOKEN_VAR} for temporary credentials) in its environment"
    )]
    NoCredentials,
    #[error("Roleport's own AWS credentials are incomplete: {0} is not set")]
    IncompleteCredentials(&'static str),
    #[error("{0}")]
    BadMessage(String),
    #[error(
        "AWS could not decode this message: it is not a valid encoded authorization message, or it was produced for another account ({code})"
    )]
    InvalidMessage { code: String },
    #[error("{}", support_words(.0))]
    Sts(#[from] StsError),
    #[error("AWS STS answered without a decoded message")]
    NoAnswer,
}

/// A support call is made with Roleport's own credentials or with ones it just issued, not to
/// assume a role: an AccessDenied here is about those credentials, not a role's trust policy.
fn support_words(e: &StsError) -> String {
    match e {
        StsError::AccessDenied(words) => format!(
            "AWS denied access to this call for the credentials Roleport used ({}). Retrying will \
             not help; ask the Roleport operators, quoting the reference below.",
            words.code
        ),
        other => other.to_string(),
    }
}

impl SupportError {
    /// A stable code for logs and audit rows.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NoCredentials => "no_own_credentials",
            Self::IncompleteCredentials(_) => "incomplete_own_credentials",
            Self::BadMessage(_) => "bad_encoded_message",
            Self::InvalidMessage { .. } => "sts_invalid_message",
            Self::Sts(e) => e.code(),
            Self::NoAnswer => "sts_no_answer",
        }
    }

    /// For the log line and the audit row: with AWS's own words where it answered.
    pub fn detail(&self) -> String {
        match self {
            Self::Sts(e) => match e.aws_words() {
                Some(words) => format!("{self} AWS said: {words}"),
                None => self.to_string(),
            },
            other => other.to_string(),
        }
    }

    /// Whether the person's input was at fault (rather than Roleport or AWS).
    pub fn is_bad_input(&self) -> bool {
        matches!(self, Self::BadMessage(_) | Self::InvalidMessage { .. })
    }
}

/// Roleport's own long-term or temporary AWS credentials. `Debug` never shows the secret.
#[derive(Clone, Debug)]
pub struct EnvCredentials(Credentials);

impl EnvCredentials {
    /// From `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and optionally `AWS_SESSION_TOKEN`.
    pub fn from_env() -> Result<Self, SupportError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// As [`from_env`](Self::from_env), reading variables through `lookup`; an empty value
    /// counts as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SupportError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let (key, secret) = match (get(ACCESS_KEY_VAR), get(SECRET_KEY_VAR)) {
            (None, None) => return Err(SupportError::NoCredentials),
            (Some(_), None) => return Err(SupportError::IncompleteCredentials(SECRET_KEY_VAR)),
            (None, Some(_)) => return Err(SupportError::IncompleteCredentials(ACCESS_KEY_VAR)),
            (Some(k), Some(s)) => (k, s),
        };
        Ok(Self(Credentials::new(
            key.trim(),
            secret.trim(),
            get(SESSION_TOKEN_VAR).map(|t| t.trim().to_string()),
            None,
            "roleport-environment",
        )))
    }

    pub fn access_key_id(&self) -> &str {
        self.0.access_key_id()
    }
}

/// The encoded message as sent: surrounding and embedded whitespace (line wrapping from a
/// terminal or a ticket) removed; 1..=10240 printable ASCII characters.
pub fn normalize_encoded_message(text: &str) -> Result<String, SupportError> {
    let message: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if message.is_empty() {
        return Err(SupportError::BadMessage(
            "Paste the encoded message: the text after \"Encoded authorization failure message:\" in the AWS error.".into(),
        ));
    }
    if message.chars().count() > MAX_ENCODED_MESSAGE_CHARS {
        return Err(SupportError::BadMessage(format!(
            "An encoded authorization message is at most {MAX_ENCODED_MESSAGE_CHARS} characters; this one has {}.",
            message.chars().count()
        )));
    }
    if !message.chars().all(|c| c.is_ascii_graphic()) {
        return Err(SupportError::BadMessage(
            "An encoded authorization message holds only printable ASCII characters.".into(),
        ));
    }
    Ok(message)
}

/// The facts a person looks for in a decoded message, where its usual structure has them.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct AuthorizationFacts {
    pub allowed: Option<bool>,
    pub explicit_deny: Option<bool>,
    pub action: Option<String>,
    pub resource: Option<String>,
    pub principal: Option<String>,
    /// `(key, values)` from the request context.
    pub conditions: Vec<(String, Vec<String>)>,
}

/// What DecodeAuthorizationMessage returned, ready to show.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedAuthorizationMessage {
    /// The JSON, pretty-printed (or the text as AWS sent it if it is not JSON).
    pub pretty: String,
    pub json: Option<Value>,
    pub facts: AuthorizationFacts,
    pub request_id: Option<String>,
}

impl DecodedAuthorizationMessage {
    pub fn parse(decoded: &str, request_id: Option<String>) -> Self {
        match serde_json::from_str::<Value>(decoded) {
            Ok(json) => Self {
                pretty: serde_json::to_string_pretty(&json).unwrap_or_else(|_| decoded.into()),
                facts: facts_of(&json),
                json: Some(json),
                request_id,
            },
            Err(_) => Self {
                pretty: decoded.to_string(),
                json: None,
                facts: AuthorizationFacts::default(),
                request_id,
            },
        }
    }
}

/// Reads the documented shape:
/// `{"allowed", "explicitDeny", "matchedStatements", "failures", "context": {"principal":
/// {"id", "name", "arn"}, "action", "resource", "conditions": {"items": [{"key", "values":
/// {"items": [{"value"}]}}]}}}`. Anything missing or shaped otherwise is left out.
pub fn facts_of(json: &Value) -> AuthorizationFacts {
    let context = json.get("context");
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
    let principal = context.and_then(|c| c.get("principal")).and_then(|p| {
        if let Some(s) = p.as_str() {
            return Some(s.to_string());
        }
        ["arn", "name", "id"]
            .iter()
            .find_map(|k| p.get(*k).and_then(Value::as_str))
            .map(str::to_string)
    });
    let conditions = context
        .and_then(|c| c.get("conditions"))
        .map(items)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|item| {
            let key = item.get("key").and_then(Value::as_str)?.to_string();
            let values = item
                .get("values")
                .map(items)
                .unwrap_or_default()
                .into_iter()
                .filter_map(|v| match v {
                    Value::String(s) => Some(s.clone()),
                    other => other
                        .get("value")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                })
                .collect();
            Some((key, values))
        })
        .collect();
    AuthorizationFacts {
        allowed: json.get("allowed").and_then(Value::as_bool),
        explicit_deny: json.get("explicitDeny").and_then(Value::as_bool),
        action: text(context.and_then(|c| c.get("action"))),
        resource: text(context.and_then(|c| c.get("resource"))),
        principal,
        conditions,
    }
}

/// `{"items": [...]}` or a bare array.
fn items(v: &Value) -> Vec<&Value> {
    match v {
        Value::Array(a) => a.iter().collect(),
        other => other
            .get("items")
            .and_then(Value::as_array)
            .map(|a| a.iter().collect())
            .unwrap_or_default(),
    }
}

/// What GetCallerIdentity said about a set of credentials.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CallerIdentity {
    pub arn: String,
    pub account: String,
    pub user_id: String,
    pub request_id: Option<String>,
}

/// A per-call override carrying exactly these credentials and no identity cache.
pub(crate) fn signed_with(credentials: Credentials) -> aws_sdk_sts::config::Builder {
    aws_sdk_sts::config::Builder::default()
        .credentials_provider(credentials)
        .identity_cache(IdentityCache::no_cache())
}

impl Sts {
    /// An [`Sts`] from settings alone (no signing keys needed): for the command line.
    pub fn from_settings(settings: &AwsSettings) -> Result<Self, String> {
        let mut endpoints = BTreeMap::new();
        for partition in Partition::ALL {
            let overrides = settings
                .endpoints
                .get(partition.as_str())
                .cloned()
                .unwrap_or_default();
            let e = PartitionEndpoints::with_overrides(partition, &overrides)
                .map_err(|e| format!("aws.endpoints: {partition}: {e}"))?;
            endpoints.insert(partition, e);
        }
        Ok(Self::new(
            &endpoints,
            Duration::from_secs(settings.sts_timeout_seconds),
            settings.sts_max_attempts,
        ))
    }

    /// DecodeAuthorizationMessage, signed with Roleport's own credentials. `encoded` must
    /// already be [normalized](normalize_encoded_message).
    pub async fn decode_authorization_message(
        &self,
        partition: Partition,
        credentials: &EnvCredentials,
        encoded: &str,
    ) -> Result<DecodedAuthorizationMessage, SupportError> {
        let out = self
            .client(partition)?
            .decode_authorization_message()
            .encoded_message(encoded)
            .customize()
            .config_override(signed_with(credentials.0.clone()))
            .send()
            .await
            .map_err(|e| match classify(e) {
                StsError::Other(words) if words.code.starts_with("InvalidAuthorizationMessage") => {
                    SupportError::InvalidMessage { code: words.code }
                }
                other => SupportError::Sts(other),
            })?;
        let decoded = out.decoded_message().ok_or(SupportError::NoAnswer)?;
        Ok(DecodedAuthorizationMessage::parse(
            decoded,
            out.request_id().map(str::to_string),
        ))
    }

    /// GetCallerIdentity, signed with credentials Roleport has just issued.
    pub async fn caller_identity(
        &self,
        partition: Partition,
        credentials: &TemporaryCredentials,
    ) -> Result<CallerIdentity, StsError> {
        let credentials = Credentials::new(
            &credentials.access_key_id,
            &credentials.secret_access_key,
            Some(credentials.session_token.clone()),
            None,
            "roleport-issued",
        );
        let out = self
            .client(partition)?
            .get_caller_identity()
            .customize()
            .config_override(signed_with(credentials))
            .send()
            .await
            .map_err(classify)?;
        Ok(CallerIdentity {
            arn: out.arn().unwrap_or_default().to_string(),
            account: out.account().unwrap_or_default().to_string(),
            user_id: out.user_id().unwrap_or_default().to_string(),
            request_id: out.request_id().map(str::to_string),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn env_credentials_come_from_the_three_variables() {
        let c = EnvCredentials::from_lookup(vars(&[
            (ACCESS_KEY_VAR, "AKIAEXAMPLE"),
            (SECRET_KEY_VAR, "wJalrXUtnFEMIsecretvalue"),
            (SESSION_TOKEN_VAR, "token"),
        ]));
        let Ok(c) = c else { panic!("{c:?}") };
        assert_eq!(c.access_key_id(), "AKIAEXAMPLE");
        assert_eq!(c.0.session_token(), Some("token"));
        assert!(
            !format!("{c:?}").contains("wJalrXUtnFEMIsecretvalue"),
            "Debug hides the secret"
        );

        let long_term = EnvCredentials::from_lookup(vars(&[
            (ACCESS_KEY_VAR, "AKIAEXAMPLE"),
            (SECRET_KEY_VAR, "secret"),
            (SESSION_TOKEN_VAR, ""),
        ]));
        assert!(long_term.is_ok_and(|c| c.0.session_token().is_none()));
    }

    #[test]
    fn missing_or_partial_credentials_are_named() {
        assert_eq!(
            EnvCredentials::from_lookup(vars(&[])).err(),
            Some(SupportError::NoCredentials)
        );
        assert_eq!(
            EnvCredentials::from_lookup(vars(&[(ACCESS_KEY_VAR, "AKIA"), (SECRET_KEY_VAR, " ")]))
                .err(),
            Some(SupportError::IncompleteCredentials(SECRET_KEY_VAR))
        );
        assert_eq!(
            EnvCredentials::from_lookup(vars(&[(SECRET_KEY_VAR, "s")])).err(),
            Some(SupportError::IncompleteCredentials(ACCESS_KEY_VAR))
        );
    }

    #[test]
    fn encoded_messages_are_normalized_and_bounded() {
        assert_eq!(
            normalize_encoded_message("  abc-DEF_12\n34+/= \r\n").ok(),
            Some("abc-DEF_1234+/=".to_string())
        );
        for bad in ["", "   \n", "abc\u{e9}", "abc\u{0}def"] {
            assert!(
                matches!(
                    normalize_encoded_message(bad),
                    Err(SupportError::BadMessage(_))
                ),
                "{bad:?}"
            );
        }
        let longest = "a".repeat(MAX_ENCODED_MESSAGE_CHARS);
        assert!(normalize_encoded_message(&longest).is_ok());
        let too_long = format!("{longest}a");
        let err = normalize_encoded_message(&too_long).err();
        assert!(err.is_some_and(|e| e.to_string().contains("10240")));
    }

    #[test]
    fn facts_are_read_from_the_documented_structure() {
        let decoded = r#"{"allowed":false,"explicitDeny":true,"matchedStatements":{"items":[{"statementId":"Deny1"}]},"failures":{"items":[]},"context":{"principal":{"id":"AROAEXAMPLE:alice","name":"alice","arn":"arn:aws:sts::123456789012:assumed-role/Dev/alice"},"action":"ec2:RunInstances","resource":"arn:aws:ec2:us-east-1:123456789012:instance/*","conditions":{"items":[{"key":"ec2:InstanceType","values":{"items":[{"value":"m5.24xlarge"}]}},{"key":"aws:RequestedRegion","values":{"items":[{"value":"us-east-1"},{"value":"eu-west-1"}]}}]}}}"#;
        let d = DecodedAuthorizationMessage::parse(decoded, Some("req-1".into()));
        assert_eq!(
            d.facts,
            AuthorizationFacts {
                allowed: Some(false),
                explicit_deny: Some(true),
                action: Some("ec2:RunInstances".into()),
                resource: Some("arn:aws:ec2:us-east-1:123456789012:instance/*".into()),
                principal: Some("arn:aws:sts::123456789012:assumed-role/Dev/alice".into()),
                conditions: vec![
                    ("ec2:InstanceType".into(), vec!["m5.24xlarge".into()]),
                    (
                        "aws:RequestedRegion".into(),
                        vec!["us-east-1".into(), "eu-west-1".into()]
                    ),
                ],
            }
        );
        assert!(d.pretty.contains("\n  \"allowed\": false"), "{}", d.pretty);
        assert_eq!(d.request_id.as_deref(), Some("req-1"));
    }

    #[test]
    fn odd_shapes_give_what_they_have() {
        let d = DecodedAuthorizationMessage::parse(
            r#"{"allowed":true,"context":{"principal":{"id":"AIDAEXAMPLE"},"conditions":[{"key":"k","values":["v"]},{"nokey":1}]}}"#,
            None,
        );
        assert_eq!(d.facts.allowed, Some(true));
        assert_eq!(d.facts.explicit_deny, None);
        assert_eq!(d.facts.action, None);
        assert_eq!(d.facts.principal.as_deref(), Some("AIDAEXAMPLE"));
        assert_eq!(d.facts.conditions, vec![("k".into(), vec!["v".into()])]);

        let not_json = DecodedAuthorizationMessage::parse("plain text", None);
        assert_eq!(not_json.pretty, "plain text");
        assert!(not_json.json.is_none());
        assert_eq!(not_json.facts, AuthorizationFacts::default());
    }
}
