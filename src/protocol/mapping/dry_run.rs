//! What importing a new rules document would change for the people who use Roleport: for each
//! person (their claims as last seen), the grants and capabilities the proposed rules add and
//! remove compared with the current ones. Both sides read the same claims, so a claim that was
//! not recorded cannot show up as a change.

use super::engine::CompiledRules;
use super::model::{Claims, Decision};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// One grant as the dry run names it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct GrantName {
    pub account_alias: String,
    pub account_id: String,
    pub role_arn: String,
    /// The allow rule that decides it.
    pub rule_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PersonChange {
    pub idp: String,
    pub subject: String,
    pub added: Vec<GrantName>,
    pub removed: Vec<GrantName>,
    /// Same role, another deciding rule (its duration cap or tags may differ).
    pub redecided: Vec<GrantName>,
    pub capabilities_added: Vec<String>,
    pub capabilities_removed: Vec<String>,
}

impl PersonChange {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.removed.is_empty()
            && self.redecided.is_empty()
            && self.capabilities_added.is_empty()
            && self.capabilities_removed.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DryRun {
    /// How many people were compared.
    pub people: usize,
    /// Only the people whose access changes, in input order.
    pub changes: Vec<PersonChange>,
}

fn grants(d: &Decision) -> BTreeMap<String, GrantName> {
    d.grants
        .iter()
        .map(|g| {
            (
                g.role_arn.clone(),
                GrantName {
                    account_alias: g.account_alias.clone(),
                    account_id: g.account_id.clone(),
                    role_arn: g.role_arn.clone(),
                    rule_id: g.rule_id.clone(),
                },
            )
        })
        .collect()
}

pub fn compare(current: &Decision, proposed: &Decision, claims: &Claims) -> PersonChange {
    let before = grants(current);
    let after = grants(proposed);
    let added = after
        .iter()
        .filter(|(arn, _)| !before.contains_key(*arn))
        .map(|(_, g)| g.clone())
        .collect();
    let removed = before
        .iter()
        .filter(|(arn, _)| !after.contains_key(*arn))
        .map(|(_, g)| g.clone())
        .collect();
    let redecided = after
        .iter()
        .filter(|(arn, g)| before.get(*arn).is_some_and(|b| b.rule_id != g.rule_id))
        .map(|(_, g)| g.clone())
        .collect();
    let diff = |a: &BTreeSet<String>, b: &BTreeSet<String>| a.difference(b).cloned().collect();
    PersonChange {
        idp: claims.idp.clone(),
        subject: claims.subject.clone(),
        added,
        removed,
        redecided,
        capabilities_added: diff(&proposed.capabilities, &current.capabilities),
        capabilities_removed: diff(&current.capabilities, &proposed.capabilities),
    }
}

pub fn dry_run(current: &CompiledRules, proposed: &CompiledRules, people: &[Claims]) -> DryRun {
    let changes = people
        .iter()
        .map(|claims| {
            compare(
                &current.evaluate(claims),
                &proposed.evaluate(claims),
                claims,
            )
        })
        .filter(|c| !c.is_empty())
        .collect();
    DryRun {
        people: people.len(),
        changes,
    }
}
