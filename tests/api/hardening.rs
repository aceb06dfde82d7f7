//! Hardened defaults: the client address behind proxies, `/metrics` off the public listener,
//! sign-out only by POST with the CSRF token, and error pages without internal text.

use crate::aws_harness::*;
use crate::helpers::*;
use roleport::configuration::Settings;
use roleport::http::request_meta::{ForwardedHeader, TrustedProxies};

/// An app whose `[server] trusted_proxies` is `trusted`.
async fn app_behind(trusted: &'static [&'static str], header: ForwardedHeader) -> TestApp {
    spawn_app_with(Options {
        configure: Some(Box::new(move |s: &mut Settings| {
            s.server.trusted_proxies = TrustedProxies::parse(trusted.iter().copied()).unwrap();
            s.server.forwarded_header = header;
        })),
        ..Options::default()
    })
    .await
}

/// Provokes a refusal (a post-login target off Roleport) with `headers`, and returns the client
/// its record names: an unverified refusal is counted per client (IPv6 per /64), not chained.
async fn audited_source(app: &TestApp, headers: &[(&str, &str)]) -> String {
    let mut req = app.client.get(format!(
        "{}/login/demo-saml?return_to=https%3A%2F%2Fevil.example%2F",
        app.address
    ));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.unwrap();
    assert_eq!(resp.status(), 400);
    let reference = reference_in(&resp.text().await.unwrap());
    let bucket = crate::refusals::counter(app, &reference)
        .await
        .expect("a refusal counter under the reference");
    assert_eq!(bucket.reason, "bad_return_to");
    bucket.client
}

const SPOOF: &[(&str, &str)] = &[
    ("X-Forwarded-For", "203.0.113.66"),
    ("Forwarded", "for=203.0.113.66;proto=https"),
    ("X-Real-IP", "203.0.113.66"),
];

#[tokio::test]
async fn forwarding_headers_from_an_untrusted_peer_are_ignored() {
    // No proxies configured (the default), then proxies configured that are not this peer.
    let default = spawn_app().await;
    assert_eq!(audited_source(&default, SPOOF).await, "127.0.0.1");
    let elsewhere = app_behind(&["10.0.0.0/8"], ForwardedHeader::XForwardedFor).await;
    assert_eq!(audited_source(&elsewhere, SPOOF).await, "127.0.0.1");
    let rfc7239 = app_behind(&["10.0.0.0/8"], ForwardedHeader::Forwarded).await;
    assert_eq!(audited_source(&rfc7239, SPOOF).await, "127.0.0.1");
}

#[tokio::test]
async fn a_trusted_proxy_names_the_client_and_the_right_most_untrusted_hop_wins() {
    let app = app_behind(
        &["127.0.0.1/32", "10.0.0.0/8"],
        ForwardedHeader::XForwardedFor,
    )
    .await;
    assert_eq!(
        audited_source(&app, &[("X-Forwarded-For", "198.51.100.7")]).await,
        "198.51.100.7"
    );
    // The client prepended 203.0.113.66 itself; the outer proxy 10.0.0.5 appended the real
    // address, the inner one (this peer) appended 10.0.0.5.
    assert_eq!(
        audited_source(
            &app,
            &[("X-Forwarded-For", "203.0.113.66, 198.51.100.7, 10.0.0.5")]
        )
        .await,
        "198.51.100.7"
    );
    // A client Forwarded header that the XFF proxies pass through changes nothing.
    assert_eq!(
        audited_source(
            &app,
            &[
                ("Forwarded", "for=203.0.113.66"),
                ("X-Forwarded-For", "198.51.100.7")
            ]
        )
        .await,
        "198.51.100.7"
    );
    // A hop that cannot be read stops the walk at the proxy that reported it.
    assert_eq!(
        audited_source(&app, &[("X-Forwarded-For", "198.51.100.7, unknown")]).await,
        "127.0.0.1"
    );
}

#[tokio::test]
async fn rfc7239_forwarded_chains_are_read_when_configured() {
    let app = app_behind(&["127.0.0.1/32", "10.0.0.0/8"], ForwardedHeader::Forwarded).await;
    assert_eq!(
        audited_source(
            &app,
            &[(
                "Forwarded",
                r#"for=203.0.113.66, for="[2001:db8::7]:4711";proto=https, for=10.0.0.5"#
            )]
        )
        .await,
        "2001:db8:0:0::/64"
    );
    // In this mode X-Forwarded-For is the client's own header.
    assert_eq!(
        audited_source(&app, &[("X-Forwarded-For", "203.0.113.66")]).await,
        "127.0.0.1"
    );
}

