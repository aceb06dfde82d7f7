//! The other ways to reach AWS, end to end through moto: AssumeRole with Roleport's own
//! credentials (long-term and role-chained), and GetFederationToken with an IAM user's keys.
//! moto checks none of AWS's rules and routes unsigned AssumeRole/GetFederationToken calls to
//! S3, so a signing-aware recording proxy sits in front of it and the strict checks below verify
//! what Roleport sent: the SigV4 signature against the credentials Roleport was given, and the
//! parameters the rules call for.

use crate::aws_harness::*;
use crate::helpers::*;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use roleport::configuration::{AwsSettings, FederationUserSettings, OwnCredentialsSettings};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

const ADMIN: &str = "123456789012-Admin";
const READONLY: &str = "123456789012-ReadOnly";
const ADMIN_ARN: &str = "arn:aws:iam::123456789012:role/Admin";
const EXTERNAL_ID: &str = "roleport-ext-42";

/// One request as it reached the proxy: form parameters, the SigV4 headers, the raw request.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub(crate) params: BTreeMap<String, String>,
    pub(crate) authorization: Option<String>,
    pub(crate) security_token: Option<String>,
    pub(crate) raw: RawRequest,
}

impl Call {
    /// The SigV4 signature, recomputed from the request with the secret Roleport was given.
    pub(crate) fn verify_signature(&self, secret: &str, token: Option<&str>) -> Result<(), String> {
        verify_sigv4(
            &self.raw,
            MOTO.get("BROKER_ACCESS_KEY_ID"),
            secret,
            token,
            "us-east-1",
            "sts",
        )
    }

    pub(crate) fn p(&self, key: &str) -> &str {
        self.params
            .get(key)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("{key} not sent in {:?}", self.params))
    }

    /// `Tags.member.N.Key/Value` in order.
    pub(crate) fn tags(&self) -> Vec<(String, String)> {
        (1..)
            .map_while(|n| {
                let k = self.params.get(&format!("Tags.member.{n}.Key"))?;
                let v = self.params.get(&format!("Tags.member.{n}.Value"))?;
                Some((k.clone(), v.clone()))
            })
            .collect()
    }

    pub(crate) fn members(&self, prefix: &str) -> Vec<String> {
        (1..)
            .map_while(|n| self.params.get(&format!("{prefix}.member.{n}")).cloned())
            .collect()
    }

    /// The access key id named in the SigV4 credential, and its scope (`date/region/sts/…`).
    pub(crate) fn signed_by(&self) -> (String, String) {
        let auth = self.authorization.as_deref().expect("SigV4-signed");
        assert!(auth.starts_with("AWS4-HMAC-SHA256 Credential="), "{auth}");
        let credential = auth
            .trim_start_matches("AWS4-HMAC-SHA256 Credential=")
            .split(',')
            .next()
            .unwrap();
        let (key, scope) = credential.split_once('/').unwrap();
        (key.to_string(), scope.to_string())
    }
}

pub(crate) struct Sts {
    pub(crate) url: String,
    calls: Arc<Mutex<Vec<Call>>>,
}

impl Sts {
    pub(crate) fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }
}

/// Answers a call as AWS would before moto sees it (a refusal moto cannot make), or `None` to
/// forward it.
pub(crate) type Gate = Arc<dyn Fn(&Call) -> Option<HttpResponse> + Send + Sync>;

async fn signing_recording_sts() -> Sts {
    signing_recording_sts_with(None).await
}

