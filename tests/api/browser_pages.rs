//! Every page the portal renders beyond the picker's walk (browser_portal.rs) and the admin pages
//! (admin_browser.rs), in headless Chromium at 390 px and 1280 px (tests/browser/pages.mjs): the
//! console bookmark's confirm page, the "credentials gone" page, Check, the AWS sign-in POST page,
//! the decode support page, the CLI's consent and device pages, the sign-out confirm and signed-out
//! pages, error pages signed in and out, "your session has ended", and the no-roles page. axe-core
//! runs on each (the script fails on any violation); each is saved under
//! `target/tmp/pages-screens/w<width>/`. Then without JavaScript: a star by its form post, and a
//! rules document dry-run and imported from a chosen file.
//!
//! Every GET page of the app and the test that checks it with axe-core:
//!
//! | page | test |
//! |---|---|
//! | `/login` | browser_portal |
//! | `/login/{idp}` error | here (`error-signed-out`) |
//! | `/roles` (picker, filtered, favourite, More) | browser_portal |
//! | `/roles` with no roles | here (`no-roles`) |
//! | `/roles/{grant}/console` (confirm) | here (`console-confirm`); its 404 in browser_portal |
//! | `/roles/{grant}/credentials/{id}` | browser_portal; shown again: here (`credentials-gone`) |
//! | `POST /roles/{grant}/check` | here (`check`) |
//! | `POST /roles/{grant}/saml-post` | here (`saml-post`) |
//! | `/support/decode` (form, refused message, decoded) | here (`decode`, `decode-problem`; `decoded` in its own test, with Roleport's own credentials) |
//! | `/access` | browser_portal |
//! | `/oauth/authorize` | here (`cli-authorize`) |
//! | `/device` (code, confirm, done) | here (`device`, `device-confirm`, `device-done`) |
//! | `/logout` (confirm; signed out) | here (`sign-out-confirm`, `signed-out`) |
//! | an ended session's form | here (`session-ended`) |
//! | `/admin/…` (every page, and the 403) | admin_browser |
//! | `/roles/{grant}/console` followed to the console, `/saml/acs` auto-post | browser (signin, console) |

use crate::aws_harness::*;
use crate::browser::{assert_nothing_went_wrong, browser_federation, run_script, script_json};
use crate::helpers::*;
use serde_json::Value;
use std::path::PathBuf;

const DEMO_RULES: &str = include_str!("../../deploy/demo/rules.yaml");

fn screens(mode: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("pages-screens")
        .join(format!("w{mode}"))
}

async fn demo_app() -> (TestApp, FakeServer, crate::browser::BrowserFederation) {
    let sts = recording_sts().await;
    let federation = browser_federation().await;
    let app = spawn_app_with(Options {
        rules_yaml: DEMO_RULES.to_string(),
        aws: Some(aws_settings(&sts.url, Some(&federation.server.url))),
        ..Options::default()
    })
    .await;
    (app, sts, federation)
}

fn page<'a>(run: &'a Value, name: &str) -> &'a Value {
    run["pages"]
        .as_array()
        .expect("pages")
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no page {name} in {run}"))
}

