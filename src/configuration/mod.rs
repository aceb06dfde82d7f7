//! Settings: a TOML file, then `ROLEPORT_*` environment overrides (`__` nests: `ROLEPORT_SERVER__LISTEN`),
//! and `ROLEPORT_…_FILE` variants that read a secret from a file. Unknown keys are an error.
//!
//! One file per area: [`server`] (listener, database, sessions, metrics, rules reload), [`saml`]
//! (Roleport as a SAML SP), [`idp`] (the upstream IdPs, one type per kind), [`aws`], [`rate_limit`],
//! [`admission`] (overload), and [`env`] (how the file and the environment are layered). The audit settings live with the
//! audit code (`crate::audit::settings`).

use serde::Deserialize;
use server::{is_loopback_listen, is_loopback_url};
use std::path::{Path, PathBuf};

mod admin;
mod admission;
mod aws;
mod env;
mod idp;
mod rate_limit;
mod saml;
mod server;

pub use admin::AdminSettings;
pub use admission::AdmissionSettings;
pub use aws::{
    AwsSettings, FederationUserSettings, KeyPairFiles, OwnCredentialsSettings,
    RegistrationSettings, RotationSettings,
};
pub use idp::{
    AtHashSetting, AttributeSettings, DirectoryIdentity, DirectoryKind, DirectorySettings,
    GroupFormatSetting, IdpKind, IdpSettings, OidcClaimSettings, OidcIdpSettings, SamlIdpSettings,
};
pub use rate_limit::RateLimitSettings;
pub use saml::SamlSettings;
pub use server::{
    DatabaseSettings, MetricsSettings, RulesSettings, ServerSettings, SessionSettings,
};

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    #[serde(default)]
    pub session: SessionSettings,
    #[serde(default)]
    pub saml: SamlSettings,
    #[serde(default, rename = "idp")]
    pub idps: Vec<IdpSettings>,
    #[serde(default)]
    pub rules: RulesSettings,
    #[serde(default)]
    pub aws: AwsSettings,
    #[serde(default)]
    pub audit: crate::audit::settings::AuditSettings,
    #[serde(default)]
    pub sealing: crate::sealing::settings::SealingSettings,
    #[serde(default)]
    pub rate_limit: RateLimitSettings,
    #[serde(default)]
    pub metrics: MetricsSettings,
    #[serde(default)]
    pub admin: AdminSettings,
    #[serde(default)]
    pub admission: AdmissionSettings,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read configuration file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("configuration file {path} is not valid TOML: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("environment variable {name}: {message}")]
    Env { name: String, message: String },
    #[error("configuration is invalid: {0}")]
    Invalid(String),
}

/// Reads the file at `path`, then applies the given environment (normally `std::env::vars()`).
pub fn load(
    path: &Path,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Settings, ConfigError> {
    let env: Vec<(String, String)> = env.into_iter().collect();
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    let mut value: toml::Table = toml::from_str(&text).map_err(|e| ConfigError::Syntax {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    env::refuse_secrets_in_file(&value)?;
    env::apply_env(&mut value, env.clone())?;
    let settings: Settings = toml::Value::Table(value)
        .try_into()
        .map_err(|e: toml::de::Error| ConfigError::Invalid(e.message().to_string()))?;
    let mut settings = settings;
    env::resolve_client_secrets(&mut settings, &env)?;
    settings.validate()?;
    Ok(settings)
}

impl Settings {
    /// Refuses configurations that would weaken a check, with a message naming the setting.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.rate_limit.validate().map_err(ConfigError::Invalid)?;
        self.admin.validate().map_err(ConfigError::Invalid)?;
        self.admission
            .validate(self.server.dev_mode)
            .map_err(ConfigError::Invalid)?;
        self.database.validate().map_err(ConfigError::Invalid)?;
        self.validate_idps()?;
        if self.saml.key_file.is_some() != self.saml.cert_file.is_some() {
            return Err(ConfigError::Invalid(
                "saml.key_file and saml.cert_file must be set together".into(),
            ));
        }
        if !(0..=600).contains(&self.saml.clock_skew_seconds) {
            return Err(ConfigError::Invalid(
                "saml.clock_skew_seconds must be between 0 and 600".into(),
            ));
        }
        if !LIFETIME_CAP_SECONDS.contains(&self.saml.max_assertion_lifetime_seconds) {
            return Err(ConfigError::Invalid(format!(
                "saml.max_assertion_lifetime_seconds is {}; it must be between 60 and 86400 \
                 (24 h): the longest NotOnOrAfter − IssueInstant an assertion may have",
                self.saml.max_assertion_lifetime_seconds
            )));
        }
        if self.saml.max_response_bytes > 4 * 1024 * 1024 {
            return Err(ConfigError::Invalid(
                "saml.max_response_bytes must be at most 4 MiB".into(),
            ));
        }
        self.audit
            .validate(self.server.dev_mode)
            .map_err(ConfigError::Invalid)?;
        if self.server.dev_mode && !is_loopback_listen(&self.server.listen) {
            return Err(ConfigError::Invalid(
                "server.dev_mode is allowed only when server.listen is a loopback address".into(),
            ));
        }
        if self.server.dev_mode && !self.server.public_url.is_empty() {
            if !is_loopback_url(&self.server.public_url) {
                return Err(ConfigError::Invalid(
                    "server.dev_mode drops the Secure cookie flag and is allowed only for a loopback public_url"
                        .into(),
                ));
            }
        } else if !self.server.dev_mode && !self.server.public_url.starts_with("https://") {
            return Err(ConfigError::Invalid(
                "server.public_url must be https:// outside dev_mode".into(),
            ));
        }
        self.aws.validate(self.server.dev_mode)?;
        if self.session.ttl_seconds <= 0 || self.session.login_ttl_seconds <= 0 {
            return Err(ConfigError::Invalid(
                "session ttl values must be positive".into(),
            ));
        }
        Ok(())
    }
}

fn default_true() -> bool {
    true
}
fn default_max_lifetime() -> i64 {
    86_400
}
/// Assertion and ID-token lifetime caps: a minute at least, 24 hours at most.
const LIFETIME_CAP_SECONDS: std::ops::RangeInclusive<i64> = 60..=86_400;

#[cfg(test)]
mod tests;
