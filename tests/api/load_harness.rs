//! The load harness: real SP-initiated sign-ins fired at a Roleport process on loopback (see
//! `fire.rs` for how), with its CPU, Postgres's CPU, its peak memory and its cold start, and
//! side by side the same Responses verified in-process by node-saml, python3-saml and libxmlsec1
//! in C (`verifiers.rs`). The `issue:N` load measures credential issue instead (`issue.rs`):
//! people signed in beforehand ask for credentials, which Roleport gets from the STS emulator
//! (moto), whose CPU is reported too (`emulator.rs`).
//!
//! In the suite, [`short_run_every_sign_in_is_a_303`] runs it briefly at a low rate against the
//! debug build, and [`short_issue_run_every_issue_is_a_200`] the issue load. `bash deploy/load/run.sh` runs [`full_run`] against a release build with the
//! loads of `ROLEPORT_TEST_LOAD_SCENARIOS` and prints the table (also written to
//! `.run/load/report.md`). Ports: 18960 for the full run, 18961 for the short one
//! (`ROLEPORT_TEST_LOAD_PORT` moves both, for another checkout's run at the same time).

pub mod emulator;
pub mod fire;
pub mod issue;
pub mod report;
pub mod server;
pub mod verifiers;

use emulator::Emulator;
use fire::{Mode, Prepared, fire, prepare};
use report::{Report, table};
use server::{Server, cpu_between, cpu_seconds};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn run_dir() -> PathBuf {
    crate::fleet::cluster::repo().join(".run/load")
}

/// One load against a fresh server: `mode`, at most `count` sign-ins (or issues) and `limit` of
/// time. Returns the report and the Responses that were sent (none for an issue load: its few
/// sign-ins are preparation).
async fn run(
    binary: &Path,
    port: u16,
    mode: Mode,
    count: usize,
    limit: Duration,
) -> (Report, Vec<Prepared>) {
    // Another checkout's suite may run the same load on this machine: one per port at a time.
    // The kernel drops the lock of a run that was killed.
    let lock =
        std::fs::File::create(std::env::temp_dir().join(format!("roleport-load-{port}.lock")))
            .unwrap();
    tokio::task::block_in_place(|| lock.lock()).unwrap();
    let dir = run_dir().join(format!("server-{port}"));
    let emulator = mode.is_issue().then(Emulator::find);
    let sts = emulator.as_ref().map(|e| e.url.as_str());
    let mut server = Server::start(binary, port, &dir, sts).await;
    let count = match mode {
        Mode::Open(rate) => count.min((rate * limit.as_secs_f64()).ceil() as usize),
        Mode::Closed(_) | Mode::Issue(_) => count,
    };
    // Untimed: the Responses to post, or for an issue load one signed-in session per connection.
    let (prepared, sessions) = match mode {
        Mode::Issue(connections) => {
            let logins = prepare(&server.public_url, connections).await;
            (Vec::new(), issue::sign_in(&server.public_url, logins).await)
        }
        Mode::Open(_) | Mode::Closed(_) => (prepare(&server.public_url, count).await, Vec::new()),
    };
    let kept = prepared.clone();

    let me = std::process::id();
    let emulator_cpu = || emulator.as_ref().and_then(Emulator::cpu);
    let (roleport_before, client_before) = (server.cpu(), cpu_seconds(me).unwrap());
    let (postgres_before, emulator_before) = (server.postgres_cpu().await, emulator_cpu());
    let outcome = match mode {
        Mode::Issue(_) => issue::fire(&server.public_url, sessions, count, limit).await,
        Mode::Open(_) | Mode::Closed(_) => fire(&server.public_url, prepared, mode, limit).await,
    };
    let (roleport_after, client_after) = (server.cpu(), cpu_seconds(me).unwrap());
    let (postgres_after, emulator_after) = (server.postgres_cpu().await, emulator_cpu());

    let report = Report::new(
        mode,
        &outcome,
        roleport_after - roleport_before,
        cpu_between(&postgres_before, &postgres_after),
        emulator_before
            .zip(emulator_after)
            .map(|(before, after)| after - before),
        client_after - client_before,
        (server.peak_rss_kib(), server.rss_kib()),
        server.cold_start,
    );
    if report.succeeded() as usize != report.sent {
        eprintln!("load: Roleport's log is in {}", server.log_path().display());
    }
    server.stop().await;
    (report, kept)
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v} is not a valid value")),
        Err(_) => default,
    }
}

