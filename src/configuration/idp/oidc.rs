//! An OpenID Connect upstream (`kind = "oidc"`) and the ID-token policy built from it.

use secrecy::SecretString;
use serde::Deserialize;
use std::path::PathBuf;

use super::super::default_max_lifetime;

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
