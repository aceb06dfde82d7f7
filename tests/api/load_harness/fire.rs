//! The load itself. Before the timed part: pending logins started over HTTP (`GET /login/forge`,
//! each its own browser cookie) and a Response signed by the forge for each. The timed part posts
//! them to the ACS, either at a fixed offered rate (open loop: latency counted from the moment
//! the schedule said to send, so a server that falls behind cannot hide it by slowing the
//! sender) or from N connections each sending its next as soon as the last was answered (closed
//! loop). Both stop at the count or the time bound, whichever comes first. The credential-issue
//! load (`issue:N`) has its own preparation and timed part in `issue.rs`; the answers of both are
//! collected by one [`Recorder`].

use crate::forge::{
    FORGE_ENTITY_ID, FORGE_ID, Forge, Sign, SpTarget, encode, login_from_redirect, signer,
};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long one request may take before it counts as a transport failure.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    /// Offered sign-ins per second.
    Open(f64),
    /// Connections, each with one request in flight.
    Closed(usize),
    /// Credential issue: connections, each asking for credentials for its own signed-in session
    /// with one request in flight (`issue.rs`).
    Issue(usize),
}

impl Mode {
    /// `open:RATE`, `closed:CONNECTIONS` or `issue:CONNECTIONS`.
    pub fn parse(s: &str) -> Option<Mode> {
        let (kind, n) = s.split_once(':')?;
        match kind {
            "open" => n.parse().ok().filter(|r: &f64| *r > 0.0).map(Mode::Open),
            "closed" => n.parse().ok().filter(|c: &usize| *c > 0).map(Mode::Closed),
            "issue" => n.parse().ok().filter(|c: &usize| *c > 0).map(Mode::Issue),
            _ => None,
        }
    }

    pub fn label(&self) -> String {
        match self {
            Mode::Open(r) => format!("open loop, {r} /s offered"),
            Mode::Closed(c) => format!("closed loop, {c} connections"),
            Mode::Issue(c) => format!("credential issue, closed loop, {c} connections"),
        }
    }

    pub fn is_issue(&self) -> bool {
        matches!(self, Mode::Issue(_))
    }

    /// The answer that counts as done: a sign-in's redirect, or the credentials.
    pub fn success(&self) -> u16 {
        if self.is_issue() { 200 } else { 303 }
    }
}

/// One prepared sign-in: the browser's cookies, the RelayState, and the signed Response.
#[derive(Clone)]
pub struct Prepared {
    pub cookie: String,
    pub relay_state: String,
    pub saml_response: String,
    /// The Response's XML, for the verifiers run side by side.
    pub xml: String,
}

fn client(connections: usize) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(REQUEST_TIMEOUT)
        .pool_max_idle_per_host(connections)
        .build()
        .unwrap()
}

