//! Settings: a TOML file, then `ROLEPORT_*` environment overrides (`__` nests: `ROLEPORT_SERVER__LISTEN`),
//! and `ROLEPORT_…_FILE` variants that read a secret from a file. Unknown keys are an error.

use secrecy::SecretString;
use serde::Deserialize;
use std::path::{Path, PathBuf};

mod rate_limit;
pub use rate_limit::RateLimitSettings;

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
}

/// `/metrics` has its own listener, kept off the public one (default loopback).
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct MetricsSettings {
    /// Address to bind; port 0 picks a free port.
    #[serde(default = "default_metrics_listen")]
    pub listen: String,
}

impl Default for MetricsSettings {
    fn default() -> Self {
        Self {
            listen: default_metrics_listen(),
        }
    }
}

fn default_metrics_listen() -> String {
    "127.0.0.1:9464".into()
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
    /// Proxies whose `X-Forwarded-For`/`Forwarded` headers are believed (CIDRs or addresses).
    #[serde(default)]
    pub trusted_proxies: crate::http::request_meta::TrustedProxies,
    /// Which forwarding header those proxies write: `x-forwarded-for` or `forwarded`.
    #[serde(default)]
    pub forwarded_header: crate::http::request_meta::ForwardedHeader,
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
    /// Longest NotOnOrAfter − IssueInstant accepted, for the Conditions and every bearer
    /// SubjectConfirmationData. Default 86400 (24 h), 60..=86400.
    #[serde(default = "default_max_lifetime")]
    pub max_assertion_lifetime_seconds: i64,
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
            max_assertion_lifetime_seconds: default_max_lifetime(),
        }
    }
}

/// What kind of upstream an `[[idp]]` is. `kind = "saml"` keeps its settings in [`IdpSettings`]
/// itself (the shape every existing configuration has); `kind = "oidc"` carries its own.
#[derive(Debug, Clone)]
pub enum IdpKind {
    Saml,
    Oidc(Box<OidcIdpSettings>),
}

impl IdpKind {
    pub fn label(&self) -> &'static str {
        match self {
            Self::Saml => "saml",
            Self::Oidc(_) => "oidc",
        }
    }
}

/// One upstream identity provider. Read from TOML through [`RawIdp`]: the `kind` member picks
/// which fields are allowed, and unknown fields stay an error for both kinds.
#[derive(Debug, Deserialize, Clone)]
#[serde(try_from = "RawIdp")]
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

#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
enum RawIdp {
    Saml(Box<SamlIdpToml>),
    /// Read member by member so that unknown keys stay an error (`flatten` would hide them).
    Oidc(toml::Table),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SamlIdpToml {
    id: String,
    display_name: String,
    #[serde(default)]
    metadata_file: Option<PathBuf>,
    #[serde(default)]
    metadata_url: Option<String>,
    #[serde(default = "default_metadata_refresh")]
    metadata_refresh_seconds: u64,
    #[serde(default)]
    entity_id: Option<String>,
    #[serde(default)]
    sso_url: Option<String>,
    #[serde(default)]
    signing_cert_files: Vec<PathBuf>,
    #[serde(default)]
    allow_idp_initiated: bool,
    #[serde(default)]
    sign_authn_requests: bool,
    #[serde(default)]
    attributes: AttributeSettings,
}

impl TryFrom<RawIdp> for IdpSettings {
    type Error = String;

