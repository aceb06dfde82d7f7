//! The audit chain: rows are appended without a lock, sealed into one keyed chain by whichever
//! process holds the sealer lock, and `roleport audit verify` finds every kind of tampering.

use crate::helpers::*;
use roleport::audit::keys::AuditKeys;
use roleport::audit::mac::{GENESIS, RowLink, canonical_event};
use roleport::audit::sealer::Sealer;
use roleport::audit::settings::AuditSettings;
use roleport::audit::verify::{ChainStatus, Expected, VerifyOptions, verify};
use roleport::audit::{AuditEvent, EventKind, Outcome};
use roleport::clock::Clock;
use roleport::db::audit::{append, sealed_page};
use sqlx::{Connection, Executor, PgConnection, PgPool};
use std::process::Output;

fn event(reason: &str) -> AuditEvent {
    let mut e = AuditEvent::new(EventKind::SignIn, Outcome::Rejected);
    e.reason = Some(reason.to_string());
    e.details = serde_json::json!({"zeta": 1, "alpha": {"b": [1, 2.5], "a": "x"}});
    e
}

fn keys(lines: &str) -> AuditKeys {
    AuditKeys::parse(lines).unwrap()
}

fn options(now: chrono::DateTime<chrono::Utc>) -> VerifyOptions {
    VerifyOptions {
        now,
        max_checkpoint_age: Some(chrono::Duration::seconds(900)),
        expect: Vec::new(),
    }
}

/// What `audit verify` does in-process: seal what is committed, then check.
async fn seal_and_verify(app: &TestApp) -> ChainStatus {
    app.state
        .audit
        .seal(&app.pool, &app.clock, true, false)
        .await
        .unwrap();
    verify(&app.pool, app.state.audit.keys(), &options(app.clock.now()))
        .await
        .unwrap()
}

fn intact_rows(status: &ChainStatus) -> i64 {
    match status {
        ChainStatus::Intact { rows, .. } => *rows,
        other => panic!("chain not intact: {other:?}"),
    }
}

/// Runs SQL with every trigger off, as a superuser forcing a change would.
async fn force(db_url: &str, statements: &[&str]) {
    let mut conn = PgConnection::connect(db_url).await.unwrap();
    conn.execute("SET session_replication_role = replica")
        .await
        .unwrap();
    for s in statements {
        conn.execute(*s).await.unwrap();
    }
}

#[tokio::test]
async fn chain_is_intact_after_sign_ins_and_detects_tampering() {
    let app = spawn_app().await;
    app.sign_in("alice").await;
    app.sign_in("bob").await;
    // Junk is counted, not chained.
    app.post_acs("garbage", None).await;
    assert_eq!(crate::refusals::counted(&app, "bad_encoding").await, 1);
    append(&app.pool, "REF", app.clock.now(), event("junk"))
        .await
        .unwrap();
    let rows = intact_rows(&seal_and_verify(&app).await);
    assert!(rows >= 3, "{rows}");
    // The table refuses changes outright, sealed or not…
    let update = sqlx::query(
        "UPDATE audit_events SET event = event || '{\"subject\":\"mallory\"}' WHERE pos = 1",
    )
    .execute(&app.pool)
    .await;
    assert!(update.is_err());
    let reseal = sqlx::query("UPDATE audit_events SET mac = NULL, pos = NULL WHERE pos = 1")
        .execute(&app.pool)
        .await;
    assert!(reseal.is_err());
    // …and if a superuser forces one, the chain shows where.
    sqlx::query("ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update")
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE audit_events SET event = jsonb_set(event, '{subject}', '\"mallory\"') WHERE pos = 2")
        .execute(&app.pool)
        .await
        .unwrap();
    match seal_and_verify(&app).await {
        ChainStatus::Broken { pos, why } => {
            assert_eq!(pos, 2);
            assert!(why.contains("does not match its MAC"), "{why}");
        }
        other => panic!("tampering not detected: {other:?}"),
    }
}

