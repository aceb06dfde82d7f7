//! STS through aws-sdk-sts, one client per partition so each can point at its own endpoint.
//! Throttling and 5xx are retried by the SDK's standard strategy with bounded attempts and
//! backoff; every attempt and the whole call have a timeout.

use crate::protocol::aws::{PartitionEndpoints, SessionTags, TemporaryCredentials};
use crate::protocol::mapping::Partition;
use aws_credential_types::Credentials;
use aws_sdk_sts::config::http::HttpResponse;
use aws_sdk_sts::config::retry::RetryConfig;
use aws_sdk_sts::config::timeout::TimeoutConfig;
use aws_sdk_sts::config::{BehaviorVersion, Region};
use aws_sdk_sts::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sts::operation::RequestId;
use aws_sdk_sts::types::{PolicyDescriptorType, Tag};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::time::Duration;

/// What AWS itself said about a refused call, kept whole for the log line and the audit row:
/// the words that tell an addressing problem from a trust-policy problem.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct AwsWords {
    pub code: String,
    pub message: String,
    pub request_id: Option<String>,
}

impl std::fmt::Display for AwsWords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)?;
        match &self.request_id {
            Some(id) => write!(f, " (request id {id})"),
            None => write!(f, " (no request id)"),
        }
    }
}

/// Retrying will not help: said once, with the reference for whoever can act.
const ASK_PLATFORM_TEAM: &str =
    "Retrying will not help; ask your platform team, quoting the reference below.";

/// Why STS did not hand out credentials, in words a person can act on. AWS's own words are in
/// [`StsError::aws_words`], for the log and the audit row.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum StsError {
    #[error("AWS says the sign-in assertion or token has expired ({}). Sign in again.", .0.code)]
    Expired(AwsWords),
    #[error(
        "AWS does not accept Roleport's identity claims for this role ({}): the role's trust policy or the identity provider registered in IAM does not match what Roleport sends. {ASK_PLATFORM_TEAM}", .0.code
    )]
    RejectedClaim(AwsWords),
    #[error(
        "The role does not trust Roleport: AWS denied access to it ({}). {ASK_PLATFORM_TEAM}", .0.code
    )]
    AccessDenied(AwsWords),
    #[error("AWS is busy and is throttling requests ({}); try again in a moment.", .0.code)]
    Throttled(AwsWords),
    #[error("AWS refused this role's session policy ({}). {ASK_PLATFORM_TEAM}", .0.code)]
    MalformedPolicy(AwsWords),
    #[error("STS is not enabled in this region for the account ({}). {ASK_PLATFORM_TEAM}", .0.code)]
    RegionDisabled(AwsWords),
    #[error("AWS is busy: STS failed ({}); try again in a moment.", .0.code)]
    ServerError(AwsWords),
    #[error("AWS is busy: STS did not answer in time; try again in a moment.")]
    Timeout,
    #[error("AWS STS could not be reached; try again in a moment.")]
    Unreachable,
    #[error("AWS refused the request ({}). {ASK_PLATFORM_TEAM}", .0.code)]
    Other(AwsWords),
}

/// Which kind of problem an [`StsError`] is, for the person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StsErrorClass {
    /// The sign-in is too old for AWS.
    SignInAgain,
    /// The role's trust policy or the IAM provider registration does not accept Roleport.
    NotTrusted,
    /// Refused for a reason that retrying will not fix.
    Refused,
    /// AWS is busy or unreachable: try again.
    Busy,
}

impl StsError {
    /// A stable code for logs, metrics and audit rows.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Expired(_) => "sts_expired",
            Self::RejectedClaim(_) => "sts_rejected_claim",
            Self::AccessDenied(_) => "sts_access_denied",
            Self::Throttled(_) => "sts_throttled",
            Self::MalformedPolicy(_) => "sts_malformed_policy",
            Self::RegionDisabled(_) => "sts_region_disabled",
            Self::ServerError(_) => "sts_server_error",
            Self::Timeout => "sts_timeout",
            Self::Unreachable => "sts_unreachable",
            Self::Other(_) => "sts_other",
        }
    }

    pub fn class(&self) -> StsErrorClass {
        match self {
            Self::Expired(_) => StsErrorClass::SignInAgain,
            Self::RejectedClaim(_) | Self::AccessDenied(_) => StsErrorClass::NotTrusted,
            Self::MalformedPolicy(_) | Self::RegionDisabled(_) | Self::Other(_) => {
                StsErrorClass::Refused
            }
            Self::Throttled(_) | Self::ServerError(_) | Self::Timeout | Self::Unreachable => {
                StsErrorClass::Busy
            }
        }
    }

    /// What AWS said, when it answered at all.
    pub fn aws_words(&self) -> Option<&AwsWords> {
        match self {
            Self::Expired(w)
            | Self::RejectedClaim(w)
            | Self::AccessDenied(w)
            | Self::Throttled(w)
            | Self::MalformedPolicy(w)
            | Self::RegionDisabled(w)
            | Self::ServerError(w)
            | Self::Other(w) => Some(w),
            Self::Timeout | Self::Unreachable => None,
        }
    }

    /// For the log line and the audit row: the plain words, then AWS's own.
    pub fn detail(&self) -> String {
        match self.aws_words() {
            Some(words) => format!("{self} AWS said: {words}"),
            None => self.to_string(),
        }
    }
}

