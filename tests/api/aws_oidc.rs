//! `oidc_broker`: Roleport as the OpenID provider AWS trusts. It publishes a discovery document
//! and a JWKS, mints a short-lived RS256 ID token for exactly the picked grant, and calls
//! AssumeRoleWithWebIdentity (through moto, which accepts any token, so the strict checker
//! below verifies every minted token against Roleport's own published keys).

use crate::aws_harness::*;
use crate::helpers::*;
use roleport::configuration::{AwsSettings, KeyPairFiles};
use roleport::protocol::oidc::jws::verify_compact;
use roleport::protocol::oidc::{JwsPolicy, KeySet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

const ADMIN: &str = "123456789012-Admin";
const ADMIN_ARN: &str = "arn:aws:iam::123456789012:role/Admin";
const ALICE_ARN: &str = "arn:aws:sts::123456789012:assumed-role/Admin/alice@example.org@demo-saml";
const ALICE_OIDC_ARN: &str =
    "arn:aws:sts::123456789012:assumed-role/Admin/alice@example.org@demo-oidc";

const OIDC_BROKER_RULES: &str = r#"
version: 1
accounts:
  - id: "123456789012"
    alias: demo-prod
    partition: aws
    access: {mode: oidc_broker}
roles:
  - arn: arn:aws:iam::123456789012:role/Admin
    display_name: Administrator
    max_session_seconds: 3600
  - arn: arn:aws:iam::123456789012:role/ReadOnly
    display_name: Read-only
    max_session_seconds: 7200
    access: {mode: oidc_broker, oidc_audience: roleport-readonly}
rules:
  - id: admins
    idp: [demo-saml, demo-oidc]
    claim: group
    match: ldap_dn
    pattern: aws-admins
    roles: [arn:aws:iam::123456789012:role/Admin]
    session_tags: {team: platform, cost-center: "42"}
    transitive_tag_keys: [team]
  - id: readonly
    idp: [demo-saml, demo-oidc]
    claim: group
    match: ldap_dn
    pattern: cn=aws-readonly,ou=groups,dc=example,dc=org
    roles: [arn:aws:iam::123456789012:role/ReadOnly]
"#;

/// An app with the OIDC broker rules, the demo SAML IdP and (when `oidc`) the demo OIDC peer.
async fn app(aws: AwsSettings, oidc: bool) -> TestApp {
    let client_id = format!("roleport-test-{}", uuid::Uuid::new_v4().simple());
    let secret = "s3cret-aws-oidc";
    let app = spawn_app_with(Options {
        rules_yaml: OIDC_BROKER_RULES.to_string(),
        extra_idps: if oidc {
            vec![demo_oidc_idp(&client_id, Some(secret))]
        } else {
            Vec::new()
        },
        aws: Some(aws),
        ..Options::default()
    })
    .await;
    if oidc {
        register_oidc_client(
            &client_id,
            Some(secret),
            &format!("{}/oidc/callback", app.address),
        );
    }
    app
}

async fn credentials(app: &TestApp, grant: &str) -> serde_json::Value {
    let resp = app.request_credentials(grant, None).await;
    let status = resp.status();
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    body
}

async fn works_on_moto(body: &serde_json::Value) -> String {
    caller_arn(
        body["AccessKeyId"].as_str().unwrap(),
        body["SecretAccessKey"].as_str().unwrap(),
        body["SessionToken"].as_str().unwrap(),
    )
    .await
}

/// The only AssumeRoleWithWebIdentity call recorded.
fn web_identity_call(sts: &FakeServer) -> Recorded {
    let calls: Vec<Recorded> = sts
        .seen
        .lock()
        .unwrap()
        .iter()
        .filter(|c| c.params.get("Action").map(String::as_str) == Some("AssumeRoleWithWebIdentity"))
        .cloned()
        .collect();
    assert_eq!(calls.len(), 1, "{calls:?}");
    calls.into_iter().next().unwrap()
}

/// Roleport's OpenID provider as AWS sees it: discovery, then the JWKS it names.
async fn published_keys(app: &TestApp) -> (serde_json::Value, serde_json::Value) {
    let config: serde_json::Value = app
        .get("/.well-known/openid-configuration")
        .await
        .json()
        .await
        .unwrap();
    let jwks_uri = config["jwks_uri"].as_str().unwrap().to_string();
    let resp = app.client.get(&jwks_uri).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let jwks: serde_json::Value = resp.json().await.unwrap();
    (config, jwks)
}

/// What the token must say besides its signature.
struct TokenCheck<'a> {
    audience: &'a str,
    subject: &'a str,
    source_identity: &'a str,
    tags: Option<serde_json::Value>,
}

