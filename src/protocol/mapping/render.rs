//! Writing a rule set as a rules document: the inverse of [`super::parse_document`].

use std::collections::BTreeMap;

use serde::Serialize;

use super::document::DOCUMENT_VERSION;
use super::model::{Access, Account, IdpScope, Role, Rule, RuleSet};

#[derive(Serialize)]
struct OutFile<'a> {
    version: u32,
    accounts: Vec<OutAccount<'a>>,
    roles: Vec<OutRole<'a>>,
    rules: Vec<OutRule<'a>>,
}

#[derive(Serialize)]
struct OutAccount<'a> {
    id: &'a str,
    alias: &'a str,
    partition: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    access: Option<&'a Access>,
    #[serde(skip_serializing_if = "Option::is_none")]
    environment: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    owner: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
}

#[derive(Serialize)]
struct OutRole<'a> {
    arn: &'a str,
    display_name: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    description: &'a str,
    max_session_seconds: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    access: Option<&'a Access>,
}

/// An empty `access` block says nothing, and reads back as none.
fn access(a: &Option<Access>) -> Option<&Access> {
    a.as_ref().filter(|a| !a.is_empty())
}

#[derive(Serialize)]
struct OutRule<'a> {
    id: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    description: &'a str,
    /// One id as a scalar, several as a list; absent only for a stored rule from before `idp`
    /// was mandatory, which then reads back as the error that says how to fix it.
    #[serde(skip_serializing_if = "Option::is_none")]
    idp: Option<OutIdp>,
    claim: String,
    #[serde(rename = "match")]
    match_kind: &'static str,
    pattern: &'a str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    domains: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    allow_unqualified: Option<bool>,
    roles: &'a [String],
    effect: &'static str,
    priority: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_session_seconds: Option<u32>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    session_tags: &'a BTreeMap<String, String>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    transitive_tag_keys: &'a [String],
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    capabilities: &'a [String],
}

#[derive(Serialize)]
#[serde(untagged)]
enum OutIdp {
    One(String),
    Many(Vec<String>),
}

fn out_idp(scope: &IdpScope) -> OutIdp {
    match scope.ids().as_slice() {
        [one] => OutIdp::One(one.clone()),
        ids => OutIdp::Many(ids.to_vec()),
    }
}

/// Writes a rule set as a document that [`super::parse_document`] reads back to an equal set.
/// Accounts are ordered by id, roles by ARN and rules by id, so equal sets render equally.
pub fn render_document(set: &RuleSet) -> String {
    let mut accounts: Vec<&Account> = set.accounts.iter().collect();
    accounts.sort_by(|a, b| a.id.cmp(&b.id));
    let mut roles: Vec<&Role> = set.roles.iter().collect();
    roles.sort_by(|a, b| a.arn.cmp(&b.arn));
    let mut rules: Vec<&Rule> = set.rules.iter().collect();
    rules.sort_by(|a, b| a.id.cmp(&b.id));
    let out = OutFile {
        version: DOCUMENT_VERSION,
        accounts: accounts
            .into_iter()
            .map(|a| OutAccount {
                id: &a.id,
                alias: &a.alias,
                partition: a.partition.as_str(),
                access: access(&a.access),
                environment: a.environment.as_deref(),
                owner: a.owner.as_deref(),
                description: a.description.as_deref(),
            })
            .collect(),
        roles: roles
            .into_iter()
            .map(|r| OutRole {
                arn: &r.arn,
                display_name: &r.display_name,
                description: &r.description,
                max_session_seconds: r.max_session_seconds,
                access: access(&r.access),
            })
            .collect(),
        rules: rules
            .into_iter()
            .map(|r| OutRule {
                id: &r.id,
                description: &r.description,
                idp: r.idp.as_ref().map(out_idp),
                claim: r.claim.to_string(),
                match_kind: r.match_kind.as_str(),
                pattern: &r.pattern,
                domains: &r.domains,
                allow_unqualified: r.allow_unqualified,
                roles: &r.roles,
                effect: r.effect.as_str(),
                priority: r.priority,
                max_session_seconds: r.max_session_seconds,
                session_tags: &r.session_tags,
                transitive_tag_keys: &r.transitive_tag_keys,
                capabilities: &r.capabilities,
            })
            .collect(),
    };
    // Plain structs of strings and numbers always serialize; the fallback is unreachable
    // but keeps this function total.
    serde_yaml_ng::to_string(&out)
        .unwrap_or_else(|e| format!("# roleport could not render the rules: {e}\n"))
}
