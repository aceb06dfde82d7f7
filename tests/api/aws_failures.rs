//! STS failure classes, with a fake STS that answers like AWS (Query protocol XML errors with
//! AWS's status codes) where moto cannot produce the error; and partitions (aws-cn,
//! aws-us-gov) with their STS and federation endpoints pointed at local fakes.
//!
//! For every failure: the person gets a clear message with a reference id (problem JSON for the
//! API, an HTML page for the form), the audit row carries the precise code, nothing is issued;
//! throttling and 5xx are retried exactly `aws.sts_max_attempts` times, nothing else is.

use crate::aws_harness::*;
use crate::helpers::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const ADMIN: &str = "123456789012-Admin";

async fn app_with_sts(sts: &str, attempts: u32, timeout_seconds: u64) -> TestApp {
    let mut aws = aws_settings(sts, None);
    aws.sts_max_attempts = attempts;
    aws.sts_timeout_seconds = timeout_seconds;
    let app = spawn_app_with(Options {
        aws: Some(aws),
        ..Options::default()
    })
    .await;
    app.sign_in("alice").await;
    app
}

/// The one audit row under `reference`: a refused credentials issue with `code`.
async fn assert_audited_refusal(app: &TestApp, reference: &str, code: &str) {
    let rows = roleport::db::audit::by_reference(&app.pool, reference)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    let row = serde_json::to_value(&rows[0]).unwrap();
    assert_eq!(row["kind"], "credentials_issued");
    assert_eq!(row["outcome"], "rejected");
    assert_eq!(row["subject"], "alice");
    assert_eq!(row["details"]["rule"], "admins");
    let reason = row["reason"].as_str().unwrap();
    assert!(
        reason.starts_with(&format!("{code}: ")),
        "reason {reason:?} should carry {code}"
    );
}

/// Nothing was issued: no accepted credentials row anywhere.
async fn assert_nothing_issued(app: &TestApp) {
    let events = app.audit_events().await;
    assert!(
        !events
            .iter()
            .any(|e| e["kind"] == "credentials_issued" && e["outcome"] == "accepted"),
        "{events:?}"
    );
}

/// The API and the form both fail with `message` (and a reference), audited with `code`: a
/// "try again" 503 when AWS is busy.
async fn assert_failure_class(app: &TestApp, code: &str, message: &str) {
    assert_failure(app, code, 503, "AWS is busy; please try again", message).await;
}

/// The API and the form both fail with `status`, `title` and `message` (and a reference),
/// audited with `code`.
async fn assert_failure(app: &TestApp, code: &str, status: u16, title: &str, message: &str) {
    // The API: a problem JSON with the reference.
    let resp = app.request_credentials(ADMIN, None).await;
    assert_eq!(resp.status(), status);
    assert_eq!(
        resp.headers()["content-type"].to_str().unwrap(),
        "application/problem+json"
    );
    let problem: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(problem["title"], title);
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.contains(message), "{detail:?} lacks {message:?}");
    assert!(
        problem.get("AccessKeyId").is_none() && problem.get("SessionToken").is_none(),
        "{problem}"
    );
    let reference = problem["reference"].as_str().unwrap();
    assert_eq!(reference.len(), 12);
    assert_audited_refusal(app, reference, code).await;

    // The form: an HTML page with the reference.
    let csrf = app.csrf_token().await;
    let resp = app
        .client
        .post(format!("{}/roles/{ADMIN}/credentials", app.address))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), status);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = resp.text().await.unwrap();
    assert!(
        html_unescape(&html).contains(message),
        "page lacks {message:?}:\n{html}"
    );
    assert!(
        html_unescape(&html).contains(&format!("<h1>{title}</h1>")),
        "page lacks {title:?}:\n{html}"
    );
    assert!(!html.contains("aws_access_key_id") && !html.contains("AWS_ACCESS_KEY_ID"));
    let reference = reference_in(&html);
    assert_audited_refusal(app, &reference, code).await;
    assert_nothing_issued(app).await;
}

