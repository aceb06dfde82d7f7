//! Upstream identity providers (`[[idp]]`): one settings type per kind, as dex keeps one config
//! type per connector. The TOML stays flat (`kind = "saml"` or `"oidc"` next to the kind's own
//! keys), and a key of the other kind is an unknown key, so an error.

use serde::Deserialize;
use std::path::PathBuf;

use super::server::is_loopback_url;
use super::{ConfigError, LIFETIME_CAP_SECONDS, Settings, default_true};

mod directory;
mod oidc;
pub use directory::{DirectoryIdentity, DirectoryKind, DirectorySettings, GroupFormatSetting};
pub use oidc::{AtHashSetting, OidcClaimSettings, OidcIdpSettings};

/// One upstream identity provider. Read from TOML through [`RawIdp`]: the `kind` member picks
/// which fields are allowed, and unknown fields stay an error for both kinds.
#[derive(Debug, Deserialize, Clone)]
#[serde(try_from = "RawIdp")]
pub struct IdpSettings {
    /// Short URL-safe id: `/login/{id}`, and the `idp` of mapping rules.
    pub id: String,
    pub display_name: String,
    pub kind: IdpKind,
}

/// What kind of upstream an `[[idp]]` is, with the settings only that kind has.
#[derive(Debug, Clone)]
pub enum IdpKind {
    Saml(Box<SamlIdpSettings>),
    Oidc(Box<OidcIdpSettings>),
}

impl IdpKind {
    pub fn label(&self) -> &'static str {
        match self {
            Self::Saml(_) => "saml",
            Self::Oidc(_) => "oidc",
        }
    }
}

/// A SAML 2.0 IdP (`kind = "saml"`): where its metadata comes from, what is trusted besides it,
/// and which attributes carry the identity.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct SamlIdpSettings {
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
    /// Nested groups from the directory at sign-in (`[idp.directory]`); off when absent.
    #[serde(default)]
    pub directory: Option<DirectorySettings>,
}

impl Default for SamlIdpSettings {
    fn default() -> Self {
        Self {
            metadata_file: None,
            metadata_url: None,
            metadata_refresh_seconds: default_metadata_refresh(),
            entity_id: None,
            sso_url: None,
            signing_cert_files: Vec::new(),
            allow_idp_initiated: false,
            sign_authn_requests: false,
            attributes: AttributeSettings::default(),
            directory: None,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
enum RawIdp {
    Saml(Box<SamlIdpToml>),
    /// Read member by member so that unknown keys stay an error (`flatten` would hide them).
    Oidc(toml::Table),
}

/// The SAML members spelled out (rather than `flatten`ed) so that serde's unknown-field error
/// names every allowed key, as it always has.
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
    #[serde(default)]
    directory: Option<DirectorySettings>,
}

impl TryFrom<RawIdp> for IdpSettings {
    type Error = String;

    fn try_from(raw: RawIdp) -> Result<Self, Self::Error> {
        Ok(match raw {
            RawIdp::Saml(s) => IdpSettings {
                id: s.id,
                display_name: s.display_name,
                kind: IdpKind::Saml(Box::new(SamlIdpSettings {
                    metadata_file: s.metadata_file,
                    metadata_url: s.metadata_url,
                    metadata_refresh_seconds: s.metadata_refresh_seconds,
                    entity_id: s.entity_id,
                    sso_url: s.sso_url,
                    signing_cert_files: s.signing_cert_files,
                    allow_idp_initiated: s.allow_idp_initiated,
                    sign_authn_requests: s.sign_authn_requests,
                    attributes: s.attributes,
                    directory: s.directory,
                })),
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
                    display_name,
                    kind: IdpKind::Oidc(Box::new(oidc)),
                }
            }
        })
    }
}

impl IdpSettings {
    pub fn saml(&self) -> Option<&SamlIdpSettings> {
        match &self.kind {
            IdpKind::Saml(s) => Some(s),
            IdpKind::Oidc(_) => None,
        }
    }

    pub fn saml_mut(&mut self) -> Option<&mut SamlIdpSettings> {
        match &mut self.kind {
            IdpKind::Saml(s) => Some(s),
            IdpKind::Oidc(_) => None,
        }
    }

    pub fn oidc(&self) -> Option<&OidcIdpSettings> {
        match &self.kind {
            IdpKind::Oidc(o) => Some(o),
            IdpKind::Saml(_) => None,
        }
    }

    pub fn oidc_mut(&mut self) -> Option<&mut OidcIdpSettings> {
        match &mut self.kind {
            IdpKind::Oidc(o) => Some(o),
            IdpKind::Saml(_) => None,
        }
    }

    /// The SAML metadata URL, for the refresh task and `/readyz` (OIDC providers have none).
    pub fn metadata_url(&self) -> Option<&str> {
        self.saml().and_then(|s| s.metadata_url.as_deref())
    }

    /// `ROLEPORT_IDP_<ID>_CLIENT_SECRET`: `-` becomes `_`, letters upper case.
    pub fn client_secret_variable(&self) -> String {
        format!(
            "ROLEPORT_IDP_{}_CLIENT_SECRET",
            self.id.to_ascii_uppercase().replace('-', "_")
        )
    }
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

impl Settings {
    /// Every `[[idp]]`: a well-formed, unique id, then the checks of its kind.
    pub(super) fn validate_idps(&self) -> Result<(), ConfigError> {
        let mut ids = std::collections::BTreeSet::new();
        for idp in &self.idps {
            if !crate::protocol::mapping::is_idp_id(&idp.id) {
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
            match &idp.kind {
                IdpKind::Oidc(oidc) => self.validate_oidc(&idp.id, oidc)?,
                IdpKind::Saml(saml) => self.validate_saml_idp(&idp.id, saml)?,
            }
        }
        Ok(())
    }

    fn validate_saml_idp(&self, id: &str, idp: &SamlIdpSettings) -> Result<(), ConfigError> {
        let has_source = idp.metadata_file.is_some()
            || idp.metadata_url.is_some()
            || !idp.signing_cert_files.is_empty();
        if !has_source {
            return Err(ConfigError::Invalid(format!(
                "idp `{id}` has no pinned signing certificate: set metadata_file, metadata_url or \
                 signing_cert_files (signature checks are never skipped)"
            )));
        }
        if idp.metadata_file.is_none()
            && idp.metadata_url.is_none()
            && (idp.entity_id.is_none() || idp.sso_url.is_none())
        {
            return Err(ConfigError::Invalid(format!(
                "idp `{id}` without metadata needs entity_id and sso_url"
            )));
        }
        if let Some(url) = &idp.metadata_url
            && !url.starts_with("https://")
            && !(self.server.dev_mode && is_loopback_url(url))
        {
            return Err(ConfigError::Invalid(format!(
                "idp `{id}` metadata_url must use https (plain http only for loopback in dev_mode)"
            )));
        }
        if idp.sign_authn_requests && self.saml.key_file.is_none() {
            return Err(ConfigError::Invalid(format!(
                "idp `{id}` wants signed AuthnRequests but saml.key_file is not set"
            )));
        }
        if idp.attributes.groups.is_empty() {
            return Err(ConfigError::Invalid(format!(
                "idp `{id}` lists no group attributes"
            )));
        }
        if let Some(directory) = &idp.directory {
            directory
                .validate(self.server.dev_mode)
                .map_err(|m| ConfigError::Invalid(format!("idp `{id}`: {m}")))?;
        }
        Ok(())
    }

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

fn default_metadata_refresh() -> u64 {
    3600
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
