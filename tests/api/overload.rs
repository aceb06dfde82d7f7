//! Overload: the expensive routes take one of a bounded number of slots; the excess is answered
//! 503 at once (problem JSON or page, reference, `Retry-After`, metric, log line), admitted
//! requests still complete, and the server recovers. Overload is built deterministically: the
//! slots are held by sign-ins whose bodies are still arriving (raw TCP, half a body sent), and
//! the tests wait for the slots to be taken rather than for any time to pass.

use crate::forge::*;
use crate::helpers::*;
use crate::load_harness::fire::Prepared;
use crate::refusals::*;
use roleport::configuration::AdmissionSettings;
use roleport::http::admission::Class;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The forge app with `admission` as the only admission settings.
async fn spawn_with(admission: AdmissionSettings) -> TestApp {
    spawn_app_with(Options {
        configure: Some(Box::new(move |s| s.admission = admission)),
        ..forge_options(false)
    })
    .await
}

/// Two sign-in slots, no waiting: the third concurrent sign-in is shed.
fn two_slots() -> AdmissionSettings {
    AdmissionSettings {
        sign_in_in_flight: 2,
        oidc_callback_in_flight: 2,
        issue_in_flight: 2,
        max_waiting: 0,
        max_wait_ms: 0,
        ..AdmissionSettings::default()
    }
}

/// Waits (without a time bound that could fail a slow machine's run, but not forever) until the
/// sign-in gate has `free` slots.
async fn until_free(app: &TestApp, free: usize) {
    for _ in 0..6000 {
        if app.state.admission.gate(Class::SignIn).available() == Some(free) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "the sign-in gate never had {free} free slots (has {:?})",
        app.state.admission.gate(Class::SignIn).available()
    );
}

/// `n` SP-initiated sign-ins started one after another (concurrent starts would meet the
/// bound under test), each in its own browser, with a signed Response for each.
async fn prepare(app: &TestApp, n: usize) -> Vec<Prepared> {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut prepared = Vec::new();
    for i in 0..n {
        let resp = http
            .get(format!("{}/login/{FORGE_ID}", app.address))
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
        let xml = forge_for(app)
            .in_response_to(&login.request_id)
            .name_id(&format!("overload-{i}@example.org"))
            .build(Sign::Both, &signer());
        prepared.push(Prepared {
            cookie,
            relay_state: login.relay_state,
            saml_response: encode(&xml),
            xml,
        });
    }
    prepared
}

fn form_body(p: &Prepared) -> String {
    serde_urlencoded::to_string([
        ("SAMLResponse", p.saml_response.as_str()),
        ("RelayState", p.relay_state.as_str()),
    ])
    .unwrap()
}

/// A sign-in posted over raw TCP with only the first half of its body sent: admitted (its head
/// has arrived), and holding its slot until the rest comes. Returns the connection and the rest.
async fn half_sent(app: &TestApp, p: &Prepared) -> (TcpStream, String) {
    let host = app.address.trim_start_matches("http://");
    let body = form_body(p);
    let mut stream = TcpStream::connect(host).await.unwrap();
    let head = format!(
        "POST /saml/acs HTTP/1.1\r\nHost: {host}\r\nCookie: {}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
        p.cookie,
        body.len()
    );
    let (first, rest) = body.split_at(body.len() / 2);
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(first.as_bytes()).await.unwrap();
    stream.flush().await.unwrap();
    (stream, rest.to_string())
}

/// The status line of the answer on `stream`.
async fn status_of(stream: &mut TcpStream) -> String {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !seen.windows(2).any(|w| w == b"\r\n") {
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "connection closed before an answer");
        seen.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&seen);
    text.lines().next().unwrap_or_default().to_string()
}

async fn post_prepared(app: &TestApp, p: &Prepared) -> reqwest::Response {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{}/saml/acs", app.address))
        .header(reqwest::header::COOKIE, &p.cookie)
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(form_body(p))
        .send()
        .await
        .unwrap()
}

fn retry_after(resp: &reqwest::Response) -> u64 {
    resp.headers()
        .get("retry-after")
        .expect("Retry-After")
        .to_str()
        .unwrap()
        .parse()
        .expect("Retry-After in seconds")
}

fn shed_metric(app: &TestApp, route: &str, reason: &str) -> u64 {
    app.state
        .metrics
        .shed
        .with_label_values(&[route, reason])
        .get()
}

