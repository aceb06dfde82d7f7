//! Roleport as the SAML IdP that AWS trusts (broker mode): its keys, its metadata, and one
//! credential issue = sign a fresh Response naming exactly the picked role, then
//! AssumeRoleWithSAML.

use super::own_credentials::{FederationUserError, OwnCredentials, load_federation_user};
use super::sts::{AwsWords, Issued, Sts, StsError, StsErrorClass, https_client};
use crate::configuration::{AwsSettings, KeyPairFiles};
use crate::domain::FederatedIdentity;
use crate::protocol::aws::{
    AwsRuleError, BrokerError, BrokerSigningKey, CredentialKind, DurationRequest,
    PartitionEndpoints, SamlBrokerRequest, SessionDuration, SessionTags, build_signed_response,
    scoped_identity, session_duration,
};
use crate::protocol::mapping::{AccessMode, Grant, Partition};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

pub struct AwsRuntime {
    pub idp_entity_id: String,
    /// Roleport's issuer as the OpenID provider AWS trusts (`oidc_broker`).
    pub oidc_issuer: String,
    /// The signing keys, for SAML and for RS256 ID tokens: the first signs, all are published
    /// (metadata and JWKS). From `aws.signing_keys`, or from Postgres under `[aws.rotation]`.
    pub keys: super::key_ring::KeyRing,
    /// The keys from `aws.signing_keys`, kept for the rotation (they are its starting set).
    pub file_keys: Vec<super::key_ring::RingKey>,
    pub provider_name: String,
    pub endpoints: BTreeMap<Partition, PartitionEndpoints>,
    pub sts: Sts,
    /// For the console federation endpoint: no redirects followed.
    pub http: reqwest::Client,
    /// Roleport's own AWS credentials (`assume_role`), resolved from the standard chain when
    /// first needed.
    pub own_credentials: OwnCredentials,
    /// The IAM user's long-term keys (`federation_token`), when configured.
    pub federation_user: Option<aws_credential_types::Credentials>,
}

#[derive(Debug, thiserror::Error)]
pub enum AwsSetupError {
    #[error("aws.signing_keys: {path}: {message}")]
    Key { path: String, message: String },
    #[error("aws.endpoints: {0}")]
    Endpoints(String),
    #[error("HTTP client: {0}")]
    Http(String),
    #[error(transparent)]
    FederationUser(#[from] FederationUserError),
}

impl AwsRuntime {
    pub fn load(settings: &AwsSettings, public_url: &str) -> Result<Self, AwsSetupError> {
        let file_keys = settings
            .signing_keys
            .iter()
            .map(|files| {
                let saml = load_key(files)?;
                let id = format!(
                    "file:{}",
                    crate::protocol::aws::registration::certificate_label(saml.certificate_der())
                );
                Ok(super::key_ring::RingKey::new(
                    id,
                    saml,
                    load_private_key(files)?,
                ))
            })
            .collect::<Result<Vec<_>, AwsSetupError>>()?;
        let mut endpoints = BTreeMap::new();
        for partition in Partition::ALL {
            let overrides = settings
                .endpoints
                .get(partition.as_str())
                .cloned()
                .unwrap_or_default();
            let e = PartitionEndpoints::with_overrides(partition, &overrides)
                .map_err(|e| AwsSetupError::Endpoints(format!("{partition}: {e}")))?;
            endpoints.insert(partition, e);
        }
        let sts = Sts::new(
            &endpoints,
            Duration::from_secs(settings.sts_timeout_seconds),
            settings.sts_max_attempts,
        );
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .pool_idle_timeout(Duration::from_secs(4))
            .build()
            .map_err(|e| AwsSetupError::Http(e.to_string()))?;
        let chain_region = endpoints
            .get(&Partition::Aws)
            .map(|e| e.sts_signing_region.clone())
            .unwrap_or_else(|| "us-east-1".into());
        let own_credentials = OwnCredentials::new(
            &settings.own_credentials,
            https_client(),
            aws_sdk_sts::config::Region::new(chain_region),
        );
        let federation_user = settings
            .federation_user
            .as_ref()
            .map(load_federation_user)
            .transpose()?;
        tracing::info!(
            federation_user = federation_user.is_some(),
            "AWS access modes: saml_broker, oidc_broker and oidc_passthrough need no AWS keys; assume_role \
             resolves Roleport's own credentials from the standard chain when first used; \
             federation_token needs aws.federation_user"
        );
        Ok(Self {
            idp_entity_id: settings
                .idp_entity_id
                .clone()
                .unwrap_or_else(|| format!("{public_url}/aws/saml-metadata.xml")),
            oidc_issuer: settings
                .oidc_issuer
                .clone()
                .unwrap_or_else(|| public_url.trim_end_matches('/').to_string()),
            keys: super::key_ring::KeyRing::new(super::key_ring::KeySet {
                keys: file_keys.clone(),
            }),
            file_keys,
            provider_name: settings.saml_provider_name.clone(),
            endpoints,
            sts,
            http,
            own_credentials,
            federation_user,
        })
    }

