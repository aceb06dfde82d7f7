//! The portal in a real browser (tests/browser/portal.mjs) at a phone's width (390 px) and a
//! desktop's (1280 px): keyboard use of the role picker, favourites, the More menu, the console
//! with a chosen region and length, credentials, My access, an error page and the signed-out page,
//! with axe-core run on every page (the script fails on any violation). Screenshots of every page
//! are kept under `target/tmp/portal-screens/<width>/` as the run's artifacts.

use crate::aws_harness::*;
use crate::browser::{
    assert_nothing_went_wrong, browser_federation, run_script, script_json, strings,
};
use crate::helpers::*;
use std::path::PathBuf;

const DEMO_RULES: &str = include_str!("../../deploy/demo/rules.yaml");

fn screens(width: u32) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("portal-screens")
        .join(format!("w{width}"))
}

async fn portal_at(width: u32) {
    let sts = recording_sts().await;
    let federation = browser_federation().await;
    let fed = federation.server.url.clone();
    let app = spawn_app_with(Options {
        rules_yaml: DEMO_RULES.to_string(),
        aws: Some(aws_settings(&sts.url, Some(&fed))),
        ..Options::default()
    })
    .await;
    let dir = screens(width);
    let (out, took) = run_script(
        "portal.mjs",
        vec![
            app.address.clone(),
            "alice".into(),
            "alicepw".into(),
            width.to_string(),
            dir.display().to_string(),
            format!("{fed}/console/"),
        ],
    )
    .await;
    let run = script_json(&format!("portal.mjs at {width} px"), &out, took);

    // Every page fits the window: nothing sticks out sideways (the old picker was 803 px wide
    // on a 390 px phone), and signed-in pages keep the header's Sign out.
    let pages = run["pages"].as_object().expect("pages");
    for (name, p) in pages {
        assert!(
            p["overflow"].as_i64().unwrap() <= 0,
            "{name} is wider than {width} px: {p}"
        );
        let signed_in = !matches!(name.as_str(), "login" | "signed_out");
        assert_eq!(p["header_sign_out"], signed_in, "{name}: {p}");
    }
    assert_eq!(pages.len(), 10, "{run}");
    for shot in strings(&run["shots"]) {
        let png = std::fs::read(&shot).unwrap();
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{shot}");
        let w = u32::from_be_bytes(png[16..20].try_into().unwrap());
        assert_eq!(w, width, "{shot}");
    }

    // The picker: alice's 19 roles in 8 accounts, environments as badges.
    assert_eq!(run["picker"]["rows"], 19, "{run}");
    assert_eq!(run["picker"]["count"], "19 roles");
    let envs = strings(&run["picker"]["environments"]);
    for env in ["production", "staging", "development", "sandbox"] {
        assert!(envs.iter().any(|e| e == env), "{envs:?}");
    }
    // `/` focused the filter; typing filtered; ↓ reached the one result's Console button, with
    // a visible focus ring; Escape in the filter showed everything again.
    assert_eq!(run["slash"]["id"], "q", "{run}");
    assert_eq!(run["filtered"]["count"], "1 of 19 roles match");
    assert_eq!(
        strings(&run["filtered"]["visible"]),
        vec!["210987654321-OnCall"]
    );
    assert_eq!(run["filtered"]["sections"], 1);
    assert_eq!(
        run["arrowed"]["formaction"], "/roles/210987654321-OnCall/console",
        "{run}"
    );
    assert_eq!(
        run["arrowed"]["outline"], true,
        "focus must be visible: {run}"
    );
    assert_eq!(run["cleared"], "19 roles");
    assert_eq!(run["tabbed"]["id"], "q-go");
    assert_eq!(run["tabbed"]["outline"], true);

    // The star was saved without leaving the page, and the role is a favourite after a reload.
    let starred = run["starred"].as_str().unwrap();
    assert_eq!(run["star_url"], format!("{}/roles", app.address));
    assert_eq!(strings(&run["favourites"]), vec![starred.to_string()]);

    // More: each action in words, on screen, and the bookmark link copied in full.
    let menu = &run["menu"];
    assert_eq!(menu["open"], true);
    assert_eq!(
        menu["copy_visible"], true,
        "roleport.js adds the copy button: {menu}"
    );
    let text = menu["text"].as_str().unwrap();
    for words in [
        "AWS sign-in page",
        "Check",
        "Bookmark link",
        "Opens this console after one click",
    ] {
        assert!(text.contains(words), "{text}");
    }
    assert!(menu["left"].as_f64().unwrap() >= 0.0, "{menu}");
    assert!(
        menu["right"].as_f64().unwrap() <= f64::from(width),
        "{menu}"
    );
    assert_eq!(
        run["copied"],
        format!("{}/roles/{starred}/console", app.address)
    );

    // Enter in the filter opened the console of the one match, in the region and for the
    // length chosen on the page.
    assert_eq!(run["console_reached"], true, "{run}");
    let console_url = run["console_url"].as_str().unwrap();
    assert!(console_url.contains("region=eu-west-1"), "{console_url}");
    let calls = federation.server.seen.lock().unwrap().clone();
    let get_token = calls
        .iter()
        .find(|c| c.params.get("Action").map(String::as_str) == Some("getSigninToken"))
        .expect("getSigninToken");
    assert_eq!(get_token.params["SessionDuration"], "1800");
    let events = app.audit_events().await;
    let console = events
        .iter()
        .find(|e| e["kind"] == "console_link" && e["outcome"] == "accepted")
        .expect("console_link row");
    assert_eq!(console["details"]["grant"], "123456789012-Admin");
    assert_eq!(console["details"]["duration_seconds"], 1800);

    // The credentials page names the role as the picker does.
    assert_eq!(
        run["credentials_heading"].as_str().unwrap().trim(),
        "Credentials for Read-only (ReadOnly)"
    );

    // My access: the sign-in, the console session and the credentials, with the AccessKeyIds.
    let access = &run["access"];
    assert!(access["rows"].as_i64().unwrap() >= 3, "{access}");
    let text = access["text"].as_str().unwrap();
    for words in ["Signed in", "Console session", "Credentials issued"] {
        assert!(text.contains(words), "{text}");
    }
    let issued: Vec<String> = events
        .iter()
        .filter_map(|e| e["details"]["access_key_id"].as_str().map(String::from))
        .collect();
    let shown = strings(&access["keys"]);
    assert!(!issued.is_empty());
    for key in &issued {
        assert!(shown.contains(key), "{key} not on My access: {shown:?}");
    }

    // The error page names what was asked for and leads back.
    assert_eq!(run["error_page"]["back"], "/roles", "{run}");
    assert_nothing_went_wrong(&run);
}