/// Many tasks on two processes sharing one database append at once, while both processes' sealers
/// run. Every row lands in one chain exactly once, and each task's rows, appended one after the
/// other, keep their order.
#[tokio::test]
async fn concurrent_appends_from_two_replicas_are_sealed_into_one_chain_in_order() {
    let a = spawn_app().await;
    let b = spawn_app_with(Options {
        database: Some(a.db_name.clone()),
        ..Options::default()
    })
    .await;
    let before = intact_rows(&seal_and_verify(&a).await);
    const TASKS: usize = 16;
    const EACH: usize = 12;
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let (pool, clock) = if t % 2 == 0 {
            (a.pool.clone(), a.clock.clone())
        } else {
            (b.pool.clone(), b.clock.clone())
        };
        tasks.push(tokio::spawn(async move {
            for i in 0..EACH {
                append(&pool, &format!("T{t:02}-{i:02}"), clock.now(), event("c"))
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    // The processes' own sealers link everything; nothing here seals.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while roleport::db::audit::unsealed_count(&a.pool).await.unwrap() > 0 {
        assert!(std::time::Instant::now() < deadline, "rows stay unsealed");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let status = verify(&b.pool, b.state.audit.keys(), &options(b.clock.now()))
        .await
        .unwrap();
    assert_eq!(intact_rows(&status), before + (TASKS * EACH) as i64);

    let order: Vec<(String, i64)> =
        sqlx::query_as("SELECT ref_id, pos FROM audit_events WHERE ref_id LIKE 'T%' ORDER BY pos")
            .fetch_all(&a.pool)
            .await
            .unwrap();
    assert_eq!(order.len(), TASKS * EACH);
    for t in 0..TASKS {
        let mine: Vec<&str> = order
            .iter()
            .map(|(r, _)| r.as_str())
            .filter(|r| r.starts_with(&format!("T{t:02}-")))
            .collect();
        let expected: Vec<String> = (0..EACH).map(|i| format!("T{t:02}-{i:02}")).collect();
        assert_eq!(mine, expected, "task {t} out of order");
    }
    // A checkpoint came from the processes' own sealers and is part of what verified.
    let checkpoints: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_checkpoints")
        .fetch_one(&a.pool)
        .await
        .unwrap();
    assert!(checkpoints >= 1);
}

/// A row whose number was taken before others but which commits after them is sealed after them,
/// never skipped, and the chain stays intact.
#[tokio::test]
async fn a_row_committed_late_is_sealed_after_the_rows_committed_before_it() {
    let app = spawn_app().await;
    let mut late = app.pool.begin().await.unwrap();
    let late_seq: i64 = sqlx::query_scalar(
        "INSERT INTO audit_events (ref_id, at, event) VALUES ('LATE', now(), '{\"kind\":\"sign_in\"}') RETURNING seq",
    )
    .fetch_one(&mut *late)
    .await
    .unwrap();
    for i in 0..3 {
        append(&app.pool, &format!("EARLY{i}"), app.clock.now(), event("e"))
            .await
            .unwrap();
    }
    let head = intact_rows(&seal_and_verify(&app).await);
    late.commit().await.unwrap();
    assert_eq!(intact_rows(&seal_and_verify(&app).await), head + 1);
    let (seq, pos): (i64, i64) =
        sqlx::query_as("SELECT seq, pos FROM audit_events WHERE ref_id = 'LATE'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(seq, late_seq);
    assert_eq!(pos, head + 1);
    let max_early_seq: i64 =
        sqlx::query_scalar("SELECT max(seq) FROM audit_events WHERE ref_id LIKE 'EARLY%'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(late_seq < max_early_seq);
}

// --- `roleport audit verify`, the binary, against tampered databases -----------------------

/// A fresh database, a sealer of its own (no background process) and a clock the test moves.
struct Bench {
    db_url: String,
    pool: PgPool,
    sealer: Sealer,
    clock: Clock,
    dir: std::path::PathBuf,
}

async fn bench() -> Bench {
    let bench = unmigrated_bench().await;
    roleport::db::migrate(&bench.pool).await.unwrap();
    bench
}

async fn unmigrated_bench() -> Bench {
    let name = format!("roleport_test_{}", uuid::Uuid::new_v4().simple());
    let mut conn = PgConnection::connect(ADMIN_DB_URL).await.unwrap();
    conn.execute(format!(r#"CREATE DATABASE "{name}""#).as_str())
        .await
        .unwrap();
    let db_url = format!("postgres://postgres@127.0.0.1:5432/{name}");
    let pool = PgPool::connect(&db_url).await.unwrap();
    let dir =
        std::env::temp_dir().join(format!("roleport-audit-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("roleport.toml"),
        "[server]\nlisten = \"127.0.0.1:0\"\ndev_mode = true\n[database]\nurl = \"unused\"\n",
    )
    .unwrap();
    std::fs::write(dir.join("audit-keys"), format!("{TEST_AUDIT_KEYS}\n")).unwrap();
    Bench {
        db_url,
        pool,
        sealer: Sealer::new(keys(TEST_AUDIT_KEYS), &AuditSettings::default()),
        clock: Clock::system(),
        dir,
    }
}

impl Bench {
    async fn append(&self, n: usize) {
        for i in 0..n {
            append(&self.pool, &format!("R{i}"), self.clock.now(), event("r"))
                .await
                .unwrap();
        }
    }

    /// Seals as a running process does, checkpoint included when one is due.
    async fn seal(&self) -> roleport::audit::sealer::SealReport {
        self.sealer
            .seal(&self.pool, &self.clock, true, true)
            .await
            .unwrap()
    }

    fn verify_cli(&self, args: &[&str]) -> (Option<i32>, String) {
        let out: Output = std::process::Command::new(env!("CARGO_BIN_EXE_roleport"))
            .arg("--config")
            .arg(self.dir.join("roleport.toml"))
            .args(["audit", "verify"])
            .args(args)
            .env("ROLEPORT_DATABASE__URL", &self.db_url)
            .env("ROLEPORT_AUDIT__KEY_FILE", self.dir.join("audit-keys"))
            .env("RUST_LOG", "error")
            .output()
            .expect("run roleport");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !stderr.contains("dGVzdCBhdWRpdCBrZXk"),
            "the key reached stderr"
        );
        (out.status.code(), format!("{stdout}{stderr}"))
    }

    /// Six rows: checkpoint #1 at row 3 (three hours ago), #2 at row 6 (two hours ago).
    async fn six_rows_two_checkpoints(&self) {
        self.clock.advance(chrono::Duration::hours(-3));
        self.append(3).await;
        assert_eq!(self.seal().await.checkpoint.map(|c| c.pos), Some(3));
        self.append(3).await;
        self.clock.advance(chrono::Duration::hours(1));
        assert_eq!(
            self.seal().await.checkpoint.map(|c| (c.n, c.pos)),
            Some((2, 6))
        );
        self.clock.advance(chrono::Duration::hours(2));
    }

    async fn expect_of(&self, pos: i64) -> String {
        let mac: Vec<u8> = sqlx::query_scalar("SELECT mac FROM audit_events WHERE pos = $1")
            .bind(pos)
            .fetch_one(&self.pool)
            .await
            .unwrap();
        format!("{pos}:{}", hex::encode(mac))
    }
}

fn assert_broken_at(result: (Option<i32>, String), pos: i64, needle: &str) {
    let (code, text) = result;
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains(&format!("BROKEN at row {pos}:")),
        "expected row {pos}: {text}"
    );
    assert!(text.contains(needle), "expected {needle:?}: {text}");
}

#[tokio::test]
async fn verify_cli_passes_an_intact_chain_and_seals_what_is_pending() {
    let bench = bench().await;
    bench.six_rows_two_checkpoints().await;
    bench.append(2).await;
    let (code, text) = bench.verify_cli(&[]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("sealed 2 row(s)"), "{text}");
    assert!(text.contains("intact: 8 rows, 2 checkpoint(s)"), "{text}");
    let expect = bench.expect_of(6).await;
    let (code, text) = bench.verify_cli(&["--expect", &expect]);
    assert_eq!(code, Some(0), "{text}");
}

#[tokio::test]
async fn verify_cli_finds_an_edited_row() {
    let bench = bench().await;
    bench.six_rows_two_checkpoints().await;
    force(
        &bench.db_url,
        &["UPDATE audit_events SET event = jsonb_set(event, '{reason}', '\"nothing to see\"') WHERE pos = 4"],
    )
    .await;
    assert_broken_at(bench.verify_cli(&[]), 4, "does not match its MAC");
}

#[tokio::test]
async fn verify_cli_finds_a_row_deleted_from_the_middle() {
    let bench = bench().await;
    bench.six_rows_two_checkpoints().await;
    force(&bench.db_url, &["DELETE FROM audit_events WHERE pos = 2"]).await;
    assert_broken_at(bench.verify_cli(&[]), 3, "row 2 is missing");
}

#[tokio::test]
async fn verify_cli_finds_a_deleted_tail_from_the_newest_checkpoint() {
    let bench = bench().await;
    bench.six_rows_two_checkpoints().await;
    force(&bench.db_url, &["DELETE FROM audit_events WHERE pos >= 5"]).await;
    assert_broken_at(bench.verify_cli(&[]), 5, "a deleted tail");
    // A running process would seal new rows onto the cut chain; checkpoint #2 still tells.
    bench.append(2).await;
    assert_broken_at(bench.verify_cli(&[]), 6, "checkpoint #2 names another MAC");
}

#[tokio::test]
async fn verify_cli_finds_a_deleted_tail_whose_checkpoints_were_deleted_too() {
    let bench = bench().await;
    bench.six_rows_two_checkpoints().await;
    let expect = bench.expect_of(6).await;
    force(
        &bench.db_url,
        &[
            "DELETE FROM audit_events WHERE pos >= 5",
            "DELETE FROM audit_checkpoints WHERE n = 2",
        ],
    )
    .await;
    // Row 4 was sealed two hours ago and no checkpoint covers it any more.
    assert_broken_at(bench.verify_cli(&[]), 4, "no checkpoint covers it");
    // With the staleness check off, the checkpoint shipped from the log still shows the cut.
    assert_broken_at(
        bench.verify_cli(&["--max-checkpoint-age", "0", "--expect", &expect]),
        5,
        "the expected checkpoint names row 6",
    );
    let (code, text) = bench.verify_cli(&["--max-checkpoint-age", "0"]);
    assert_eq!(
        code,
        Some(0),
        "without evidence the cut is invisible: {text}"
    );
}

#[tokio::test]
async fn verify_cli_finds_a_chain_recomputed_without_the_key() {
    let wrong = keys("test-1 d3Jvbmcga2V5IHdpdGggdGhlIHJpZ2h0IGlkIGFuZCBsZW5ndGg=");
    for rewrite in ["sha256", "wrong-key"] {
        let bench = bench().await;
        bench.six_rows_two_checkpoints().await;
        force(
            &bench.db_url,
            &["UPDATE audit_events SET event = jsonb_set(event, '{reason}', '\"rewritten\"') WHERE pos = 5"],
        )
        .await;
        // Every MAC recomputed from the documented material, as someone without the key can.
        let rows = sealed_page(&bench.pool, 0, 100).await.unwrap();
        let mut prev = GENESIS.to_vec();
        let mut statements = Vec::new();
        for row in rows {
            let event = canonical_event(&row.event);
            let material = RowLink {
                pos: row.pos.unwrap(),
                prev: &prev,
                key_id: row.key_id.as_deref().unwrap(),
                seq: row.seq,
                ref_id: &row.ref_id,
                at: row.at,
                sealed_at: row.sealed_at.unwrap(),
                event: &event,
            }
            .material();
            let mac = match rewrite {
                "sha256" => openssl::sha::sha256(&material).to_vec(),
                _ => wrong.signing().mac(&material).unwrap(),
            };
            statements.push(format!(
                "UPDATE audit_events SET mac = '\\x{}' WHERE pos = {}",
                hex::encode(&mac),
                row.pos.unwrap()
            ));
            prev = mac;
        }
        let refs: Vec<&str> = statements.iter().map(String::as_str).collect();
        force(&bench.db_url, &refs).await;
        assert_broken_at(bench.verify_cli(&[]), 1, "does not match its MAC");
    }
}

/// Writers never wait for the sealer: while one holds the sealer lock (a long seal), appends still
/// commit, and other sealers leave the work to it instead of queueing.
#[tokio::test]
async fn appends_commit_while_the_sealer_lock_is_held() {
    let bench = bench().await;
    let mut sealing = bench.pool.begin().await.unwrap();
    assert!(
        roleport::db::audit::lock_sealer(&mut sealing, false)
            .await
            .unwrap()
    );
    for i in 0..5 {
        tokio::time::timeout(
            std::time::Duration::from_secs(30),
            append(&bench.pool, &format!("W{i}"), bench.clock.now(), event("w")),
        )
        .await
        .expect("append waited for the sealer lock")
        .unwrap();
    }
    let other = bench
        .sealer
        .seal(&bench.pool, &bench.clock, false, true)
        .await
        .unwrap();
    assert!(other.busy);
    assert_eq!(other.sealed, 0);
    sealing.rollback().await.unwrap();
    assert_eq!(bench.seal().await.sealed, 5);
}

/// A second key is added (and signs from then on); rows and checkpoints under the first key still
/// verify while it stays configured, and are reported when it is removed.
#[tokio::test]
async fn key_rotation_keeps_older_rows_verifiable() {
    let bench = bench().await;
    bench.append(3).await;
    assert!(bench.seal().await.checkpoint.is_some());
    const NEW_KEY: &str = "test-2 c2Vjb25kIGF1ZGl0IGtleSwgYWxzbyB0aGlydHktdHdvIGJ5dGVz";
    let rotated = format!("{TEST_AUDIT_KEYS}\n{NEW_KEY}\n");
    let after = Sealer::new(keys(&rotated), &AuditSettings::default());
    bench.append(2).await;
    bench.clock.advance(chrono::Duration::minutes(2));
    let report = after
        .seal(&bench.pool, &bench.clock, true, true)
        .await
        .unwrap();
    assert_eq!(
        report.checkpoint.map(|c| c.key_id),
        Some("test-2".to_string())
    );
    let key_ids: Vec<String> = sqlx::query_scalar("SELECT key_id FROM audit_events ORDER BY pos")
        .fetch_all(&bench.pool)
        .await
        .unwrap();
    assert_eq!(key_ids, ["test-1", "test-1", "test-1", "test-2", "test-2"]);

    std::fs::write(bench.dir.join("audit-keys"), &rotated).unwrap();
    let (code, text) = bench.verify_cli(&[]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("intact: 5 rows, 2 checkpoint(s)"), "{text}");
    let now = bench.clock.now();
    let full = verify(&bench.pool, &keys(&rotated), &options(now))
        .await
        .unwrap();
    assert!(
        matches!(full, ChainStatus::Intact { rows: 5, .. }),
        "{full:?}"
    );

    std::fs::write(bench.dir.join("audit-keys"), NEW_KEY).unwrap();
    assert_broken_at(
        bench.verify_cli(&[]),
        1,
        "`test-1`, which is not configured",
    );
}

/// A database from before migration 0011, with rows chained the old way (unkeyed SHA-256).
async fn legacy_bench(rows: i64, tamper_row: Option<i64>) -> Bench {
    let bench = unmigrated_bench().await;
    let mut old = sqlx::migrate!("./migrations");
    old.migrations = std::borrow::Cow::Owned(
        old.migrations
            .iter()
            .filter(|m| m.version < 11)
            .cloned()
            .collect(),
    );
    old.run(&bench.pool).await.unwrap();
    let mut prev = GENESIS.to_vec();
    for seq in 1..=rows {
        let event = serde_json::to_value(event(&format!("legacy {seq}")).sanitized()).unwrap();
        let at = chrono::DateTime::from_timestamp(1_790_000_000 + seq, 0).unwrap();
        let hash = roleport::audit::mac::legacy_hash(&prev, seq, "OLD", at, &event);
        let stored = if tamper_row == Some(seq) {
            serde_json::json!({"reason": "rewritten before the upgrade"})
        } else {
            event
        };
        sqlx::query("INSERT INTO audit_events (seq, ref_id, at, event, prev_hash, hash) VALUES ($1, 'OLD', $2, $3, $4, $5)")
            .bind(seq)
            .bind(at)
            .bind(&stored)
            .bind(&prev)
            .bind(&hash)
            .execute(&bench.pool)
            .await
            .unwrap();
        prev = hash;
    }
    roleport::db::migrate(&bench.pool).await.unwrap();
    bench
}

#[tokio::test]
async fn rows_from_before_the_keyed_chain_are_sealed_first_and_keep_their_old_link_checked() {
    let bench = legacy_bench(3, None).await;
    bench.append(2).await;
    assert_eq!(bench.seal().await.sealed, 5);
    let order: Vec<(i64, i64, String)> =
        sqlx::query_as("SELECT pos, seq, ref_id FROM audit_events ORDER BY pos")
            .fetch_all(&bench.pool)
            .await
            .unwrap();
    let refs: Vec<&str> = order.iter().map(|(_, _, r)| r.as_str()).collect();
    assert_eq!(refs, ["OLD", "OLD", "OLD", "R0", "R1"]);
    assert!(order.iter().all(|(pos, seq, _)| pos == seq));
    let (code, text) = bench.verify_cli(&[]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("intact: 5 rows"), "{text}");
    // An older Roleport still writing the old way is refused, not mixed into the chain.
    let old_writer = sqlx::query("INSERT INTO audit_events (ref_id, at, event, prev_hash, hash) VALUES ('X', now(), '{}', '\\x00', '\\x01')")
        .execute(&bench.pool)
        .await;
    let err = old_writer.unwrap_err().to_string();
    assert!(err.contains("rows are inserted unsealed"), "{err}");

    // Tampering from before the upgrade is still found, although the row was sealed since.
    let bench = legacy_bench(3, Some(2)).await;
    bench.seal().await;
    assert_broken_at(bench.verify_cli(&[]), 2, "pre-0011 SHA-256 link");
}

/// A process that saw the longer chain refuses to checkpoint a cut one, so the cut stays visible.
#[tokio::test]
async fn a_running_sealer_does_not_checkpoint_over_a_cut_chain() {
    let bench = bench().await;
    bench.six_rows_two_checkpoints().await;
    force(
        &bench.db_url,
        &[
            "DELETE FROM audit_events WHERE pos >= 5",
            "DELETE FROM audit_checkpoints WHERE n = 2",
        ],
    )
    .await;
    bench.append(2).await;
    bench.clock.advance(chrono::Duration::minutes(5));
    let report = bench.seal().await;
    assert_eq!(report.sealed, 2);
    assert_eq!(report.checkpoint, None);
    let newest: i64 = sqlx::query_scalar("SELECT max(n) FROM audit_checkpoints")
        .fetch_one(&bench.pool)
        .await
        .unwrap();
    assert_eq!(newest, 1);
    assert_broken_at(bench.verify_cli(&[]), 4, "no checkpoint covers it");
}

/// Collects what the tracing JSON formatter writes, for the checkpoint log line.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The checkpoint log line carries what an operator needs to check the chain later from outside
/// the database, and nothing secret.
#[tokio::test]
async fn each_checkpoint_is_logged_in_the_form_verify_expect_takes() {
    let bench = bench().await;
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_writer(move || writer.clone())
        .finish();
    let guard = tracing::subscriber::set_default(subscriber);
    bench.append(4).await;
    let cp = bench.seal().await.checkpoint.unwrap();
    drop(guard);
    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let line: serde_json::Value = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|l| l["fields"]["message"] == "audit checkpoint")
        .unwrap_or_else(|| panic!("no checkpoint line in {text}"));
    assert_eq!(line["target"], "roleport::audit::checkpoint");
    assert_eq!(line["fields"]["pos"], 4);
    assert_eq!(line["fields"]["key_id"], "test-1");
    assert_eq!(line["fields"]["mac"], hex::encode(&cp.mac));
    let expect = line["fields"]["expect"].as_str().unwrap().to_string();
    assert_eq!(expect, bench.expect_of(4).await);
    assert!(
        !text.contains("dGVzdCBhdWRpdCBrZXk"),
        "the key reached the log"
    );
    let (code, out) = bench.verify_cli(&["--expect", &expect]);
    assert_eq!(code, Some(0), "{out}");
}

#[test]
fn expected_checkpoints_parse_from_the_log_form() {
    let e: Expected = "12:00ff".parse().unwrap();
    assert_eq!((e.pos, e.mac), (12, vec![0, 255]));
    for bad in ["12", "x:00", "0:00", "3:zz"] {
        assert!(bad.parse::<Expected>().is_err(), "{bad}");
    }
}
