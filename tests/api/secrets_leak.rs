//! No secret that passes through Roleport reaches a log line or an audit row.
//!
//! One test runs the real flows with every log line captured (the production JSON format, at
//! debug level for every crate): a SAML sign-in on SimpleSAMLphp and an OIDC sign-in on the
//! OpenID provider (confidential client, PKCE), then credentials as JSON and as a page, a console
//! link through the fake federation endpoint, the credentials check (GetCallerIdentity), and an
//! OIDC pass-through issue. It collects every secret it saw on the way (AWS secret keys and
//! session tokens from STS's answers, the SAML Response and its SignatureValue, the ID token and
//! its signature, cookies, the client secret, the authorization code, the PKCE verifier, the
//! sign-in token) and searches the logs and every row of every audit table for each, also
//! URL-encoded. Values that must be there (the subject, an AccessKeyId) are checked to be found,
//! so the capture itself is known to work.

use crate::aws_harness::*;
use crate::helpers::*;
use actix_web::HttpResponse;
use base64::Engine;
use regex::Regex;
use reqwest::cookie::{CookieStore, Jar};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

const ADMIN: &str = "123456789012-Admin";
const READONLY: &str = "123456789012-ReadOnly";

/// SAML people get Admin (broker); OIDC people get ReadOnly, passed through with their own
/// upstream ID token, so the token travels to STS where the test can see it.
const RULES: &str = r#"
version: 1
accounts:
  - id: "123456789012"
    alias: demo-prod
    partition: aws
roles:
  - arn: arn:aws:iam::123456789012:role/Admin
    display_name: Administrator
    max_session_seconds: 3600
  - arn: arn:aws:iam::123456789012:role/ReadOnly
    display_name: Read-only
    max_session_seconds: 3600
    access: {mode: oidc_passthrough}
rules:
  - id: admins-saml
    idp: demo-saml
    claim: group
    match: ldap_dn
    pattern: aws-admins
    roles: [arn:aws:iam::123456789012:role/Admin]
  - id: readonly-oidc
    idp: demo-oidc
    claim: group
    match: ldap_dn
    pattern: aws-readonly
    roles: [arn:aws:iam::123456789012:role/ReadOnly]
"#;

/// Everything the app logs, as the bytes it wrote.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The secrets seen so far, by what they are.
#[derive(Default)]
struct Secrets(Vec<(String, String)>);

impl Secrets {
    fn add(&mut self, what: &str, value: &str) {
        // Short values (a `true`, a port) would match by chance; every real secret is longer.
        assert!(
            value.len() >= 12,
            "{what} is too short to search for: {value:?}"
        );
        self.0.push((what.to_string(), value.to_string()));
    }
}

/// A cookie-keeping client whose jar the test can read.
fn browser_with_jar() -> (reqwest::Client, Arc<Jar>) {
    let jar = Arc::new(Jar::default());
    let client = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .redirect(reqwest::redirect::Policy::none())
        .user_agent("roleport-tests")
        .pool_idle_timeout(std::time::Duration::from_secs(2))
        .build()
        .unwrap();
    (client, jar)
}