/// A fake STS answering every call with one error.
async fn failing_sts(status: u16, code: &'static str, message: &'static str) -> FakeServer {
    fake_sts(move |_| sts_error(status, code, message)).await
}

/// Not retried: one STS request per attempt to issue; the person gets `answer` = (status,
/// title) and the audit row keeps AWS's message.
async fn non_retryable_case(
    status: u16,
    aws_code: &'static str,
    code: &str,
    answer: (u16, &str),
    message: &str,
) {
    let sts = failing_sts(status, aws_code, "Not authorized (fake STS)").await;
    let app = app_with_sts(&sts.url, 3, 5).await;
    assert_failure(&app, code, answer.0, answer.1, message).await;
    let events = app.audit_events().await;
    let last = events.last().unwrap();
    let reason = last["reason"].as_str().unwrap();
    assert!(
        reason.contains(&format!(
            "AWS said: {aws_code}: Not authorized (fake STS) (request id "
        )),
        "AWS's code, message and request id are kept: {reason}"
    );
    assert_eq!(
        sts.seen.lock().unwrap().len(),
        2,
        "{aws_code} is not retried: one request for the API call, one for the form"
    );
}

#[tokio::test]
async fn expired_token_is_sts_expired_and_not_retried() {
    non_retryable_case(
        400,
        "ExpiredTokenException",
        "sts_expired",
        (401, "Your sign-in is too old for AWS"),
        "has expired (ExpiredTokenException). Sign in again.",
    )
    .await;
}

#[tokio::test]
async fn idp_rejected_claim_is_sts_rejected_claim() {
    non_retryable_case(
        403,
        "IDPRejectedClaim",
        "sts_rejected_claim",
        (403, "AWS does not trust Roleport for this role"),
        "AWS does not accept Roleport's identity claims for this role (IDPRejectedClaim)",
    )
    .await;
}

#[tokio::test]
async fn access_denied_is_sts_access_denied() {
    non_retryable_case(
        403,
        "AccessDenied",
        "sts_access_denied",
        (403, "AWS does not trust Roleport for this role"),
        "The role does not trust Roleport: AWS denied access to it (AccessDenied)",
    )
    .await;
}

#[tokio::test]
async fn malformed_policy_document_is_sts_malformed_policy() {
    non_retryable_case(
        400,
        "MalformedPolicyDocument",
        "sts_malformed_policy",
        (422, "AWS refused this request"),
        "AWS refused this role's session policy (MalformedPolicyDocument). Retrying will not help",
    )
    .await;
}

#[tokio::test]
async fn region_disabled_is_sts_region_disabled() {
    non_retryable_case(
        403,
        "RegionDisabledException",
        "sts_region_disabled",
        (422, "AWS refused this request"),
        "STS is not enabled in this region for the account (RegionDisabledException)",
    )
    .await;
}

#[tokio::test]
async fn throttling_is_retried_exactly_max_attempts_with_bounded_backoff() {
    let sts = failing_sts(400, "Throttling", "Rate exceeded").await;
    let app = app_with_sts(&sts.url, 3, 5).await;
    let started = Instant::now();
    let resp = app.request_credentials(ADMIN, None).await;
    let elapsed = started.elapsed();
    assert_eq!(resp.status(), 503);
    let problem: serde_json::Value = resp.json().await.unwrap();
    assert!(
        problem["detail"].as_str().unwrap().contains(
            "AWS is busy and is throttling requests (Throttling); try again in a moment."
        ),
        "{problem}"
    );
    assert_audited_refusal(
        &app,
        problem["reference"].as_str().unwrap(),
        "sts_throttled",
    )
    .await;
    assert_eq!(
        sts.seen.lock().unwrap().len(),
        3,
        "aws.sts_max_attempts = 3 attempts"
    );
    // Backoff: 200 ms initial, at most 3 s per wait, two waits; far less than a hang (the
    // bound is loose so a loaded machine cannot fail it).
    assert!(elapsed < Duration::from_secs(30), "{elapsed:?}");

    // The form gets the same, as a page.
    assert_failure_class(
        &app,
        "sts_throttled",
        "AWS is busy and is throttling requests",
    )
    .await;
    assert_eq!(sts.seen.lock().unwrap().len(), 9);
}

