//! End to end against the real peers: SimpleSAMLphp on OpenLDAP, Roleport, Postgres.

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
async fn alice_signs_in_sp_initiated_and_sees_both_roles() {
    let app = spawn_app().await;
    let resp = app.sign_in("alice").await;
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/roles");

    let page = app.get("/roles").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("demo-prod"), "{html}");
    assert!(html.contains("123456789012"));
    assert!(html.contains("Administrator") && html.contains("Read-only"));
    assert!(
        html.contains("1 h") && html.contains("2 h"),
        "longest session shown"
    );
    assert!(html.contains(r#"<meta name="csrf-token" content=""#));

    let json = app.roles_json().await;
    assert_eq!(role_names(&json), vec!["Admin", "ReadOnly"]);
    let admin = json["grants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["role_name"] == "Admin")
        .unwrap();
    assert_eq!(admin["id"], "123456789012-Admin");
    assert_eq!(admin["account_id"], "123456789012");
    assert_eq!(admin["account_alias"], "demo-prod");
    assert_eq!(admin["role_arn"], "arn:aws:iam::123456789012:role/Admin");
    assert_eq!(admin["description"], "Full access to the demo account");
    assert_eq!(admin["max_session_seconds"], 3600);

    let events = app.audit_events().await;
    let sign_in = events
        .iter()
        .find(|e| e["kind"] == "sign_in")
        .expect("audit row");
    assert_eq!(sign_in["outcome"], "accepted");
    assert_eq!(sign_in["idp"], "demo-saml");
    assert_eq!(sign_in["subject"], "alice");
    assert_eq!(sign_in["user_agent"], "roleport-tests");
    assert_eq!(sign_in["source_ip"], "127.0.0.1");
    let groups = sign_in["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 2);
}

#[tokio::test]
async fn bob_sees_one_role() {
    let app = spawn_app().await;
    assert_eq!(app.sign_in("bob").await.status(), 303);
    assert_eq!(role_names(&app.roles_json().await), vec!["ReadOnly"]);
    let html = app.get("/roles").await.text().await.unwrap();
    assert!(html.contains("Read-only") && !html.contains("Administrator"));
}

#[tokio::test]
async fn carol_signs_in_but_gets_the_no_role_page_with_a_reference() {
    let app = spawn_app().await;
    assert_eq!(app.sign_in("carol").await.status(), 303);
    let page = app.get("/roles").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("You have no AWS roles yet"), "{html}");
    let _reference = reference_in(&html);
    assert_eq!(
        app.roles_json().await["grants"].as_array().unwrap().len(),
        0
    );
    let events = app.audit_events().await;
    assert!(
        events.iter().any(|e| e["kind"] == "sign_in"
            && e["outcome"] == "no_roles"
            && e["subject"] == "carol")
    );
}

#[tokio::test]
async fn wrong_password_never_reaches_roleport_and_grants_nothing() {
    let app = spawn_app().await;
    let start = app
        .client
        .get(format!("{}/login/demo-saml", app.address))
        .send()
        .await
        .unwrap();
    let sso = location(&start);
    let mut url = sso.clone();
    let mut html = String::new();
    for _ in 0..5 {
        let r = app.client.get(&url).send().await.unwrap();
        if r.status().is_redirection() {
            url = reqwest::Url::parse(&url)
                .unwrap()
                .join(&location(&r))
                .unwrap()
                .to_string();
            continue;
        }
        html = r.text().await.unwrap();
        break;
    }
    let auth_state = html_unescape(
        &regex::Regex::new(r#"name="AuthState" value="([^"]*)""#)
            .unwrap()
            .captures(&html)
            .unwrap()[1],
    );
    let resp = app
        .client
        .post(format!(
            "{}module.php/core/loginuserpass.php",
            PEERS.get("IDP_BASE_URL")
        ))
        .form(&[
            ("username", "alice"),
            ("password", "wrong"),
            ("AuthState", auth_state.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert!(parse_saml_post(&resp.text().await.unwrap()).is_none());
    assert_eq!(app.get("/api/v1/roles").await.status(), 401);
}

#[tokio::test]
async fn idp_initiated_sign_in_works_when_enabled() {
    let app = spawn_app_with(Options {
        idp_initiated: true,
        ..Options::default()
    })
    .await;
    let url = format!(
        "{}saml2/idp/SSOService.php?spentityid={}",
        PEERS.get("IDP_BASE_URL"),
        urlencoding::encode(&app.sp_entity_id)
    );
    let post = idp_sign_in(&app.client, &url, "alice", "alicepw").await;
    assert_eq!(post.action, format!("{}/saml/acs", app.address));
    let resp = app
        .post_acs(&post.saml_response, post.relay_state.as_deref())
        .await;
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/roles");
    assert_eq!(
        role_names(&app.roles_json().await),
        vec!["Admin", "ReadOnly"]
    );
}

#[tokio::test]
async fn idp_initiated_sign_in_is_refused_when_disabled() {
    let app = spawn_app().await;
    let url = format!(
        "{}saml2/idp/SSOService.php?spentityid={}",
        PEERS.get("IDP_BASE_URL"),
        urlencoding::encode(&app.sp_entity_id)
    );
    let post = idp_sign_in(&app.client, &url, "alice", "alicepw").await;
    let resp = app
        .post_acs(&post.saml_response, post.relay_state.as_deref())
        .await;
    assert_eq!(resp.status(), 403);
    let html = resp.text().await.unwrap();
    assert!(html.contains("Sign-in failed"));
    let reference = reference_in(&html);
    assert_eq!(app.session_count().await, 0);
    crate::refusals::assert_counted(&app, &reference, "unsolicited_refused").await;
    assert_eq!(app.get("/api/v1/roles").await.status(), 401);
}

#[tokio::test]
async fn idp_initiated_relay_state_off_site_is_ignored() {
    let app = spawn_app_with(Options {
        idp_initiated: true,
        ..Options::default()
    })
    .await;
    let url = format!(
        "{}saml2/idp/SSOService.php?spentityid={}&RelayState={}",
        PEERS.get("IDP_BASE_URL"),
        urlencoding::encode(&app.sp_entity_id),
        urlencoding::encode("https://evil.example/steal")
    );
    let post = idp_sign_in(&app.client, &url, "bob", "bobpw").await;
    assert_eq!(
        post.relay_state.as_deref(),
        Some("https://evil.example/steal")
    );
    let resp = app
        .post_acs(&post.saml_response, post.relay_state.as_deref())
        .await;
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/roles", "never an off-site redirect");
}

#[tokio::test]
async fn return_to_survives_the_round_trip_and_off_site_targets_are_refused() {
    let app = spawn_app().await;
    let start = app
        .client
        .get(format!(
            "{}/login/demo-saml?return_to=%2Fapi%2Fv1%2Froles",
            app.address
        ))
        .send()
        .await
        .unwrap();
    let post = idp_sign_in(&app.client, &location(&start), "bob", "bobpw").await;
    // RelayState is an opaque handle, never the target itself.
    assert!(!post.relay_state.clone().unwrap().contains('/'));
    let resp = app
        .post_acs(&post.saml_response, post.relay_state.as_deref())
        .await;
    assert_eq!(location(&resp), "/api/v1/roles");

    for evil in ["https://evil.example/", "//evil.example", "/\\evil.example"] {
        let resp = app
            .client
            .get(format!(
                "{}/login/demo-saml?return_to={}",
                app.address,
                urlencoding::encode(evil)
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "{evil}");
        reference_in(&resp.text().await.unwrap());
    }
}

#[tokio::test]
async fn logout_ends_the_session() {
    let app = spawn_app().await;
    app.sign_in("alice").await;
    assert_eq!(app.get("/api/v1/roles").await.status(), 200);
    let csrf = app.csrf_token().await;
    let resp = app
        .client
        .post(format!("{}/logout", app.address))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.unwrap().contains("You are signed out"));
    assert_eq!(app.get("/api/v1/roles").await.status(), 401);
    assert_eq!(app.session_count().await, 0);
    let roles = app.get("/roles").await;
    assert_eq!(roles.status(), 303);
    assert!(location(&roles).starts_with("/login"));
}

#[tokio::test]
async fn login_page_lists_identity_providers() {
    let app = spawn_app().await;
    let html = app.get("/login").await.text().await.unwrap();
    assert!(html.contains(r#"href="/login/demo-saml""#), "{html}");
    assert!(html.contains("Demo directory"));
}

#[tokio::test]
async fn a_second_replica_sees_the_first_ones_sessions_and_rules() {
    let a = spawn_app().await;
    let b = spawn_app_with(Options {
        database: Some(a.db_name.clone()),
        ..Options::default()
    })
    .await;
    a.sign_in("alice").await;
    // Same browser, other replica.
    let resp = a
        .client
        .get(format!("{}/api/v1/roles", b.address))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn encrypted_assertions_from_simplesamlphp_are_decrypted() {
    let (key, cert, cert_pem) = keypair_files("roleport-sp");
    let app = spawn_app_with(Options {
        sp_key: Some((key, cert)),
        ..Options::default()
    })
    .await;
    // Re-register with the encryption certificate: SimpleSAMLphp now sends an EncryptedAssertion
    // (AES-128-CBC inside a signed Response, RSA-OAEP key transport).
    register_sp(
        &app.sp_entity_id,
        &format!("{}/saml/acs", app.address),
        Some(&cert_pem),
    );
    let start = app
        .client
        .get(format!("{}/login/demo-saml", app.address))
        .send()
        .await
        .unwrap();
    let post = idp_sign_in(&app.client, &location(&start), "alice", "alicepw").await;
    let xml = String::from_utf8(
        base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            &post.saml_response,
        )
        .unwrap(),
    )
    .unwrap();
    assert!(
        xml.contains("EncryptedAssertion") && !xml.contains("<saml:Assertion"),
        "the IdP encrypted it"
    );
    let resp = app
        .post_acs(&post.saml_response, post.relay_state.as_deref())
        .await;
    assert_eq!(resp.status(), 303, "{}", resp.text().await.unwrap());
    assert_eq!(
        role_names(&app.roles_json().await),
        vec!["Admin", "ReadOnly"]
    );
    let md = app.get("/saml/metadata").await.text().await.unwrap();
    assert!(md.contains(r#"use="encryption""#));
}

#[tokio::test]
async fn rule_changes_apply_without_signing_in_again() {
    let app = spawn_app().await;
    app.sign_in("alice").await;
    assert_eq!(
        role_names(&app.roles_json().await),
        vec!["Admin", "ReadOnly"]
    );
    let only_readonly = TEST_RULES.replace(
        "  - id: admins\n    idp: [demo-saml, demo-oidc]\n    claim: group\n    match: ldap_dn\n    pattern: aws-admins\n    roles: [arn:aws:iam::123456789012:role/Admin]\n",
        "  - id: admins-denied\n    idp: [demo-saml, demo-oidc]\n    claim: group\n    match: ldap_dn\n    pattern: aws-admins\n    roles: [arn:aws:iam::123456789012:role/Admin]\n    effect: deny\n",
    );
    let set = roleport::protocol::mapping::parse_document(&only_readonly).unwrap();
    roleport::db::rules::replace_all(&app.pool, &set)
        .await
        .unwrap();
    // Each replica polls the generation every reload_seconds (1 s in tests).
    let mut names = Vec::new();
    for _ in 0..50 {
        names = role_names(&app.roles_json().await);
        if names == vec!["ReadOnly"] {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(names, vec!["ReadOnly"]);
}

/// Serves whatever body the test puts in the mutex, as an IdP metadata URL would.
async fn metadata_server(body: std::sync::Arc<std::sync::Mutex<String>>) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/metadata.xml", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let text = body.lock().unwrap().clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = sock.read(&mut buf).await;
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/samlmetadata+xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    text.len()
                );
                let _ = sock.write_all(head.as_bytes()).await;
                let _ = sock.write_all(text.as_bytes()).await;
            });
        }
    });
    url
}

#[tokio::test]
async fn metadata_refresh_picks_up_a_signing_key_rollover() {
    let real = reqwest::get(PEERS.get("IDP_METADATA_URL"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let (_, _, other_pem) = keypair_files("next-idp-key");
    let other_b64: String = other_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let cert_re = regex::Regex::new(r"<ds:X509Certificate>([^<]+)</ds:X509Certificate>").unwrap();
    let real_b64 = cert_re.captures(&real).unwrap()[1].to_string();
    // Before the rollover the metadata names only a key the IdP does not sign with yet.
    let before = real.replace(&real_b64, &other_b64);
    let body = std::sync::Arc::new(std::sync::Mutex::new(before));
    let url = metadata_server(body.clone()).await;
    let mut idp = demo_saml_idp(false);
    idp.id = "rollover".into();
    idp.saml_mut().unwrap().metadata_url = Some(url);
    let app = spawn_app_with(Options {
        rules_yaml: TEST_RULES.replace("[demo-saml, demo-oidc]", "rollover"),
        extra_idps: vec![idp],
        include_demo_saml: false,
        ..Options::default()
    })
    .await;
    register_sp(
        &app.sp_entity_id,
        &format!("{}/saml/acs", app.address),
        None,
    );

    let sign_in = |app: &TestApp| {
        let client = app.client.clone();
        let address = app.address.clone();
        async move {
            let start = client
                .get(format!("{address}/login/rollover"))
                .send()
                .await
                .unwrap();
            let post = idp_sign_in(&client, &location(&start), "bob", "bobpw").await;
            let mut form = vec![("SAMLResponse", post.saml_response)];
            if let Some(r) = post.relay_state {
                form.push(("RelayState", r));
            }
            client
                .post(format!("{address}/saml/acs"))
                .form(&form)
                .send()
                .await
                .unwrap()
        }
    };
    let refused = sign_in(&app).await;
    assert_eq!(refused.status(), 403);
    let reference = reference_in(&refused.text().await.unwrap());
    crate::refusals::assert_counted(&app, &reference, "bad_signature").await;

    // During the rollover the IdP publishes both keys; after a refresh both verify.
    let both = real.replacen(
        "<md:KeyDescriptor use=\"signing\">",
        &format!("<md:KeyDescriptor use=\"signing\"><ds:KeyInfo xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:X509Data><ds:X509Certificate>{other_b64}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor><md:KeyDescriptor use=\"signing\">"),
        1,
    );
    assert_ne!(both, real, "metadata shape changed: {real}");
    *body.lock().unwrap() = both;
    roleport::startup::refresh_metadata_once(
        &app.state,
        &roleport::startup::metadata_client().unwrap(),
    )
    .await;
    assert_eq!(
        app.state.idp("rollover").unwrap().trust.certificates.len(),
        2
    );
    let accepted = sign_in(&app).await;
    assert_eq!(accepted.status(), 303);

    // A broken fetch keeps the previous trust rather than dropping it.
    *body.lock().unwrap() = "<not-metadata/>".into();
    roleport::startup::refresh_metadata_once(
        &app.state,
        &roleport::startup::metadata_client().unwrap(),
    )
    .await;
    assert_eq!(
        app.state.idp("rollover").unwrap().trust.certificates.len(),
        2
    );
}

#[tokio::test]
async fn a_login_left_pending_too_long_is_refused() {
    let app = spawn_app().await;
    let start = app
        .client
        .get(format!("{}/login/demo-saml", app.address))
        .send()
        .await
        .unwrap();
    let post = idp_sign_in(&app.client, &location(&start), "alice", "alicepw").await;
    // The pending AuthnRequest lives 10 minutes; the browser comes back after 11.
    app.clock.advance(chrono::Duration::minutes(11));
    let resp = app
        .post_acs(&post.saml_response, post.relay_state.as_deref())
        .await;
    assert_eq!(resp.status(), 403);
    let reference = reference_in(&resp.text().await.unwrap());
    crate::refusals::assert_counted(&app, &reference, "in_response_to_unknown").await;
    assert_eq!(app.session_count().await, 0);
}

/// An IdP that wants signed AuthnRequests checks the HTTP-Redirect signature: Roleport's key
/// passes, a request the IdP cannot verify (registered with another certificate) does not.
#[tokio::test]
async fn signed_authn_requests_are_accepted_by_an_idp_that_checks_them() {
    // A certificate the IdP will wrongly expect in the second half.
    let (_, _, cert_pem) = keypair_files("someone-else");
    let (key, cert, cert_pem_2) = keypair_files("roleport-sp-signing");
    let mut idp = demo_saml_idp(false);
    idp.saml_mut().unwrap().sign_authn_requests = true;
    let app = spawn_app_with(Options {
        sp_key: Some((key, cert)),
        extra_idps: vec![idp],
        include_demo_saml: false,
        ..Options::default()
    })
    .await;
    let acs = format!("{}/saml/acs", app.address);
    let register = |pem: &str| {
        register_sp_json(serde_json::json!({
            "entity_id": app.sp_entity_id, "acs_url": acs, "signing_cert_pem": pem,
        }))
    };

    // The IdP knows Roleport's signing certificate: the signed request is accepted.
    register(&cert_pem_2);
    let start = app.get("/login/demo-saml").await;
    let sso = location(&start);
    assert!(
        sso.contains("&SigAlg=") && sso.contains("&Signature="),
        "{sso}"
    );
    let post = idp_sign_in(&app.client, &sso, "bob", "bobpw").await;
    let resp = app
        .post_acs(&post.saml_response, post.relay_state.as_deref())
        .await;
    assert_eq!(resp.status(), 303);

    // The IdP expects another key: it refuses the request and no SAMLResponse comes back.
    register(&cert_pem);
    let client = browser();
    let start = client
        .get(format!("{}/login/demo-saml", app.address))
        .send()
        .await
        .unwrap();
    let mut url = location(&start);
    let mut html = String::new();
    for _ in 0..5 {
        let r = client.get(&url).send().await.unwrap();
        if r.status().is_redirection() {
            url = reqwest::Url::parse(&url)
                .unwrap()
                .join(&location(&r))
                .unwrap()
                .to_string();
            continue;
        }
        html = r.text().await.unwrap();
        break;
    }
    assert!(parse_saml_post(&html).is_none());
    assert!(
        !html.contains(r#"name="AuthState""#),
        "the IdP must refuse before the login form"
    );
}
