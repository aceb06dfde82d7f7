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
    /// `roleport aws status` / `register`: how Roleport reaches each account's IAM.
    #[serde(default)]
    pub registration: RegistrationSettings,
    /// Signing keys kept in Postgres and rotated on a schedule (`[aws.rotation]`).
    #[serde(default)]
    pub rotation: RotationSettings,
}

/// The role Roleport assumes (with its own credentials) in each account to read and fix its IAM
/// SAML/OIDC providers. Its policy needs `iam:GetSAMLProvider`, `iam:CreateSAMLProvider`,
/// `iam:UpdateSAMLProvider`, `iam:GetOpenIDConnectProvider`, `iam:CreateOpenIDConnectProvider`,
/// `iam:AddClientIDToOpenIDConnectProvider` and `iam:UpdateOpenIDConnectProviderThumbprint`.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct RegistrationSettings {
    /// `{partition}` and `{account}` are filled in per account.
    #[serde(default = "default_registration_role")]
    pub role_arn_pattern: String,
    /// Sent as AssumeRole's ExternalId, for a trust policy that requires it.
    #[serde(default)]
    pub external_id: Option<String>,
    /// SHA-1 thumbprints (hex) the IAM OIDC provider must hold; empty: not checked.
    #[serde(default)]
    pub oidc_thumbprints: Vec<String>,
}

impl Default for RegistrationSettings {
    fn default() -> Self {
        Self {
            role_arn_pattern: default_registration_role(),
            external_id: None,
            oidc_thumbprints: Vec::new(),
        }
    }
}

fn default_registration_role() -> String {
    "arn:{partition}:iam::{account}:role/RoleportRegistration".into()
}

/// Rotation of the signing keys kept in Postgres (see the README's "Key rotation").
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct RotationSettings {
    /// Keep the AWS signing keys in Postgres (sealed with `[sealing]`) and rotate them;
    /// `false`: only `signing_keys` files, as before.
    #[serde(default)]
    pub enabled: bool,
    /// A new key is started this long after the current one began signing.
    #[serde(default = "default_rotate_after")]
    pub rotate_after_days: u32,
    /// The next key is published (metadata, JWKS, every account's IAM) at least this long before
    /// it signs.
    #[serde(default = "default_overlap")]
    pub overlap_seconds: u64,
    /// The old key stays published this long after the switch, for what it signed.
    #[serde(default = "default_overlap")]
    pub retire_after_seconds: u64,
    /// How often each replica looks whether a step is due (`0`: never; `roleport aws keys
    /// rotate` only).
    #[serde(default = "default_check_interval")]
    pub check_interval_seconds: u64,
    /// How often each replica re-reads the keys from Postgres (what it publishes and signs with).
    #[serde(default = "default_refresh")]
    pub refresh_seconds: u64,
}

impl RotationSettings {
    /// Refuses settings under which a key could sign before every replica publishes it, or an
    /// old key could leave the metadata while what it signed is still in flight.
    pub(super) fn validate(&self, dev_mode: bool) -> Result<(), super::ConfigError> {
        let invalid = |m: String| Err(super::ConfigError::Invalid(format!("aws.rotation: {m}")));
        if !self.enabled {
            return Ok(());
        }
        if !(1..=3600).contains(&self.refresh_seconds) {
            return invalid("refresh_seconds must be 1-3600".into());
        }
        // Two refreshes: a replica that read the keys just before the next one appeared has
        // read them again by then, and publishes it.
        let floor = 2 * self.refresh_seconds + 60;
        // Plus what a client may cache the metadata and the JWKS for (`max-age=300`).
        let published_floor = floor + 300;
        let overlap_floor = if dev_mode {
            published_floor
        } else {
            published_floor.max(3600)
        };
        if self.overlap_seconds < overlap_floor {
            return invalid(format!(
                "overlap_seconds = {} is shorter than {overlap_floor} s (twice refresh_seconds, \
                 a minute and the 5 minutes the metadata and JWKS may be cached{}): a replica could sign with a key that other replicas, or an \
                 AWS account, do not trust yet",
                self.overlap_seconds,
                if dev_mode {
                    ""
                } else {
                    ", and at least an hour outside dev_mode"
                }
            ));
        }
        let signed_lifetime = u64::try_from(crate::protocol::aws::MAX_MINTED_TOKEN_SECONDS)
            .unwrap_or(u64::MAX)
            .max(u64::from(
                crate::protocol::aws::MAX_ASSERTION_VALIDITY_SECONDS,
            ));
        let retire_floor = floor.saturating_add(signed_lifetime);
        if self.retire_after_seconds < retire_floor {
            return invalid(format!(
                "retire_after_seconds = {} is shorter than {retire_floor} s: what the old key \
                 signed (valid up to {} s) could still be in flight when AWS stops trusting it",
                self.retire_after_seconds,
                retire_floor - floor
            ));
        }
        let period = u64::from(self.rotate_after_days) * 86_400;
        if period == 0 || period <= self.overlap_seconds + self.retire_after_seconds {
            return invalid(format!(
                "rotate_after_days = {} leaves no time between rotations (overlap_seconds + \
                 retire_after_seconds = {} s)",
                self.rotate_after_days,
                self.overlap_seconds + self.retire_after_seconds
            ));
        }
        if self.check_interval_seconds > self.overlap_seconds {
            return invalid(
                "check_interval_seconds is longer than overlap_seconds: steps would run late"
                    .into(),
            );
        }
        Ok(())
    }
}

