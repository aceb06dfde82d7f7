//! Broker mode end to end: SimpleSAMLphp → Roleport → (strict checker) → moto, and back as
//! credentials, a credentials page and a console link.

use crate::aws_harness::*;
use crate::helpers::*;

const ADMIN: &str = "123456789012-Admin";
const READONLY: &str = "123456789012-ReadOnly";

async fn app_with_aws(federation: Option<&FakeServer>) -> (TestApp, FakeServer) {
    let sts = recording_sts().await;
    let aws = aws_settings(&sts.url, federation.map(|f| f.url.as_str()));
    let app = spawn_app_with(Options {
        aws: Some(aws),
        ..Options::default()
    })
    .await;
    (app, sts)
}

#[tokio::test]
async fn alice_gets_admin_credentials_that_work_and_what_was_sent_obeys_aws_rules() {
    let (app, sts) = app_with_aws(None).await;
    app.sign_in("alice").await;
    let resp = app.request_credentials(ADMIN, None).await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["Version"], 1);
    let key = body["AccessKeyId"].as_str().unwrap();
    let secret = body["SecretAccessKey"].as_str().unwrap();
    let token = body["SessionToken"].as_str().unwrap();
    assert!(chrono::DateTime::parse_from_rfc3339(body["Expiration"].as_str().unwrap()).is_ok());
    assert_eq!(
        body["AssumedRoleArn"],
        "arn:aws:sts::123456789012:assumed-role/Admin/alice@example.org@demo-saml"
    );

    // The credentials work: moto names the picked role and alice's session.
    assert_eq!(
        caller_arn(key, secret, token).await,
        "arn:aws:sts::123456789012:assumed-role/Admin/alice@example.org@demo-saml"
    );

    let calls = sts.seen.lock().unwrap().clone();
    assert_eq!(calls.len(), 1);
    SamlCheck {
        app: &app,
        role_arn: "arn:aws:iam::123456789012:role/Admin",
        session_name: "alice@example.org@demo-saml",
        duration: 3600,
        source_identity: "alice@demo-saml",
        recipient: "https://signin.aws.amazon.com/saml",
        audience: "urn:amazon:webservices",
    }
    .verify(&calls[0])
    .await;

    // The audit row names the person, the rule, the role, the STS request and the key — never the secret.
    let reference = body["Reference"].as_str().unwrap();
    let rows = roleport::db::audit::by_reference(&app.pool, reference)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    let row = serde_json::to_value(&rows[0]).unwrap();
    assert_eq!(row["kind"], "credentials_issued");
    assert_eq!(row["outcome"], "accepted");
    assert_eq!(row["subject"], "alice");
    assert_eq!(row["details"]["rule"], "admins");
    assert_eq!(row["details"]["access_key_id"], key);
    assert_eq!(row["details"]["duration_seconds"], 3600);
    let text = row.to_string();
    assert!(!text.contains(secret) && !text.contains(token));
}

#[tokio::test]
async fn duration_is_clamped_to_the_role_and_refused_below_aws_minimum() {
    let (app, sts) = app_with_aws(None).await;
    app.sign_in("bob").await;
    let body: serde_json::Value = app
        .request_credentials(READONLY, Some(40_000))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["DurationSeconds"], 7200, "ReadOnly's maximum is 2 h");
    let body: serde_json::Value = app
        .request_credentials(READONLY, Some(1800))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["DurationSeconds"], 1800);
    let calls = sts.seen.lock().unwrap().clone();
    assert_eq!(calls[0].params["DurationSeconds"], "7200");
    assert_eq!(calls[1].params["DurationSeconds"], "1800");

    let too_short = app.request_credentials(READONLY, Some(600)).await;
    assert_eq!(too_short.status(), 400);
    let problem: serde_json::Value = too_short.json().await.unwrap();
    assert!(
        problem["detail"].as_str().unwrap().contains("900"),
        "{problem}"
    );
    assert_eq!(
        sts.seen.lock().unwrap().len(),
        2,
        "nothing sent for a refused duration"
    );
}