async fn pages_at(width: u32) {
    let (app, _sts, _federation) = demo_app().await;
    let dir = screens(&width.to_string());
    let (out, took) = run_script(
        "pages.mjs",
        vec![
            app.address.clone(),
            dir.display().to_string(),
            width.to_string(),
        ],
    )
    .await;
    let run = script_json(&format!("pages.mjs at {width} px"), &out, took);
    assert_nothing_went_wrong(&run);

    let names: Vec<&str> = run["pages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "console-confirm",
            "credentials-gone",
            "check",
            "saml-post",
            "decode",
            "decode-problem",
            "cli-authorize",
            "device",
            "device-confirm",
            "device-done",
            "error-destination",
            "sign-out-confirm",
            "signed-out",
            "session-ended",
            "error-signed-out",
            "no-roles",
        ]
    );
    // Nothing scrolls sideways; every page of a live session keeps the header with the person
    // and Sign out, and the pages after it keep neither.
    let signed_out = [
        "signed-out",
        "session-ended",
        "error-signed-out",
        "saml-post",
    ];
    for p in run["pages"].as_array().unwrap() {
        let name = p["name"].as_str().unwrap();
        assert!(
            p["overflow"].as_i64().unwrap() <= 0,
            "{name} is wider than {width} px: {p}"
        );
        let shot = std::fs::read(p["shot"].as_str().unwrap()).unwrap();
        assert!(shot.starts_with(b"\x89PNG\r\n\x1a\n"), "{name}");
        assert_eq!(
            u32::from_be_bytes(shot[16..20].try_into().unwrap()),
            width,
            "{name}"
        );
        if signed_out.contains(&name) {
            assert_eq!(p["header_sign_out"], false, "{name}: {p}");
        } else {
            // The sign-out confirm page is itself the Sign out button (in the page, not twice).
            assert_eq!(
                p["header_sign_out"],
                name != "sign-out-confirm",
                "{name}: {p}"
            );
            // The same name on every page, as the picker's header shows it.
            let who = if name == "no-roles" {
                "Carol Example"
            } else {
                "Alice Example"
            };
            assert_eq!(p["header_person"], who, "{name}: {p}");
        }
    }

    // The bookmark with a #fragment was accepted and is shown on its confirm page.
    assert_eq!(page(&run, "console-confirm")["destination"], true);
    // Shown once: the reload is a 410 that offers new credentials, with a way back.
    let gone = page(&run, "credentials-gone");
    assert_eq!(gone["status"], 410, "{gone}");
    assert!(gone["reference"].is_string(), "{gone}");
    // Check named the role's session.
    let check = page(&run, "check");
    assert!(
        check["text"]
            .as_str()
            .unwrap()
            .contains("assumed-role/ReadOnly"),
        "{check}"
    );
    assert_eq!(page(&run, "decode-problem")["problem"], 1);
    assert_eq!(page(&run, "decode-problem")["status"], 400);
    let confirm = page(&run, "device-confirm");
    assert!(
        confirm["user_code"].as_str().unwrap().len() >= 8,
        "{confirm}"
    );
    assert!(
        page(&run, "device-done")["done"]
            .as_str()
            .unwrap()
            .contains("The CLI is signed in"),
        "{run}"
    );
    // Error pages name a reference and lead back.
    for (name, status, back) in [
        ("error-destination", 400, "/roles"),
        ("session-ended", 401, "/login"),
        ("error-signed-out", 404, "/login"),
    ] {
        let p = page(&run, name);
        assert_eq!(p["status"], status, "{name}: {p}");
        assert!(p["reference"].is_string(), "{name}: {p}");
        assert_eq!(p["back"], back, "{name}: {p}");
    }
    assert_eq!(page(&run, "signed-out")["h1"], "You are signed out");
    assert_eq!(page(&run, "no-roles")["path"], "/roles");
    assert!(page(&run, "no-roles")["reference"].is_string());
}

#[tokio::test]
async fn browser_every_other_page_at_390_px() {
    pages_at(390).await;
}

#[tokio::test]
async fn browser_every_other_page_at_1280_px() {
    pages_at(1280).await;
}

