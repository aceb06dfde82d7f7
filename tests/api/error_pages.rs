//! Error pages keep the header of the signed-in person (and only theirs), link back to where the
//! person can continue, and name the grant that was asked for.

use crate::helpers::*;

const SIGN_OUT_FORM: &str = r#"<form class="signout" method="post" action="/logout">"#;

fn csrf_in_form(html: &str) -> Option<String> {
    regex::Regex::new(r#"name="csrf_token" value="([^"]+)""#)
        .unwrap()
        .captures(html)
        .map(|c| c[1].to_string())
}

fn back_link(html: &str) -> String {
    regex::Regex::new(r#"<a class="button" id="back" href="([^"]+)">"#)
        .unwrap()
        .captures(html)
        .unwrap_or_else(|| panic!("no back link in {html}"))[1]
        .to_string()
}

async fn roles_csrf(app: &TestApp) -> String {
    let html = app.get("/roles").await.text().await.unwrap();
    regex::Regex::new(r#"<meta name="csrf-token" content="([^"]+)""#)
        .unwrap()
        .captures(&html)
        .unwrap_or_else(|| panic!("no csrf meta in {html}"))[1]
        .to_string()
}

#[tokio::test]
async fn a_not_found_page_keeps_the_header_when_signed_in_and_links_back_to_the_roles() {
    let app = spawn_app().await;
    app.sign_in("alice").await;
    let csrf = roles_csrf(&app).await;
    let resp = app.get("/no/such/page").await;
    assert_eq!(resp.status(), 404);
    let html = resp.text().await.unwrap();
    assert!(
        html.contains(r#"<span class="who"><bdi>Alice Example</bdi> · demo-saml</span>"#),
        "{html}"
    );
    assert!(html.contains(SIGN_OUT_FORM), "{html}");
    assert_eq!(
        csrf_in_form(&html).as_deref(),
        Some(csrf.as_str()),
        "{html}"
    );
    assert_eq!(back_link(&html), "/roles");
    reference_in(&html);
}

#[tokio::test]
async fn a_not_found_page_has_no_header_without_a_session_and_links_to_sign_in() {
    let app = spawn_app().await;
    // A cookie that names no session is no session.
    let stranger = browser();
    let resp = stranger
        .get(format!("{}/no/such/page", app.address))
        .header("cookie", "roleport_session=not-a-session")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let html = resp.text().await.unwrap();
    assert!(!html.contains(SIGN_OUT_FORM), "{html}");
    assert!(!html.contains(r#"class="who""#), "{html}");
    assert!(csrf_in_form(&html).is_none(), "{html}");
    assert_eq!(back_link(&html), "/login");
}

#[tokio::test]
async fn a_handler_error_page_keeps_the_header_too() {
    let app = spawn_app().await;
    app.sign_in("alice").await;
    let csrf = roles_csrf(&app).await;
    // A sign-out form with a wrong token: refused by the handler with a 400 page, still signed in.
    let resp = app
        .client
        .post(format!("{}/logout", app.address))
        .form(&[("csrf_token", "not-the-token")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let html = resp.text().await.unwrap();
    assert!(html.contains(SIGN_OUT_FORM), "{html}");
    assert_eq!(
        csrf_in_form(&html).as_deref(),
        Some(csrf.as_str()),
        "{html}"
    );
    // The handler knows the better way on: the sign-out page with a fresh form.
    assert_eq!(back_link(&html), "/logout");
}

#[tokio::test]
async fn a_refused_grant_names_the_role_and_the_account() {
    let app = spawn_app().await;
    // bob is given ReadOnly only.
    app.sign_in("bob").await;
    let csrf = roles_csrf(&app).await;
    for path in ["console", "saml-post"] {
        let resp = app
            .client
            .post(format!("{}/roles/123456789012-Admin/{path}", app.address))
            .form(&[("csrf_token", csrf.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 404, "{path}");
        let html = resp.text().await.unwrap();
        assert!(
            html.contains(
                r#"<p id="asked-for"><strong>You have no role Admin in demo-prod (123456789012)</strong></p>"#
            ),
            "{path}: {html}"
        );
        assert!(html.contains(SIGN_OUT_FORM), "{path}: {html}");
        assert_eq!(back_link(&html), "/roles", "{path}");
        let reference = reference_in(&html);
        if path == "console" {
            // The console form refuses before the service, without an audit row.
            continue;
        }
        let rows = roleport::db::audit::by_reference(&app.pool, &reference)
            .await
            .unwrap();
        assert_eq!(rows.len(), 1, "{path}");
        assert!(
            rows[0].reason.as_deref().unwrap().starts_with("no_grant"),
            "{path}: {:?}",
            rows[0].reason
        );
    }
}

#[tokio::test]
async fn a_grant_in_the_address_is_named_only_when_it_has_the_shape_of_one() {
    let app = spawn_app().await;
    app.sign_in("bob").await;
    // The console link is a GET anyone can send: text planted in it is not repeated.
    let planted = "123456789012-Call%20the%20helpdesk%20at%20evil.example";
    let html = app
        .get(&format!("/roles/{planted}/console"))
        .await
        .text()
        .await
        .unwrap();
    assert!(!html.contains("helpdesk"), "{html}");
    assert!(!html.contains(r#"id="asked-for""#), "{html}");
    let html = app
        .get("/roles/123456789012-Admin/console")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("You have no role Admin in demo-prod (123456789012)"),
        "{html}"
    );
}

#[tokio::test]
async fn after_sign_out_error_pages_drop_the_header() {
    let app = spawn_app().await;
    app.sign_in("alice").await;
    let csrf = roles_csrf(&app).await;
    let out = app
        .client
        .post(format!("{}/logout", app.address))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 200);
    let html = out.text().await.unwrap();
    assert!(html.contains("You are signed out"), "{html}");
    assert!(html.contains(r#"href="/login""#), "{html}");
    assert!(!html.contains(SIGN_OUT_FORM), "{html}");
    let after = app.get("/no/such/page").await.text().await.unwrap();
    assert!(!after.contains(SIGN_OUT_FORM), "{after}");
    assert_eq!(back_link(&after), "/login");
}

#[tokio::test]
async fn an_oidc_sign_in_keeps_the_header_on_error_pages_too() {
    let app = spawn_app_with_oidc(Some("error-pages-secret")).await;
    assert_eq!(app.oidc_sign_in("alice").await.status(), 303);
    let csrf = roles_csrf(&app).await;
    let html = app.get("/no/such/page").await.text().await.unwrap();
    assert!(html.contains(" · demo-oidc</span>"), "{html}");
    assert_eq!(
        csrf_in_form(&html).as_deref(),
        Some(csrf.as_str()),
        "{html}"
    );
    assert_eq!(back_link(&html), "/roles");
}

#[tokio::test]
async fn when_the_session_cannot_be_looked_up_the_error_page_is_shown_without_the_header() {
    let app = spawn_app().await;
    app.sign_in("alice").await;
    // The lookup fails (the table is gone); the 404 stays a 404 with its reference.
    sqlx::query("ALTER TABLE sessions RENAME TO sessions_elsewhere")
        .execute(&app.pool)
        .await
        .unwrap();
    let resp = app.get("/no/such/page").await;
    assert_eq!(resp.status(), 404);
    let html = resp.text().await.unwrap();
    assert!(!html.contains(SIGN_OUT_FORM), "{html}");
    assert_eq!(back_link(&html), "/login");
    reference_in(&html);
}
