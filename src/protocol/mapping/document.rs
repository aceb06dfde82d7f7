//! The rules document (YAML, config-as-code): reading with line-precise errors, and writing.
//!
//! How AWS is reached is optional, per account and overridable per role, field by field:
//!
//! ```yaml
//! accounts:
//!   - id: "123456789012"
//!     alias: prod
//!     partition: aws
//!     access:                       # optional; default mode saml_broker
//!       mode: assume_role           # saml_broker | assume_role | federation_token | oidc_broker | oidc_passthrough
//!       saml_provider: roleport     # IAM SAML provider name (saml_broker); default aws.saml_provider_name
//!       external_id: prod-ext-1     # AssumeRole's ExternalId (assume_role only)
//!     environment: production       # optional, shown on the role picker: one lowercase word
//!     owner: Payments platform team # optional, shown: who to ask about the account
//!     description: Card payments    # optional, shown and searched on the role picker
//! roles:
//!   - arn: arn:aws:iam::123456789012:role/Auditor
//!     access:                       # the account's fields, plus the session policy
//!       mode: federation_token
//!       session_policy:             # GetFederationToken's (federation_token only)
//!         inline: '{"Version": "2012-10-17", "Statement": [...]}'
//!         managed_arns: [arn:aws:iam::aws:policy/ReadOnlyAccess]
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::LazyLock;

use regex::Regex;
use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use super::engine::CompiledRules;
use super::error::{ErrorKind, Part, RuleError, Section, Site};
use super::model::{
    ANY_IDP, Access, AccessMode, Account, ClaimSelector, DEFAULT_ROLE_SESSION_SECONDS, Effect,
    IdpScope, MatchKind, Partition, Role, RoleArn, Rule, RuleSet, SessionPolicy,
};
use super::spans::{self, NodeId, Spanned};

/// The only document version this build reads and writes.
pub const DOCUMENT_VERSION: u32 = 1;
/// Past this many errors the rest are summarised: each costs a re-read to locate.
const MAX_REPORTED_ERRORS: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
pub struct DocumentError {
    /// 1-based.
    pub line: usize,
    /// 1-based; absent only when the YAML library gave no position.
    pub column: Option<usize>,
    /// Where in the rule set, e.g. `rules[2].pattern`; absent for YAML-level errors.
    pub path: Option<String>,
    pub kind: DocumentErrorKind,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentErrorKind {
    /// Not YAML, or not this schema: unknown key, wrong type, missing field. The YAML reader
    /// stops at the first such error, so there is only ever one.
    Yaml,
    /// A constraint on the rule set; all of them are reported.
    Rule(ErrorKind),
    /// The summary closing a truncated list.
    TooManyErrors,
}

impl fmt::Display for DocumentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}", self.line)?;
        if let Some(column) = self.column {
            write!(f, ", column {column}")?;
        }
        if let Some(path) = &self.path {
            write!(f, " ({path})")?;
        }
        write!(f, ": {}", self.message)
    }
}

// Everything is read as text first so that a bad value is one more collected error rather
// than the end of reading.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DocFile {
    version: Spanned<u32>,
    #[serde(default)]
    accounts: Option<Vec<Spanned<DocAccount>>>,
    #[serde(default)]
    roles: Option<Vec<Spanned<DocRole>>>,
    #[serde(default)]
    rules: Option<Vec<Spanned<DocRule>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DocAccount {
    id: Spanned<String>,
    alias: Spanned<String>,
    partition: Spanned<String>,
    #[serde(default)]
    access: Option<Spanned<DocAccess>>,
    #[serde(default)]
    environment: Option<Spanned<String>>,
    #[serde(default)]
    owner: Option<Spanned<String>>,
    #[serde(default)]
    description: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DocRole {
    arn: Spanned<String>,
    #[serde(default)]
    display_name: Option<Spanned<String>>,
    #[serde(default)]
    description: Option<Spanned<String>>,
    #[serde(default)]
    max_session_seconds: Option<Spanned<u32>>,
    #[serde(default)]
    access: Option<Spanned<DocRoleAccess>>,
}

/// An account's `access` block.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DocAccess {
    #[serde(default)]
    mode: Option<Spanned<String>>,
    #[serde(default)]
    saml_provider: Option<Spanned<String>>,
    #[serde(default)]
    external_id: Option<Spanned<String>>,
    #[serde(default)]
    oidc_audience: Option<Spanned<String>>,
}