/// What STS answered.
#[derive(Debug, Clone)]
pub struct Issued {
    pub credentials: TemporaryCredentials,
    pub assumed_role_arn: String,
    pub request_id: Option<String>,
}

#[derive(Clone)]
pub struct Sts {
    pub(crate) clients: BTreeMap<Partition, aws_sdk_sts::Client>,
}

impl Sts {
    pub fn new(
        endpoints: &BTreeMap<Partition, PartitionEndpoints>,
        timeout: Duration,
        max_attempts: u32,
    ) -> Self {
        let http = https_client();
        let clients = endpoints
            .iter()
            .map(|(partition, e)| {
                let config = aws_sdk_sts::Config::builder()
                    .behavior_version(BehaviorVersion::latest())
                    .region(Region::new(e.sts_signing_region.clone()))
                    .endpoint_url(e.sts.as_str().trim_end_matches('/'))
                    .http_client(http.clone())
                    .retry_config(
                        RetryConfig::standard()
                            .with_max_attempts(max_attempts)
                            .with_initial_backoff(Duration::from_millis(200))
                            .with_max_backoff(Duration::from_secs(3)),
                    )
                    // AssumeRoleWithWebIdentity's IDPCommunicationError (STS could not reach
                    // the OpenID provider's JWKS) is transient: retried with the same bounded
                    // backoff as throttling and 5xx. aws-sdk-sts already models it as
                    // retryable; this keeps it so should the model change. The list replaces
                    // the default transient codes, so those are repeated.
                    .retry_classifier(
                        aws_runtime::retries::classifiers::AwsErrorCodeClassifier::<
                            aws_sdk_sts::operation::assume_role_with_web_identity::AssumeRoleWithWebIdentityError,
                        >::builder()
                        .transient_errors(&[
                            "RequestTimeout",
                            "RequestTimeoutException",
                            "IDPCommunicationError",
                        ])
                        .build(),
                    )
                    .timeout_config(
                        TimeoutConfig::builder()
                            .connect_timeout(Duration::from_secs(3))
                            .operation_attempt_timeout(timeout)
                            .operation_timeout(timeout * max_attempts + Duration::from_secs(5))
                            .build(),
                    )
                    .build();
                (*partition, aws_sdk_sts::Client::from_conf(config))
            })
            .collect();
        Self { clients }
    }

    pub(crate) fn client(&self, partition: Partition) -> Result<&aws_sdk_sts::Client, StsError> {
        self.clients.get(&partition).ok_or(StsError::Unreachable)
    }

    /// AssumeRoleWithSAML: unsigned, so it needs no AWS credentials of Roleport's own.
    pub async fn assume_role_with_saml(
        &self,
        partition: Partition,
        role_arn: &str,
        principal_arn: &str,
        saml_response_b64: &str,
        duration_seconds: u32,
    ) -> Result<Issued, StsError> {
        let out = self
            .client(partition)?
            .assume_role_with_saml()
            .role_arn(role_arn)
            .principal_arn(principal_arn)
            .saml_assertion(saml_response_b64)
            .duration_seconds(i32::try_from(duration_seconds).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(classify)?;
        issued(
            out.credentials(),
            out.assumed_role_user().map(|u| u.arn()),
            out.request_id(),
        )
    }
}

impl Sts {
    /// AssumeRoleWithWebIdentity: unsigned, so it needs no AWS credentials of Roleport's own.
    /// `token` has already passed `check_web_identity_token`.
    pub async fn assume_role_with_web_identity(
        &self,
        partition: Partition,
        role_arn: &str,
        role_session_name: &str,
        token: &str,
        duration_seconds: u32,
    ) -> Result<Issued, StsError> {
        let out = self
            .client(partition)?
            .assume_role_with_web_identity()
            .role_arn(role_arn)
            .role_session_name(role_session_name)
            .web_identity_token(token)
            .duration_seconds(i32::try_from(duration_seconds).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(classify)?;
        issued(
            out.credentials(),
            out.assumed_role_user().map(|u| u.arn()),
            out.request_id(),
        )
    }
}

/// The one HTTPS client for STS and for the credential chain: rustls with ring, not the SDK's
/// default stack.
pub(crate) fn https_client() -> aws_sdk_sts::config::SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
            aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https()
}

/// What AssumeRole sends besides the caller's credentials; every value already checked by the
/// pure rules.
pub struct AssumeRoleCall<'a> {
    pub role_arn: &'a str,
    pub role_session_name: &'a str,
    pub source_identity: &'a str,
    pub tags: &'a SessionTags,
    pub external_id: Option<&'a str>,
    pub duration_seconds: u32,
}

