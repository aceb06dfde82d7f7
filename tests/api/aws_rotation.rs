//! The AWS signing key rotation end to end on the emulator: generate → trust (pushed to every
//! account's IAM SAML provider and read back) → switch after the overlap → retire, with real
//! sign-ins (AssumeRoleWithSAML on moto) before, during and after. moto checks no signature, so
//! each Response that went to STS is checked with xmlsec1 against the certificates the account's
//! IAM provider holds at that moment, as AWS would: Roleport must never sign with a key that IAM
//! does not hold. Steps are run with the app's clock, moved forward instead of waited for.

use crate::aws_harness::*;
use crate::aws_keys::{Signed, published_certificates, without_key_info, xmlsec_verify};
use crate::aws_modes::{Call, Gate};
use crate::aws_register::{account_id, app_for, survey};
use crate::helpers::*;
use base64::Engine;
use roleport::aws::rotation::{Rotation, StepReport};
use roleport::configuration::{AwsSettings, RotationSettings};
use sqlx::{Connection, PgConnection};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

const OVERLAP: i64 = 3600;
const RETIRE: i64 = 3600;

fn rotation_settings() -> RotationSettings {
    RotationSettings {
        enabled: true,
        rotate_after_days: 30,
        overlap_seconds: OVERLAP as u64,
        retire_after_seconds: RETIRE as u64,
        // The test runs every step itself.
        check_interval_seconds: 0,
        refresh_seconds: 1,
    }
}

/// alice's Admin role in moto's account (the only one whose credentials moto resolves), behind
/// this test's own IAM SAML provider name; and a second account with only a SAML provider.
fn rules(provider: &str, other: &str) -> String {
    format!(
        r#"
version: 1
accounts:
  - id: "123456789012"
    alias: demo-prod
    partition: aws
  - id: "{other}"
    alias: other
    partition: aws
roles:
  - arn: arn:aws:iam::123456789012:role/Admin
    display_name: Administrator
    max_session_seconds: 3600
    access:
      saml_provider: {provider}
  - arn: arn:aws:iam::{other}:role/Admin
    display_name: Other admin
    max_session_seconds: 3600
rules:
  - id: admins
    idp: demo-saml
    claim: group
    match: ldap_dn
    pattern: aws-admins
    roles: [arn:aws:iam::123456789012:role/Admin]
"#
    )
}

struct Rig {
    app: TestApp,
    aws: AwsSettings,
    provider: String,
    other: String,
    /// Every STS/IAM call that went through the recorder.
    calls: Arc<std::sync::Mutex<Vec<Call>>>,
}

async fn rig(gate: Option<Gate>) -> Rig {
    rig_with(gate, rotation_settings()).await
}

async fn rig_with(gate: Option<Gate>, rotation: RotationSettings) -> Rig {
    let tag = &uuid::Uuid::new_v4().simple().to_string()[..10];
    let provider = format!("roleport-rot-{tag}");
    let other = account_id();
    let calls: Arc<std::sync::Mutex<Vec<Call>>> = Arc::default();
    let seen = calls.clone();
    let recorder: Gate = Arc::new(move |c: &Call| {
        seen.lock().unwrap().push(c.clone());
        gate.as_ref().and_then(|g| g(c))
    });
    // One deployment, whatever replica: one entity id.
    let (app, aws) = app_for(&rules(&provider, &other), Some(recorder), |a| {
        a.rotation = rotation;
        a.idp_entity_id = Some(format!(
            "https://{provider}.example.com/aws/saml-metadata.xml"
        ));
    })
    .await;
    app.sign_in("alice").await;
    Rig {
        app,
        aws,
        provider,
        other,
        calls,
    }
}