/// A role's `access` block: the account's fields, plus the session policy.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DocRoleAccess {
    #[serde(default)]
    mode: Option<Spanned<String>>,
    #[serde(default)]
    saml_provider: Option<Spanned<String>>,
    #[serde(default)]
    external_id: Option<Spanned<String>>,
    #[serde(default)]
    oidc_audience: Option<Spanned<String>>,
    #[serde(default)]
    session_policy: Option<Spanned<DocSessionPolicy>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DocSessionPolicy {
    /// The policy as JSON text.
    #[serde(default)]
    inline: Option<Spanned<String>>,
    #[serde(default)]
    managed_arns: Option<SpannedList>,
}

type SpannedList = Spanned<Vec<Spanned<String>>>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DocRule {
    id: Spanned<String>,
    #[serde(default)]
    description: Option<Spanned<String>>,
    #[serde(default)]
    idp: Option<Spanned<DocIdp>>,
    claim: Spanned<String>,
    #[serde(rename = "match")]
    match_kind: Spanned<String>,
    pattern: Spanned<String>,
    #[serde(default)]
    domains: Option<SpannedList>,
    #[serde(default)]
    allow_unqualified: Option<Spanned<bool>>,
    roles: SpannedList,
    #[serde(default)]
    effect: Option<Spanned<String>>,
    #[serde(default)]
    priority: Option<Spanned<i32>>,
    #[serde(default)]
    max_session_seconds: Option<Spanned<u32>>,
    #[serde(default)]
    session_tags: Option<Spanned<TagMap>>,
    #[serde(default)]
    transitive_tag_keys: Option<SpannedList>,
    #[serde(default)]
    capabilities: Option<SpannedList>,
}

/// A rule's `idp`: one id (or `"*"`), or a list of ids whose entries keep their positions.
enum DocIdp {
    One(String),
    Many(Vec<Spanned<String>>),
}

impl DocIdp {
    fn ids(&self) -> Vec<String> {
        match self {
            DocIdp::One(id) => vec![id.clone()],
            DocIdp::Many(ids) => ids.iter().map(|s| s.value.clone()).collect(),
        }
    }
}

impl<'de> Deserialize<'de> for DocIdp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Ids;
        impl<'de> Visitor<'de> for Ids {
            type Value = DocIdp;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an IdP id, a list of IdP ids, or \"*\" for every IdP")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<DocIdp, E> {
                Ok(DocIdp::One(v.to_owned()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<DocIdp, A::Error> {
                let mut ids = Vec::new();
                while let Some(id) = seq.next_element()? {
                    ids.push(id);
                }
                Ok(DocIdp::Many(ids))
            }
        }
        deserializer.deserialize_any(Ids)
    }
}

/// A YAML mapping kept as entries, so each key keeps its position and repeats are visible.
struct TagMap(Vec<(Spanned<String>, Spanned<String>)>);

impl<'de> Deserialize<'de> for TagMap {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries;
        impl<'de> Visitor<'de> for Entries {
            type Value = TagMap;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping of tag keys to values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TagMap, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                Ok(TagMap(entries))
            }
        }
        deserializer.deserialize_map(Entries)
    }
}

/// Something legal in a document that an operator should look at twice: a rule for every IdP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DocumentWarning {
    /// 1-based.
    pub line: usize,
    pub column: Option<usize>,
    pub rule_id: String,
    pub message: String,
}

impl fmt::Display for DocumentWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}", self.line)?;
        if let Some(column) = self.column {
            write!(f, ", column {column}")?;
        }
        write!(f, " (rule {}): {}", self.rule_id, self.message)
    }
}

/// Reads and checks a rules document. On any error nothing is returned, so a caller applying
/// the result cannot apply half of a broken file.
pub fn parse_document(text: &str) -> Result<RuleSet, Vec<DocumentError>> {
    parse_document_with_warnings(text).map(|(set, _)| set)
}

