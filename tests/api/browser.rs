//! Roleport in a real browser: headless Debian Chromium, driven by the node scripts in
//! `tests/browser/` (playwright-core). `signin.mjs` signs in through SimpleSAMLphp's real login
//! form and its JavaScript auto-post; `credentials.mjs` then takes a role's credentials page (copy
//! buttons, expiry in local time) and its console link, against moto and a fake federation
//! endpoint a browser can follow. `deploy/browser-deps.sh` installs the node side; a missing
//! install fails the test.
//!
//! Screenshots go to the temp dir and are removed after a pass; a failing test keeps them (its
//! message names the path). `BROWSER_TEST_KEEP_SCREENSHOTS=1` keeps them always, and
//! `BROWSER_TEST_STEP_SCREENSHOTS=1` adds the sign-in page and the filled-in IdP form.

use crate::aws_harness::*;
use crate::helpers::*;
use actix_web::HttpResponse;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

/// A screenshot path under the system temp dir, removed when dropped (on success).
struct Screenshot(PathBuf);

impl Screenshot {
    fn new(who: &str) -> Self {
        Self(std::env::temp_dir().join(format!(
            "roleport-browser-{who}-{}.png",
            uuid::Uuid::new_v4().simple()
        )))
    }
}

impl Drop for Screenshot {
    fn drop(&mut self) {
        if !std::thread::panicking() && std::env::var_os("BROWSER_TEST_KEEP_SCREENSHOTS").is_none()
        {
            let _ = std::fs::remove_file(&self.0);
            for step in ["failed", "login", "idp", "roles", "copied", "console"] {
                let _ = std::fs::remove_file(self.0.with_extension(format!("{step}.png")));
            }
        }
    }
}

/// Runs `node <script> <args…>` in tests/browser and returns its exit status, stdout and stderr,
/// and how long it took.
pub(crate) async fn run_script(
    script: &str,
    args: Vec<String>,
) -> (std::process::Output, Duration) {
    let dir = browser_dir();
    assert!(
        dir.join("node_modules/playwright-core/package.json")
            .is_file(),
        "{}/node_modules is missing: run `bash deploy/browser-deps.sh` (deploy/test.sh does) to install playwright-core",
        dir.display()
    );
    let mut argv = vec![script.to_string()];
    argv.extend(args);
    let started = Instant::now();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node").args(&argv).current_dir(&dir).output()
    })
    .await
    .expect("join")
    .unwrap_or_else(|e| panic!("cannot run node (Node.js 20 is required): {e}"));
    (out, started.elapsed())
}

/// The one JSON line a successful script printed. How long it took is in the failure message
/// only: a loaded CI machine makes Chromium slow, and timing is not what these tests check.
pub(crate) fn script_json(script: &str, out: &std::process::Output, took: Duration) -> Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{script} failed ({}, after {took:.1?}):\n{stderr}\n{stdout}",
        out.status
    );
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .unwrap_or_else(|| panic!("no JSON line from {script}:\n{stdout}\n{stderr}"));
    serde_json::from_str(line).unwrap_or_else(|e| panic!("bad JSON from {script} ({e}): {line}"))
}

/// Runs `signin.mjs` and returns its exit status, stdout and stderr, and how long it took.
async fn run_signin(
    app: &TestApp,
    user: &str,
    password: &str,
    shot: &Path,
) -> (std::process::Output, Duration) {
    run_script(
        "signin.mjs",
        vec![
            app.address.clone(),
            user.to_string(),
            password.to_string(),
            shot.display().to_string(),
        ],
    )
    .await
}

/// Runs the browser sign-in and returns the JSON line it printed.
async fn browser_sign_in(app: &TestApp, user: &str, password: &str, shot: &Path) -> Value {
    let (out, took) = run_signin(app, user, password, shot).await;
    script_json(&format!("signin.mjs as {user}"), &out, took)
}

pub(crate) fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap_or_default().to_string())
        .collect()
}

