//! Abuse resistance: junk on the unauthenticated sign-in routes is refused at the rate limit,
//! counted instead of chained, cannot grow the pending logins or queue for the verification
//! pool without bound, and real sign-ins still complete.

use crate::forge::*;
use crate::helpers::*;
use crate::refusals::*;
use roleport::configuration::RateLimitSettings;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// A browser whose requests come from another loopback address: another client to Roleport.
fn client_from(last_octet: u8) -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, last_octet)))
        .build()
        .unwrap()
}

/// Limits for a test: the relaxed ones with `change` applied, a log window no test outlives.
fn limits(change: impl FnOnce(&mut RateLimitSettings)) -> Option<RateLimitSettings> {
    let mut l = RateLimitSettings {
        log_window_seconds: 3600,
        ..relaxed_limits()
    };
    change(&mut l);
    Some(l)
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

/// `roleport_requests_shed_total{route, reason}`.
fn metric(app: &TestApp, route: &str, reason: &str) -> u64 {
    app.state
        .metrics
        .shed
        .with_label_values(&[route, reason])
        .get()
}

/// base64 of `<samlp:Response/>`: well-formed junk that fails early.
const JUNK: &str = "PHNhbWxwOlJlc3BvbnNlLz4=";

#[tokio::test]
async fn a_client_over_its_rate_gets_429_with_retry_after_and_others_are_unaffected() {
    let app = spawn_app_with(Options {
        rate_limit: limits(|l| {
            l.per_client_burst = 3;
            l.per_client_per_minute = 1;
        }),
        ..forge_options(false)
    })
    .await;
    let flooder = client_from(2);
    for _ in 0..3 {
        let resp = flooder
            .get(format!("{}/login/{FORGE_ID}", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 302);
    }
    let mut references = Vec::new();
    for route in ["/login/forge", "/saml/acs", "/oidc/callback?state=x"] {
        let url = format!("{}{route}", app.address);
        let resp = if route == "/saml/acs" {
            flooder
                .post(url)
                .form(&[("SAMLResponse", JUNK)])
                .send()
                .await
        } else {
            flooder.get(url).send().await
        }
        .unwrap();
        assert_eq!(resp.status(), 429, "{route}");
        assert!(retry_after(&resp) >= 1, "{route}");
        let html = resp.text().await.unwrap();
        assert!(html.contains("Too many"), "{html}");
        references.push(reference_in(&html));
    }
    assert_eq!(metric(&app, "/login/{idp}", "client_rate"), 1);
    assert_eq!(metric(&app, "/saml/acs", "client_rate"), 1);
    assert_eq!(metric(&app, "/oidc/callback", "client_rate"), 1);
    // Nothing refused at the limit reached the database.
    let counters: i64 = sqlx::query_scalar("SELECT count(*) FROM refused_sign_ins")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(counters, 0);
    assert!(app.audit_events().await.is_empty());
    let pending: i64 = sqlx::query_scalar("SELECT count(*) FROM pending_logins")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(pending, 3);

    // Another address, and the pages that are not sign-in routes, are not limited.
    let resp = app.get(&format!("/login/{FORGE_ID}")).await;
    assert_eq!(resp.status(), 302);
    assert_eq!(
        flooder
            .get(format!("{}/login", app.address))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // Logged once per client, route and window (with the first reference), not per request.
    for _ in 0..5 {
        let resp = flooder
            .get(format!("{}/login/{FORGE_ID}", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 429);
    }
    let lines: Vec<_> = log_messages(
        "rate limit: refusing requests (further refusals from this client are counted until the window ends)",
    )
    .into_iter()
    .filter(|l| l["client"] == "127.0.0.2")
    .collect();
    assert_eq!(lines.len(), 3, "one per route: {lines:?}");
    assert_eq!(lines[0]["reference"], references[0].as_str());
    assert_eq!(lines[0]["route"], "/login/{idp}");
    assert_eq!(lines[0]["limit"], "client_rate");
    assert_eq!(metric(&app, "/login/{idp}", "client_rate"), 6);
}

#[tokio::test]
async fn the_global_limit_refuses_every_client_once_spent() {
    let app = spawn_app_with(Options {
        rate_limit: limits(|l| {
            l.global_burst = 2;
            l.global_per_second = 1;
        }),
        ..forge_options(false)
    })
    .await;
    let a = client_from(2);
    let b = client_from(3);
    let statuses = [
        a.post(format!("{}/saml/acs", app.address))
            .form(&[("SAMLResponse", JUNK)])
            .send()
            .await
            .unwrap()
            .status(),
        b.post(format!("{}/saml/acs", app.address))
            .form(&[("SAMLResponse", JUNK)])
            .send()
            .await
            .unwrap()
            .status(),
    ];
    assert_eq!(statuses, [403, 403]);
    // The budget refills at one per second; a burst of further requests meets an empty one.
    let mut refused = 0;
    for _ in 0..20 {
        let resp = a
            .post(format!("{}/saml/acs", app.address))
            .form(&[("SAMLResponse", JUNK)])
            .send()
            .await
            .unwrap();
        if resp.status() == 429 {
            assert!(retry_after(&resp) >= 1);
            refused += 1;
        }
    }
    assert!(refused >= 1, "the global limit refused nothing");
    assert!(metric(&app, "/saml/acs", "global_rate") >= 1);
}

#[tokio::test]
async fn rate_limits_can_be_switched_off() {
    let app = spawn_app_with(Options {
        rate_limit: limits(|l| {
            l.enabled = false;
            l.per_client_burst = 1;
            l.global_burst = 1;
        }),
        ..forge_options(false)
    })
    .await;
    for _ in 0..5 {
        let resp = app.post_acs(JUNK, None).await;
        assert_eq!(resp.status(), 403);
    }
}

#[tokio::test]
async fn unverified_refusals_are_counted_per_minute_reason_idp_and_client_not_chained() {
    let app = spawn_forge_app().await;
    let mut last = String::new();
    for _ in 0..3 {
        let resp = app.post_acs("garbage", None).await;
        assert_eq!(resp.status(), 403);
        last = reference_in(&resp.text().await.unwrap());
    }
    // An unknown InResponseTo under the forge's name.
    let xml = forge_for(&app)
        .in_response_to("_never-issued")
        .build(Sign::Both, &signer());
    let resp = post_acs_as(&app, &app.client, &xml, None).await;
    assert_eq!(resp.status(), 403);
    let unknown = reference_in(&resp.text().await.unwrap());

    assert!(app.audit_events().await.is_empty(), "no chained rows");
    let buckets =
        roleport::db::refusals::since(&app.pool, app.clock.now() - chrono::Duration::hours(1))
            .await
            .unwrap();
    let garbage: Vec<_> = buckets
        .iter()
        .filter(|b| b.reason == "bad_encoding")
        .collect();
    assert_eq!(garbage.len(), 1, "{buckets:?}");
    assert_eq!(garbage[0].count, 3);
    assert_eq!(garbage[0].idp, "unknown");
    assert_eq!(garbage[0].client, "127.0.0.1");
    assert_eq!(garbage[0].last_reference, last);
    // Each refusal still has its log line with the reference and the precise reason.
    assert_counted(&app, &last, "bad_encoding").await;
    assert_counted(&app, &unknown, "in_response_to_unknown").await;
    assert_eq!(
        refusal_line(&unknown)["detail"],
        "InResponseTo names no pending login (unknown, used or expired)"
    );
}

#[tokio::test]
async fn a_verified_identity_refused_keeps_its_full_audit_row() {
    let app = spawn_app_with(forge_options(true)).await;
    let xml = forge_for(&app).build(Sign::Both, &signer());
    assert_eq!(app.post_acs(&encode(&xml), None).await.status(), 303);
    let replay = app.post_acs(&encode(&xml), None).await;
    assert_eq!(replay.status(), 403);
    let reference = reference_in(&replay.text().await.unwrap());
    let row = assert_audited(&app, &reference, "replay").await;
    assert_eq!(row["idp"], FORGE_ID);
    assert_eq!(counted(&app, "replay").await, 0);
}

/// A live request id carried by another browser is audited in full only with a response that
/// verifies; junk that names it is counted as what is wrong with it, and the owner's login
/// stays usable.
#[tokio::test]
async fn another_browser_is_audited_only_with_a_verified_response() {
    let app = spawn_forge_app().await;
    let login = start_login(&app, &app.client).await;
    let attacker = client_from(2);
    let forge = forge_for(&app).in_response_to(&login.request_id);
    let junk = post_acs_as(
        &app,
        &attacker,
        &forge.build(Sign::Nothing, &signer()),
        Some(&login.relay_state),
    )
    .await;
    assert_eq!(junk.status(), 403);
    let reference = reference_in(&junk.text().await.unwrap());
    assert_counted(&app, &reference, "unsigned").await;

    let stolen = post_acs_as(
        &app,
        &attacker,
        &forge.build(Sign::Both, &signer()),
        Some(&login.relay_state),
    )
    .await;
    assert_eq!(stolen.status(), 403);
    let reference = reference_in(&stolen.text().await.unwrap());
    assert_audited(&app, &reference, "in_response_to_other_browser").await;

    let resp = post_acs_as(
        &app,
        &app.client,
        &forge.build(Sign::Both, &signer()),
        Some(&login.relay_state),
    )
    .await;
    assert_eq!(resp.status(), 303, "the owner still signs in");
}

#[tokio::test]
async fn refused_login_starts_are_counted() {
    let app = spawn_forge_app().await;
    let resp = app.get("/login/forge?return_to=https://evil.test/").await;
    assert_eq!(resp.status(), 400);
    let bad_target = reference_in(&resp.text().await.unwrap());
    let resp = app.get("/login/no-such-idp").await;
    assert_eq!(resp.status(), 404);
    let unknown = reference_in(&resp.text().await.unwrap());
    assert!(app.audit_events().await.is_empty());
    let bucket = counter(&app, &bad_target).await.unwrap();
    assert_eq!(
        (bucket.reason.as_str(), bucket.idp.as_str()),
        ("bad_return_to", FORGE_ID)
    );
    let bucket = counter(&app, &unknown).await.unwrap();
    // The caller's IdP name is not a label; it is only in the log line.
    assert_eq!(
        (bucket.reason.as_str(), bucket.idp.as_str()),
        ("unknown_idp", "unknown")
    );
    assert_eq!(log_lines(&unknown)[0]["idp"], "no-such-idp");
}

#[tokio::test]
async fn refusal_counters_stay_bounded_when_addresses_are_many() {
    let app = spawn_app_with(Options {
        rate_limit: limits(|l| l.refusal_clients_per_minute = 1),
        ..forge_options(false)
    })
    .await;
    for octet in 2..=6 {
        let resp = client_from(octet)
            .post(format!("{}/saml/acs", app.address))
            .form(&[("SAMLResponse", "garbage")])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 403);
    }
    let buckets =
        roleport::db::refusals::since(&app.pool, app.clock.now() - chrono::Duration::hours(1))
            .await
            .unwrap();
    let mut clients: Vec<_> = buckets
        .iter()
        .map(|b| (b.client.as_str(), b.count))
        .collect();
    clients.sort();
    // Five addresses, one own counter per minute: whichever minute holds two or more of them
    // (one always does) folds the later ones into `other`.
    assert_eq!(
        buckets.iter().map(|b| b.count).sum::<i64>(),
        5,
        "{buckets:?}"
    );
    assert!(
        clients.iter().any(|(c, _)| *c == "other"),
        "addresses past the cap fold into `other`: {clients:?}"
    );
    // Old minutes are pruned.
    let pruned =
        roleport::db::refusals::prune(&app.pool, app.clock.now() + chrono::Duration::minutes(2))
            .await
            .unwrap();
    assert_eq!(pruned as usize, buckets.len());
}

#[tokio::test]
async fn pending_logins_are_capped_per_client_and_expire() {
    let app = spawn_app_with(Options {
        rate_limit: limits(|l| l.pending_logins_per_client = 3),
        ..forge_options(false)
    })
    .await;
    for _ in 0..3 {
        start_login(&app, &app.client).await;
    }
    let resp = app.get(&format!("/login/{FORGE_ID}")).await;
    assert_eq!(resp.status(), 429);
    let wait = retry_after(&resp);
    assert!(
        (1..=600).contains(&wait),
        "until the oldest expires: {wait}"
    );
    let reference = reference_in(&resp.text().await.unwrap());
    let bucket = counter(&app, &reference).await.unwrap();
    assert_eq!(bucket.reason, "pending_logins_cap");
    assert_eq!(metric(&app, "/login/{idp}", "pending_logins_cap"), 1);
    let pending: i64 = sqlx::query_scalar("SELECT count(*) FROM pending_logins")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(pending, 3, "the table did not grow");

    // Another client is not held back; and once the logins expire, this one may start again.
    start_login(&app, &client_from(2)).await;
    app.clock.advance(chrono::Duration::minutes(11));
    start_login(&app, &app.client).await;
}

#[tokio::test]
async fn pending_saml_and_oidc_logins_share_one_cap() {
    let mut options = Options {
        rate_limit: limits(|l| l.pending_logins_per_client = 2),
        ..Options::default()
    };
    // Starting a sign-in needs only discovery, not a registered client.
    options
        .extra_idps
        .push(demo_oidc_idp("roleport-abuse-cap", Some("unused")));
    let app = spawn_app_with(options).await;
    assert_eq!(app.get("/login/demo-saml").await.status(), 302);
    assert_eq!(app.get("/login/demo-oidc").await.status(), 302);
    let resp = app.get("/login/demo-oidc").await;
    assert_eq!(resp.status(), 429);
    let reference = reference_in(&resp.text().await.unwrap());
    assert_eq!(
        counter(&app, &reference).await.unwrap().reason,
        "pending_logins_cap"
    );
    assert_eq!(app.get("/login/demo-saml").await.status(), 429);
}

#[tokio::test]
async fn a_full_verification_pool_answers_503_at_once() {
    let app = spawn_app_with(Options {
        rate_limit: limits(|l| l.verify_wait_ms = 50),
        ..forge_options(true)
    })
    .await;
    let slots = u32::try_from(app.state.settings.server.blocking_slots).unwrap();
    let held = app
        .state
        .blocking
        .clone()
        .acquire_many_owned(slots)
        .await
        .unwrap();
    let xml = forge_for(&app).build(Sign::Both, &signer());
    let resp = app.post_acs(&encode(&xml), None).await;
    assert_eq!(resp.status(), 503);
    assert!(retry_after(&resp) >= 1);
    let html = resp.text().await.unwrap();
    let reference = reference_in(&html);
    assert!(
        !log_lines(&reference).is_empty(),
        "a log line carries the reference"
    );
    assert_eq!(metric(&app, "/saml/acs", "verify_pool_full"), 1);
    assert_eq!(app.session_count().await, 0);
    // Once a slot is free the same response is verified and accepted (it was not consumed).
    drop(held);
    let resp = app.post_acs(&encode(&xml), None).await;
    assert_eq!(resp.status(), 303);
}

/// The "done" bar: one address floods the ACS with junk while a real SP-initiated
/// sign-in (signed by the forge, verified like any IdP's) completes from another. The flood is
/// bounded (at least 50 and at most 2000 posts, until the sign-in is done).
#[tokio::test]
async fn junk_is_refused_at_the_rate_limit_while_a_real_sign_in_completes() {
    let app = spawn_app_with(Options {
        rate_limit: limits(|l| {
            l.per_client_burst = 5;
            l.per_client_per_minute = 1;
            l.global_burst = 1000;
            l.global_per_second = 100;
        }),
        ..forge_options(false)
    })
    .await;
    let done = Arc::new(AtomicBool::new(false));
    let flood = {
        let done = done.clone();
        let url = format!("{}/saml/acs", app.address);
        tokio::spawn(async move {
            let junk = client_from(9);
            let mut statuses = Vec::new();
            for i in 0..2000 {
                if i >= 50 && done.load(Ordering::SeqCst) {
                    break;
                }
                let resp = junk
                    .post(&url)
                    .form(&[("SAMLResponse", JUNK)])
                    .send()
                    .await
                    .unwrap();
                statuses.push(resp.status().as_u16());
            }
            statuses
        })
    };
    let login = start_login(&app, &app.client).await;
    let xml = forge_for(&app)
        .in_response_to(&login.request_id)
        .build(Sign::Both, &signer());
    let resp = post_acs_as(&app, &app.client, &xml, Some(&login.relay_state)).await;
    done.store(true, Ordering::SeqCst);
    let statuses = flood.await.unwrap();

    assert_eq!(resp.status(), 303, "the real sign-in completed");
    assert_eq!(role_names(&app).await, vec!["Admin"]);
    assert_eq!(last_sign_in(&app).await["outcome"], "accepted");
    let through = statuses.iter().filter(|s| **s != 429).count();
    assert!(statuses.len() >= 50);
    assert_eq!(
        through, 5,
        "only the burst got past the limit: {statuses:?}"
    );
    assert!(statuses.iter().filter(|s| **s != 429).all(|s| *s == 403));
    // The few that got through were counted, not chained; the rest never reached the database.
    let junk_counted: i64 = sqlx::query_scalar(
        "SELECT coalesce(sum(count), 0)::bigint FROM refused_sign_ins WHERE client = '127.0.0.9'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(junk_counted, 5);
    assert_eq!(
        app.audit_events().await.len(),
        1,
        "only the real sign-in is chained"
    );
    assert_eq!(
        metric(&app, "/saml/acs", "client_rate") as usize,
        statuses.len() - 5
    );
}
