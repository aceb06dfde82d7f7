//! The identity Roleport maps to roles, taken from verified ID token claims through configurable
//! claim paths.
//!
//! **Claim paths.** A path is written with dots: `groups`, `realm_access.roles`,
//! `resource_access.roleport.roles`. It is resolved in two steps: if the claims object has a
//! top-level member whose name is the whole path (as with `cognito:groups` or URL-named custom
//! claims such as `https://example.com/groups`, which contain dots), that member is used;
//! otherwise the path is split on `.` and walked through nested objects. A path whose segments
//! themselves contain dots below the top level can be built with [`ClaimPath::from_segments`].
//!
//! **Group values.** At each configured group path (all paths are read and their values united,
//! in order, without duplicates):
//! - absent or `null` → no groups from that path;
//! - an array → every element must be a string and is one group (never split);
//! - a string → one group with [`StringForm::Single`] (the default: AD-style names such as
//!   `Domain Admins` contain spaces), or several groups split on ASCII whitespace with
//!   [`StringForm::SpaceSeparated`] (for providers that send `"roles": "admin auditor"`);
//! - anything else (number, object, array with a non-string) → [`ClaimsError::Malformed`]. Group
//!   values are never silently dropped: with deny rules, dropping a group could grant access.
//!
//! **Exact values.** The stable id, the e-mail address, every group value and every claim kept
//! for rules ([`rule_attributes`]) pass [`crate::protocol::identity_value`]: an empty value,
//! surrounding whitespace, control, invisible or bidi characters, or a value NFC would change
//! refuses the sign-in ([`ClaimsError::IdentityValue`], code `identity_value_refused`, the one
//! code SAML uses too). Nothing is trimmed. More than [`ClaimMapping::max_groups`] groups or a
//! group longer than [`MAX_GROUP_LEN`] bytes refuses the sign-in. `groups_overage` reports Entra ID's
//! "too many groups" marker (`_claim_names` naming a group claim, or `hasgroups: true`): the
//! caller then fetches groups elsewhere (userinfo/Graph) instead of treating the user as groupless.
//!
//! **E-mail.** `email` must be an exact value (above) of the shape `local@domain` (no whitespace,
//! ≤ 320 bytes). `email_verified` is a boolean; the strings `"true"`/`"false"` are
//! accepted too (some providers send them); absent means not verified. Rules that map on e-mail or
//! e-mail domain must use [`Identity::verified_email`], never the raw address.
//!
//! **Hosted domain.** Google's `hd` claim names the Workspace domain of the account. A verified
//! e-mail address in a domain does not prove the account belongs to that Workspace, so a
//! Google-style provider restricted to a company sets [`ClaimMapping::allowed_hosted_domains`]:
//! then `hd` must be present and equal (ASCII case-insensitive) one of them.
//!
//! **Stable id.** Default path `sub`; may point elsewhere (Entra's `oid`). An exact value (above)
//! of at most 255 bytes, or an integer (written in decimal). It is unique only per issuer: the
//! caller stores it together with the issuer. When the stable id is read from the e-mail claim,
//! an address the provider does not vouch for refuses the sign-in
//! ([`ClaimsError::StableIdUnverifiedEmail`]): it would otherwise reach `subject` rules.
//!
//! **Display names** (`name` or the configured name path, `given_name`, `family_name`,
//! `middle_name`, `nickname`) are shown, never matched: they are not kept for rules and not
//! checked, unless the stable id, e-mail or a group path also reads them.

use crate::protocol::identity_value::{self, Field, IdentityValueError, Source};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Longest accepted group value, in bytes.
pub const MAX_GROUP_LEN: usize = 1024;
/// Longest accepted stable id, in bytes (the OIDC limit on `sub`).
pub const MAX_STABLE_ID_LEN: usize = 255;
const MAX_EMAIL_LEN: usize = 320;
const MAX_PATH_LEN: usize = 256;

/// Why the identity could not be taken from the claims.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ClaimsError {
    #[error("claim path {0:?} is not valid")]
    BadPath(String),
    #[error("stable id claim {0:?} is missing")]
    StableIdMissing(String),
    #[error("stable id claim {0:?} is empty, too long or not a string")]
    StableIdInvalid(String),
    #[error("claim {0:?} has an unexpected type or value")]
    Malformed(String),
    #[error("e-mail claim is not an e-mail address")]
    EmailMalformed,
    #[error("{0} groups exceed the limit")]
    TooManyGroups(usize),
    #[error("hosted domain {0:?} is not allowed")]
    HostedDomainNotAllowed(Option<String>),
    #[error(transparent)]
    IdentityValue(#[from] IdentityValueError),
    #[error("the stable id is the e-mail claim {0:?}, and the provider does not vouch for it")]
    StableIdUnverifiedEmail(String),
}

