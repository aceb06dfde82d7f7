//! The load: people signing in through HAProxy with Responses the forge IdP signed beforehand,
//! then taking credentials and a console link. Every answer is classified and counted; every
//! AccessKeyId a client received is kept, to be matched against the audit log afterwards.

use crate::forge::{FORGE_ENTITY_ID, Forge, Sign, SpTarget, encode, signer};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The grant FORGE_RULES give members of `aws-admins`.
pub const GRANT: &str = "123456789012-Admin";

/// How long a client waits for any answer before it counts as a hang.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(20);

/// `n` IdP-initiated Responses for distinct people, signed now (before the timed part), as
/// `SAMLResponse` form values addressed to the fleet's public URL.
pub fn sign_responses(public_url: &str, tag: &str, n: usize) -> Vec<String> {
    let sp = SpTarget {
        entity_id: format!("{public_url}/saml/metadata"),
        acs_url: format!("{public_url}/saml/acs"),
    };
    let now = roleport::clock::Clock::system().now();
    let signer = signer();
    (0..n)
        .map(|i| {
            let forge =
                Forge::new(FORGE_ENTITY_ID, &sp, now).name_id(&format!("{tag}-{i}@example.org"));
            encode(&forge.build(Sign::Response, &signer))
        })
        .collect()
}

/// What one request step is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Step {
    SignIn,
    Roles,
    Credentials,
    Console,
}

impl Step {
    pub fn name(self) -> &'static str {
        match self {
            Step::SignIn => "sign-in",
            Step::Roles => "roles page",
            Step::Credentials => "credentials",
            Step::Console => "console link",
        }
    }
}

/// How an answer looked to the client.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Answer {
    Ok,
    /// Roleport's own 503: a problem JSON or page naming its reference.
    Roleport503,
    /// HAProxy's answer (no replica up, or one died mid-request), with its `LB…` reference.
    Balancer(u16),
    /// A kept-alive connection closed without an answer because the replica holding the
    /// request died: HAProxy's signal to retry, which the client then does once.
    ClosedForRetry,
    /// A 5xx without a reference id: neither Roleport's nor HAProxy's promised shape.
    Unclear(u16),
    /// Any other status where success was expected.
    Unexpected(u16),
    /// No HTTP answer at all: reset, refused, or no answer within [`CLIENT_TIMEOUT`].
    Transport(String),
}

impl Answer {
    pub fn label(&self) -> String {
        match self {
            Answer::Ok => "ok".into(),
            Answer::Roleport503 => "503 from Roleport (reference)".into(),
            Answer::Balancer(s) => format!("{s} from HAProxy (reference)"),
            Answer::ClosedForRetry => "closed for a retry".into(),
            Answer::Unclear(s) => format!("{s} without reference"),
            Answer::Unexpected(s) => format!("unexpected {s}"),
            Answer::Transport(e) => format!("no answer: {e}"),
        }
    }

    /// What the fleet promises for every answer: success, or a clear 503 (502/504 from the
    /// balancer when a replica died holding the request) with a reference id. A close for a
    /// retry is checked apart: only a killed replica may cause it.
    pub fn is_clear(&self) -> bool {
        matches!(
            self,
            Answer::Ok | Answer::Roleport503 | Answer::Balancer(_) | Answer::ClosedForRetry
        )
    }
}

/// The reference id in a problem JSON (`reference`) or an error page (`<code id="reference">`).
pub fn reference_of(body: &str) -> Option<String> {
    if let Ok(json) = serde_json::from_str::<serde_json::Value>(body) {
        return json["reference"].as_str().map(str::to_string);
    }
    let re = regex::Regex::new(r#"<code id="reference">([A-Za-z0-9]+)</code>"#).unwrap();
    re.captures(body).map(|c| c[1].to_string())
}

pub fn classify(status: u16, body: &str, expected: &[u16]) -> Answer {
    if expected.contains(&status) {
        return Answer::Ok;
    }
    let reference = reference_of(body);
    match (status, reference) {
        (502..=504, Some(r)) if r.starts_with("LB") => Answer::Balancer(status),
        (503, Some(_)) => Answer::Roleport503,
        (500..=599, None) => Answer::Unclear(status),
        (s, _) => Answer::Unexpected(s),
    }
}

/// A handed-out credential: its AccessKeyId and how it left.
#[derive(Debug, Clone)]
pub struct HandedOut {
    pub access_key_id: String,
    pub via: Step,
}

/// Everything the clients saw, per phase.
#[derive(Default)]
pub struct Tally {
    /// (phase, step, answer) → count.
    pub counts: BTreeMap<(String, Step, Answer), u64>,
    /// Per phase: when the first and the last answer other than `Ok` came.
    pub error_window: BTreeMap<String, (Instant, Instant)>,
    pub handed_out: Vec<HandedOut>,
    /// A few bodies of answers that were not clear, for the failure message.
    pub unclear_samples: Vec<String>,
}

impl Tally {
    fn record(&mut self, phase: &str, step: Step, answer: Answer, sample: impl FnOnce() -> String) {
        if answer != Answer::Ok {
            let now = Instant::now();
            self.error_window
                .entry(phase.to_string())
                .and_modify(|w| w.1 = now)
                .or_insert((now, now));
        }
        if !answer.is_clear() && self.unclear_samples.len() < 10 {
            self.unclear_samples.push(sample());
        }
        *self
            .counts
            .entry((phase.to_string(), step, answer))
            .or_default() += 1;
    }
}

/// The fake federation endpoint's record: SigninToken → the AccessKeyId in its Session.
pub type TokenKeys = Arc<Mutex<HashMap<String, String>>>;

/// Sends `request`; the answer as the client saw it, and the body (or the error).
async fn attempt(request: reqwest::RequestBuilder, expected: &[u16]) -> (Answer, String) {
    match request.send().await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            let body = resp.text().await.unwrap_or_default();
            (classify(status, &body, expected), body)
        }
        Err(e) => {
            let detail = format!("{e:?}");
            let kind = if e.is_timeout() {
                "timeout"
            } else if e.is_connect() {
                "connect"
            } else if detail.contains("IncompleteMessage") {
                "closed"
            } else {
                "reset"
            };
            (Answer::Transport(kind.into()), detail)
        }
    }
}

