//! Why some claims get the roles they get: for `roleport rules explain` and the admin UI.

use std::fmt;

use serde::Serialize;

use super::engine::{CompiledRules, Outcome};
use super::matcher::{DnCache, Selected, select};
use super::model::{ClaimSelector, Claims, Decision, Effect, IdpScope, MatchKind};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Explanation {
    pub idp: String,
    pub subject: String,
    /// Every rule, in id order (the order evaluation uses).
    pub rules: Vec<RuleTrace>,
    /// Exactly what [`CompiledRules::evaluate`] returns for the same claims.
    pub decision: Decision,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleTrace {
    pub rule_id: String,
    pub effect: Effect,
    pub priority: i32,
    /// `None`: stored without `idp`, applies to no IdP.
    pub idp: Option<IdpScope>,
    pub claim: ClaimSelector,
    pub match_kind: MatchKind,
    pub pattern: String,
    pub roles: Vec<String>,
    pub applied: bool,
    pub reason: TraceReason,
    /// For `ad_group` rules: one line per claim value saying why it matched or not.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub value_checks: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TraceReason {
    /// `value` is the first claim value that matched (lower-cased for `email_domain`).
    Matched {
        value: String,
    },
    IdpDiffers {
        rule_idp: String,
    },
    /// Stored before `idp` was mandatory: applies to no IdP until imported again.
    IdpMissing,
    EmailUnverified,
    NoClaimValue,
    NoValueMatched {
        values_tried: usize,
    },
}

pub fn explain(rules: &CompiledRules, claims: &Claims) -> Explanation {
    let mut dns = DnCache::default();
    let mut applying = Vec::new();
    let mut traces = Vec::new();
    for compiled in rules.compiled() {
        let rule = &compiled.rule;
        let reason = match compiled.assess(claims, &mut dns) {
            Outcome::Matched(value) => {
                applying.push(rule);
                TraceReason::Matched {
                    value: value.into_owned(),
                }
            }
            Outcome::IdpDiffers => TraceReason::IdpDiffers {
                rule_idp: rule
                    .idp
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
            },
            Outcome::IdpMissing => TraceReason::IdpMissing,
            Outcome::EmailUnverified => TraceReason::EmailUnverified,
            Outcome::NoClaimValue => TraceReason::NoClaimValue,
            Outcome::NoValueMatched(tried) => TraceReason::NoValueMatched {
                values_tried: tried,
            },
        };
        let value_checks = match (compiled.matcher.ad_group(), &reason) {
            (Some(group), TraceReason::Matched { value }) => vec![group.explain(value)],
            (Some(group), TraceReason::NoValueMatched { .. }) => {
                match select(&rule.claim, claims) {
                    Selected::Values(values) => values.iter().map(|v| group.explain(v)).collect(),
                    Selected::Absent | Selected::EmailUnverified => Vec::new(),
                }
            }
            _ => Vec::new(),
        };
        traces.push(RuleTrace {
            rule_id: rule.id.clone(),
            effect: rule.effect,
            priority: rule.priority,
            idp: rule.idp.clone(),
            claim: rule.claim.clone(),
            match_kind: rule.match_kind,
            pattern: rule.pattern.clone(),
            roles: rule.roles.clone(),
            applied: matches!(reason, TraceReason::Matched { .. }),
            reason,
            value_checks,
        });
    }
    Explanation {
        idp: claims.idp.clone(),
        subject: claims.subject.clone(),
        rules: traces,
        decision: rules.decide(&applying),
    }
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Identity provider: {}", self.idp)?;
        writeln!(f, "Subject: {}", self.subject)?;
        writeln!(f, "Rules ({}):", self.rules.len())?;
        for trace in &self.rules {
            writeln!(f, "  {trace}")?;
        }
        let decision = &self.decision;
        writeln!(f, "Grants ({}):", decision.grants.len())?;
        for grant in &decision.grants {
            write!(
                f,
                "  {} / {}  {}  (rule {}, max {}s",
                grant.account_alias,
                grant.role_name,
                grant.role_arn,
                grant.rule_id,
                grant.max_session_seconds
            )?;
            if !grant.session_tags.is_empty() {
                let tags: Vec<String> = grant
                    .session_tags
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                write!(f, ", tags {}", tags.join(" "))?;
            }
            if !grant.transitive_tag_keys.is_empty() {
                write!(f, ", transitive {}", grant.transitive_tag_keys.join(" "))?;
            }
            writeln!(f, ")")?;
        }
        writeln!(f, "Denied ({}):", decision.denied.len())?;
        for (arn, rule_id) in &decision.denied {
            writeln!(f, "  {arn}  (deny rule {rule_id})")?;
        }
        let capabilities: Vec<&str> = decision.capabilities.iter().map(String::as_str).collect();
        if capabilities.is_empty() {
            writeln!(f, "Capabilities: none")
        } else {
            writeln!(f, "Capabilities: {}", capabilities.join(", "))
        }
    }
}

impl fmt::Display for RuleTrace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mark = if self.applied { "applied" } else { "skipped" };
        write!(
            f,
            "[{mark}] {} ({}, priority {}): ",
            self.rule_id, self.effect, self.priority
        )?;
        let (claim, kind, pattern) = (&self.claim, self.match_kind, &self.pattern);
        match &self.reason {
            TraceReason::Matched { value } => {
                write!(f, "{claim} {value:?} matched {kind} pattern {pattern:?}")
            }
            TraceReason::IdpDiffers { rule_idp } => {
                write!(f, "idp differs (rule is for {rule_idp:?})")
            }
            TraceReason::IdpMissing => write!(
                f,
                "names no idp (stored before idp was mandatory), so it applies to no IdP; \
                 import the rules again with idp set"
            ),
            TraceReason::EmailUnverified => write!(f, "email is not verified"),
            TraceReason::NoClaimValue => write!(f, "no {claim} claim"),
            TraceReason::NoValueMatched { values_tried } => write!(
                f,
                "no value matched: {values_tried} {claim} value(s) tried against {kind} \
                 pattern {pattern:?}"
            ),
        }?;
        for check in &self.value_checks {
            write!(f, "\n      {check}")?;
        }
        Ok(())
    }
}