/// What GetFederationToken sends besides the IAM user's keys.
pub struct FederationTokenCall<'a> {
    pub name: &'a str,
    pub duration_seconds: u32,
    /// Packed inline session policy.
    pub policy: Option<&'a str>,
    pub policy_arns: &'a [String],
    pub tags: &'a SessionTags,
}

impl Sts {
    /// AssumeRole, SigV4-signed with exactly `credentials` (Roleport's own).
    pub async fn assume_role(
        &self,
        partition: Partition,
        credentials: Credentials,
        call: AssumeRoleCall<'_>,
    ) -> Result<Issued, StsError> {
        let out = self
            .client(partition)?
            .assume_role()
            .role_arn(call.role_arn)
            .role_session_name(call.role_session_name)
            .source_identity(call.source_identity)
            .set_tags(sts_tags(call.tags)?)
            .set_transitive_tag_keys(
                (!call.tags.transitive_keys().is_empty())
                    .then(|| call.tags.transitive_keys().to_vec()),
            )
            .set_external_id(call.external_id.map(str::to_string))
            .duration_seconds(i32::try_from(call.duration_seconds).unwrap_or(i32::MAX))
            .customize()
            .config_override(super::sts_support::signed_with(credentials))
            .send()
            .await
            .map_err(classify)?;
        issued(
            out.credentials(),
            out.assumed_role_user().map(|u| u.arn()),
            out.request_id(),
        )
    }

    /// GetFederationToken, SigV4-signed with the IAM user's long-term keys. The federated
    /// user's ARN stands where the other calls put the assumed role's.
    pub async fn get_federation_token(
        &self,
        partition: Partition,
        credentials: Credentials,
        call: FederationTokenCall<'_>,
    ) -> Result<Issued, StsError> {
        let policy_arns = call
            .policy_arns
            .iter()
            .map(|arn| PolicyDescriptorType::builder().arn(arn).build())
            .collect::<Vec<_>>();
        let out = self
            .client(partition)?
            .get_federation_token()
            .name(call.name)
            .duration_seconds(i32::try_from(call.duration_seconds).unwrap_or(i32::MAX))
            .set_policy(call.policy.map(str::to_string))
            .set_policy_arns((!policy_arns.is_empty()).then_some(policy_arns))
            .set_tags(sts_tags(call.tags)?)
            .customize()
            .config_override(super::sts_support::signed_with(credentials))
            .send()
            .await
            .map_err(classify)?;
        issued(
            out.credentials(),
            out.federated_user().map(|u| u.arn()),
            out.request_id(),
        )
    }
}

/// What every credential-issuing STS answer carries: the credentials, the ARN they act as
/// (assumed role or federated user) and the request id.
fn issued(
    credentials: Option<&aws_sdk_sts::types::Credentials>,
    arn: Option<&str>,
    request_id: Option<&str>,
) -> Result<Issued, StsError> {
    let credentials = credentials.map(convert).ok_or_else(|| {
        StsError::Other(AwsWords {
            code: "NoCredentials".into(),
            message: "STS answered without credentials".into(),
            request_id: request_id.map(str::to_string),
        })
    })?;
    Ok(Issued {
        credentials,
        assumed_role_arn: arn.unwrap_or_default().to_string(),
        request_id: request_id.map(str::to_string),
    })
}