/// The strict checker: the recorded call, and its WebIdentityToken verified against Roleport's
/// own discovery document and JWKS with the pure verifier's JWS layer (RS256 only), then every
/// claim AWS reads. (verify_id_token needs a nonce, which a token minted for STS has none of, so
/// the claims are checked here.)
async fn check_call(
    app: &TestApp,
    call: &Recorded,
    role_arn: &str,
    session: &str,
    want: TokenCheck<'_>,
) {
    assert_eq!(call.params["Action"], "AssumeRoleWithWebIdentity");
    assert_eq!(call.params["RoleArn"], role_arn);
    assert_eq!(call.params["RoleSessionName"], session);
    let duration: u32 = call.params["DurationSeconds"].parse().unwrap();
    assert!((900..=43_200).contains(&duration), "{duration}");
    // Unsigned, like AssumeRoleWithSAML.
    assert!(
        !call.headers.contains_key("authorization"),
        "{:?}",
        call.headers
    );
    let token = &call.params["WebIdentityToken"];
    assert!(token.len() <= 20_000);

    let (config, jwks) = published_keys(app).await;
    assert_eq!(config["issuer"], app.address.as_str());
    assert_eq!(
        config["jwks_uri"],
        format!("{}/oidc/jwks.json", app.address).as_str()
    );
    assert_eq!(
        config["id_token_signing_alg_values_supported"],
        serde_json::json!(["RS256"])
    );
    assert!(config["response_types_supported"].is_array());
    assert!(config["subject_types_supported"].is_array());
    let keys = KeySet::from_jwks(jwks.to_string().as_bytes()).unwrap();
    let verified = verify_compact(token, &JwsPolicy::default(), &keys).unwrap();
    assert_eq!(verified.header.alg.as_str(), "RS256");
    let first_kid = jwks["keys"][0]["kid"].as_str().unwrap();
    assert_eq!(
        verified.header.kid.as_deref(),
        Some(first_kid),
        "the first key signs"
    );

    let c = serde_json::Value::Object(verified.payload);
    assert_eq!(c["iss"], app.address.as_str());
    assert_eq!(c["aud"], want.audience);
    assert_eq!(c["sub"], want.subject);
    assert!(c["jti"].as_str().is_some_and(|j| j.len() >= 16));
    assert!(c.get("nonce").is_none());
    let (iat, exp, nbf) = (
        c["iat"].as_i64().unwrap(),
        c["exp"].as_i64().unwrap(),
        c["nbf"].as_i64().unwrap(),
    );
    let now = roleport::clock::Clock::system().now().timestamp();
    assert!(exp - iat <= 300 && exp > iat, "lives {}s", exp - iat);
    assert!(nbf <= iat && (now - iat).abs() < 60 && exp > now);
    assert_eq!(
        c["https://aws.amazon.com/source_identity"],
        want.source_identity
    );
    match want.tags {
        Some(tags) => {
            let claim = &c["https://aws.amazon.com/tags"];
            assert_eq!(claim, &tags);
            // AWS's shape: every principal tag value is a one-element list; transitive keys
            // are principal tag keys.
            let principal = claim["principal_tags"].as_object().unwrap();
            assert!(principal.values().all(|v| {
                v.as_array()
                    .is_some_and(|a| a.len() == 1 && a[0].is_string())
            }));
            for k in claim["transitive_tag_keys"].as_array().unwrap() {
                assert!(principal.contains_key(k.as_str().unwrap()));
            }
        }
        None => assert!(c.get("https://aws.amazon.com/tags").is_none()),
    }
}

fn admin_tags() -> serde_json::Value {
    serde_json::json!({
        "principal_tags": {"cost-center": ["42"], "team": ["platform"]},
        "transitive_tag_keys": ["team"],
    })
}