/// Without JavaScript: the star is a form post (303 back to the picker, the role under
/// Favourites, `aria-pressed` flipped, named for its role); a rules file chosen in the dry run
/// form is sent by the form itself (multipart), dry-run and imported, audited like the CLI's.
#[tokio::test]
async fn browser_without_javascript_stars_and_uploads_a_rules_file() {
    let (app, _sts, _federation) = demo_app().await;
    let dir = screens("nojs");
    std::fs::create_dir_all(&dir).unwrap();
    // The demo rules without the SAML read-only rule: alice (aws-readonly too) would lose
    // ReadOnly in demo-prod.
    let readonly_rule = "  - id: readonly\n    description: Members of aws-readonly may look around\n    idp: demo-saml\n    claim: group\n    match: ldap_dn\n    pattern: cn=aws-readonly,ou=groups,dc=example,dc=org\n    roles: [arn:aws:iam::123456789012:role/ReadOnly]\n";
    let proposed = DEMO_RULES.replace(readonly_rule, "");
    assert_ne!(proposed, DEMO_RULES);
    let file = dir.join("proposed-rules.yaml");
    std::fs::write(&file, &proposed).unwrap();
    let (out, took) = run_script(
        "pages.mjs",
        vec![
            app.address.clone(),
            dir.display().to_string(),
            "nojs".into(),
            file.display().to_string(),
        ],
    )
    .await;
    let run = script_json("pages.mjs without JavaScript", &out, took);
    assert_nothing_went_wrong(&run);

    let star = &run["star"];
    assert_eq!(star["before"]["pressed"], "false", "{star}");
    assert_eq!(
        star["before"]["label"],
        "Favourite: Read-only (ReadOnly) in demo-prod"
    );
    assert_eq!(star["after"]["pressed"], "true", "{star}");
    assert_eq!(star["after"]["text"], "★");
    assert_eq!(
        star["favourites"],
        serde_json::json!(["123456789012-ReadOnly"])
    );
    assert_eq!(star["unstarred"]["pressed"], "false", "{star}");
    assert_eq!(star["favourites_after"], 0);
    let stars: Vec<(String,)> = sqlx::query_as("SELECT grant_id FROM favourite_grants")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert!(stars.is_empty(), "{stars:?}");

    let dry_run = run["dry_run"].as_str().unwrap();
    assert!(dry_run.contains("would get different access"), "{dry_run}");
    assert!(dry_run.contains("loses"), "{dry_run}");
    assert!(
        run["imported_notice"]
            .as_str()
            .unwrap()
            .starts_with("Imported"),
        "{run}"
    );
    let events = app.audit_events().await;
    let dry = events
        .iter()
        .find(|e| e["details"]["action"] == "rules.dry_run")
        .expect("dry run row");
    assert_eq!(dry["details"]["source"], "file", "{dry}");
    assert_eq!(dry["subject"], "alice");
    let imported = events
        .iter()
        .find(|e| e["kind"] == "rules_imported" && e["outcome"] == "accepted")
        .expect("rules_imported row");
    assert_eq!(imported["details"]["via"], "admin-page");
    assert_eq!(imported["subject"], "alice");
}

/// The decode support page with a message STS decoded (a fake STS: moto has no
/// DecodeAuthorizationMessage), at both widths: axe-core, no sideways scrolling, the header.
/// In a child process, whose environment holds Roleport's own AWS credentials.
#[tokio::test]
async fn browser_decoded_authorization_message_at_both_widths() {
    use crate::aws_support::{DECODED, ENCODED, OWN_CREDENTIALS, decoding_sts};
    if !in_child_with_env(
        "browser_pages::browser_decoded_authorization_message_at_both_widths",
        OWN_CREDENTIALS,
        &[],
    ) {
        return;
    }
    assert!(DECODED.contains("explicitDeny"));
    let sts = decoding_sts().await;
    let app = spawn_app_with(Options {
        rules_yaml: DEMO_RULES.to_string(),
        aws: Some(aws_settings(&sts.url, None)),
        ..Options::default()
    })
    .await;
    let dir = screens("decoded");
    let (out, took) = run_script(
        "pages.mjs",
        vec![
            app.address.clone(),
            dir.display().to_string(),
            "decoded".into(),
            ENCODED.into(),
        ],
    )
    .await;
    let run = script_json("pages.mjs decoded", &out, took);
    assert_nothing_went_wrong(&run);
    let pages = run["pages"].as_array().unwrap();
    assert_eq!(pages.len(), 2, "{run}");
    for p in pages {
        assert_eq!(p["verdict"], "Denied", "{p}");
        assert!(p["overflow"].as_i64().unwrap() <= 0, "{p}");
        assert_eq!(p["header_person"], "Alice Example", "{p}");
        assert_eq!(p["header_sign_out"], true, "{p}");
    }
}