/// moto behind a recorder that keeps the SigV4 headers: moto picks the service from the
/// `Authorization` header's credential scope, and sends unsigned AssumeRole and
/// GetFederationToken calls to S3.
pub(crate) async fn signing_recording_sts_with(gate: Option<Gate>) -> Sts {
    let moto = MOTO.get("MOTO_URL").to_string();
    let calls: Arc<Mutex<Vec<Call>>> = Arc::default();
    let seen = calls.clone();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = HttpServer::new(move || {
        let seen = seen.clone();
        let moto = moto.clone();
        let gate = gate.clone();
        App::new().default_service(web::to(move |req: HttpRequest, body: web::Bytes| {
            let seen = seen.clone();
            let moto = moto.clone();
            let gate = gate.clone();
            async move {
                let header = |name: &str| {
                    req.headers()
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string)
                };
                let call = Call {
                    params: url::form_urlencoded::parse(&body).into_owned().collect(),
                    authorization: header("authorization"),
                    security_token: header("x-amz-security-token"),
                    raw: RawRequest::of(&req, &body),
                };
                let refusal = gate.as_ref().and_then(|g| g(&call));
                let forward: Vec<(&str, String)> = [
                    "authorization",
                    "x-amz-date",
                    "x-amz-security-token",
                    "content-type",
                ]
                .into_iter()
                .filter_map(|h| header(h).map(|v| (h, v)))
                .collect();
                seen.lock().unwrap().push(call);
                if let Some(refusal) = refusal {
                    return refusal;
                }
                let body = body.to_vec();
                let (status, text) = std::thread::spawn(move || post_raw(&moto, &forward, &body))
                    .join()
                    .unwrap();
                HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
                    .content_type("text/xml")
                    .body(text)
            }
        }))
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    Sts { url, calls }
}

/// A blocking POST of the exact body with the given headers (moto answers `Connection: close`).
fn post_raw(url: &str, headers: &[(&str, String)], body: &[u8]) -> (u16, String) {
    use std::io::{Read, Write};
    let host = url.trim_start_matches("http://").trim_end_matches('/');
    let mut sock = std::net::TcpStream::connect(host).unwrap();
    let mut head = format!(
        "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    sock.write_all(head.as_bytes()).unwrap();
    sock.write_all(body).unwrap();
    let mut raw = String::new();
    sock.read_to_string(&mut raw).unwrap();
    let status: u16 = raw.split_whitespace().nth(1).unwrap().parse().unwrap();
    let (_, body) = raw.split_once("\r\n\r\n").unwrap_or(("", ""));
    (status, body.to_string())
}

fn temp_file(name: &str, text: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("roleport-modes-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

const TEMPORARY_SESSION_TOKEN: &str = "FQoGZXIvYXdzEJr-roleport-test-session-token";

/// Roleport's own credentials as a shared credentials file (the profile step of the standard
/// chain): the broker user's keys from moto.env, with a session token when `temporary`.
pub(crate) fn own_credentials(temporary: bool) -> OwnCredentialsSettings {
    let mut profile = format!(
        "[roleport-test]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
        MOTO.get("BROKER_ACCESS_KEY_ID"),
        MOTO.get("BROKER_SECRET_ACCESS_KEY")
    );
    if temporary {
        profile.push_str(&format!("aws_session_token = {TEMPORARY_SESSION_TOKEN}\n"));
    }
    OwnCredentialsSettings {
        profile: Some("roleport-test".into()),
        credentials_file: Some(temp_file("credentials", &profile)),
        config_file: None,
        instance_metadata: false,
    }
}

/// The IAM user's keys: the id in the settings, the secret from a file (as `*_FILE` gives it).
pub(crate) fn federation_user() -> FederationUserSettings {
    FederationUserSettings {
        access_key_id: Some(MOTO.get("BROKER_ACCESS_KEY_ID").to_string()),
        secret_access_key_file: Some(temp_file(
            "federation-secret",
            &format!("{}\n", MOTO.get("BROKER_SECRET_ACCESS_KEY")),
        )),
        ..FederationUserSettings::default()
    }
}

async fn app_with(
    rules: &str,
    aws: impl FnOnce(AwsSettings) -> AwsSettings,
) -> (TestApp, Sts, FakeServer) {
    let sts = signing_recording_sts().await;
    let federation = fake_federation().await;
    let settings = aws(aws_settings(&sts.url, Some(&federation.url)));
    let app = spawn_app_with(Options {
        rules_yaml: rules.to_string(),
        aws: Some(settings),
        ..Options::default()
    })
    .await;
    (app, sts, federation)
}

pub(crate) async fn credentials(
    app: &TestApp,
    grant: &str,
    duration: Option<u32>,
) -> serde_json::Value {
    let resp = app.request_credentials(grant, duration).await;
    let status = resp.status();
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    body
}

pub(crate) async fn refused(
    app: &TestApp,
    grant: &str,
    status: u16,
) -> (String, serde_json::Value) {
    let resp = app.request_credentials(grant, None).await;
    assert_eq!(resp.status(), status);
    let problem: serde_json::Value = resp.json().await.unwrap();
    let reference = problem["reference"].as_str().unwrap().to_string();
    let rows = roleport::db::audit::by_reference(&app.pool, &reference)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "one audit row for {reference}");
    let row = serde_json::to_value(&rows[0]).unwrap();
    assert_eq!(row["outcome"], "rejected");
    (problem["detail"].as_str().unwrap().to_string(), row)
}

pub(crate) async fn audit_row(app: &TestApp, body: &serde_json::Value) -> serde_json::Value {
    let rows = roleport::db::audit::by_reference(&app.pool, body["Reference"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    serde_json::to_value(&rows[0]).unwrap()
}

async fn console_session_duration(
    app: &TestApp,
    federation: &FakeServer,
    grant: &str,
) -> Option<String> {
    let before = federation.seen.lock().unwrap().len();
    let csrf = app.csrf_token().await;
    let resp = app
        .client
        .post(format!("{}/roles/{grant}/console", app.address))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303, "{}", resp.text().await.unwrap());
    let calls = federation.seen.lock().unwrap().clone();
    assert_eq!(calls.len(), before + 1);
    calls[before].params.get("SessionDuration").cloned()
}

fn sigv4_regex_ok(value: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&value.chars().count())
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c))
}

/// The strict checker for AssumeRole (moto accepts and ignores all of this).
struct AssumeRoleCheck<'a> {
    role_arn: &'a str,
    session_name: &'a str,
    source_identity: &'a str,
    tags: &'a [(&'a str, &'a str)],
    transitive: &'a [&'a str],
    external_id: Option<&'a str>,
    duration: u32,
    chained: bool,
}

