//! What reaches AWS and what comes back (issue 12), against moto behind the strict checker:
//! the retired SAML pass-through refused with its reason, AWS's own words kept for the operator
//! while the person sees which kind of problem it is, one session-length rule for
//! GetFederationToken too, and the checker's own SigV4 verification shown to refuse a request
//! signed with the wrong secret.

use crate::aws_harness::*;
use crate::aws_modes::{
    Call, Gate, audit_row, credentials, federation_user, own_credentials, refused,
    signing_recording_sts_with,
};
use crate::helpers::*;
use actix_web::HttpResponse;
use roleport::configuration::AwsSettings;
use std::sync::{Arc, Mutex};

const ADMIN: &str = "123456789012-Admin";
const ADMIN_ARN: &str = "arn:aws:iam::123456789012:role/Admin";

async fn app_with(
    rules: &str,
    gate: Option<Gate>,
    aws: impl FnOnce(AwsSettings) -> AwsSettings,
) -> (TestApp, crate::aws_modes::Sts) {
    let sts = signing_recording_sts_with(gate).await;
    let federation = fake_federation().await;
    let settings = aws(aws_settings(&sts.url, Some(&federation.url)));
    let app = spawn_app_with(Options {
        rules_yaml: rules.to_string(),
        aws: Some(settings),
        ..Options::default()
    })
    .await;
    (app, sts)
}

/// The HTML form's answer for `grant`: status, `<h1>` title and the whole page.
async fn form_refusal(app: &TestApp, grant: &str) -> (u16, String, String) {
    let csrf = app.csrf_token().await;
    let resp = app
        .client
        .post(format!("{}/roles/{grant}/credentials", app.address))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let html = html_unescape(&resp.text().await.unwrap());
    let title = regex::Regex::new(r"<h1>([^<]*)</h1>")
        .unwrap()
        .captures(&html)
        .map(|c| c[1].to_string())
        .unwrap_or_default();
    (status, title, html)
}

// ----- 1. SAML pass-through is retired -----