#[tokio::test]
async fn oidc_broker_after_a_saml_sign_in_works_on_moto() {
    let sts = recording_sts().await;
    let app = app(aws_settings(&sts.url, None), false).await;
    assert_eq!(app.sign_in("alice").await.status(), 303);
    let body = credentials(&app, ADMIN).await;
    assert_eq!(body["AssumedRoleArn"], ALICE_ARN);
    assert_eq!(works_on_moto(&body).await, ALICE_ARN);
    let call = web_identity_call(&sts);
    check_call(
        &app,
        &call,
        ADMIN_ARN,
        "alice@example.org@demo-saml",
        TokenCheck {
            audience: "sts.amazonaws.com",
            subject: "alice@demo-saml",
            source_identity: "alice@demo-saml",
            tags: Some(admin_tags()),
        },
    )
    .await;
    let rows = roleport::db::audit::by_reference(&app.pool, body["Reference"].as_str().unwrap())
        .await
        .unwrap();
    let row = serde_json::to_value(&rows[0]).unwrap();
    assert_eq!(row["outcome"], "accepted", "{row}");
    assert!(
        !row.to_string()
            .contains(&call.params["WebIdentityToken"][..40])
    );
}

#[tokio::test]
async fn oidc_broker_after_an_oidc_sign_in_works_on_moto_with_the_roles_audience() {
    let sts = recording_sts().await;
    let app = app(aws_settings(&sts.url, None), true).await;
    assert_eq!(app.oidc_sign_in("alice").await.status(), 303);
    let body = credentials(&app, ADMIN).await;
    assert_eq!(works_on_moto(&body).await, ALICE_OIDC_ARN);
    check_call(
        &app,
        &web_identity_call(&sts),
        ADMIN_ARN,
        "alice@example.org@demo-oidc",
        TokenCheck {
            audience: "sts.amazonaws.com",
            subject: "alice@demo-oidc",
            source_identity: "alice@demo-oidc",
            tags: Some(admin_tags()),
        },
    )
    .await;
}

#[tokio::test]
async fn a_roles_oidc_audience_is_the_tokens_aud() {
    let sts = recording_sts().await;
    let app = app(aws_settings(&sts.url, None), false).await;
    app.sign_in("alice").await;
    let body = credentials(&app, "123456789012-ReadOnly").await;
    assert_eq!(
        works_on_moto(&body).await,
        "arn:aws:sts::123456789012:assumed-role/ReadOnly/alice@example.org@demo-saml"
    );
    check_call(
        &app,
        &web_identity_call(&sts),
        "arn:aws:iam::123456789012:role/ReadOnly",
        "alice@example.org@demo-saml",
        TokenCheck {
            audience: "roleport-readonly",
            subject: "alice@demo-saml",
            source_identity: "alice@demo-saml",
            tags: None,
        },
    )
    .await;
}

#[tokio::test]
async fn every_signing_key_is_published_and_the_first_signs() {
    let sts = recording_sts().await;
    let (key2, cert2, _) = keypair_files("roleport-aws-idp-next");
    let mut aws = aws_settings(&sts.url, None);
    aws.signing_keys.push(KeyPairFiles {
        key_file: key2,
        cert_file: cert2,
    });
    let app = app(aws, false).await;
    let (_, jwks) = published_keys(&app).await;
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2, "{jwks}");
    for k in keys {
        assert_eq!(k["kty"], "RSA");
        assert_eq!(k["alg"], "RS256");
        assert_eq!(k["use"], "sig");
        assert_eq!(k["kid"].as_str().unwrap().len(), 43, "a SHA-256 thumbprint");
        assert!(k.get("d").is_none(), "no private parts");
    }
    assert_ne!(keys[0]["kid"], keys[1]["kid"]);
    app.sign_in("alice").await;
    credentials(&app, ADMIN).await;
    // check_call verifies the token was signed by keys[0].
    check_call(
        &app,
        &web_identity_call(&sts),
        ADMIN_ARN,
        "alice@example.org@demo-saml",
        TokenCheck {
            audience: "sts.amazonaws.com",
            subject: "alice@demo-saml",
            source_identity: "alice@demo-saml",
            tags: Some(admin_tags()),
        },
    )
    .await;
}

