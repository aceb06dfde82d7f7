//! The sealer's per-row work: the RFC 8785 form of a realistic event and its HMAC link. Appends
//! themselves are plain inserts; this bounds how many rows per second one sealer can link.
//! Run with `cargo bench --bench audit_seal` (add `-- --quick` for a short run).
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use chrono::{TimeZone, Utc};
use criterion::{Criterion, Throughput, black_box, criterion_group, criterion_main};
use roleport::audit::keys::AuditKeys;
use roleport::audit::mac::{GENESIS, RowLink, canonical_event};

fn seal_row(c: &mut Criterion) {
    let keys = AuditKeys::parse("k1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=").unwrap();
    let key = keys.signing();
    // As Postgres prints a credentials-issued row.
    let stored = r#"{"idp": "corp", "kind": "credentials_issued", "groups": ["cn=aws-admins,ou=groups,dc=example,dc=org", "cn=aws-readonly,ou=groups,dc=example,dc=org"], "reason": null, "details": {"mode": "saml_broker", "role": "arn:aws:iam::123456789012:role/Admin", "rule": "admins", "account": "123456789012", "duration": {"seconds": 3600, "decided_by": "requested"}, "session_name": "alice@corp"}, "outcome": "accepted", "subject": "alice@corp", "source_ip": "192.0.2.10", "user_agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36"}"#;
    let at = Utc.timestamp_opt(1_800_000_000, 0).single().unwrap();
    let mut group = c.benchmark_group("audit");
    group.throughput(Throughput::Elements(1));
    group.bench_function("seal_one_row", |b| {
        b.iter(|| {
            let event = canonical_event(black_box(stored));
            key.mac(
                &RowLink {
                    pos: 42,
                    prev: &GENESIS,
                    key_id: key.id(),
                    seq: 42,
                    ref_id: "0123456789AB",
                    at,
                    sealed_at: at,
                    event: &event,
                }
                .material(),
            )
            .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, seal_row);
criterion_main!(benches);