/// One person's visit through `base`: sign in, read the roles page for its CSRF token, take
/// credentials, take a console link. Stops at the first step that fails. Returns whether every
/// step succeeded, and the cookie-keeping client (signed in if it did).
pub async fn visit(
    base: &str,
    response: &str,
    phase: &str,
    tally: &Mutex<Tally>,
    tokens: &TokenKeys,
) -> (bool, reqwest::Client) {
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(CLIENT_TIMEOUT)
        .pool_idle_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let ok = visit_with(&client, base, response, phase, tally, tokens).await;
    (ok, client)
}

async fn visit_with(
    client: &reqwest::Client,
    base: &str,
    response: &str,
    phase: &str,
    tally: &Mutex<Tally>,
    tokens: &TokenKeys,
) -> bool {
    let record = |step: Step, answer: &Answer, body: &str| {
        tally
            .lock()
            .unwrap()
            .record(phase, step, answer.clone(), || {
                format!(
                    "{} → {}: {}",
                    step.name(),
                    answer.label(),
                    &body[..body.len().min(400)]
                )
            });
    };
    let send = |step: Step, request: reqwest::RequestBuilder, expected: &'static [u16]| async move {
        let again = request.try_clone();
        let (mut answer, mut body) = attempt(request, expected).await;
        // HAProxy closes a kept-alive client connection without an answer when the replica
        // holding its request died, so that the client retries, as browsers do once. So does
        // this client; the close is counted on its own. (A sign-in is a connection's first
        // request: HAProxy answers that one with a 502.)
        if let (Answer::Transport(kind), Some(again)) = (&answer, again)
            && kind == "closed"
            && step != Step::SignIn
        {
            record(step, &Answer::ClosedForRetry, &body);
            (answer, body) = attempt(again, expected).await;
        }
        record(step, &answer, &body);
        (answer == Answer::Ok).then_some(body)
    };

    let sign_in = client
        .post(format!("{base}/saml/acs"))
        .header("Accept", "text/html")
        .form(&[("SAMLResponse", response)]);
    if send(Step::SignIn, sign_in, &[303]).await.is_none() {
        return false;
    }
    let roles = client
        .get(format!("{base}/roles"))
        .header("Accept", "text/html");
    let Some(page) = send(Step::Roles, roles, &[200]).await else {
        return false;
    };
    let csrf = regex::Regex::new(r#"<meta name="csrf-token" content="([^"]+)""#)
        .unwrap()
        .captures(&page)
        .map(|c| c[1].to_string())
        .unwrap_or_else(|| panic!("no CSRF token on the roles page:\n{page}"));

    let credentials = client
        .post(format!("{base}/api/v1/credentials"))
        .header("Accept", "application/json")
        .header("X-CSRF-Token", &csrf)
        .json(&serde_json::json!({ "grant": GRANT }));
    let Some(body) = send(Step::Credentials, credentials, &[200]).await else {
        return false;
    };
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    let key = json["AccessKeyId"].as_str().unwrap().to_string();
    tally.lock().unwrap().handed_out.push(HandedOut {
        access_key_id: key,
        via: Step::Credentials,
    });

    let console = client
        .post(format!("{base}/api/v1/console"))
        .header("Accept", "application/json")
        .header("X-CSRF-Token", &csrf)
        .json(&serde_json::json!({ "grant": GRANT, "destination": "s3/home" }));
    let Some(body) = send(Step::Console, console, &[200]).await else {
        return false;
    };
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    let url = url::Url::parse(json["url"].as_str().unwrap()).unwrap();
    let token = url
        .query_pairs()
        .find(|(k, _)| k == "SigninToken")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    let key = tokens
        .lock()
        .unwrap()
        .get(&token)
        .cloned()
        .unwrap_or_else(|| {
            panic!(
                "a console link with a SigninToken the federation endpoint never issued: {token}"
            )
        });
    tally.lock().unwrap().handed_out.push(HandedOut {
        access_key_id: key,
        via: Step::Console,
    });
    true
}

/// A bounded load through `base`: `workers` people at a time, each pausing `pause` between
/// visits, until `stop` is set or the signed Responses run out.
pub struct Load {
    pub base: String,
    pub phase: String,
    pub responses: Arc<Mutex<Vec<String>>>,
    pub workers: usize,
    pub pause: Duration,
    pub stop: Arc<AtomicBool>,
    pub tally: Arc<Mutex<Tally>>,
    pub tokens: TokenKeys,
}

impl Load {
    pub async fn run(self) {
        let this = Arc::new(self);
        let mut handles = Vec::new();
        for _ in 0..this.workers {
            let this = this.clone();
            handles.push(tokio::spawn(async move {
                while !this.stop.load(Ordering::SeqCst) {
                    let Some(response) = this.responses.lock().unwrap().pop() else {
                        break;
                    };
                    visit(
                        &this.base,
                        &response,
                        &this.phase,
                        &this.tally,
                        &this.tokens,
                    )
                    .await;
                    tokio::time::sleep(this.pause).await;
                }
            }));
        }
        for h in handles {
            h.await.unwrap();
        }
    }
}