#[tokio::test]
async fn metrics_are_served_only_on_their_own_listener() {
    let app = spawn_app().await;
    let public = app.get("/metrics").await;
    assert_eq!(public.status(), 404);
    let body = public.text().await.unwrap();
    assert!(!body.contains("roleport_"), "{body}");
    reference_in(&body);
    assert_ne!(app.metrics_address, app.address);
    let text = app.metrics_text().await;
    assert!(
        text.contains("roleport_http_request_duration_seconds"),
        "{text}"
    );
    // The metrics listener serves nothing else.
    let other = reqwest::get(format!("{}/login", app.metrics_address))
        .await
        .unwrap();
    assert_eq!(other.status(), 404);
}

#[tokio::test]
async fn no_hsts_in_dev_mode() {
    let app = spawn_app().await;
    let resp = app.get("/login").await;
    assert!(
        resp.headers().get("strict-transport-security").is_none(),
        "{:?}",
        resp.headers()
    );
}

/// The sign-out confirm page's CSRF token.
async fn sign_out_token(app: &TestApp) -> String {
    let resp = app.get("/logout").await;
    assert_eq!(resp.status(), 200);
    let html = resp.text().await.unwrap();
    assert!(
        html.contains(r#"<form method="post" action="/logout">"#),
        "{html}"
    );
    let re = regex::Regex::new(r#"name="csrf_token" value="([^"]+)""#).unwrap();
    re.captures(&html)
        .unwrap_or_else(|| panic!("no token in {html}"))[1]
        .to_string()
}

#[tokio::test]
async fn a_get_of_logout_only_asks() {
    let app = spawn_app().await;
    app.sign_in("alice").await;
    let token = sign_out_token(&app).await;
    assert_eq!(token, app.csrf_token().await);
    assert_eq!(app.get("/api/v1/roles").await.status(), 200);
    assert_eq!(app.session_count().await, 1);
    // Every page's header signs out with a form, not a link.
    let roles = app.get("/roles").await.text().await.unwrap();
    assert!(
        roles.contains(r#"<form class="signout" method="post" action="/logout">"#),
        "{roles}"
    );
    assert!(!roles.contains(r#"href="/logout""#), "{roles}");
    // Without a session the confirm page sends the browser to sign in.
    let fresh = browser();
    let resp = fresh
        .get(format!("{}/logout", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/login");
}

#[tokio::test]
async fn a_sign_out_post_without_the_csrf_token_is_refused() {
    let app = spawn_app().await;
    app.sign_in("alice").await;
    let forged: [&[(&str, &str)]; 3] = [
        &[],
        &[("csrf_token", "")],
        &[("csrf_token", "not-the-token")],
    ];
    for form in forged {
        let resp = app
            .client
            .post(format!("{}/logout", app.address))
            .form(form)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "{form:?}");
        assert!(resp.headers().get("set-cookie").is_none());
        let reference = reference_in(&resp.text().await.unwrap());
        let rows = roleport::db::audit::by_reference(&app.pool, &reference)
            .await
            .unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(
            serde_json::to_value(&rows[0]).unwrap()["outcome"],
            "rejected"
        );
        assert!(
            rows[0]
                .reason
                .as_deref()
                .unwrap()
                .starts_with("bad_csrf_token"),
            "{:?}",
            rows[0].reason
        );
        assert_eq!(app.get("/api/v1/roles").await.status(), 200, "{form:?}");
    }
    assert_eq!(app.session_count().await, 1);
}

#[tokio::test]
async fn a_sign_out_post_with_the_token_ends_the_session() {
    let app = spawn_app().await;
    app.sign_in("alice").await;
    let token = sign_out_token(&app).await;
    let resp = app
        .client
        .post(format!("{}/logout", app.address))
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap();
    // A page that says so, with the way back in, and the cookie removed.
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().get("set-cookie").is_some());
    let html = resp.text().await.unwrap();
    assert!(
        html.contains(r#"<h1 id="signed-out">You are signed out</h1>"#),
        "{html}"
    );
    assert!(
        html.contains(r#"<a class="button" id="sign-in-again" href="/login">"#),
        "{html}"
    );
    assert!(!html.contains(r#"action="/logout""#), "{html}");
    let reference = reference_in(&html);
    assert_eq!(app.get("/api/v1/roles").await.status(), 401);
    assert_eq!(app.session_count().await, 0);
    let events = app.audit_events().await;
    let out = events.last().unwrap();
    assert_eq!(out["kind"], "sign_out");
    assert_eq!(out["outcome"], "accepted");
    assert_eq!(out["subject"], "alice");
    // The page's reference is the audit row's.
    let rows = roleport::db::audit::by_reference(&app.pool, &reference)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
}

#[tokio::test]
async fn aws_error_text_never_reaches_the_page_or_the_problem_json() {
    const INTERNAL: &str = "arn:aws:iam::999999999999:user/internal-ops-marker";
    let sts = fake_sts(|_| sts_error(400, "SomethingUnexpected", INTERNAL)).await;
    let app = spawn_app_with(Options {
        aws: Some(aws_settings(&sts.url, None)),
        ..Options::default()
    })
    .await;
    app.sign_in("alice").await;
    let resp = app.request_credentials("123456789012-Admin", None).await;
    // A permanent refusal by AWS (issue 12): retrying will not fix it.
    assert_eq!(resp.status(), 422);
    let problem: serde_json::Value = resp.json().await.unwrap();
    let detail = problem["detail"].as_str().unwrap();
    assert!(!detail.contains("internal-ops-marker"), "{detail}");
    assert!(detail.contains("SomethingUnexpected"), "{detail}");
    // The precise text is kept where operators look: the audit row under that reference.
    let rows = roleport::db::audit::by_reference(&app.pool, problem["reference"].as_str().unwrap())
        .await
        .unwrap();
    assert!(
        rows[0].reason.as_deref().unwrap().contains(INTERNAL),
        "{:?}",
        rows[0].reason
    );

    let csrf = app.csrf_token().await;
    let resp = app
        .client
        .post(format!(
            "{}/roles/123456789012-Admin/credentials",
            app.address
        ))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 422);
    let html = resp.text().await.unwrap();
    assert!(!html.contains("internal-ops-marker"), "{html}");
    reference_in(&html);
}

#[tokio::test]
async fn a_lost_database_shows_no_internal_text() {
    let app = spawn_app().await;
    app.sign_in("alice").await;
    // The pool is closed under the running app: every query now fails inside sqlx.
    app.state.pool.close().await;
    for path in ["/roles", "/api/v1/roles", "/logout", "/login/demo-saml"] {
        let resp = app.get(path).await;
        assert!(resp.status().is_server_error(), "{path}: {}", resp.status());
        let body = resp.text().await.unwrap();
        for internal in [
            "sqlx",
            "pool",
            "closed",
            "PoolClosed",
            &app.db_name,
            "error returned",
        ] {
            assert!(
                !body.contains(internal),
                "{path} shows {internal:?}:\n{body}"
            );
        }
        assert!(body.contains("reference"), "{path}:\n{body}");
    }
}

#[tokio::test]
async fn actix_refusals_become_pages_with_a_reference_and_no_framework_text() {
    let app = spawn_app().await;
    app.sign_in("alice").await;
    let csrf = app.csrf_token().await;
    let api = |body: Vec<u8>, encoding: Option<&'static str>| {
        let mut req = app
            .client
            .post(format!("{}/api/v1/credentials", app.address))
            .header("X-CSRF-Token", csrf.clone())
            .header("content-type", "application/json")
            .body(body);
        if let Some(e) = encoding {
            req = req.header("content-encoding", e);
        }
        req.send()
    };
    // A body over the limit, and one that claims gzip but is not: actix refuses both before
    // the handler runs ("payload reached size limit", "can not decode content-encoding").
    for (resp, status) in [
        (api(vec![b' '; 4 * 1024 * 1024], None).await.unwrap(), 413),
        (
            api(b"not gzip at all".to_vec(), Some("gzip"))
                .await
                .unwrap(),
            400,
        ),
    ] {
        assert_eq!(resp.status(), status);
        assert_eq!(resp.headers()["content-type"], "application/problem+json");
        let problem: serde_json::Value = resp.json().await.unwrap();
        let detail = problem["detail"].as_str().unwrap().to_lowercase();
        assert!(
            !detail.contains("payload") && !detail.contains("decode"),
            "{detail}"
        );
        assert_eq!(problem["reference"].as_str().unwrap().len(), 12);
    }
    // The same for a page.
    let resp = app
        .client
        .post(format!("{}/saml/acs", app.address))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("content-encoding", "gzip")
        .body("not gzip at all")
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_client_error(), "{}", resp.status());
    let html = resp.text().await.unwrap();
    assert!(!html.to_lowercase().contains("decode"), "{html}");
    reference_in(&html);
}
