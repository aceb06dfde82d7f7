//! The portal for everyone who signs in (issue 9): the role picker's account metadata, its
//! server-side filter, favourites (CSRF-protected, per person), recently used roles, the console
//! with a chosen region and session length, and "My access" (only one's own rows, keyset pages).

use crate::aws_harness::*;
use crate::helpers::*;
use roleport::audit::{AuditEvent, EventKind, Outcome};

const DEMO_RULES: &str = include_str!("../../deploy/demo/rules.yaml");
const DEMO_ADMIN: &str = "123456789012-Admin";
const PAYMENTS_ONCALL: &str = "210987654321-OnCall";

async fn demo_app(sts: Option<&FakeServer>, federation: Option<&FakeServer>) -> TestApp {
    spawn_app_with(Options {
        rules_yaml: DEMO_RULES.to_string(),
        aws: sts.map(|s| aws_settings(&s.url, federation.map(|f| f.url.as_str()))),
        ..Options::default()
    })
    .await
}

/// Signs `user` in with a fresh browser; returns the previous person's browser.
async fn as_another_person(app: &mut TestApp, user: &str) -> reqwest::Client {
    let previous = std::mem::replace(&mut app.client, browser());
    app.sign_in(user).await;
    previous
}

async fn page(app: &TestApp, path: &str) -> (u16, String) {
    let resp = app.get(path).await;
    let status = resp.status().as_u16();
    (status, html_unescape(&resp.text().await.unwrap()))
}