/// [`parse_document`], plus a warning for every rule that applies to every IdP (`idp: "*"`):
/// with several IdPs side by side, such a rule lets any of them satisfy it.
pub fn parse_document_with_warnings(
    text: &str,
) -> Result<(RuleSet, Vec<DocumentWarning>), Vec<DocumentError>> {
    let doc: DocFile = spans::read(text).map_err(|e| vec![yaml_error(text, &e)])?;
    let set = checked(text, &doc)?;
    let warnings = warnings_of(text, &doc);
    Ok((set, warnings))
}

/// The warnings of a document without checking it otherwise, e.g. of `roleport rules export`'s
/// output for `roleport rules explain`. Text that is not a rules document has none.
pub fn document_warnings(text: &str) -> Vec<DocumentWarning> {
    spans::read::<DocFile>(text).map_or_else(|_| Vec::new(), |doc| warnings_of(text, &doc))
}

fn warnings_of(text: &str, doc: &DocFile) -> Vec<DocumentWarning> {
    doc.rules
        .iter()
        .flatten()
        .filter_map(|item| {
            let rule = &item.value;
            let idp = rule.idp.as_ref()?;
            (IdpScope::from_ids(idp.value.ids()) == IdpScope::Any).then(|| {
                let position = spans::locate::<DocFile>(text, idp.node);
                DocumentWarning {
                    line: position.map_or(1, |(line, _)| line),
                    column: position.map(|(_, column)| column),
                    rule_id: rule.id.value.clone(),
                    message: format!(
                        "idp: \"{ANY_IDP}\" applies this rule to every identity provider, so a \
                         user of any configured IdP who matches it gets its roles; name the IdP(s) \
                         unless that is meant"
                    ),
                }
            })
        })
        .collect()
}

fn checked(text: &str, doc: &DocFile) -> Result<RuleSet, Vec<DocumentError>> {
    let (set, mut errors, suspects) = convert(doc);
    match CompiledRules::compile(set.clone()) {
        Ok(_) if errors.is_empty() => return Ok(set),
        Ok(_) => {}
        Err(found) => errors.extend(found.into_iter().filter(|e| !suspects.explains(e, &set))),
    }
    Err(locate_all(text, doc, errors))
}

/// Values a conversion error replaced with a stand-in, whose consequences are not news.
#[derive(Default)]
struct Suspects {
    partitions: BTreeSet<String>,
    effects: BTreeSet<usize>,
    /// `(section, index)` of accounts and roles whose access mode was not understood.
    modes: BTreeSet<(Section, usize)>,
}

impl Suspects {
    fn explains(&self, error: &RuleError, set: &RuleSet) -> bool {
        let index = error.site.index;
        if error.kind == ErrorKind::AccessFieldNotForMode {
            // A role inherits its account's mode, so a bad account mode explains its roles too.
            let account_suspect = |role: &Role| {
                RoleArn::parse(&role.arn).is_some_and(|arn| {
                    set.accounts.iter().enumerate().any(|(i, a)| {
                        a.id == arn.account_id && self.modes.contains(&(Section::Accounts, i))
                    })
                })
            };
            return self.modes.contains(&(error.site.section, index))
                || (error.site.section == Section::Roles
                    && set.roles.get(index).is_some_and(account_suspect));
        }
        match (error.site.section, error.kind) {
            (Section::Rules, ErrorKind::MisusedWildcard | ErrorKind::GrantFieldOnDenyRule) => {
                self.effects.contains(&index)
            }
            (Section::Roles, ErrorKind::PartitionMismatch) => set
                .roles
                .get(index)
                .and_then(|role| RoleArn::parse(&role.arn))
                .is_some_and(|arn| self.partitions.contains(arn.account_id)),
            _ => false,
        }
    }
}

fn parse_or<T: std::str::FromStr<Err = super::model::UnknownName>>(
    field: &Spanned<String>,
    fallback: T,
    site: Site,
    kind: ErrorKind,
    errors: &mut Vec<RuleError>,
) -> T {
    field
        .value
        .parse()
        .unwrap_or_else(|e: super::model::UnknownName| {
            errors.push(RuleError::new(site, kind, e.to_string()));
            fallback
        })
}

