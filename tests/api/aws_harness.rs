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

/// A recorded HTTP request: query or form parameters.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub params: BTreeMap<String, String>,
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
                let recorded = Recorded { params };
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
        let (status, body) = std::thread::spawn(move || post_form(&moto, &params))
            .join()
            .unwrap();
        HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
            .content_type("text/xml")
            .body(body)
    });
    fake_server(answer).await
}

/// A blocking form POST to moto over a plain socket (moto answers `Connection: close`).
fn post_form(url: &str, params: &BTreeMap<String, String>) -> (u16, String) {
    use std::io::{Read, Write};
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params.iter())
        .finish();
    let host = url.trim_start_matches("http://").trim_end_matches('/');
    let mut sock = std::net::TcpStream::connect(host).unwrap();
    write!(
        sock,
        "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
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