#[tokio::test]
async fn nothing_is_issued_without_csrf_or_for_a_role_the_rules_do_not_grant() {
    let (app, sts) = app_with_aws(None).await;
    app.sign_in("bob").await;
    let no_csrf = app
        .client
        .post(format!("{}/api/v1/credentials", app.address))
        .json(&serde_json::json!({ "grant": READONLY }))
        .send()
        .await
        .unwrap();
    assert_eq!(no_csrf.status(), 400);
    let wrong = app
        .client
        .post(format!("{}/api/v1/credentials", app.address))
        .header("X-CSRF-Token", "forged")
        .json(&serde_json::json!({ "grant": READONLY }))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 400);
    let not_granted = app.request_credentials(ADMIN, None).await;
    assert_eq!(not_granted.status(), 404);
    let problem: serde_json::Value = not_granted.json().await.unwrap();
    let rows = roleport::db::audit::by_reference(&app.pool, problem["reference"].as_str().unwrap())
        .await
        .unwrap();
    assert!(rows[0].reason.as_deref().unwrap().starts_with("no_grant"));
    assert_eq!(sts.seen.lock().unwrap().len(), 0);

    let anonymous = browser()
        .post(format!("{}/api/v1/credentials", app.address))
        .json(&serde_json::json!({ "grant": READONLY }))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
}