#[tokio::test]
async fn throttling_then_success_issues_credentials() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let sts = fake_sts(move |r| {
        if counter.fetch_add(1, Ordering::SeqCst) < 2 {
            sts_error(400, "Throttling", "Rate exceeded")
        } else {
            assume_role_with_saml_ok(r)
        }
    })
    .await;
    let app = app_with_sts(&sts.url, 3, 5).await;
    let resp = app.request_credentials(ADMIN, None).await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(
        body["AssumedRoleArn"],
        "arn:aws:sts::123456789012:assumed-role/Admin/alice@example.org@demo-saml"
    );
    assert!(body["AccessKeyId"].as_str().unwrap().starts_with("ASIA"));
    let seen = sts.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3);
    // Each retry carries the same call.
    assert!(
        seen.iter()
            .all(|c| c.params["Action"] == "AssumeRoleWithSAML"
                && c.params["SAMLAssertion"] == seen[0].params["SAMLAssertion"])
    );
    let rows = roleport::db::audit::by_reference(&app.pool, body["Reference"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    let row = serde_json::to_value(&rows[0]).unwrap();
    assert_eq!(row["outcome"], "accepted");
    assert_eq!(row["details"]["access_key_id"], body["AccessKeyId"]);
}

#[tokio::test]
async fn server_errors_are_retried_then_the_person_is_asked_to_try_again() {
    for (status, aws_code) in [(500, "InternalFailure"), (503, "ServiceUnavailable")] {
        let sts = failing_sts(status, aws_code, "We encountered an internal error.").await;
        let app = app_with_sts(&sts.url, 3, 5).await;
        assert_failure_class(
            &app,
            "sts_server_error",
            &format!("AWS is busy: STS failed ({aws_code}); try again in a moment."),
        )
        .await;
        assert_eq!(
            sts.seen.lock().unwrap().len(),
            6,
            "HTTP {status}: three attempts for the API call, three for the form"
        );
    }
}

#[tokio::test]
async fn a_server_error_that_succeeds_on_retry_issues_credentials() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let sts = fake_sts(move |r| {
        if counter.fetch_add(1, Ordering::SeqCst) == 0 {
            sts_error(503, "ServiceUnavailable", "Service unavailable")
        } else {
            assume_role_with_saml_ok(r)
        }
    })
    .await;
    let app = app_with_sts(&sts.url, 3, 5).await;
    let resp = app.request_credentials(ADMIN, None).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(sts.seen.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn an_html_500_is_a_server_error_with_a_clear_message() {
    // What moto (or a proxy in front of STS) sends for anything it cannot handle.
    let sts = fake_sts(|_| {
        actix_web::HttpResponse::InternalServerError()
            .content_type("text/html; charset=utf-8")
            .body("<!doctype html>\n<html lang=en>\n<title>500 Internal Server Error</title>\n<h1>Internal Server Error</h1>\n<p>The server encountered an internal error and was unable to complete your request.</p>\n")
    })
    .await;
    let app = app_with_sts(&sts.url, 2, 5).await;
    assert_failure_class(
        &app,
        "sts_server_error",
        "AWS is busy: STS failed (HTTP 500, not an AWS error); try again",
    )
    .await;
    assert_eq!(sts.seen.lock().unwrap().len(), 4, "2 attempts per call");
}

#[tokio::test]
async fn a_proxy_error_page_is_named_by_its_status_and_not_retried() {
    // Not STS at all: a proxy or firewall in front of it refusing with its own page.
    let sts = fake_sts(|_| {
        actix_web::HttpResponse::Forbidden()
            .content_type("text/html")
            .body("<html><body><h1>403 Forbidden</h1>Request blocked.</body></html>")
    })
    .await;
    let app = app_with_sts(&sts.url, 3, 5).await;
    assert_failure(
        &app,
        "sts_other",
        422,
        "AWS refused this request",
        "AWS refused the request (HTTP 403, not an AWS error). Retrying will not help",
    )
    .await;
    assert_eq!(sts.seen.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn a_hung_sts_times_out_cleanly_within_a_bounded_time() {
    let sts = hung_server().await;
    let app = app_with_sts(&sts.url, 2, 1).await;
    let started = Instant::now();
    let resp = app.request_credentials(ADMIN, None).await;
    let elapsed = started.elapsed();
    assert_eq!(resp.status(), 503);
    let problem: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(
        problem["detail"],
        "AWS is busy: STS did not answer in time; try again in a moment."
    );
    assert_audited_refusal(&app, problem["reference"].as_str().unwrap(), "sts_timeout").await;
    // Two attempts of one second each, plus at most one backoff wait.
    assert!(
        elapsed >= Duration::from_secs(2) && elapsed < Duration::from_secs(30),
        "{elapsed:?}"
    );
    assert_eq!(
        sts.accepted.load(Ordering::SeqCst),
        2,
        "one connection per attempt"
    );

    // The form, the same way.
    let csrf = app.csrf_token().await;
    let started = Instant::now();
    let resp = app
        .client
        .post(format!("{}/roles/{ADMIN}/credentials", app.address))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(30), "the form hung");
    assert_eq!(resp.status(), 503);
    let html = resp.text().await.unwrap();
    assert!(html.contains("STS did not answer in time"), "{html}");
    assert_audited_refusal(&app, &reference_in(&html), "sts_timeout").await;
    assert_nothing_issued(&app).await;
}

// ----- Partitions -----

const PARTITION_RULES: &str = r#"
version: 1
accounts:
  - id: "123456789012"
    alias: demo-prod
    partition: aws
  - id: "210987654321"
    alias: demo-china
    partition: aws-cn
  - id: "345678901234"
    alias: demo-govcloud
    partition: aws-us-gov
roles:
  - arn: arn:aws:iam::123456789012:role/Admin
    max_session_seconds: 3600
  - arn: arn:aws-cn:iam::210987654321:role/Admin
    max_session_seconds: 3600
  - arn: arn:aws-us-gov:iam::345678901234:role/Admin
    max_session_seconds: 3600
rules:
  - id: admins
    idp: [demo-saml, demo-oidc]
    claim: group
    match: ldap_dn
    pattern: aws-admins
    roles:
      - arn:aws:iam::123456789012:role/Admin
      - arn:aws-cn:iam::210987654321:role/Admin
      - arn:aws-us-gov:iam::345678901234:role/Admin
"#;

struct PartitionCase {
    grant: &'static str,
    partition: &'static str,
    account: &'static str,
    recipient: &'static str,
    audience: &'static str,
}

const CHINA: PartitionCase = PartitionCase {
    grant: "210987654321-Admin",
    partition: "aws-cn",
    account: "210987654321",
    recipient: "https://signin.amazonaws.cn/saml",
    audience: "urn:amazon:webservices:cn-north-1",
};

const GOVCLOUD: PartitionCase = PartitionCase {
    grant: "345678901234-Admin",
    partition: "aws-us-gov",
    account: "345678901234",
    recipient: "https://signin.amazonaws-us-gov.com/saml",
    audience: "urn:amazon:webservices:govcloud",
};

/// One fake STS (and federation endpoint) per partition.
struct Partitioned {
    app: TestApp,
    sts: std::collections::BTreeMap<&'static str, FakeServer>,
    federation: std::collections::BTreeMap<&'static str, FakeServer>,
}

async fn partitioned_app() -> Partitioned {
    let mut sts = std::collections::BTreeMap::new();
    let mut federation = std::collections::BTreeMap::new();
    for p in ["aws", "aws-cn", "aws-us-gov"] {
        sts.insert(p, fake_sts(assume_role_with_saml_ok).await);
        federation.insert(p, fake_federation().await);
    }
    let mut aws = aws_settings(&sts["aws"].url, Some(&federation["aws"].url));
    for p in ["aws-cn", "aws-us-gov"] {
        aws.endpoints.insert(
            p.to_string(),
            partition_overrides(&sts[p].url, Some(&federation[p].url)),
        );
    }
    let app = spawn_app_with(Options {
        aws: Some(aws),
        rules_yaml: PARTITION_RULES.to_string(),
        ..Options::default()
    })
    .await;
    app.sign_in("alice").await;
    Partitioned {
        app,
        sts,
        federation,
    }
}

async fn partition_credentials_obey_that_partitions_rules(case: PartitionCase) {
    let p = partitioned_app().await;
    let resp = p.app.request_credentials(case.grant, None).await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let body: serde_json::Value = resp.json().await.unwrap();
    let role_arn = format!("arn:{}:iam::{}:role/Admin", case.partition, case.account);
    assert_eq!(
        body["AssumedRoleArn"],
        format!(
            "arn:{}:sts::{}:assumed-role/Admin/alice@example.org@demo-saml",
            case.partition, case.account
        )
    );

    // The call went to this partition's STS, and only there.
    for (partition, server) in &p.sts {
        let n = server.seen.lock().unwrap().len();
        assert_eq!(
            n,
            usize::from(*partition == case.partition),
            "{partition} STS saw {n} calls"
        );
    }
    let call = p.sts[case.partition].seen.lock().unwrap()[0].clone();
    assert_eq!(
        call.params["PrincipalArn"],
        format!(
            "arn:{}:iam::{}:saml-provider/roleport",
            case.partition, case.account
        ),
        "the provider ARN is in the role's partition and account"
    );
    SamlCheck {
        app: &p.app,
        role_arn: &role_arn,
        session_name: "alice@example.org@demo-saml",
        duration: 3600,
        source_identity: "alice@demo-saml",
        recipient: case.recipient,
        audience: case.audience,
    }
    .verify(&call)
    .await;

    // The console link uses this partition's federation endpoint and console.
    let csrf = p.app.csrf_token().await;
    let resp = p
        .app
        .client
        .post(format!("{}/roles/{}/console", p.app.address, case.grant))
        .form(&[("csrf_token", csrf.as_str()), ("destination", "s3/home")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303, "{}", resp.text().await.unwrap());
    let login = url::Url::parse(&location(&resp)).unwrap();
    let federation = &p.federation[case.partition];
    assert_eq!(
        login.as_str().split('?').next().unwrap(),
        format!("{}/federation", federation.url)
    );
    let q: std::collections::BTreeMap<_, _> = login.query_pairs().into_owned().collect();
    assert_eq!(
        q["Destination"],
        format!("{}/console/s3/home", federation.url)
    );
    assert_eq!(federation.seen.lock().unwrap().len(), 1);
    for (partition, other) in &p.federation {
        if *partition != case.partition {
            assert_eq!(other.seen.lock().unwrap().len(), 0, "{partition}");
        }
    }
    assert_eq!(p.sts[case.partition].seen.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn china_partition_uses_its_recipient_audience_provider_and_endpoints() {
    partition_credentials_obey_that_partitions_rules(CHINA).await;
}

#[tokio::test]
async fn govcloud_partition_uses_its_recipient_audience_provider_and_endpoints() {
    partition_credentials_obey_that_partitions_rules(GOVCLOUD).await;
}

#[tokio::test]
async fn commercial_partition_beside_the_others_keeps_its_own_identifiers() {
    let p = partitioned_app().await;
    let resp = p.app.request_credentials(ADMIN, None).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(p.sts["aws"].seen.lock().unwrap().len(), 1);
    assert_eq!(p.sts["aws-cn"].seen.lock().unwrap().len(), 0);
    assert_eq!(p.sts["aws-us-gov"].seen.lock().unwrap().len(), 0);
    let call = p.sts["aws"].seen.lock().unwrap()[0].clone();
    assert_eq!(
        call.params["PrincipalArn"],
        "arn:aws:iam::123456789012:saml-provider/roleport"
    );
    SamlCheck {
        app: &p.app,
        role_arn: "arn:aws:iam::123456789012:role/Admin",
        session_name: "alice@example.org@demo-saml",
        duration: 3600,
        source_identity: "alice@demo-saml",
        recipient: "https://signin.aws.amazon.com/saml",
        audience: "urn:amazon:webservices",
    }
    .verify(&call)
    .await;
}