    /// Origins of every partition's federation endpoint, for the CSP `form-action` list.
    pub fn federation_origins(&self) -> Vec<String> {
        let mut origins: Vec<String> = self
            .endpoints
            .values()
            .map(|e| e.federation.origin().ascii_serialization())
            .collect();
        origins.sort();
        origins.dedup();
        origins
    }

    pub fn endpoints(&self, partition: Partition) -> Option<&PartitionEndpoints> {
        self.endpoints.get(&partition)
    }

    /// The IAM SAML provider for this grant: the one its access names, else Roleport's
    /// configured default.
    pub fn provider_arn(&self, grant: &Grant) -> String {
        let name = grant
            .access
            .saml_provider
            .as_deref()
            .unwrap_or(&self.provider_name);
        format!(
            "arn:{}:iam::{}:saml-provider/{name}",
            grant.partition, grant.account_id
        )
    }

    /// Roleport's IdP metadata for registration in IAM: every signing certificate is listed.
    pub fn idp_metadata(&self, sso_url: &str) -> String {
        crate::protocol::aws::idp_metadata(
            &self.idp_entity_id,
            &self.keys.current().certificates(),
            sso_url,
        )
    }

    /// The keys in force now.
    pub fn published_keys(&self) -> std::sync::Arc<super::key_ring::KeySet> {
        self.keys.current()
    }
}

fn load_key(files: &KeyPairFiles) -> Result<BrokerSigningKey, AwsSetupError> {
    let err = |path: &std::path::Path, message: String| AwsSetupError::Key {
        path: path.display().to_string(),
        message,
    };
    let key = std::fs::read(&files.key_file).map_err(|e| err(&files.key_file, e.to_string()))?;
    let cert = std::fs::read(&files.cert_file).map_err(|e| err(&files.cert_file, e.to_string()))?;
    BrokerSigningKey::from_pem(&key, &cert).map_err(|e| err(&files.key_file, e.to_string()))
}

/// The private key of a signing pair for RS256 ID tokens; `None` when it is not RSA.
fn load_private_key(
    files: &KeyPairFiles,
) -> Result<Option<openssl::pkey::PKey<openssl::pkey::Private>>, AwsSetupError> {
    let key = std::fs::read(&files.key_file).map_err(|e| AwsSetupError::Key {
        path: files.key_file.display().to_string(),
        message: e.to_string(),
    })?;
    let key = openssl::pkey::PKey::private_key_from_pem(&key).map_err(|e| AwsSetupError::Key {
        path: files.key_file.display().to_string(),
        message: e.to_string(),
    })?;
    Ok(Some(key))
}

/// Everything one issue needs from the caller.
pub struct IssueRequest<'a> {
    pub identity: &'a FederatedIdentity,
    pub grant: &'a Grant,
    /// The role's MaxSessionDuration and the deciding rule's cap.
    pub role_maximum: u32,
    pub rule_cap: Option<u32>,
    pub requested_seconds: Option<u32>,
    pub now: DateTime<Utc>,
    /// The session's upstream ID token, for `oidc_passthrough`.
    pub upstream_id_token: &'a crate::domain::KeptIdToken,
}

/// A signed broker Response and what went into it.
#[derive(Debug)]
pub struct BrokerSigned {
    pub signed: crate::protocol::aws::SignedSamlResponse,
    /// The AWS SAML sign-in endpoint it is addressed to.
    pub recipient: String,
    pub provider_arn: String,
    pub duration: SessionDuration,
    pub role_session_name: String,
    pub source_identity: String,
}

#[derive(Debug)]
pub struct IssueOutcome {
    pub issued: Issued,
    pub duration: SessionDuration,
    /// The session name AWS shows (for GetFederationToken: its `Name`).
    pub role_session_name: String,
    /// `None` where the call carries none (GetFederationToken, OIDC pass-through).
    pub source_identity: Option<String>,
    pub kind: CredentialKind,
    pub mode: &'static str,
}