impl ClaimsError {
    /// A stable identifier for logs, audit rows and tests.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadPath(_) => "claims.bad_path",
            Self::StableIdMissing(_) => "claims.stable_id_missing",
            Self::StableIdInvalid(_) => "claims.stable_id_invalid",
            Self::Malformed(_) => "claims.malformed",
            Self::EmailMalformed => "claims.email_malformed",
            Self::TooManyGroups(_) => "claims.too_many_groups",
            Self::HostedDomainNotAllowed(_) => "claims.hd_not_allowed",
            // Not namespaced: one code for the one rule, SAML and OIDC alike.
            Self::IdentityValue(e) => e.code(),
            Self::StableIdUnverifiedEmail(_) => "claims.stable_id_unverified_email",
        }
    }
}

/// A path to a claim (see the module documentation for how it resolves).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClaimPath {
    /// The path as written; `None` when built from segments (no literal lookup then).
    literal: Option<String>,
    segments: Vec<String>,
}

impl ClaimPath {
    /// Parses a dotted path. It must be non-empty and at most 256 bytes.
    pub fn parse(path: &str) -> Result<Self, ClaimsError> {
        if path.is_empty() || path.len() > MAX_PATH_LEN {
            return Err(ClaimsError::BadPath(path.to_owned()));
        }
        Ok(Self {
            literal: Some(path.to_owned()),
            segments: path.split('.').map(str::to_owned).collect(),
        })
    }

    /// A path given segment by segment (segments may contain dots); no literal lookup.
    pub fn from_segments(segments: Vec<String>) -> Result<Self, ClaimsError> {
        if segments.is_empty() || segments.iter().any(String::is_empty) {
            return Err(ClaimsError::BadPath(segments.join(".")));
        }
        Ok(Self {
            literal: None,
            segments,
        })
    }

    /// The path as text, for messages.
    /// The top-level claim names this path reads: the whole path when looked up literally, and
    /// its first segment.
    pub fn top_level_names(&self) -> Vec<&str> {
        self.literal
            .as_deref()
            .into_iter()
            .chain(self.segments.first().map(String::as_str))
            .collect()
    }

    pub fn as_text(&self) -> String {
        self.literal
            .clone()
            .unwrap_or_else(|| self.segments.join("."))
    }

    /// The value at this path, if any. `null` counts as absent.
    pub fn resolve<'a>(&self, claims: &'a Map<String, Value>) -> Option<&'a Value> {
        let found = match self.literal.as_ref().and_then(|l| claims.get(l)) {
            Some(value) => Some(value),
            None => {
                let mut segments = self.segments.iter();
                let first = segments.next()?;
                let mut current = claims.get(first)?;
                for segment in segments {
                    current = current.as_object()?.get(segment)?;
                }
                Some(current)
            }
        };
        found.filter(|v| !v.is_null())
    }

    /// The top-level member this path starts at (for Entra's `_claim_names` overage marker).
    fn root(&self) -> Option<&str> {
        self.segments.first().map(String::as_str)
    }
}

impl TryFrom<String> for ClaimPath {
    type Error = ClaimsError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<ClaimPath> for String {
    fn from(path: ClaimPath) -> Self {
        path.as_text()
    }
}

/// How a string (rather than an array) at a group path is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StringForm {
    /// The whole string is one group. Default.
    #[default]
    Single,
    /// The string holds groups separated by ASCII whitespace.
    SpaceSeparated,
}

/// One place groups are read from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupSource {
    pub path: ClaimPath,
    #[serde(default)]
    pub string_form: StringForm,
}

impl GroupSource {
    pub fn new(path: ClaimPath) -> Self {
        Self {
            path,
            string_form: StringForm::Single,
        }
    }
}