#[tokio::test]
async fn overload_is_answered_503_at_once_admitted_sign_ins_complete_and_the_server_recovers() {
    let app = spawn_with(two_slots()).await;
    let prepared = prepare(&app, 3).await;

    // Two sign-ins take both slots and stay in them while their bodies arrive.
    let mut held = Vec::new();
    for p in &prepared[..2] {
        held.push(half_sent(&app, p).await);
    }
    until_free(&app, 0).await;

    // The third is answered 503 before any work: a page with a reference and Retry-After.
    let resp = post_prepared(&app, &prepared[2]).await;
    assert_eq!(resp.status(), 503);
    assert_eq!(retry_after(&resp), 1);
    let html = resp.text().await.unwrap();
    assert!(html.contains("Please try again"), "{html}");
    let reference = reference_in(&html);
    let lines = log_lines(&reference);
    assert!(
        lines
            .iter()
            .any(|l| l["reason"] == "overload" && l["route"] == "/saml/acs"),
        "a log line names the reference: {lines:?}"
    );
    assert_eq!(shed_metric(&app, "/saml/acs", "overload"), 1);

    // Further shed requests are counted, not logged one by one; an API caller gets problem JSON.
    let token = app
        .client
        .post(format!("{}/oauth/token", app.address))
        .form(&[("grant_type", "authorization_code"), ("code", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), 503);
    assert_eq!(retry_after(&token), 1);
    assert_eq!(
        token.headers()["content-type"].to_str().unwrap(),
        "application/problem+json"
    );
    let problem: serde_json::Value = token.json().await.unwrap();
    assert_eq!(problem["status"], 503);
    let json_reference = problem["reference"].as_str().unwrap().to_string();
    assert!(!json_reference.is_empty());
    assert_eq!(shed_metric(&app, "/oauth/token", "overload"), 1);
    for _ in 0..20 {
        assert_eq!(post_prepared(&app, &prepared[2]).await.status(), 503);
    }
    assert_eq!(shed_metric(&app, "/saml/acs", "overload"), 21);
    assert_eq!(
        log_messages(
            "overload: answering 503 (further requests shed on this route are counted until the log window ends)"
        )
        .iter()
        .filter(|l| l["reference"] == reference.as_str()
            || l["reference"] == json_reference.as_str())
        .count(),
        2,
        "one line per route and window"
    );
    // Routes that are not guarded are served as usual.
    assert_eq!(app.get("/readyz").await.status(), 200);
    // Nothing of the shed sign-ins reached the database.
    assert_eq!(app.session_count().await, 0);

    // The admitted sign-ins complete once their bodies have arrived.
    for (stream, rest) in &mut held {
        stream.write_all(rest.as_bytes()).await.unwrap();
        let status = status_of(stream).await;
        assert!(status.starts_with("HTTP/1.1 303"), "{status}");
    }
    until_free(&app, 2).await;
    assert_eq!(app.session_count().await, 2);

    // And the server has recovered: the sign-in that was shed goes through (it was not used up).
    let resp = post_prepared(&app, &prepared[2]).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(app.session_count().await, 3);
}

#[tokio::test]
async fn a_short_wait_admits_a_request_when_a_slot_comes_free_and_the_queue_is_bounded() {
    let app = spawn_with(AdmissionSettings {
        sign_in_in_flight: 1,
        max_waiting: 1,
        max_wait_ms: 5_000,
        ..two_slots()
    })
    .await;
    let prepared = prepare(&app, 3).await;
    let (mut stream, rest) = half_sent(&app, &prepared[0]).await;
    until_free(&app, 0).await;

    // One request waits for the slot…
    let waiter = {
        let (address, p) = (app.address.clone(), prepared[1].clone());
        tokio::spawn(async move {
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap()
                .post(format!("{address}/saml/acs"))
                .header(reqwest::header::COOKIE, &p.cookie)
                .header(
                    reqwest::header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded",
                )
                .body(form_body(&p))
                .send()
                .await
                .unwrap()
                .status()
        })
    };
    let gate = app.state.admission.gate(Class::SignIn);
    for _ in 0..6000 {
        if gate.waiting() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(gate.waiting(), 1, "the second request waits");

    // …and a third finds the wait full: shed at once, without waiting its 5 s.
    let resp = post_prepared(&app, &prepared[2]).await;
    assert_eq!(resp.status(), 503);
    assert_eq!(retry_after(&resp), 1);
    reference_in(&resp.text().await.unwrap());
    assert_eq!(shed_metric(&app, "/saml/acs", "overload_queue"), 1);
    assert_eq!(shed_metric(&app, "/saml/acs", "overload"), 0);

    // When the slot comes free, the waiting request is admitted and completes.
    stream.write_all(rest.as_bytes()).await.unwrap();
    let status = status_of(&mut stream).await;
    assert!(status.starts_with("HTTP/1.1 303"), "{status}");
    assert_eq!(waiter.await.unwrap(), 303);
    until_free(&app, 1).await;
    assert_eq!(gate.waiting(), 0);
}

#[tokio::test]
async fn a_body_that_stops_arriving_gives_its_slot_back() {
    let app = spawn_with(AdmissionSettings {
        sign_in_in_flight: 1,
        body_timeout_ms: 100,
        ..two_slots()
    })
    .await;
    let prepared = prepare(&app, 2).await;
    let (mut stream, _rest) = half_sent(&app, &prepared[0]).await;
    // The rest never comes: the sign-in is refused as an unreadable body, not held forever.
    let status = status_of(&mut stream).await;
    assert!(status.starts_with("HTTP/1.1 403"), "{status}");
    until_free(&app, 1).await;
    assert_eq!(post_prepared(&app, &prepared[1]).await.status(), 303);
}

#[tokio::test]
async fn a_starved_database_pool_answers_503_with_retry_after() {
    let app = spawn_app_with(Options {
        configure: Some(Box::new(|s| {
            s.database.max_connections = 1;
            s.database.acquire_timeout_ms = 50;
        })),
        ..forge_options(false)
    })
    .await;
    // Background work (the audit sealer, rules reload) may hold the one connection for a moment:
    // take it once it is free.
    let mut held = None;
    for _ in 0..100 {
        if let Ok(conn) = app.state.pool.acquire().await {
            held = Some(conn);
            break;
        }
    }
    let held = held.expect("the pool's one connection");
    let resp = app.get(&format!("/login/{FORGE_ID}")).await;
    assert_eq!(resp.status(), 503);
    assert_eq!(retry_after(&resp), 1);
    let html = resp.text().await.unwrap();
    assert!(html.contains("Please try again"), "{html}");
    reference_in(&html);
    drop(held);
    // Recovered: the next sign-in starts (one retry allowed, should the sealer have taken the
    // connection at that moment).
    let mut status = 0;
    for _ in 0..2 {
        status = app
            .get(&format!("/login/{FORGE_ID}"))
            .await
            .status()
            .as_u16();
        if status == 302 {
            break;
        }
    }
    assert_eq!(status, 302);
}
