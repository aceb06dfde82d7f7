//! The role picker's server time for 500 grants (50 accounts × 10 roles, with metadata, 5
//! favourites, 5 recently used): (a) evaluating the rules, (b) /roles: evaluation, page model
//! and HTML rendering, (c) /api/v1/roles: evaluation and JSON. Target: each ≤ 1 ms on one core.
//! Run with `cargo bench --bench picker` (`-- --quick` for a short run). No database or HTTP:
//! what is measured is the work of the handlers between the session lookup and the response.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

#[path = "../tests/api/picker_rules.rs"]
mod picker_rules;

use criterion::{Criterion, Throughput, black_box, criterion_group, criterion_main};
use roleport::http::picker::{PickerInput, grants_json, render_roles_page, roles_page};
use roleport::http::views::SessionEnds;
use roleport::protocol::mapping::{Claims, CompiledRules, parse_document};
use std::collections::BTreeMap;

fn picker(c: &mut Criterion) {
    let set = parse_document(&picker_rules::many_grants_rules(50, 10))
        .unwrap_or_else(|e| panic!("bench rules: {e:?}"));
    let rules = CompiledRules::compile(set).unwrap_or_else(|e| panic!("compile: {e:?}"));
    let claims = Claims {
        idp: "demo-saml".into(),
        subject: "alice".into(),
        email: Some("alice@example.org".into()),
        email_verified: true,
        groups: vec![
            "cn=aws-admins,ou=groups,dc=example,dc=org".into(),
            "cn=aws-readonly,ou=groups,dc=example,dc=org".into(),
        ],
        attributes: BTreeMap::new(),
    };
    let decision = rules.evaluate(&claims);
    assert_eq!(decision.grants.len(), 500);
    let favourites: Vec<String> = decision
        .grants
        .iter()
        .step_by(97)
        .map(|g| g.id.clone())
        .collect();
    let recent: Vec<String> = decision
        .grants
        .iter()
        .step_by(89)
        .take(5)
        .map(|g| g.id.clone())
        .collect();
    let accounts = &rules.rule_set().accounts;
    let input = || PickerInput {
        person: "Alice Example".into(),
        idp: "demo-saml".into(),
        csrf_token: "0123456789abcdef0123456789abcdef".into(),
        accounts,
        favourites: &favourites,
        recent: &recent,
        query: "",
        can_decode: false,
        can_admin: false,
        public_url: "https://roleport.example.com",
        session_ends: SessionEnds::at(chrono::DateTime::UNIX_EPOCH),
    };
    let html = render_roles_page(&roles_page(&decision, input())).unwrap();
    let json = grants_json(&decision, accounts, &favourites).unwrap();
    eprintln!(
        "500 grants: /roles {} KB of HTML ({} B per grant), /api/v1/roles {} KB of JSON",
        html.len() / 1024,
        html.len() / 500,
        json.len() / 1024
    );

    let mut group = c.benchmark_group("picker_500_grants");
    group.throughput(Throughput::Elements(1));
    group.bench_function("evaluate", |b| {
        b.iter(|| black_box(rules.evaluate(black_box(&claims))))
    });
    group.bench_function("roles_page", |b| {
        b.iter(|| {
            let decision = rules.evaluate(black_box(&claims));
            black_box(render_roles_page(&roles_page(&decision, input())).unwrap())
        })
    });
    group.bench_function("roles_api", |b| {
        b.iter(|| {
            let decision = rules.evaluate(black_box(&claims));
            black_box(grants_json(&decision, accounts, &favourites).unwrap())
        })
    });
    group.finish();
}

criterion_group!(benches, picker);
criterion_main!(benches);
