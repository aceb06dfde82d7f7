#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod access;
mod ad_group;
mod document;
mod dry_run;
mod engine;
mod idp_scope;
mod matching;
mod props;

use std::collections::BTreeMap;

use super::*;

pub(super) const PROD: &str = "123456789012";
pub(super) const DEV: &str = "210987654321";

pub(super) fn arn(account: &str, name: &str) -> String {
    format!("arn:aws:iam::{account}:role/{name}")
}

pub(super) fn role(account: &str, name: &str, max: u32) -> Role {
    Role {
        arn: arn(account, name),
        display_name: name.to_owned(),
        description: String::new(),
        max_session_seconds: max,
        access: None,
    }
}

pub(super) fn allow(
    id: &str,
    claim: ClaimSelector,
    kind: MatchKind,
    pattern: &str,
    roles: &[String],
) -> Rule {
    Rule {
        id: id.to_owned(),
        description: String::new(),
        idp: Some(IdpScope::Any),
        claim,
        match_kind: kind,
        pattern: pattern.to_owned(),
        domains: Vec::new(),
        allow_unqualified: None,
        roles: roles.to_vec(),
        effect: Effect::Allow,
        priority: 0,
        max_session_seconds: None,
        session_tags: BTreeMap::new(),
        transitive_tag_keys: Vec::new(),
        capabilities: Vec::new(),
    }
}

pub(super) fn deny(
    id: &str,
    claim: ClaimSelector,
    kind: MatchKind,
    pattern: &str,
    roles: &[String],
) -> Rule {
    Rule {
        effect: Effect::Deny,
        ..allow(id, claim, kind, pattern, roles)
    }
}

/// Two accounts: prod (Admin 3600s, ReadOnly 7200s), dev (Developer 43200s).
pub(super) fn base(rules: Vec<Rule>) -> RuleSet {
    RuleSet {
        accounts: vec![
            Account {
                id: PROD.into(),
                alias: "prod".into(),
                partition: Partition::Aws,
                access: None,
                environment: None,
                owner: None,
                description: None,
            },
            Account {
                id: DEV.into(),
                alias: "dev".into(),
                partition: Partition::Aws,
                access: None,
                environment: None,
                owner: None,
                description: None,
            },
        ],
        roles: vec![
            role(PROD, "Admin", 3600),
            role(PROD, "ReadOnly", 7200),
            role(DEV, "Developer", 43200),
        ],
        rules,
    }
}

pub(super) fn claims(idp: &str, groups: &[&str]) -> Claims {
    Claims {
        idp: idp.into(),
        subject: "alice".into(),
        groups: groups.iter().map(|g| (*g).to_owned()).collect(),
        ..Claims::default()
    }
}

pub(super) fn granted(set: RuleSet, claims: &Claims) -> Vec<String> {
    let compiled = CompiledRules::compile(set).unwrap();
    compiled
        .evaluate(claims)
        .grants
        .into_iter()
        .map(|g| g.role_name)
        .collect()
}