#[tokio::test]
async fn stored_saml_passthrough_rules_are_refused_at_credential_time_with_the_reason() {
    let (app, sts) = app_with(TEST_RULES_WITH_IDP, None, |aws| aws).await;
    // Rules stored before the upgrade still name the retired mode: they load as they are.
    let before = app.state.rules_generation();
    sqlx::query(
        "UPDATE aws_accounts SET access_mode = 'saml_passthrough', saml_provider = 'demo-idp'",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    sqlx::query("UPDATE rules_generation SET generation = generation + 1")
        .execute(&app.pool)
        .await
        .unwrap();
    for _ in 0..100 {
        if app.state.rules_generation() != before {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_ne!(
        app.state.rules_generation(),
        before,
        "stored rules reloaded"
    );
    app.sign_in("alice").await;

    let (detail, row) = refused(&app, ADMIN, 409).await;
    for words in [
        "saml_passthrough is retired",
        "Use saml_broker",
        "oidc_passthrough",
    ] {
        assert!(detail.contains(words), "{words:?} in {detail}");
    }
    assert!(
        row["reason"]
            .as_str()
            .unwrap()
            .starts_with("access_mode_retired: access mode saml_passthrough is retired"),
        "{row}"
    );
    assert_eq!(row["details"]["mode"], "saml_passthrough");
    let (status, title, html) = form_refusal(&app, ADMIN).await;
    assert_eq!(status, 409);
    assert_eq!(title, "This role's way into AWS is retired");
    assert!(html.contains("Use saml_broker"), "{html}");
    reference_in(&html);
    assert!(sts.calls().is_empty(), "nothing reaches AWS");

    // Nothing bearer-like from a SAML sign-in is kept: the columns are gone.
    let columns: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.columns
         WHERE table_name = 'sessions' AND column_name LIKE 'upstream_saml%'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(columns, 0);
}

/// TEST_RULES with every rule naming its IdP.
const TEST_RULES_WITH_IDP: &str = r#"
version: 1
accounts:
  - id: "123456789012"
    alias: demo-prod
    partition: aws
roles:
  - arn: arn:aws:iam::123456789012:role/Admin
    display_name: Administrator
    max_session_seconds: 3600
rules:
  - id: admins
    idp: demo-saml
    claim: group
    match: ldap_dn
    pattern: aws-admins
    roles: [arn:aws:iam::123456789012:role/Admin]
"#;

// ----- 2. AWS's own words -----

const UNTRUSTING_RULES: &str = r#"
version: 1
accounts:
  - id: "123456789012"
    alias: demo-prod
    partition: aws
    access: {mode: assume_role, external_id: roleport-ext-42}
roles:
  - arn: arn:aws:iam::123456789012:role/Admin
    display_name: Administrator
    max_session_seconds: 3600
rules:
  - id: admins
    idp: demo-saml
    claim: group
    match: ldap_dn
    pattern: aws-admins
    roles: [arn:aws:iam::123456789012:role/Admin]
"#;

#[tokio::test]
async fn a_role_that_does_not_trust_roleport_is_a_403_and_aws_words_are_kept() {
    // The role's trust policy wants another ExternalId: AWS answers AccessDenied.
    let ids: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = ids.clone();
    let gate: Gate = Arc::new(move |call: &Call| {
        if call.params.get("Action").map(String::as_str) != Some("AssumeRole")
            || call.params.get("ExternalId").map(String::as_str) == Some("trust-wants-this")
        {
            return None;
        }
        let id = uuid::Uuid::new_v4().to_string();
        seen.lock().unwrap().push(id.clone());
        Some(
            HttpResponse::Forbidden()
                .content_type("text/xml")
                .insert_header(("x-amzn-RequestId", id.clone()))
                .body(format!(
                    r#"<ErrorResponse xmlns="{STS_NS}"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User: arn:aws:iam::123456789012:user/roleport is not authorized to perform: sts:AssumeRole on resource: {ADMIN_ARN}</Message></Error><RequestId>{id}</RequestId></ErrorResponse>"#
                )),
        )
    });
    let (app, sts) = app_with(UNTRUSTING_RULES, Some(gate), |aws| AwsSettings {
        own_credentials: own_credentials(false),
        ..aws
    })
    .await;
    app.sign_in("alice").await;

    let resp = app.request_credentials(ADMIN, None).await;
    assert_eq!(resp.status(), 403);
    let problem: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(
        problem["title"],
        "AWS does not trust Roleport for this role"
    );
    assert_eq!(problem["status"], 403);
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.contains("The role does not trust Roleport")
            && detail.contains("Retrying will not help; ask your platform team"),
        "{detail}"
    );
    assert!(problem.get("AccessKeyId").is_none());
    let rows = roleport::db::audit::by_reference(&app.pool, problem["reference"].as_str().unwrap())
        .await
        .unwrap();
    let row = serde_json::to_value(&rows[0]).unwrap();
    let request_id = ids.lock().unwrap()[0].clone();
    let reason = row["reason"].as_str().unwrap();
    assert!(reason.starts_with("sts_access_denied: "), "{reason}");
    assert!(
        reason.contains(&format!(
            "AccessDenied: User: arn:aws:iam::123456789012:user/roleport is not authorized to perform: sts:AssumeRole on resource: {ADMIN_ARN} (request id {request_id})"
        )),
        "AWS's code, message and request id in the row: {reason}"
    );
    assert_eq!(row["details"]["aws_error"]["code"], "AccessDenied");
    assert_eq!(
        row["details"]["aws_error"]["request_id"],
        request_id.as_str()
    );
    assert!(
        row["details"]["aws_error"]["message"]
            .as_str()
            .unwrap()
            .contains("not authorized to perform: sts:AssumeRole")
    );
    // A permanent refusal is not retried.
    assert_eq!(sts.calls().len(), 1);

    let (status, title, html) = form_refusal(&app, ADMIN).await;
    assert_eq!(status, 403);
    assert_eq!(title, "AWS does not trust Roleport for this role");
    assert!(html.contains("ask your platform team"), "{html}");
    reference_in(&html);
}

// ----- 3. One session-length rule, GetFederationToken included -----

const FEDERATION_POLICY: &str = r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}"#;

fn long_federation_rules() -> String {
    format!(
        r#"
version: 1
accounts:
  - id: "123456789012"
    alias: demo-prod
    partition: aws
    access: {{mode: federation_token}}
roles:
  - arn: arn:aws:iam::123456789012:role/ReadOnly
    max_session_seconds: 129600
    access:
      session_policy: {{inline: '{FEDERATION_POLICY}'}}
  - arn: arn:aws:iam::123456789012:role/Support
    max_session_seconds: 129600
    access:
      session_policy: {{inline: '{FEDERATION_POLICY}'}}
rules:
  - id: long
    idp: demo-saml
    claim: group
    match: ldap_dn
    pattern: cn=aws-readonly,ou=groups,dc=example,dc=org
    max_session_seconds: 129600
    roles: [arn:aws:iam::123456789012:role/ReadOnly]
  - id: plain
    idp: demo-saml
    claim: group
    match: ldap_dn
    pattern: cn=aws-readonly,ou=groups,dc=example,dc=org
    roles: [arn:aws:iam::123456789012:role/Support]
"#
    )
}

#[tokio::test]
async fn federation_token_reaches_36_hours_only_where_role_and_rule_allow_it() {
    let (app, sts) = app_with(&long_federation_rules(), None, |aws| AwsSettings {
        federation_user: Some(federation_user()),
        ..aws
    })
    .await;
    app.sign_in("bob").await;
    // (grant, requested, granted, deciding bound)
    let table = [
        ("123456789012-ReadOnly", None, 3600, "default"),
        ("123456789012-ReadOnly", Some(100_000), 100_000, "requested"),
        ("123456789012-ReadOnly", Some(200_000), 129_600, "rule cap"),
        // The role allows 36 h but its rule says nothing: the 12 h of every mode.
        ("123456789012-Support", Some(200_000), 43_200, "12 h limit"),
        ("123456789012-Support", None, 3600, "default"),
    ];
    for (grant, requested, granted, bound) in table {
        let body = credentials(&app, grant, requested).await;
        assert_eq!(body["DurationSeconds"], granted, "{grant} {requested:?}");
        let row = audit_row(&app, &body).await;
        assert_eq!(
            row["details"]["duration_decided_by"], bound,
            "{grant} {requested:?}"
        );
        assert_eq!(row["details"]["mode"], "federation_token");
    }
    let calls = sts.calls();
    assert_eq!(calls.len(), table.len());
    for (call, (_, _, granted, _)) in calls.iter().zip(table) {
        // What AWS checks: the call, its bounds, the signature of the IAM user's keys.
        assert_eq!(call.p("Action"), "GetFederationToken");
        assert_eq!(call.p("DurationSeconds"), granted.to_string());
        assert!((900..=129_600).contains(&granted));
        assert_eq!(
            call.verify_signature(MOTO.get("BROKER_SECRET_ACCESS_KEY"), None),
            Ok(())
        );
        let sent: serde_json::Value = serde_json::from_str(call.p("Policy")).unwrap();
        assert_eq!(
            sent,
            serde_json::from_str::<serde_json::Value>(FEDERATION_POLICY).unwrap()
        );
    }

    // Below 900 s is refused, never raised; nothing is sent.
    let resp = app
        .request_credentials("123456789012-ReadOnly", Some(600))
        .await;
    assert_eq!(resp.status(), 400);
    let problem: serde_json::Value = resp.json().await.unwrap();
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("must be at least 900 seconds; got 600"),
        "{problem}"
    );
    assert_eq!(sts.calls().len(), table.len());
}

