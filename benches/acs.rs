//! ACS hot path: (a) verifying signed SAML Responses, next to libxmlsec1 in C on the same bytes,
//! (b) evaluating ~200 mapping rules for a user with ~20 groups. Run with
//! `cargo bench --bench acs` (add `-- --quick` for a short run); each criterion benchmark reports
//! elements per second, i.e. sign-ins per second on one core.
//!
//! After criterion, the SAML cases are measured once more in CPU time, alternating with the C
//! reference (benches/xmlsec_ref/, compiled here with gcc and pkg-config) in the same run, and a
//! table of verifications per CPU-second and Roleport's ratio to each reference is printed:
//! libxmlsec1 with the key parsed once (the floor) and with the key loaded from the certificate
//! DER per signature (what samael did), plus samael's `reduce_xml_to_signed` and re-parse, the
//! path Roleport used before (issue 10). Set ROLEPORT_BENCH_REF_SECONDS to change the time per
//! measurement (default 1), or to 0 to skip the table.
//!
//! For instruction counts (callgrind, repeatable while others use the CPU):
//! `ROLEPORT_BENCH_PROFILE=<case 0-3>:<iterations>` skips criterion and only verifies that case
//! that many times, e.g. `valgrind --tool=callgrind --collect-atstart=no
//! --toggle-collect='roleport::protocol::saml::verify::verify_response*' target/release/deps/acs-…`;
//! the C reference is measured the same way with `--toggle-collect=verify_document`. Each run
//! also writes every case's document and the certificate to the bench's tmp dir
//! (`acs-bench/profile-<case>.xml`, `profile-idp.der`).
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

#[path = "../tests/api/forge/idp.rs"]
mod forge;