fn web_identity_ok(call: &Recorded) -> actix_web::HttpResponse {
    let session = &call.params["RoleSessionName"];
    let expiration = (roleport::clock::Clock::system().now() + chrono::Duration::hours(1))
        .format("%Y-%m-%dT%H:%M:%SZ");
    sts_ok(
        "AssumeRoleWithWebIdentity",
        &format!(
            concat!(
                "<Credentials><AccessKeyId>ASIAFAKEWEBIDENTITY1</AccessKeyId>",
                "<SecretAccessKey>{secret}</SecretAccessKey>",
                "<SessionToken>FQoGZXIvYXdzEBYaD{token}</SessionToken>",
                "<Expiration>{expiration}</Expiration></Credentials>",
                "<SubjectFromWebIdentityToken>alice</SubjectFromWebIdentityToken>",
                "<AssumedRoleUser><AssumedRoleId>AROAFAKE0000000000000:{session}</AssumedRoleId>",
                "<Arn>arn:aws:sts::123456789012:assumed-role/Admin/{session}</Arn></AssumedRoleUser>",
                "<Provider>roleport</Provider><Audience>sts.amazonaws.com</Audience>"
            ),
            secret = uuid::Uuid::new_v4().simple(),
            token = uuid::Uuid::new_v4().simple(),
            expiration = expiration,
            session = session,
        ),
    )
}

#[tokio::test]
async fn idp_communication_errors_are_retried_then_succeed() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let sts = fake_sts(move |r| {
        if counter.fetch_add(1, Ordering::SeqCst) < 2 {
            sts_error(
                400,
                "IDPCommunicationError",
                "The identity provider could not be reached",
            )
        } else {
            web_identity_ok(r)
        }
    })
    .await;
    let mut aws = aws_settings(&sts.url, None);
    aws.sts_max_attempts = 3;
    let app = app(aws, false).await;
    app.sign_in("alice").await;
    let body = credentials(&app, ADMIN).await;
    assert_eq!(body["AssumedRoleArn"], ALICE_ARN);
    assert_eq!(calls.load(Ordering::SeqCst), 3, "two retries, then success");
}

#[tokio::test]
async fn an_invalid_identity_token_is_not_retried_and_says_why() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let sts = fake_sts(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
        sts_error(
            400,
            "InvalidIdentityToken",
            "Couldn't retrieve verification key",
        )
    })
    .await;
    let mut aws = aws_settings(&sts.url, None);
    aws.sts_max_attempts = 3;
    let app = app(aws, false).await;
    app.sign_in("alice").await;
    let resp = app.request_credentials(ADMIN, None).await;
    // Permanent: its own status and title, not "try again".
    assert_eq!(resp.status(), 403);
    let problem: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(
        problem["title"],
        "AWS does not trust Roleport for this role"
    );
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.contains("InvalidIdentityToken")
            && detail.contains("identity provider registered in IAM")
            && detail.contains("Retrying will not help"),
        "{detail}"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1, "not retried");
    let rows = roleport::db::audit::by_reference(&app.pool, problem["reference"].as_str().unwrap())
        .await
        .unwrap();
    let row = serde_json::to_value(&rows[0]).unwrap();
    assert_eq!(row["outcome"], "rejected");
    assert!(
        row["reason"]
            .as_str()
            .unwrap()
            .starts_with("sts_rejected_claim: "),
        "{row}"
    );
    // AWS's own words stay with the operator.
    assert!(
        row["reason"]
            .as_str()
            .unwrap()
            .contains("InvalidIdentityToken: Couldn't retrieve verification key (request id "),
        "{row}"
    );
    assert_eq!(
        row["details"]["aws_error"]["message"],
        "Couldn't retrieve verification key"
    );
}

const OIDC_PASSTHROUGH_RULES_ACCESS: &str = "    access: {mode: oidc_passthrough}";