impl Rig {
    fn rotation(&self) -> Rotation<'_> {
        Rotation {
            pool: &self.app.pool,
            aws: &self.app.state.aws,
            sealing: &self.app.state.sealing,
            settings: &self.aws,
            public_url: &self.app.address,
        }
    }

    async fn step(&self) -> StepReport {
        self.rotation()
            .step(self.app.clock.now(), false, "test")
            .await
            .unwrap()
    }

    /// The certificates (base64 DER) the account's IAM SAML provider holds now, read with the
    /// registration role like `status` does.
    async fn iam_certificates(&self, account: &str, name: &str) -> Vec<String> {
        let reach = roleport::aws::registration::Reach {
            aws: &self.app.state.aws,
            settings: &self.aws.registration,
            now: self.app.clock.now(),
            timeout: std::time::Duration::from_secs(10),
        };
        let iam = roleport::aws::registration::open_account(
            &reach,
            roleport::protocol::mapping::Partition::Aws,
            account,
        )
        .await
        .unwrap();
        let arn = format!("arn:aws:iam::{account}:saml-provider/{name}");
        let doc = iam.saml_metadata(&arn).await.unwrap().unwrap();
        regex::Regex::new(r"<ds:X509Certificate>([^<]+)</ds:X509Certificate>")
            .unwrap()
            .captures_iter(&doc)
            .map(|c| c[1].to_string())
            .collect()
    }

    /// With alice's session (signed in once, before the clock moves: an IdP assertion is only
    /// good near its issue time), gets Admin credentials (AssumeRoleWithSAML on moto, checked with
    /// GetCallerIdentity) and returns the certificate, among those IAM holds for the role's
    /// provider now, that verifies both signatures of the Response sent. Fails if none does.
    async fn sign_in_and_check(&self) -> String {
        let app = &self.app;
        let before = self.calls.lock().unwrap().len();
        let resp = app.request_credentials("123456789012-Admin", None).await;
        assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
        let body: serde_json::Value = resp.json().await.unwrap();
        let s = |k: &str| body[k].as_str().unwrap().to_string();
        assert_eq!(
            caller_arn(&s("AccessKeyId"), &s("SecretAccessKey"), &s("SessionToken")).await,
            "arn:aws:sts::123456789012:assumed-role/Admin/alice@example.org@demo-saml"
        );
        let call = self.calls.lock().unwrap()[before..]
            .iter()
            .rev()
            .find(|c| c.params.get("Action").map(String::as_str) == Some("AssumeRoleWithSAML"))
            .cloned()
            .expect("an AssumeRoleWithSAML call");
        let xml = String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(&call.params["SAMLAssertion"])
                .unwrap(),
        )
        .unwrap();
        let trusted = self.iam_certificates("123456789012", &self.provider).await;
        let signer = trusted.iter().find(|c| {
            let pem = pem_of(c);
            [Signed::Response, Signed::Assertion]
                .iter()
                .all(|w| xmlsec_verify(&without_key_info(&xml, *w), *w, &pem).is_ok())
        });
        signer
            .unwrap_or_else(|| {
                panic!(
                    "the Response is signed by no key IAM holds ({} held)",
                    trusted.len()
                )
            })
            .clone()
    }

    async fn jwks_kids(&self) -> Vec<String> {
        let doc: serde_json::Value = self.app.get("/oidc/jwks.json").await.json().await.unwrap();
        doc["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_string())
            .collect()
    }

    fn advance(&self, seconds: i64) {
        self.app.clock.advance(chrono::Duration::seconds(seconds));
    }

    async fn rotation_rows(&self) -> Vec<serde_json::Value> {
        self.app
            .audit_events()
            .await
            .into_iter()
            .filter(|e| e["kind"] == "aws_key_rotation")
            .collect()
    }
}

fn pem_of(b64: &str) -> String {
    let body: Vec<String> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| String::from_utf8(c.to_vec()).unwrap())
        .collect();
    format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        body.join("\n")
    )
}

fn done(report: &StepReport, step: &str) -> String {
    match report {
        StepReport::Done { step: s, key, .. } if *s == step => key.clone(),
        other => panic!("expected {step} done, got {other:?}"),
    }
}