/// The grant ids listed in a section of the picker (`data-list` or `data-account`).
fn grants_in(html: &str, section: &str) -> Vec<String> {
    let Some(start) = html.find(section) else {
        return Vec::new();
    };
    let rest = &html[start..];
    let end = rest.find("</section>").unwrap_or(rest.len());
    regex::Regex::new(r#"<li class="g[^"]*" data-g="([^"]+)""#)
        .unwrap()
        .captures_iter(&rest[..end])
        .map(|c| c[1].to_string())
        .collect()
}

async fn star(
    app: &TestApp,
    grant: &str,
    value: &str,
    csrf: Option<&str>,
    json: bool,
) -> reqwest::Response {
    let mut form = vec![("star", value)];
    if let Some(csrf) = csrf {
        form.push(("csrf_token", csrf));
    }
    let mut req = app
        .client
        .post(format!("{}/roles/{grant}/favourite", app.address))
        .form(&form);
    if json {
        req = req.header("Accept", "application/json");
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn portal_picker_shows_account_metadata_and_filters_without_scripts() {
    let app = demo_app(None, None).await;
    app.sign_in("alice").await;
    let (status, html) = page(&app, "/roles").await;
    assert_eq!(status, 200);
    assert!(
        html.contains(r#"<p id="count" role="status">19 roles</p>"#),
        "{html}"
    );
    // Environment badges with their colour class, owner and description of the account.
    assert!(html.contains(r#"<span class="env env-prod">production</span>"#));
    assert!(html.contains(r#"<span class="env env-stage">staging</span>"#));
    assert!(html.contains(r#"<span class="env env-dev">development</span>"#));
    assert!(html.contains("Owner: Payments team"));
    assert!(html.contains("Card payments and settlements"));
    // Every role states its limit; the page offers lengths up to the longest (12 h here).
    assert!(
        html.contains("up to 1 h") && html.contains("up to 12 h"),
        "{html}"
    );
    assert!(html.contains(r#"<option value="43200">12 h</option>"#));
    assert!(html.contains(r#"<option value="eu-west-1">"#));
    // One primary action per role; the rest under More, explained in words.
    assert_eq!(
        html.matches(r#"formaction="/roles/123456789012-Admin/console">Console</button>"#)
            .count(),
        1
    );
    assert!(html.contains("<summary>More</summary>"));
    assert!(html.contains("AWS says who this role's credentials are"));

    // ?q=: every word must match (account description + role name here).
    let (_, html) = page(&app, "/roles?q=payments+on-call").await;
    assert!(html.contains("1 of 19 roles match"), "{html}");
    assert_eq!(
        grants_in(&html, r#"data-account="210987654321""#),
        vec![PAYMENTS_ONCALL]
    );
    // Environment words and account ids are searched too.
    let (_, html) = page(&app, "/roles?q=development").await;
    assert!(html.contains("2 of 19 roles match"), "{html}");
    let (_, html) = page(&app, "/roles?q=610987654321").await;
    assert!(html.contains("3 of 19 roles match"), "{html}");
    let (_, html) = page(&app, "/roles?q=nothing-like-this").await;
    assert!(html.contains("0 of 19 roles match"), "{html}");
    assert!(html.contains(r#"<p id="none" >No role matches."#), "{html}");

    // The JSON carries the metadata and the stars.
    let json = app.roles_json().await;
    let grants = json["grants"].as_array().unwrap();
    assert_eq!(grants.len(), 19);
    let oncall = grants.iter().find(|g| g["id"] == PAYMENTS_ONCALL).unwrap();
    assert_eq!(oncall["account_environment"], "production");
    assert_eq!(oncall["account_owner"], "Payments team");
    assert_eq!(oncall["display_name"], "On-call engineer");
    assert_eq!(oncall["favourite"], false);
}

#[tokio::test]
async fn portal_favourites_are_per_person_csrf_protected_and_listed_first() {
    let mut app = demo_app(None, None).await;
    app.sign_in("alice").await;
    let csrf = app.csrf_token().await;

    // Without the session's CSRF token (a cross-site form): refused, nothing stored.
    for token in [None, Some("not-the-token"), Some("")] {
        let resp = star(&app, PAYMENTS_ONCALL, "on", token, false).await;
        assert_eq!(resp.status(), 400);
        assert!(resp.text().await.unwrap().contains("This form has expired"));
    }
    let (_, html) = page(&app, "/roles").await;
    assert!(grants_in(&html, r#"data-list="favourites""#).is_empty());

    // A plain form post (no scripts): 303 back to the picker, which lists it first.
    let resp = star(&app, PAYMENTS_ONCALL, "on", Some(&csrf), false).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/roles");
    // roleport.js's fetch: JSON.
    let resp = star(&app, DEMO_ADMIN, "on", Some(&csrf), true).await;
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(
        body,
        serde_json::json!({"grant": DEMO_ADMIN, "favourite": true})
    );
    // Starring twice is harmless.
    assert_eq!(
        star(&app, DEMO_ADMIN, "on", Some(&csrf), true)
            .await
            .status(),
        200
    );

    let (_, html) = page(&app, "/roles").await;
    assert_eq!(
        grants_in(&html, r#"data-list="favourites""#),
        vec![PAYMENTS_ONCALL, DEMO_ADMIN]
    );
    let fav_at = html.find(r#"data-list="favourites""#).unwrap();
    assert!(fav_at < html.find(r#"data-account="123456789012""#).unwrap());
    // In its account's list it is marked so a filter shows it once.
    assert!(html.contains(&format!(r#"<li class="g also" data-g="{PAYMENTS_ONCALL}""#)));
    assert!(html.contains(r#"value="off" aria-pressed="true""#));
    let json = app.roles_json().await;
    let starred: Vec<&str> = json["grants"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["favourite"] == true)
        .map(|g| g["id"].as_str().unwrap())
        .collect();
    assert_eq!(starred, vec![DEMO_ADMIN, PAYMENTS_ONCALL]);

    // A role the person does not hold cannot be starred; a bad value is refused.
    let resp = star(&app, "999999999999-Admin", "on", Some(&csrf), false).await;
    assert_eq!(resp.status(), 404);
    let resp = star(&app, DEMO_ADMIN, "yes", Some(&csrf), false).await;
    assert_eq!(resp.status(), 400);

    // Stars are alice's own: bob (another browser) sees none of them.
    let alice = as_another_person(&mut app, "bob").await;
    let (_, html) = page(&app, "/roles").await;
    assert!(
        grants_in(&html, r#"data-list="favourites""#).is_empty(),
        "{html}"
    );
    app.client = alice;

    // Unstar.
    assert_eq!(
        star(&app, PAYMENTS_ONCALL, "off", Some(&csrf), false)
            .await
            .status(),
        303
    );
    let (_, html) = page(&app, "/roles").await;
    assert_eq!(
        grants_in(&html, r#"data-list="favourites""#),
        vec![DEMO_ADMIN]
    );
}

#[tokio::test]
async fn portal_console_takes_the_region_and_session_length_chosen_on_the_page() {
    let sts = recording_sts().await;
    let federation = fake_federation().await;
    let app = demo_app(Some(&sts), Some(&federation)).await;
    app.sign_in("alice").await;
    let csrf = app.csrf_token().await;
    // What the picker's form sends with the Console button: every field of the page.
    let resp = app
        .client
        .post(format!("{}/roles/{DEMO_ADMIN}/console", app.address))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("region", "eu-west-1"),
            ("duration_seconds", "1800"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303, "{}", resp.text().await.unwrap());
    let login = url::Url::parse(&location(&resp)).unwrap();
    let q: std::collections::BTreeMap<_, _> = login.query_pairs().into_owned().collect();
    assert!(q["Destination"].contains("region=eu-west-1"), "{q:?}");
    let calls = federation.seen.lock().unwrap().clone();
    assert_eq!(calls[0].params["SessionDuration"], "1800");

    // A length above the role's limit (Admin: 1 h) is cut to it, as the page says.
    let resp = app
        .client
        .post(format!("{}/roles/{DEMO_ADMIN}/console", app.address))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("region", ""),
            ("duration_seconds", "43200"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    let calls = federation.seen.lock().unwrap().clone();
    assert_eq!(calls[1].params["SessionDuration"], "3600");

    // Not a number: refused before anything is issued.
    let before = sts.seen.lock().unwrap().len();
    let resp = app
        .client
        .post(format!("{}/roles/{DEMO_ADMIN}/console", app.address))
        .form(&[("csrf_token", csrf.as_str()), ("duration_seconds", "1h")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(sts.seen.lock().unwrap().len(), before);

    // The roles used come first, newest first, under "Recently used"; a filter shows them once.
    let resp = app
        .client
        .post(format!(
            "{}/roles/{PAYMENTS_ONCALL}/credentials",
            app.address
        ))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    let (_, html) = page(&app, "/roles").await;
    assert_eq!(
        grants_in(&html, r#"data-list="recent""#),
        vec![PAYMENTS_ONCALL, DEMO_ADMIN]
    );
    assert!(
        html.find(r#"data-list="recent""#).unwrap()
            < html.find(r#"data-account="123456789012""#).unwrap()
    );
    let (_, html) = page(&app, "/roles?q=on-call").await;
    assert_eq!(
        grants_in(&html, r#"data-list="recent""#),
        vec![PAYMENTS_ONCALL]
    );
    assert!(html.contains(&format!(r#"<li class="g also" data-g="{PAYMENTS_ONCALL}""#)));
}

/// Appends `n` rows for `subject` at demo-saml, as an issue would.
async fn audit_rows(app: &TestApp, idp: &str, subject: &str, n: usize, key_prefix: &str) {
    for i in 0..n {
        let mut e = AuditEvent::new(EventKind::CredentialsIssued, Outcome::Accepted);
        e.idp = Some(idp.into());
        e.subject = Some(subject.into());
        e.source_ip = Some("192.0.2.10".into());
        e.details = serde_json::json!({
            "grant": DEMO_ADMIN,
            "role_arn": "arn:aws:iam::123456789012:role/Admin",
            "access_key_id": format!("{key_prefix}{i:04}"),
            "duration_seconds": 3600,
        });
        roleport::db::audit::append(
            &app.pool,
            &format!("REF{key_prefix}{i}"),
            app.clock.now(),
            e,
        )
        .await
        .unwrap();
    }
}

fn keys_on(html: &str) -> Vec<String> {
    regex::Regex::new(r"<code>(ASIA[A-Z]+[0-9]{4})</code>")
        .unwrap()
        .captures_iter(html)
        .map(|c| c[1].to_string())
        .collect()
}

#[tokio::test]
async fn portal_my_access_lists_only_ones_own_rows_in_keyset_pages() {
    let app = demo_app(None, None).await;
    app.sign_in("alice").await;
    audit_rows(&app, "demo-saml", "alice", 30, "ASIAALICE").await;
    // Someone else's rows: bob, and an "alice" at another IdP (a different person).
    audit_rows(&app, "demo-saml", "bob", 3, "ASIABOB").await;
    audit_rows(&app, "demo-oidc", "alice", 3, "ASIAOTHER").await;
    audit_rows(&app, "demo-saml", "alice ", 3, "ASIASPACE").await;

    let (status, html) = page(&app, "/access").await;
    assert_eq!(status, 200);
    let first = keys_on(&html);
    assert_eq!(first.len(), 25, "{html}");
    assert_eq!(first[0], "ASIAALICE0029", "newest first");
    assert!(html.contains("Credentials issued"));
    assert!(
        html.contains("Administrator (Admin)"),
        "the role as the picker names it"
    );
    assert!(html.contains("192.0.2.10"));
    // Her sign-in is there too, below the newer rows (on the next page).
    let older = regex::Regex::new(r#"href="/access\?before=(\d+)" id="older""#)
        .unwrap()
        .captures(&html)
        .unwrap_or_else(|| panic!("no Older link: {html}"))[1]
        .to_string();

    // New rows arriving do not shift the next page (keyset, not offset).
    audit_rows(&app, "demo-saml", "alice", 2, "ASIANEWER").await;
    let (_, html) = page(&app, &format!("/access?before={older}")).await;
    let second = keys_on(&html);
    assert_eq!(
        second,
        (0..5)
            .rev()
            .map(|i| format!("ASIAALICE{i:04}"))
            .collect::<Vec<_>>()
    );
    assert!(html.contains("Signed in"), "{html}");
    assert!(!html.contains(r#"id="older""#), "last page: {html}");
    assert!(html.contains(r#"<a href="/access" id="newest">"#));
    for page_html in [&html] {
        for other in ["ASIABOB", "ASIAOTHER", "ASIASPACE"] {
            assert!(!page_html.contains(other), "{other} leaked");
        }
    }
    for key in &first {
        assert!(
            key.starts_with("ASIAALICE") || key.starts_with("ASIANEWER"),
            "{key}"
        );
    }
    // A bad cursor is just "from the newest".
    let (status, _) = page(&app, "/access?before=abc").await;
    assert_eq!(status, 200);

    // Not signed in: to the sign-in page, back here afterwards.
    let resp = browser()
        .get(format!("{}/access", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/login?return_to=%2Faccess");
}
