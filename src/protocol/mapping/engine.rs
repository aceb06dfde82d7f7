//! Claims in, grants out. Everything that can fail happens in `compile`; `evaluate` cannot.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use super::error::{ErrorKind, Part, RuleError, Section, Site};
use super::index::RuleIndex;
use super::matcher::{DnCache, Matcher, Selected, select};
use super::model::{
    Account, Claims, Decision, Effect, Grant, GrantAccess, MAX_SESSION_SECONDS, Role, RoleArn,
    Rule, RuleSet,
};
use super::validate::validate;

/// A validated rule set with every pattern compiled.
#[derive(Debug, Clone)]
pub struct CompiledRules {
    set: RuleSet,
    /// Sorted by id: evaluation visits rules in an order the input cannot influence.
    rules: Vec<CompiledRule>,
    /// Over `rules`, by position.
    index: RuleIndex,
    roles: BTreeMap<String, RoleTarget>,
}

#[derive(Debug, Clone)]
pub(crate) struct CompiledRule {
    pub(crate) rule: Rule,
    pub(crate) matcher: Matcher,
}

#[derive(Debug, Clone)]
struct RoleTarget {
    account: Account,
    role: Role,
    name: String,
}

/// Why a rule did or did not apply to some claims.
pub(crate) enum Outcome<'c> {
    Matched(Cow<'c, str>),
    IdpDiffers,
    /// A stored rule without `idp`: it applies to no IdP.
    IdpMissing,
    EmailUnverified,
    NoClaimValue,
    NoValueMatched(usize),
}

impl CompiledRules {
    pub fn compile(set: RuleSet) -> Result<CompiledRules, Vec<RuleError>> {
        let mut errors = validate(&set);
        let mut rules = Vec::with_capacity(set.rules.len());
        for (i, rule) in set.rules.iter().enumerate() {
            match Matcher::for_rule(rule) {
                Ok(matcher) => rules.push(CompiledRule {
                    rule: rule.clone(),
                    matcher,
                }),
                Err(message) => errors.push(RuleError::new(
                    Site::new(Section::Rules, i, Part::Field("pattern")),
                    ErrorKind::InvalidPattern,
                    message,
                )),
            }
        }
        if !errors.is_empty() {
            // Stable: within one item, errors keep the order the checks run in.
            errors.sort_by_key(|e| (e.site.section, e.site.index));
            return Err(errors);
        }
        rules.sort_by(|a, b| a.rule.id.cmp(&b.rule.id));
        let accounts: BTreeMap<&str, &Account> =
            set.accounts.iter().map(|a| (a.id.as_str(), a)).collect();
        let roles = set
            .roles
            .iter()
            .filter_map(|role| {
                let arn = RoleArn::parse(&role.arn)?;
                let account = accounts.get(arn.account_id)?;
                let target = RoleTarget {
                    account: (*account).clone(),
                    role: role.clone(),
                    name: arn.name.to_owned(),
                };
                Some((role.arn.clone(), target))
            })
            .collect();
        let index = RuleIndex::build(&rules);
        Ok(CompiledRules {
            set,
            rules,
            index,
            roles,
        })
    }

    /// Ids of the rules stored without `idp` (before it was mandatory), which apply to no IdP
    /// until the rules are imported again with `idp` set.
    pub fn rules_without_idp(&self) -> Vec<&str> {
        self.set
            .rules
            .iter()
            .filter(|r| r.idp.is_none())
            .map(|r| r.id.as_str())
            .collect()
    }

    /// The rule set as given (input order), e.g. to store or render it.
    pub fn rule_set(&self) -> &RuleSet {
        &self.set
    }

    pub(crate) fn compiled(&self) -> &[CompiledRule] {
        &self.rules
    }

    pub fn evaluate(&self, claims: &Claims) -> Decision {
        let matched = self.index.matching(&self.rules, claims);
        let applying: Vec<&Rule> = self
            .rules
            .iter()
            .zip(matched)
            .filter(|(r, matched)| {
                *matched && r.rule.idp.as_ref().is_some_and(|s| s.admits(&claims.idp))
            })
            .map(|(r, _)| &r.rule)
            .collect();
        self.decide(&applying)
    }

