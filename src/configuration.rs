//! Settings: a TOML file, then `ROLEPORT_*` environment overrides (`__` nests: `ROLEPORT_SERVER__LISTEN`),
//! and `ROLEPORT_…_FILE` variants that read a secret from a file. Unknown keys are an error.

use secrecy::SecretString;
use serde::Deserialize;
use std::path::{Path, PathBuf};

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
}

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

fn default_true() -> bool {
    true
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

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    /// Address to bind, e.g. `127.0.0.1:8080`; port 0 picks a free port.
    pub listen: String,
    /// The URL browsers use to reach Roleport, without a trailing slash. When empty, derived from the
    /// bound address (useful with port 0 in tests).
    #[serde(default)]
    pub public_url: String,
    /// Local development over plain http: cookies lose `Secure`. Refused for a non-loopback public URL.
    #[serde(default)]
    pub dev_mode: bool,
    #[serde(default = "default_workers")]
    pub workers: usize,
    /// Threads for blocking C calls (xmlsec); requests queue for a slot rather than grow the pool.
    #[serde(default = "default_blocking_slots")]
    pub blocking_slots: usize,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    pub url: SecretString,
    #[serde(default = "default_max_connections")]
    pub max_connections: u32,
    #[serde(default)]
    pub migrate_on_start: bool,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct SessionSettings {
    #[serde(default = "default_session_ttl")]
    pub ttl_seconds: i64,
    #[serde(default = "default_login_ttl")]
    pub login_ttl_seconds: i64,
}

impl Default for SessionSettings {
    fn default() -> Self {
        Self {
            ttl_seconds: default_session_ttl(),
            login_ttl_seconds: default_login_ttl(),
        }
    }
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct SamlSettings {
    /// Defaults to `<public_url>/saml/metadata`.
    #[serde(default)]
    pub entity_id: Option<String>,
    /// PEM key and certificate for signing AuthnRequests and decrypting assertions.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    #[serde(default)]
    pub cert_file: Option<PathBuf>,
    #[serde(default = "default_skew")]
    pub clock_skew_seconds: i64,
    #[serde(default = "default_max_response_bytes")]
    pub max_response_bytes: usize,
    #[serde(default = "default_max_depth")]
    pub max_xml_depth: usize,
    /// Assertions issued longer ago than this are refused even if their conditions allow more.
    #[serde(default = "default_max_assertion_age")]
    pub max_assertion_age_seconds: i64,
}

impl Default for SamlSettings {
    fn default() -> Self {
        Self {
            entity_id: None,
            key_file: None,
            cert_file: None,
            clock_skew_seconds: default_skew(),
            max_response_bytes: default_max_response_bytes(),
            max_xml_depth: default_max_depth(),
            max_assertion_age_seconds: default_max_assertion_age(),
        }
    }
}

#[derive(Debug, Deserialize, Clone, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum IdpKind {
    Saml,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct IdpSettings {
    /// Short URL-safe id: `/login/{id}`, and the `idp` of mapping rules.
    pub id: String,
    pub kind: IdpKind,
    pub display_name: String,
    #[serde(default)]
    pub metadata_file: Option<PathBuf>,
    #[serde(default)]
    pub metadata_url: Option<String>,
    #[serde(default = "default_metadata_refresh")]
    pub metadata_refresh_seconds: u64,
    /// Explicit trust, instead of or on top of metadata.
    #[serde(default)]
    pub entity_id: Option<String>,
    #[serde(default)]
    pub sso_url: Option<String>,
    #[serde(default)]
    pub signing_cert_files: Vec<PathBuf>,
    #[serde(default)]
    pub allow_idp_initiated: bool,
    #[serde(default)]
    pub sign_authn_requests: bool,
    #[serde(default)]
    pub attributes: AttributeSettings,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct AttributeSettings {
    /// Attribute names whose values are groups; every one listed is read.
    #[serde(default = "default_group_attributes")]
    pub groups: Vec<String>,
    /// Stable id; the NameID when unset.
    #[serde(default)]
    pub subject: Option<String>,
    #[serde(default = "default_email_attributes")]
    pub email: Vec<String>,
    #[serde(default = "default_display_name_attributes")]
    pub display_name: Vec<String>,
}

impl Default for AttributeSettings {
    fn default() -> Self {
        Self {
            groups: default_group_attributes(),
            subject: None,
            email: default_email_attributes(),
            display_name: default_display_name_attributes(),
        }
    }
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct RulesSettings {
    /// How often each process checks Postgres for a new rules generation.
    #[serde(default = "default_rules_reload")]
    pub reload_seconds: u64,
}

impl Default for RulesSettings {
    fn default() -> Self {
        Self {
            reload_seconds: default_rules_reload(),
        }
    }
}

fn default_workers() -> usize {
    2
}
fn default_blocking_slots() -> usize {
    4
}
fn default_max_connections() -> u32 {
    10
}
fn default_session_ttl() -> i64 {
    8 * 3600
}
fn default_login_ttl() -> i64 {
    600
}
fn default_skew() -> i64 {
    90
}
fn default_max_response_bytes() -> usize {
    256 * 1024
}
fn default_max_depth() -> usize {
    32
}
fn default_max_assertion_age() -> i64 {
    600
}
fn default_metadata_refresh() -> u64 {
    3600
}
fn default_rules_reload() -> u64 {
    10
}
fn default_group_attributes() -> Vec<String> {
    vec![
        "http://schemas.xmlsoap.org/claims/Group".into(),
        "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups".into(),
        "memberOf".into(),
        "groups".into(),
    ]
}
fn default_email_attributes() -> Vec<String> {
    vec![
        "mail".into(),
        "email".into(),
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress".into(),
    ]
}
fn default_display_name_attributes() -> Vec<String> {
    vec![
        "displayName".into(),
        "cn".into(),
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name".into(),
    ]
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
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    let mut value: toml::Table = toml::from_str(&text).map_err(|e| ConfigError::Syntax {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    refuse_secrets_in_file(&value)?;
    apply_env(&mut value, env)?;
    let settings: Settings = toml::Value::Table(value)
        .try_into()
        .map_err(|e: toml::de::Error| ConfigError::Invalid(e.message().to_string()))?;
    settings.validate()?;
    Ok(settings)
}

/// Secrets that must come from the environment or a `*_file`, never from the (committed)
/// configuration file itself.
fn refuse_secrets_in_file(table: &toml::Table) -> Result<(), ConfigError> {
    let secret = table
        .get("aws")
        .and_then(|aws| aws.get("federation_user"))
        .and_then(|user| user.get("secret_access_key"));
    if secret.is_some() {
        return Err(ConfigError::Invalid(
            "aws.federation_user.secret_access_key must not be written in the configuration file: \
             use secret_access_key_file, or ROLEPORT_AWS__FEDERATION_USER__SECRET_ACCESS_KEY(_FILE)"
                .into(),
        ));
    }
    Ok(())
}

/// `ROLEPORT_*` variables that are not settings: the config path, the log format, and knobs of
/// the test scripts. Every other `ROLEPORT_*` variable must name a setting.
const NOT_SETTINGS: &[&str] = &[
    "ROLEPORT_CONFIG",
    "ROLEPORT_LOG_FORMAT",
    "ROLEPORT_TEST_",
    "ROLEPORT_VENV",
];

fn apply_env(
    table: &mut toml::Table,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<(), ConfigError> {
    let mut vars: Vec<(String, String)> = env
        .into_iter()
        .filter(|(k, _)| {
            k.starts_with("ROLEPORT_") && !NOT_SETTINGS.iter().any(|p| k.starts_with(p))
        })
        .collect();
    vars.sort();
    for (name, raw) in vars {
        let Some(rest) = name.strip_prefix("ROLEPORT_") else {
            continue;
        };
        let (key_path, value) = match rest.strip_suffix("_FILE") {
            Some(stripped) => {
                let secret = std::fs::read_to_string(&raw).map_err(|e| ConfigError::Env {
                    name: name.clone(),
                    message: format!("cannot read {raw}: {e}"),
                })?;
                (
                    stripped.to_string(),
                    toml::Value::String(secret.trim_end().to_string()),
                )
            }
            None => (rest.to_string(), scalar(&raw)),
        };
        let parts: Vec<String> = key_path.split("__").map(str::to_lowercase).collect();
        set_path(table, &parts, value).map_err(|message| ConfigError::Env {
            name: name.clone(),
            message,
        })?;
    }
    Ok(())
}

fn scalar(raw: &str) -> toml::Value {
    if let Ok(i) = raw.parse::<i64>() {
        return toml::Value::Integer(i);
    }
    match raw {
        "true" => toml::Value::Boolean(true),
        "false" => toml::Value::Boolean(false),
        _ => toml::Value::String(raw.to_string()),
    }
}

fn set_path(table: &mut toml::Table, parts: &[String], value: toml::Value) -> Result<(), String> {
    match parts {
        [] => Err("empty key".into()),
        [last] => {
            // Strings that look like numbers stay strings where the file already has a string.
            let value = match (table.get(last), &value) {
                (Some(toml::Value::String(_)), toml::Value::Integer(i)) => {
                    toml::Value::String(i.to_string())
                }
                _ => value,
            };
            table.insert(last.clone(), value);
            Ok(())
        }
        [first, rest @ ..] => {
            let entry = table
                .entry(first.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            match entry {
                toml::Value::Table(inner) => set_path(inner, rest, value),
                _ => Err(format!("`{first}` is not a section")),
            }
        }
    }
}

impl Settings {
    /// Refuses configurations that would weaken a check, with a message naming the setting.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut ids = std::collections::BTreeSet::new();
        for idp in &self.idps {
            if !valid_idp_id(&idp.id) {
                return Err(ConfigError::Invalid(format!(
                    "idp id `{}` must be 1-64 characters of a-z, 0-9, '-' or '_'",
                    idp.id
                )));
            }
            if !ids.insert(idp.id.clone()) {
                return Err(ConfigError::Invalid(format!(
                    "idp id `{}` is configured twice",
                    idp.id
                )));
            }
            let has_source = idp.metadata_file.is_some()
                || idp.metadata_url.is_some()
                || !idp.signing_cert_files.is_empty();
            if !has_source {
                return Err(ConfigError::Invalid(format!(
                    "idp `{}` has no pinned signing certificate: set metadata_file, metadata_url or \
                     signing_cert_files (signature checks are never skipped)",
                    idp.id
                )));
            }
            if idp.metadata_file.is_none()
                && idp.metadata_url.is_none()
                && (idp.entity_id.is_none() || idp.sso_url.is_none())
            {
                return Err(ConfigError::Invalid(format!(
                    "idp `{}` without metadata needs entity_id and sso_url",
                    idp.id
                )));
            }
            if let Some(url) = &idp.metadata_url
                && !url.starts_with("https://")
                && !(self.server.dev_mode && is_loopback_url(url))
            {
                return Err(ConfigError::Invalid(format!(
                    "idp `{}` metadata_url must use https (plain http only for loopback in dev_mode)",
                    idp.id
                )));
            }
            if idp.sign_authn_requests && self.saml.key_file.is_none() {
                return Err(ConfigError::Invalid(format!(
                    "idp `{}` wants signed AuthnRequests but saml.key_file is not set",
                    idp.id
                )));
            }
            if idp.attributes.groups.is_empty() {
                return Err(ConfigError::Invalid(format!(
                    "idp `{}` lists no group attributes",
                    idp.id
                )));
            }
        }
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
        if self.saml.max_response_bytes > 4 * 1024 * 1024 {
            return Err(ConfigError::Invalid(
                "saml.max_response_bytes must be at most 4 MiB".into(),
            ));
        }
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
        for partition in self.aws.endpoints.keys() {
            if partition
                .parse::<crate::protocol::mapping::Partition>()
                .is_err()
            {
                return Err(ConfigError::Invalid(format!(
                    "aws.endpoints.{partition}: not a partition (aws, aws-cn, aws-us-gov)"
                )));
            }
        }
        if let Some(user) = &self.aws.federation_user {
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
        if !(1..=10).contains(&self.aws.sts_max_attempts)
            || !(1..=120).contains(&self.aws.sts_timeout_seconds)
        {
            return Err(ConfigError::Invalid(
                "aws.sts_max_attempts must be 1-10 and aws.sts_timeout_seconds 1-120".into(),
            ));
        }
        if self.session.ttl_seconds <= 0 || self.session.login_ttl_seconds <= 0 {
            return Err(ConfigError::Invalid(
                "session ttl values must be positive".into(),
            ));
        }
        Ok(())
    }
}

fn valid_idp_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

fn is_loopback_listen(listen: &str) -> bool {
    listen
        .parse::<std::net::SocketAddr>()
        .map(|a| a.ip().is_loopback())
        .unwrap_or_else(|_| listen.starts_with("localhost:"))
}

fn is_loopback_url(url: &str) -> bool {
    url::Url::parse(url)
        .ok()
        .and_then(|u| {
            u.host().map(|h| match h {
                url::Host::Domain(d) => d == "localhost",
                url::Host::Ipv4(ip) => ip.is_loopback(),
                url::Host::Ipv6(ip) => ip.is_loopback(),
            })
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write(text: &str) -> tempfile_path::TempPath {
        tempfile_path::TempPath::with(text)
    }

    mod tempfile_path {
        pub struct TempPath(pub std::path::PathBuf);
        impl TempPath {
            pub fn with(text: &str) -> Self {
                let path = std::env::temp_dir()
                    .join(format!("roleport-cfg-{}.toml", uuid::Uuid::new_v4()));
                let mut f = std::fs::File::create(&path).unwrap();
                super::Write::write_all(&mut f, text.as_bytes()).unwrap();
                Self(path)
            }
        }
        impl Drop for TempPath {
            fn drop(&mut self) {
                let _ = std::fs::remove_file(&self.0);
            }
        }
    }

    const BASE: &str = r#"
[server]
listen = "127.0.0.1:0"
dev_mode = true
[database]
url = "postgres://localhost/x"
"#;

    #[test]
    fn env_overrides_nest_and_keep_types() {
        let f = write(BASE);
        let s = load(
            &f.0,
            [
                (
                    "ROLEPORT_SERVER__LISTEN".to_string(),
                    "127.0.0.1:9".to_string(),
                ),
                (
                    "ROLEPORT_SESSION__TTL_SECONDS".to_string(),
                    "60".to_string(),
                ),
            ],
        )
        .unwrap();
        assert_eq!(s.server.listen, "127.0.0.1:9");
        assert_eq!(s.session.ttl_seconds, 60);
    }

    #[test]
    fn secrets_come_from_file_variants() {
        let f = write(BASE);
        let secret = write("postgres://secret@localhost/db\n");
        let s = load(
            &f.0,
            [(
                "ROLEPORT_DATABASE__URL_FILE".to_string(),
                secret.0.display().to_string(),
            )],
        )
        .unwrap();
        use secrecy::ExposeSecret;
        assert_eq!(
            s.database.url.expose_secret(),
            "postgres://secret@localhost/db"
        );
    }

    #[test]
    fn unknown_keys_are_refused() {
        let f = write(&format!("{BASE}\nbogus = 1\n"));
        assert!(matches!(load(&f.0, []), Err(ConfigError::Invalid(_))));
        let f = write(BASE);
        let err = load(&f.0, [("ROLEPORT_SERVER__LISTN".into(), "x".into())]);
        assert!(err.is_err());
    }

    #[test]
    fn idp_without_pinned_key_is_refused_with_a_clear_message() {
        let f = write(&format!(
            "{BASE}\n[[idp]]\nid = \"corp\"\nkind = \"saml\"\ndisplay_name = \"Corp\"\nentity_id = \"x\"\nsso_url = \"https://idp/sso\"\n"
        ));
        let err = load(&f.0, []).unwrap_err().to_string();
        assert!(err.contains("no pinned signing certificate"), "{err}");
    }

    #[test]
    fn non_setting_variables_are_ignored_but_typos_are_not() {
        let f = write(BASE);
        let env = [
            ("ROLEPORT_LOG_FORMAT".to_string(), "pretty".to_string()),
            ("ROLEPORT_TEST_PEERS_ENV".to_string(), "/x".to_string()),
            ("ROLEPORT_CONFIG".to_string(), "/y".to_string()),
        ];
        assert!(load(&f.0, env).is_ok());
        let typo = [("ROLEPORT_SERVR__LISTEN".to_string(), "x".to_string())];
        assert!(load(&f.0, typo).is_err());
    }

    #[test]
    fn federation_user_secret_only_from_env_or_file() {
        use secrecy::ExposeSecret;
        let in_file = write(&format!(
            "{BASE}\n[aws.federation_user]\naccess_key_id = \"AKIAEXAMPLE\"\nsecret_access_key = \"s3cr3t\"\n"
        ));
        let err = load(&in_file.0, []).unwrap_err().to_string();
        assert!(
            err.contains("must not be written in the configuration file"),
            "{err}"
        );

        let secret = write("s3cr3t\n");
        let f = write(&format!(
            "{BASE}\n[aws.federation_user]\naccess_key_id = \"AKIAEXAMPLE\"\n"
        ));
        let s = load(
            &f.0,
            [(
                "ROLEPORT_AWS__FEDERATION_USER__SECRET_ACCESS_KEY_FILE".to_string(),
                secret.0.display().to_string(),
            )],
        )
        .unwrap();
        let user = s.aws.federation_user.unwrap();
        assert_eq!(user.access_key_id.as_deref(), Some("AKIAEXAMPLE"));
        assert_eq!(user.secret_access_key.unwrap().expose_secret(), "s3cr3t");
        assert!(
            !format!(
                "{:?}",
                load(
                    &f.0,
                    [(
                        "ROLEPORT_AWS__FEDERATION_USER__SECRET_ACCESS_KEY_FILE".to_string(),
                        secret.0.display().to_string(),
                    )]
                )
                .unwrap()
            )
            .contains("s3cr3t")
        );

        let paths = write(&format!(
            "{BASE}\n[aws.federation_user]\naccess_key_id_file = \"/run/secrets/id\"\nsecret_access_key_file = \"/run/secrets/key\"\n"
        ));
        assert!(load(&paths.0, []).is_ok());

        let half = write(&format!(
            "{BASE}\n[aws.federation_user]\naccess_key_id = \"AKIAEXAMPLE\"\n"
        ));
        let err = load(&half.0, []).unwrap_err().to_string();
        assert!(err.contains("secret_access_key"), "{err}");

        let typo = write(&format!(
            "{BASE}\n[aws.federation_user]\naccess_key = \"AKIAEXAMPLE\"\n"
        ));
        assert!(load(&typo.0, []).is_err(), "unknown keys stay an error");
    }

    #[test]
    fn own_credentials_settings_name_no_secret() {
        let f = write(&format!(
            "{BASE}\n[aws.own_credentials]\nprofile = \"roleport\"\ncredentials_file = \"/etc/roleport/aws\"\ninstance_metadata = false\n"
        ));
        let s = load(&f.0, []).unwrap();
        assert_eq!(s.aws.own_credentials.profile.as_deref(), Some("roleport"));
        assert!(!s.aws.own_credentials.instance_metadata);
        assert!(AwsSettings::default().own_credentials.instance_metadata);
        let typo = write(&format!(
            "{BASE}\n[aws.own_credentials]\naccess_key_id = \"AKIA\"\n"
        ));
        assert!(load(&typo.0, []).is_err());
    }

    #[test]
    fn dev_mode_needs_a_loopback_listener() {
        let f = write(&BASE.replace("127.0.0.1:0", "0.0.0.0:8080"));
        let err = load(&f.0, []).unwrap_err().to_string();
        assert!(err.contains("loopback"), "{err}");
    }

    #[test]
    fn dev_mode_is_refused_off_loopback_and_http_outside_dev_mode() {
        let f = write(&BASE.replace(
            "dev_mode = true",
            "dev_mode = true\npublic_url = \"http://roleport.example.com\"",
        ));
        assert!(load(&f.0, []).is_err());
        let f = write(&BASE.replace(
            "dev_mode = true",
            "public_url = \"http://roleport.example.com\"",
        ));
        assert!(load(&f.0, []).is_err());
    }
}
