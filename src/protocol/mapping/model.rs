//! The rule set as data: what the YAML document, the database rows and the engine share.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Role sessions last one hour unless a role says otherwise (the STS default).
pub const DEFAULT_ROLE_SESSION_SECONDS: u32 = 3600;
/// STS accepts role-chaining durations from 15 minutes; a rule may cap below the role's hour.
pub const MIN_RULE_SESSION_SECONDS: u32 = 900;
/// IAM's own ceiling for a role's maximum session duration.
pub const MAX_SESSION_SECONDS: u32 = 43_200;
/// The `roles` entry of a deny rule that stands for every declared role.
pub const ALL_ROLES: &str = "*";

/// A name outside a closed vocabulary (partition, claim, match kind, effect).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} `{given}`; expected {expected}")]
pub struct UnknownName {
    pub what: &'static str,
    pub given: String,
    pub expected: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Partition {
    Aws,
    AwsCn,
    AwsUsGov,
}

impl Partition {
    pub const ALL: [Partition; 3] = [Partition::Aws, Partition::AwsCn, Partition::AwsUsGov];
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Account {
    /// Twelve ASCII digits, kept as text: leading zeros are significant.
    pub id: String,
    pub alias: String,
    pub partition: Partition,
    /// How this account's roles are reached; `None` is [`AccessMode::SamlBroker`] with the
    /// defaults. Never carries a `session_policy` (that is per role).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<Access>,
    /// Shown on the role picker only (a badge and its colour): `production`, `staging`,
    /// `development`… one lowercase word. Never part of a decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// Who to ask about the account (a team, an address); shown, never decided on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Role {
    pub arn: String,
    pub display_name: String,
    pub description: String,
    pub max_session_seconds: u32,
    /// Overrides the account's `access`, field by field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<Access>,
}

/// How Roleport reaches AWS for a role (design.md §1, issue 3).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub enum AccessMode {
    /// Roleport signs a SAML Response naming exactly the picked role (AssumeRoleWithSAML).
    #[default]
    SamlBroker,
    /// Retired: AWS redeems only a Response addressed to its own sign-in URL, and an IdP
    /// addresses the one it posts to Roleport to Roleport. A document naming it is refused at
    /// import; a stored rule naming it still loads, and its grants are refused at credential
    /// time (see [`AccessMode::is_retired`]).
    SamlPassthrough,
    /// Roleport's own AWS credentials call AssumeRole.
    AssumeRole,
    /// An IAM user's keys call GetFederationToken with the role's session policy.
    FederationToken,
    /// Roleport mints its own RS256 ID token (it is the OpenID provider AWS trusts) and calls
    /// AssumeRoleWithWebIdentity.
    OidcBroker,
    /// The upstream OpenID provider's own ID token goes to AssumeRoleWithWebIdentity.
    OidcPassthrough,
}

impl AccessMode {
    /// The modes a document may name (the retired one is left out).
    pub const ALL: [AccessMode; 5] = [
        AccessMode::SamlBroker,
        AccessMode::AssumeRole,
        AccessMode::FederationToken,
        AccessMode::OidcBroker,
        AccessMode::OidcPassthrough,
    ];

    /// Whether the mode calls AssumeRoleWithWebIdentity (and so uses `oidc_audience`).
    pub fn uses_web_identity(self) -> bool {
        matches!(self, AccessMode::OidcBroker)
    }

    /// Whether the mode goes through an IAM SAML provider (and so uses `saml_provider`). The
    /// retired pass-through counts, so stored rules that name its provider still load and are
    /// refused where it matters: at credential time, with the reason.
    pub fn uses_saml_provider(self) -> bool {
        matches!(self, AccessMode::SamlBroker | AccessMode::SamlPassthrough)
    }

