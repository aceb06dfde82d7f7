//! Sign-in in a real browser: headless Debian Chromium, driven by `tests/browser/signin.mjs`
//! (playwright-core), through SimpleSAMLphp's real login form and its JavaScript auto-post.
//! `deploy/browser-deps.sh` installs the node side; a missing install fails the test.
//!
//! Screenshots go to the temp dir and are removed after a pass; a failing test keeps them (its
//! message names the path). `BROWSER_TEST_KEEP_SCREENSHOTS=1` keeps them always, and
//! `BROWSER_TEST_STEP_SCREENSHOTS=1` adds the sign-in page and the filled-in IdP form.

use crate::helpers::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
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
            for step in ["failed", "login", "idp"] {
                let _ = std::fs::remove_file(self.0.with_extension(format!("{step}.png")));
            }
        }
    }
}

/// Runs `signin.mjs` and returns its exit status, stdout and stderr, and how long it took.
async fn run_signin(
    app: &TestApp,
    user: &str,
    password: &str,
    shot: &Path,
) -> (std::process::Output, Duration) {
    let dir = browser_dir();
    assert!(
        dir.join("node_modules/playwright-core/package.json")
            .is_file(),
        "{}/node_modules is missing: run `bash deploy/browser-deps.sh` (deploy/test.sh does) to install playwright-core",
        dir.display()
    );
    let args = [
        "signin.mjs".to_string(),
        app.address.clone(),
        user.to_string(),
        password.to_string(),
        shot.display().to_string(),
    ];
    let started = Instant::now();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node").args(&args).current_dir(&dir).output()
    })
    .await
    .expect("join")
    .unwrap_or_else(|e| panic!("cannot run node (Node.js 20 is required): {e}"));
    (out, started.elapsed())
}

/// Runs the browser sign-in and returns the JSON line it printed.
async fn browser_sign_in(app: &TestApp, user: &str, password: &str, shot: &Path) -> Value {
    let (out, took) = run_signin(app, user, password, shot).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "browser sign-in as {user} failed ({}, after {took:.1?}):\n{stderr}\n{stdout}",
        out.status
    );
    assert!(
        took < Duration::from_secs(60),
        "browser sign-in took {took:.1?}"
    );
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .unwrap_or_else(|| panic!("no JSON line from signin.mjs:\n{stdout}\n{stderr}"));
    serde_json::from_str(line).unwrap_or_else(|e| panic!("bad JSON from signin.mjs ({e}): {line}"))
}

fn strings(v: &Value) -> Vec<String> {
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
    let sheets = page["stylesheets"].as_array().expect("stylesheets");
    assert!(
        sheets.iter().any(|s| {
            s["href"]
                .as_str()
                .is_some_and(|h| h.ends_with("/static/roleport.css"))
                && s["rules"].as_i64().unwrap_or(0) > 0
        }),
        "roleport.css did not load or has no rules: {page}"
    );
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
        page["failed_requests"]
            .as_array()
            .is_some_and(|e| e.is_empty()),
        "sub-resources failed: {}",
        page["failed_requests"]
    );

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