    fn try_from(raw: RawIdp) -> Result<Self, Self::Error> {
        Ok(match raw {
            RawIdp::Saml(s) => IdpSettings {
                id: s.id,
                kind: IdpKind::Saml,
                display_name: s.display_name,
                metadata_file: s.metadata_file,
                metadata_url: s.metadata_url,
                metadata_refresh_seconds: s.metadata_refresh_seconds,
                entity_id: s.entity_id,
                sso_url: s.sso_url,
                signing_cert_files: s.signing_cert_files,
                allow_idp_initiated: s.allow_idp_initiated,
                sign_authn_requests: s.sign_authn_requests,
                attributes: s.attributes,
            },
            RawIdp::Oidc(mut table) => {
                let mut take = |name: &str| match table.remove(name) {
                    Some(toml::Value::String(v)) => Ok(v),
                    Some(_) => Err(format!("idp `{name}` must be a string")),
                    None => Err(format!("missing field `{name}`")),
                };
                let id = take("id")?;
                let display_name = take("display_name")?;
                let oidc: OidcIdpSettings = toml::Value::Table(table)
                    .try_into()
                    .map_err(|e: toml::de::Error| format!("idp `{id}`: {}", e.message()))?;
                IdpSettings {
                    id,
                    kind: IdpKind::Oidc(Box::new(oidc)),
                    display_name,
                    metadata_file: None,
                    metadata_url: None,
                    metadata_refresh_seconds: default_metadata_refresh(),
                    entity_id: None,
                    sso_url: None,
                    signing_cert_files: Vec::new(),
                    allow_idp_initiated: false,
                    sign_authn_requests: false,
                    attributes: AttributeSettings::default(),
                }
            }
        })
    }
}

impl IdpSettings {
    pub fn oidc(&self) -> Option<&OidcIdpSettings> {
        match &self.kind {
            IdpKind::Oidc(o) => Some(o),
            IdpKind::Saml => None,
        }
    }

    /// `ROLEPORT_IDP_<ID>_CLIENT_SECRET`: `-` becomes `_`, letters upper case.
    pub fn client_secret_variable(&self) -> String {
        format!(
            "ROLEPORT_IDP_{}_CLIENT_SECRET",
            self.id.to_ascii_uppercase().replace('-', "_")
        )
    }
}

/// An OpenID Connect provider (`kind = "oidc"`). Every ID token is verified by
/// `protocol::oidc::verify_id_token` with the policy built from these settings.
///
/// The client secret is never read from the configuration file: it comes from
/// `ROLEPORT_IDP_<ID>_CLIENT_SECRET` or `ROLEPORT_IDP_<ID>_CLIENT_SECRET_FILE` (id upper-cased,
/// `-` → `_`), or from `client_secret_file`. A public client (`public_client = true`) has none.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct OidcIdpSettings {
    /// Issuer identifier; discovery is `<issuer>/.well-known/openid-configuration`.
    pub issuer: String,
    pub client_id: String,
    /// Filled from the environment or `client_secret_file` by [`load`]; tests set it directly.
    #[serde(skip)]
    pub client_secret: Option<SecretString>,
    #[serde(default)]
    pub client_secret_file: Option<PathBuf>,
    /// No client secret (PKCE only); the token request sends `client_id` in the body.
    #[serde(default)]
    pub public_client: bool,
    #[serde(default = "default_oidc_scopes")]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub claims: OidcClaimSettings,
    /// Pinned signature algorithms. Default `["RS256"]`; `none` and `HS*` are refused.
    #[serde(default = "default_oidc_algs")]
    pub algorithms: Vec<String>,
    /// Oldest acceptable `iat`. Default 600 s, at most 24 h.
    #[serde(default = "default_oidc_max_age")]
    pub max_token_age_seconds: i64,
    /// Clock leeway on `exp`/`iat`/`nbf`. Default 60 s, at most 300 s.
    #[serde(default = "default_oidc_leeway")]
    pub leeway_seconds: i64,
    /// Longest `exp − iat` accepted. Default 86400 (24 h), 60..=86400.
    #[serde(default = "default_max_lifetime")]
    pub max_token_lifetime_seconds: i64,
    /// Audiences besides `client_id` that may appear in `aud`. Default none.
    #[serde(default)]
    pub trusted_audiences: Vec<String>,
    /// `required` (default): an ID token next to an access token must carry `at_hash`;
    /// `if_present`: checked when present (what OIDC Core asks of the code flow).
    #[serde(default)]
    pub at_hash: AtHashSetting,
    /// Ask the userinfo endpoint for groups when the ID token carries none.
    #[serde(default)]
    pub userinfo: bool,
    #[serde(default = "default_jwks_refresh")]
    pub jwks_refresh_seconds: u64,
    /// Non-empty: the `hd` claim (Google Workspace domain) must be one of these.
    #[serde(default)]
    pub allowed_hosted_domains: Vec<String>,
    /// Largest ID token accepted, bytes. Default 16 KiB, 1 KiB ..= 64 KiB.
    #[serde(default = "default_oidc_max_token_bytes")]
    pub max_token_bytes: usize,
}