    /// A mode that is still read from stored rules, so their grants can be refused with the
    /// reason, but that no new document may name and that never reaches AWS.
    pub fn is_retired(self) -> bool {
        matches!(self, AccessMode::SamlPassthrough)
    }
}

/// The `access` block of an account or a role. Every field is optional: a role's field
/// overrides its account's, an absent one is inherited (and in the end defaulted).
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Access {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<AccessMode>,
    /// The IAM SAML provider's name in the account (`saml_broker`: Roleport's registration).
    /// `None`: Roleport's configured default
    /// (`aws.saml_provider_name`, itself `roleport` unless set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub saml_provider: Option<String>,
    /// Sent as AssumeRole's `ExternalId` (`assume_role` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// GetFederationToken's session policy (`federation_token` only; roles only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_policy: Option<SessionPolicy>,
    /// The client id (audience) registered with the IAM OIDC provider (`oidc_broker` only);
    /// `None`: [`DEFAULT_OIDC_AUDIENCE`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oidc_audience: Option<String>,
}

/// The audience AWS's own documentation registers for web identity: `sts.amazonaws.com`.
pub const DEFAULT_OIDC_AUDIENCE: &str = "sts.amazonaws.com";

impl Access {
    pub fn is_empty(&self) -> bool {
        *self == Access::default()
    }
}

/// A GetFederationToken session policy: inline JSON and/or managed policy ARNs.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SessionPolicy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inline: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub managed_arns: Vec<String>,
}

/// The access configuration in force for one grant: the role's `access` over its account's,
/// over the defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantAccess {
    pub mode: AccessMode,
    /// `None`: Roleport's configured default provider name (`aws.saml_provider_name`).
    pub saml_provider: Option<String>,
    pub external_id: Option<String>,
    pub session_policy: Option<SessionPolicy>,
    /// `None`: [`DEFAULT_OIDC_AUDIENCE`].
    #[serde(default)]
    pub oidc_audience: Option<String>,
}

impl GrantAccess {
    /// The audience of a minted ID token (`oidc_broker`).
    pub fn oidc_audience(&self) -> &str {
        self.oidc_audience
            .as_deref()
            .unwrap_or(DEFAULT_OIDC_AUDIENCE)
    }
}

impl GrantAccess {
    /// Role fields over account fields over the defaults.
    pub fn resolve(account: Option<&Access>, role: Option<&Access>) -> GrantAccess {
        let pick = |f: fn(&Access) -> Option<&String>| {
            role.and_then(f).or_else(|| account.and_then(f)).cloned()
        };
        GrantAccess {
            mode: role
                .and_then(|a| a.mode)
                .or_else(|| account.and_then(|a| a.mode))
                .unwrap_or_default(),
            saml_provider: pick(|a| a.saml_provider.as_ref()),
            external_id: pick(|a| a.external_id.as_ref()),
            session_policy: role.and_then(|a| a.session_policy.clone()),
            oidc_audience: pick(|a| a.oidc_audience.as_ref()),
        }
    }
}

impl Role {
    /// The role's name (the ARN's last path segment), if the ARN is well formed.
    pub fn name(&self) -> Option<&str> {
        RoleArn::parse(&self.arn).map(|arn| arn.name)
    }
}

/// The pieces of `arn:<partition>:iam::<account>:role/<path/>name`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoleArn<'a> {
    pub partition: Partition,
    pub account_id: &'a str,
    /// Between `role/` and the name, with its trailing `/`; empty for the root path.
    pub path: &'a str,
    pub name: &'a str,
}

/// IAM's limit on a path, slashes included.
const MAX_ROLE_PATH_CHARS: usize = 512;
const MAX_ROLE_NAME_CHARS: usize = 64;

impl<'a> RoleArn<'a> {
    pub fn parse(arn: &'a str) -> Option<Self> {
        let crate::protocol::arn::IamArn {
            partition,
            account: account_id,
            resource: rest,
        } = crate::protocol::arn::IamArn::split(arn)?;
        let partition = partition.parse().ok()?;
        if !is_account_id(account_id) {
            return None;
        }
        let rest = rest.strip_prefix("role/")?;
        let (path, name) = match rest.rfind('/') {
            Some(slash) => rest.split_at(slash + 1),
            None => ("", rest),
        };
        // The path is `/`-separated, so `role/a//b` (an empty segment) is refused too.
        let path_ok = path.len() < MAX_ROLE_PATH_CHARS
            && path
                .split_terminator('/')
                .all(|seg| !seg.is_empty() && seg.bytes().all(|b| (0x21..=0x7e).contains(&b)));
        let name_ok = (1..=MAX_ROLE_NAME_CHARS).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_+=,.@-".contains(&b));
        (path_ok && name_ok).then_some(RoleArn {
            partition,
            account_id,
            path,
            name,
        })
    }
}

pub fn is_account_id(id: &str) -> bool {
    id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit())
}