fn text(field: &Option<Spanned<String>>) -> String {
    field.as_ref().map(|s| s.value.clone()).unwrap_or_default()
}

fn list(field: &Option<SpannedList>) -> Vec<String> {
    field.as_ref().map(strings).unwrap_or_default()
}

fn strings(list: &SpannedList) -> Vec<String> {
    list.value.iter().map(|s| s.value.clone()).collect()
}

fn convert(doc: &DocFile) -> (RuleSet, Vec<RuleError>, Suspects) {
    let mut errors = Vec::new();
    let mut suspects = Suspects::default();
    if doc.version.value != DOCUMENT_VERSION {
        errors.push(RuleError::new(
            Site::new(Section::Document, 0, Part::Field("version")),
            ErrorKind::UnsupportedVersion,
            format!(
                "version must be {DOCUMENT_VERSION}, the only version this release reads; got {}",
                doc.version.value
            ),
        ));
    }
    let accounts = doc.accounts.iter().flatten().enumerate().map(|(i, item)| {
        let a = &item.value;
        let site = Site::new(Section::Accounts, i, Part::Field("partition"));
        let before = errors.len();
        let partition = parse_or(
            &a.partition,
            Partition::Aws,
            site,
            ErrorKind::InvalidPartition,
            &mut errors,
        );
        if errors.len() > before {
            suspects.partitions.insert(a.id.value.clone());
        }
        let access = a.access.as_ref().and_then(|access| {
            let d = &access.value;
            let site = Site::new(Section::Accounts, i, Part::Field("access.mode"));
            convert_access(
                (&d.mode, &d.saml_provider, &d.external_id, &d.oidc_audience),
                None,
                site,
                &mut errors,
                &mut suspects,
            )
        });
        Account {
            id: a.id.value.clone(),
            alias: a.alias.value.clone(),
            partition,
            access,
            environment: a.environment.as_ref().map(|s| s.value.clone()),
            owner: a.owner.as_ref().map(|s| s.value.clone()),
            description: a.description.as_ref().map(|s| s.value.clone()),
        }
    });
    let accounts = accounts.collect();
    let roles = doc
        .roles
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, item)| {
            let r = &item.value;
            let access = r.access.as_ref().and_then(|access| {
                let d = &access.value;
                let policy = d.session_policy.as_ref().map(|p| SessionPolicy {
                    inline: p.value.inline.as_ref().map(|s| s.value.clone()),
                    managed_arns: list(&p.value.managed_arns),
                });
                let site = Site::new(Section::Roles, i, Part::Field("access.mode"));
                convert_access(
                    (&d.mode, &d.saml_provider, &d.external_id, &d.oidc_audience),
                    policy,
                    site,
                    &mut errors,
                    &mut suspects,
                )
            });
            let arn = r.arn.value.clone();
            // An unnamed role is shown by its IAM name.
            let display_name = r.display_name.as_ref().map_or_else(
                || RoleArn::parse(&arn).map_or(arn.clone(), |a| a.name.to_owned()),
                |d| d.value.clone(),
            );
            Role {
                display_name,
                description: text(&r.description),
                max_session_seconds: r
                    .max_session_seconds
                    .as_ref()
                    .map_or(DEFAULT_ROLE_SESSION_SECONDS, |s| s.value),
                arn,
                access,
            }
        })
        .collect();
    let rules = doc
        .rules
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, item)| convert_rule(i, &item.value, &mut errors, &mut suspects))
        .collect();
    let set = RuleSet {
        accounts,
        roles,
        rules,
    };
    (set, errors, suspects)
}

type AccessFields<'a> = (
    &'a Option<Spanned<String>>,
    &'a Option<Spanned<String>>,
    &'a Option<Spanned<String>>,
    &'a Option<Spanned<String>>,
);