impl AssumeRoleCheck<'_> {
    fn verify(&self, call: &Call) {
        assert_eq!(call.p("Action"), "AssumeRole");
        assert_eq!(call.p("RoleArn"), self.role_arn);
        // Signed with Roleport's own key, for STS in the partition's signing region.
        let (key, scope) = call.signed_by();
        assert_eq!(key, MOTO.get("BROKER_ACCESS_KEY_ID"));
        assert!(scope.ends_with("/us-east-1/sts/aws4_request"), "{scope}");
        assert_eq!(
            call.security_token.is_some(),
            self.chained,
            "session token iff chained"
        );
        // The signature is what Roleport's own credentials make for exactly this request.
        let token = self.chained.then_some(TEMPORARY_SESSION_TOKEN);
        assert_eq!(
            call.verify_signature(MOTO.get("BROKER_SECRET_ACCESS_KEY"), token),
            Ok(())
        );
        let name = call.p("RoleSessionName");
        assert_eq!(name, self.session_name);
        assert!(sigv4_regex_ok(name, 2, 64), "{name}");
        let source = call.p("SourceIdentity");
        assert_eq!(source, self.source_identity);
        assert!(sigv4_regex_ok(source, 2, 64) && !source.to_lowercase().starts_with("aws:"));
        let tags = call.tags();
        let want: Vec<(String, String)> = self
            .tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(tags, want);
        assert!(tags.len() <= 50);
        for (k, v) in &tags {
            assert!((1..=128).contains(&k.chars().count()) && v.chars().count() <= 256);
            assert!(!k.to_lowercase().starts_with("aws:"));
        }
        let transitive = call.members("TransitiveTagKeys");
        assert_eq!(transitive, self.transitive);
        assert!(transitive.iter().all(|t| tags.iter().any(|(k, _)| k == t)));
        match self.external_id {
            Some(id) => {
                let sent = call.p("ExternalId");
                assert_eq!(sent, id);
                assert!((2..=1224).contains(&sent.len()));
                assert!(
                    sent.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_+=,.@:/-".contains(c))
                );
            }
            None => assert!(!call.params.contains_key("ExternalId")),
        }
        let duration: u32 = call.p("DurationSeconds").parse().unwrap();
        assert_eq!(duration, self.duration);
        let max = if self.chained { 3600 } else { 43_200 };
        assert!(
            (900..=max).contains(&duration),
            "{duration} outside 900..={max}"
        );
        assert!(!call.params.contains_key("Policy"));
    }
}