/// The page looked as designed: the auto-post worked, the stylesheet loaded under the CSP and
/// applied, nothing failed to load, and the screenshot is a real PNG of a page-sized image.
fn assert_page_sound(page: &Value, shot: &Path) {
    assert_eq!(
        page["auto_posted"], true,
        "SimpleSAMLphp's POST page did not submit itself: {page}"
    );
    assert_stylesheet_applied(&page["stylesheets"], page);
    assert_nothing_went_wrong(page);
    assert_png(shot);
}

/// roleport.css loaded (under the CSP) and has rules.
fn assert_stylesheet_applied(sheets: &Value, context: &Value) {
    let sheets = sheets.as_array().expect("stylesheets");
    assert!(
        sheets.iter().any(|s| {
            s["href"]
                .as_str()
                .is_some_and(|h| h.ends_with("/static/roleport.css"))
                && s["rules"].as_i64().unwrap_or(0) > 0
        }),
        "roleport.css did not load or has no rules: {context}"
    );
}

/// No console error, CSP violation or failed sub-resource on Roleport's pages.
pub(crate) fn assert_nothing_went_wrong(page: &Value) {
    // Chromium asks for /favicon.ico on its own, and Roleport serves none (a 404 in the console):
    // harmless, so it is the one error let through.
    let console_errors: Vec<String> = strings(&page["console_errors"])
        .into_iter()
        .filter(|e| !e.ends_with("/favicon.ico]"))
        .collect();
    assert!(
        console_errors.is_empty(),
        "browser console errors (CSP?): {console_errors:?}"
    );
    assert!(
        page["csp_violations"]
            .as_array()
            .is_some_and(|v| v.is_empty()),
        "CSP violations: {}",
        page["csp_violations"]
    );
    assert!(
        page["failed_requests"]
            .as_array()
            .is_some_and(|e| e.is_empty()),
        "sub-resources failed: {}",
        page["failed_requests"]
    );
}

/// `shot` is a real PNG of a page-sized image.
pub(crate) fn assert_png(shot: &Path) {
    let png = std::fs::read(shot).unwrap_or_else(|e| panic!("{}: {e}", shot.display()));
    assert!(
        png.len() > 1000 && png.starts_with(b"\x89PNG\r\n\x1a\n") && &png[12..16] == b"IHDR",
        "{} is not a PNG ({} bytes)",
        shot.display(),
        png.len()
    );
    let width = u32::from_be_bytes(png[16..20].try_into().expect("4 bytes"));
    let height = u32::from_be_bytes(png[20..24].try_into().expect("4 bytes"));
    assert!(
        width >= 1000 && height >= 400,
        "screenshot is {width}x{height}"
    );
}

#[tokio::test]
async fn browser_alice_signs_in_through_the_idp_form_and_sees_both_roles() {
    let app = spawn_app().await;
    let shot = Screenshot::new("alice");
    let page = browser_sign_in(&app, "alice", "alicepw", &shot.0).await;

    assert_eq!(page["url"], format!("{}/roles", app.address), "{page}");
    assert_eq!(page["title"], "Your AWS roles · Roleport");
    assert_eq!(strings(&page["accounts"]), vec!["demo-prod"], "{page}");
    assert_eq!(strings(&page["account_ids"]), vec!["123456789012"]);
    let mut roles = strings(&page["roles"]);
    roles.sort();
    assert_eq!(roles, vec!["Admin", "ReadOnly"], "{page}");
    assert_eq!(page["no_roles"], false);
    assert!(page["reference"].is_null(), "{page}");
    let csrf = page["csrf"].as_str().expect("csrf-token meta present");
    assert!(csrf.len() >= 16, "csrf token too short: {csrf:?}");
    assert_page_sound(&page, &shot.0);
    // The header's Sign out button (a POST with the CSRF token) ended the session.
    assert_eq!(page["sign_out"]["landed"], "/logout", "{page}");
    assert_eq!(page["sign_out"]["heading"], "You are signed out", "{page}");
    assert_eq!(page["sign_out"]["sign_in_again"], "/login", "{page}");
    assert_eq!(page["sign_out"]["header_forms"], 0, "{page}");
    assert_eq!(page["sign_out"]["roles_then"], "/login", "{page}");

    // The browser, not a scripted client, made the sign-in: the audit row says so.
    let events = app.audit_events().await;
    let sign_in = events
        .iter()
        .find(|e| e["kind"] == "sign_in")
        .expect("audit row");
    assert_eq!(sign_in["outcome"], "accepted");
    assert_eq!(sign_in["subject"], "alice");
    let ua = sign_in["user_agent"].as_str().unwrap_or_default();
    assert!(ua.contains("Chrome"), "user agent {ua:?}");
}