/// Which claims carry the identity, per provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimMapping {
    /// Default `sub`.
    pub stable_id: ClaimPath,
    /// Default `email`.
    pub email: ClaimPath,
    /// Default `email_verified`.
    pub email_verified: ClaimPath,
    /// Default `name`.
    pub name: ClaimPath,
    /// Default: `groups`, single-string form.
    pub groups: Vec<GroupSource>,
    /// Non-empty → the `hd` claim must be one of these (ASCII case-insensitive).
    pub allowed_hosted_domains: Vec<String>,
    /// Default 1000.
    pub max_groups: usize,
}

impl Default for ClaimMapping {
    fn default() -> Self {
        let path = |p: &str| ClaimPath {
            literal: Some(p.to_owned()),
            segments: vec![p.to_owned()],
        };
        Self {
            stable_id: path("sub"),
            email: path("email"),
            email_verified: path("email_verified"),
            name: path("name"),
            groups: vec![GroupSource::new(path("groups"))],
            allowed_hosted_domains: Vec::new(),
            max_groups: 1000,
        }
    }
}

/// The normalised identity taken from verified claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub stable_id: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    pub groups: Vec<String>,
    /// The provider signalled that the groups did not fit into the token.
    pub groups_overage: bool,
    /// Google's `hd` claim, as sent.
    pub hosted_domain: Option<String>,
}

impl Identity {
    /// The e-mail address, only if the provider says it is verified.
    pub fn verified_email(&self) -> Option<&str> {
        self.email.as_deref().filter(|_| self.email_verified)
    }

    /// The lower-cased domain of the verified e-mail address.
    pub fn verified_email_domain(&self) -> Option<String> {
        self.verified_email()
            .and_then(|e| e.rsplit_once('@'))
            .map(|(_, domain)| domain.to_ascii_lowercase())
    }
}

/// Takes the identity out of verified claims (see the module documentation for the rules).
pub fn extract_identity(
    claims: &Map<String, Value>,
    mapping: &ClaimMapping,
) -> Result<Identity, ClaimsError> {
    let stable_id = stable_id(claims, &mapping.stable_id)?;
    let email = match mapping.email.resolve(claims) {
        None => None,
        Some(Value::String(email)) => Some(checked_email(email, &mapping.email)?),
        Some(_) => return Err(ClaimsError::Malformed(mapping.email.as_text())),
    };
    let email_verified = match mapping.email_verified.resolve(claims) {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) if s == "true" => true,
        Some(Value::String(s)) if s == "false" => false,
        Some(_) => return Err(ClaimsError::Malformed(mapping.email_verified.as_text())),
    };
    // A subject read from the e-mail claim is that address: no rule (a `subject` rule included)
    // may see it unless the provider vouches for it.
    if !email_verified && email.is_some() && mapping.stable_id.as_text() == mapping.email.as_text()
    {
        return Err(ClaimsError::StableIdUnverifiedEmail(
            mapping.email.as_text(),
        ));
    }
    let name = mapping
        .name
        .resolve(claims)
        .and_then(Value::as_str)
        .map(str::to_owned);
    let hosted_domain = match claims.get("hd") {
        None | Some(Value::Null) => None,
        Some(Value::String(hd)) => Some(hd.clone()),
        Some(_) => return Err(ClaimsError::Malformed("hd".into())),
    };
    if !mapping.allowed_hosted_domains.is_empty() {
        let allowed = hosted_domain.as_deref().is_some_and(|hd| {
            mapping
                .allowed_hosted_domains
                .iter()
                .any(|d| d.eq_ignore_ascii_case(hd))
        });
        if !allowed {
            return Err(ClaimsError::HostedDomainNotAllowed(hosted_domain));
        }
    }
    let mut groups: Vec<String> = Vec::new();
    for source in &mapping.groups {
        for group in group_values(claims, source)? {
            if !groups.contains(&group) {
                if groups.len() >= mapping.max_groups {
                    return Err(ClaimsError::TooManyGroups(groups.len().saturating_add(1)));
                }
                groups.push(group);
            }
        }
    }
    Ok(Identity {
        stable_id,
        email,
        email_verified,
        name,
        groups,
        groups_overage: groups_overage(claims, mapping),
        hosted_domain,
    })
}

fn stable_id(claims: &Map<String, Value>, path: &ClaimPath) -> Result<String, ClaimsError> {
    let id = match path.resolve(claims) {
        None => return Err(ClaimsError::StableIdMissing(path.as_text())),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => n.to_string(),
        Some(_) => return Err(ClaimsError::StableIdInvalid(path.as_text())),
    };
    if id.len() > MAX_STABLE_ID_LEN {
        return Err(ClaimsError::StableIdInvalid(path.as_text()));
    }
    identity_value::require(&id, || Field::Subject(Source::Claim(path.as_text())))?;
    Ok(id)
}

