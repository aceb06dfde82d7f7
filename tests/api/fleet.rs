//! A fleet that survives faults: two `roleport serve` processes behind HAProxy on one private
//! Postgres, STS (moto) behind a fault-injecting proxy, a bounded load of real sign-ins,
//! credentials and console links through HAProxy, and mid-run: Postgres restarted, a replica
//! killed with SIGKILL and brought back, STS slow and failing. Afterwards every promise is
//! checked (see the end of [`fleet_survives_postgres_restart_replica_kill_and_sts_faults`]) and
//! the figures are printed as a table.
//!
//! The short run is part of the suite; `bash deploy/fleet/soak.sh` runs the same scenario with
//! longer phases (`ROLEPORT_TEST_FLEET_SCALE`) and prints the table. It uses the fixed ports
//! 18940-18944, so it is one test function, and runs on one machine at a time (a file lock).

pub mod cluster;
pub mod load;
pub mod report;

use crate::aws_harness::{Recorded, fake_server};
use crate::forge::FORGE_RULES;
use cluster::{Fleet, run_ok};
use load::{Answer, Load, Step, Tally, TokenKeys, sign_responses, visit};
use report::{KeyFigures, PhaseFigures};
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long the fleet may take to recover from a lifted fault before the test fails.
const RECOVERY_LIMIT: Duration = Duration::from_secs(60);
const WORKERS: usize = 4;
const PAUSE: Duration = Duration::from_millis(200);

#[derive(Clone, Copy)]
enum Fault {
    None,
    PostgresRestart,
    KillReplica,
    StsSlowAndFailing,
}

impl Fault {
    fn describe(self) -> &'static str {
        match self {
            Fault::None => "no fault",
            Fault::PostgresRestart => "Postgres stopped",
            Fault::KillReplica => "replica a kill -9 mid-issue",
            Fault::StsSlowAndFailing => "STS slow+failing",
        }
    }
}

/// A console federation endpoint that answers `getSigninToken` and remembers which access key
/// each token it issued stands for.
async fn federation() -> (String, TokenKeys) {
    let tokens: TokenKeys = Arc::default();
    let kept = tokens.clone();
    let server = fake_server(Arc::new(move |r: &Recorded| {
        let session: serde_json::Value = r
            .params
            .get("Session")
            .and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or_default();
        let Some(key) = session["sessionId"].as_str() else {
            return actix_web::HttpResponse::BadRequest().body("no Session");
        };
        let token = format!("token-{}", uuid::Uuid::new_v4().simple());
        kept.lock().unwrap().insert(token.clone(), key.to_string());
        actix_web::HttpResponse::Ok().json(serde_json::json!({ "SigninToken": token }))
    }))
    .await;
    (server.url, tokens)
}

struct Run {
    fleet: Fleet,
    tally: Arc<Mutex<Tally>>,
    tokens: TokenKeys,
    scale: u32,
    phases: Vec<PhaseFigures>,
    /// The fault of each phase, in the order of `phases`.
    faults: Vec<Fault>,
}

impl Run {
    fn secs(&self, s: u64) -> Duration {
        Duration::from_secs(s * u64::from(self.scale))
    }