#[tokio::test]
async fn browser_carol_lands_on_the_no_roles_page_with_a_reference() {
    let app = spawn_app().await;
    let shot = Screenshot::new("carol");
    let page = browser_sign_in(&app, "carol", "carolpw", &shot.0).await;

    assert_eq!(page["url"], format!("{}/roles", app.address), "{page}");
    assert_eq!(page["title"], "No AWS roles · Roleport");
    assert_eq!(page["no_roles"], true, "{page}");
    assert!(strings(&page["roles"]).is_empty(), "{page}");
    assert!(strings(&page["accounts"]).is_empty(), "{page}");
    let reference = page["reference"].as_str().expect("#reference shown");
    assert!(
        reference.len() >= 6
            && reference
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()),
        "reference {reference:?}"
    );
    let csrf = page["csrf"].as_str().expect("csrf-token meta present");
    assert!(!csrf.is_empty());
    assert_page_sound(&page, &shot.0);

    // The sign-in itself was audited as "no roles", from the browser.
    let events = app.audit_events().await;
    assert!(
        events.iter().any(|e| e["kind"] == "sign_in"
            && e["outcome"] == "no_roles"
            && e["subject"] == "carol"
            && e["user_agent"]
                .as_str()
                .is_some_and(|ua| ua.contains("Chrome"))),
        "no browser no_roles audit row for carol: {events:?}"
    );
}

#[tokio::test]
async fn browser_wrong_password_stays_at_the_idp_and_opens_no_session() {
    let app = spawn_app().await;
    let shot = Screenshot::new("mallory");
    let (out, _) = run_signin(&app, "alice", "not-alices-password", &shot.0).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a wrong password signed in");
    assert!(
        stderr.contains("the IdP did not accept alice's login"),
        "unexpected failure: {stderr}"
    );
    assert!(
        shot.0.with_extension("failed.png").is_file(),
        "no screenshot of the IdP's answer"
    );
    assert_eq!(app.session_count().await, 0);
}

// ----- Credentials page and console link -----

const ADMIN: &str = "123456789012-Admin";
const ADMIN_SESSION_ARN: &str =
    "arn:aws:sts::123456789012:assumed-role/Admin/alice@example.org@demo-saml";
/// The browser's time zone for the credentials page: not UTC, with summer time.
const TIME_ZONE: &str = "Europe/Berlin";

/// A console federation endpoint a browser can follow all the way: `getSigninToken` is checked
/// like `fake_federation` does and answers a token (remembered in `tokens`); `Action=login` with a
/// token it issued redirects to the `Destination`, as AWS does; anything else (the console
/// itself) is a small HTML page.
pub(crate) struct BrowserFederation {
    pub(crate) server: FakeServer,
    pub(crate) tokens: Arc<Mutex<Vec<String>>>,
}

