//! Service basics: health, readiness, metrics, metadata, headers, error pages.

use crate::helpers::*;

#[tokio::test]
async fn health_and_readiness() {
    let app = spawn_app().await;
    let h = app.get("/healthz").await;
    assert_eq!(h.status(), 200);
    let r = app.get("/readyz").await;
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["database"], true);
    assert_eq!(body["stale_idp_metadata"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn readiness_fails_when_the_database_is_gone() {
    let app = spawn_app().await;
    let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(ADMIN_DB_URL)
        .await
        .unwrap();
    sqlx::query(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{}'",
        app.db_name
    ))
    .execute(&mut admin)
    .await
    .unwrap();
    sqlx::query(&format!(
        r#"ALTER DATABASE "{}" ALLOW_CONNECTIONS false"#,
        app.db_name
    ))
    .execute(&mut admin)
    .await
    .unwrap();
    sqlx::query(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{}'",
        app.db_name
    ))
    .execute(&mut admin)
    .await
    .unwrap();
    let r = app.get("/readyz").await;
    assert_eq!(r.status(), 503);
    // A sign-in attempt now gets a clear "try again" page, not a raw error.
    let login = app.get("/login/demo-saml").await;
    assert_eq!(login.status(), 503);
    let html = login.text().await.unwrap();
    assert!(html.contains("Please try again"));
    reference_in(&html);
    sqlx::query(&format!(
        r#"ALTER DATABASE "{}" ALLOW_CONNECTIONS true"#,
        app.db_name
    ))
    .execute(&mut admin)
    .await
    .unwrap();
}

#[tokio::test]
async fn metrics_count_sign_ins_by_outcome() {
    let app = spawn_app().await;
    app.sign_in("bob").await;
    app.post_acs("bm90IHhtbA==", None).await;
    let text = app.metrics_text().await;
    assert!(
        text.contains(r#"roleport_sign_ins_total{idp="demo-saml",outcome="accepted"} 1"#),
        "{text}"
    );
    assert!(text.contains("roleport_sign_in_rejections_total"), "{text}");
    assert!(text.contains("roleport_http_request_duration_seconds_bucket"));
    assert!(text.contains("roleport_saml_verify_duration_seconds"));
}

#[tokio::test]
async fn sp_metadata_names_entity_and_acs() {
    let app = spawn_app().await;
    let resp = app.get("/saml/metadata").await;
    assert_eq!(resp.status(), 200);
    let xml = resp.text().await.unwrap();
    assert!(xml.contains(&format!(r#"entityID="{}""#, app.sp_entity_id)));
    assert!(xml.contains(&format!(r#"Location="{}/saml/acs""#, app.address)));
    assert!(xml.contains(r#"WantAssertionsSigned="true""#));
}

#[tokio::test]
async fn security_headers_and_cookie_flags() {
    let app = spawn_app().await;
    let resp = app.get("/login").await;
    let h = resp.headers();
    assert!(
        h["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["referrer-policy"], "no-referrer");
    let start = app.get("/login/demo-saml").await;
    let cookie = start.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
}

#[tokio::test]
async fn unknown_pages_and_idps_get_a_page_with_a_reference() {
    let app = spawn_app().await;
    for path in ["/nope", "/login/nope"] {
        let resp = app.get(path).await;
        assert_eq!(resp.status(), 404);
        reference_in(&resp.text().await.unwrap());
    }
    let api = app.get("/api/v1/roles").await;
    assert_eq!(api.status(), 401);
    assert_eq!(api.headers()["content-type"], "application/problem+json");
    let body: serde_json::Value = api.json().await.unwrap();
    assert!(body["reference"].as_str().unwrap().len() >= 8);
}

#[tokio::test]
async fn an_oversized_acs_post_gets_a_page_and_a_refusal_record() {
    let app = spawn_app().await;
    let huge = "A".repeat(3 * 1024 * 1024);
    let resp = app.post_acs(&huge, None).await;
    assert_eq!(resp.status(), 403);
    let reference = reference_in(&resp.text().await.unwrap());
    crate::refusals::assert_counted(&app, &reference, "too_large").await;
    // Not a form at all.
    let resp = app
        .client
        .post(format!("{}/saml/acs", app.address))
        .body("SAMLResponse=%ZZ&SAMLResponse=x")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    reference_in(&resp.text().await.unwrap());
}