/// An `access` block; an empty one is no block at all (as the database stores it).
fn convert_access(
    (mode, saml_provider, external_id, oidc_audience): AccessFields<'_>,
    session_policy: Option<SessionPolicy>,
    mode_site: Site,
    errors: &mut Vec<RuleError>,
    suspects: &mut Suspects,
) -> Option<Access> {
    let mode = mode.as_ref().and_then(|m| {
        m.value
            .parse::<AccessMode>()
            .map_err(|e| {
                suspects.modes.insert((mode_site.section, mode_site.index));
                errors.push(RuleError::new(
                    mode_site.clone(),
                    ErrorKind::InvalidAccessMode,
                    e.to_string(),
                ));
            })
            .ok()
    });
    if let Some(retired) = mode.filter(|m| m.is_retired()) {
        suspects.modes.insert((mode_site.section, mode_site.index));
        errors.push(RuleError::new(
            mode_site.clone(),
            ErrorKind::RetiredAccessMode,
            retired_mode_message(retired),
        ));
    }
    let access = Access {
        mode,
        saml_provider: saml_provider.as_ref().map(|s| s.value.clone()),
        external_id: external_id.as_ref().map(|s| s.value.clone()),
        session_policy,
        oidc_audience: oidc_audience.as_ref().map(|s| s.value.clone()),
    };
    (!access.is_empty()).then_some(access)
}

/// Why a retired mode cannot be used, and what to use instead.
pub fn retired_mode_message(mode: AccessMode) -> String {
    format!(
        "access mode {mode} is retired: AWS redeems only a SAML Response whose Destination and \
         single bearer Recipient are its own sign-in URL, while an identity provider addresses \
         the Response it posts to Roleport to Roleport's ACS, so no upstream assertion can be \
         passed on. Use saml_broker (Roleport signs the assertion AWS receives), or \
         oidc_passthrough for an OpenID Connect provider registered in IAM"
    )
}

fn convert_rule(
    i: usize,
    r: &DocRule,
    errors: &mut Vec<RuleError>,
    suspects: &mut Suspects,
) -> Rule {
    let at = |field| Site::new(Section::Rules, i, Part::Field(field));
    let claim = parse_or(
        &r.claim,
        ClaimSelector::Group,
        at("claim"),
        ErrorKind::InvalidClaim,
        errors,
    );
    let match_kind = parse_or(
        &r.match_kind,
        MatchKind::Exact,
        at("match"),
        ErrorKind::InvalidMatchKind,
        errors,
    );
    let effect = match &r.effect {
        None => Effect::Allow,
        Some(effect) => effect
            .value
            .parse()
            .unwrap_or_else(|e: super::model::UnknownName| {
                errors.push(RuleError::new(
                    at("effect"),
                    ErrorKind::InvalidEffect,
                    e.to_string(),
                ));
                suspects.effects.insert(i);
                Effect::Allow
            }),
    };
    if r.idp.is_none() {
        errors.push(RuleError::new(
            at("idp"),
            ErrorKind::MissingIdp,
            format!(
                "every rule must name its IdP: add idp: <id> (or idp: \"{ANY_IDP}\" to apply it \
                 to every IdP)"
            ),
        ));
    }
    let mut session_tags = BTreeMap::new();
    for (key, value) in r.session_tags.iter().flat_map(|t| &t.value.0) {
        if session_tags
            .insert(key.value.clone(), value.value.clone())
            .is_some()
        {
            errors.push(RuleError::new(
                Site::new(
                    Section::Rules,
                    i,
                    Part::Key("session_tags", key.value.clone()),
                ),
                ErrorKind::InvalidSessionTag,
                format!("a session tag key appears once: {:?} repeats", key.value),
            ));
        }
    }
    Rule {
        id: r.id.value.clone(),
        description: text(&r.description),
        idp: r.idp.as_ref().map(|s| IdpScope::from_ids(s.value.ids())),
        claim,
        match_kind,
        pattern: r.pattern.value.clone(),
        domains: list(&r.domains),
        allow_unqualified: r.allow_unqualified.as_ref().map(|s| s.value),
        roles: strings(&r.roles),
        effect,
        priority: r.priority.as_ref().map_or(0, |p| p.value),
        max_session_seconds: r.max_session_seconds.as_ref().map(|s| s.value),
        session_tags,
        transitive_tag_keys: list(&r.transitive_tag_keys),
        capabilities: list(&r.capabilities),
    }
}