const ASSUME_ROLE_RULES: &str = r#"
version: 1
accounts:
  - id: "123456789012"
    alias: demo-prod
    partition: aws
    access: {mode: assume_role, external_id: roleport-ext-42}
roles:
  - arn: arn:aws:iam::123456789012:role/Admin
    display_name: Administrator
    max_session_seconds: 14400
  - arn: arn:aws:iam::123456789012:role/ReadOnly
    display_name: Read-only
    max_session_seconds: 7200
    access: {mode: saml_broker}
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

#[tokio::test]
async fn assume_role_with_roleport_own_long_term_credentials() {
    let (app, sts, federation) = app_with(ASSUME_ROLE_RULES, |aws| AwsSettings {
        own_credentials: own_credentials(false),
        ..aws
    })
    .await;
    app.sign_in("alice").await;
    let body = credentials(&app, ADMIN, Some(7200)).await;
    assert_eq!(body["DurationSeconds"], 7200);
    assert_eq!(
        body["AssumedRoleArn"],
        "arn:aws:sts::123456789012:assumed-role/Admin/alice@example.org@demo-saml"
    );
    // The credentials work: moto names the role and alice's session.
    assert_eq!(
        caller_arn(
            body["AccessKeyId"].as_str().unwrap(),
            body["SecretAccessKey"].as_str().unwrap(),
            body["SessionToken"].as_str().unwrap()
        )
        .await,
        "arn:aws:sts::123456789012:assumed-role/Admin/alice@example.org@demo-saml"
    );
    let calls = sts.calls();
    assert_eq!(calls.len(), 1);
    AssumeRoleCheck {
        role_arn: ADMIN_ARN,
        session_name: "alice@example.org@demo-saml",
        source_identity: "alice@demo-saml",
        // The order STS sees: the rule's tags sorted by key.
        tags: &[("cost-center", "42"), ("team", "platform")],
        transitive: &["team"],
        external_id: Some(EXTERNAL_ID),
        duration: 7200,
        chained: false,
    }
    .verify(&calls[0]);

    let row = audit_row(&app, &body).await;
    assert_eq!(row["details"]["mode"], "assume_role");
    assert_eq!(row["details"]["source_identity"], "alice@demo-saml");
    assert_eq!(row["details"]["access_key_id"], body["AccessKeyId"]);
    let text = row.to_string();
    assert!(!text.contains(MOTO.get("BROKER_SECRET_ACCESS_KEY")));
    assert!(!text.contains(body["SecretAccessKey"].as_str().unwrap()));

    // Not chained: the console session may carry SessionDuration.
    assert_eq!(
        console_session_duration(&app, &federation, ADMIN)
            .await
            .as_deref(),
        Some("3600")
    );
    assert_eq!(sts.calls().len(), 2);

    // A role's own access overrides the account's: ReadOnly stays with the SAML broker.
    let body = credentials(&app, READONLY, None).await;
    let calls = sts.calls();
    assert_eq!(calls[2].p("Action"), "AssumeRoleWithSAML");
    assert_eq!(
        calls[2].p("PrincipalArn"),
        "arn:aws:iam::123456789012:saml-provider/roleport"
    );
    assert!(
        calls[2].authorization.is_none(),
        "AssumeRoleWithSAML is unsigned"
    );
    assert_eq!(
        audit_row(&app, &body).await["details"]["mode"],
        "saml_broker"
    );
}

