use super::*;
use crate::protocol::mapping::dry_run::{compare, dry_run};
use proptest::prelude::*;

fn group_rule(id: &str, group: &str, roles: &[String]) -> Rule {
    allow(id, ClaimSelector::Group, MatchKind::Exact, group, roles)
}

fn compiled(rules: Vec<Rule>) -> CompiledRules {
    CompiledRules::compile(base(rules)).unwrap()
}

#[test]
fn names_added_removed_and_redecided_grants_and_capabilities() {
    let admin = arn(PROD, "Admin");
    let read = arn(PROD, "ReadOnly");
    let dev = arn(DEV, "Developer");
    let current = compiled(vec![
        group_rule("admins", "ops", std::slice::from_ref(&admin)),
        group_rule("readers", "ops", std::slice::from_ref(&read)),
    ]);
    let mut sec = group_rule("devs", "ops", std::slice::from_ref(&dev));
    sec.capabilities = vec!["security-team".into()];
    let mut readers = group_rule("readers-2", "ops", std::slice::from_ref(&read));
    readers.priority = 5;
    let proposed = compiled(vec![sec, readers]);
    let alice = claims("corp", &["ops"]);
    let bob = claims("corp", &["sales"]);
    let run = dry_run(&current, &proposed, &[alice, bob]);
    assert_eq!(run.people, 2);
    assert_eq!(run.changes.len(), 1, "bob is unchanged: {run:?}");
    let c = &run.changes[0];
    assert_eq!(c.subject, "alice");
    assert_eq!(
        c.added
            .iter()
            .map(|g| g.role_arn.as_str())
            .collect::<Vec<_>>(),
        [dev.as_str()]
    );
    assert_eq!(
        c.removed
            .iter()
            .map(|g| g.role_arn.as_str())
            .collect::<Vec<_>>(),
        [admin.as_str()]
    );
    assert_eq!(c.redecided.len(), 1);
    assert_eq!(c.redecided[0].rule_id, "readers-2");
    assert_eq!(c.capabilities_added, ["security-team"]);
    assert!(c.capabilities_removed.is_empty());
}

#[test]
fn the_same_rules_change_nothing() {
    let rules = vec![group_rule("admins", "ops", &[arn(PROD, "Admin")])];
    let run = dry_run(
        &compiled(rules.clone()),
        &compiled(rules),
        &[claims("corp", &["ops"])],
    );
    assert!(run.changes.is_empty());
}

proptest! {
    /// Applying the change to the current grants gives exactly the proposed grants, and
    /// swapping the sides swaps added and removed.
    #[test]
    fn the_diff_is_exact_and_symmetric(
        groups in prop::collection::vec(prop::sample::select(vec!["a", "b", "c"]), 0..3),
        left in prop::collection::vec((prop::sample::select(vec!["a", "b", "c"]), 0usize..3), 0..4),
        right in prop::collection::vec((prop::sample::select(vec!["a", "b", "c"]), 0usize..3), 0..4),
    ) {
        let roles = [arn(PROD, "Admin"), arn(PROD, "ReadOnly"), arn(DEV, "Developer")];
        let build = |spec: &Vec<(&str, usize)>| {
            compiled(spec.iter().enumerate().map(|(i, (g, r))| {
                group_rule(&format!("r{i}"), g, std::slice::from_ref(&roles[*r]))
            }).collect())
        };
        let (current, proposed) = (build(&left), build(&right));
        let c = claims("corp", &groups);
        let (before, after) = (current.evaluate(&c), proposed.evaluate(&c));
        let change = compare(&before, &after, &c);
        let mut arns: std::collections::BTreeSet<String> =
            before.grants.iter().map(|g| g.role_arn.clone()).collect();
        for g in &change.removed { prop_assert!(arns.remove(&g.role_arn)); }
        for g in &change.added { prop_assert!(arns.insert(g.role_arn.clone())); }
        let expected: std::collections::BTreeSet<String> =
            after.grants.iter().map(|g| g.role_arn.clone()).collect();
        prop_assert_eq!(arns, expected);
        let back = compare(&after, &before, &c);
        prop_assert_eq!(back.added, change.removed);
        prop_assert_eq!(back.removed, change.added);
    }
}