pub(crate) async fn browser_federation() -> BrowserFederation {
    let tokens: Arc<Mutex<Vec<String>>> = Arc::default();
    let issued = tokens.clone();
    let server = fake_server(Arc::new(move |r: &Recorded| {
        match r.params.get("Action").map(String::as_str) {
            Some("getSigninToken") => {
                let session: Option<Value> = r
                    .params
                    .get("Session")
                    .and_then(|s| serde_json::from_str(s).ok());
                let keys: Vec<&str> = session
                    .as_ref()
                    .and_then(Value::as_object)
                    .map(|o| o.keys().map(String::as_str).collect())
                    .unwrap_or_default();
                if keys != ["sessionId", "sessionKey", "sessionToken"] {
                    return HttpResponse::BadRequest().body(format!("bad Session keys {keys:?}"));
                }
                let token = format!("token-{}", uuid::Uuid::new_v4().simple());
                issued.lock().unwrap().push(token.clone());
                HttpResponse::Ok().json(serde_json::json!({ "SigninToken": token }))
            }
            Some("login") => {
                let known = r
                    .params
                    .get("SigninToken")
                    .is_some_and(|t| issued.lock().unwrap().contains(t));
                match r.params.get("Destination") {
                    Some(destination) if known => HttpResponse::Found()
                        .insert_header(("Location", destination.as_str()))
                        .finish(),
                    _ => HttpResponse::BadRequest().body("login without a known SigninToken or a Destination"),
                }
            }
            Some(_) => HttpResponse::BadRequest().body("unknown Action"),
            None => HttpResponse::Ok()
                .content_type("text/html; charset=utf-8")
                .body("<!doctype html><title>Fake AWS console</title><h1>Fake AWS console</h1><p>Signed in.</p>"),
        }
    }))
    .await;
    BrowserFederation { server, tokens }
}

/// Europe/Berlin's wall-clock time at `utc` (CET, and CEST from the last Sunday of March to the
/// last Sunday of October, 01:00 UTC each), computed here so the browser's answer is checked
/// against something it did not compute itself.
fn berlin_time(utc: chrono::DateTime<chrono::Utc>) -> chrono::NaiveDateTime {
    use chrono::Datelike;
    let last_sunday_1am = |month: u32| {
        let last = chrono::NaiveDate::from_ymd_opt(utc.year(), month, 31).unwrap();
        let back = last.weekday().num_days_from_sunday();
        (last - chrono::Days::new(back.into()))
            .and_hms_opt(1, 0, 0)
            .unwrap()
            .and_utc()
    };
    let summer = utc >= last_sunday_1am(3) && utc < last_sunday_1am(10);
    (utc + chrono::Duration::hours(if summer { 2 } else { 1 })).naive_utc()
}

/// The one capture of `re` in `text`, or a failure naming the block.
fn capture(re: &str, text: &str, what: &str) -> String {
    regex::Regex::new(re)
        .unwrap()
        .captures(text)
        .unwrap_or_else(|| panic!("{what}: no match for {re} in:\n{text}"))[1]
        .to_string()
}