use chrono::{DateTime, Duration, Utc};
use criterion::{Criterion, Throughput, black_box, criterion_group};
use forge::{Forge, ForgeKey, Sign, Signer, SpTarget};
use roleport::clock::Clock;
use roleport::protocol::mapping::{Claims, CompiledRules, parse_document};
use roleport::protocol::saml::guard::Limits;
use roleport::protocol::saml::{IdpTrust, Solicitation, SpContext, verify_response};
use samael::crypto::{
    AllowedSignatureAlgorithm, CertificateDer, Crypto, CryptoProvider, ReduceMode,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::LazyLock;

const IDP: &str = "https://idp.bench.test/metadata";

/// One signed Response to verify.
struct Case {
    name: String,
    xml: String,
    attributes: usize,
}

struct Setup {
    key: ForgeKey,
    sp: SpTarget,
    now: DateTime<Utc>,
    request_id: String,
    cases: Vec<Case>,
}

static SETUP: LazyLock<Setup> = LazyLock::new(|| {
    let key = ForgeKey::generate("idp.bench.test");
    let sp = SpTarget {
        entity_id: "https://roleport.bench.test/saml/metadata".into(),
        acs_url: "https://roleport.bench.test/saml/acs".into(),
    };
    let now = Clock::system().now();
    let request_id = forge::new_id();
    let mut cases = Vec::new();
    // 6 directory groups (the 6.6 KB Response), then 96 (17 KB, an ordinary AD FS user: with
    // the 3 `groups` values and the 1 in `mail`… 100 group-like values).
    for (size, member_of) in [("6.6 KB", 6), ("17 KB", 97)] {
        let f = forge_user(&sp, now, &request_id, member_of);
        for (label, sign) in [
            ("double-signed", Sign::Both),
            ("assertion-only", Sign::Assertion),
        ] {
            let xml = f.build(sign, &Signer::new(&key));
            cases.push(Case {
                name: format!("{size} {label}"),
                attributes: f.attributes.len(),
                xml,
            });
        }
    }
    Setup {
        key,
        sp,
        now,
        request_id,
        cases,
    }
});

fn forge_user(sp: &SpTarget, now: DateTime<Utc>, request_id: &str, member_of: usize) -> Forge {
    let mut f = Forge::new(IDP, sp, now).in_response_to(request_id);
    f.name_id = "alice.example@corp.example.org".into();
    f.attributes = vec![
        (
            "memberOf".into(),
            (1..=member_of)
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
    f
}

fn certificate(setup: &Setup) -> CertificateDer {
    CertificateDer::from(setup.key.cert.to_der().expect("DER"))
}

/// Roleport's verification of one case, as the ACS calls it.
struct Roleport<'a> {
    trust: IdpTrust,
    ctx: SpContext<'a>,
    solicitation: Solicitation,
    now: DateTime<Utc>,
}

impl<'a> Roleport<'a> {
    fn new(setup: &'a Setup) -> Self {
        Self {
            trust: IdpTrust::new(IDP.into(), vec![certificate(setup)]).expect("trust"),
            ctx: SpContext {
                entity_id: &setup.sp.entity_id,
                acs_url: &setup.sp.acs_url,
                decryption_key: None,
                skew: Duration::seconds(90),
                max_assertion_age: Duration::seconds(600),
                max_assertion_lifetime: Duration::seconds(86_400),
                limits: Limits::default(),
            },
            solicitation: Solicitation::Solicited {
                request_id: setup.request_id.clone(),
            },
            now: setup.now,
        }
    }

    fn verify(&self, xml: &str) -> usize {
        verify_response(
            black_box(xml),
            &self.trust,
            &self.ctx,
            &self.solicitation,
            black_box(self.now),
        )
        .expect("verifies")
        .attributes
        .len()
    }
}

const ALLOWED: &[AllowedSignatureAlgorithm] = &[AllowedSignatureAlgorithm::RsaSha256];

/// The replaced path's main cost: samael's reduce (certificate loaded per signature, node
/// matching, re-serialisation) and the second parse of its output.
fn samael_reduce(xml: &str, certs: &[CertificateDer]) -> usize {
    let reduced = Crypto::reduce_xml_to_signed_with_allowed_algorithms(
        black_box(xml),
        certs,
        ReduceMode::ValidateAndMarkNoAncestors,
        Some(ALLOWED),
    )
    .expect("reduces");
    let response: samael::schema::Response = reduced.parse().expect("parses");
    response.assertion.map_or(0, |a| a.id.len())
}

fn verify(c: &mut Criterion) {
    let setup = &*SETUP;
    let roleport = Roleport::new(setup);
    let mut group = c.benchmark_group("acs");
    group.throughput(Throughput::Elements(1));
    for case in &setup.cases {
        eprintln!(
            "{}: {} bytes, {} attributes",
            case.name,
            case.xml.len(),
            case.attributes
        );
        assert_eq!(roleport.verify(&case.xml), case.attributes);
        group.bench_function(format!("verify_response ({})", case.name), |b| {
            b.iter(|| roleport.verify(&case.xml))
        });
    }
    group.finish();
}

// ---------------------------------------------------------------------------------------------
// Side by side with libxmlsec1 in C, in CPU time
// ---------------------------------------------------------------------------------------------

/// CPU time this thread has used, in seconds (the scheduler's own account, in nanoseconds).
fn thread_cpu() -> f64 {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").expect("schedstat");
    let ns: f64 = stat
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .expect("schedstat's first field");
    ns / 1e9
}

/// Calls per CPU-second of `f`, run for about `budget` CPU-seconds.
fn per_cpu_second(budget: f64, mut f: impl FnMut() -> usize) -> f64 {
    let start = thread_cpu();
    let mut n = 0u64;
    loop {
        for _ in 0..20 {
            black_box(f());
        }
        n += 20;
        let spent = thread_cpu() - start;
        if spent >= budget {
            return n as f64 / spent;
        }
    }
}

fn build_reference(dir: &Path) -> PathBuf {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/xmlsec_ref/xmlsec_ref.c");
    let binary = dir.join("xmlsec_ref");
    let flags = Command::new("pkg-config")
        .args(["--cflags", "--libs", "xmlsec1-openssl"])
        .output()
        .expect("pkg-config (libxmlsec1-dev) is needed for the C reference");
    assert!(flags.status.success(), "pkg-config xmlsec1-openssl failed");
    let flags = String::from_utf8(flags.stdout).expect("flags");
    let status = Command::new("gcc")
        .args(["-O2", "-Wall", "-o"])
        .arg(&binary)
        .arg(&source)
        .args(flags.split_whitespace())
        .status()
        .expect("gcc");
    assert!(status.success(), "the C reference does not compile");
    binary
}

fn run_reference(binary: &Path, cert: &Path, mode: &str, budget: f64, doc: &Path) -> f64 {
    let out = Command::new(binary)
        .arg(cert)
        .arg(mode)
        .arg(budget.to_string())
        .arg(doc)
        .output()
        .expect("the C reference runs");
    assert!(
        out.status.success(),
        "the C reference failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .expect("the C reference prints a rate")
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn side_by_side(_: &mut Criterion) {
    let budget: f64 = std::env::var("ROLEPORT_BENCH_REF_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1.0);
    if budget <= 0.0 {
        return;
    }
    let setup = &*SETUP;
    let roleport = Roleport::new(setup);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("acs-bench");
    std::fs::create_dir_all(&dir).expect("bench dir");
    let binary = build_reference(&dir);
    let cert = dir.join("idp.der");
    std::fs::write(&cert, certificate(setup).der_data()).expect("cert");
    let certs = vec![certificate(setup)];

    const ROUNDS: usize = 3;
    println!();
    println!(
        "SAML Response verification, per CPU-second on this machine (median of {ROUNDS} rounds of {budget} s):"
    );
    println!(
        "| case | Roleport | libxmlsec1, key parsed once | ratio | libxmlsec1, key from cert DER per signature | ratio | before: samael reduce + re-parse | speed-up |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for (i, case) in setup.cases.iter().enumerate() {
        let doc = dir.join(format!("case-{i}.xml"));
        std::fs::write(&doc, &case.xml).expect("doc");
        let (mut ours, mut pre, mut der, mut before) = (vec![], vec![], vec![], vec![]);
        for _ in 0..ROUNDS {
            ours.push(per_cpu_second(budget, || roleport.verify(&case.xml)));
            pre.push(run_reference(&binary, &cert, "preparsed", budget, &doc));
            der.push(run_reference(&binary, &cert, "certder", budget, &doc));
            before.push(per_cpu_second(budget / 2.0, || {
                samael_reduce(&case.xml, &certs)
            }));
        }
        let (ours, pre, der, before) = (median(ours), median(pre), median(der), median(before));
        println!(
            "| {} ({} B) | {ours:.0} | {pre:.0} | {:.2} | {der:.0} | {:.2} | {before:.0} | {:.1}× |",
            case.name,
            case.xml.len(),
            ours / pre,
            ours / der,
            ours / before
        );
    }
    println!();
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
            "  - id: rule-{i:03}\n    idp: \"*\"\n    claim: {claim}\n    match: {kind}\n    pattern: \"{pattern}\"\n    roles: [{arn}]\n    effect: {effect}\n"
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

/// `ROLEPORT_BENCH_PROFILE=<case>:<iterations>`: verify one case a fixed number of times.
fn profile(spec: &str) {
    let (case, iterations) = spec
        .split_once(':')
        .and_then(|(c, n)| Some((c.parse::<usize>().ok()?, n.parse::<usize>().ok()?)))
        .expect("ROLEPORT_BENCH_PROFILE=<case>:<iterations>");
    let setup = &*SETUP;
    // The certificate and every case's document (one key signs them all), for the C reference.
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("acs-bench");
    std::fs::create_dir_all(&dir).expect("bench dir");
    std::fs::write(dir.join("profile-idp.der"), certificate(setup).der_data()).expect("cert");
    for (i, c) in setup.cases.iter().enumerate() {
        std::fs::write(dir.join(format!("profile-{i}.xml")), &c.xml).expect("doc");
    }
    let case = &setup.cases[case];
    let roleport = Roleport::new(setup);
    let start = thread_cpu();
    for _ in 0..iterations {
        black_box(roleport.verify(&case.xml));
    }
    let spent = thread_cpu() - start;
    eprintln!(
        "{}: {} bytes, verified {iterations} times in {spent:.3} CPU-s ({:.0}/s); documents and certificate in {}",
        case.name,
        case.xml.len(),
        iterations as f64 / spent.max(1e-9),
        dir.display()
    );
}

criterion_group!(benches, verify, side_by_side, evaluate);

fn main() {
    if let Ok(spec) = std::env::var("ROLEPORT_BENCH_PROFILE") {
        profile(&spec);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
