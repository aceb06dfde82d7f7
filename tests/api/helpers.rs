//! `spawn_app()` and the browser-less SAML client used by every test.

use regex::Regex;
use roleport::clock::Clock;
use roleport::configuration::{
    AttributeSettings, DatabaseSettings, IdpKind, IdpSettings, MetricsSettings, RateLimitSettings,
    RulesSettings, SamlIdpSettings, SamlSettings, ServerSettings, SessionSettings, Settings,
};
use roleport::protocol::mapping;
use roleport::startup::Application;
use secrecy::SecretString;
use sqlx::{Connection, Executor, PgConnection, PgPool};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

pub const ADMIN_DB_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The rules every test starts with unless it brings its own: the demo's shape.
pub const TEST_RULES: &str = r#"
version: 1
accounts:
  - id: "123456789012"
    alias: demo-prod
    partition: aws
roles:
  - arn: arn:aws:iam::123456789012:role/Admin
    display_name: Administrator
    description: Full access to the demo account
    max_session_seconds: 3600
  - arn: arn:aws:iam::123456789012:role/ReadOnly
    display_name: Read-only
    description: Look, don't touch
    max_session_seconds: 7200
rules:
  - id: admins
    idp: [demo-saml, demo-oidc]
    claim: group
    match: ldap_dn
    pattern: aws-admins
    roles: [arn:aws:iam::123456789012:role/Admin]
  - id: readonly
    idp: [demo-saml, demo-oidc]
    claim: group
    match: ldap_dn
    pattern: cn=aws-readonly,ou=groups,dc=example,dc=org
    roles: [arn:aws:iam::123456789012:role/ReadOnly]
"#;

/// The running peers, as `deploy/test.sh` started them.
pub struct Peers {
    pub env: HashMap<String, String>,
}

impl Peers {
    pub fn get(&self, key: &str) -> &str {
        self.env
            .get(key)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("peers.env has no {key}"))
    }
}

pub static PEERS: LazyLock<Peers> = LazyLock::new(|| {
    let path = std::env::var("ROLEPORT_TEST_PEERS_ENV").unwrap_or_else(|_| {
        panic!("ROLEPORT_TEST_PEERS_ENV is not set: run the suite with deploy/test.sh, which starts OpenLDAP and SimpleSAMLphp")
    });
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let env = text
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Peers { env }
});

pub struct TestApp {
    pub address: String,
    /// `http://127.0.0.1:<port>` of the separate `/metrics` listener.
    pub metrics_address: String,
    pub pool: PgPool,
    pub clock: Clock,
    pub client: reqwest::Client,
    pub db_name: String,
    pub sp_entity_id: String,
    pub state: actix_web::web::Data<roleport::http::AppState>,
}

/// A last change to the settings, made by a test.
pub type Configure = Box<dyn FnOnce(&mut Settings) + Send>;

/// What a test may change before the app starts.
pub struct Options {
    pub rules_yaml: String,
    pub idp_initiated: bool,
    pub extra_idps: Vec<IdpSettings>,
    pub include_demo_saml: bool,
    /// Reuse an existing database (a second replica) instead of creating one.
    pub database: Option<String>,
    pub sp_key: Option<(PathBuf, PathBuf)>,
    /// How Roleport reaches AWS; `None` leaves the defaults (no signing key, AWS's endpoints).
    pub aws: Option<roleport::configuration::AwsSettings>,
    /// Abuse limits; `None` gives [`relaxed_limits`], which no ordinary test reaches.
    pub rate_limit: Option<RateLimitSettings>,
    /// Last changes to the settings before they are validated and the app starts.
    pub configure: Option<Configure>,
    /// The audit HMAC key lines; `None` is [`TEST_AUDIT_KEYS`].
    pub audit_keys: Option<String>,
    /// The sealing key lines; `None` is [`TEST_SEALING_KEYS`].
    pub sealing_keys: Option<String>,
}

/// Admission bounds no ordinary test reaches on a machine busy with other suites (the
/// overload tests lower them through `Options::configure`).
pub fn relaxed_admission() -> roleport::configuration::AdmissionSettings {
    roleport::configuration::AdmissionSettings {
        sign_in_in_flight: 256,
        oidc_callback_in_flight: 256,
        issue_in_flight: 256,
        max_waiting: 1024,
        max_wait_ms: 5_000,
        ..Default::default()
    }
}

