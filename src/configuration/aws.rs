//! How Roleport reaches AWS: its IdP identity, signing keys, STS limits and own credentials.

use secrecy::SecretString;
use serde::Deserialize;
use std::path::PathBuf;

use super::default_true;

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct KeyPairFiles {
    pub key_file: PathBuf,
    pub cert_file: PathBuf,
}

/// How Roleport reaches AWS.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct AwsSettings {
    /// Roleport's entity id as the SAML IdP that AWS trusts; defaults to
    /// `<public_url>/aws/saml-metadata.xml`. It must equal the entityID registered in IAM.
    #[serde(default)]
    pub idp_entity_id: Option<String>,
    /// Roleport's issuer as the OpenID provider AWS trusts (`oidc_broker`); defaults to the
    /// public URL. It must equal the IAM OIDC provider's URL.
    #[serde(default)]
    pub oidc_issuer: Option<String>,
    /// Roleport's IdP signing keys: the first signs; every one is published in the metadata, so
    /// a new key can be registered in IAM before it signs and an old one kept until retired.
    #[serde(default)]
    pub signing_keys: Vec<KeyPairFiles>,
    /// The name of the IAM SAML provider registered for Roleport in each account.
    #[serde(default = "default_saml_provider_name")]
    pub saml_provider_name: String,
    #[serde(default = "default_sts_timeout")]
    pub sts_timeout_seconds: u64,
    /// Attempts per STS call; throttling and 5xx are retried with bounded exponential backoff.
    #[serde(default = "default_sts_attempts")]
    pub sts_max_attempts: u32,
    /// Per-partition endpoint overrides (`aws`, `aws-cn`, `aws-us-gov`).
    #[serde(default)]
    pub endpoints: std::collections::BTreeMap<String, crate::protocol::aws::EndpointOverrides>,
    /// Roleport's own AWS credentials, for the `assume_role` mode: the standard AWS chain.
    #[serde(default)]
    pub own_credentials: OwnCredentialsSettings,
    /// The IAM user whose long-term keys call GetFederationToken (`federation_token` mode).
    #[serde(default)]
    pub federation_user: Option<FederationUserSettings>,
}

impl Default for AwsSettings {
    fn default() -> Self {
        Self {
            idp_entity_id: None,
            oidc_issuer: None,
            signing_keys: Vec::new(),
            saml_provider_name: default_saml_provider_name(),
            sts_timeout_seconds: default_sts_timeout(),
            sts_max_attempts: default_sts_attempts(),
            endpoints: Default::default(),
            own_credentials: OwnCredentialsSettings::default(),
            federation_user: None,
        }
    }
}

/// Where Roleport's own AWS credentials come from: the standard chain, in its order —
/// environment (`AWS_ACCESS_KEY_ID`, …), the shared profile files, a web identity token file,
/// the ECS container endpoint, EC2 instance metadata. Nothing here holds a secret.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct OwnCredentialsSettings {
    /// The profile to read; `AWS_PROFILE` or `default` when unset.
    #[serde(default)]
    pub profile: Option<String>,
    /// Profile files to read instead of `~/.aws/credentials` and `~/.aws/config` (or
    /// `AWS_SHARED_CREDENTIALS_FILE` / `AWS_CONFIG_FILE`).
    #[serde(default)]
    pub credentials_file: Option<PathBuf>,
    #[serde(default)]
    pub config_file: Option<PathBuf>,
    /// Ask EC2 instance metadata last (off the cloud it only costs a timeout).
    #[serde(default = "default_true")]
    pub instance_metadata: bool,
}

impl Default for OwnCredentialsSettings {
    fn default() -> Self {
        Self {
            profile: None,
            credentials_file: None,
            config_file: None,
            instance_metadata: true,
        }
    }
}

/// An IAM user's long-term keys for GetFederationToken. The secret comes from
/// `secret_access_key_file`, or from the environment (`ROLEPORT_AWS__FEDERATION_USER__SECRET_ACCESS_KEY`
/// or its `_FILE` variant) — never from the configuration file itself.
#[derive(Debug, Deserialize, Clone, Default)]
#[serde(deny_unknown_fields)]
pub struct FederationUserSettings {
    #[serde(default)]
    pub access_key_id: Option<String>,
    #[serde(default)]
    pub access_key_id_file: Option<PathBuf>,
    #[serde(default)]
    pub secret_access_key: Option<SecretString>,
    #[serde(default)]
    pub secret_access_key_file: Option<PathBuf>,
}

fn default_saml_provider_name() -> String {
    "roleport".into()
}
fn default_sts_timeout() -> u64 {
    10
}
fn default_sts_attempts() -> u32 {
    3
}

impl AwsSettings {
    pub(super) fn validate(&self, dev_mode: bool) -> Result<(), super::ConfigError> {
        use super::ConfigError;
        // The default issuer is the public URL, already https:// outside dev_mode.
        if let Some(issuer) = &self.oidc_issuer
            && !dev_mode
            && !issuer.starts_with("https://")
        {
            return Err(ConfigError::Invalid(format!(
                "aws.oidc_issuer must be https:// outside dev_mode: IAM registers only https \
             OpenID Connect providers, so AWS would refuse every oidc_broker token; got \
             {issuer:?}"
            )));
        }
        for partition in self.endpoints.keys() {
            if partition
                .parse::<crate::protocol::mapping::Partition>()
                .is_err()
            {
                return Err(ConfigError::Invalid(format!(
                    "aws.endpoints.{partition}: not a partition (aws, aws-cn, aws-us-gov)"
                )));
            }
        }
        if let Some(user) = &self.federation_user {
            if user.access_key_id.is_some() == user.access_key_id_file.is_some() {
                return Err(ConfigError::Invalid(
                    "aws.federation_user needs exactly one of access_key_id and access_key_id_file"
                        .into(),
                ));
            }
            if user.secret_access_key.is_some() == user.secret_access_key_file.is_some() {
                return Err(ConfigError::Invalid(
                    "aws.federation_user needs exactly one of secret_access_key (from the \
                 environment) and secret_access_key_file"
                        .into(),
                ));
            }
        }
        if !(1..=10).contains(&self.sts_max_attempts)
            || !(1..=120).contains(&self.sts_timeout_seconds)
        {
            return Err(ConfigError::Invalid(
                "aws.sts_max_attempts must be 1-10 and aws.sts_timeout_seconds 1-120".into(),
            ));
        }
        Ok(())
    }
}