#[tokio::test]
async fn assume_role_with_temporary_own_credentials_is_chained_and_capped_at_an_hour() {
    let (app, sts, federation) = app_with(ASSUME_ROLE_RULES, |aws| AwsSettings {
        own_credentials: own_credentials(true),
        ..aws
    })
    .await;
    app.sign_in("alice").await;
    let body = credentials(&app, ADMIN, Some(7200)).await;
    assert_eq!(body["DurationSeconds"], 3600, "role chaining caps at 1 h");
    let calls = sts.calls();
    AssumeRoleCheck {
        role_arn: ADMIN_ARN,
        session_name: "alice@example.org@demo-saml",
        source_identity: "alice@demo-saml",
        tags: &[("cost-center", "42"), ("team", "platform")],
        transitive: &["team"],
        external_id: Some(EXTERNAL_ID),
        duration: 3600,
        chained: true,
    }
    .verify(&calls[0]);
    let row = audit_row(&app, &body).await;
    assert_eq!(row["details"]["duration_decided_by"], "role chaining limit");
    assert_eq!(
        caller_arn(
            body["AccessKeyId"].as_str().unwrap(),
            body["SecretAccessKey"].as_str().unwrap(),
            body["SessionToken"].as_str().unwrap()
        )
        .await,
        "arn:aws:sts::123456789012:assumed-role/Admin/alice@example.org@demo-saml"
    );
    // AWS refuses SessionDuration for role-chained credentials at the federation endpoint.
    assert_eq!(
        console_session_duration(&app, &federation, ADMIN).await,
        None
    );
}

#[tokio::test]
async fn assume_role_without_any_own_credentials_is_refused_clearly_and_audited() {
    let (app, sts, _federation) = app_with(ASSUME_ROLE_RULES, |aws| AwsSettings {
        own_credentials: OwnCredentialsSettings {
            profile: Some("roleport-test".into()),
            credentials_file: Some(std::env::temp_dir().join("roleport-no-such-credentials")),
            config_file: None,
            instance_metadata: false,
        },
        ..aws
    })
    .await;
    assert!(
        std::env::var_os("AWS_ACCESS_KEY_ID").is_none(),
        "this test needs an environment without AWS keys"
    );
    app.sign_in("alice").await;
    let (detail, row) = refused(&app, ADMIN, 500).await;
    // Operators' words (settings, the credential chain) stay in the log and the audit row.
    assert!(
        detail.contains(roleport::http::public_messages::NOT_SET_UP),
        "{detail}"
    );
    assert!(!detail.contains("AssumeRole"), "{detail}");
    assert!(
        row["reason"]
            .as_str()
            .unwrap()
            .starts_with("assume_role_no_credentials"),
        "{row}"
    );
    assert_eq!(row["details"]["mode"], "assume_role");
    assert!(sts.calls().is_empty(), "nothing sent");

    // The HTML form gets the same clear page.
    let csrf = app.csrf_token().await;
    let resp = app
        .client
        .post(format!("{}/roles/{ADMIN}/credentials", app.address))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 500);
    let html = html_unescape(&resp.text().await.unwrap());
    assert!(
        html.contains(roleport::http::public_messages::NOT_SET_UP),
        "{html}"
    );
    reference_in(&html);
}

const FEDERATION_POLICY: &str = r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": "*"}]}"#;

fn federation_rules(with_policy: bool) -> String {
    let policy = if with_policy {
        format!(
            "\n      session_policy:\n        inline: '{FEDERATION_POLICY}'\n        managed_arns: [arn:aws:iam::aws:policy/ReadOnlyAccess]"
        )
    } else {
        String::new()
    };
    format!(
        r#"
version: 1
accounts:
  - id: "123456789012"
    alias: demo-prod
    partition: aws
roles:
  - arn: arn:aws:iam::123456789012:role/ReadOnly
    display_name: Read-only (federated)
    max_session_seconds: 3600
    access:
      mode: federation_token{policy}
rules:
  - id: readonly
    idp: [demo-saml, demo-oidc]
    claim: group
    match: ldap_dn
    pattern: cn=aws-readonly,ou=groups,dc=example,dc=org
    roles: [arn:aws:iam::123456789012:role/ReadOnly]
    session_tags: {{team: support}}
"#
    )
}