#[tokio::test]
async fn browser_alice_copies_admin_credentials_that_work_in_her_time_zone() {
    let sts = recording_sts().await;
    let app = spawn_app_with(Options {
        aws: Some(aws_settings(&sts.url, None)),
        ..Options::default()
    })
    .await;
    let shot = Screenshot::new("credentials");
    let (out, took) = run_script(
        "credentials.mjs",
        vec![
            app.address.clone(),
            "alice".into(),
            "alicepw".into(),
            ADMIN.into(),
            TIME_ZONE.into(),
            shot.0.display().to_string(),
        ],
    )
    .await;
    let run = script_json("credentials.mjs", &out, took);
    let page = &run["credentials"];

    // The page: reached through the Admin row's button, styled, its script loaded, nothing failed.
    assert_eq!(run["auto_posted"], true, "{run}");
    assert_eq!(page["status"], 200, "{page}");
    // POST → 303 → the one-time page; its reload shows no keys and offers to issue again.
    assert_eq!(page["post_status"], 303, "{page}");
    assert!(
        page["url"]
            .as_str()
            .is_some_and(|u| u.starts_with(&format!("{}/roles/{ADMIN}/credentials/", app.address))),
        "{page}"
    );
    assert!(
        page["countdown"]
            .as_str()
            .is_some_and(|c| c.contains("expires in")),
        "{page}"
    );
    let reloaded = &run["reloaded"];
    assert_eq!(reloaded["status"], 410, "{reloaded}");
    assert_eq!(reloaded["shell_blocks"], 0, "{reloaded}");
    assert_eq!(reloaded["issue_again"], 1, "{reloaded}");
    assert!(
        strings(&reloaded["console_errors"])
            .iter()
            .all(|e| e.contains("status of 410 (Gone)")),
        "{reloaded}"
    );
    assert!(
        page["title"]
            .as_str()
            .is_some_and(|t| t.starts_with("Credentials for Administrator (Admin)")),
        "{page}"
    );
    assert_eq!(page["assumed_role"], ADMIN_SESSION_ARN);
    assert_eq!(page["secure_context"], true, "the clipboard needs one");
    assert!(
        strings(&page["scripts"])
            .iter()
            .any(|s| s == &format!("{}/static/roleport.js", app.address)),
        "{page}"
    );
    assert_stylesheet_applied(&page["stylesheets"], page);
    assert_nothing_went_wrong(&run);
    assert_png(&shot.0);

    // The four formats carry the same credentials and the same expiry.
    let block = |id: &str| {
        page["blocks"][id]
            .as_str()
            .unwrap_or_else(|| panic!("no #{id} block: {page}"))
            .to_string()
    };
    let (shell, file, ps, process) = (
        block("shell"),
        block("credentials-file"),
        block("powershell"),
        block("credential-process"),
    );
    let from_shell = [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
    ]
    .map(|v| capture(&format!(r"(?m)^export {v}='([^']+)'$"), &shell, "shell"));
    let from_file = [
        "aws_access_key_id",
        "aws_secret_access_key",
        "aws_session_token",
    ]
    .map(|v| capture(&format!(r"(?m)^{v} = (\S+)$"), &file, "credentials file"));
    let from_ps = [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
    ]
    .map(|v| {
        capture(
            &format!(r#"(?m)^\$Env:{v}="([^"`$]+)"$"#),
            &ps,
            "PowerShell",
        )
    });
    let json: Value = serde_json::from_str(process.trim())
        .unwrap_or_else(|e| panic!("credential_process is not JSON ({e}): {process}"));
    assert_eq!(json["Version"], 1, "{json}");
    let from_json = ["AccessKeyId", "SecretAccessKey", "SessionToken"]
        .map(|k| json[k].as_str().unwrap_or_default().to_string());
    assert!(from_shell[0].starts_with("ASIA"), "{shell}");
    assert_eq!(from_file, from_shell, "credentials file vs shell");
    assert_eq!(from_ps, from_shell, "PowerShell vs shell");
    assert_eq!(from_json, from_shell, "credential_process vs shell");
    assert_eq!(
        capture(r"(?m)^\[([^\]]+)\]$", &file, "credentials file"),
        ADMIN,
        "the profile is named after the grant"
    );
    let datetime = page["expiration"]["datetime"].as_str().expect("datetime");
    for (what, text) in [("shell", &shell), ("file", &file), ("PowerShell", &ps)] {
        assert_eq!(
            capture(r"valid until (\S+)", text, what),
            datetime,
            "{what}"
        );
    }
    assert_eq!(json["Expiration"], datetime);
    let [key, secret, token] = &from_shell;

    // They work: moto names alice's Admin session.
    assert_eq!(caller_arn(key, secret, token).await, ADMIN_SESSION_ARN);

    // Every copy button put exactly its block on the clipboard.
    let copies = page["copies"].as_array().expect("copies");
    let copied: Vec<&str> = copies.iter().filter_map(|c| c["block"].as_str()).collect();
    assert_eq!(
        copied,
        [
            "shell",
            "credentials-file",
            "powershell",
            "credential-process"
        ],
        "{page}"
    );
    for c in copies {
        let id = c["block"].as_str().unwrap();
        assert_eq!(c["button"], "Copied", "the copy of #{id} fell back: {c}");
        assert_eq!(c["clipboard"].as_str(), Some(block(id).as_str()), "#{id}");
    }

    // The expiry is shown in the browser's time zone, not as the UTC timestamp it was sent as.
    assert_eq!(page["time_zone"], TIME_ZONE, "the context's time zone");
    let shown = page["expiration"]["text"].as_str().expect("expiry text");
    assert_ne!(shown, datetime, "roleport.js did not convert the expiry");
    let utc = chrono::DateTime::parse_from_rfc3339(datetime)
        .unwrap()
        .with_timezone(&chrono::Utc);
    let local = berlin_time(utc);
    let zone = if local - utc.naive_utc() == chrono::Duration::hours(2) {
        "CEST"
    } else {
        "CET"
    };
    // en-GB, dateStyle "medium" and timeStyle "long": the zone is named, so the two times on the
    // page (local above, UTC in the blocks) cannot be confused.
    let expected = format!("{} {zone}", local.format("%-d %b %Y, %H:%M:%S"));
    assert_eq!(shown, expected, "expiry {datetime} in {TIME_ZONE} (en-GB)");

    // What went to STS obeys AWS's rules.
    let sts_calls = sts.seen.lock().unwrap().clone();
    assert_eq!(sts_calls.len(), 1, "{sts_calls:?}");
    for call in &sts_calls {
        SamlCheck {
            app: &app,
            role_arn: "arn:aws:iam::123456789012:role/Admin",
            session_name: "alice@example.org@demo-saml",
            duration: 3600,
            source_identity: "alice@demo-saml",
            recipient: "https://signin.aws.amazon.com/saml",
            audience: "urn:amazon:webservices",
        }
        .verify(call)
        .await;
    }

    // The issue was audited, from the browser.
    let events = app.audit_events().await;
    let from_chrome = |e: &Value| {
        e["user_agent"]
            .as_str()
            .is_some_and(|ua| ua.contains("Chrome"))
            && e["subject"] == "alice"
            && e["outcome"] == "accepted"
    };
    let issued = events
        .iter()
        .find(|e| e["kind"] == "credentials_issued")
        .expect("credentials_issued row");
    assert!(from_chrome(issued), "{issued}");
    assert_eq!(issued["details"]["access_key_id"], key.as_str());
    assert_eq!(issued["details"]["grant"], ADMIN);
    // The reference on the page is that row's.
    let reference = page["reference"].as_str().expect("#reference");
    let rows = roleport::db::audit::by_reference(&app.pool, reference)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "reference {reference}");
    assert_eq!(
        serde_json::to_value(&rows[0]).unwrap()["details"]["access_key_id"],
        key.as_str()
    );
    let text = serde_json::to_string(&events).unwrap();
    assert!(!text.contains(secret.as_str()) && !text.contains(token.as_str()));
}