#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    #[error(transparent)]
    Rule(#[from] AwsRuleError),
    #[error("Roleport has no AWS signing key configured (aws.signing_keys)")]
    NoSigningKey,
    #[error(
        "Roleport has no RSA signing key for OIDC ID tokens (aws.signing_keys must hold an RSA \
         key for oidc_broker)"
    )]
    NoOidcKey,
    #[error("signing the SAML response failed: {0}")]
    Signing(String),
    #[error(transparent)]
    Sts(#[from] StsError),
    #[error("no endpoints for partition {0}")]
    NoEndpoints(Partition),
    #[error("{}", crate::protocol::mapping::retired_mode_message(*.0))]
    RetiredMode(AccessMode),
    #[error(
        "This role is reached with your OpenID provider's own ID token, which AWS checks itself, \
         and you signed in through a SAML identity provider, which has no such token. Sign in \
         through the OpenID provider this role trusts to use it."
    )]
    NoUpstreamIdToken,
    #[error(
        "Your sign-in's ID token expires at {expires} and AWS would refuse it. Sign in again to \
         use this role."
    )]
    UpstreamIdTokenExpired { expires: DateTime<Utc> },
    /// The person reads [`crate::http::public_messages::issue_error`]; this text names the key.
    #[error("the ID token kept from the sign-in cannot be read: {0}")]
    UpstreamIdTokenUnreadable(crate::domain::UnreadableIdToken),
    #[error(
        "Roleport has no AWS credentials of its own for AssumeRole (environment, profile, web \
         identity, container and instance metadata were tried): {0}"
    )]
    NoOwnCredentials(String),
    #[error(
        "Roleport has no IAM user keys for GetFederationToken: aws.federation_user is not \
         configured"
    )]
    NoFederationUser,
}

/// Who can act on an [`IssueError`], for the HTTP layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssueErrorClass {
    /// The request or the rules broke an AWS rule: nothing was sent.
    Refused,
    /// The person must sign in again (pass-through).
    SignInAgain,
    /// The role needs a sign-in of another kind (OIDC pass-through after a SAML sign-in).
    WrongSignIn,
    /// The grant's access mode is retired: nothing was sent.
    Retired,
    /// AWS does not trust Roleport for this role (trust policy, IAM provider registration).
    NotTrusted,
    /// AWS refused the call for a reason that retrying will not fix.
    AwsRefused,
    /// Roleport is not configured for the grant's mode.
    Configuration,
    /// AWS is busy or unreachable: try again.
    AwsBusy,
    /// Signing failed inside Roleport: try again.
    Unavailable,
}

impl IssueError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Rule(_) => "aws_rule",
            Self::NoSigningKey => "no_signing_key",
            Self::NoOidcKey => "no_oidc_signing_key",
            Self::Signing(_) => "signing_failed",
            Self::Sts(e) => e.code(),
            Self::NoEndpoints(_) => "no_endpoints",
            Self::RetiredMode(_) => "access_mode_retired",
            Self::NoUpstreamIdToken => "passthrough_no_id_token",
            Self::UpstreamIdTokenExpired { .. } => "passthrough_id_token_expired",
            Self::UpstreamIdTokenUnreadable(_) => "passthrough_id_token_unreadable",
            Self::NoOwnCredentials(_) => "assume_role_no_credentials",
            Self::NoFederationUser => "federation_user_not_configured",
        }
    }

    pub fn class(&self) -> IssueErrorClass {
        match self {
            Self::Rule(_) => IssueErrorClass::Refused,
            Self::RetiredMode(_) => IssueErrorClass::Retired,
            Self::NoUpstreamIdToken => IssueErrorClass::WrongSignIn,
            Self::UpstreamIdTokenExpired { .. } | Self::UpstreamIdTokenUnreadable(_) => {
                IssueErrorClass::SignInAgain
            }
            Self::NoSigningKey
            | Self::NoOidcKey
            | Self::NoEndpoints(_)
            | Self::NoOwnCredentials(_)
            | Self::NoFederationUser => IssueErrorClass::Configuration,
            Self::Signing(_) => IssueErrorClass::Unavailable,
            Self::Sts(e) => match e.class() {
                StsErrorClass::SignInAgain => IssueErrorClass::SignInAgain,
                StsErrorClass::NotTrusted => IssueErrorClass::NotTrusted,
                StsErrorClass::Refused => IssueErrorClass::AwsRefused,
                StsErrorClass::Busy => IssueErrorClass::AwsBusy,
            },
        }
    }

    /// For the log line and the audit row: with AWS's own words where it answered.
    pub fn detail(&self) -> String {
        match self {
            Self::Sts(e) => e.detail(),
            other => other.to_string(),
        }
    }

    /// What AWS said, when the failure is its answer.
    pub fn aws_words(&self) -> Option<&AwsWords> {
        match self {
            Self::Sts(e) => e.aws_words(),
            _ => None,
        }
    }
}