/// Session tags as STS takes them; `None` for no tags, so no empty list is sent.
fn sts_tags(tags: &SessionTags) -> Result<Option<Vec<Tag>>, StsError> {
    if tags.is_empty() {
        return Ok(None);
    }
    tags.tags()
        .iter()
        .map(|(k, v)| {
            Tag::builder().key(k).value(v).build().map_err(|e| {
                StsError::Other(AwsWords {
                    code: "BadTag".into(),
                    message: e.to_string(),
                    request_id: None,
                })
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

pub(crate) fn convert(c: &aws_sdk_sts::types::Credentials) -> TemporaryCredentials {
    let e = c.expiration();
    let expiration =
        DateTime::<Utc>::from_timestamp(e.secs(), e.subsec_nanos()).unwrap_or_default();
    TemporaryCredentials {
        access_key_id: c.access_key_id().to_string(),
        secret_access_key: c.secret_access_key().to_string(),
        session_token: c.session_token().to_string(),
        expiration,
    }
}

pub(crate) fn classify<E>(err: SdkError<E, HttpResponse>) -> StsError
where
    E: ProvideErrorMetadata + std::fmt::Debug,
{
    let server_error = err
        .raw_response()
        .is_some_and(|r| r.status().is_server_error());
    let request_id = err
        .request_id()
        .or_else(|| err.meta().request_id())
        .map(str::to_string);
    match &err {
        SdkError::TimeoutError(_) => return StsError::Timeout,
        SdkError::DispatchFailure(d) if d.is_timeout() => return StsError::Timeout,
        SdkError::DispatchFailure(_) => return StsError::Unreachable,
        // An unparseable answer (moto's HTML 500s, a proxy's error page).
        SdkError::ResponseError(_) => {
            return StsError::ServerError(AwsWords {
                code: "UnreadableResponse".into(),
                message: "the answer could not be read".into(),
                request_id,
            });
        }
        _ => {}
    }
    // An error body that is not an AWS error document (moto's HTML 500s, a proxy's error page)
    // arrives as a service error without a code, not as a `ResponseError`: name it by status.
    let status = err.raw_response().map(|r| r.status().as_u16());
    let (code, message) = match (err.code(), status) {
        (Some(code), _) => (
            code.to_string(),
            err.message().unwrap_or_default().to_string(),
        ),
        (None, Some(status)) => (
            format!("HTTP {status}, not an AWS error"),
            "the answer was not an AWS error document".to_string(),
        ),
        (None, None) => (
            "Unknown".to_string(),
            err.message().unwrap_or_default().to_string(),
        ),
    };
    let words = AwsWords {
        code,
        message,
        request_id,
    };
    match words.code.as_str() {
        "ExpiredTokenException" | "ExpiredToken" => StsError::Expired(words),
        "IDPRejectedClaim"
        | "IDPRejectedClaimException"
        | "InvalidIdentityToken"
        | "InvalidIdentityTokenException" => StsError::RejectedClaim(words),
        "AccessDenied" | "AccessDeniedException" => StsError::AccessDenied(words),
        "Throttling" | "ThrottlingException" | "RequestLimitExceeded" => StsError::Throttled(words),
        "MalformedPolicyDocument"
        | "MalformedPolicyDocumentException"
        | "PackedPolicyTooLarge"
        | "PackedPolicyTooLargeException" => StsError::MalformedPolicy(words),
        "RegionDisabledException" | "RegionDisabled" => StsError::RegionDisabled(words),
        "InternalFailure"
        | "ServiceUnavailable"
        | "IDPCommunicationError"
        | "IDPCommunicationErrorException" => StsError::ServerError(words),
        _ if server_error => StsError::ServerError(words),
        _ => StsError::Other(words),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(code: &str) -> AwsWords {
        AwsWords {
            code: code.into(),
            message: format!("{code} said by AWS"),
            request_id: Some("req-1".into()),
        }
    }

    #[test]
    fn each_error_says_which_kind_of_problem_it_is_and_keeps_aws_words() {
        use StsErrorClass as C;
        let table = [
            (StsError::Expired(words("ExpiredToken")), C::SignInAgain),
            (
                StsError::RejectedClaim(words("InvalidIdentityToken")),
                C::NotTrusted,
            ),
            (StsError::AccessDenied(words("AccessDenied")), C::NotTrusted),
            (
                StsError::MalformedPolicy(words("MalformedPolicyDocument")),
                C::Refused,
            ),
            (
                StsError::RegionDisabled(words("RegionDisabledException")),
                C::Refused,
            ),
            (StsError::Other(words("ValidationError")), C::Refused),
            (StsError::Throttled(words("Throttling")), C::Busy),
            (StsError::ServerError(words("InternalFailure")), C::Busy),
            (StsError::Timeout, C::Busy),
            (StsError::Unreachable, C::Busy),
        ];
        for (e, class) in table {
            assert_eq!(e.class(), class, "{e}");
            let shown = e.to_string();
            let retry = shown.contains("try again");
            assert_eq!(retry, class == C::Busy, "{shown}");
            match e.aws_words() {
                Some(w) => {
                    // The person sees the code, never AWS's message; the log and row keep all.
                    assert!(
                        shown.contains(&w.code) && !shown.contains(&w.message),
                        "{shown}"
                    );
                    let detail = e.detail();
                    assert!(
                        detail.ends_with(&format!(
                            "AWS said: {}: {} (request id req-1)",
                            w.code, w.message
                        )),
                        "{detail}"
                    );
                }
                None => assert_eq!(e.detail(), shown),
            }
        }
        let no_id = AwsWords {
            request_id: None,
            ..words("AccessDenied")
        };
        assert!(no_id.to_string().ends_with("(no request id)"));
    }
}