/// The node an error is about; falls back to the enclosing item when the field is absent.
fn node_for(doc: &DocFile, site: &Site) -> Option<NodeId> {
    let field = match &site.part {
        Part::Field(name) | Part::Element(name, _) | Part::Key(name, _) => Some(*name),
        Part::Item => None,
    };
    match site.section {
        Section::Document => Some(doc.version.node),
        Section::Accounts => {
            let item = doc.accounts.as_ref()?.get(site.index)?;
            let a = &item.value;
            let access = a.access.as_ref();
            let in_access =
                |f: fn(&DocAccess) -> Option<NodeId>| access.map(|x| f(&x.value).unwrap_or(x.node));
            let node = match field {
                Some("id") => Some(a.id.node),
                Some("alias") => Some(a.alias.node),
                Some("partition") => Some(a.partition.node),
                Some("environment") => a.environment.as_ref().map(|s| s.node),
                Some("owner") => a.owner.as_ref().map(|s| s.node),
                Some("description") => a.description.as_ref().map(|s| s.node),
                Some("access") => access.map(|x| x.node),
                Some("access.mode") => in_access(|x| x.mode.as_ref().map(|s| s.node)),
                Some("access.saml_provider") => {
                    in_access(|x| x.saml_provider.as_ref().map(|s| s.node))
                }
                Some("access.external_id") => in_access(|x| x.external_id.as_ref().map(|s| s.node)),
                Some("access.oidc_audience") => {
                    in_access(|x| x.oidc_audience.as_ref().map(|s| s.node))
                }
                _ => None,
            };
            Some(node.unwrap_or(item.node))
        }
        Section::Roles => {
            let item = doc.roles.as_ref()?.get(site.index)?;
            let r = &item.value;
            let node = match field {
                Some("arn") => Some(r.arn.node),
                Some("display_name") => r.display_name.as_ref().map(|s| s.node),
                Some("description") => r.description.as_ref().map(|s| s.node),
                Some("max_session_seconds") => r.max_session_seconds.as_ref().map(|s| s.node),
                Some(name) if name.starts_with("access") => {
                    r.access.as_ref().map(|a| role_access_node(a, &site.part))
                }
                _ => None,
            };
            Some(node.unwrap_or(item.node))
        }
        Section::Rules => {
            let item = doc.rules.as_ref()?.get(site.index)?;
            Some(rule_node(&item.value, &site.part).unwrap_or(item.node))
        }
    }
}

/// The node of a role's `access` field; the closest enclosing node when it is absent.
fn role_access_node(access: &Spanned<DocRoleAccess>, part: &Part) -> NodeId {
    let a = &access.value;
    let policy = a.session_policy.as_ref();
    let in_policy = |f: &dyn Fn(&DocSessionPolicy) -> Option<NodeId>| {
        policy.map_or(access.node, |p| f(&p.value).unwrap_or(p.node))
    };
    let node = |s: &Option<Spanned<String>>| s.as_ref().map(|s| s.node);
    match part {
        Part::Field("access.mode") => node(&a.mode).unwrap_or(access.node),
        Part::Field("access.saml_provider") => node(&a.saml_provider).unwrap_or(access.node),
        Part::Field("access.external_id") => node(&a.external_id).unwrap_or(access.node),
        Part::Field("access.oidc_audience") => node(&a.oidc_audience).unwrap_or(access.node),
        Part::Field("access.session_policy") => policy.map_or(access.node, |p| p.node),
        Part::Field("access.session_policy.inline") => in_policy(&|p| node(&p.inline)),
        Part::Field("access.session_policy.managed_arns") => {
            in_policy(&|p| p.managed_arns.as_ref().map(|l| l.node))
        }
        Part::Element("access.session_policy.managed_arns", j) => in_policy(&|p| {
            p.managed_arns
                .as_ref()
                .map(|l| l.value.get(*j).map_or(l.node, |e| e.node))
        }),
        _ => access.node,
    }
}

