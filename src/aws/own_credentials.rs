//! The AWS credentials Roleport signs with itself: its own (the standard AWS chain, for
//! `assume_role`) and an IAM user's long-term keys (for `federation_token`). Neither is ever
//! logged; `Credentials`' `Debug` redacts the secret.

use crate::configuration::{FederationUserSettings, OwnCredentialsSettings};
use aws_config::ecs::EcsCredentialsProvider;
use aws_config::environment::credentials::EnvironmentVariableCredentialsProvider;
use aws_config::imds::credentials::ImdsCredentialsProvider;
use aws_config::meta::credentials::CredentialsProviderChain;
use aws_config::profile::ProfileFileCredentialsProvider;
use aws_config::provider_config::ProviderConfig;
use aws_config::web_identity_token::WebIdentityTokenCredentialsProvider;
use aws_credential_types::Credentials;
use aws_credential_types::provider::ProvideCredentials;
use aws_runtime::env_config::file::{EnvConfigFileKind, EnvConfigFiles};
use aws_sdk_sts::config::Region;
use secrecy::ExposeSecret;
use std::time::{Duration, SystemTime};
use tokio::sync::Mutex;

/// Re-resolve credentials this long before they expire.
const REFRESH_BEFORE: Duration = Duration::from_secs(300);
/// The whole chain, instance metadata included, gets this long.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(15);

/// Roleport's own credentials from the standard chain, resolved when first needed and cached
/// until shortly before they expire.
pub struct OwnCredentials {
    chain: CredentialsProviderChain,
    cached: Mutex<Option<Credentials>>,
}

impl OwnCredentials {
    /// Environment → profile files → web identity token → ECS container → EC2 instance
    /// metadata (unless turned off): the SDKs' default order. `region` is for the chain's own
    /// STS calls (web identity, profile role chains).
    pub fn new(
        settings: &OwnCredentialsSettings,
        http: aws_sdk_sts::config::SharedHttpClient,
        region: Region,
    ) -> Self {
        let conf = ProviderConfig::without_region()
            .with_http_client(http)
            .with_region(Some(region));
        let mut profile = ProfileFileCredentialsProvider::builder().configure(&conf);
        if let Some(name) = &settings.profile {
            profile = profile.profile_name(name);
        }
        if settings.credentials_file.is_some() || settings.config_file.is_some() {
            let mut files = EnvConfigFiles::builder();
            if let Some(path) = &settings.credentials_file {
                files = files.with_file(EnvConfigFileKind::Credentials, path);
            }
            if let Some(path) = &settings.config_file {
                files = files.with_file(EnvConfigFileKind::Config, path);
            }
            profile = profile.profile_files(files.build());
        }
        let mut chain = CredentialsProviderChain::first_try(
            "Environment",
            EnvironmentVariableCredentialsProvider::new(),
        )
        .or_else("Profile", profile.build())
        .or_else(
            "WebIdentityToken",
            WebIdentityTokenCredentialsProvider::builder()
                .configure(&conf)
                .build(),
        )
        .or_else(
            "EcsContainer",
            EcsCredentialsProvider::builder().configure(&conf).build(),
        );
        if settings.instance_metadata {
            chain = chain.or_else(
                "Ec2InstanceMetadata",
                ImdsCredentialsProvider::builder().configure(&conf).build(),
            );
        }
        Self {
            chain,
            cached: Mutex::new(None),
        }
    }

    /// The credentials to sign with at `now`. The error says which sources were tried and
    /// why none answered; it never holds a secret.
    pub async fn get(&self, now: chrono::DateTime<chrono::Utc>) -> Result<Credentials, String> {
        let now = SystemTime::from(now);
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref()
            && c.expiry().is_none_or(|e| e > now + REFRESH_BEFORE)
        {
            return Ok(c.clone());
        }
        let resolved = tokio::time::timeout(RESOLVE_TIMEOUT, self.chain.provide_credentials())
            .await
            .map_err(|_| "resolving them timed out".to_string())?
            .map_err(|e| {
                let mut text = e.to_string();
                let mut source = std::error::Error::source(&e);
                while let Some(s) = source {
                    text.push_str(": ");
                    text.push_str(&s.to_string());
                    source = s.source();
                }
                text
            })?;
        *cached = Some(resolved.clone());
        Ok(resolved)
    }
}