#[tokio::test]
async fn browser_alice_opens_the_admin_console_through_the_federation_endpoint() {
    let sts = recording_sts().await;
    let federation = browser_federation().await;
    let fed = federation.server.url.clone();
    let app = spawn_app_with(Options {
        aws: Some(aws_settings(&sts.url, Some(&fed))),
        ..Options::default()
    })
    .await;
    let shot = Screenshot::new("console");
    let (out, took) = run_script(
        "console.mjs",
        vec![
            app.address.clone(),
            "alice".into(),
            "alicepw".into(),
            ADMIN.into(),
            format!("{fed}/console/"),
            shot.0.display().to_string(),
        ],
    )
    .await;
    let run = script_json("console.mjs", &out, took);
    assert_eq!(run["auto_posted"], true, "{run}");
    let hops = run["navigations"].as_array().expect("navigations");
    let hop = |i: usize| -> (String, String, i64) {
        let h = &hops[i];
        (
            h["method"].as_str().unwrap_or_default().to_string(),
            h["url"].as_str().unwrap_or_default().to_string(),
            h["status"].as_i64().unwrap_or(0),
        )
    };

    // The button's POST reached Roleport...
    assert!(!hops.is_empty(), "the click navigated nowhere: {run}");
    assert_eq!(
        (hop(0).0, hop(0).1),
        (
            "POST".to_string(),
            format!("{}/roles/{ADMIN}/console", app.address)
        ),
        "{run}"
    );

    // ...which issued alice's Admin session (what went to STS obeys AWS's rules), audited the
    // console link as the browser's, and traded the session for a sign-in token.
    let calls = federation.server.seen.lock().unwrap().clone();
    let get_token = calls
        .iter()
        .find(|c| c.params.get("Action").map(String::as_str) == Some("getSigninToken"))
        .expect("getSigninToken call");
    assert_eq!(get_token.params["SessionDuration"], "3600");
    let session: Value = serde_json::from_str(&get_token.params["Session"]).unwrap();
    let s = |k: &str| session[k].as_str().unwrap().to_string();
    assert_eq!(
        caller_arn(&s("sessionId"), &s("sessionKey"), &s("sessionToken")).await,
        ADMIN_SESSION_ARN
    );
    let sts_calls = sts.seen.lock().unwrap().clone();
    assert_eq!(sts_calls.len(), 1, "{sts_calls:?}");
    SamlCheck {
        app: &app,
        role_arn: "arn:aws:iam::123456789012:role/Admin",
        session_name: "alice@example.org@demo-saml",
        duration: 3600,
        source_identity: "alice@demo-saml",
        recipient: "https://signin.aws.amazon.com/saml",
        audience: "urn:amazon:webservices",
    }
    .verify(&sts_calls[0])
    .await;
    let events = app.audit_events().await;
    assert!(
        events.iter().any(|e| e["kind"] == "console_link"
            && e["outcome"] == "accepted"
            && e["subject"] == "alice"
            && e["user_agent"]
                .as_str()
                .is_some_and(|ua| ua.contains("Chrome"))),
        "{events:?}"
    );

    // The browser followed: Roleport's 303 to the federation endpoint's login, whose 302 led to
    // the console page the token was for.
    assert_eq!(
        run["reached"],
        true,
        "the browser did not follow Roleport's redirect to the console. Console errors after the \
         click: {}; CSP violations: {}; navigations: {}; it ended at {} (screenshot {})",
        run["console_errors_after_click"],
        run["csp_violations_after_click"],
        run["navigations"],
        run["url"],
        shot.0.display()
    );
    assert_eq!(hops.len(), 3, "{run}");
    assert_eq!(hop(0).2, 303, "{run}");
    let (method, login, status) = hop(1);
    assert_eq!((method.as_str(), status), ("GET", 302), "{login}");
    assert_eq!(hops[0]["location"], login.as_str());
    let login = url::Url::parse(&login).unwrap();
    assert_eq!(
        login.as_str().split('?').next().unwrap(),
        format!("{fed}/federation")
    );
    let q: BTreeMap<String, String> = login.query_pairs().into_owned().collect();
    assert_eq!(q["Action"], "login");
    assert_eq!(q["Issuer"], app.address);
    assert!(
        q["Destination"].starts_with(&format!("{fed}/console/")),
        "{q:?}"
    );
    assert_eq!(
        federation.tokens.lock().unwrap().clone(),
        vec![q["SigninToken"].clone()],
        "the SigninToken is the one the federation endpoint issued"
    );
    assert_eq!(hop(2), ("GET".into(), q["Destination"].clone(), 200));
    assert_eq!(run["url"], q["Destination"].as_str());
    assert_eq!(run["title"], "Fake AWS console");
    assert_nothing_went_wrong(&run);
    assert_png(&shot.0);
}