// ----- 4. The checker verifies signatures, and refuses a wrong one -----

#[tokio::test]
async fn the_strict_checker_refuses_a_request_signed_with_the_wrong_secret() {
    // Roleport's own credentials name the right access key id with a wrong secret. The checker
    // recomputes the signature with the real secret and answers as AWS does.
    let gate: Gate = Arc::new(|call: &Call| {
        let real = MOTO.get("BROKER_SECRET_ACCESS_KEY");
        call.verify_signature(real, None)
            .err()
            .map(|_| sts_error(403, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method."))
    });
    let wrong_secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYWRONGSECRET";
    let dir =
        std::env::temp_dir().join(format!("roleport-sigv4-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("credentials");
    std::fs::write(
        &file,
        format!(
            "[roleport-test]\naws_access_key_id = {}\naws_secret_access_key = {wrong_secret}\n",
            MOTO.get("BROKER_ACCESS_KEY_ID")
        ),
    )
    .unwrap();
    let (app, sts) = app_with(UNTRUSTING_RULES, Some(gate), |aws| AwsSettings {
        own_credentials: roleport::configuration::OwnCredentialsSettings {
            credentials_file: Some(file),
            ..own_credentials(false)
        },
        ..aws
    })
    .await;
    app.sign_in("alice").await;
    let (detail, row) = refused(&app, ADMIN, 422).await;
    assert!(
        detail.contains("AWS refused the request (SignatureDoesNotMatch)"),
        "{detail}"
    );
    assert!(
        row["reason"]
            .as_str()
            .unwrap()
            .contains("SignatureDoesNotMatch: The request signature we calculated does not match"),
        "{row}"
    );
    let calls = sts.calls();
    assert_eq!(calls.len(), 1);
    let call = &calls[0];
    // The checker is not a rubber stamp: the real secret fails, the secret Roleport was
    // actually given verifies, and any change to the signed request fails again.
    let refused = call
        .verify_signature(MOTO.get("BROKER_SECRET_ACCESS_KEY"), None)
        .unwrap_err();
    assert!(refused.starts_with("SignatureDoesNotMatch"), "{refused}");
    assert_eq!(call.verify_signature(wrong_secret, None), Ok(()));
    let mut tampered = call.clone();
    let body = String::from_utf8(tampered.raw.body.clone()).unwrap();
    tampered.raw.body = body
        .replace("ExternalId=roleport-ext-42", "ExternalId=roleport-ext-43")
        .into_bytes();
    assert_ne!(tampered.raw.body, call.raw.body);
    assert!(tampered.verify_signature(wrong_secret, None).is_err());
    assert!(
        call.verify_signature(wrong_secret, Some("a-token-that-was-not-sent"))
            .is_err()
    );
}
