//! What stands in for AWS in tests: moto (started by deploy/test.sh) behind a recording proxy, a
//! fake console federation endpoint that checks the `getSigninToken` request shape, and the
//! strict checker of what Roleport sends to STS (moto itself checks nothing).

use crate::helpers::*;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use roleport::configuration::{AwsSettings, KeyPairFiles};
use roleport::protocol::aws::EndpointOverrides;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, LazyLock, Mutex};

pub struct Moto {
    pub env: HashMap<String, String>,
}

impl Moto {
    pub fn get(&self, key: &str) -> &str {
        self.env
            .get(key)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("moto.env has no {key}"))
    }
}

pub static MOTO: LazyLock<Moto> = LazyLock::new(|| {
    let path = std::env::var("ROLEPORT_TEST_MOTO_ENV")
        .unwrap_or_else(|_| panic!("ROLEPORT_TEST_MOTO_ENV is not set: run the suite with deploy/test.sh, which starts moto"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    Moto {
        env: text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect(),
    }
});

/// Roleport's IdP signing key for broker mode, made once per test process.
pub static BROKER_KEY: LazyLock<(PathBuf, PathBuf)> = LazyLock::new(|| {
    let (key, cert, _) = keypair_files("roleport-aws-idp");
    (key, cert)
});

/// A recorded HTTP request: query or form parameters, and the headers (names in lower case).
#[derive(Debug, Clone)]
pub struct Recorded {
    pub params: BTreeMap<String, String>,
    pub headers: BTreeMap<String, String>,
}

/// A local HTTP server; `answer` decides each response and sees every request.
pub struct FakeServer {
    pub url: String,
    pub seen: Arc<Mutex<Vec<Recorded>>>,
}

type Answer = Arc<dyn Fn(&Recorded) -> HttpResponse + Send + Sync>;

pub async fn fake_server(answer: Answer) -> FakeServer {
    let seen: Arc<Mutex<Vec<Recorded>>> = Arc::default();
    let seen_app = seen.clone();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = HttpServer::new(move || {
        let seen = seen_app.clone();
        let answer = answer.clone();
        App::new().default_service(web::to(move |req: HttpRequest, body: web::Bytes| {
            let seen = seen.clone();
            let answer = answer.clone();
            async move {
                let mut params: BTreeMap<String, String> =
                    url::form_urlencoded::parse(req.query_string().as_bytes())
                        .into_owned()
                        .collect();
                params.extend(url::form_urlencoded::parse(&body).into_owned());
                let headers = req
                    .headers()
                    .iter()
                    .filter_map(|(k, v)| {
                        Some((k.as_str().to_string(), v.to_str().ok()?.to_string()))
                    })
                    .collect();
                let recorded = Recorded { params, headers };
                let response = answer(&recorded);
                seen.lock().unwrap().push(recorded);
                response
            }
        }))
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    FakeServer { url, seen }
}

/// moto behind a recorder, so the strict checker sees exactly what Roleport sent.
pub async fn recording_sts() -> FakeServer {
    let moto = MOTO.get("MOTO_URL").to_string();
    let answer: Answer = Arc::new(move |r: &Recorded| {
        // Forward synchronously on a helper thread: the answer closure is not async.
        let moto = moto.clone();
        let params = r.params.clone();
        // SigV4 headers too: moto routes a signed call (GetCallerIdentity…) by them.
        let headers: Vec<(String, String)> =
            ["authorization", "x-amz-date", "x-amz-security-token"]
                .iter()
                .filter_map(|h| Some((h.to_string(), r.headers.get(*h)?.clone())))
                .collect();
        let (status, body) = std::thread::spawn(move || post_form(&moto, &params, &headers))
            .join()
            .unwrap();
        HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
            .content_type("text/xml")
            .body(body)
    });
    fake_server(answer).await
}

/// A blocking form POST to moto over a plain socket (moto answers `Connection: close`).
pub fn post_form(
    url: &str,
    params: &BTreeMap<String, String>,
    headers: &[(String, String)],
) -> (u16, String) {
    use std::io::{Read, Write};
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params.iter())
        .finish();
    let host = url.trim_start_matches("http://").trim_end_matches('/');
    let extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    let mut sock = std::net::TcpStream::connect(host).unwrap();
    write!(
        sock,
        "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = String::new();
    sock.read_to_string(&mut raw).unwrap();
    let status: u16 = raw.split_whitespace().nth(1).unwrap().parse().unwrap();
    let (_, body) = raw.split_once("\r\n\r\n").unwrap_or(("", ""));
    (status, body.to_string())
}

/// A fake console federation endpoint: checks the `getSigninToken` request shape and answers
/// with a token; `login` answers a page naming the token.
pub async fn fake_federation() -> FakeServer {
    let answer: Answer = Arc::new(|r: &Recorded| {
        match r.params.get("Action").map(String::as_str) {
            Some("getSigninToken") => {
                let session: serde_json::Value =
                    match r.params.get("Session").map(|s| serde_json::from_str(s)) {
                        Some(Ok(v)) => v,
                        _ => return HttpResponse::BadRequest().body("Session is not JSON"),
                    };
                let keys: Vec<&str> = session
                    .as_object()
                    .map(|o| o.keys().map(String::as_str).collect())
                    .unwrap_or_default();
                if keys != ["sessionId", "sessionKey", "sessionToken"] {
                    return HttpResponse::BadRequest().body(format!("bad Session keys {keys:?}"));
                }
                if let Some(d) = r.params.get("SessionDuration") {
                    let d: u32 = d.parse().unwrap_or(0);
                    if !(900..=43200).contains(&d) {
                        return HttpResponse::BadRequest().body("bad SessionDuration");
                    }
                }
                HttpResponse::Ok().json(serde_json::json!({ "SigninToken": format!("token-{}", uuid::Uuid::new_v4().simple()) }))
            }
            _ => HttpResponse::BadRequest().body("unknown Action"),
        }
    });
    fake_server(answer).await
}

/// AWS settings pointing the `aws` partition at `sts` (and optionally a fake federation).
pub fn aws_settings(sts: &str, federation: Option<&str>) -> AwsSettings {
    let mut endpoints = BTreeMap::new();
    endpoints.insert(
        "aws".to_string(),
        EndpointOverrides {
            sts: Some(url::Url::parse(sts).unwrap()),
            federation: federation.map(|f| url::Url::parse(&format!("{f}/federation")).unwrap()),
            console: federation.map(|f| url::Url::parse(&format!("{f}/console/")).unwrap()),
            ..EndpointOverrides::default()
        },
    );
    AwsSettings {
        signing_keys: vec![KeyPairFiles {
            key_file: BROKER_KEY.0.clone(),
            cert_file: BROKER_KEY.1.clone(),
        }],
        // moto's 500s are not worth retrying; failure-class tests set their own.
        sts_max_attempts: 1,
        endpoints,
        ..AwsSettings::default()
    }
}

impl TestApp {
    /// The CSRF token of the signed-in session, as a page exposes it.
    pub async fn csrf_token(&self) -> String {
        let html = self.get("/roles").await.text().await.unwrap();
        let re = regex::Regex::new(r#"<meta name="csrf-token" content="([^"]+)""#).unwrap();
        re.captures(&html)
            .unwrap_or_else(|| panic!("no csrf meta in {html}"))[1]
            .to_string()
    }

    pub async fn request_credentials(
        &self,
        grant: &str,
        duration: Option<u32>,
    ) -> reqwest::Response {
        let csrf = self.csrf_token().await;
        self.client
            .post(format!("{}/api/v1/credentials", self.address))
            .header("X-CSRF-Token", csrf)
            .json(&serde_json::json!({ "grant": grant, "duration_seconds": duration }))
            .send()
            .await
            .unwrap()
    }
}

/// GetCallerIdentity on moto with the given credentials: the ARN it names.
pub async fn caller_arn(access_key: &str, secret: &str, token: &str) -> String {
    let creds = aws_credential_types::Credentials::new(
        access_key,
        secret,
        Some(token.to_string()),
        None,
        "test",
    );
    let config = aws_sdk_sts::Config::builder()
        .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
        .region(aws_sdk_sts::config::Region::new("us-east-1"))
        .endpoint_url(MOTO.get("MOTO_URL"))
        .credentials_provider(creds)
        .http_client(
            aws_smithy_http_client::Builder::new()
                .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                    aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
                ))
                .build_https(),
        )
        .build();
    let out = aws_sdk_sts::Client::from_conf(config)
        .get_caller_identity()
        .send()
        .await
        .expect("GetCallerIdentity");
    out.arn().unwrap().to_string()
}

/// The strict checker: what AWS would verify in an AssumeRoleWithSAML call, which moto does not.
pub struct SamlCheck<'a> {
    pub app: &'a TestApp,
    pub role_arn: &'a str,
    pub session_name: &'a str,
    pub duration: u32,
    pub source_identity: &'a str,
    pub recipient: &'a str,
    pub audience: &'a str,
}

impl SamlCheck<'_> {
    pub async fn verify(&self, call: &Recorded) {
        let p = &call.params;
        assert_eq!(p["Action"], "AssumeRoleWithSAML");
        assert_eq!(p["RoleArn"], self.role_arn);
        let provider = p["PrincipalArn"].clone();
        assert!(provider.ends_with(":saml-provider/roleport"), "{provider}");
        assert_eq!(p["DurationSeconds"], self.duration.to_string());
        let xml = String::from_utf8(
            base64::Engine::decode(
                &base64::engine::general_purpose::STANDARD,
                &p["SAMLAssertion"],
            )
            .unwrap(),
        )
        .unwrap();

        // Signature: against the certificate Roleport publishes for IAM, with xmlsec1.
        let metadata = self
            .app
            .get("/aws/saml-metadata.xml")
            .await
            .text()
            .await
            .unwrap();
        let entity = regex::Regex::new(r#"entityID="([^"]+)""#)
            .unwrap()
            .captures(&metadata)
            .unwrap()[1]
            .to_string();
        let cert_b64 = regex::Regex::new(r"<ds:X509Certificate>([^<]+)</ds:X509Certificate>")
            .unwrap()
            .captures(&metadata)
            .unwrap()[1]
            .to_string();
        let dir =
            std::env::temp_dir().join(format!("roleport-strict-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let cert_path = dir.join("idp.pem");
        let wrapped: Vec<String> = cert_b64
            .as_bytes()
            .chunks(64)
            .map(|c| String::from_utf8(c.to_vec()).unwrap())
            .collect();
        std::fs::write(
            &cert_path,
            format!(
                "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
                wrapped.join("\n")
            ),
        )
        .unwrap();
        let doc = dir.join("response.xml");
        std::fs::write(&doc, &xml).unwrap();
        let out = std::process::Command::new("xmlsec1")
            .args([
                "--verify",
                "--id-attr:ID",
                "urn:oasis:names:tc:SAML:2.0:protocol:Response",
                "--id-attr:ID",
                "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
                "--pubkey-cert-pem",
            ])
            .arg(&cert_path)
            .arg(&doc)
            .output()
            .expect("xmlsec1");
        assert!(
            out.status.success(),
            "xmlsec1: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::remove_dir_all(&dir).ok();
        assert!(xml.contains("http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"));
        assert!(!xml.contains("xmldsig#rsa-sha1") && !xml.contains("xmldsig#sha1"));

        // The profile AWS checks.
        let one = |re: &str| -> String {
            let r = regex::Regex::new(re).unwrap();
            let all: Vec<String> = r.captures_iter(&xml).map(|c| c[1].to_string()).collect();
            assert_eq!(all.len(), 1, "{re} matched {all:?}");
            all[0].clone()
        };
        // Response and Assertion: the same Issuer, the entityID registered in IAM.
        let issuers: Vec<String> = regex::Regex::new(r"<saml:Issuer[^>]*>([^<]+)</saml:Issuer>")
            .unwrap()
            .captures_iter(&xml)
            .map(|c| c[1].trim().to_string())
            .collect();
        assert_eq!(issuers, vec![entity.clone(), entity.clone()]);
        assert_eq!(one(r#"Recipient="([^"]+)""#), self.recipient);
        assert_eq!(one(r#"Destination="([^"]+)""#), self.recipient);
        assert_eq!(
            one(r"<saml:Audience>([^<]+)</saml:Audience>"),
            self.audience
        );
        assert_eq!(
            one(r#"Method="([^"]+)""#),
            "urn:oasis:names:tc:SAML:2.0:cm:bearer"
        );
        let attr = |name: &str| -> Vec<String> {
            let r = regex::Regex::new(&format!(
                r#"<saml:Attribute Name="{}"[^>]*>((?:\s*<saml:AttributeValue[^>]*>[^<]*</saml:AttributeValue>)*)\s*</saml:Attribute>"#,
                regex::escape(name)
            ))
            .unwrap();
            let values =
                regex::Regex::new(r"<saml:AttributeValue[^>]*>([^<]*)</saml:AttributeValue>")
                    .unwrap();
            r.captures_iter(&xml)
                .flat_map(|c| {
                    values
                        .captures_iter(&c[1])
                        .map(|v| v[1].to_string())
                        .collect::<Vec<_>>()
                })
                .collect()
        };
        assert_eq!(
            attr("https://aws.amazon.com/SAML/Attributes/Role"),
            vec![format!("{},{}", self.role_arn, provider)]
        );
        let name = attr("https://aws.amazon.com/SAML/Attributes/RoleSessionName");
        assert_eq!(name, vec![self.session_name.to_string()]);
        assert!(
            regex::Regex::new(r"^[\w+=,.@-]{2,64}$")
                .unwrap()
                .is_match(&name[0])
        );
        assert_eq!(
            attr("https://aws.amazon.com/SAML/Attributes/SessionDuration"),
            vec![self.duration.to_string()]
        );
        assert_eq!(
            attr("https://aws.amazon.com/SAML/Attributes/SourceIdentity"),
            vec![self.source_identity.to_string()]
        );

        // Redeemable only within AWS's five minutes.
        let issued = chrono::DateTime::parse_from_rfc3339(&one(
            r#"<saml:Assertion[^>]*IssueInstant="([^"]+)""#,
        ))
        .unwrap();
        let until = chrono::DateTime::parse_from_rfc3339(&one(
            r#"<saml:SubjectConfirmationData[^>]*NotOnOrAfter="([^"]+)""#,
        ))
        .unwrap();
        assert!(
            until > issued && until - issued <= chrono::Duration::minutes(5),
            "{issued} .. {until}"
        );
        let now = self.app.clock.now();
        assert!(
            (now - issued.with_timezone(&chrono::Utc))
                .num_seconds()
                .abs()
                < 60
        );
    }
}

// ----- A fake STS that answers like AWS (Query protocol), for what moto cannot do -----

/// The namespace of every STS Query-protocol answer.
pub const STS_NS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

pub fn new_request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// An STS error as AWS sends it: `<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/>`.
pub fn sts_error(status: u16, code: &str, message: &str) -> HttpResponse {
    let kind = if status >= 500 { "Receiver" } else { "Sender" };
    let id = new_request_id();
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
        .content_type("text/xml")
        .insert_header(("x-amzn-RequestId", id.clone()))
        .body(format!(
            r#"<ErrorResponse xmlns="{STS_NS}"><Error><Type>{kind}</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>{id}</RequestId></ErrorResponse>"#
        ))
}

/// A successful Query-protocol answer for `action` holding `result` (inner XML).
pub fn sts_ok(action: &str, result: &str) -> HttpResponse {
    let id = new_request_id();
    HttpResponse::Ok()
        .content_type("text/xml")
        .insert_header(("x-amzn-RequestId", id.clone()))
        .body(format!(
            r#"<{action}Response xmlns="{STS_NS}"><{action}Result>{result}</{action}Result><ResponseMetadata><RequestId>{id}</RequestId></ResponseMetadata></{action}Response>"#
        ))
}

/// The SAML Response inside an AssumeRoleWithSAML call, as text.
pub fn saml_of(call: &Recorded) -> String {
    String::from_utf8(
        base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            &call.params["SAMLAssertion"],
        )
        .unwrap(),
    )
    .unwrap()
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// What AWS answers to a good AssumeRoleWithSAML (moto's shape): credentials, and the
/// assumed-role ARN in the role's partition and account, named after RoleSessionName.
pub fn assume_role_with_saml_ok(call: &Recorded) -> HttpResponse {
    assert_eq!(call.params["Action"], "AssumeRoleWithSAML");
    let role_arn = &call.params["RoleArn"];
    // arn:<partition>:iam::<account>:role/<name>
    let parts: Vec<&str> = role_arn.splitn(6, ':').collect();
    let (partition, account, role) = (parts[1], parts[4], parts[5].trim_start_matches("role/"));
    let xml = saml_of(call);
    let session = regex::Regex::new(
        r#"Name="https://aws.amazon.com/SAML/Attributes/RoleSessionName"[^>]*>\s*<saml:AttributeValue[^>]*>([^<]+)<"#,
    )
    .unwrap()
    .captures(&xml)
    .map(|c| c[1].to_string())
    .unwrap_or_else(|| "no-session".into());
    let recipient = regex::Regex::new(r#"Recipient="([^"]+)""#)
        .unwrap()
        .captures(&xml)
        .map(|c| c[1].to_string())
        .unwrap_or_default();
    let duration: i64 = call.params["DurationSeconds"].parse().unwrap_or(3600);
    let expiration = (roleport::clock::Clock::system().now() + chrono::Duration::seconds(duration))
        .format("%Y-%m-%dT%H:%M:%S%.6fZ");
    let key = format!(
        "ASIA{}",
        &uuid::Uuid::new_v4().simple().to_string().to_uppercase()[..16]
    );
    sts_ok(
        "AssumeRoleWithSAML",
        &format!(
            concat!(
                "<Credentials><AccessKeyId>{key}</AccessKeyId>",
                "<SecretAccessKey>{secret}</SecretAccessKey>",
                "<SessionToken>FQoGZXIvYXdzEBYaD{token}</SessionToken>",
                "<Expiration>{expiration}</Expiration></Credentials>",
                "<AssumedRoleUser><AssumedRoleId>AROAFAKE0000000000000:{session}</AssumedRoleId>",
                "<Arn>arn:{partition}:sts::{account}:assumed-role/{role}/{session}</Arn></AssumedRoleUser>",
                "<PackedPolicySize>6</PackedPolicySize><Subject>alice</Subject><SubjectType>persistent</SubjectType>",
                "<Issuer>{issuer}</Issuer><Audience>{recipient}</Audience>",
                "<NameQualifier>B64EncodedStringOfHashOfIssuerAccountIdAndUserId=</NameQualifier>"
            ),
            key = key,
            secret = uuid::Uuid::new_v4().simple(),
            token = uuid::Uuid::new_v4().simple(),
            expiration = expiration,
            session = xml_escape(&session),
            partition = partition,
            account = account,
            role = xml_escape(role),
            issuer = "https://roleport.invalid/aws/saml-metadata.xml",
            recipient = xml_escape(&recipient),
        ),
    )
}

/// What AWS answers to DecodeAuthorizationMessage: the decoded JSON as text.
pub fn decode_authorization_message_ok(decoded_json: &str) -> HttpResponse {
    sts_ok(
        "DecodeAuthorizationMessage",
        &format!(
            "<DecodedMessage>{}</DecodedMessage>",
            xml_escape(decoded_json)
        ),
    )
}

/// A fake STS: `answer` decides every response; each request is recorded.
pub async fn fake_sts(
    answer: impl Fn(&Recorded) -> HttpResponse + Send + Sync + 'static,
) -> FakeServer {
    fake_server(Arc::new(answer)).await
}

/// A server that accepts connections and never answers (a hung STS). `accepted` counts the
/// connections, so a test can see how often the client tried.
pub struct HungServer {
    pub url: String,
    pub accepted: Arc<std::sync::atomic::AtomicUsize>,
}

pub async fn hung_server() -> HungServer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let accepted: Arc<std::sync::atomic::AtomicUsize> = Arc::default();
    let counter = accepted.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            held.push(socket); // read nothing, answer nothing, never close
        }
    });
    HungServer { url, accepted }
}

/// Endpoint overrides pointing a partition's STS (and optionally its federation endpoint and
/// console) at local servers.
pub fn partition_overrides(sts: &str, federation: Option<&str>) -> EndpointOverrides {
    EndpointOverrides {
        sts: Some(url::Url::parse(sts).unwrap()),
        federation: federation.map(|f| url::Url::parse(&format!("{f}/federation")).unwrap()),
        console: federation.map(|f| url::Url::parse(&format!("{f}/console/")).unwrap()),
        ..EndpointOverrides::default()
    }
}

/// The SigV4 credential scope of a signed call: (access key id, region, service).
pub fn sigv4_scope(call: &Recorded) -> Option<(String, String, String)> {
    let auth = call.headers.get("authorization")?;
    let cred = auth.split("Credential=").nth(1)?.split(',').next()?;
    let parts: Vec<&str> = cred.split('/').collect();
    (parts.len() == 5).then(|| {
        (
            parts[0].to_string(),
            parts[2].to_string(),
            parts[3].to_string(),
        )
    })
}

/// Runs `test` (its path in this binary, e.g. `aws_support::name`) again in a child process
/// with `set` added to and `unset` removed from its environment: a test cannot change its own
/// process's environment (`unsafe` is forbidden), and Roleport reads its own AWS credentials
/// from there. Returns `true` in the child, which then runs the test body; in the parent it
/// waits for the child, fails if the child failed, and returns `false`.
pub fn in_child_with_env(test: &str, set: &[(&str, &str)], unset: &[&str]) -> bool {
    const CHILD: &str = "ROLEPORT_TEST_ENV_CHILD";
    if std::env::var(CHILD).as_deref() == Ok(test) {
        return true;
    }
    let mut command = std::process::Command::new(std::env::current_exe().unwrap());
    command
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, test);
    for (k, v) in set {
        command.env(k, v);
    }
    for k in unset {
        command.env_remove(k);
    }
    let out = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child run of {test} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("1 passed"),
        "the child ran no test:\n{stdout}"
    );
    false
}

/// The session tags of a recorded AssumeRoleWithSAML call: every `PrincipalTag:<key>` attribute
/// (one value each) and the `TransitiveTagKeys` values, as AWS reads them.
pub fn saml_session_tags(call: &Recorded) -> (BTreeMap<String, Vec<String>>, Vec<String>) {
    let xml = String::from_utf8(
        base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            &call.params["SAMLAssertion"],
        )
        .unwrap(),
    )
    .unwrap();
    let attr = regex::Regex::new(
        r#"<saml:Attribute Name="https://aws\.amazon\.com/SAML/Attributes/([^"]+)"[^>]*>((?:\s*<saml:AttributeValue[^>]*>[^<]*</saml:AttributeValue>)*)\s*</saml:Attribute>"#,
    )
    .unwrap();
    let value =
        regex::Regex::new(r"<saml:AttributeValue[^>]*>([^<]*)</saml:AttributeValue>").unwrap();
    let mut tags = BTreeMap::new();
    let mut transitive = Vec::new();
    for c in attr.captures_iter(&xml) {
        let values: Vec<String> = value
            .captures_iter(&c[2])
            .map(|v| v[1].to_string())
            .collect();
        if let Some(key) = c[1].strip_prefix("PrincipalTag:") {
            tags.insert(key.to_string(), values);
        } else if &c[1] == "TransitiveTagKeys" {
            transitive.extend(values);
        }
    }
    (tags, transitive)
}

// ----- SigV4, verified as STS verifies it -----

/// A request as it reached a test server, byte for byte: what a SigV4 signature covers.
#[derive(Debug, Clone, Default)]
pub struct RawRequest {
    pub method: String,
    /// The path as sent (still percent-encoded).
    pub path: String,
    /// The query string as sent, without `?`.
    pub query: String,
    /// Every header, names in lower case, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawRequest {
    pub fn of(req: &HttpRequest, body: &[u8]) -> Self {
        RawRequest {
            method: req.method().as_str().to_string(),
            path: req.uri().path().to_string(),
            query: req.query_string().to_string(),
            headers: req
                .headers()
                .iter()
                .filter_map(|(k, v)| {
                    Some((k.as_str().to_lowercase(), v.to_str().ok()?.to_string()))
                })
                .collect(),
            body: body.to_vec(),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// RFC 3986 percent-encoding of everything but the unreserved characters, as SigV4 wants.
fn sigv4_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    let key = openssl::pkey::PKey::hmac(key).unwrap();
    let mut signer =
        openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), &key).unwrap();
    signer.update(data).unwrap();
    signer.sign_to_vec().unwrap()
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(openssl::sha::sha256(data))
}

/// Verifies a request's SigV4 signature as AWS does, recomputing it from the request bytes and
/// the secret of the credentials the signer was given (an independent implementation, not the
/// SDK's signer): canonical request, string to sign, derived key, signature. Also checks what
/// STS checks around it: the scope names this key, a date matching `X-Amz-Date`, and the
/// service; the timestamp is within AWS's 15 minutes; a session token is sent (and signed)
/// exactly when the credentials have one. `Err` says what AWS would have refused.
pub fn verify_sigv4(
    req: &RawRequest,
    access_key_id: &str,
    secret: &str,
    session_token: Option<&str>,
    region: &str,
    service: &str,
) -> Result<(), String> {
    let auth = req
        .header("authorization")
        .ok_or("not signed: no Authorization header")?;
    let rest = auth
        .strip_prefix("AWS4-HMAC-SHA256 ")
        .ok_or_else(|| format!("not AWS4-HMAC-SHA256: {auth}"))?;
    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    for part in rest.split(',').map(str::trim) {
        match part.split_once('=') {
            Some(("Credential", v)) => credential = Some(v),
            Some(("SignedHeaders", v)) => signed_headers = Some(v),
            Some(("Signature", v)) => signature = Some(v),
            _ => return Err(format!("unexpected Authorization part {part:?}")),
        }
    }
    let (credential, signed_headers, signature) = match (credential, signed_headers, signature) {
        (Some(c), Some(h), Some(s)) => (c, h, s),
        _ => return Err(format!("incomplete Authorization header: {auth}")),
    };
    let scope: Vec<&str> = credential.split('/').collect();
    let [key, date, scope_region, scope_service, terminator] = scope.as_slice() else {
        return Err(format!("malformed credential scope {credential}"));
    };
    if *key != access_key_id {
        return Err(format!("signed by {key}, not {access_key_id}"));
    }
    if (*scope_region, *scope_service, *terminator) != (region, service, "aws4_request") {
        return Err(format!(
            "scope {credential} is not {region}/{service}/aws4_request"
        ));
    }
    let amz_date = req.header("x-amz-date").ok_or("no X-Amz-Date")?;
    if !amz_date.starts_with(date) {
        return Err(format!("scope date {date} is not X-Amz-Date {amz_date}"));
    }
    let when = chrono::NaiveDateTime::parse_from_str(amz_date, "%Y%m%dT%H%M%SZ")
        .map_err(|e| format!("X-Amz-Date {amz_date}: {e}"))?
        .and_utc();
    if (roleport::clock::Clock::system().now() - when)
        .num_minutes()
        .abs()
        > 15
    {
        return Err(format!("X-Amz-Date {amz_date} is more than 15 minutes off"));
    }
    let names: Vec<&str> = signed_headers.split(';').collect();
    if !names.contains(&"host") || !names.contains(&"x-amz-date") {
        return Err(format!(
            "host and x-amz-date must be signed: {signed_headers}"
        ));
    }
    let mut sorted = names.clone();
    sorted.sort_unstable();
    sorted.dedup();
    if sorted != names {
        return Err(format!(
            "SignedHeaders not sorted and unique: {signed_headers}"
        ));
    }
    match (session_token, req.header("x-amz-security-token")) {
        (None, None) => {}
        (Some(want), Some(sent)) if want == sent => {
            if !names.contains(&"x-amz-security-token") {
                return Err("the session token is not signed".into());
            }
        }
        (want, sent) => {
            return Err(format!(
                "session token sent {:?}, the credentials have {:?}",
                sent.is_some(),
                want.is_some()
            ));
        }
    }
    let mut canonical_headers = String::new();
    for name in &names {
        let values: Vec<String> = req
            .headers
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        if values.is_empty() {
            return Err(format!("signed header {name} was not sent"));
        }
        canonical_headers.push_str(&format!("{name}:{}\n", values.join(",")));
    }
    let mut query: Vec<(String, String)> = url::form_urlencoded::parse(req.query.as_bytes())
        .map(|(k, v)| (sigv4_encode(&k), sigv4_encode(&v)))
        .collect();
    query.sort();
    let canonical_query = query
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let body_hash = sha256_hex(&req.body);
    if let Some(claimed) = req.header("x-amz-content-sha256")
        && claimed != body_hash
    {
        return Err(format!(
            "x-amz-content-sha256 {claimed} is not the body's {body_hash}"
        ));
    }
    let path = if req.path.is_empty() { "/" } else { &req.path };
    let canonical_request = format!(
        "{}\n{path}\n{canonical_query}\n{canonical_headers}\n{signed_headers}\n{body_hash}",
        req.method
    );
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{date}/{region}/{service}/aws4_request\n{}",
        sha256_hex(canonical_request.as_bytes())
    );
    let k_date = hmac_sha256(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac_sha256(&k_date, region.as_bytes());
    let k_service = hmac_sha256(&k_region, service.as_bytes());
    let k_signing = hmac_sha256(&k_service, b"aws4_request");
    let expected = hex::encode(hmac_sha256(&k_signing, string_to_sign.as_bytes()));
    if expected != signature {
        return Err(format!(
            "SignatureDoesNotMatch: the signature is not the one these credentials make for \
             this request (expected {expected}, got {signature})"
        ));
    }
    Ok(())
}