#[tokio::test]
async fn a_full_rotation_keeps_sign_ins_working_and_ends_with_only_the_new_key() {
    let rig = rig(None).await;
    assert!(
        survey(&rig.app, &rig.aws, true)
            .await
            .iter()
            .all(|l| l.is_ok())
    );
    let file_cert = published_certificates(&rig.app).await;
    assert_eq!(file_cert.len(), 1);
    let file_kids = rig.jwks_kids().await;
    assert_eq!(rig.sign_in_and_check().await, file_cert[0]);

    // Generate: published at once (metadata and JWKS), signs nothing yet.
    let new_key = done(&rig.step().await, "generate");
    let published = published_certificates(&rig.app).await;
    assert_eq!(published.len(), 2);
    assert_eq!(published[0], file_cert[0], "the file key still signs");
    let new_cert = published[1].clone();
    let kids = rig.jwks_kids().await;
    assert_eq!(kids.len(), 2, "the next key is in the JWKS before it signs");
    assert_eq!(kids[0], file_kids[0]);
    assert_eq!(rig.sign_in_and_check().await, file_cert[0]);
    // IAM does not hold it yet: status says so.
    let stale = survey(&rig.app, &rig.aws, false).await;
    assert!(stale.iter().all(|l| l.label() == "stale"), "{stale:?}");

    // Trust: pushed to both accounts and read back.
    assert_eq!(done(&rig.step().await, "trust"), new_key);
    for (account, name) in [
        ("123456789012", rig.provider.as_str()),
        (rig.other.as_str(), "roleport"),
    ] {
        let mut held = rig.iam_certificates(account, name).await;
        held.sort();
        let mut want = vec![file_cert[0].clone(), new_cert.clone()];
        want.sort();
        assert_eq!(held, want, "{account}");
    }
    assert!(
        survey(&rig.app, &rig.aws, false)
            .await
            .iter()
            .all(|l| l.is_ok())
    );
    // Not yet: the overlap has not passed.
    assert!(matches!(rig.step().await, StepReport::Waiting { .. }));
    assert_eq!(rig.sign_in_and_check().await, file_cert[0]);

    // Switch: the new key signs, the old one stays published while it retires.
    rig.advance(OVERLAP);
    assert_eq!(done(&rig.step().await, "switch"), new_key);
    assert_eq!(
        published_certificates(&rig.app).await,
        [new_cert.clone(), file_cert[0].clone()]
    );
    assert_eq!(rig.sign_in_and_check().await, new_cert, "the new key signs");
    assert!(matches!(rig.step().await, StepReport::Waiting { .. }));

    // Retire: gone from metadata, JWKS and every account's IAM.
    rig.advance(RETIRE);
    assert_eq!(
        done(&rig.step().await, "untrust"),
        rig.app.state.aws.file_keys[0].id
    );
    assert_eq!(
        published_certificates(&rig.app).await,
        vec![new_cert.clone()]
    );
    let kids = rig.jwks_kids().await;
    assert_eq!(kids.len(), 1);
    assert!(!kids.contains(&file_kids[0]));
    for (account, name) in [
        ("123456789012", rig.provider.as_str()),
        (rig.other.as_str(), "roleport"),
    ] {
        assert_eq!(
            rig.iam_certificates(account, name).await,
            vec![new_cert.clone()],
            "{account}"
        );
    }
    assert_eq!(rig.sign_in_and_check().await, new_cert);
    assert!(
        survey(&rig.app, &rig.aws, false)
            .await
            .iter()
            .all(|l| l.is_ok())
    );

    // Every step has its audit row, in order.
    let rows = rig.rotation_rows().await;
    let steps: Vec<&str> = rows
        .iter()
        .map(|r| r["details"]["step"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["generate", "trust", "switch", "untrust"]);
    assert!(rows.iter().all(|r| r["outcome"] == "accepted"));
    // The private key is only sealed in Postgres, and the retired file key has no material.
    let (state, sealed): (String, Vec<u8>) =
        sqlx::query_as("SELECT state, sealed_private_key FROM aws_signing_keys WHERE id = $1")
            .bind(&new_key)
            .fetch_one(&rig.app.pool)
            .await
            .unwrap();
    assert_eq!(state, "current");
    assert!(!sealed.windows(10).any(|w| w == b"PRIVATE KE"));
    let lines = roleport::aws::rotation::describe(
        &rig.app.pool,
        &rig.app.state.aws,
        &rig.aws.rotation,
        rig.app.clock.now(),
    )
    .await
    .unwrap();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(&format!("{new_key}\tcurrent\tyes"))),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|l| l.contains("retired (file)\tno")),
        "{lines:?}"
    );
}