    /// One phase: load through HAProxy, the fault injected mid-phase and lifted, the recovery
    /// measured, more load, then the load stops.
    async fn phase(&mut self, name: &str, fault: Fault, lead: Duration, hold: Duration) {
        let tail = self.secs(3);
        let expected = lead + hold + tail + Duration::from_secs(10);
        // Signed before the load starts: enough for 4 visits a second per worker (a visit is four
        // requests, then a pause); if they run out, the load ends early and the probes go on.
        let n = WORKERS * expected.as_secs() as usize * 4;
        let responses = Arc::new(Mutex::new(tokio::task::block_in_place(|| {
            sign_responses(&self.fleet.public_url, name, n)
        })));
        let mut probes = tokio::task::block_in_place(|| {
            sign_responses(&self.fleet.public_url, &format!("{name}-probe"), 30)
        });
        let stop = Arc::new(AtomicBool::new(false));
        let load = tokio::spawn(
            Load {
                base: self.fleet.public_url.clone(),
                phase: name.to_string(),
                responses: responses.clone(),
                workers: WORKERS,
                pause: PAUSE,
                stop: stop.clone(),
                tally: self.tally.clone(),
                tokens: self.tokens.clone(),
            }
            .run(),
        );
        tokio::time::sleep(lead).await;
        let lifted = self.inject(fault, hold).await;
        let recovery = match fault {
            Fault::None => None,
            _ => Some(self.recovery_after(lifted, name, &mut probes).await),
        };
        tokio::time::sleep(tail).await;
        stop.store(true, Ordering::SeqCst);
        load.await.unwrap();
        self.faults.push(fault);
        self.phases.push(PhaseFigures {
            name: name.to_string(),
            fault: fault.describe().to_string(),
            held: if matches!(fault, Fault::None) {
                lead + tail
            } else {
                hold
            },
            recovery,
        });
    }

    /// Injects `fault`, holds it for `hold`, lifts it; returns when it was lifted.
    async fn inject(&mut self, fault: Fault, hold: Duration) -> Instant {
        match fault {
            Fault::None => {}
            Fault::PostgresRestart => {
                tokio::task::block_in_place(|| self.fleet.postgres("stop"));
                tokio::time::sleep(hold).await;
                tokio::task::block_in_place(|| self.fleet.postgres("start"));
            }
            Fault::KillReplica => {
                // STS answering in 0.5 s keeps credential requests inside the replica, so the
                // kill catches some mid-issue (STS called, audit row not yet written, or written
                // and the answer not yet sent).
                self.fleet.set_sts_fault("delay=0.5").await;
                tokio::time::sleep(Duration::from_secs(1)).await;
                self.fleet.kill_replica(0);
                self.fleet.set_sts_fault("").await;
                tokio::time::sleep(hold).await;
                self.fleet.start_replica(0);
            }
            Fault::StsSlowAndFailing => {
                // Slower than usual and every second call failing (Roleport retries once), then
                // slower than Roleport's STS timeout (2 s per attempt).
                self.fleet.set_sts_fault("delay=1.5&fail_every=2").await;
                tokio::time::sleep(hold / 2).await;
                self.fleet.set_sts_fault("delay=3").await;
                tokio::time::sleep(hold / 2).await;
                self.fleet.set_sts_fault("").await;
            }
        }
        Instant::now()
    }