    /// Every rule assessed on its own, as `explain` does: what the index must agree with (a
    /// property test), and the baseline the rules benchmark compares it to.
    pub fn evaluate_rule_by_rule(&self, claims: &Claims) -> Decision {
        let mut dns = DnCache::default();
        let applying: Vec<&Rule> = self
            .rules
            .iter()
            .filter(|r| matches!(r.assess(claims, &mut dns), Outcome::Matched(_)))
            .map(|r| &r.rule)
            .collect();
        self.decide(&applying)
    }

    /// `applying` is in id order, which makes "smallest id" the first one seen.
    pub(crate) fn decide(&self, applying: &[&Rule]) -> Decision {
        let mut deciders: BTreeMap<&str, &Rule> = BTreeMap::new();
        let mut denials: BTreeMap<&str, &str> = BTreeMap::new();
        let mut deny_all: Option<&str> = None;
        let mut capabilities = BTreeSet::new();
        for rule in applying {
            match rule.effect {
                Effect::Allow => {
                    capabilities.extend(rule.capabilities.iter().cloned());
                    for arn in &rule.roles {
                        let decider = deciders.entry(arn.as_str()).or_insert(rule);
                        if rule.priority > decider.priority {
                            *decider = rule;
                        }
                    }
                }
                Effect::Deny if rule.covers_all_roles() => {
                    deny_all = deny_all.or(Some(rule.id.as_str()));
                }
                Effect::Deny => {
                    for arn in &rule.roles {
                        denials.entry(arn.as_str()).or_insert(rule.id.as_str());
                    }
                }
            }
        }
        if deny_all.is_some() {
            capabilities.clear();
        }
        let mut decision = Decision {
            capabilities,
            ..Decision::default()
        };
        let mut granted: Vec<(&RoleTarget, &Rule)> = Vec::with_capacity(deciders.len());
        for (arn, rule) in deciders {
            let denier = match (denials.get(arn).copied(), deny_all) {
                (Some(one), Some(all)) => Some(one.min(all)),
                (one, all) => one.or(all),
            };
            if let Some(denier) = denier {
                decision.denied.push((arn.to_owned(), denier.to_owned()));
            } else if let Some(target) = self.roles.get(arn) {
                granted.push((target, rule));
            }
        }
        // Sorted as pairs of references, then built: moving whole grants while sorting was most
        // of the role picker's evaluation time with hundreds of grants.
        granted.sort_by(|(a, _), (b, _)| {
            (&a.account.alias, &a.name, &a.account.id).cmp(&(
                &b.account.alias,
                &b.name,
                &b.account.id,
            ))
        });
        decision.grants = granted
            .into_iter()
            .map(|(target, rule)| grant(target, rule))
            .collect();
        decision
    }
}

impl CompiledRule {
    pub(crate) fn assess<'c>(&self, claims: &'c Claims, dns: &mut DnCache) -> Outcome<'c> {
        match &self.rule.idp {
            None => return Outcome::IdpMissing,
            Some(scope) if !scope.admits(&claims.idp) => return Outcome::IdpDiffers,
            Some(_) => {}
        }
        match select(&self.rule.claim, claims) {
            Selected::Absent => Outcome::NoClaimValue,
            Selected::EmailUnverified => Outcome::EmailUnverified,
            Selected::Values(values) => {
                let tried = values.len();
                values
                    .into_iter()
                    .find(|v| self.matcher.matches(v, dns))
                    .map_or(Outcome::NoValueMatched(tried), Outcome::Matched)
            }
        }
    }
}

fn grant(target: &RoleTarget, rule: &Rule) -> Grant {
    // Past 12 h only where the rule says so too (a federation_token role; see session_limits).
    let max_session_seconds = rule.max_session_seconds.map_or(
        target.role.max_session_seconds.min(MAX_SESSION_SECONDS),
        |cap| cap.min(target.role.max_session_seconds),
    );
    Grant {
        id: format!("{}-{}", target.account.id, target.name),
        account_id: target.account.id.clone(),
        account_alias: target.account.alias.clone(),
        partition: target.account.partition,
        role_arn: target.role.arn.clone(),
        role_name: target.name.clone(),
        display_name: target.role.display_name.clone(),
        description: target.role.description.clone(),
        max_session_seconds,
        session_tags: rule.session_tags.clone(),
        transitive_tag_keys: rule.transitive_tag_keys.clone(),
        rule_id: rule.id.clone(),
        capabilities: rule.capabilities.clone(),
        access: GrantAccess::resolve(target.account.access.as_ref(), target.role.access.as_ref()),
    }
}