#[tokio::test]
async fn an_interrupted_rotation_resumes_and_never_signs_with_an_untrusted_key() {
    // UpdateSAMLProvider fails for the second account while `broken` is set.
    let broken = Arc::new(AtomicBool::new(true));
    let other_prefix = Arc::new(std::sync::Mutex::new(String::new()));
    let (b, p) = (broken.clone(), other_prefix.clone());
    let gate: Gate = Arc::new(move |c: &Call| {
        let prefix = p.lock().unwrap().clone();
        (b.load(Ordering::SeqCst)
            && c.params.get("Action").map(String::as_str) == Some("UpdateSAMLProvider")
            && !prefix.is_empty()
            && c.params
                .get("SAMLProviderArn")
                .is_some_and(|a| a.starts_with(&prefix)))
        .then(|| sts_error(500, "ServiceFailure", "IAM is having a bad day"))
    });
    let rig = rig(Some(gate)).await;
    *other_prefix.lock().unwrap() = format!("arn:aws:iam::{}:", rig.other);
    assert!(
        survey(&rig.app, &rig.aws, true)
            .await
            .iter()
            .all(|l| l.is_ok())
    );
    let file_cert = published_certificates(&rig.app).await[0].clone();
    assert_eq!(rig.sign_in_and_check().await, file_cert);

    let new_key = done(&rig.step().await, "generate");
    // The push fails for one account: nothing is committed, the key is not trusted.
    let StepReport::Failed { step, key, why } = rig.step().await else {
        panic!("the trust step did not fail")
    };
    assert_eq!((step, key.as_str()), ("trust", new_key.as_str()));
    assert_eq!(why.len(), 1, "{why:?}");
    assert!(
        why[0].starts_with(&format!("{}/roleport: UpdateSAMLProvider", rig.other)),
        "{why:?}"
    );
    // Long past the overlap, the key that an account does not hold still never signs (two
    // overlaps: the browser session of this test lives 8 hours on the moved clock).
    rig.advance(OVERLAP * 2);
    assert!(matches!(
        rig.step().await,
        StepReport::Failed { step: "trust", .. }
    ));
    assert_eq!(rig.sign_in_and_check().await, file_cert);
    let failed = rig.rotation_rows().await;
    assert_eq!(
        failed.iter().filter(|r| r["outcome"] == "rejected").count(),
        2
    );
    assert!(
        failed[1]["reason"]
            .as_str()
            .unwrap()
            .starts_with("aws_key_rotation_trust_failed")
    );

    // IAM recovers; the next run trusts.
    broken.store(false, Ordering::SeqCst);
    assert_eq!(done(&rig.step().await, "trust"), new_key);

    // The process dies here, before the switch. Another replica (fresh process, same database)
    // picks up from the committed state.
    let replica = spawn_app_with(Options {
        aws: Some(rig.aws.clone()),
        database: Some(rig.app.db_name.clone()),
        ..Options::default()
    })
    .await;
    replica
        .clock
        .advance(chrono::Duration::seconds(OVERLAP * 10));
    // Someone put the old document back in one account: the switch confirms first, and refuses.
    let reach = roleport::aws::registration::Reach {
        aws: &rig.app.state.aws,
        settings: &rig.aws.registration,
        now: rig.app.clock.now(),
        timeout: std::time::Duration::from_secs(10),
    };
    let iam = roleport::aws::registration::open_account(
        &reach,
        roleport::protocol::mapping::Partition::Aws,
        &rig.other,
    )
    .await
    .unwrap();
    let other_arn = format!("arn:aws:iam::{}:saml-provider/roleport", rig.other);
    let old_doc = roleport::protocol::aws::idp_metadata(
        &rig.app.state.aws.idp_entity_id,
        &[base64::engine::general_purpose::STANDARD
            .decode(&file_cert)
            .unwrap()],
        &format!("{}/login", rig.app.address),
    );
    iam.update_saml(&other_arn, &old_doc).await.unwrap();
    let replica_rotation = Rotation {
        pool: &replica.pool,
        aws: &replica.state.aws,
        sealing: &replica.state.sealing,
        settings: &rig.aws,
        public_url: &rig.app.address,
    };
    let StepReport::Failed { step, why, .. } = replica_rotation
        .step(replica.clock.now(), false, "test")
        .await
        .unwrap()
    else {
        panic!("the switch went ahead though an account lacks the key")
    };
    assert_eq!(step, "switch");
    assert_eq!(why.len(), 1, "{why:?}");
    assert!(
        why[0].starts_with(&format!("{}/roleport: lacks Roleport's key", rig.other)),
        "{why:?}"
    );
    assert_eq!(rig.sign_in_and_check().await, file_cert);

    // Put right (register), then the replica switches; the first process follows at its next
    // refresh of the keys from Postgres.
    assert!(
        survey(&rig.app, &rig.aws, true)
            .await
            .iter()
            .all(|l| l.is_ok())
    );
    assert_eq!(
        done(
            &replica_rotation
                .step(replica.clock.now(), false, "test")
                .await
                .unwrap(),
            "switch"
        ),
        new_key
    );
    rig.rotation().refresh().await.unwrap();
    let new_cert = published_certificates(&rig.app).await[0].clone();
    assert_ne!(new_cert, file_cert);
    assert_eq!(rig.sign_in_and_check().await, new_cert);

    // Two replicas never run a step at once: while one holds the lock the other is Busy.
    let mut tx = rig.app.pool.begin().await.unwrap();
    assert!(roleport::db::aws_keys::try_lock(&mut tx).await.unwrap());
    assert_eq!(
        replica_rotation
            .step(replica.clock.now(), true, "test")
            .await
            .unwrap(),
        StepReport::Busy
    );
    drop(tx);
}

