//! ACS hot path: (a) verifying a realistic signed SAML Response, (b) evaluating ~200 mapping rules
//! for a user with ~20 groups. Run with `cargo bench --bench acs` (add `-- --quick` for a short
//! run); each benchmark reports elements per second, i.e. sign-ins per second on one core.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

#[path = "../tests/api/forge/idp.rs"]
mod forge;

use chrono::Duration;
use criterion::{Criterion, Throughput, black_box, criterion_group, criterion_main};
use forge::{Forge, ForgeKey, Sign, Signer, SpTarget};
use roleport::clock::Clock;
use roleport::protocol::mapping::{Claims, CompiledRules, parse_document};
use roleport::protocol::saml::guard::Limits;
use roleport::protocol::saml::{IdpTrust, Solicitation, SpContext, verify_response};
use samael::crypto::CertificateDer;
use std::collections::BTreeMap;

const IDP: &str = "https://idp.bench.test/metadata";

fn verify(c: &mut Criterion) {
    let key = ForgeKey::generate("idp.bench.test");
    let sp = SpTarget {
        entity_id: "https://roleport.bench.test/saml/metadata".into(),
        acs_url: "https://roleport.bench.test/saml/acs".into(),
    };
    let now = Clock::system().now();
    let request_id = forge::new_id();
    let mut f = Forge::new(IDP, &sp, now).in_response_to(&request_id);
    f.name_id = "alice.example@corp.example.org".into();
    f.attributes = vec![
        (
            "memberOf".into(),
            (1..=6)
                .map(|i| format!("cn=aws-team-{i},ou=groups,ou=aws,dc=corp,dc=example,dc=org"))
                .collect(),
        ),
        (
            "groups".into(),
            vec![
                "aws-admins".into(),
                "aws-readonly".into(),
                "engineering".into(),
            ],
        ),
        ("mail".into(), vec!["alice.example@corp.example.org".into()]),
        ("uid".into(), vec!["alice".into()]),
        ("displayName".into(), vec!["Alice Example".into()]),
        ("givenName".into(), vec!["Alice".into()]),
        ("sn".into(), vec!["Example".into()]),
        ("department".into(), vec!["Platform Engineering".into()]),
        ("employeeNumber".into(), vec!["0042137".into()]),
        ("costCenter".into(), vec!["CC-4711".into()]),
    ];
    let xml = f.build(Sign::Both, &Signer::new(&key));
    eprintln!(
        "verify_response input: {} bytes, 2 signatures, 10 attributes",
        xml.len()
    );

    let trust = IdpTrust {
        entity_id: IDP.into(),
        certificates: vec![CertificateDer::from(key.cert.to_der().expect("DER"))],
    };
    let ctx = SpContext {
        entity_id: &sp.entity_id,
        acs_url: &sp.acs_url,
        decryption_key: None,
        skew: Duration::seconds(90),
        max_assertion_age: Duration::seconds(600),
        max_assertion_lifetime: Duration::seconds(86_400),
        limits: Limits::default(),
    };
    let solicitation = Solicitation::Solicited { request_id };
    let verified =
        verify_response(&xml, &trust, &ctx, &solicitation, now).expect("the bench input verifies");
    assert_eq!(verified.attributes.len(), 10);

    let mut group = c.benchmark_group("acs");
    group.throughput(Throughput::Elements(1));
    group.bench_function("verify_response (6 KB, response+assertion signed)", |b| {
        b.iter(|| {
            verify_response(black_box(&xml), &trust, &ctx, &solicitation, black_box(now))
                .expect("verifies")
        })
    });
    group.finish();
}

/// ~200 rules over 8 accounts: a quarter each exact, glob, regex and LDAP DN, plus a few on
/// e-mail domain and subject, and some deny rules.
fn rules_document() -> String {
    let mut doc = String::from("version: 1\naccounts:\n");
    let accounts: Vec<String> = (0..8).map(|i| format!("1000000000{i:02}")).collect();
    for (i, a) in accounts.iter().enumerate() {
        doc.push_str(&format!(
            "  - id: \"{a}\"\n    alias: acct-{i}\n    partition: aws\n"
        ));
    }
    doc.push_str("roles:\n");
    let role_names = ["Admin", "PowerUser", "Developer", "ReadOnly", "Billing"];
    let mut arns = Vec::new();
    for a in &accounts {
        for r in role_names {
            let arn = format!("arn:aws:iam::{a}:role/{r}");
            doc.push_str(&format!("  - arn: {arn}\n    max_session_seconds: 3600\n"));
            arns.push(arn);
        }
    }
    doc.push_str("rules:\n");
    for i in 0..200usize {
        let arn = &arns[(i * 7) % arns.len()];
        let (claim, kind, pattern) = match i % 4 {
            _ if i % 50 == 49 => ("email_domain", "exact", "corp.example.org".to_string()),
            _ if i % 50 == 48 => ("subject", "exact", format!("user-{i}")),
            0 => ("group", "exact", format!("team-{i}")),
            1 => ("group", "glob", format!("aws-{i}-*")),
            2 => ("group", "regex", format!("proj-{i}-(dev|staging|prod)")),
            _ => (
                "group",
                "ldap_dn",
                format!("cn=aws-team-{i},ou=groups,ou=aws,dc=corp,dc=example,dc=org"),
            ),
        };
        let effect = if i % 40 == 17 { "deny" } else { "allow" };
        doc.push_str(&format!(
            "  - id: rule-{i:03}\n    claim: {claim}\n    match: {kind}\n    pattern: \"{pattern}\"\n    roles: [{arn}]\n    effect: {effect}\n"
        ));
    }
    doc
}

fn evaluate(c: &mut Criterion) {
    let set = parse_document(&rules_document()).unwrap_or_else(|e| panic!("bench rules: {e:?}"));
    let rule_count = set.rules.len();
    let rules = CompiledRules::compile(set).unwrap_or_else(|e| panic!("compile: {e:?}"));
    // 20 groups: some match (exact, glob, regex, DN), most do not.
    let mut groups: Vec<String> = vec![
        "team-0".into(),
        "team-40".into(),
        "aws-1-admins".into(),
        "aws-101-readers".into(),
        "proj-2-prod".into(),
        "proj-6-dev".into(),
        "CN=AWS-Team-3,OU=Groups,OU=AWS,DC=corp,DC=example,DC=org".into(),
        "cn=aws-team-7, ou=groups, ou=aws, dc=corp, dc=example, dc=org".into(),
    ];
    groups.extend((0..12).map(|i| format!("cn=unrelated-{i},ou=groups,dc=corp,dc=example,dc=org")));
    let claims = Claims {
        idp: "corp".into(),
        subject: "alice".into(),
        email: Some("alice@corp.example.org".into()),
        email_verified: true,
        groups,
        attributes: BTreeMap::new(),
    };
    let decision = rules.evaluate(&claims);
    eprintln!(
        "evaluate input: {rule_count} rules, {} groups -> {} grants",
        claims.groups.len(),
        decision.grants.len()
    );
    assert!(!decision.grants.is_empty());

    let mut group = c.benchmark_group("mapping");
    group.throughput(Throughput::Elements(1));
    group.bench_function("evaluate (200 rules, 20 groups)", |b| {
        b.iter(|| rules.evaluate(black_box(&claims)))
    });
    group.finish();
}

criterion_group!(benches, verify, evaluate);
criterion_main!(benches);