fn cookies(jar: &Jar, address: &str) -> BTreeMap<String, String> {
    let url = reqwest::Url::parse(address).unwrap();
    jar.cookies(&url)
        .map(|h| h.to_str().unwrap().to_string())
        .unwrap_or_default()
        .split("; ")
        .filter_map(|c| c.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn add_cookies(secrets: &mut Secrets, jar: &Jar, address: &str, when: &str) {
    for (name, value) in cookies(jar, address) {
        if value.len() >= 12 {
            secrets.add(&format!("cookie {name} ({when})"), &value);
        }
    }
}

/// moto behind a recorder that keeps STS's answers too, so every issued secret is known.
async fn sts_keeping_answers() -> (FakeServer, Arc<Mutex<Vec<String>>>) {
    let moto = MOTO.get("MOTO_URL").to_string();
    let answers: Arc<Mutex<Vec<String>>> = Arc::default();
    let kept = answers.clone();
    let server = fake_server(Arc::new(move |r: &Recorded| {
        let moto = moto.clone();
        let params = r.params.clone();
        let headers: Vec<(String, String)> =
            ["authorization", "x-amz-date", "x-amz-security-token"]
                .iter()
                .filter_map(|h| Some((h.to_string(), r.headers.get(*h)?.clone())))
                .collect();
        let (status, body) = std::thread::spawn(move || post_form(&moto, &params, &headers))
            .join()
            .unwrap();
        kept.lock().unwrap().push(body.clone());
        HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
            .content_type("text/xml")
            .body(body)
    }))
    .await;
    (server, answers)
}

fn xml_values(xml: &str, element: &str) -> Vec<String> {
    let re = Regex::new(&format!(
        r"<(?:\w+:)?{element}>([^<]+)</(?:\w+:)?{element}>"
    ))
    .unwrap();
    re.captures_iter(xml)
        .map(|c| c[1].split_whitespace().collect::<String>())
        .collect()
}

#[tokio::test]
async fn no_secret_reaches_a_log_line_or_an_audit_row() {
    let capture = Capture::default();
    let writer = capture.clone();
    // One process holds the app and the test's own browsers; `cookie_store` is only the
    // browsers' cookie jar (Roleport's outbound clients keep no cookies), whose debug lines
    // print the cookies the test itself holds.
    roleport::telemetry::init_with(
        tracing_subscriber::EnvFilter::new("debug,cookie_store=off"),
        move || writer.clone(),
    );

    let (sts, sts_answers) = sts_keeping_answers().await;
    let federation = fake_federation().await;
    let client_id = format!("roleport-leak-{}", uuid::Uuid::new_v4().simple());
    let client_secret = format!("leak-client-secret-{}", uuid::Uuid::new_v4().simple());
    let mut app = spawn_app_with(Options {
        rules_yaml: RULES.to_string(),
        extra_idps: vec![demo_oidc_idp(&client_id, Some(&client_secret))],
        aws: Some(aws_settings(&sts.url, Some(&federation.url))),
        ..Options::default()
    })
    .await;
    register_oidc_client(
        &client_id,
        Some(&client_secret),
        &format!("{}/oidc/callback", app.address),
    );
    let mut secrets = Secrets::default();
    secrets.add("OIDC client secret", &client_secret);

    // ---- SAML sign-in on SimpleSAMLphp ----
    let (client, jar) = browser_with_jar();
    app.client = client;
    let start = app.get("/login/demo-saml").await;
    assert_eq!(start.status(), 302);
    let post = idp_sign_in(&app.client, &location(&start), "alice", "alicepw").await;
    add_cookies(&mut secrets, &jar, &app.address, "SAML login");
    secrets.add("SAMLResponse", &post.saml_response);
    let middle = &post.saml_response[post.saml_response.len() / 2..][..64];
    secrets.add("SAMLResponse (a slice)", middle);
    let xml = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(&post.saml_response)
            .unwrap(),
    )
    .unwrap();
    let signatures = xml_values(&xml, "SignatureValue");
    assert!(!signatures.is_empty(), "the peer signs its responses");
    for s in &signatures {
        secrets.add("SAML SignatureValue", s);
    }
    let acs = app
        .post_acs(&post.saml_response, post.relay_state.as_deref())
        .await;
    assert_eq!(acs.status(), 303, "{}", acs.text().await.unwrap());
    add_cookies(&mut secrets, &jar, &app.address, "SAML session");
    let csrf = app.csrf_token().await;
    secrets.add("CSRF token", &csrf);

    // Credentials as JSON and as a page.
    let resp = app.request_credentials(ADMIN, None).await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let body: serde_json::Value = resp.json().await.unwrap();
    let access_key_id = body["AccessKeyId"].as_str().unwrap().to_string();
    let page = app
        .client
        .post(format!("{}/roles/{ADMIN}/credentials", app.address))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 303);
    // The one view of the issued set, then a reload that shows nothing.
    let shown = format!(
        "{}{}",
        app.address,
        page.headers()["location"].to_str().unwrap()
    );
    let page = app.client.get(&shown).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let page = app.client.get(&shown).send().await.unwrap();
    assert_eq!(page.status(), 410);

    // A console link through the federation endpoint.
    let console = app
        .client
        .post(format!("{}/roles/{ADMIN}/console", app.address))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("destination", "s3/home?region=eu-west-1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(console.status(), 303, "{}", console.text().await.unwrap());
    let login: BTreeMap<String, String> = reqwest::Url::parse(&location(&console))
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    secrets.add("console SigninToken", &login["SigninToken"]);

    // The check: credentials issued, used for GetCallerIdentity, never shown.
    let check = app
        .client
        .post(format!("{}/roles/{ADMIN}/check", app.address))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(check.status(), 200);
    let check = app
        .client
        .post(format!("{}/api/v1/credentials/check", app.address))
        .header("X-CSRF-Token", &csrf)
        .json(&serde_json::json!({ "grant": ADMIN }))
        .send()
        .await
        .unwrap();
    assert_eq!(check.status(), 200);

    // ---- OIDC sign-in on the OpenID provider, in another browser ----
    let (client, jar) = browser_with_jar();
    app.client = client;
    let authorization = app.start_oidc("demo-oidc").await;
    let state = query_of(&authorization)["state"].clone();
    let browser_cookie = cookies(&jar, &app.address)["roleport_browser"].clone();
    // The PKCE verifier is sealed in the pending login; take it out and put it back.
    let now = app.clock.now();
    let pending = match roleport::db::oidc_logins::take(&app.pool, &state, &browser_cookie, now)
        .await
        .unwrap()
    {
        roleport::db::oidc_logins::Taken::Login(p) => p,
        _ => panic!("the pending OIDC login is not there"),
    };
    secrets.add("PKCE verifier", &pending.pkce_verifier);
    let inserted = roleport::db::oidc_logins::insert(
        &app.pool,
        &state,
        &browser_cookie,
        &pending,
        &roleport::db::logins::PendingBound {
            client: "127.0.0.1",
            per_client: 100,
            now,
        },
        now + chrono::Duration::minutes(10),
    )
    .await
    .unwrap();
    assert!(inserted, "the pending OIDC login is put back");
    let callback = oidc_peer_sign_in(&app.client, &authorization, "alice", "alicepw").await;
    secrets.add("authorization code", &query_of(&callback)["code"]);
    add_cookies(&mut secrets, &jar, &app.address, "OIDC login");
    let signed_in = app.client.get(&callback).send().await.unwrap();
    assert_eq!(
        signed_in.status(),
        303,
        "{}",
        signed_in.text().await.unwrap()
    );
    add_cookies(&mut secrets, &jar, &app.address, "OIDC session");
    let csrf = app.csrf_token().await;
    secrets.add("CSRF token (OIDC)", &csrf);

    // Pass-through: the upstream ID token goes to STS as it is.
    let resp = app.request_credentials(READONLY, None).await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let calls = sts.seen.lock().unwrap().clone();
    let id_token = calls
        .iter()
        .find_map(|c| c.params.get("WebIdentityToken"))
        .expect("the ID token went to STS")
        .clone();
    secrets.add("ID token", &id_token);
    secrets.add("ID token signature", id_token.rsplit('.').next().unwrap());

    // ---- Every AWS secret issued on the way ----
    for answer in sts_answers.lock().unwrap().iter() {
        for s in xml_values(answer, "SecretAccessKey") {
            secrets.add("AWS secret access key", &s);
        }
        for s in xml_values(answer, "SessionToken") {
            secrets.add("AWS session token", &s);
        }
    }
    for call in federation.seen.lock().unwrap().iter() {
        if let Some(session) = call.params.get("Session") {
            let session: serde_json::Value = serde_json::from_str(session).unwrap();
            secrets.add(
                "console sessionKey",
                session["sessionKey"].as_str().unwrap(),
            );
            secrets.add(
                "console sessionToken",
                session["sessionToken"].as_str().unwrap(),
            );
        }
    }
    let aws_secrets = secrets
        .0
        .iter()
        .filter(|(what, _)| what == "AWS secret access key")
        .count();
    assert!(
        aws_secrets >= 5,
        "JSON, page, console, two checks and the pass-through each got a key: {aws_secrets}"
    );

    // ---- Search ----
    let logs = String::from_utf8_lossy(&capture.0.lock().unwrap()).into_owned();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables
         WHERE table_schema = 'public' AND (table_name LIKE '%audit%' OR table_name LIKE '%refus%')",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert!(tables.iter().any(|t| t == "audit_events"), "{tables:?}");
    let mut audit = String::new();
    for table in &tables {
        let rows: Vec<String> =
            sqlx::query_scalar(&format!(r#"SELECT row_to_json(t)::text FROM "{table}" t"#))
                .fetch_all(&app.pool)
                .await
                .unwrap();
        for row in rows {
            audit.push_str(&row);
            audit.push('\n');
        }
    }

    // The capture works: what must be there is there.
    assert!(
        logs.lines().count() > 20,
        "too few log lines captured:\n{logs}"
    );
    assert!(
        logs.lines()
            .any(|l| l.contains(r#""target":"roleport"#) && l.contains("alice")),
        "Roleport's own log lines do not name the subject:\n{logs}"
    );
    assert!(
        audit.contains("alice"),
        "the subject is not in the audit rows"
    );
    assert!(
        audit.contains(&access_key_id),
        "the AccessKeyId is not in the audit rows"
    );

    let mut leaks = Vec::new();
    for (what, secret) in &secrets.0 {
        let encoded = urlencoding::encode(secret).into_owned();
        for (place, text) in [("logs", &logs), ("audit rows", &audit)] {
            if text.contains(secret.as_str()) || text.contains(&encoded) {
                let line = text
                    .lines()
                    .find(|l| l.contains(secret.as_str()) || l.contains(&encoded))
                    .unwrap_or_default();
                leaks.push(format!("{what} in the {place}: {line}"));
            }
        }
    }
    assert!(
        leaks.is_empty(),
        "{} secret(s) leaked:\n{}",
        leaks.len(),
        leaks.join("\n")
    );
}
