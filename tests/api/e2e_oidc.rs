//! End to end against the real OpenID provider (npm oidc-provider on loopback): the same users
//! get the same roles as through SAML, and the flow-level attacks the real provider can stage.

use crate::helpers::*;

fn role_names(json: &serde_json::Value) -> Vec<String> {
    let mut names: Vec<String> = json["grants"]
        .as_array()
        .expect("grants array")
        .iter()
        .map(|g| g["role_name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn alice_signs_in_via_oidc_and_gets_the_same_roles_as_via_saml() {
    let app = spawn_app_with_oidc(Some("s3cret-alice")).await;
    let auth = app.start_oidc("demo-oidc").await;
    let q = query_of(&auth);
    assert!(
        auth.starts_with(OIDC_PEER.get("OIDC_AUTHORIZATION_URL")),
        "{auth}"
    );
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["response_type"], "code");
    assert!(q["scope"].split(' ').any(|s| s == "groups"), "{auth}");
    assert!(q["state"].len() >= 43 && q["nonce"].len() >= 43);
    assert_eq!(q["redirect_uri"], format!("{}/oidc/callback", app.address));

    let callback = oidc_peer_sign_in(&app.client, &auth, "alice", "alicepw").await;
    let resp = app.client.get(&callback).send().await.unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/roles");
    let html = app.get("/roles").await.text().await.unwrap();
    assert!(
        html.contains("Administrator") && html.contains("Read-only"),
        "{html}"
    );
    assert_eq!(
        role_names(&app.roles_json().await),
        vec!["Admin", "ReadOnly"]
    );

    let events = app.audit_events().await;
    let sign_in = events.iter().find(|e| e["kind"] == "sign_in").unwrap();
    assert_eq!(sign_in["outcome"], "accepted");
    assert_eq!(sign_in["idp"], "demo-oidc");
    assert_eq!(sign_in["subject"], "alice");
    assert_eq!(sign_in["groups"].as_array().unwrap().len(), 2);

    // Same person through SAML: the same grants.
    let saml = spawn_app().await;
    assert_eq!(saml.sign_in("alice").await.status(), 303);
    assert_eq!(
        role_names(&saml.roles_json().await),
        role_names(&app.roles_json().await)
    );
}

#[tokio::test]
async fn bob_gets_read_only_via_oidc_with_a_public_client() {
    let app = spawn_app_with_oidc(None).await;
    assert_eq!(app.oidc_sign_in("bob").await.status(), 303);
    assert_eq!(role_names(&app.roles_json().await), vec!["ReadOnly"]);
}

#[tokio::test]
async fn carol_signs_in_via_oidc_but_has_no_roles() {
    let app = spawn_app_with_oidc(Some("s3cret-carol")).await;
    assert_eq!(app.oidc_sign_in("carol").await.status(), 303);
    let html = app.get("/roles").await.text().await.unwrap();
    assert!(html.contains("You have no AWS roles yet"), "{html}");
    assert_eq!(
        app.roles_json().await["grants"].as_array().unwrap().len(),
        0
    );
    let events = app.audit_events().await;
    assert!(events.iter().any(|e| e["kind"] == "sign_in"
        && e["outcome"] == "no_roles"
        && e["idp"] == "demo-oidc"
        && e["subject"] == "carol"));
}

#[tokio::test]
async fn the_login_page_lists_both_upstreams_by_what_they_are() {
    let app = spawn_app_with_oidc(Some("s3cret-page")).await;
    let html = app.get("/login").await.text().await.unwrap();
    assert!(html.contains("/login/demo-saml"), "{html}");
    assert!(html.contains("/login/demo-oidc"), "{html}");
}

#[tokio::test]
async fn return_to_is_kept_across_the_oidc_flow() {
    let app = spawn_app_with_oidc(Some("s3cret-rt")).await;
    let start = app.get("/login/demo-oidc?return_to=/api/v1/roles").await;
    let auth = location(&start);
    let callback = oidc_peer_sign_in(&app.client, &auth, "bob", "bobpw").await;
    let resp = app.client.get(&callback).send().await.unwrap();
    assert_eq!(location(&resp), "/api/v1/roles");
}

async fn assert_refused(app: &TestApp, resp: reqwest::Response, code: &str) {
    assert_eq!(resp.status(), 403, "refused");
    let html = resp.text().await.unwrap();
    let reference = reference_in(&html);
    assert!(
        !html.contains(code),
        "the page does not name the failed check"
    );
    crate::refusals::assert_recorded(app, &reference, code).await;
    assert_eq!(app.get("/api/v1/roles").await.status(), 401, "no session");
}

#[tokio::test]
async fn callback_without_state_is_refused() {
    let app = spawn_app_with_oidc(Some("s3cret-ns")).await;
    let auth = app.start_oidc("demo-oidc").await;
    let callback = oidc_peer_sign_in(&app.client, &auth, "alice", "alicepw").await;
    let mut url = reqwest::Url::parse(&callback).unwrap();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != "state")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    let resp = app.client.get(url.as_str()).send().await.unwrap();
    assert_refused(&app, resp, "callback.state_missing").await;
}