/// Starts `n` logins at `base` (8 at a time) and signs a Response (both Response and Assertion
/// signed) answering each, for a distinct person.
pub async fn prepare(base: &str, n: usize) -> Vec<Prepared> {
    let http = client(8);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Arc::new(Mutex::new(Vec::with_capacity(n)));
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (http, next, started, base) = (
                http.clone(),
                next.clone(),
                started.clone(),
                base.to_string(),
            );
            tokio::spawn(async move {
                while next.fetch_add(1, Ordering::Relaxed) < n {
                    let resp = http
                        .get(format!("{base}/login/{FORGE_ID}"))
                        .send()
                        .await
                        .unwrap();
                    let cookie = resp
                        .headers()
                        .get_all(reqwest::header::SET_COOKIE)
                        .iter()
                        .filter_map(|v| v.to_str().ok()?.split(';').next())
                        .collect::<Vec<_>>()
                        .join("; ");
                    let login = login_from_redirect(&resp);
                    started.lock().unwrap().push((cookie, login));
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let started = std::mem::take(&mut *started.lock().unwrap());
    let sp = SpTarget {
        entity_id: format!("{base}/saml/metadata"),
        acs_url: format!("{base}/saml/acs"),
    };
    tokio::task::block_in_place(|| {
        let signer = signer();
        let now = roleport::clock::Clock::system().now();
        started
            .into_iter()
            .enumerate()
            .map(|(i, (cookie, login))| {
                let xml = Forge::new(FORGE_ENTITY_ID, &sp, now)
                    .in_response_to(&login.request_id)
                    .name_id(&format!("load-{i}@example.org"))
                    .build(Sign::Both, &signer);
                Prepared {
                    cookie,
                    relay_state: login.relay_state,
                    saml_response: encode(&xml),
                    xml,
                }
            })
            .collect()
    })
}

/// What the timed part saw.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Latency of every success ([`Mode::success`]: a sign-in's 303, an issue's 200).
    pub latencies: Vec<Duration>,
    /// Latency of every 503 (overload shed, or a dependency unavailable): reported apart, so
    /// quick refusals neither hide nor inflate the successes' latency.
    pub shed_latencies: Vec<Duration>,
    /// Answers by status; `0` stands for no answer (timeout, reset, refused).
    pub statuses: BTreeMap<u16, u64>,
    /// From the first scheduled send to the last answer.
    pub elapsed: Duration,
    pub sent: usize,
}

/// Collects a timed part's answers as they come, from any of its tasks.
#[derive(Clone)]
pub struct Recorder {
    outcome: Arc<Mutex<Outcome>>,
    start: Instant,
    success: u16,
}

impl Recorder {
    /// Starts the clock: `elapsed` counts from here. `success` is the status that counts as done.
    pub fn new(success: u16) -> Recorder {
        Recorder {
            outcome: Arc::default(),
            start: Instant::now(),
            success,
        }
    }

    pub fn start(&self) -> Instant {
        self.start
    }

    pub fn record(&self, status: u16, latency: Duration) {
        let mut r = self.outcome.lock().unwrap();
        r.sent += 1;
        *r.statuses.entry(status).or_default() += 1;
        if status == self.success {
            r.latencies.push(latency);
        } else if status == 503 {
            r.shed_latencies.push(latency);
        }
        r.elapsed = r.elapsed.max(self.start.elapsed());
    }

    /// What was recorded, latencies sorted.
    pub fn finish(self) -> Outcome {
        let mut outcome = std::mem::take(&mut *self.outcome.lock().unwrap());
        outcome.latencies.sort();
        outcome.shed_latencies.sort();
        outcome
    }
}

async fn post(http: &reqwest::Client, base: &str, p: &Prepared) -> u16 {
    let sent = http
        .post(format!("{base}/saml/acs"))
        .header(reqwest::header::COOKIE, &p.cookie)
        .form(&[
            ("SAMLResponse", p.saml_response.as_str()),
            ("RelayState", p.relay_state.as_str()),
        ])
        .send()
        .await;
    status_of(sent).await
}

/// The answer's status, its body read to the end so the connection can be reused; `0` for no
/// answer.
pub async fn status_of(sent: reqwest::Result<reqwest::Response>) -> u16 {
    match sent {
        Ok(resp) => {
            let status = resp.status().as_u16();
            resp.bytes().await.ok();
            status
        }
        Err(_) => 0,
    }
}

/// Fires `prepared` at the ACS of `base` in `mode` (open or closed loop), for at most `limit`.
pub async fn fire(base: &str, prepared: Vec<Prepared>, mode: Mode, limit: Duration) -> Outcome {
    let prepared = Arc::new(prepared);
    let recorder = Recorder::new(mode.success());
    let start = recorder.start();
    match mode {
        Mode::Open(rate) => {
            let http = client(64);
            let mut tasks = Vec::new();
            for i in 0..prepared.len() {
                let scheduled = start + Duration::from_secs_f64(i as f64 / rate);
                if scheduled - start > limit {
                    break;
                }
                tokio::time::sleep_until(scheduled.into()).await;
                let (http, prepared, base, recorder) = (
                    http.clone(),
                    prepared.clone(),
                    base.to_string(),
                    recorder.clone(),
                );
                tasks.push(tokio::spawn(async move {
                    let status = post(&http, &base, &prepared[i]).await;
                    recorder.record(status, scheduled.elapsed());
                }));
            }
            for t in tasks {
                t.await.unwrap();
            }
        }
        Mode::Closed(connections) => {
            let next = Arc::new(AtomicUsize::new(0));
            let tasks: Vec<_> = (0..connections)
                .map(|_| {
                    // One client each: one connection each, kept alive.
                    let http = client(1);
                    let (prepared, base, recorder, next) = (
                        prepared.clone(),
                        base.to_string(),
                        recorder.clone(),
                        next.clone(),
                    );
                    tokio::spawn(async move {
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            if i >= prepared.len() || start.elapsed() > limit {
                                break;
                            }
                            let sent = Instant::now();
                            let status = post(&http, &base, &prepared[i]).await;
                            recorder.record(status, sent.elapsed());
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
        }
        Mode::Issue(_) => panic!("the issue load is fired by issue::fire, not at the ACS"),
    }
    recorder.finish()
}
