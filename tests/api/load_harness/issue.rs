//! The credential-issue load (`issue:N`). Before the timed part: one person per connection signs
//! in through the ACS as the sign-in loads do (a pending login over HTTP, a Response the forge
//! signed, the POST), keeps the session's cookies, and reads its CSRF token from the roles page,
//! as the browser's script does. The timed part: N connections, each asking
//! `POST /api/v1/credentials` for the Admin grant the forge's rules give its session as soon as
//! the last answer came (closed loop), until the count or the time bound. Every issue is a real
//! one: rules re-checked, AssumeRoleWithSAML to the emulator, audit row committed.

use super::fire::{Outcome, Prepared, Recorder};
use crate::fleet::load::GRANT;
use reqwest::cookie::Jar;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How long one request may take before it counts as a transport failure.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A signed-in browser: its cookies (in its client, which keeps one connection) and the
/// session's CSRF token.
pub struct Session {
    http: reqwest::Client,
    csrf: String,
}

/// Completes each prepared login at `base` (the ACS answers 303) and reads the session's CSRF
/// token. Panics on anything else: without sessions there is no load to measure.
pub async fn sign_in(base: &str, prepared: Vec<Prepared>) -> Vec<Session> {
    let url = reqwest::Url::parse(base).unwrap();
    let csrf_meta = regex::Regex::new(r#"<meta name="csrf-token" content="([^"]+)""#).unwrap();
    let mut sessions = Vec::with_capacity(prepared.len());
    for p in prepared {
        // The pending login's cookies go in the jar; the ACS's answer replaces them with the
        // session's, as in a browser.
        let jar = Arc::new(Jar::default());
        for cookie in p.cookie.split("; ").filter(|c| !c.is_empty()) {
            jar.add_cookie_str(cookie, &url);
        }
        let http = reqwest::Client::builder()
            .cookie_provider(jar)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(REQUEST_TIMEOUT)
            .pool_max_idle_per_host(1)
            .build()
            .unwrap();
        let resp = http
            .post(format!("{base}/saml/acs"))
            .form(&[
                ("SAMLResponse", p.saml_response.as_str()),
                ("RelayState", p.relay_state.as_str()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 303, "sign-in before the issue load");
        let page = http
            .get(format!("{base}/roles"))
            .header("Accept", "text/html")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let csrf = csrf_meta
            .captures(&page)
            .map(|c| c[1].to_string())
            .unwrap_or_else(|| panic!("no CSRF token on the roles page:\n{page}"));
        sessions.push(Session { http, csrf });
    }
    sessions
}

async fn issue(base: &str, session: &Session) -> u16 {
    let sent = session
        .http
        .post(format!("{base}/api/v1/credentials"))
        .header("Accept", "application/json")
        .header("X-CSRF-Token", &session.csrf)
        .json(&serde_json::json!({ "grant": GRANT }))
        .send()
        .await;
    super::fire::status_of(sent).await
}

/// One task per session, each issuing for its own session; at most `count` issues in all and
/// none started after `limit`.
pub async fn fire(base: &str, sessions: Vec<Session>, count: usize, limit: Duration) -> Outcome {
    let recorder = Recorder::new(200);
    let start = recorder.start();
    let next = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = sessions
        .into_iter()
        .map(|session| {
            let (base, recorder, next) = (base.to_string(), recorder.clone(), next.clone());
            tokio::spawn(async move {
                while next.fetch_add(1, Ordering::Relaxed) < count && start.elapsed() <= limit {
                    let sent = Instant::now();
                    let status = issue(&base, &session).await;
                    recorder.record(status, sent.elapsed());
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    recorder.finish()
}