#[tokio::test]
async fn callback_in_another_browser_is_refused_and_keeps_the_owners_login() {
    let app = spawn_app_with_oidc(Some("s3cret-ob")).await;
    let auth = app.start_oidc("demo-oidc").await;
    let callback = oidc_peer_sign_in(&app.client, &auth, "alice", "alicepw").await;
    // The attacker's browser (login CSRF / a stolen redirect) carries the response.
    let other = browser();
    let _ = other.get(format!("{}/login", app.address)).send().await;
    let resp = other.get(&callback).send().await.unwrap();
    assert_eq!(resp.status(), 403);
    // Nothing verified yet (the code is not redeemed in the wrong browser): counted.
    let reference = reference_in(&resp.text().await.unwrap());
    crate::refusals::assert_counted(&app, &reference, "callback.state_other_browser").await;
    // The owner can still finish.
    let resp = app.client.get(&callback).send().await.unwrap();
    assert_eq!(resp.status(), 303);
}

#[tokio::test]
async fn mismatched_state_is_refused() {
    let app = spawn_app_with_oidc(Some("s3cret-ms")).await;
    let auth = app.start_oidc("demo-oidc").await;
    let callback = oidc_peer_sign_in(&app.client, &auth, "alice", "alicepw").await;
    let state = query_of(&callback)["state"].clone();
    let forged = callback.replace(&state, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    let resp = app.client.get(&forged).send().await.unwrap();
    assert_refused(&app, resp, "callback.state_unknown").await;
}

#[tokio::test]
async fn a_replayed_callback_is_refused_state_is_single_use() {
    let app = spawn_app_with_oidc(Some("s3cret-rp")).await;
    let auth = app.start_oidc("demo-oidc").await;
    let callback = oidc_peer_sign_in(&app.client, &auth, "alice", "alicepw").await;
    assert_eq!(
        app.client.get(&callback).send().await.unwrap().status(),
        303
    );
    let resp = app.client.get(&callback).send().await.unwrap();
    assert_eq!(resp.status(), 403);
    assert!(
        app.last_reason()
            .await
            .starts_with("callback.state_unknown")
    );
}

#[tokio::test]
async fn code_replay_with_a_fresh_state_is_refused_by_the_provider() {
    let app = spawn_app_with_oidc(Some("s3cret-cr")).await;
    let auth = app.start_oidc("demo-oidc").await;
    let first = oidc_peer_sign_in(&app.client, &auth, "alice", "alicepw").await;
    let code = query_of(&first)["code"].clone();
    assert_eq!(app.client.get(&first).send().await.unwrap().status(), 303);
    // A second flow in the same browser; the old (used) code is injected into its callback.
    let auth2 = app.start_oidc("demo-oidc").await;
    let state2 = query_of(&auth2)["state"].clone();
    let resp = app
        .client
        .get(format!("{}/oidc/callback", app.address))
        .query(&[
            ("code", code.as_str()),
            ("state", state2.as_str()),
            ("iss", OIDC_PEER.get("OIDC_ISSUER")),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert!(app.last_reason().await.starts_with("token.invalid_grant"));
}

#[tokio::test]
async fn a_code_redeemed_with_the_wrong_pkce_verifier_is_refused() {
    let app = spawn_app_with_oidc(Some("s3cret-pk")).await;
    // Flow A yields a code bound to A's code_challenge …
    let auth_a = app.start_oidc("demo-oidc").await;
    let callback_a = oidc_peer_sign_in(&app.client, &auth_a, "alice", "alicepw").await;
    let code_a = query_of(&callback_a)["code"].clone();
    // … delivered to flow B, whose verifier does not match it (code injection).
    let auth_b = app.start_oidc("demo-oidc").await;
    let state_b = query_of(&auth_b)["state"].clone();
    let resp = app
        .client
        .get(format!("{}/oidc/callback", app.address))
        .query(&[
            ("code", code_a.as_str()),
            ("state", state_b.as_str()),
            ("iss", OIDC_PEER.get("OIDC_ISSUER")),
        ])
        .send()
        .await
        .unwrap();
    assert_refused(&app, resp, "token.invalid_grant").await;
}

#[tokio::test]
async fn a_provider_error_such_as_missing_pkce_is_a_clean_refusal() {
    let app = spawn_app_with_oidc(Some("s3cret-pe")).await;
    let auth = app.start_oidc("demo-oidc").await;
    // Without code_challenge the provider answers with an error redirect (PKCE is required).
    let mut url = reqwest::Url::parse(&auth).unwrap();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != "code_challenge" && k != "code_challenge_method")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    let resp = app.client.get(url.as_str()).send().await.unwrap();
    assert!(resp.status().is_redirection());
    let callback = location(&resp);
    assert_eq!(
        query_of(&callback)["error"],
        "invalid_request",
        "{callback}"
    );
    let resp = app.client.get(&callback).send().await.unwrap();
    assert_refused(&app, resp, "callback.provider_error").await;
}

#[tokio::test]
async fn a_response_with_another_issuer_is_refused_mix_up() {
    let app = spawn_app_with_oidc(Some("s3cret-mx")).await;
    let auth = app.start_oidc("demo-oidc").await;
    let callback = oidc_peer_sign_in(&app.client, &auth, "alice", "alicepw").await;
    let q = query_of(&callback);
    let resp = app
        .client
        .get(format!("{}/oidc/callback", app.address))
        .query(&[
            ("code", q["code"].as_str()),
            ("state", q["state"].as_str()),
            ("iss", "https://evil.example.com"),
        ])
        .send()
        .await
        .unwrap();
    assert_refused(&app, resp, "callback.iss_mismatch").await;
}

#[tokio::test]
async fn a_response_without_iss_is_refused_because_the_provider_promises_it() {
    let app = spawn_app_with_oidc(Some("s3cret-ni")).await;
    let auth = app.start_oidc("demo-oidc").await;
    let callback = oidc_peer_sign_in(&app.client, &auth, "alice", "alicepw").await;
    let q = query_of(&callback);
    let resp = app
        .client
        .get(format!("{}/oidc/callback", app.address))
        .query(&[("code", q["code"].as_str()), ("state", q["state"].as_str())])
        .send()
        .await
        .unwrap();
    assert_refused(&app, resp, "callback.iss_missing").await;
}

/// An app whose demo OpenID provider settings are changed by `edit` (client registered as usual).
async fn spawn_app_with_oidc_edited(
    secret: &str,
    edit: impl FnOnce(&mut roleport::configuration::OidcIdpSettings),
) -> TestApp {
    let client_id = format!("roleport-test-{}", uuid::Uuid::new_v4().simple());
    let mut idp = demo_oidc_idp(&client_id, Some(secret));
    match &mut idp.kind {
        roleport::configuration::IdpKind::Oidc(oidc) => edit(oidc),
        roleport::configuration::IdpKind::Saml(_) => unreachable!(),
    }
    let app = spawn_app_with(Options {
        extra_idps: vec![idp],
        ..Options::default()
    })
    .await;
    register_oidc_client(
        &client_id,
        Some(secret),
        &format!("{}/oidc/callback", app.address),
    );
    app
}

#[tokio::test]
async fn userinfo_is_asked_when_the_id_token_has_no_groups() {
    // `userinfo = true`: carol's ID token has no group claims, so Roleport calls the peer's
    // userinfo endpoint with the access token (same `sub` required); she has no groups there
    // either, so the sign-in is accepted with no roles. Alice's ID token has groups: no call.
    let app = spawn_app_with_oidc_edited("s3cret-userinfo", |o| o.userinfo = true).await;
    assert_eq!(app.oidc_sign_in("carol").await.status(), 303);
    let events = app.audit_events().await;
    assert!(
        events.iter().any(|e| e["kind"] == "sign_in"
            && e["outcome"] == "no_roles"
            && e["subject"] == "carol"),
        "{events:?}"
    );
    let alice = spawn_app_with_oidc_edited("s3cret-userinfo2", |o| o.userinfo = true).await;
    assert_eq!(alice.oidc_sign_in("alice").await.status(), 303);
    assert_eq!(
        role_names(&alice.roles_json().await),
        vec!["Admin", "ReadOnly"]
    );
}

#[tokio::test]
async fn a_hosted_domain_allow_list_refuses_tokens_without_an_allowed_hd() {
    // Google-style `allowed_hosted_domains`: the demo provider sends no `hd`, so even alice with
    // the right password is refused, before any rule is looked at.
    let app = spawn_app_with_oidc_edited("s3cret-hd", |o| {
        o.allowed_hosted_domains = vec!["example.org".into()];
    })
    .await;
    let resp = app.oidc_sign_in("alice").await;
    assert_refused(&app, resp, "claims.hd_not_allowed").await;
}
