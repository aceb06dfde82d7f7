//! `[idp.directory]`: resolve a person's nested groups from the directory at sign-in (off unless
//! configured). Checked at start-up: outside `dev_mode` the connection must be LDAPS or StartTLS
//! with a pinned CA (`ca_file`); plain `ldap://` is for development only.

use serde::Deserialize;
use std::path::PathBuf;

use crate::protocol::directory::{GroupFormat, is_attribute_name, is_filter};

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum DirectoryKind {
    /// Active Directory (or Samba AD): one search with `LDAP_MATCHING_RULE_IN_CHAIN`.
    Ad,
    /// OpenLDAP and others: a breadth-first walk over `member`, `max_depth` levels at most.
    Openldap,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum GroupFormatSetting {
    Dn,
    Name,
    Qualified,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct DirectorySettings {
    pub kind: DirectoryKind,
    /// `ldaps://host:636`, or `ldap://host:389` with `starttls = true` (plain only in dev_mode).
    pub url: String,
    #[serde(default)]
    pub starttls: bool,
    /// PEM file of the CA(s) the directory's certificate must chain to (the system roots are
    /// not used when set). Required outside dev_mode.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Where people and groups are searched (subtree).
    pub base_dn: String,
    pub bind_dn: String,
    /// A file holding the bind password (one line; a trailing newline is dropped).
    pub bind_password_file: PathBuf,
    /// Which identity value finds the person: `subject` or `attribute:<name>` (exactly as signed).
    #[serde(default = "default_identity")]
    pub identity: String,
    /// The person's attribute that must equal that value (AD `sAMAccountName`, OpenLDAP `uid`).
    #[serde(default)]
    pub user_attribute: Option<String>,
    #[serde(default)]
    pub user_filter: Option<String>,
    #[serde(default)]
    pub group_filter: Option<String>,
    /// A group's name (AD `sAMAccountName`, OpenLDAP `cn`), for the `name`/`qualified` formats.
    #[serde(default)]
    pub group_name_attribute: Option<String>,
    /// How resolved groups are written into the identity, to match the rules' format.
    #[serde(default = "default_format")]
    pub group_format: GroupFormatSetting,
    /// The NetBIOS domain of `qualified` names (`EXAMPLE` gives `EXAMPLE\aws-admins`).
    #[serde(default)]
    pub netbios_domain: Option<String>,
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    #[serde(default = "default_cache_seconds")]
    pub cache_seconds: i64,
    #[serde(default = "default_max_depth")]
    pub max_depth: u32,
}

fn default_identity() -> String {
    "subject".into()
}
fn default_format() -> GroupFormatSetting {
    GroupFormatSetting::Dn
}
fn default_timeout_ms() -> u64 {
    3000
}
fn default_cache_seconds() -> i64 {
    60
}
fn default_max_depth() -> u32 {
    8
}

/// Which identity value looks the person up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirectoryIdentity {
    Subject,
    Attribute(String),
}

impl DirectorySettings {
    pub fn user_attribute(&self) -> &str {
        self.user_attribute.as_deref().unwrap_or(match self.kind {
            DirectoryKind::Ad => "sAMAccountName",
            DirectoryKind::Openldap => "uid",
        })
    }

    pub fn user_filter(&self) -> &str {
        self.user_filter.as_deref().unwrap_or(match self.kind {
            DirectoryKind::Ad => "(&(objectClass=user)(objectCategory=person))",
            DirectoryKind::Openldap => "(objectClass=inetOrgPerson)",
        })
    }

    pub fn group_filter(&self) -> &str {
        self.group_filter.as_deref().unwrap_or(match self.kind {
            DirectoryKind::Ad => "(objectClass=group)",
            DirectoryKind::Openldap => "(objectClass=groupOfNames)",
        })
    }

    pub fn group_name_attribute(&self) -> &str {
        self.group_name_attribute
            .as_deref()
            .unwrap_or(match self.kind {
                DirectoryKind::Ad => "sAMAccountName",
                DirectoryKind::Openldap => "cn",
            })
    }

    pub fn identity(&self) -> Option<DirectoryIdentity> {
        if self.identity == "subject" {
            return Some(DirectoryIdentity::Subject);
        }
        let name = self.identity.strip_prefix("attribute:")?;
        (!name.is_empty()).then(|| DirectoryIdentity::Attribute(name.to_string()))
    }

    pub fn group_format(&self) -> GroupFormat {
        match self.group_format {
            GroupFormatSetting::Dn => GroupFormat::Dn,
            GroupFormatSetting::Name => GroupFormat::Name,
            GroupFormatSetting::Qualified => GroupFormat::Qualified {
                netbios_domain: self.netbios_domain.clone().unwrap_or_default(),
            },
        }
    }

    /// Whether the connection is encrypted (LDAPS, or StartTLS on ldap://).
    pub fn uses_tls(&self) -> bool {
        self.url.starts_with("ldaps://") || (self.url.starts_with("ldap://") && self.starttls)
    }

    pub(in crate::configuration) fn validate(&self, dev_mode: bool) -> Result<(), String> {
        let url = url::Url::parse(&self.url).map_err(|e| format!("directory url: {e}"))?;
        match url.scheme() {
            "ldaps" if self.starttls => {
                return Err(
                    "directory: starttls is for ldap:// URLs (ldaps:// is TLS already)".into(),
                );
            }
            "ldaps" | "ldap" => {}
            other => {
                return Err(format!(
                    "directory url scheme `{other}`: use ldaps:// or ldap://"
                ));
            }
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err("directory url has no host".into());
        }
        if !dev_mode {
            if !self.uses_tls() {
                return Err(
                    "directory: plain ldap:// sends the bind password and the groups in clear; \
                     use ldaps:// or starttls = true (plain only in dev_mode)"
                        .into(),
                );
            }
            if self.ca_file.is_none() {
                return Err(
                    "directory: ca_file is required outside dev_mode (the directory's CA is pinned)"
                        .into(),
                );
            }
        }
        if self.identity().is_none() {
            return Err(format!(
                "directory identity `{}`: use `subject` or `attribute:<name>`",
                self.identity
            ));
        }
        for attribute in [self.user_attribute(), self.group_name_attribute()] {
            if !is_attribute_name(attribute) {
                return Err(format!(
                    "directory: `{attribute}` is not an LDAP attribute name"
                ));
            }
        }
        for filter in [self.user_filter(), self.group_filter()] {
            if !is_filter(filter) {
                return Err(format!(
                    "directory: `{filter}` is not one parenthesised LDAP filter"
                ));
            }
        }
        if crate::protocol::mapping::Dn::parse(&self.base_dn).is_err() {
            return Err(format!("directory base_dn `{}` is not a DN", self.base_dn));
        }
        if self.group_format == GroupFormatSetting::Qualified
            && self.netbios_domain.as_deref().is_none_or(str::is_empty)
        {
            return Err("directory: group_format = \"qualified\" needs netbios_domain".into());
        }
        if !(100..=60_000).contains(&self.timeout_ms) {
            return Err("directory timeout_ms must be 100..=60000".into());
        }
        if !(0..=3600).contains(&self.cache_seconds) {
            return Err("directory cache_seconds must be 0..=3600 (a short TTL)".into());
        }
        if !(1..=32).contains(&self.max_depth) {
            return Err("directory max_depth must be 1..=32".into());
        }
        Ok(())
    }
}
