//! The admin pages in headless Chromium (tests/browser/admin.mjs) at 390 px and 1280 px: axe-core
//! finds nothing, no page scrolls sideways, nothing breaks the CSP, the forms work from the
//! keyboard. The screenshots are kept as artifacts under `target/tmp/browser-artifacts/admin/`.

use crate::browser::{assert_nothing_went_wrong, run_script, script_json};
use crate::helpers::*;
use std::path::Path;

#[tokio::test]
async fn browser_admin_pages_at_phone_and_desktop_width() {
    let rules = TEST_RULES.replace(
        "    roles: [arn:aws:iam::123456789012:role/Admin]\n",
        "    roles: [arn:aws:iam::123456789012:role/Admin]\n    capabilities: [security-team]\n",
    );
    let app = spawn_app_with(Options {
        rules_yaml: rules,
        ..Options::default()
    })
    .await;
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser-artifacts/admin");
    std::fs::create_dir_all(&dir).unwrap();
    let (out, took) = run_script(
        "admin.mjs",
        vec![
            app.address.clone(),
            "alice".into(),
            "alicepw".into(),
            dir.display().to_string(),
            "bob".into(),
            "bobpw".into(),
        ],
    )
    .await;
    let result = script_json("admin.mjs", &out, took);
    for width in ["390", "1280"] {
        let seen = &result["widths"][width];
        assert_nothing_went_wrong(seen);
        let pages = seen["pages"].as_array().expect("pages");
        let names: Vec<&str> = pages.iter().filter_map(|p| p["name"].as_str()).collect();
        assert_eq!(
            names,
            [
                "index",
                "audit",
                "audit-search",
                "event",
                "chain",
                "sessions",
                "rules",
                "explain",
                "dry-run",
                "idps"
            ],
            "{width}"
        );
        for page in pages {
            let name = page["name"].as_str().unwrap_or_default();
            let shot = dir.join(format!("admin-{name}-{width}.png"));
            let png = std::fs::read(&shot).unwrap_or_else(|e| panic!("{}: {e}", shot.display()));
            assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{}", shot.display());
        }
    }
    // Bob, without the capability: a 403 page that passes axe, with a reference and a way back.
    let refused = &result["refused"];
    assert_nothing_went_wrong(refused);
    assert_eq!(refused["status"], 403, "{refused}");
    assert_eq!(refused["h1"], "Not allowed");
    assert_eq!(refused["back"], "/roles");
    for width in ["390", "1280"] {
        let shot = dir.join(format!("admin-refused-{width}.png"));
        let png = std::fs::read(&shot).unwrap_or_else(|e| panic!("{}: {e}", shot.display()));
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{}", shot.display());
    }
    let reference = refused["reference"].as_str().expect("reference");
    let rows = roleport::db::audit::by_reference(&app.pool, reference)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].subject.as_deref(), Some("bob"));
    // Opening the pages was audited, under alice's name.
    let events = app.audit_events().await;
    for action in [
        "audit.search",
        "audit.event",
        "audit.verify",
        "sessions.list",
        "rules.explain",
        "rules.dry_run",
        "idps.list",
    ] {
        assert!(
            events.iter().any(|e| e["kind"] == "admin_action"
                && e["details"]["action"] == action
                && e["subject"] == "alice"),
            "{action}"
        );
    }
}