#[tokio::test]
async fn credentials_page_offers_every_format() {
    let (app, _sts) = app_with_aws(None).await;
    app.sign_in("alice").await;
    let csrf = app.csrf_token().await;
    let resp = app
        .client
        .post(format!("{}/roles/{READONLY}/credentials", app.address))
        .form(&[("csrf_token", csrf.as_str()), ("duration_seconds", "3600")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    let resp = app
        .client
        .get(format!(
            "{}{}",
            app.address,
            resp.headers()["location"].to_str().unwrap()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let html = html_unescape(&resp.text().await.unwrap());
    let key = regex::Regex::new(r"export AWS_ACCESS_KEY_ID='?(\w+)")
        .unwrap()
        .captures(&html)
        .expect("shell export")[1]
        .to_string();
    assert!(html.contains("aws_access_key_id"), "credentials file block");
    assert!(html.contains("$Env:AWS_ACCESS_KEY_ID"), "PowerShell");
    assert!(
        html.contains("&quot;Version&quot;:1") || html.contains("\"Version\":1"),
        "credential_process JSON"
    );
    assert!(html.contains(&key));
    assert!(html.contains(r#"<time id="expiration" datetime=""#));
    assert!(html.contains("/static/roleport.js"));

    // Without the form's CSRF token nothing is issued.
    let resp = app
        .client
        .post(format!("{}/roles/{READONLY}/credentials", app.address))
        .form(&[("duration_seconds", "3600")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
}

#[tokio::test]
async fn console_link_goes_through_the_federation_endpoint() {
    let federation = fake_federation().await;
    let (app, _sts) = app_with_aws(Some(&federation)).await;
    app.sign_in("alice").await;
    let csrf = app.csrf_token().await;
    let resp = app
        .client
        .post(format!("{}/roles/{ADMIN}/console", app.address))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("destination", "s3/home?region=eu-west-1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303, "{}", resp.text().await.unwrap());
    let login = url::Url::parse(&location(&resp)).unwrap();
    assert_eq!(
        login.as_str().split('?').next().unwrap(),
        format!("{}/federation", federation.url)
    );
    let q: std::collections::BTreeMap<_, _> = login.query_pairs().into_owned().collect();
    assert_eq!(q["Action"], "login");
    assert_eq!(q["Issuer"], app.address);
    assert_eq!(
        q["Destination"],
        format!("{}/console/s3/home?region=eu-west-1", federation.url)
    );
    assert!(q["SigninToken"].starts_with("token-"));

    let calls = federation.seen.lock().unwrap().clone();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].params["Action"], "getSigninToken");
    assert_eq!(calls[0].params["SessionDuration"], "3600");
    let session: serde_json::Value = serde_json::from_str(&calls[0].params["Session"]).unwrap();
    // The session handed to the federation endpoint is alice's Admin session.
    assert_eq!(
        caller_arn(
            session["sessionId"].as_str().unwrap(),
            session["sessionKey"].as_str().unwrap(),
            session["sessionToken"].as_str().unwrap()
        )
        .await,
        "arn:aws:sts::123456789012:assumed-role/Admin/alice@example.org@demo-saml"
    );
    let events = app.audit_events().await;
    assert!(
        events
            .iter()
            .any(|e| e["kind"] == "console_link" && e["outcome"] == "accepted")
    );
}

/// What people copy from the console's address bar (query strings, `#fragments` after the
/// region) reaches the console as copied; a form's region field beats the copied one.
#[tokio::test]
async fn console_destinations_copied_from_the_console_keep_their_query_and_fragment() {
    let federation = fake_federation().await;
    let (app, _sts) = app_with_aws(Some(&federation)).await;
    app.sign_in("alice").await;
    let csrf = app.csrf_token().await;
    let console = format!("{}/console", federation.url);
    for (fields, want) in [
        (
            vec![("destination", "ec2/home?region=eu-west-1#Instances:")],
            format!("{console}/ec2/home?region=eu-west-1#Instances:"),
        ),
        (
            vec![(
                "destination",
                "/cloudwatch/home?region=us-east-1#logsV2:log-groups/log-group/$252Faws$252Flambda",
            )],
            format!(
                "{console}/cloudwatch/home?region=us-east-1#logsV2:log-groups/log-group/$252Faws$252Flambda"
            ),
        ),
        (
            vec![
                (
                    "destination",
                    "s3/buckets/logs?region=eu-west-1&tab=objects",
                ),
                ("region", "us-west-2"),
            ],
            format!("{console}/s3/buckets/logs?region=us-west-2&tab=objects"),
        ),
    ] {
        let mut form = vec![("csrf_token", csrf.as_str())];
        form.extend(fields.iter().copied());
        let resp = app
            .client
            .post(format!("{}/roles/{ADMIN}/console", app.address))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(
            resp.status(),
            303,
            "{fields:?}: {}",
            resp.text().await.unwrap()
        );
        let login = url::Url::parse(&location(&resp)).unwrap();
        let q: std::collections::BTreeMap<_, _> = login.query_pairs().into_owned().collect();
        assert_eq!(q["Destination"], want, "{fields:?}");
    }
    // A bookmark carries the same through sign-in's one click.
    let page = app
        .get(&format!(
            "/roles/{ADMIN}/console?destination=ec2%2Fhome%3Fregion%3Deu-west-1%23Instances%3A"
        ))
        .await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("ec2/home?region=eu-west-1#Instances:"),
        "{html}"
    );
}

#[tokio::test]
async fn console_destination_off_the_console_is_refused() {
    let federation = fake_federation().await;
    let (app, sts) = app_with_aws(Some(&federation)).await;
    app.sign_in("alice").await;
    let csrf = app.csrf_token().await;
    for evil in [
        "//evil.example/",
        "https://evil.example/",
        "../../etc",
        "s3/../../x",
        "ec2/home?region=../../x",
        "ec2/home?a b=1#x",
    ] {
        let resp = app
            .client
            .post(format!("{}/roles/{ADMIN}/console", app.address))
            .form(&[("csrf_token", csrf.as_str()), ("destination", evil)])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "{evil}");
    }
    assert_eq!(sts.seen.lock().unwrap().len(), 0);
}

#[tokio::test]
async fn a_bookmarked_console_shortcut_signs_in_first_then_asks_for_one_click() {
    let federation = fake_federation().await;
    let (app, _sts) = app_with_aws(Some(&federation)).await;
    let shortcut = format!("/roles/{ADMIN}/console?destination=ec2%2Fhome");
    let first = app.get(&shortcut).await;
    assert_eq!(first.status(), 303);
    let login = location(&first);
    assert!(login.starts_with("/login?return_to="), "{login}");
    // The login page carries the target on to the IdP choice.
    let page = app.get(&login).await.text().await.unwrap();
    let href = regex::Regex::new(r#"href="(/login/demo-saml[^"]*)""#)
        .unwrap()
        .captures(&page)
        .unwrap()[1]
        .to_string();
    let start = app.get(&html_unescape(&href)).await;
    let post = idp_sign_in(&app.client, &location(&start), "alice", "alicepw").await;
    let back = app
        .post_acs(&post.saml_response, post.relay_state.as_deref())
        .await;
    assert_eq!(location(&back), shortcut);
    // A GET never issues anything: it shows a form.
    let confirm = app.get(&shortcut).await;
    assert_eq!(confirm.status(), 200);
    let html = confirm.text().await.unwrap();
    assert!(html.contains(r#"id="open-console""#));
    assert_eq!(federation.seen.lock().unwrap().len(), 0);
    let csrf = regex::Regex::new(r#"name="csrf_token" value="([^"]+)""#)
        .unwrap()
        .captures(&html)
        .unwrap()[1]
        .to_string();
    let resp = app
        .client
        .post(format!("{}/roles/{ADMIN}/console", app.address))
        .form(&[("csrf_token", csrf.as_str()), ("destination", "ec2/home")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    assert!(location(&resp).contains("Action=login"));
}

#[tokio::test]
async fn no_credentials_leave_roleport_when_the_audit_row_cannot_be_written() {
    let (app, sts) = app_with_aws(None).await;
    app.sign_in("alice").await;
    let csrf = app.csrf_token().await;
    // The database refuses the audit insert after the session was read: as if it went away
    // between the pick and the issue.
    sqlx::query(
        "CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'disk full'; END; $$",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    sqlx::query("CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION refuse_audit()")
        .execute(&app.pool)
        .await
        .unwrap();
    let resp = app
        .client
        .post(format!("{}/api/v1/credentials", app.address))
        .header("X-CSRF-Token", csrf)
        .json(&serde_json::json!({ "grant": ADMIN }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    let body = resp.text().await.unwrap();
    assert!(
        !body.contains("AccessKeyId") && !body.contains("SessionToken"),
        "{body}"
    );
    assert!(body.contains("issued nothing"), "{body}");
    assert_eq!(
        sts.seen.lock().unwrap().len(),
        1,
        "STS was called; its answer was withheld"
    );
}

#[tokio::test]
async fn idp_metadata_for_iam_lists_the_signing_certificate() {
    let (app, _sts) = app_with_aws(None).await;
    let resp = app.get("/aws/saml-metadata.xml").await;
    assert_eq!(resp.status(), 200);
    let xml = resp.text().await.unwrap();
    assert!(xml.contains(&format!(
        r#"entityID="{}/aws/saml-metadata.xml""#,
        app.address
    )));
    assert!(xml.contains(r#"<md:KeyDescriptor use="signing">"#));
    assert!(xml.contains("IDPSSODescriptor"));
}

#[tokio::test]
async fn a_shortcut_naming_service_and_region_lands_there() {
    let federation = fake_federation().await;
    let (app, _sts) = app_with_aws(Some(&federation)).await;
    app.sign_in("alice").await;
    let confirm = app
        .get(&format!(
            "/roles/{ADMIN}/console?service=ec2&region=eu-west-1"
        ))
        .await;
    assert_eq!(confirm.status(), 200);
    let html = html_unescape(&confirm.text().await.unwrap());
    assert!(
        html.contains("Administrator"),
        "the role's display name is shown"
    );
    assert!(html.contains(&format!(
        "{}/console/ec2/home?region=eu-west-1",
        federation.url
    )));
    let field = |name: &str| {
        regex::Regex::new(&format!(r#"name="{name}" value="([^"]*)""#))
            .unwrap()
            .captures(&html)
            .unwrap()[1]
            .to_string()
    };
    let resp = app
        .client
        .post(format!("{}/roles/{ADMIN}/console", app.address))
        .form(&[
            ("csrf_token", field("csrf_token")),
            ("destination", field("destination")),
            ("service", field("service")),
            ("region", field("region")),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    let login = url::Url::parse(&location(&resp)).unwrap();
    let q: std::collections::BTreeMap<_, _> = login.query_pairs().into_owned().collect();
    assert_eq!(
        q["Destination"],
        format!("{}/console/ec2/home?region=eu-west-1", federation.url)
    );
}

#[tokio::test]
async fn console_only_saml_post_goes_straight_to_aws_sign_in() {
    let (app, sts) = app_with_aws(None).await;
    app.sign_in("alice").await;
    let roles = app.get("/roles").await.text().await.unwrap();
    assert!(roles.contains(&format!(r#"action="/roles/{ADMIN}/saml-post""#)));
    let csrf = app.csrf_token().await;
    let resp = app
        .client
        .post(format!("{}/roles/{ADMIN}/saml-post", app.address))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let csp = resp.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("form-action https://signin.aws.amazon.com"),
        "{csp}"
    );
    let html = resp.text().await.unwrap();
    assert!(html.contains(r#"<form method="post" action="https://signin.aws.amazon.com/saml" id="saml-post" data-autosubmit>"#), "{html}");
    assert!(
        html.contains(r#"id="continue""#),
        "works without JavaScript"
    );
    let saml = regex::Regex::new(r#"name="SAMLResponse" value="([^"]+)""#)
        .unwrap()
        .captures(&html)
        .unwrap()[1]
        .to_string();
    let reference = reference_in(&html);
    let params: std::collections::BTreeMap<String, String> = [
        ("Action", "AssumeRoleWithSAML"),
        ("RoleArn", "arn:aws:iam::123456789012:role/Admin"),
        (
            "PrincipalArn",
            "arn:aws:iam::123456789012:saml-provider/roleport",
        ),
        ("DurationSeconds", "3600"),
        ("SAMLAssertion", saml.as_str()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    SamlCheck {
        app: &app,
        role_arn: "arn:aws:iam::123456789012:role/Admin",
        session_name: "alice@example.org@demo-saml",
        duration: 3600,
        source_identity: "alice@demo-saml",
        recipient: "https://signin.aws.amazon.com/saml",
        audience: "urn:amazon:webservices",
    }
    .verify(&Recorded {
        params,
        headers: Default::default(),
    })
    .await;
    assert_eq!(
        sts.seen.lock().unwrap().len(),
        0,
        "no STS call: AWS runs the session"
    );
    let rows = roleport::db::audit::by_reference(&app.pool, &reference)
        .await
        .unwrap();
    let row = serde_json::to_value(&rows[0]).unwrap();
    assert_eq!(row["kind"], "console_saml_post");
    assert_eq!(row["outcome"], "accepted");

    // Without the form's token nothing is signed.
    let resp = app
        .client
        .post(format!("{}/roles/{ADMIN}/saml-post", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
}

#[tokio::test]
async fn session_tags_from_the_deciding_rule_reach_aws() {
    let sts = recording_sts().await;
    let rules = TEST_RULES.replace(
        "    pattern: aws-admins\n    roles: [arn:aws:iam::123456789012:role/Admin]\n",
        "    pattern: aws-admins\n    roles: [arn:aws:iam::123456789012:role/Admin]\n    session_tags: {team: platform, cost-center: \"4711\"}\n    transitive_tag_keys: [team]\n",
    );
    assert_ne!(rules, TEST_RULES);
    let app = spawn_app_with(Options {
        aws: Some(aws_settings(&sts.url, None)),
        rules_yaml: rules,
        ..Options::default()
    })
    .await;
    app.sign_in("alice").await;
    assert_eq!(app.request_credentials(ADMIN, None).await.status(), 200);
    assert_eq!(app.request_credentials(READONLY, None).await.status(), 200);
    let calls = sts.seen.lock().unwrap().clone();
    let (tags, transitive) = saml_session_tags(&calls[0]);
    assert_eq!(tags.len(), 2, "{tags:?}");
    assert_eq!(tags["team"], vec!["platform"]);
    assert_eq!(tags["cost-center"], vec!["4711"]);
    assert_eq!(transitive, vec!["team"]);
    // The ReadOnly rule names no tags: none are sent.
    let (tags, transitive) = saml_session_tags(&calls[1]);
    assert!(tags.is_empty() && transitive.is_empty());
}