/// The default limits, raised so that the suite's own traffic (many sign-ins from 127.0.0.1)
/// never meets them; tests of the limits lower them again.
pub fn relaxed_limits() -> RateLimitSettings {
    RateLimitSettings {
        per_client_burst: 100_000,
        per_client_per_minute: 100_000,
        global_burst: 100_000,
        global_per_second: 100_000,
        pending_logins_per_client: 100_000,
        ..RateLimitSettings::default()
    }
}

impl Default for Options {
    fn default() -> Self {
        Self {
            rules_yaml: TEST_RULES.to_string(),
            idp_initiated: false,
            extra_idps: Vec::new(),
            include_demo_saml: true,
            database: None,
            sp_key: None,
            aws: None,
            rate_limit: None,
            configure: None,
            audit_keys: None,
            sealing_keys: None,
        }
    }
}

/// The audit chain's key in tests (a real key outside dev_mode comes from a file or the environment).
pub const TEST_AUDIT_KEYS: &str = "test-1 dGVzdCBhdWRpdCBrZXkgb2YgdGhpcnR5LXR3byBieXRlcw==";
/// The key that seals kept ID tokens in tests (as `ROLEPORT_SEALING__KEY` would give it).
pub const TEST_SEALING_KEYS: &str = "seal-1 dGVzdCBzZWFsaW5nIGtleSBvZiB0aGlydHktdHdvIGJ5dGVz";

pub fn demo_saml_idp(idp_initiated: bool) -> IdpSettings {
    IdpSettings {
        id: "demo-saml".into(),
        display_name: "Demo directory (SimpleSAMLphp on OpenLDAP)".into(),
        kind: IdpKind::Saml(Box::new(SamlIdpSettings {
            metadata_url: Some(PEERS.get("IDP_METADATA_URL").to_string()),
            allow_idp_initiated: idp_initiated,
            attributes: AttributeSettings {
                subject: Some("uid".into()),
                ..AttributeSettings::default()
            },
            ..SamlIdpSettings::default()
        })),
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Options::default()).await
}