    /// From `lifted` until HAProxy sees both replicas up and a whole visit through it succeeds.
    async fn recovery_after(
        &self,
        lifted: Instant,
        phase: &str,
        probes: &mut Vec<String>,
    ) -> Duration {
        loop {
            assert!(
                lifted.elapsed() < RECOVERY_LIMIT,
                "{phase}: the fleet did not recover within {RECOVERY_LIMIT:?} (HAProxy sees {:?}); logs in {}",
                self.fleet.lb_server_states(),
                self.fleet.dir.display()
            );
            if self.fleet.lb_sees_all_up() {
                let response = probes
                    .pop()
                    .unwrap_or_else(|| panic!("{phase}: out of probe Responses"));
                let (ok, _) = visit(
                    &self.fleet.public_url,
                    &response,
                    phase,
                    &self.tally,
                    &self.tokens,
                )
                .await;
                if ok {
                    return lifted.elapsed();
                }
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_survives_postgres_restart_replica_kill_and_sts_faults() {
    let started = Instant::now();
    let scale: u32 = std::env::var("ROLEPORT_TEST_FLEET_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let (federation_url, tokens) = federation().await;
    let fleet = Fleet::start(&federation_url).await;
    let mut run = Run {
        fleet,
        tally: Arc::default(),
        tokens,
        scale,
        phases: Vec::new(),
        faults: Vec::new(),
    };

    let lead = run.secs(3);
    run.phase("steady", Fault::None, run.secs(5), Duration::ZERO)
        .await;
    // Longer than a request waits for a database connection (5 s) and than HAProxy takes to
    // see a replica fail (2 checks): a shorter outage shows as slow answers, not as errors.
    run.phase(
        "postgres restart",
        Fault::PostgresRestart,
        lead,
        run.secs(8),
    )
    .await;
    run.phase("replica killed", Fault::KillReplica, lead, run.secs(3))
        .await;
    run.phase("sts faults", Fault::StsSlowAndFailing, lead, run.secs(6))
        .await;

    let fleet = &run.fleet;
    let pool = sqlx::PgPool::connect(&fleet.db_url).await.unwrap();

    // Shared state: an assertion accepted by replica a is a replay at replica b, and the
    // session a made works at b.
    let response = tokio::task::block_in_place(|| sign_responses(&fleet.public_url, "shared", 1))
        .pop()
        .unwrap();
    let (ok, person) = visit(
        &fleet.replica_url(0),
        &response,
        "shared state",
        &run.tally,
        &run.tokens,
    )
    .await;
    assert!(ok, "a visit straight to replica a failed");
    let replayed = person
        .post(format!("{}/saml/acs", fleet.replica_url(1)))
        .form(&[("SAMLResponse", response.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(replayed.status(), 403, "the replay at replica b");
    let reference = load::reference_of(&replayed.text().await.unwrap()).unwrap();
    let rows = roleport::db::audit::by_reference(&pool, &reference)
        .await
        .unwrap();
    let row = serde_json::to_value(&rows[0]).unwrap();
    assert!(
        row["reason"].as_str().unwrap().starts_with("replay"),
        "{row}"
    );
    let roles_at = |i: usize| {
        let url = format!("{}/api/v1/roles", fleet.replica_url(i));
        let person = person.clone();
        async move {
            let resp = person.get(url).send().await.unwrap();
            assert_eq!(resp.status(), 200, "the session made at replica a");
            let json: serde_json::Value = resp.json().await.unwrap();
            json["grants"]
                .as_array()
                .unwrap()
                .iter()
                .map(|g| g["role_name"].as_str().unwrap().to_string())
                .collect::<BTreeSet<_>>()
        }
    };
    assert_eq!(
        roles_at(1).await,
        BTreeSet::from(["Admin".to_string()]),
        "replica b knows a's session"
    );

    // Rules are shared: one import, and both replicas grant the new role.
    let rules = fleet.dir.join("rules-2.yaml");
    std::fs::write(
        &rules,
        format!(
            "{FORGE_RULES}  - id: readonly-for-admins\n    idp: forge\n    claim: group\n    match: exact\n    pattern: aws-admins\n    roles: [arn:aws:iam::123456789012:role/ReadOnly]\n"
        ),
    )
    .unwrap();
    tokio::task::block_in_place(|| run_ok(fleet.roleport().args(["rules", "import"]).arg(&rules)));
    let both = BTreeSet::from(["Admin".to_string(), "ReadOnly".to_string()]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while roles_at(0).await != both || roles_at(1).await != both {
        assert!(
            Instant::now() < deadline,
            "a replica did not pick up the new rules"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    // The audit log: every credential a client received has its committed row, and the chain
    // verifies (both replicas sealed into it, one of them killed mid-run).
    let audited: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT event->>'kind', event->>'outcome', event->'details'->>'access_key_id' FROM audit_events",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let audited_keys: BTreeSet<String> = audited
        .iter()
        .filter(|(kind, outcome, _)| {
            (kind == "credentials_issued" || kind == "console_link") && outcome == "accepted"
        })
        .filter_map(|(_, _, key)| key.clone())
        .collect();
    let tally = std::mem::take(&mut *run.tally.lock().unwrap());
    let mut handed: HashMap<String, Step> = HashMap::new();
    for h in &tally.handed_out {
        assert!(
            handed.insert(h.access_key_id.clone(), h.via).is_none(),
            "the same AccessKeyId handed out twice: {}",
            h.access_key_id
        );
    }
    let minted: BTreeSet<String> = fleet.minted_keys().into_iter().collect();
    let without_audit: Vec<&String> = handed
        .keys()
        .filter(|k| !audited_keys.contains(*k))
        .collect();
    assert!(
        without_audit.is_empty(),
        "handed out without a committed audit row: {without_audit:?}"
    );
    let not_minted: Vec<&String> = handed.keys().filter(|k| !minted.contains(*k)).collect();
    assert!(
        not_minted.is_empty(),
        "clients received keys STS never minted: {not_minted:?}"
    );
    // The replicas' own sealers outlived the restart and the kill: they link every row into
    // the chain (`audit verify` would otherwise seal what they left).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let unsealed: i64 =
            sqlx::query_scalar("SELECT count(*) FROM audit_events WHERE pos IS NULL")
                .fetch_one(&pool)
                .await
                .unwrap();
        if unsealed == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{unsealed} audit rows stay unsealed"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let verify = tokio::task::block_in_place(|| run_ok(fleet.roleport().args(["audit", "verify"])));
    println!("roleport audit verify: {}", verify.trim());

    let keys = KeyFigures {
        minted: minted.len(),
        audited: audited_keys.len(),
        handed_out: handed.len(),
        handed_out_console: handed.values().filter(|s| **s == Step::Console).count(),
        handed_out_without_audit: without_audit.len(),
        audited_not_received: audited_keys
            .iter()
            .filter(|k| !handed.contains_key(*k))
            .count(),
        minted_not_audited: minted.difference(&audited_keys).count(),
    };
    let table = report::render(&tally, &run.phases, &keys, started.elapsed());
    println!("{table}");

    // What the clients saw: success, or a clear answer with a reference; never a hang, a reset
    // or an unexplained status.
    assert!(
        tally.unclear_samples.is_empty(),
        "answers that were not clear:\n{}\n{table}",
        tally.unclear_samples.join("\n")
    );
    for (p, fault) in run.phases.iter().zip(&run.faults) {
        let count = |want: &dyn Fn(&Answer) -> bool| -> u64 {
            tally
                .counts
                .iter()
                .filter(|((phase, _, a), _)| *phase == p.name && want(a))
                .map(|(_, n)| n)
                .sum()
        };
        assert!(
            count(&|a| *a == Answer::Ok) > 0,
            "{}: nothing succeeded\n{table}",
            p.name
        );
        let failed = count(&|a| *a != Answer::Ok);
        let closed = count(&|a| *a == Answer::ClosedForRetry);
        let unavailable = count(&|a| *a == Answer::Roleport503 || *a == Answer::Balancer(503));
        match fault {
            Fault::None => assert_eq!(failed, 0, "errors without a fault\n{table}"),
            // A database or STS outage shows as 503s that name a reference.
            Fault::PostgresRestart | Fault::StsSlowAndFailing => assert!(
                unavailable > 0,
                "{}: the outage never showed as a 503\n{table}",
                p.name
            ),
            // HAProxy hides a dead replica: only what it held when it died may fail, at most
            // one request per simulated person.
            Fault::KillReplica => assert!(
                failed <= WORKERS as u64,
                "{}: more failures than requests in flight\n{table}",
                p.name
            ),
        }
        if !matches!(fault, Fault::KillReplica) {
            assert_eq!(
                closed, 0,
                "{}: connections closed without a killed replica\n{table}",
                p.name
            );
        }
    }
    assert!(
        keys.handed_out > 0,
        "no credentials were handed out\n{table}"
    );
}