#[tokio::test]
async fn a_step_failing_half_way_commits_nothing_and_frees_the_lock_at_once() {
    let rig = rig(None).await;
    // The database refuses the generated key's row: the step fails after taking the lock.
    sqlx::query(
        "ALTER TABLE aws_signing_keys ADD CONSTRAINT test_refuses_next CHECK (state <> 'next')",
    )
    .execute(&rig.app.pool)
    .await
    .unwrap();
    let err = rig
        .rotation()
        .step(rig.app.clock.now(), false, "test")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("test_refuses_next"), "{err}");
    // On a connection of its own (never one the pool hands back), the lock is free right away:
    // the failed step ended its transaction instead of leaving it to the pool.
    let mut other = PgConnection::connect_with(&rig.app.pool.connect_options())
        .await
        .unwrap();
    let mut tx = other.begin().await.unwrap();
    assert!(roleport::db::aws_keys::try_lock(&mut tx).await.unwrap());
    tx.rollback().await.unwrap();
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM aws_signing_keys")
        .fetch_one(&rig.app.pool)
        .await
        .unwrap();
    assert_eq!(rows, 0, "nothing committed");

    sqlx::query("ALTER TABLE aws_signing_keys DROP CONSTRAINT test_refuses_next")
        .execute(&rig.app.pool)
        .await
        .unwrap();
    done(&rig.step().await, "generate");
    let rows = rig.rotation_rows().await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0]["outcome"], "rejected");
    assert!(
        rows[0]["reason"]
            .as_str()
            .unwrap()
            .starts_with("aws_key_rotation_step_failed: database"),
        "{rows:?}"
    );
}

/// Waits (a bounded number of polls, not a timing check) until the stored keys satisfy `done`.
async fn until_keys(rig: &Rig, what: &str, done: impl Fn(&[(String, String)]) -> bool) {
    let mut seen = Vec::new();
    for _ in 0..300 {
        seen = sqlx::query_as::<_, (String, String)>(
            "SELECT id, state || CASE WHEN state = 'next' AND trusted_at IS NOT NULL
                 THEN ' trusted' ELSE '' END
             FROM aws_signing_keys ORDER BY created_at, id",
        )
        .fetch_all(&rig.app.pool)
        .await
        .unwrap();
        if done(&seen) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    panic!("the scheduled rotation never reached {what}: {seen:?}");
}

#[tokio::test]
async fn the_serve_loop_rotates_on_its_own_schedule() {
    let rig = rig_with(
        None,
        RotationSettings {
            check_interval_seconds: 1,
            ..rotation_settings()
        },
    )
    .await;
    let file_cert = published_certificates(&rig.app).await[0].clone();
    // Until the accounts are registered, the loop's trust step fails and is retried.
    assert!(
        survey(&rig.app, &rig.aws, true)
            .await
            .iter()
            .all(|l| l.is_ok())
    );
    until_keys(&rig, "a trusted next key", |k| {
        k.len() == 1 && k[0].1 == "next trusted"
    })
    .await;
    assert_eq!(
        rig.sign_in_and_check().await,
        file_cert,
        "not before the overlap"
    );

    rig.advance(OVERLAP);
    until_keys(&rig, "the switch", |k| {
        k.iter().any(|(_, s)| s == "current") && k.iter().any(|(_, s)| s == "retiring")
    })
    .await;
    // The loop re-read the keys after its step: this replica signs with the new key.
    let new_cert = published_certificates(&rig.app).await[0].clone();
    assert_ne!(new_cert, file_cert);
    assert_eq!(rig.sign_in_and_check().await, new_cert);

    rig.advance(RETIRE);
    until_keys(&rig, "the old key's retirement", |k| {
        k.iter().any(|(_, s)| s == "retired")
    })
    .await;
    // The retired key leaves at the loop's next refresh.
    for _ in 0..50 {
        if published_certificates(&rig.app).await == [new_cert.clone()] {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(published_certificates(&rig.app).await, [new_cert]);
    let rows = rig.rotation_rows().await;
    let steps: Vec<&str> = rows
        .iter()
        .filter(|r| r["outcome"] == "accepted")
        .map(|r| r["details"]["step"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        ["generate", "trust", "switch", "untrust"],
        "{rows:?}"
    );
    assert!(
        rows.iter().all(|r| r["details"]["via"] == "schedule"),
        "{rows:?}"
    );
}