/// Which claim of the signed-in identity a rule looks at. Written `group`, `email`,
/// `email_domain`, `subject` or `attribute:<name>` (also in the database).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum ClaimSelector {
    Group,
    Email,
    EmailDomain,
    Subject,
    Attribute(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum MatchKind {
    /// Case-sensitive equality.
    Exact,
    /// Case-sensitive glob; `*` and `?` stay within one `/`-separated segment, `**` crosses.
    Glob,
    /// The whole value must match (the pattern is anchored for you).
    Regex,
    /// LDAP distinguished-name equality, or the first RDN's CN when the pattern has no `=`.
    LdapDn,
    /// An Active Directory group name, bare or `DOMAIN\name`, compared case-insensitively
    /// (see `ad_group.rs`).
    AdGroup,
}

#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub enum Effect {
    #[default]
    Allow,
    Deny,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    pub id: String,
    pub description: String,
    /// The identity providers whose sign-ins the rule reads. `None` only comes from rows stored
    /// before `idp` was mandatory: such a rule applies to no IdP (a document without `idp` is
    /// refused, and a rule silently widened to "any IdP" would let one IdP's users satisfy
    /// another's rules).
    pub idp: Option<IdpScope>,
    pub claim: ClaimSelector,
    pub match_kind: MatchKind,
    pub pattern: String,
    /// `ad_group` only: the NetBIOS domains a `DOMAIN\name` value may come from.
    #[serde(default)]
    pub domains: Vec<String>,
    /// `ad_group` only, as written: whether a bare name matches when `domains` is set.
    /// Absent means true without `domains`, false with them.
    #[serde(default)]
    pub allow_unqualified: Option<bool>,
    /// Role ARNs; a deny rule may instead list only [`ALL_ROLES`].
    pub roles: Vec<String>,
    pub effect: Effect,
    pub priority: i32,
    pub max_session_seconds: Option<u32>,
    pub session_tags: BTreeMap<String, String>,
    pub transitive_tag_keys: Vec<String>,
    pub capabilities: Vec<String>,
}

/// Which identity providers a rule applies to: written `idp: corp`, `idp: [corp, partner]`, or
/// `idp: "*"` for every IdP.
/// Serialized as the document writes it: `["*"]`, or the ids.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "Vec<String>", into = "Vec<String>")]
pub enum IdpScope {
    /// `idp: "*"`: the rule means every IdP, and says so (import and explain warn about it).
    Any,
    /// The IdP ids, in the order written.
    Only(Vec<String>),
}

/// The `idp` of a rule that applies to every identity provider.
pub const ANY_IDP: &str = "*";

impl IdpScope {
    pub fn admits(&self, idp: &str) -> bool {
        match self {
            IdpScope::Any => true,
            IdpScope::Only(ids) => ids.iter().any(|id| id == idp),
        }
    }

    /// The scope as written in a document: `*`, or the ids.
    pub fn ids(&self) -> Vec<String> {
        match self {
            IdpScope::Any => vec![ANY_IDP.to_owned()],
            IdpScope::Only(ids) => ids.clone(),
        }
    }

    /// Reads `*` alone as every IdP and anything else as a list of ids (checked by
    /// validation, which refuses `*` next to ids).
    pub fn from_ids(ids: Vec<String>) -> IdpScope {
        if ids.len() == 1 && ids.first().is_some_and(|id| id == ANY_IDP) {
            IdpScope::Any
        } else {
            IdpScope::Only(ids)
        }
    }
}

impl From<Vec<String>> for IdpScope {
    fn from(ids: Vec<String>) -> IdpScope {
        IdpScope::from_ids(ids)
    }
}

impl From<IdpScope> for Vec<String> {
    fn from(scope: IdpScope) -> Vec<String> {
        scope.ids()
    }
}

impl fmt::Display for IdpScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.ids().join(", "))
    }
}

/// An identity provider id as configuration accepts it (`[[idp]] id`): 1-64 of a-z 0-9 - _.
/// Never contains `@`, which is what makes `<subject>@<idp>` unambiguous.
pub fn is_idp_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