pub async fn spawn_app_with(options: Options) -> TestApp {
    crate::refusals::capture_logs();
    let db_name = match &options.database {
        Some(existing) => existing.clone(),
        None => {
            let name = format!("roleport_test_{}", uuid::Uuid::new_v4().simple());
            let mut conn = PgConnection::connect(ADMIN_DB_URL)
                .await
                .expect("connect to Postgres");
            conn.execute(format!(r#"CREATE DATABASE "{name}""#).as_str())
                .await
                .expect("create test database");
            name
        }
    };
    let db_url = format!("postgres://postgres@127.0.0.1:5432/{db_name}");

    let mut idps = Vec::new();
    if options.include_demo_saml {
        idps.push(demo_saml_idp(options.idp_initiated));
    }
    idps.extend(options.extra_idps);
    let mut settings = Settings {
        server: ServerSettings {
            listen: "127.0.0.1:0".into(),
            public_url: String::new(),
            dev_mode: true,
            workers: 1,
            blocking_slots: 2,
            trusted_proxies: Default::default(),
            forwarded_header: Default::default(),
        },
        database: DatabaseSettings {
            url: SecretString::from(db_url.clone()),
            max_connections: 5,
            // The suite shares two cores with other suites: a pool wait is no failure here.
            acquire_timeout_ms: 5_000,
            migrate_on_start: true,
        },
        session: SessionSettings::default(),
        saml: SamlSettings {
            key_file: options.sp_key.as_ref().map(|(k, _)| k.clone()),
            cert_file: options.sp_key.as_ref().map(|(_, c)| c.clone()),
            ..SamlSettings::default()
        },
        idps,
        rules: RulesSettings { reload_seconds: 1 },
        aws: options.aws.clone().unwrap_or_default(),
        rate_limit: options.rate_limit.clone().unwrap_or_else(relaxed_limits),
        metrics: MetricsSettings {
            listen: "127.0.0.1:0".into(),
        },
        admin: Default::default(),
        admission: relaxed_admission(),
        audit: roleport::audit::settings::AuditSettings {
            key: Some(SecretString::from(
                options
                    .audit_keys
                    .clone()
                    .unwrap_or_else(|| TEST_AUDIT_KEYS.to_string()),
            )),
            ..Default::default()
        },
        sealing: roleport::sealing::settings::SealingSettings {
            key: Some(SecretString::from(
                options
                    .sealing_keys
                    .clone()
                    .unwrap_or_else(|| TEST_SEALING_KEYS.to_string()),
            )),
            key_file: None,
        },
    };
    if let Some(configure) = options.configure {
        configure(&mut settings);
    }
    settings.validate().expect("test settings are valid");

    // Rules are imported before start-up, as an operator would.
    let pool = PgPool::connect(&db_url).await.expect("connect test db");
    roleport::db::migrate(&pool).await.expect("migrate");
    if options.database.is_none() {
        let set = mapping::parse_document(&options.rules_yaml).expect("test rules parse");
        roleport::db::rules::replace_all(&pool, &set)
            .await
            .expect("import rules");
    }

    let clock = Clock::system();
    let app = Application::build(settings, clock.clone())
        .await
        .expect("build app");
    let port = app.port;
    let address = format!("http://127.0.0.1:{port}");
    let metrics_address = format!("http://127.0.0.1:{}", app.metrics_port);
    let sp_entity_id = app.state.sp.entity_id.clone();
    let state = app.state.clone();
    tokio::spawn(app.run_until_stopped());

    if options.include_demo_saml {
        register_sp(&sp_entity_id, &format!("{address}/saml/acs"), None);
    }
    TestApp {
        address,
        metrics_address,
        pool,
        clock,
        client: browser(),
        db_name,
        sp_entity_id,
        state,
    }
}

/// Tells SimpleSAMLphp about this SP (it reads the directory on every request).
pub fn register_sp(entity_id: &str, acs_url: &str, encrypt_cert_pem: Option<&str>) {
    register_sp_json(serde_json::json!({
        "entity_id": entity_id,
        "acs_url": acs_url,
        "allow_idp_initiated": true,
        "encrypt_cert_pem": encrypt_cert_pem,
        "sign_response": true,
        "sign_assertion": true,
    }));
}

/// Registers an SP from a full registration document (see deploy/peers/saml-idp/lib/sp-registry.php).
pub fn register_sp_json(body: serde_json::Value) {
    register_sp_json_in(Path::new(PEERS.get("SP_REMOTE_DIR")), body);
}

/// [`register_sp_json`] for the SimpleSAMLphp instance reading `dir`.
pub fn register_sp_json_in(dir: &Path, body: serde_json::Value) {
    let dir = dir.to_path_buf();
    let entity_id = body["entity_id"].as_str().expect("entity_id");
    let name = entity_id
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect::<String>();
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, body.to_string()).expect("write SP registration");
    std::fs::rename(&tmp, dir.join(format!("{name}.json"))).expect("publish SP registration");
}

/// A cookie-keeping HTTP client that does not follow redirects, like a scripted browser.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent("roleport-tests")
        // actix closes idle keep-alive connections after 5 s; a pooled connection reused just as
        // the server closes it fails with IncompleteMessage on a loaded machine. Drop idle ones
        // well before that.
        .pool_idle_timeout(std::time::Duration::from_secs(2))
        .build()
        .expect("client")
}

pub fn location(resp: &reqwest::Response) -> String {
    resp.headers()
        .get("location")
        .unwrap_or_else(|| panic!("no Location header (status {})", resp.status()))
        .to_str()
        .expect("ascii location")
        .to_string()
}

pub fn html_unescape(s: &str) -> String {
    s.replace("&amp;", "&")
        .replace("&quot;", "\"")
        .replace("&#039;", "'")
        .replace("&#39;", "'")
        .replace("&#34;", "\"")
        .replace("&#60;", "<")
        .replace("&#62;", ">")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
}

/// The auto-posting form SimpleSAMLphp returns: (action, SAMLResponse, RelayState).
pub struct SamlPost {
    pub action: String,
    pub saml_response: String,
    pub relay_state: Option<String>,
}