impl AwsRuntime {
    /// Broker mode: sign a Response for exactly this grant, then AssumeRoleWithSAML. Callers
    /// use [`AwsRuntime::issue`], which picks the grant's mode.
    /// Signs a fresh Response naming exactly this grant's role, addressed to the partition's AWS
    /// sign-in endpoint. Used for AssumeRoleWithSAML and for the console-only SAML POST.
    pub async fn sign_broker_response(
        &self,
        blocking: &Arc<Semaphore>,
        req: &IssueRequest<'_>,
    ) -> Result<BrokerSigned, IssueError> {
        let grant = req.grant;
        let duration = session_duration(&DurationRequest {
            requested: req.requested_seconds,
            rule_cap: req.rule_cap,
            role_maximum: req.role_maximum,
            saml_session_duration: None,
            chained: false,
        })?;
        let endpoints = self
            .endpoints(grant.partition)
            .ok_or(IssueError::NoEndpoints(grant.partition))?
            .clone();
        let recipient = endpoints.saml_recipient.to_string();
        let key = self
            .keys
            .current()
            .saml_signer()
            .cloned()
            .ok_or(IssueError::NoSigningKey)?;
        let role_session_name = super::modes::session_name(req.identity);
        let source_identity = super::modes::source_identity(req.identity);
        let request = SamlBrokerRequest {
            issuer: self.idp_entity_id.clone(),
            response_id: random_id().map_err(IssueError::Signing)?,
            assertion_id: random_id().map_err(IssueError::Signing)?,
            now: req.now,
            authn_instant: req.now,
            endpoints,
            // Scoped like SourceIdentity: the same subject from two IdPs is two people.
            name_id: scoped_identity(&req.identity.subject, &req.identity.idp),
            role_arn: grant.role_arn.clone(),
            provider_arn: self.provider_arn(grant),
            role_session_name: role_session_name.clone(),
            session_duration_seconds: duration.seconds(),
            source_identity: source_identity.clone(),
            session_tags: SessionTags::from_map(&grant.session_tags, &grant.transitive_tag_keys)?,
            valid_for_seconds: 300,
        };
        let provider_arn = request.provider_arn.clone();
        // libxmlsec1 blocks: off the async threads, bounded.
        let _slot = blocking
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| IssueError::Signing(e.to_string()))?;
        let signed = actix_web::web::block(move || build_signed_response(&request, &key))
            .await
            .map_err(|e| IssueError::Signing(e.to_string()))?
            .map_err(|e| match e {
                BrokerError::Rule(rule) => IssueError::Rule(rule),
                other => IssueError::Signing(other.to_string()),
            })?;
        Ok(BrokerSigned {
            signed,
            recipient,
            provider_arn,
            duration,
            role_session_name: role_session_name.as_str().to_string(),
            source_identity: source_identity.as_str().to_string(),
        })
    }

    pub async fn issue_saml_broker(
        &self,
        blocking: &Arc<Semaphore>,
        req: IssueRequest<'_>,
    ) -> Result<IssueOutcome, IssueError> {
        let b = self.sign_broker_response(blocking, &req).await?;
        let grant = req.grant;
        let issued = self
            .sts
            .assume_role_with_saml(
                grant.partition,
                &grant.role_arn,
                &b.provider_arn,
                &b.signed.saml_response,
                b.duration.seconds(),
            )
            .await?;
        Ok(IssueOutcome {
            issued,
            duration: b.duration,
            role_session_name: b.role_session_name,
            source_identity: Some(b.source_identity),
            kind: CredentialKind::AssumeRoleWithSaml,
            mode: AccessMode::SamlBroker.as_str(),
        })
    }
}

/// An XML ID: `_` and 32 hex digits of randomness.
fn random_id() -> Result<String, String> {
    let mut buf = [0u8; 16];
    openssl::rand::rand_bytes(&mut buf).map_err(|e| e.to_string())?;
    Ok(format!("_{}", hex::encode(buf)))
}