fn checked_email(email: &str, path: &ClaimPath) -> Result<String, ClaimsError> {
    identity_value::require(email, || Field::Email(Source::Claim(path.as_text())))?;
    let shaped = email.len() <= MAX_EMAIL_LEN
        && !email.chars().any(|c| c.is_control() || c.is_whitespace())
        && email
            .rsplit_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty());
    if shaped {
        Ok(email.to_owned())
    } else {
        Err(ClaimsError::EmailMalformed)
    }
}

fn group_values(
    claims: &Map<String, Value>,
    source: &GroupSource,
) -> Result<Vec<String>, ClaimsError> {
    let malformed = || ClaimsError::Malformed(source.path.as_text());
    let raw: Vec<&str> = match source.path.resolve(claims) {
        None => Vec::new(),
        Some(Value::String(s)) => match source.string_form {
            StringForm::Single => vec![s.as_str()],
            StringForm::SpaceSeparated => s.split_ascii_whitespace().collect(),
        },
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| item.as_str().ok_or_else(malformed))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(malformed()),
    };
    raw.into_iter()
        .enumerate()
        .map(|(index, g)| {
            identity_value::require(g, || Field::Group {
                source: Source::Claim(source.path.as_text()),
                position: index.saturating_add(1),
            })?;
            if g.len() > MAX_GROUP_LEN {
                return Err(malformed());
            }
            Ok(g.to_owned())
        })
        .collect()
}

/// Claims that are about the token, not the person: never rule inputs.
const TOKEN_CLAIMS: [&str; 8] = [
    "nonce", "at_hash", "c_hash", "aud", "azp", "iat", "exp", "nbf",
];
/// OIDC Core §5.1 names for display: shown, never matched.
const DISPLAY_CLAIMS: [&str; 5] = [
    "name",
    "given_name",
    "family_name",
    "middle_name",
    "nickname",
];

/// The top-level string, boolean and string-array claims a rule can read (`attribute:<name>`),
/// each value checked as an exact identity value. Token bookkeeping claims and display names
/// are left out (see the module documentation).
pub fn rule_attributes(
    claims: &Map<String, Value>,
    mapping: &ClaimMapping,
) -> Result<BTreeMap<String, Vec<String>>, ClaimsError> {
    let identity_roots: Vec<&str> = [&mapping.stable_id, &mapping.email]
        .into_iter()
        .chain(mapping.groups.iter().map(|g| &g.path))
        .filter_map(ClaimPath::root)
        .collect();
    let display = |name: &str| {
        (DISPLAY_CLAIMS.contains(&name) || mapping.name.literal.as_deref() == Some(name))
            && !identity_roots.contains(&name)
    };
    let mut out = BTreeMap::new();
    for (name, value) in claims {
        if TOKEN_CLAIMS.contains(&name.as_str()) || display(name) {
            continue;
        }
        let values: Vec<String> = match value {
            Value::String(s) => vec![s.clone()],
            Value::Bool(b) => vec![b.to_string()],
            Value::Array(items) => items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            _ => continue,
        };
        if !values.is_empty() {
            out.insert(name.clone(), values);
        }
    }
    identity_value::require_all(&out, |name| Source::Claim(name.to_owned()))?;
    Ok(out)
}