impl Rule {
    pub fn covers_all_roles(&self) -> bool {
        self.roles.iter().any(|r| r == ALL_ROLES)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleSet {
    pub accounts: Vec<Account>,
    pub roles: Vec<Role>,
    pub rules: Vec<Rule>,
}

/// What the identity provider asserted, after protocol verification.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub idp: String,
    pub subject: String,
    pub email: Option<String>,
    /// SAML callers pass `true`: the assertion's signature vouches for the address.
    pub email_verified: bool,
    pub groups: Vec<String>,
    pub attributes: BTreeMap<String, Vec<String>>,
}

/// One role the user may assume, as shown on the portal and handed to STS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// `<account_id>-<role name>`: IAM role names are unique within an account, so this is
    /// stable across rule edits and usable in a bookmark.
    pub id: String,
    pub account_id: String,
    pub account_alias: String,
    pub partition: Partition,
    pub role_arn: String,
    pub role_name: String,
    pub display_name: String,
    pub description: String,
    pub max_session_seconds: u32,
    pub session_tags: BTreeMap<String, String>,
    pub transitive_tag_keys: Vec<String>,
    /// The allow rule that decided this grant (highest priority, then smallest id).
    pub rule_id: String,
    /// The deciding rule's capabilities; the union over all applying rules is in
    /// [`Decision::capabilities`].
    pub capabilities: Vec<String>,
    /// How AWS is reached for this grant.
    pub access: GrantAccess,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// Sorted by account alias, then role name (then account id, for equal aliases).
    pub grants: Vec<Grant>,
    /// `(role_arn, deny_rule_id)` for each role an applying allow rule offered and an applying
    /// deny rule took away; sorted by ARN. The smallest deny rule id is named.
    pub denied: Vec<(String, String)>,
    pub capabilities: BTreeSet<String>,
}

/// Serde goes through the text form, so the YAML, JSON and database spellings are one.
macro_rules! via_text {
    ($($ty:ident),+) => {$(
        impl TryFrom<String> for $ty {
            type Error = UnknownName;
            fn try_from(s: String) -> Result<Self, UnknownName> {
                s.parse()
            }
        }
        impl From<$ty> for String {
            fn from(v: $ty) -> String {
                v.to_string()
            }
        }
    )+};
}
via_text!(Partition, MatchKind, Effect, ClaimSelector, AccessMode);

macro_rules! closed_vocabulary {
    ($ty:ident, $what:literal, $expected:literal, { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $ty {
            pub fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $text),+ }
            }
        }
        impl FromStr for $ty {
            type Err = UnknownName;
            fn from_str(s: &str) -> Result<Self, UnknownName> {
                match s {
                    $($text => Ok($ty::$variant),)+
                    _ => Err(UnknownName { what: $what, given: s.to_owned(), expected: $expected }),
                }
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

closed_vocabulary!(Partition, "partition", "aws, aws-cn or aws-us-gov", {
    Aws => "aws", AwsCn => "aws-cn", AwsUsGov => "aws-us-gov",
});
closed_vocabulary!(MatchKind, "match kind", "exact, glob, regex, ldap_dn or ad_group", {
    Exact => "exact", Glob => "glob", Regex => "regex", LdapDn => "ldap_dn", AdGroup => "ad_group",
});
closed_vocabulary!(Effect, "effect", "allow or deny", { Allow => "allow", Deny => "deny" });
closed_vocabulary!(
    AccessMode,
    "access mode",
    "saml_broker, assume_role, federation_token, oidc_broker or oidc_passthrough",
    {
        SamlBroker => "saml_broker",
        SamlPassthrough => "saml_passthrough",
        AssumeRole => "assume_role",
        FederationToken => "federation_token",
        OidcBroker => "oidc_broker",
        OidcPassthrough => "oidc_passthrough",
    }
);

const ATTRIBUTE_PREFIX: &str = "attribute:";

impl fmt::Display for ClaimSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClaimSelector::Group => f.write_str("group"),
            ClaimSelector::Email => f.write_str("email"),
            ClaimSelector::EmailDomain => f.write_str("email_domain"),
            ClaimSelector::Subject => f.write_str("subject"),
            ClaimSelector::Attribute(name) => write!(f, "{ATTRIBUTE_PREFIX}{name}"),
        }
    }
}

impl FromStr for ClaimSelector {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, UnknownName> {
        match s {
            "group" => Ok(ClaimSelector::Group),
            "email" => Ok(ClaimSelector::Email),
            "email_domain" => Ok(ClaimSelector::EmailDomain),
            "subject" => Ok(ClaimSelector::Subject),
            _ => match s.strip_prefix(ATTRIBUTE_PREFIX) {
                Some(name) if !name.trim().is_empty() => {
                    Ok(ClaimSelector::Attribute(name.to_owned()))
                }
                _ => Err(UnknownName {
                    what: "claim",
                    given: s.to_owned(),
                    expected: "group, email, email_domain, subject or attribute:<name>",
                }),
            },
        }
    }
}
