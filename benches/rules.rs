//! Rules evaluation: 200 rules (DN, CN, exact, AD group, glob and regex matches over 50 accounts)
//! against a person with 20 and with 100 groups (an ordinary AD FS user), and 500 rules against
//! 100 groups, to see how the cost grows. Target: ≤ 10 µs for 200 rules × 20 groups on one core.
//! Run with `cargo bench --bench rules` (`-- --quick` for a short run).
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use criterion::{BenchmarkId, Criterion, black_box, criterion_group, criterion_main};
use roleport::protocol::mapping::{Claims, CompiledRules, parse_document};
use std::collections::BTreeMap;
use std::fmt::Write as _;

const ROLES: [&str; 4] = ["Admin", "Developer", "ReadOnly", "OnCall"];

/// `rules` rules over `rules / 4` accounts; rule `i`'s pattern names team `i` in one of six
/// match kinds, so a person in team `t` matches the rules of `t` whatever their kind.
fn rules_document(rules: usize) -> String {
    let accounts = rules / ROLES.len();
    let mut doc = String::from("version: 1\naccounts:\n");
    for a in 0..accounts {
        writeln!(
            doc,
            "  - id: \"{:012}\"\n    alias: team-{a:03}\n    partition: aws",
            100_000_000_000usize + a
        )
        .unwrap();
    }
    doc.push_str("roles:\n");
    for a in 0..accounts {
        for role in ROLES {
            writeln!(
                doc,
                "  - arn: arn:aws:iam::{:012}:role/{role}",
                100_000_000_000usize + a
            )
            .unwrap();
        }
    }
    doc.push_str("rules:\n");
    for i in 0..rules {
        let account = 100_000_000_000usize + i / ROLES.len();
        let role = ROLES[i % ROLES.len()];
        let (kind, pattern, extra) = match i % 10 {
            0..=4 => (
                "ldap_dn",
                format!("\"cn=team-{i},ou=groups,dc=example,dc=org\""),
                "",
            ),
            5 => ("ldap_dn", format!("team-{i}"), ""),
            6 => ("exact", format!("team-{i}"), ""),
            7 => ("ad_group", format!("Team-{i}"), "\n    domains: [EXAMPLE]"),
            8 => ("glob", format!("\"team-{i}-*\""), ""),
            _ => ("regex", format!("\"team-{i}-(dev|ops)\""), ""),
        };
        writeln!(
            doc,
            "  - id: rule-{i:04}\n    idp: corp\n    claim: group\n    match: {kind}\n    pattern: {pattern}{extra}\n    roles: [\"arn:aws:iam::{account:012}:role/{role}\"]"
        )
        .unwrap();
    }
    doc
}

/// `groups` values in the forms each match kind reads, spread over teams `0, step, 2·step, …`.
fn claims(groups: usize, step: usize) -> Claims {
    let values = (0..groups)
        .map(|g| {
            let t = g * step;
            match g % 5 {
                0 | 1 => format!("CN=Team-{t},OU=Groups,DC=example,DC=org"),
                2 => format!("team-{t}"),
                3 => format!("EXAMPLE\\TEAM-{t}"),
                _ => format!("team-{t}-ops"),
            }
        })
        .collect();
    Claims {
        idp: "corp".into(),
        subject: "alice".into(),
        email: Some("alice@example.org".into()),
        email_verified: true,
        groups: values,
        attributes: BTreeMap::new(),
    }
}

fn compile(rules: usize) -> CompiledRules {
    let set =
        parse_document(&rules_document(rules)).unwrap_or_else(|e| panic!("bench rules: {e:?}"));
    CompiledRules::compile(set).unwrap_or_else(|e| panic!("compile: {e:?}"))
}

fn evaluate(c: &mut Criterion) {
    let mut group = c.benchmark_group("rules_evaluate");
    for (rules, groups) in [(200, 20), (200, 100), (500, 100)] {
        let compiled = compile(rules);
        let claims = claims(groups, 7);
        let decision = compiled.evaluate(&claims);
        assert!(
            !decision.grants.is_empty(),
            "the bench person must hold some grants"
        );
        group.bench_with_input(
            BenchmarkId::from_parameter(format!("{rules}_rules_x_{groups}_groups")),
            &claims,
            |b, claims| b.iter(|| black_box(compiled.evaluate(black_box(claims)))),
        );
        group.bench_with_input(
            BenchmarkId::from_parameter(format!("{rules}_rules_x_{groups}_groups_rule_by_rule")),
            &claims,
            |b, claims| b.iter(|| black_box(compiled.evaluate_rule_by_rule(black_box(claims)))),
        );
    }
    group.finish();
}

criterion_group!(benches, evaluate);
criterion_main!(benches);