fn groups_overage(claims: &Map<String, Value>, mapping: &ClaimMapping) -> bool {
    let named = claims
        .get("_claim_names")
        .and_then(Value::as_object)
        .is_some_and(|names| {
            mapping
                .groups
                .iter()
                .filter_map(|g| g.path.root())
                .any(|root| names.contains_key(root))
        });
    named || claims.get("hasgroups") == Some(&Value::Bool(true))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    fn mapping_with(groups: &[(&str, StringForm)]) -> ClaimMapping {
        ClaimMapping {
            groups: groups
                .iter()
                .map(|(p, f)| GroupSource {
                    path: ClaimPath::parse(p).unwrap(),
                    string_form: *f,
                })
                .collect(),
            ..ClaimMapping::default()
        }
    }

    #[test]
    fn paths_resolve_literal_then_nested() {
        let claims = obj(json!({
            "sub": "s",
            "realm_access": {"roles": ["a", "b"]},
            "https://example.com/groups": ["url"],
            "cognito:groups": ["cg"],
            "a": {"b.c": {"d": 1}},
            "n": null
        }));
        let cases: &[(&str, Option<Value>)] = &[
            ("realm_access.roles", Some(json!(["a", "b"]))),
            ("https://example.com/groups", Some(json!(["url"]))),
            ("cognito:groups", Some(json!(["cg"]))),
            ("realm_access.missing", None),
            ("sub.x", None),
            ("n", None),
            ("missing", None),
        ];
        for (path, want) in cases {
            let got = ClaimPath::parse(path).unwrap().resolve(&claims).cloned();
            assert_eq!(&got, want, "{path}");
        }
        let segments =
            ClaimPath::from_segments(vec!["a".into(), "b.c".into(), "d".into()]).unwrap();
        assert_eq!(segments.resolve(&claims), Some(&json!(1)));
        assert!(ClaimPath::parse("").is_err());
        assert!(ClaimPath::from_segments(vec![]).is_err());
        assert!(ClaimPath::from_segments(vec!["a".into(), String::new()]).is_err());
    }

    #[test]
    fn group_forms() {
        let claims = obj(json!({
            "sub": "s",
            "groups": ["admins", "Domain Admins", "admins"],
            "realm_access": {"roles": ["kc-role"]},
            "roles": "ops  auditors",
            "cn": "Domain Admins"
        }));
        let m = mapping_with(&[
            ("groups", StringForm::Single),
            ("realm_access.roles", StringForm::Single),
            ("roles", StringForm::SpaceSeparated),
            ("cn", StringForm::Single),
        ]);
        let id = extract_identity(&claims, &m).unwrap();
        assert_eq!(
            id.groups,
            vec!["admins", "Domain Admins", "kc-role", "ops", "auditors"]
        );
    }

    #[test]
    fn malformed_groups_refuse() {
        for bad in [json!([1]), json!({"a": 1}), json!(3), json!(["ok", null])] {
            let claims = obj(json!({"sub": "s", "groups": bad}));
            let err = extract_identity(&claims, &ClaimMapping::default()).unwrap_err();
            assert_eq!(err.code(), "claims.malformed", "{claims:?}");
        }
        let claims = obj(json!({"sub": "s", "groups": ["x".repeat(MAX_GROUP_LEN + 1)]}));
        assert!(extract_identity(&claims, &ClaimMapping::default()).is_err());
        let many: Vec<String> = (0..3).map(|i| format!("g{i}")).collect();
        let claims = obj(json!({"sub": "s", "groups": many}));
        let m = ClaimMapping {
            max_groups: 2,
            ..ClaimMapping::default()
        };
        assert_eq!(
            extract_identity(&claims, &m).unwrap_err().code(),
            "claims.too_many_groups"
        );
    }

    #[test]
    fn email_and_verification() {
        let cases: &[(Value, Option<&str>, bool)] = &[
            (
                json!({"email": "a@x.org", "email_verified": true}),
                Some("a@x.org"),
                true,
            ),
            (
                json!({"email": "a@x.org", "email_verified": "true"}),
                Some("a@x.org"),
                true,
            ),
            (
                json!({"email": "a@x.org", "email_verified": "false"}),
                None,
                false,
            ),
            (json!({"email": "a@x.org"}), None, false),
            (
                json!({"email": "a@x.org", "email_verified": false}),
                None,
                false,
            ),
        ];
        for (extra, verified, flag) in cases {
            let mut claims = obj(extra.clone());
            claims.insert("sub".into(), json!("s"));
            let id = extract_identity(&claims, &ClaimMapping::default()).unwrap();
            assert_eq!(id.verified_email(), *verified, "{extra}");
            assert_eq!(id.email_verified, *flag);
        }
        let id = extract_identity(
            &obj(json!({"sub": "s", "email": "Alice@Corp.EXAMPLE", "email_verified": true})),
            &ClaimMapping::default(),
        )
        .unwrap();
        assert_eq!(id.verified_email_domain().as_deref(), Some("corp.example"));
        for bad in [
            json!("no-at"),
            json!("a@"),
            json!("@x"),
            json!("a b@x"),
            json!(1),
        ] {
            let claims = obj(json!({"sub": "s", "email": bad}));
            assert!(extract_identity(&claims, &ClaimMapping::default()).is_err());
        }
        let claims = obj(json!({"sub": "s", "email": "a@x", "email_verified": "yes"}));
        assert_eq!(
            extract_identity(&claims, &ClaimMapping::default())
                .unwrap_err()
                .code(),
            "claims.malformed"
        );
    }

    #[test]
    fn hosted_domain() {
        let m = ClaimMapping {
            allowed_hosted_domains: vec!["corp.example".into()],
            ..ClaimMapping::default()
        };
        let ok = obj(json!({"sub": "s", "hd": "Corp.Example"}));
        assert_eq!(
            extract_identity(&ok, &m).unwrap().hosted_domain.as_deref(),
            Some("Corp.Example")
        );
        for claims in [
            json!({"sub": "s"}),
            json!({"sub": "s", "hd": "evil.example"}),
            json!({"sub": "s", "email": "a@corp.example", "email_verified": true}),
        ] {
            assert_eq!(
                extract_identity(&obj(claims), &m).unwrap_err().code(),
                "claims.hd_not_allowed"
            );
        }
    }

    #[test]
    fn stable_id_rules() {
        let m = |p: &str| ClaimMapping {
            stable_id: ClaimPath::parse(p).unwrap(),
            ..ClaimMapping::default()
        };
        let claims = obj(json!({"sub": "s", "oid": "o-1", "num": 42, "empty": "", "float": 1.5}));
        assert_eq!(
            extract_identity(&claims, &m("oid")).unwrap().stable_id,
            "o-1"
        );
        assert_eq!(
            extract_identity(&claims, &m("num")).unwrap().stable_id,
            "42"
        );
        assert_eq!(
            extract_identity(&claims, &m("missing")).unwrap_err().code(),
            "claims.stable_id_missing"
        );
        assert_eq!(
            extract_identity(&claims, &m("float")).unwrap_err().code(),
            "claims.stable_id_invalid"
        );
        assert_eq!(
            extract_identity(&claims, &m("empty"))
                .unwrap_err()
                .to_string(),
            "subject (claim \"empty\") is empty"
        );
    }

    fn refusal(claims: Value, m: &ClaimMapping) -> String {
        match extract_identity(&obj(claims), m) {
            Err(e) => format!("{}: {e}", e.code()),
            Ok(id) => panic!("accepted: {id:?}"),
        }
    }

    #[test]
    fn identity_values_are_used_exactly_as_signed_or_refused() {
        let d = ClaimMapping::default();
        let oid = ClaimMapping {
            stable_id: ClaimPath::parse("oid").unwrap(),
            ..ClaimMapping::default()
        };
        let kc = mapping_with(&[("realm_access.roles", StringForm::Single)]);
        let spaced = mapping_with(&[("roles", StringForm::SpaceSeparated)]);
        let cases: Vec<(String, &str)> = vec![
            (
                refusal(json!({"sub": " admin@example.com\n"}), &d),
                "identity_value_refused: subject (claim \"sub\") has leading whitespace (U+0020)",
            ),
            (
                refusal(json!({"sub": "s", "oid": "o-1\u{2060}"}), &oid),
                "identity_value_refused: subject (claim \"oid\") contains invisible character U+2060 at character 4",
            ),
            (
                refusal(
                    json!({"sub": "s", "groups": ["Domain Users", "x", " admins"]}),
                    &d,
                ),
                "identity_value_refused: group value 3 of claim \"groups\" has leading whitespace (U+0020)",
            ),
            (
                refusal(json!({"sub": "s", "groups": ["admins", ""]}), &d),
                "identity_value_refused: group value 2 of claim \"groups\" is empty",
            ),
            (
                refusal(json!({"sub": "s", "groups": "admins\u{200B}"}), &d),
                "identity_value_refused: group value 1 of claim \"groups\" contains invisible character U+200B at character 7",
            ),
            (
                refusal(
                    json!({"sub": "s", "realm_access": {"roles": ["a\u{0}"]}}),
                    &kc,
                ),
                "identity_value_refused: group value 1 of claim \"realm_access.roles\" contains control character U+0000 at character 2",
            ),
            (
                refusal(
                    json!({"sub": "s", "roles": "ops\u{00A0} auditors"}),
                    &spaced,
                ),
                "identity_value_refused: group value 1 of claim \"roles\" has trailing whitespace (U+00A0)",
            ),
            (
                refusal(
                    json!({"sub": "s", "email": "alice@example.org\u{202E}"}),
                    &d,
                ),
                "identity_value_refused: e-mail (claim \"email\") contains bidirectional control U+202E at character 18",
            ),
            (
                refusal(json!({"sub": "s", "email": " alice@example.org"}), &d),
                "identity_value_refused: e-mail (claim \"email\") has leading whitespace (U+0020)",
            ),
        ];
        for (got, want) in cases {
            assert_eq!(got, want);
        }
        // Inner spaces are part of the value.
        let id = extract_identity(
            &obj(json!({"sub": "s", "groups": ["Domain Users"], "name": " Alice \u{202E}"})),
            &d,
        )
        .unwrap();
        assert_eq!(id.groups, vec!["Domain Users"]);
        // The display name is only shown: kept as sent, never refused.
        assert_eq!(id.name.as_deref(), Some(" Alice \u{202E}"));
    }

    #[test]
    fn rule_attributes_are_exact_and_leave_out_token_and_display_claims() {
        let d = ClaimMapping::default();
        let claims = obj(json!({
            "sub": "s", "iss": "https://op", "aud": "c", "nonce": "n", "exp": 1, "iat": 1,
            "email": "a@x.org", "email_verified": true,
            "department": "Platform Ops", "teams": ["a", "b"], "level": 3,
            "name": " Alice ", "given_name": "Alice\t", "nickname": "\u{202E}ali",
        }));
        let attrs = rule_attributes(&claims, &d).unwrap();
        let keys: Vec<&str> = attrs.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            vec![
                "department",
                "email",
                "email_verified",
                "iss",
                "sub",
                "teams"
            ]
        );
        assert_eq!(attrs["department"], vec!["Platform Ops"]);
        assert_eq!(attrs["email_verified"], vec!["true"]);

        let bad = obj(json!({"sub": "s", "department": ["Ops", "Sec\u{FEFF}"]}));
        let e = rule_attributes(&bad, &d).unwrap_err();
        assert_eq!(
            format!("{}: {e}", e.code()),
            "identity_value_refused: value 2 of claim \"department\" contains invisible character U+FEFF at character 4"
        );
        // A display claim used as the stable id is identity: kept and checked.
        let by_nickname = ClaimMapping {
            stable_id: ClaimPath::parse("nickname").unwrap(),
            ..ClaimMapping::default()
        };
        let claims = obj(json!({"sub": "s", "nickname": "ali "}));
        assert!(rule_attributes(&claims, &by_nickname).is_err());
        assert!(rule_attributes(&claims, &d).is_ok());
    }

    #[test]
    fn overage_marker() {
        let claims = obj(json!({"sub": "s", "_claim_names": {"groups": "src1"}}));
        assert!(
            extract_identity(&claims, &ClaimMapping::default())
                .unwrap()
                .groups_overage
        );
        let claims = obj(json!({"sub": "s", "hasgroups": true}));
        assert!(
            extract_identity(&claims, &ClaimMapping::default())
                .unwrap()
                .groups_overage
        );
        let claims = obj(json!({"sub": "s", "groups": ["a"]}));
        assert!(
            !extract_identity(&claims, &ClaimMapping::default())
                .unwrap()
                .groups_overage
        );
    }

    proptest! {
        #[test]
        fn space_separated_round_trip(groups in proptest::collection::vec("[a-z0-9_-]{1,12}", 0..20)) {
            let claims = obj(json!({"sub": "s", "roles": groups.join(" ")}));
            let m = mapping_with(&[("roles", StringForm::SpaceSeparated)]);
            let mut want: Vec<String> = Vec::new();
            for g in &groups {
                if !want.contains(g) {
                    want.push(g.clone());
                }
            }
            prop_assert_eq!(extract_identity(&claims, &m).unwrap().groups, want);
        }

        #[test]
        fn nested_paths_resolve(keys in proptest::collection::vec("g[a-z]{0,4}", 1..5), leaf in "[a-z]{1,8}") {
            let mut value = json!([leaf.clone()]);
            for k in keys.iter().rev() {
                value = json!({ k.clone(): value });
            }
            let mut claims = obj(value);
            claims.insert("sub".into(), json!("s"));
            let m = mapping_with(&[(&keys.join("."), StringForm::Single)]);
            let got = extract_identity(&claims, &m).unwrap().groups;
            prop_assert_eq!(got, vec![leaf]);
        }
    }
}