#[tokio::test]
async fn federation_token_with_the_session_policy_the_grant_names() {
    let (app, sts, federation) = app_with(&federation_rules(true), |aws| AwsSettings {
        federation_user: Some(federation_user()),
        ..aws
    })
    .await;
    app.sign_in("bob").await;
    // One session-length rule for every mode: the role allows 3600 s, so asking for 50,000
    // gives 3600, decided by the role's maximum (not GetFederationToken's own 36 h).
    let body = credentials(&app, READONLY, Some(50_000)).await;
    assert_eq!(body["DurationSeconds"], 3600);
    assert_eq!(
        audit_row(&app, &body).await["details"]["duration_decided_by"],
        "role maximum"
    );
    // moto's GetCallerIdentity cannot tell a federated user (it answers `user/moto` for the
    // constant key it hands out), so the federated user's ARN is checked as STS returned it.
    assert_eq!(
        body["AssumedRoleArn"],
        "arn:aws:sts::123456789012:federated-user/bob@example.org@demo-saml"
    );
    assert_eq!(
        caller_arn(
            body["AccessKeyId"].as_str().unwrap(),
            body["SecretAccessKey"].as_str().unwrap(),
            body["SessionToken"].as_str().unwrap()
        )
        .await,
        "arn:aws:sts::123456789012:user/moto",
        "moto's documented answer for GetFederationToken credentials"
    );
    let default = credentials(&app, READONLY, None).await;
    assert_eq!(
        default["DurationSeconds"], 3600,
        "the default of every mode, not GetFederationToken's own 12 h"
    );
    assert_eq!(
        audit_row(&app, &default).await["details"]["duration_decided_by"],
        "default"
    );

    let calls = sts.calls();
    assert_eq!(calls.len(), 2);
    for (call, duration) in calls.iter().zip(["3600", "3600"]) {
        // The strict checks AWS would make.
        assert_eq!(call.p("Action"), "GetFederationToken");
        let (key, scope) = call.signed_by();
        assert_eq!(
            key,
            MOTO.get("BROKER_ACCESS_KEY_ID"),
            "the IAM user's own key"
        );
        assert!(scope.ends_with("/us-east-1/sts/aws4_request"), "{scope}");
        assert!(
            call.security_token.is_none(),
            "GetFederationToken needs long-term keys"
        );
        // Signed by exactly the IAM user's keys Roleport was given.
        assert_eq!(
            call.verify_signature(MOTO.get("BROKER_SECRET_ACCESS_KEY"), None),
            Ok(())
        );
        let name = call.p("Name");
        assert_eq!(name, "bob@example.org@demo-saml");
        assert!(sigv4_regex_ok(name, 2, 32), "{name}");
        assert_eq!(call.p("DurationSeconds"), duration);
        let seconds: u32 = duration.parse().unwrap();
        assert!((900..=129_600).contains(&seconds));
        // The inline policy is the grant's, packed; the managed ARN is the grant's.
        let sent: serde_json::Value = serde_json::from_str(call.p("Policy")).unwrap();
        let want: serde_json::Value = serde_json::from_str(FEDERATION_POLICY).unwrap();
        assert_eq!(sent, want);
        assert!(!call.p("Policy").contains(' '), "packed");
        assert_eq!(
            call.params
                .get("PolicyArns.member.1.arn")
                .map(String::as_str),
            Some("arn:aws:iam::aws:policy/ReadOnlyAccess")
        );
        assert!(call.p("Policy").len() + "arn:aws:iam::aws:policy/ReadOnlyAccess".len() <= 2048);
        assert_eq!(call.tags(), [("team".to_string(), "support".to_string())]);
        assert!(
            !call
                .params
                .keys()
                .any(|k| k.starts_with("TransitiveTagKeys"))
        );
        assert!(!call.params.contains_key("SourceIdentity"));
    }
    let row = audit_row(&app, &body).await;
    assert_eq!(row["details"]["mode"], "federation_token");
    assert_eq!(
        row["details"]["role_session_name"],
        "bob@example.org@demo-saml"
    );
    assert_eq!(row["details"]["source_identity"], serde_json::Value::Null);
    assert!(
        !row.to_string()
            .contains(MOTO.get("BROKER_SECRET_ACCESS_KEY"))
    );

    // Federation tokens get no SessionDuration at the console federation endpoint.
    assert_eq!(
        console_session_duration(&app, &federation, READONLY).await,
        None
    );
}