pub fn parse_saml_post(html: &str) -> Option<SamlPost> {
    static FORM: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r#"<form method="post"\s+action="([^"]*)""#).unwrap());
    static FIELD: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r#"<input type="hidden" name="(SAMLResponse|RelayState)" value="([^"]*)""#)
            .unwrap()
    });
    let action = html_unescape(FORM.captures(html)?.get(1)?.as_str());
    let mut saml_response = None;
    let mut relay_state = None;
    for c in FIELD.captures_iter(html) {
        let value = html_unescape(&c[2]);
        match &c[1] {
            "SAMLResponse" => saml_response = Some(value),
            _ => relay_state = Some(value),
        }
    }
    Some(SamlPost {
        action,
        saml_response: saml_response?,
        relay_state,
    })
}

/// Signs in at SimpleSAMLphp (following its redirects and login form) and returns the form it
/// would auto-post to Roleport. `start_url` is where the browser goes first.
pub async fn idp_sign_in(
    client: &reqwest::Client,
    start_url: &str,
    user: &str,
    password: &str,
) -> SamlPost {
    idp_sign_in_at(PEERS.get("IDP_BASE_URL"), client, start_url, user, password).await
}

/// [`idp_sign_in`] at the SimpleSAMLphp instance served at `idp_base_url`.
pub async fn idp_sign_in_at(
    idp_base_url: &str,
    client: &reqwest::Client,
    start_url: &str,
    user: &str,
    password: &str,
) -> SamlPost {
    let mut url = start_url.to_string();
    let mut html = String::new();
    for _ in 0..10 {
        let resp = client.get(&url).send().await.expect("GET at IdP");
        if resp.status().is_redirection() {
            let next = location(&resp);
            url = reqwest::Url::parse(&url)
                .unwrap()
                .join(&next)
                .unwrap()
                .to_string();
            continue;
        }
        html = resp.text().await.unwrap();
        break;
    }
    if let Some(post) = parse_saml_post(&html) {
        return post; // already signed in at the IdP
    }
    static AUTH_STATE: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r#"name="AuthState" value="([^"]*)""#).unwrap());
    let auth_state = html_unescape(
        &AUTH_STATE
            .captures(&html)
            .unwrap_or_else(|| panic!("no login form at {url}:\n{html}"))[1],
    );
    let login_url = format!("{idp_base_url}module.php/core/loginuserpass.php");
    let resp = client
        .post(&login_url)
        .form(&[
            ("username", user),
            ("password", password),
            ("AuthState", auth_state.as_str()),
        ])
        .send()
        .await
        .expect("POST login");
    let html = resp.text().await.unwrap();
    parse_saml_post(&html)
        .unwrap_or_else(|| panic!("no SAMLResponse after login as {user}:\n{html}"))
}

impl TestApp {
    /// Full SP-initiated sign-in; returns Roleport's answer to the ACS post.
    pub async fn sign_in(&self, user: &str) -> reqwest::Response {
        let start = self
            .client
            .get(format!("{}/login/demo-saml", self.address))
            .send()
            .await
            .unwrap();
        assert_eq!(start.status(), 302, "login start");
        let post = idp_sign_in(&self.client, &location(&start), user, &format!("{user}pw")).await;
        self.post_acs(&post.saml_response, post.relay_state.as_deref())
            .await
    }

    pub async fn post_acs(
        &self,
        saml_response: &str,
        relay_state: Option<&str>,
    ) -> reqwest::Response {
        let mut form = vec![("SAMLResponse", saml_response.to_string())];
        if let Some(r) = relay_state {
            form.push(("RelayState", r.to_string()));
        }
        self.client
            .post(format!("{}/saml/acs", self.address))
            .form(&form)
            .send()
            .await
            .expect("POST ACS")
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("GET")
    }

    /// What the metrics listener serves at `/metrics`.
    pub async fn metrics_text(&self) -> String {
        let resp = reqwest::get(format!("{}/metrics", self.metrics_address))
            .await
            .expect("GET /metrics");
        assert_eq!(resp.status(), 200);
        resp.text().await.unwrap()
    }