#[tokio::test]
async fn browser_portal_at_390_px() {
    portal_at(390).await;
}

#[tokio::test]
async fn browser_portal_at_1280_px() {
    portal_at(1280).await;
}

/// The filter with 2,000 roles (200 accounts × 10): it finds the right rows as you type. How long
/// each keystroke took is printed, not asserted (no timing assertions in tests).
#[tokio::test]
async fn browser_picker_filters_2000_roles() {
    let app = spawn_app_with(Options {
        rules_yaml: crate::picker_rules::many_grants_rules(200, 10),
        ..Options::default()
    })
    .await;
    let dir = screens(1280);
    std::fs::create_dir_all(&dir).unwrap();
    let (out, took) = run_script(
        "picker-scale.mjs",
        vec![
            app.address.clone(),
            "alice".into(),
            "alicepw".into(),
            dir.join("roles-2000.png").display().to_string(),
        ],
    )
    .await;
    let run = script_json("picker-scale.mjs", &out, took);
    assert_eq!(run["loaded"]["rows"], 2000, "{run}");
    assert_eq!(run["loaded"]["count"], "2000 roles");
    let q = &run["queries"];
    assert_eq!(q[0]["count"], "1 of 2000 roles match", "{run}");
    assert_eq!(q[0]["visible"], 1);
    // Every fifth account is production; network roles: one per account.
    assert_eq!(q[1]["count"], "40 of 2000 roles match", "{run}");
    assert_eq!(q[2]["count"], "0 of 2000 roles match", "{run}");
    assert_nothing_went_wrong(&run);
    eprintln!(
        "2,000 roles: /roles is {} KB; DOMContentLoaded {} ms; worst keystroke-to-filtered {} / {} / {} ms",
        run["html_bytes"].as_u64().unwrap_or(0) / 1024,
        run["loaded"]["dom_content_loaded_ms"],
        q[0]["worst_ms"],
        q[1]["worst_ms"],
        q[2]["worst_ms"]
    );
}