#[derive(Debug, Deserialize, Clone, Copy, Default, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum AtHashSetting {
    #[default]
    Required,
    IfPresent,
}

/// Claim paths (dotted, e.g. `realm_access.roles`) for the identity.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct OidcClaimSettings {
    /// Every path listed is read; values are merged.
    #[serde(default = "default_oidc_group_claims")]
    pub groups: Vec<String>,
    /// Group claims that are one space-separated string rather than an array.
    #[serde(default)]
    pub groups_space_separated: bool,
    #[serde(default = "default_oidc_email")]
    pub email: String,
    #[serde(default = "default_oidc_email_verified")]
    pub email_verified: String,
    #[serde(default = "default_oidc_stable_id")]
    pub stable_id: String,
    #[serde(default = "default_oidc_name")]
    pub name: String,
}

impl Default for OidcClaimSettings {
    fn default() -> Self {
        Self {
            groups: default_oidc_group_claims(),
            groups_space_separated: false,
            email: default_oidc_email(),
            email_verified: default_oidc_email_verified(),
            stable_id: default_oidc_stable_id(),
            name: default_oidc_name(),
        }
    }
}

impl OidcIdpSettings {
    /// The settings for an issuer and client id, everything else at its default.
    pub fn new(issuer: impl Into<String>, client_id: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            client_id: client_id.into(),
            client_secret: None,
            client_secret_file: None,
            public_client: false,
            scopes: default_oidc_scopes(),
            claims: OidcClaimSettings::default(),
            algorithms: default_oidc_algs(),
            max_token_age_seconds: default_oidc_max_age(),
            leeway_seconds: default_oidc_leeway(),
            max_token_lifetime_seconds: default_max_lifetime(),
            trusted_audiences: Vec::new(),
            at_hash: AtHashSetting::Required,
            userinfo: false,
            jwks_refresh_seconds: default_jwks_refresh(),
            allowed_hosted_domains: Vec::new(),
            max_token_bytes: default_oidc_max_token_bytes(),
        }
    }

    /// The verifier's policy; refuses (with a message naming the setting) anything that would
    /// weaken a check.
    pub fn id_token_policy(&self) -> Result<crate::protocol::oidc::IdTokenPolicy, String> {
        use crate::protocol::oidc::{
            AtHashRule, ClaimMapping, ClaimPath, GroupSource, IdTokenPolicy, JwsAlg, JwsPolicy,
            StringForm,
        };
        let mut algs = Vec::new();
        for name in &self.algorithms {
            let alg = JwsAlg::parse(name).map_err(|e| {
                format!(
                    "algorithms: `{name}` cannot be allowed ({e:?}); use RS256/384/512, PS256/384/512 or ES256/384/512"
                )
            })?;
            if !algs.contains(&alg) {
                algs.push(alg);
            }
        }
        let path = |what: &str, p: &str| {
            ClaimPath::parse(p).map_err(|e| format!("claims.{what}: `{p}`: {e}"))
        };
        let mut groups = Vec::new();
        for g in &self.claims.groups {
            let mut source = GroupSource::new(path("groups", g)?);
            if self.claims.groups_space_separated {
                source.string_form = StringForm::SpaceSeparated;
            }
            groups.push(source);
        }
        let policy = IdTokenPolicy {
            jws: JwsPolicy {
                allowed_algs: algs,
                max_token_bytes: self.max_token_bytes,
                ..JwsPolicy::default()
            },
            leeway: chrono::Duration::seconds(self.leeway_seconds),
            max_age: chrono::Duration::seconds(self.max_token_age_seconds),
            max_lifetime: chrono::Duration::seconds(self.max_token_lifetime_seconds),
            trusted_audiences: self.trusted_audiences.clone(),
            at_hash: match self.at_hash {
                AtHashSetting::Required => AtHashRule::Required,
                AtHashSetting::IfPresent => AtHashRule::IfPresent,
            },
            claims: ClaimMapping {
                stable_id: path("stable_id", &self.claims.stable_id)?,
                email: path("email", &self.claims.email)?,
                email_verified: path("email_verified", &self.claims.email_verified)?,
                name: path("name", &self.claims.name)?,
                groups,
                allowed_hosted_domains: self.allowed_hosted_domains.clone(),
                ..ClaimMapping::default()
            },
        };
        policy.validate().map_err(|e| e.to_string())?;
        Ok(policy)
    }
}