/// `oidc_passthrough`: the upstream provider's own ID token goes to AssumeRoleWithWebIdentity
/// byte for byte; the rules still decide the role, and a sign-in without such a token (SAML) or
/// with an expiring one is asked to sign in again.
#[tokio::test]
async fn oidc_passthrough_sends_the_upstream_id_token_as_it_is() {
    let sts = recording_sts().await;
    let client_id = format!("roleport-test-{}", uuid::Uuid::new_v4().simple());
    let secret = "s3cret-passthrough";
    let rules = OIDC_BROKER_RULES.replace(
        "    access: {mode: oidc_broker}",
        OIDC_PASSTHROUGH_RULES_ACCESS,
    );
    assert_ne!(rules, OIDC_BROKER_RULES);
    let app = spawn_app_with(Options {
        rules_yaml: rules,
        extra_idps: vec![demo_oidc_idp(&client_id, Some(secret))],
        aws: Some(aws_settings(&sts.url, None)),
        ..Options::default()
    })
    .await;
    register_oidc_client(
        &client_id,
        Some(secret),
        &format!("{}/oidc/callback", app.address),
    );

    assert_eq!(app.oidc_sign_in("alice").await.status(), 303);
    let body = credentials(&app, ADMIN).await;
    assert_eq!(works_on_moto(&body).await, ALICE_OIDC_ARN);
    let call = web_identity_call(&sts);
    assert_eq!(call.params["RoleArn"], ADMIN_ARN);
    assert_eq!(
        call.params["RoleSessionName"],
        "alice@example.org@demo-oidc"
    );
    assert!(
        !call.headers.contains_key("authorization"),
        "AssumeRoleWithWebIdentity is unsigned"
    );
    // The token is the provider's own: its issuer, its audience (our client id), alice's sub.
    let token = &call.params["WebIdentityToken"];
    let payload = token.split('.').nth(1).unwrap();
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
            .unwrap(),
    )
    .unwrap();
    let oidc_env =
        std::fs::read_to_string(std::env::var("ROLEPORT_TEST_OIDC_ENV").unwrap()).unwrap();
    let issuer = oidc_env
        .lines()
        .find_map(|l| l.strip_prefix("OIDC_ISSUER="))
        .unwrap();
    assert_eq!(claims["iss"], issuer);
    assert_eq!(claims["aud"], client_id);
    assert_eq!(claims["sub"], "alice");
    let rows = roleport::db::audit::by_reference(&app.pool, body["Reference"].as_str().unwrap())
        .await
        .unwrap();
    let row = serde_json::to_value(&rows[0]).unwrap();
    assert_eq!(row["details"]["mode"], "oidc_passthrough");
    assert!(
        !row.to_string().contains(token.as_str()),
        "the token never reaches the audit log"
    );

    // An hour later the upstream token has expired: sign in again, nothing sent.
    app.clock.advance(chrono::Duration::minutes(61));
    let expired = app.request_credentials(ADMIN, None).await;
    assert_eq!(expired.status(), 401, "{}", expired.text().await.unwrap());
    assert_eq!(sts.seen.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn oidc_passthrough_after_a_saml_sign_in_asks_for_an_oidc_sign_in() {
    let sts = recording_sts().await;
    let rules = OIDC_BROKER_RULES.replace(
        "    access: {mode: oidc_broker}",
        OIDC_PASSTHROUGH_RULES_ACCESS,
    );
    let app = spawn_app_with(Options {
        rules_yaml: rules,
        aws: Some(aws_settings(&sts.url, None)),
        ..Options::default()
    })
    .await;
    app.sign_in("alice").await;
    let resp = app.request_credentials(ADMIN, None).await;
    assert_eq!(resp.status(), 403);
    let problem: serde_json::Value = resp.json().await.unwrap();
    // Titled for what happened: signed in, but through SAML.
    assert_eq!(
        problem["title"],
        "This role needs a sign-in through an OpenID provider"
    );
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("you signed in through a SAML identity provider"),
        "{problem}"
    );
    let csrf = app.csrf_token().await;
    let page = app
        .client
        .post(format!("{}/roles/{ADMIN}/credentials", app.address))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 403);
    let html = html_unescape(&page.text().await.unwrap());
    assert!(
        html.contains("<h1>This role needs a sign-in through an OpenID provider</h1>")
            && !html.contains("Not signed in"),
        "{html}"
    );
    let rows = roleport::db::audit::by_reference(&app.pool, problem["reference"].as_str().unwrap())
        .await
        .unwrap();
    assert!(
        rows[0]
            .reason
            .as_deref()
            .unwrap()
            .starts_with("passthrough_no_id_token")
    );
    assert_eq!(sts.seen.lock().unwrap().len(), 0);
}