fn rule_node(r: &DocRule, part: &Part) -> Option<NodeId> {
    let node = |s: &Option<Spanned<String>>| s.as_ref().map(|s| s.node);
    let list = |name: &str| match name {
        "roles" => Some(&r.roles),
        "transitive_tag_keys" => r.transitive_tag_keys.as_ref(),
        "capabilities" => r.capabilities.as_ref(),
        "domains" => r.domains.as_ref(),
        _ => None,
    };
    match part {
        Part::Item => None,
        Part::Field(name) => match *name {
            "id" => Some(r.id.node),
            "description" => node(&r.description),
            "idp" => r.idp.as_ref().map(|s| s.node),
            "claim" => Some(r.claim.node),
            "match" => Some(r.match_kind.node),
            "pattern" => Some(r.pattern.node),
            "allow_unqualified" => r.allow_unqualified.as_ref().map(|s| s.node),
            "effect" => node(&r.effect),
            "priority" => r.priority.as_ref().map(|s| s.node),
            "max_session_seconds" => r.max_session_seconds.as_ref().map(|s| s.node),
            "session_tags" => r.session_tags.as_ref().map(|s| s.node),
            other => list(other).map(|l| l.node),
        },
        Part::Element("idp", j) => r.idp.as_ref().map(|idp| match &idp.value {
            DocIdp::Many(ids) => ids.get(*j).map_or(idp.node, |e| e.node),
            DocIdp::One(_) => idp.node,
        }),
        Part::Element(name, j) => list(name).map(|l| l.value.get(*j).map_or(l.node, |e| e.node)),
        // The last occurrence: it is the one whose value survives, and the repeat.
        Part::Key(_, key) => r.session_tags.as_ref().map(|tags| {
            tags.value
                .0
                .iter()
                .rev()
                .find(|(k, _)| k.value == *key)
                .map_or(tags.node, |(k, _)| k.node)
        }),
    }
}

fn locate_all(text: &str, doc: &DocFile, mut errors: Vec<RuleError>) -> Vec<DocumentError> {
    let omitted = errors.len().saturating_sub(MAX_REPORTED_ERRORS);
    errors.truncate(MAX_REPORTED_ERRORS);
    let mut positions: BTreeMap<NodeId, Option<(usize, usize)>> = BTreeMap::new();
    let mut out: Vec<DocumentError> = errors
        .into_iter()
        .map(|error| {
            let position = node_for(doc, &error.site).and_then(|node| {
                *positions
                    .entry(node)
                    .or_insert_with(|| spans::locate::<DocFile>(text, node))
            });
            DocumentError {
                line: position.map_or(1, |(line, _)| line),
                column: position.map(|(_, column)| column),
                path: Some(error.site.to_string()),
                kind: DocumentErrorKind::Rule(error.kind),
                message: error.message,
            }
        })
        .collect();
    out.sort_by_key(|e| (e.line, e.column));
    if omitted > 0 {
        out.push(DocumentError {
            line: out.last().map_or(1, |e| e.line),
            column: None,
            path: None,
            kind: DocumentErrorKind::TooManyErrors,
            message: format!("{omitted} more errors not shown; fix these and check again"),
        });
    }
    out
}

static MARK_SUFFIX: LazyLock<Result<Regex, regex::Error>> =
    LazyLock::new(|| Regex::new(r" at line \d+ column \d+"));

fn yaml_error(text: &str, error: &serde_yaml_ng::Error) -> DocumentError {
    let (line, column) = match error.location() {
        Some(l) => (l.line().max(1), Some(l.column())),
        // Only end-of-input errors lack a position; the end is where the problem shows.
        None => (text.lines().count().max(1), None),
    };
    let message = error.to_string();
    // The position is in its own fields; the library also writes it into the text.
    let message = match MARK_SUFFIX.as_ref() {
        Ok(re) => re.replace_all(&message, "").into_owned(),
        Err(_) => message,
    };
    DocumentError {
        line,
        column,
        path: None,
        kind: DocumentErrorKind::Yaml,
        message,
    }
}
