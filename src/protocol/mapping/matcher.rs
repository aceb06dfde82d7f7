//! Patterns compiled once at load, and the claim values a rule looks at.

use std::borrow::Cow;
use std::collections::BTreeMap;

use globset::{Glob, GlobBuilder, GlobMatcher};
use regex::{Regex, RegexBuilder};

use super::ad_group::AdGroup;
use super::ldap_dn::{Dn, normal_value};
use super::model::{ClaimSelector, Claims, MatchKind, Rule};

/// Caps on what one regex may cost, so a rule author cannot make every sign-in slow.
pub(crate) const REGEX_SIZE_LIMIT: usize = 256 * 1024;
pub(crate) const REGEX_DFA_SIZE_LIMIT: usize = 1024 * 1024;
pub(crate) const REGEX_NEST_LIMIT: u32 = 64;

#[derive(Debug, Clone)]
pub(crate) enum Matcher {
    /// Lower-cased when the claim folds case, as the value then is too.
    Exact {
        pattern: String,
    },
    Glob(GlobMatcher),
    Regex(Regex),
    Dn(Dn),
    /// The pattern in a DN value's normal form, compared with the first RDN's CN.
    Cn(String),
    AdGroup(AdGroup),
}

impl Matcher {
    /// `fold_case` is for claims compared case-insensitively (the email domain): values arrive
    /// lower-cased and the pattern is made to match regardless of case.
    pub(crate) fn for_rule(rule: &Rule) -> Result<Self, String> {
        if rule.match_kind == MatchKind::AdGroup {
            return AdGroup::compile(&rule.pattern, &rule.domains, rule.allow_unqualified)
                .map(Matcher::AdGroup);
        }
        Matcher::compile(rule.match_kind, &rule.pattern, folds_case(&rule.claim))
    }

    pub(crate) fn compile(kind: MatchKind, pattern: &str, fold_case: bool) -> Result<Self, String> {
        match kind {
            MatchKind::Exact => Ok(Matcher::Exact {
                pattern: if fold_case {
                    pattern.to_lowercase()
                } else {
                    pattern.to_owned()
                },
            }),
            MatchKind::Glob => glob(pattern, fold_case).map(|g| Matcher::Glob(g.compile_matcher())),
            MatchKind::Regex => compile_regex(pattern, fold_case).map(Matcher::Regex),
            MatchKind::LdapDn if pattern.contains('=') => Dn::parse(pattern)
                .map(Matcher::Dn)
                .map_err(|e| e.to_string()),
            MatchKind::LdapDn => Ok(Matcher::Cn(normal_value(pattern))),
            // Folds case by its own definition, whatever the claim.
            MatchKind::AdGroup => AdGroup::compile(pattern, &[], None).map(Matcher::AdGroup),
        }
    }

    pub(crate) fn matches(&self, value: &str, dns: &mut DnCache) -> bool {
        match self {
            Matcher::Exact { pattern } => pattern == value,
            Matcher::Glob(glob) => glob.is_match(value),
            Matcher::Regex(regex) => regex.is_match(value),
            Matcher::Dn(dn) => dns.get(value).is_some_and(|v| v == dn),
            Matcher::Cn(cn) => dns
                .get(value)
                .and_then(Dn::first_cn)
                .is_some_and(|v| v == cn),
            Matcher::AdGroup(group) => group.matches(value),
        }
    }

    pub(crate) fn ad_group(&self) -> Option<&AdGroup> {
        match self {
            Matcher::AdGroup(group) => Some(group),
            _ => None,
        }
    }
}

pub(crate) fn glob(pattern: &str, fold_case: bool) -> Result<Glob, String> {
    GlobBuilder::new(pattern)
        .literal_separator(true)
        .backslash_escape(true)
        .case_insensitive(fold_case)
        .build()
        .map_err(|e| format!("invalid glob: {e}"))
}

/// The whole value must match. Only for a pattern that compiled alone (see `compile_regex`).
pub(crate) fn anchored_regex(pattern: &str) -> String {
    format!("^(?:{pattern})$")
}

fn compile_regex(pattern: &str, fold_case: bool) -> Result<Regex, String> {
    let build = |source: &str| {
        RegexBuilder::new(source)
            .case_insensitive(fold_case)
            .size_limit(REGEX_SIZE_LIMIT)
            .dfa_size_limit(REGEX_DFA_SIZE_LIMIT)
            .nest_limit(REGEX_NEST_LIMIT)
            .build()
            .map_err(|e| format!("invalid regex: {e}"))
    };
    // Compiling the bare pattern first proves its groups balance, so `a)|(b` cannot escape
    // the anchoring group below and match a mere substring.
    build(pattern)?;
    build(&anchored_regex(pattern))
}

/// Claim values are parsed as DNs at most once per evaluation, however many rules look.
#[derive(Default)]
pub(crate) struct DnCache {
    parsed: BTreeMap<String, Option<Dn>>,
}

impl DnCache {
    fn get(&mut self, value: &str) -> Option<&Dn> {
        if !self.parsed.contains_key(value) {
            self.parsed.insert(value.to_owned(), Dn::parse(value).ok());
        }
        self.parsed.get(value)?.as_ref()
    }
}

/// What a selector yields from a set of claims.
pub(crate) enum Selected<'c> {
    Values(Vec<Cow<'c, str>>),
    /// There is an address, but the IdP did not vouch for it.
    EmailUnverified,
    Absent,
}

pub(crate) fn select<'c>(selector: &ClaimSelector, claims: &'c Claims) -> Selected<'c> {
    let mut values: Vec<Cow<'c, str>> = match selector {
        ClaimSelector::Group => claims
            .groups
            .iter()
            .map(|g| Cow::Borrowed(g.as_str()))
            .collect(),
        ClaimSelector::Subject => vec![Cow::Borrowed(claims.subject.as_str())],
        ClaimSelector::Attribute(name) => claims
            .attributes
            .get(name)
            .map(|vs| vs.iter().map(|v| Cow::Borrowed(v.as_str())).collect())
            .unwrap_or_default(),
        ClaimSelector::Email | ClaimSelector::EmailDomain => {
            let Some(email) = claims.email.as_deref() else {
                return Selected::Absent;
            };
            if !claims.email_verified {
                return Selected::EmailUnverified;
            }
            if *selector == ClaimSelector::Email {
                vec![Cow::Borrowed(email)]
            } else {
                email
                    .rsplit_once('@')
                    .map(|(_, domain)| domain)
                    .filter(|domain| !domain.is_empty())
                    .map(|domain| vec![Cow::Owned(domain.to_lowercase())])
                    .unwrap_or_default()
            }
        }
    };
    // An empty value names nothing; without this, `*` or `.*` would match a missing claim.
    values.retain(|v| !v.is_empty());
    if values.is_empty() {
        Selected::Absent
    } else {
        Selected::Values(values)
    }
}

/// Whether a selector's values are compared case-insensitively.
pub(crate) fn folds_case(selector: &ClaimSelector) -> bool {
    *selector == ClaimSelector::EmailDomain
}