/// Why the IAM user's keys could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum FederationUserError {
    #[error("aws.federation_user: {path}: {message}")]
    File { path: String, message: String },
    #[error("aws.federation_user: {0}")]
    Invalid(&'static str),
}

/// Reads the IAM user's keys (a key id and a secret, each given directly or as a file).
pub fn load_federation_user(
    settings: &FederationUserSettings,
) -> Result<Credentials, FederationUserError> {
    let read = |path: &std::path::Path| {
        std::fs::read_to_string(path)
            .map(|s| s.trim().to_string())
            .map_err(|e| FederationUserError::File {
                path: path.display().to_string(),
                message: e.to_string(),
            })
    };
    let key_id = match (&settings.access_key_id, &settings.access_key_id_file) {
        (Some(id), None) => id.trim().to_string(),
        (None, Some(path)) => read(path)?,
        _ => {
            return Err(FederationUserError::Invalid(
                "give exactly one of access_key_id and access_key_id_file",
            ));
        }
    };
    let secret = match (
        &settings.secret_access_key,
        &settings.secret_access_key_file,
    ) {
        (Some(s), None) => s.expose_secret().trim().to_string(),
        (None, Some(path)) => read(path)?,
        _ => {
            return Err(FederationUserError::Invalid(
                "give exactly one of secret_access_key (from the environment) and secret_access_key_file",
            ));
        }
    };
    // IAM: 16-128 word characters; long-term user keys are not session credentials.
    if !(16..=128).contains(&key_id.len()) || !key_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(FederationUserError::Invalid(
            "the access key id must be 16-128 letters and digits",
        ));
    }
    if secret.is_empty() {
        return Err(FederationUserError::Invalid(
            "the secret access key is empty",
        ));
    }
    Ok(Credentials::new(
        key_id,
        secret,
        None,
        None,
        "roleport-federation-user",
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use secrecy::SecretString;

    fn tmp(text: &str) -> std::path::PathBuf {
        let p = std::env::temp_dir().join(format!("roleport-fu-{}", uuid::Uuid::new_v4().simple()));
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn federation_user_keys_from_values_or_files() {
        let direct = FederationUserSettings {
            access_key_id: Some("AKIAIOSFODNN7EXAMPLE".into()),
            secret_access_key: Some(SecretString::from("secret-value")),
            ..FederationUserSettings::default()
        };
        let c = load_federation_user(&direct).unwrap();
        assert_eq!(c.access_key_id(), "AKIAIOSFODNN7EXAMPLE");
        assert_eq!(c.secret_access_key(), "secret-value");
        assert!(c.session_token().is_none());
        assert!(!format!("{c:?}").contains("secret-value"));

        let id = tmp("AKIAIOSFODNN7EXAMPLE\n");
        let secret = tmp("from-a-file\n");
        let files = FederationUserSettings {
            access_key_id_file: Some(id.clone()),
            secret_access_key_file: Some(secret.clone()),
            ..FederationUserSettings::default()
        };
        assert_eq!(
            load_federation_user(&files).unwrap().secret_access_key(),
            "from-a-file"
        );
        std::fs::remove_file(id).ok();
        std::fs::remove_file(secret).ok();

        let missing = FederationUserSettings {
            access_key_id: Some("AKIAIOSFODNN7EXAMPLE".into()),
            secret_access_key_file: Some("/nonexistent/roleport-secret".into()),
            ..FederationUserSettings::default()
        };
        let err = load_federation_user(&missing).unwrap_err().to_string();
        assert!(err.contains("/nonexistent/roleport-secret"), "{err}");

        let bad_id = FederationUserSettings {
            access_key_id: Some("not a key".into()),
            secret_access_key: Some(SecretString::from("x")),
            ..FederationUserSettings::default()
        };
        assert!(load_federation_user(&bad_id).is_err());
    }
}
