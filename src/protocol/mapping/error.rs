//! Why a rule set was refused, and where in it.

use std::fmt;

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Section {
    /// The document header (`version`).
    Document,
    Accounts,
    Roles,
    Rules,
}

/// Which part of the item at `Site::index` is wrong. Field names are the YAML keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    Item,
    Field(&'static str),
    /// An entry of a list field, e.g. the third ARN of a rule's `roles`.
    Element(&'static str, usize),
    /// A key of a map field, e.g. a `session_tags` key.
    Key(&'static str, String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Site {
    pub section: Section,
    /// Position in the section's list, in input order.
    pub index: usize,
    pub part: Part,
}

impl Site {
    pub fn new(section: Section, index: usize, part: Part) -> Self {
        Site {
            section,
            index,
            part,
        }
    }
}

impl fmt::Display for Site {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let section = match self.section {
            Section::Document => "document",
            Section::Accounts => "accounts",
            Section::Roles => "roles",
            Section::Rules => "rules",
        };
        if self.section == Section::Document {
            f.write_str(section)?;
        } else {
            write!(f, "{section}[{}]", self.index)?;
        }
        match &self.part {
            Part::Item => Ok(()),
            Part::Field(field) => write!(f, ".{field}"),
            Part::Element(field, i) => write!(f, ".{field}[{i}]"),
            Part::Key(field, key) => write!(f, ".{field}.{key:?}"),
        }
    }
}

/// One class per constraint, so callers and tests can tell refusals apart without parsing text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    UnsupportedVersion,
    InvalidAccountId,
    DuplicateAccountId,
    InvalidAlias,
    DuplicateAlias,
    /// An account's `environment`, `owner` or `description` that the picker cannot show.
    InvalidAccountInfo,
    InvalidPartition,
    InvalidRoleArn,
    DuplicateRoleArn,
    /// Two ARNs with one account and one role name (IAM forbids it; grant ids would clash).
    DuplicateRoleName,
    UnknownAccount,
    PartitionMismatch,
    InvalidDisplayName,
    SessionDurationOutOfRange,
    InvalidRuleId,
    DuplicateRuleId,
    InvalidIdp,
    /// A rule in a document without `idp`.
    MissingIdp,
    InvalidClaim,
    InvalidMatchKind,
    InvalidEffect,
    InvalidPattern,
    NoRoles,
    UnknownRole,
    DuplicateRoleReference,
    /// `*` in an allow rule, or `*` next to other entries.
    MisusedWildcard,
    /// A deny rule carrying something only a grant can use (duration, tags, capabilities).
    GrantFieldOnDenyRule,
    InvalidSessionTag,
    TooManySessionTags,
    InvalidTransitiveTagKey,
    InvalidCapability,
    /// `access.mode` outside saml_broker, assume_role, federation_token, oidc_broker,
    /// oidc_passthrough.
    InvalidAccessMode,
    /// `access.mode` names a retired mode (`saml_passthrough`).
    RetiredAccessMode,
    /// `access.saml_provider` is not an IAM SAML provider name.
    InvalidSamlProvider,
    /// `access.external_id` breaks STS's ExternalId rules.
    InvalidExternalId,
    /// `access.oidc_audience` is not a usable IAM OIDC provider client id.
    InvalidOidcAudience,
    /// A session policy that GetFederationToken would refuse, or one set on an account.
    InvalidSessionPolicy,
    /// An `access` field that the mode in force does not use (e.g. `external_id` without
    /// `assume_role`).
    AccessFieldNotForMode,
    /// An `ad_group` rule's `domains` entry that is not a NetBIOS domain name, or a repeat.
    InvalidAdDomain,
    /// `domains` or `allow_unqualified` on a rule whose match is not `ad_group`, or an
    /// `allow_unqualified: false` that leaves the rule nothing to match.
    MisusedAdGroupField,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{site}: {message}")]
pub struct RuleError {
    pub site: Site,
    pub kind: ErrorKind,
    /// States the constraint that was broken, with the offending value.
    pub message: String,
}

impl RuleError {
    pub fn new(site: Site, kind: ErrorKind, message: impl Into<String>) -> Self {
        RuleError {
            site,
            kind,
            message: message.into(),
        }
    }
}