impl Default for RotationSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            rotate_after_days: default_rotate_after(),
            overlap_seconds: default_overlap(),
            retire_after_seconds: default_overlap(),
            check_interval_seconds: default_check_interval(),
            refresh_seconds: default_refresh(),
        }
    }
}

fn default_rotate_after() -> u32 {
    90
}
fn default_overlap() -> u64 {
    24 * 3600
}
fn default_check_interval() -> u64 {
    300
}
fn default_refresh() -> u64 {
    60
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
            registration: RegistrationSettings::default(),
            rotation: RotationSettings::default(),
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
        crate::protocol::aws::registration::check_role_arn_pattern(
            &self.registration.role_arn_pattern,
        )
        .map_err(|e| ConfigError::Invalid(format!("aws.registration.role_arn_pattern: {e}")))?;
        for t in &self.registration.oidc_thumbprints {
            if t.len() != 40
                || !t
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            {
                return Err(ConfigError::Invalid(format!(
                    "aws.registration.oidc_thumbprints: {t:?} is not 40 lower-case hex digits \
                     (a SHA-1 thumbprint)"
                )));
            }
        }
        self.rotation.validate(dev_mode)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn on() -> RotationSettings {
        RotationSettings {
            enabled: true,
            ..RotationSettings::default()
        }
    }

    #[test]
    fn the_rotation_defaults_pass_and_weakening_settings_are_refused() {
        assert!(on().validate(false).is_ok());
        for (bad, needle, dev) in [
            (
                RotationSettings {
                    overlap_seconds: 0,
                    ..on()
                },
                "overlap_seconds = 0",
                true,
            ),
            (
                RotationSettings {
                    overlap_seconds: 1800,
                    ..on()
                },
                "at least an hour",
                false,
            ),
            (
                RotationSettings {
                    retire_after_seconds: 60,
                    ..on()
                },
                "retire_after_seconds = 60",
                true,
            ),
            (
                RotationSettings {
                    rotate_after_days: 0,
                    ..on()
                },
                "rotate_after_days = 0",
                true,
            ),
            (
                RotationSettings {
                    refresh_seconds: 0,
                    ..on()
                },
                "refresh_seconds",
                true,
            ),
            (
                RotationSettings {
                    check_interval_seconds: 200_000,
                    ..on()
                },
                "check_interval_seconds",
                true,
            ),
        ] {
            let err = bad.validate(dev).unwrap_err().to_string();
            assert!(err.contains(needle), "{err}");
        }
        // Off: nothing is checked, as before.
        let off = RotationSettings {
            overlap_seconds: 0,
            ..RotationSettings::default()
        };
        assert!(off.validate(false).is_ok());
        // dev_mode allows a short overlap, never one under two refreshes and the cache time.
        let short = RotationSettings {
            overlap_seconds: 362,
            refresh_seconds: 1,
            ..on()
        };
        assert!(short.validate(true).is_ok());
        let shorter = RotationSettings {
            overlap_seconds: 361,
            refresh_seconds: 1,
            ..on()
        };
        assert!(shorter.validate(true).is_err());
    }

    #[test]
    fn registration_settings_are_checked() {
        let mut aws = AwsSettings::default();
        assert!(aws.validate(false).is_ok());
        aws.registration.role_arn_pattern = "arn:aws:iam::123456789012:role/One".into();
        assert!(
            aws.validate(false)
                .unwrap_err()
                .to_string()
                .contains("has no {account}")
        );
        let mut aws = AwsSettings::default();
        aws.registration.oidc_thumbprints = vec!["ABCDEF".into()];
        assert!(
            aws.validate(false)
                .unwrap_err()
                .to_string()
                .contains("40 lower-case hex")
        );
    }
}