    pub async fn roles_json(&self) -> serde_json::Value {
        let resp = self.get("/api/v1/roles").await;
        assert_eq!(resp.status(), 200);
        resp.json().await.unwrap()
    }

    /// Audit rows of one kind/outcome, newest last.
    pub async fn audit_events(&self) -> Vec<serde_json::Value> {
        sqlx::query_scalar::<_, serde_json::Value>("SELECT event FROM audit_events ORDER BY seq")
            .fetch_all(&self.pool)
            .await
            .unwrap()
    }

    pub async fn session_count(&self) -> i64 {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM sessions")
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }
}

/// The reference id shown on a page.
pub fn reference_in(html: &str) -> String {
    static REF: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r#"<code id="reference">([A-Z0-9]+)</code>"#).unwrap());
    REF.captures(html)
        .unwrap_or_else(|| panic!("no reference id in:\n{html}"))[1]
        .to_string()
}

/// A fresh RSA key and self-signed certificate as PEM files: (key path, cert path, cert PEM).
pub fn keypair_files(cn: &str) -> (PathBuf, PathBuf, String) {
    use openssl::{asn1::Asn1Time, bn::BigNum, hash::MessageDigest, pkey::PKey, rsa::Rsa, x509};
    let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
    let mut name = x509::X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", cn).unwrap();
    let name = name.build();
    let mut b = x509::X509Builder::new().unwrap();
    b.set_version(2).unwrap();
    b.set_serial_number(&BigNum::from_u32(1).unwrap().to_asn1_integer().unwrap())
        .unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(&name).unwrap();
    b.set_pubkey(&key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::days_from_now(365).unwrap())
        .unwrap();
    b.sign(&key, MessageDigest::sha256()).unwrap();
    let cert_pem = String::from_utf8(b.build().to_pem().unwrap()).unwrap();
    let dir = std::env::temp_dir().join(format!("roleport-keys-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let key_path = dir.join("key.pem");
    let cert_path = dir.join("cert.pem");
    std::fs::write(&key_path, key.private_key_to_pem_pkcs8().unwrap()).unwrap();
    std::fs::write(&cert_path, &cert_pem).unwrap();
    (key_path, cert_path, cert_pem)
}

// ---- OpenID Connect (additive) ----

/// The OIDC peer, as `deploy/test.sh` started it (`ROLEPORT_TEST_OIDC_ENV`).
pub static OIDC_PEER: LazyLock<Peers> = LazyLock::new(|| {
    let path = std::env::var("ROLEPORT_TEST_OIDC_ENV").unwrap_or_else(|_| {
        panic!("ROLEPORT_TEST_OIDC_ENV is not set: run the suite with deploy/test.sh, which starts the OpenID provider")
    });
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let env = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Peers { env }
});

/// `[[idp]] kind = "oidc"` for the demo OpenID provider, with a fresh client id.
pub fn demo_oidc_idp(client_id: &str, secret: Option<&str>) -> IdpSettings {
    let mut oidc =
        roleport::configuration::OidcIdpSettings::new(OIDC_PEER.get("OIDC_ISSUER"), client_id);
    oidc.client_secret = secret.map(|s| SecretString::from(s.to_string()));
    oidc.public_client = secret.is_none();
    oidc.scopes = vec![
        "openid".into(),
        "email".into(),
        "profile".into(),
        "groups".into(),
    ];
    // The peer sends group CNs in `groups` and LDAP DNs in `groups_dn`; the test rules match
    // both shapes (`ldap_dn`), exactly as for SAML `memberOf`.
    oidc.claims.groups = vec!["groups_dn".into()];
    IdpSettings {
        id: "demo-oidc".into(),
        kind: IdpKind::Oidc(Box::new(oidc)),
        display_name: "Demo OpenID provider (oidc-provider)".into(),
    }
}

/// Registers a client at the OIDC peer (read on every lookup, no restart).
pub fn register_oidc_client(client_id: &str, secret: Option<&str>, redirect_uri: &str) {
    let dir = PathBuf::from(OIDC_PEER.get("OIDC_CLIENTS_DIR"));
    std::fs::create_dir_all(&dir).unwrap();
    let body = serde_json::json!({
        "client_id": client_id,
        "client_secret": secret,
        "redirect_uris": [redirect_uri],
    });
    let tmp = dir.join(format!("{client_id}.json.tmp"));
    std::fs::write(&tmp, body.to_string()).expect("write client registration");
    std::fs::rename(&tmp, dir.join(format!("{client_id}.json"))).expect("publish client");
}

/// An app with the demo SAML IdP and the demo OpenID provider (a registered confidential
/// client, or a public one with `secret = None`).
pub async fn spawn_app_with_oidc(secret: Option<&str>) -> TestApp {
    let client_id = format!("roleport-test-{}", uuid::Uuid::new_v4().simple());
    let app = spawn_app_with(Options {
        extra_idps: vec![demo_oidc_idp(&client_id, secret)],
        ..Options::default()
    })
    .await;
    register_oidc_client(
        &client_id,
        secret,
        &format!("{}/oidc/callback", app.address),
    );
    app
}

/// The query parameters of a URL.
pub fn query_of(url: &str) -> HashMap<String, String> {
    reqwest::Url::parse(url)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Signs in at the OIDC peer, starting from the authorization URL, and returns the callback URL
/// the peer redirects the browser to (not followed).
pub async fn oidc_peer_sign_in(
    client: &reqwest::Client,
    authorization_url: &str,
    user: &str,
    password: &str,
) -> String {
    static ACTION: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r#"<form method="post" action="([^"]*)" id="login">"#).unwrap()
    });
    let issuer = OIDC_PEER.get("OIDC_ISSUER").to_string();
    let mut url = authorization_url.to_string();
    for _ in 0..10 {
        if url.contains("/oidc/callback") {
            return url;
        }
        let resp = client.get(&url).send().await.expect("GET at OP");
        if resp.status().is_redirection() {
            url = reqwest::Url::parse(&url)
                .unwrap()
                .join(&location(&resp))
                .unwrap()
                .to_string();
            continue;
        }
        let html = resp.text().await.unwrap();
        let action = ACTION
            .captures(&html)
            .unwrap_or_else(|| panic!("no login form at {url}:\n{html}"))[1]
            .to_string();
        let resp = client
            .post(format!("{issuer}{action}"))
            .form(&[("username", user), ("password", password)])
            .send()
            .await
            .expect("POST login at OP");
        assert!(
            resp.status().is_redirection(),
            "login at OP as {user} failed: {}",
            resp.status()
        );
        url = location(&resp);
    }
    panic!("no redirect to the callback from {authorization_url}");
}

impl TestApp {
    /// `GET /login/{idp}`: the authorization URL Roleport redirects to.
    pub async fn start_oidc(&self, idp: &str) -> String {
        let start = self.get(&format!("/login/{idp}")).await;
        assert_eq!(start.status(), 302, "OIDC login start");
        location(&start)
    }

    /// Full OIDC sign-in at the demo provider; returns Roleport's answer to the callback.
    pub async fn oidc_sign_in(&self, user: &str) -> reqwest::Response {
        let auth = self.start_oidc("demo-oidc").await;
        let callback = oidc_peer_sign_in(&self.client, &auth, user, &format!("{user}pw")).await;
        self.client
            .get(&callback)
            .send()
            .await
            .expect("GET callback")
    }

    /// The reason of the newest refusal: an audit row's `code: detail` for a verified identity,
    /// or the code of the newest refusal counter (see `refusals.rs`) for everything else.
    pub async fn last_reason(&self) -> String {
        let audited: Option<(String, chrono::DateTime<chrono::Utc>)> = sqlx::query_as(
            "SELECT coalesce(event->>'reason', ''), at FROM audit_events ORDER BY seq DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await
        .unwrap();
        let counted: Option<(String, chrono::DateTime<chrono::Utc>)> = sqlx::query_as(
            "SELECT reason, last_at FROM refused_sign_ins ORDER BY last_at DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await
        .unwrap();
        match (audited, counted) {
            (Some(a), Some(c)) if c.1 > a.1 => c.0,
            (Some(a), _) => a.0,
            (None, Some(c)) => c.0,
            (None, None) => String::new(),
        }
    }
}