/// The suite's bounded run: a few seconds at a low rate, open and closed loop, against the debug
/// build. Checks the report is whole and every sign-in was accepted (no timing is asserted).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_run_every_sign_in_is_a_303() {
    let binary = PathBuf::from(env!("CARGO_BIN_EXE_roleport"));
    let mut reports = Vec::new();
    for mode in [Mode::Open(20.0), Mode::Closed(4)] {
        let port = env_or("ROLEPORT_TEST_LOAD_PORT", 18960u16) + 1;
        let (report, _) = run(&binary, port, mode, 60, Duration::from_secs(3)).await;
        reports.push(report);
    }
    eprintln!("{}", table(&reports));
    for report in &reports {
        report.assert_well_formed();
        assert_eq!(
            report.statuses.keys().collect::<Vec<_>>(),
            vec![&303],
            "every sign-in is a 303: {report:?}"
        );
        assert!(
            report.sent >= 40,
            "the bound is the count or the time: {report:?}"
        );
    }
}

/// The suite's bounded issue run: 30 issues at most from 2 connections, 3 s at most, against the
/// debug build and the suite's moto. Checks the report is whole and every issue was answered with
/// credentials (no timing is asserted).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_issue_run_every_issue_is_a_200() {
    let binary = PathBuf::from(env!("CARGO_BIN_EXE_roleport"));
    let port = env_or("ROLEPORT_TEST_LOAD_PORT", 18960u16) + 1;
    let (report, _) = run(&binary, port, Mode::Issue(2), 30, Duration::from_secs(3)).await;
    eprintln!("{}", table(std::slice::from_ref(&report)));
    report.assert_well_formed();
    assert_eq!(
        report.statuses.keys().collect::<Vec<_>>(),
        vec![&200],
        "every issue is a 200: {report:?}"
    );
    assert!(report.sent <= 30, "the count bounds the run: {report:?}");
}

/// The measured run (`bash deploy/load/run.sh`): the release binary `ROLEPORT_TEST_LOAD_BIN`, each
/// load of `ROLEPORT_TEST_LOAD_SCENARIOS` (e.g. `closed:16 open:1000 issue:8`) against a fresh
/// server, at most `ROLEPORT_TEST_LOAD_COUNT` sign-ins (or issues) and `ROLEPORT_TEST_LOAD_SECONDS`
/// each; then the verifiers side by side on the first sign-in load's Responses. An issue load
/// needs `ROLEPORT_TEST_MOTO_ENV` (run.sh starts moto for it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the measured run: bash deploy/load/run.sh"]
async fn full_run() {
    let binary: PathBuf = std::env::var("ROLEPORT_TEST_LOAD_BIN")
        .expect("ROLEPORT_TEST_LOAD_BIN: the release roleport binary")
        .into();
    let scenarios: Vec<Mode> = env_or(
        "ROLEPORT_TEST_LOAD_SCENARIOS",
        "closed:4 closed:16 closed:64 open:100 open:300 open:1000 issue:8".to_string(),
    )
    .split_whitespace()
    .map(|s| {
        Mode::parse(s).unwrap_or_else(|| panic!("bad load {s}: open:RATE, closed:N or issue:N"))
    })
    .collect();
    let count = env_or("ROLEPORT_TEST_LOAD_COUNT", 3000usize);
    // Another checkout's measured run can take another port.
    let port = env_or("ROLEPORT_TEST_LOAD_PORT", 18960u16);
    let limit = Duration::from_secs(env_or("ROLEPORT_TEST_LOAD_SECONDS", 10u64));

    let mut reports = Vec::new();
    let mut side_by_side = String::new();
    for mode in scenarios {
        let (report, sent) = run(&binary, port, mode, count, limit).await;
        eprintln!("{}", table(std::slice::from_ref(&report)));
        if side_by_side.is_empty() && !sent.is_empty() {
            // Right after the first sign-in load: the Responses are valid for five minutes.
            let xmls: Vec<String> = sent.into_iter().take(200).map(|p| p.xml).collect();
            let base = format!("http://127.0.0.1:{port}");
            side_by_side = tokio::task::block_in_place(|| {
                verifiers::compare(&run_dir(), &base, &xmls, report.per_roleport_cpu_second())
            });
        }
        reports.push(report);
    }
    let issue = if reports.iter().any(|r| r.mode.is_issue()) {
        ", credential issue against moto"
    } else {
        ""
    };
    let out = format!(
        "## Sign-ins at the ACS{issue} ({} cores, {})\n\n{}\n{side_by_side}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        verifiers::machine(),
        table(&reports)
    );
    println!("{out}");
    std::fs::write(run_dir().join("report.md"), &out).unwrap();
    for report in &reports {
        report.assert_well_formed();
    }
}