fn default_oidc_scopes() -> Vec<String> {
    vec!["openid".into(), "email".into(), "profile".into()]
}
fn default_oidc_algs() -> Vec<String> {
    vec!["RS256".into()]
}
fn default_oidc_max_age() -> i64 {
    600
}
fn default_oidc_leeway() -> i64 {
    60
}
fn default_jwks_refresh() -> u64 {
    3600
}
fn default_oidc_max_token_bytes() -> usize {
    16 * 1024
}
fn default_oidc_group_claims() -> Vec<String> {
    vec!["groups".into()]
}
fn default_oidc_email() -> String {
    "email".into()
}
fn default_oidc_email_verified() -> String {
    "email_verified".into()
}
fn default_oidc_stable_id() -> String {
    "sub".into()
}
fn default_oidc_name() -> String {
    "name".into()
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
    /// Whether the IdP vouches for the addresses in `email` (it signs them; default true).
    /// `false` keeps every e-mail attribute away from the rules.
    #[serde(default = "default_true")]
    pub email_verified: bool,
    #[serde(default = "default_display_name_attributes")]
    pub display_name: Vec<String>,
}

impl Default for AttributeSettings {
    fn default() -> Self {
        Self {
            groups: default_group_attributes(),
            subject: None,
            email: default_email_attributes(),
            email_verified: true,
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
fn default_max_lifetime() -> i64 {
    86_400
}
/// Assertion and ID-token lifetime caps: a minute at least, 24 hours at most.
const LIFETIME_CAP_SECONDS: std::ops::RangeInclusive<i64> = 60..=86_400;
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
    let env: Vec<(String, String)> = env.into_iter().collect();
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    let mut value: toml::Table = toml::from_str(&text).map_err(|e| ConfigError::Syntax {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    refuse_secrets_in_file(&value)?;
    apply_env(&mut value, env.clone())?;
    let settings: Settings = toml::Value::Table(value)
        .try_into()
        .map_err(|e: toml::de::Error| ConfigError::Invalid(e.message().to_string()))?;
    let mut settings = settings;
    resolve_client_secrets(&mut settings, &env)?;
    settings.validate()?;
    Ok(settings)
}

/// OIDC client secrets: `ROLEPORT_IDP_<ID>_CLIENT_SECRET`, its `_FILE` variant, or the idp's
/// `client_secret_file` — exactly one of them for a confidential client, none for a public one.
fn resolve_client_secrets(
    settings: &mut Settings,
    env: &[(String, String)],
) -> Result<(), ConfigError> {
    for idp in &mut settings.idps {
        let variable = idp.client_secret_variable();
        let id = idp.id.clone();
        let IdpKind::Oidc(oidc) = &mut idp.kind else {
            continue;
        };
        let file_variable = format!("{variable}_FILE");
        let mut sources = Vec::new();
        for (name, value) in env {
            if *name == variable {
                sources.push(value.trim_end().to_string());
            } else if *name == file_variable {
                let text = std::fs::read_to_string(value).map_err(|e| ConfigError::Env {
                    name: name.clone(),
                    message: format!("cannot read {value}: {e}"),
                })?;
                sources.push(text.trim_end().to_string());
            }
        }
        if let Some(path) = &oidc.client_secret_file {
            let text = std::fs::read_to_string(path).map_err(|e| {
                ConfigError::Invalid(format!(
                    "idp `{id}` client_secret_file {}: {e}",
                    path.display()
                ))
            })?;
            sources.push(text.trim_end().to_string());
        }
        match sources.len() {
            0 => {}
            1 => oidc.client_secret = sources.pop().map(SecretString::from),
            _ => {
                return Err(ConfigError::Invalid(format!(
                    "idp `{id}`: the client secret is given more than once ({variable}, \
                     {file_variable}, client_secret_file): keep one"
                )));
            }
        }
    }
    Ok(())
}

/// Secrets that must come from the environment or a `*_file`, never from the (committed)
/// configuration file itself.
fn refuse_secrets_in_file(table: &toml::Table) -> Result<(), ConfigError> {
    let secret = table
        .get("aws")
        .and_then(|aws| aws.get("federation_user"))
        .and_then(|user| user.get("secret_access_key"));
    if let Some(toml::Value::Array(idps)) = table.get("idp") {
        for idp in idps {
            if idp.get("client_secret").is_some() {
                let id = idp.get("id").and_then(toml::Value::as_str).unwrap_or("?");
                return Err(ConfigError::Invalid(format!(
                    "idp `{id}`: client_secret must not be written in the configuration file: use \
                     client_secret_file, or ROLEPORT_IDP_<ID>_CLIENT_SECRET(_FILE)"
                )));
            }
        }
    }
    if secret.is_some() {
        return Err(ConfigError::Invalid(
            "aws.federation_user.secret_access_key must not be written in the configuration file: \
             use secret_access_key_file, or ROLEPORT_AWS__FEDERATION_USER__SECRET_ACCESS_KEY(_FILE)"
                .into(),
        ));
    }
    crate::sealing::settings::refuse_key_in_file(table).map_err(ConfigError::Invalid)?;
    if table.get("audit").and_then(|a| a.get("key")).is_some() {
        return Err(ConfigError::Invalid(
            "audit.key must not be written in the configuration file: use audit.key_file, or \
             ROLEPORT_AUDIT__KEY(_FILE)"
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
            k.starts_with("ROLEPORT_")
                && !NOT_SETTINGS.iter().any(|p| k.starts_with(p))
                && !is_client_secret_variable(k)
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

/// `ROLEPORT_IDP_<ID>_CLIENT_SECRET(_FILE)` are read by [`resolve_client_secrets`], not as a
/// settings path (those use `__`).
fn is_client_secret_variable(name: &str) -> bool {
    name.strip_prefix("ROLEPORT_IDP_").is_some_and(|rest| {
        !rest.starts_with('_')
            && (rest.ends_with("_CLIENT_SECRET") || rest.ends_with("_CLIENT_SECRET_FILE"))
    })
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
        self.rate_limit.validate().map_err(ConfigError::Invalid)?;
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
            if let IdpKind::Oidc(oidc) = &idp.kind {
                self.validate_oidc(&idp.id, oidc)?;
                continue;
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
        // The default issuer is the public URL, already https:// outside dev_mode.
        if let Some(issuer) = &self.aws.oidc_issuer
            && !self.server.dev_mode
            && !issuer.starts_with("https://")
        {
            return Err(ConfigError::Invalid(format!(
                "aws.oidc_issuer must be https:// outside dev_mode: IAM registers only https \
                 OpenID Connect providers, so AWS would refuse every oidc_broker token; got \
                 {issuer:?}"
            )));
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

impl Settings {
    fn validate_oidc(&self, id: &str, oidc: &OidcIdpSettings) -> Result<(), ConfigError> {
        let invalid = |m: String| ConfigError::Invalid(format!("idp `{id}`: {m}"));
        let issuer = url::Url::parse(&oidc.issuer)
            .map_err(|e| invalid(format!("issuer `{}` is not a URL: {e}", oidc.issuer)))?;
        let https = issuer.scheme() == "https";
        let dev_http =
            issuer.scheme() == "http" && self.server.dev_mode && is_loopback_url(&oidc.issuer);
        if !https && !dev_http {
            return Err(invalid(
                "issuer must use https (plain http only for a loopback issuer in dev_mode)".into(),
            ));
        }
        if issuer.query().is_some() || issuer.fragment().is_some() {
            return Err(invalid("issuer must have no query or fragment".into()));
        }
        if oidc.client_id.is_empty() {
            return Err(invalid("client_id is empty".into()));
        }
        match (oidc.public_client, oidc.client_secret.is_some()) {
            (false, false) => {
                return Err(invalid(format!(
                    "no client secret: set ROLEPORT_IDP_{}_CLIENT_SECRET(_FILE) or client_secret_file, \
                     or public_client = true",
                    id.to_ascii_uppercase().replace('-', "_")
                )));
            }
            (true, true) => {
                return Err(invalid(
                    "public_client = true but a client secret is configured".into(),
                ));
            }
            _ => {}
        }
        if !oidc.scopes.iter().any(|s| s == "openid") {
            return Err(invalid("scopes must include `openid`".into()));
        }
        if oidc
            .scopes
            .iter()
            .any(|s| s.is_empty() || s.contains(char::is_whitespace))
        {
            return Err(invalid("scopes must be single words".into()));
        }
        if !LIFETIME_CAP_SECONDS.contains(&oidc.max_token_lifetime_seconds) {
            return Err(invalid(format!(
                "max_token_lifetime_seconds is {}; it must be between 60 and 86400 (24 h): \
                 the longest exp − iat an ID token may have",
                oidc.max_token_lifetime_seconds
            )));
        }
        if !(60..=86_400).contains(&oidc.jwks_refresh_seconds) {
            return Err(invalid("jwks_refresh_seconds must be 60..=86400".into()));
        }
        if oidc.trusted_audiences.iter().any(|a| a == &oidc.client_id) {
            return Err(invalid(
                "trusted_audiences lists the client_id itself (it is always expected)".into(),
            ));
        }
        oidc.id_token_policy().map_err(invalid)?;
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
    fn assertion_lifetime_cap_is_range_checked() {
        let f = write(BASE);
        let ok = load(&f.0, []).unwrap();
        assert_eq!(ok.saml.max_assertion_lifetime_seconds, 86_400);
        for good in ["60", "300", "86400"] {
            let f = write(&format!(
                "{BASE}\n[saml]\nmax_assertion_lifetime_seconds = {good}\n"
            ));
            assert!(load(&f.0, []).is_ok(), "{good}");
        }
        for bad in ["0", "59", "86401", "-5"] {
            let f = write(&format!(
                "{BASE}\n[saml]\nmax_assertion_lifetime_seconds = {bad}\n"
            ));
            let e = load(&f.0, []).unwrap_err().to_string();
            assert!(
                e.contains(&format!("saml.max_assertion_lifetime_seconds is {bad}"))
                    && e.contains("between 60 and 86400"),
                "{e}"
            );
        }
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

    #[test]
    fn the_oidc_broker_issuer_is_https_outside_dev_mode() {
        // Outside dev_mode the audit chain needs its key; it comes from the environment.
        let audit_key = || {
            [(
                "ROLEPORT_AUDIT__KEY".to_string(),
                "k1 dGVzdCBhdWRpdCBrZXkgb2YgdGhpcnR5LXR3byBieXRlcw==".to_string(),
            )]
        };
        let prod = BASE.replace(
            "dev_mode = true",
            "public_url = \"https://roleport.example.com\"",
        );
        let http = write(&format!(
            "{prod}[aws]\noidc_issuer = \"http://roleport.example.com\"\n"
        ));
        let err = load(&http.0, audit_key()).unwrap_err().to_string();
        assert!(
            err.contains("aws.oidc_issuer must be https://")
                && err.contains("IAM registers only https"),
            "{err}"
        );
        let https = write(&format!(
            "{prod}[aws]\noidc_issuer = \"https://sso.example.com/aws\"\n"
        ));
        assert!(load(&https.0, audit_key()).is_ok());
        // dev_mode keeps plain http for a loopback test issuer.
        let dev = write(&format!(
            "{BASE}[aws]\noidc_issuer = \"http://127.0.0.1:8080\"\n"
        ));
        assert!(load(&dev.0, []).is_ok());
    }

    const OIDC: &str = "\n[[idp]]\nid = \"demo-oidc\"\nkind = \"oidc\"\ndisplay_name = \"Demo\"\nissuer = \"http://127.0.0.1:38903\"\nclient_id = \"roleport\"\n";

    #[test]
    fn oidc_idp_parses_with_its_secret_from_the_environment() {
        use secrecy::ExposeSecret;
        let f = write(&format!(
            "{BASE}{OIDC}scopes = [\"openid\", \"groups\"]\nalgorithms = [\"RS256\", \"ES256\"]\n[idp.claims]\ngroups = [\"groups\", \"realm_access.roles\"]\n"
        ));
        let s = load(
            &f.0,
            [(
                "ROLEPORT_IDP_DEMO_OIDC_CLIENT_SECRET".to_string(),
                "s3cret".to_string(),
            )],
        )
        .unwrap();
        let oidc = s.idps[0].oidc().unwrap();
        assert_eq!(oidc.client_id, "roleport");
        assert_eq!(
            oidc.client_secret.as_ref().unwrap().expose_secret(),
            "s3cret"
        );
        assert_eq!(oidc.claims.groups.len(), 2);
        let policy = oidc.id_token_policy().unwrap();
        assert_eq!(policy.jws.allowed_algs.len(), 2);
        assert!(!format!("{s:?}").contains("s3cret"));
    }

    #[test]
    fn saml_idps_keep_their_shape_and_unknown_keys_stay_errors() {
        let f = write(&format!(
            "{BASE}\n[[idp]]\nid = \"corp\"\nkind = \"saml\"\ndisplay_name = \"Corp\"\nmetadata_file = \"/x.xml\"\n"
        ));
        let s = load(&f.0, []).unwrap();
        assert!(matches!(s.idps[0].kind, IdpKind::Saml));
        let f = write(&format!(
            "{BASE}\n[[idp]]\nid = \"corp\"\nkind = \"saml\"\ndisplay_name = \"Corp\"\nmetadata_file = \"/x.xml\"\nissuer = \"https://x\"\n"
        ));
        assert!(load(&f.0, []).is_err(), "an OIDC key on a SAML idp");
        let f = write(&format!("{BASE}{OIDC}metadata_url = \"https://x\"\n"));
        let env = [(
            "ROLEPORT_IDP_DEMO_OIDC_CLIENT_SECRET".to_string(),
            "x".to_string(),
        )];
        assert!(load(&f.0, env).is_err(), "a SAML key on an OIDC idp");
    }

    #[test]
    fn weakening_oidc_settings_are_refused_with_clear_messages() {
        let secret = || {
            [(
                "ROLEPORT_IDP_DEMO_OIDC_CLIENT_SECRET".to_string(),
                "x".to_string(),
            )]
        };
        let err = |extra: &str| {
            let f = write(&format!("{BASE}{OIDC}{extra}"));
            load(&f.0, secret()).unwrap_err().to_string()
        };
        assert!(err("algorithms = [\"none\"]\n").contains("cannot be allowed"));
        assert!(err("algorithms = [\"HS256\"]\n").contains("cannot be allowed"));
        assert!(err("leeway_seconds = 3600\n").contains("leeway"));
        assert!(err("max_token_age_seconds = 999999\n").contains("max_age"));
        for bad in ["0", "59", "86401", "-1"] {
            let e = err(&format!("max_token_lifetime_seconds = {bad}\n"));
            assert!(
                e.contains("idp `demo-oidc`: max_token_lifetime_seconds is")
                    && e.contains("between 60 and 86400"),
                "{e}"
            );
        }
        assert!(err("scopes = [\"email\"]\n").contains("openid"));
        assert!(err("client_secret = \"x\"\n").contains("must not be written"));
        let f = write(&format!("{BASE}{OIDC}"));
        let e = load(&f.0, []).unwrap_err().to_string();
        assert!(e.contains("no client secret"), "{e}");
        let f = write(&format!("{BASE}{OIDC}public_client = true\n"));
        assert!(load(&f.0, []).is_ok());
        let f = write(&format!("{BASE}{OIDC}public_client = true\n"));
        assert!(load(&f.0, secret()).is_err(), "public client with a secret");
        let f = write(
            &format!("{BASE}{OIDC}").replace("http://127.0.0.1:38903", "http://idp.example.com"),
        );
        let e = load(&f.0, secret()).unwrap_err().to_string();
        assert!(e.contains("https"), "{e}");
    }
}