#[tokio::test]
async fn federation_token_without_a_session_policy_or_without_user_keys_is_refused() {
    // No policy: GetFederationToken would hand out credentials with no permissions.
    let (app, sts, _f) = app_with(&federation_rules(false), |aws| AwsSettings {
        federation_user: Some(federation_user()),
        ..aws
    })
    .await;
    app.sign_in("bob").await;
    let (detail, row) = refused(&app, READONLY, 400).await;
    assert!(detail.contains("needs a session policy"), "{detail}");
    assert_eq!(row["details"]["mode"], "federation_token");
    assert!(row["reason"].as_str().unwrap().starts_with("aws_rule"));
    assert!(sts.calls().is_empty());

    // A policy, but Roleport has no IAM user keys configured.
    let (app, sts, _f) = app_with(&federation_rules(true), |aws| aws).await;
    app.sign_in("bob").await;
    let (detail, row) = refused(&app, READONLY, 500).await;
    assert!(
        detail.contains(roleport::http::public_messages::NOT_SET_UP),
        "{detail}"
    );
    assert!(!detail.contains("aws.federation_user"), "{detail}");
    assert!(
        row["reason"]
            .as_str()
            .unwrap()
            .starts_with("federation_user_not_configured")
    );
    assert_eq!(row["details"]["mode"], "federation_token");
    assert!(sts.calls().is_empty());
}

#[tokio::test]
async fn access_configuration_survives_the_database_and_old_documents_still_import() {
    let (app, _sts, _f) = app_with(ASSUME_ROLE_RULES, |aws| aws).await;
    let want = roleport::protocol::mapping::parse_document(ASSUME_ROLE_RULES).unwrap();
    let mut got = roleport::db::rules::load(&app.pool).await.unwrap();
    let mut want_sorted = want.clone();
    for set in [&mut got, &mut want_sorted] {
        set.accounts.sort_by(|a, b| a.id.cmp(&b.id));
        set.roles.sort_by(|a, b| a.arn.cmp(&b.arn));
        set.rules.sort_by(|a, b| a.id.cmp(&b.id));
    }
    assert_eq!(got, want_sorted);
    assert_eq!(
        roleport::protocol::mapping::render_document(&got),
        roleport::protocol::mapping::render_document(&want)
    );
    for text in [FEDERATION_POLICY_DOC, TEST_RULES] {
        let set = roleport::protocol::mapping::parse_document(text).unwrap();
        roleport::db::rules::replace_all(&app.pool, &set)
            .await
            .unwrap();
        let mut back = roleport::db::rules::load(&app.pool).await.unwrap();
        let mut set = set;
        for s in [&mut back, &mut set] {
            s.accounts.sort_by(|a, b| a.id.cmp(&b.id));
            s.roles.sort_by(|a, b| a.arn.cmp(&b.arn));
            s.rules.sort_by(|a, b| a.id.cmp(&b.id));
        }
        assert_eq!(back, set);
    }
}

const FEDERATION_POLICY_DOC: &str = r#"
version: 1
accounts:
  - {id: "123456789012", alias: demo-prod, partition: aws, access: {mode: federation_token}}
roles:
  - arn: arn:aws:iam::123456789012:role/ReadOnly
    access:
      session_policy:
        inline: '{"Version":"2012-10-17","Statement":[]}'
  - arn: arn:aws:iam::123456789012:role/Admin
    access:
      session_policy: {managed_arns: [arn:aws:iam::aws:policy/AdministratorAccess]}
rules: []
"#;
