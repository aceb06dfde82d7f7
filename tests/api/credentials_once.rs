//! The credentials page issues once per click: POST → audit row → 303 → a GET that shows the
//! set once and deletes it. A reload, another session or a late visit sees a page that offers
//! to issue again, never keys, and reaches no STS.

use crate::aws_harness::*;
use crate::helpers::*;
use regex::Regex;

const READONLY: &str = "123456789012-ReadOnly";

async fn app_with_sts() -> (TestApp, FakeServer) {
    let sts = recording_sts().await;
    let app = spawn_app_with(Options {
        aws: Some(aws_settings(&sts.url, None)),
        ..Options::default()
    })
    .await;
    (app, sts)
}

fn sts_calls(sts: &FakeServer) -> usize {
    sts.seen.lock().unwrap().len()
}

/// Clicks Credentials: the answer is a 303 to the one-time page, whose path is returned.
async fn click_credentials(app: &TestApp) -> String {
    let csrf = app.csrf_token().await;
    let resp = app
        .client
        .post(format!("{}/roles/{READONLY}/credentials", app.address))
        .form(&[("csrf_token", csrf.as_str()), ("duration_seconds", "3600")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303, "{}", resp.text().await.unwrap());
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    assert!(
        location.starts_with(&format!("/roles/{READONLY}/credentials/")),
        "{location}"
    );
    location
}

async fn open(app: &TestApp, location: &str) -> (u16, String) {
    let resp = app
        .client
        .get(format!("{}{location}", app.address))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, html_unescape(&resp.text().await.unwrap()))
}

fn capture(re: &str, html: &str) -> Option<String> {
    Regex::new(re)
        .unwrap()
        .captures(html)
        .map(|c| c[1].to_string())
}

/// The "already shown" page: no keys, a button that POSTs for new ones, a reference whose
/// rejected audit row gives `why`.
async fn assert_gone_page(app: &TestApp, html: &str, why: &str) {
    assert!(
        html.contains("These credentials are no longer shown"),
        "{html}"
    );
    assert!(!html.contains("AWS_ACCESS_KEY_ID"), "{html}");
    assert!(!html.contains("aws_secret_access_key"), "{html}");
    assert!(
        html.contains(&format!(
            r#"<form method="post" action="/roles/{READONLY}/credentials">"#
        )),
        "{html}"
    );
    let rows = roleport::db::audit::by_reference(&app.pool, &reference_in(html))
        .await
        .unwrap();
    let row = serde_json::to_value(&rows[0]).unwrap();
    assert_eq!(row["outcome"], "rejected");
    assert_eq!(
        row["reason"],
        format!("credentials_not_shown: {why}").as_str()
    );
}

const NOT_HERE: &str = "already shown, unknown or another session's";

async fn sealed_rows(app: &TestApp) -> Vec<Vec<u8>> {
    sqlx::query_scalar("SELECT sealed FROM shown_once_credentials")
        .fetch_all(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn the_page_shows_the_set_once_and_a_reload_mints_nothing() {
    let (app, sts) = app_with_sts().await;
    app.sign_in("alice").await;
    let location = click_credentials(&app).await;
    assert_eq!(sts_calls(&sts), 1);
    let sealed = sealed_rows(&app).await;
    assert_eq!(sealed.len(), 1);

    let (status, html) = open(&app, &location).await;
    assert_eq!(status, 200, "{html}");
    let key = capture(r"export AWS_ACCESS_KEY_ID='(\w+)'", &html).expect("shell block");
    let secret = capture(r"export AWS_SECRET_ACCESS_KEY='([^']+)'", &html).expect("secret");
    // The region in each block, the expiry stated and counted down by the script.
    let region = capture(r"export AWS_REGION='([a-z0-9-]+)'", &html).expect("region");
    assert!(
        html.contains(&format!("$Env:AWS_REGION=\"{region}\"")),
        "{html}"
    );
    assert!(html.contains(&format!("region = {region}\n")), "{html}");
    assert!(
        html.contains(&format!("put <code>region = {region}</code>")),
        "{html}"
    );
    let expiry = capture(r#"<time id="expiration" datetime="([^"]+)""#, &html).expect("expiry");
    assert!(
        html.contains(&format!(r#"data-countdown-to="{expiry}""#)),
        "{html}"
    );
    assert!(html.contains("/static/roleport.js"));

    // The set was sealed at rest, and the row is gone once shown.
    assert!(
        !sealed[0]
            .windows(secret.len())
            .any(|w| w == secret.as_bytes())
    );
    assert!(!sealed[0].windows(key.len()).any(|w| w == key.as_bytes()));
    assert!(sealed_rows(&app).await.is_empty());

    // The audit row names the key, never the secret.
    let reference = reference_in(&html);
    let rows = roleport::db::audit::by_reference(&app.pool, &reference)
        .await
        .unwrap();
    let row = serde_json::to_string(&rows).unwrap();
    assert!(row.contains(&key) && !row.contains(&secret), "{row}");

    // A reload: no keys, no STS call, an offer to issue new ones.
    let (status, html) = open(&app, &location).await;
    assert_eq!(status, 410);
    assert_gone_page(&app, &html, NOT_HERE).await;
    assert!(!html.contains(&key) && !html.contains(&secret));
    assert_eq!(sts_calls(&sts), 1, "a reload reaches no STS");
}

#[tokio::test]
async fn another_session_can_neither_open_nor_spend_the_set() {
    let (mut app, sts) = app_with_sts().await;
    app.sign_in("alice").await;
    let location = click_credentials(&app).await;

    // The same person in another browser: a session of its own, without the issuing cookie.
    let issuing = std::mem::replace(&mut app.client, browser());
    app.sign_in("alice").await;
    let (status, html) = open(&app, &location).await;
    assert_eq!(status, 410);
    assert_gone_page(&app, &html, NOT_HERE).await;

    // A stranger without a session is sent to sign in.
    let resp = browser()
        .get(format!("{}{location}", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);

    // The issuing browser still gets its set, once.
    app.client = issuing;
    let (status, html) = open(&app, &location).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("export AWS_ACCESS_KEY_ID="));
    assert_eq!(sts_calls(&sts), 1);
}

#[tokio::test]
async fn unknown_ids_and_another_roles_path_show_no_keys() {
    let (app, _sts) = app_with_sts().await;
    app.sign_in("alice").await;
    let (status, html) = open(&app, &format!("/roles/{READONLY}/credentials/nonesuch")).await;
    assert_eq!(status, 410);
    assert_gone_page(&app, &html, NOT_HERE).await;

    // The id under another grant's path does not open (and is spent: it was asked for).
    let location = click_credentials(&app).await;
    let moved = location.replace(READONLY, "123456789012-Admin");
    let (status, html) = open(&app, &moved).await;
    assert_eq!(status, 410, "{html}");
    assert!(!html.contains("AWS_ACCESS_KEY_ID"), "{html}");
    let rows = roleport::db::audit::by_reference(&app.pool, &reference_in(&html))
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_value(&rows[0]).unwrap()["reason"],
        "credentials_not_shown: asked for under another role"
    );
}

#[tokio::test]
async fn a_set_not_shown_within_five_minutes_is_gone() {
    let (app, sts) = app_with_sts().await;
    app.sign_in("alice").await;
    let location = click_credentials(&app).await;
    app.clock.advance(chrono::Duration::seconds(301));
    let (status, html) = open(&app, &location).await;
    assert_eq!(status, 410);
    assert_gone_page(&app, &html, "expired before it was shown").await;
    assert!(sealed_rows(&app).await.is_empty());
    assert_eq!(sts_calls(&sts), 1);
}
