//! The upstream ID token kept for `oidc_passthrough` is sealed at rest (`[sealing]`): no
//! plaintext in its session row, bound to that session, keys rotated by adding a line, and every
//! token that cannot be read asks the person to sign in again instead of failing.

use crate::aws_harness::*;
use crate::helpers::*;
use roleport::protocol::mapping;
use sqlx::{Connection, Executor};

const ADMIN: &str = "123456789012-Admin";
const ALICE_OIDC_ARN: &str =
    "arn:aws:sts::123456789012:assumed-role/Admin/alice@example.org@demo-oidc";

const PASSTHROUGH_RULES: &str = r#"
version: 1
accounts:
  - id: "123456789012"
    alias: demo-prod
    partition: aws
    access: {mode: oidc_passthrough}
roles:
  - arn: arn:aws:iam::123456789012:role/Admin
    display_name: Administrator
    max_session_seconds: 3600
rules:
  - id: admins
    idp: [demo-oidc]
    claim: group
    match: ldap_dn
    pattern: aws-admins
    roles: [arn:aws:iam::123456789012:role/Admin]
"#;

const KEY_R1: &str = "r1 cm90YXRpb24ga2V5IG9uZSBvZiB0aGlydHktdHdvIGJ5dGVzIQ==";
const KEY_R2: &str = "r2 cm90YXRpb24ga2V5IHR3byBvZiB0aGlydHktdHdvIGJ5dGVzIQ==";

struct Passthrough {
    app: TestApp,
    sts: FakeServer,
    client_id: String,
}

/// An app with the pass-through rules and the OIDC peer; `database` makes it another replica
/// (or a restart) over an existing database.
async fn passthrough_app(
    sealing_keys: &str,
    database: Option<String>,
    sts: Option<FakeServer>,
    client_id: Option<String>,
) -> Passthrough {
    let sts = match sts {
        Some(sts) => sts,
        None => recording_sts().await,
    };
    let client_id =
        client_id.unwrap_or_else(|| format!("roleport-test-{}", uuid::Uuid::new_v4().simple()));
    let secret = "s3cret-sealing";
    let app = spawn_app_with(Options {
        rules_yaml: PASSTHROUGH_RULES.to_string(),
        extra_idps: vec![demo_oidc_idp(&client_id, Some(secret))],
        aws: Some(aws_settings(&sts.url, None)),
        sealing_keys: Some(sealing_keys.to_string()),
        database,
        ..Options::default()
    })
    .await;
    // The peer keeps one redirect URI per client: this replica's, from now on.
    register_oidc_client(
        &client_id,
        Some(secret),
        &format!("{}/oidc/callback", app.address),
    );
    Passthrough {
        app,
        sts,
        client_id,
    }
}

async fn works_on_moto(resp: reqwest::Response) -> String {
    let status = resp.status();
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    caller_arn(
        body["AccessKeyId"].as_str().unwrap(),
        body["SecretAccessKey"].as_str().unwrap(),
        body["SessionToken"].as_str().unwrap(),
    )
    .await
}

/// The same recording STS, for another replica.
fn same_server(sts: &FakeServer) -> FakeServer {
    FakeServer {
        url: sts.url.clone(),
        seen: sts.seen.clone(),
    }
}

fn web_identity_tokens(sts: &FakeServer) -> Vec<String> {
    sts.seen
        .lock()
        .unwrap()
        .iter()
        .filter_map(|c| c.params.get("WebIdentityToken").cloned())
        .collect()
}

/// Every session row as text, every column included.
async fn session_rows(pool: &sqlx::PgPool) -> Vec<String> {
    sqlx::query_scalar("SELECT row_to_json(s)::text FROM sessions s ORDER BY created_at")
        .fetch_all(pool)
        .await
        .unwrap()
}

async fn key_ids(pool: &sqlx::PgPool) -> Vec<Option<String>> {
    sqlx::query_scalar("SELECT upstream_id_token_key_id FROM sessions ORDER BY created_at")
        .fetch_all(pool)
        .await
        .unwrap()
}

/// A refused pass-through, through the API and the credentials page: "sign in again" (401)
/// without naming keys, nothing sent to AWS, and the audit row's reason (the same for both).
async fn asked_to_sign_in_again(p: &Passthrough) -> String {
    let sent = web_identity_tokens(&p.sts).len();
    let resp = p.app.request_credentials(ADMIN, None).await;
    assert_eq!(resp.status(), 401);
    let problem: serde_json::Value = resp.json().await.unwrap();
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.contains("Sign in again to use this role"),
        "{problem}"
    );
    assert!(!detail.contains("key"), "{problem}");
    assert!(problem["reference"].as_str().is_some_and(|r| !r.is_empty()));
    let api_reason = p.app.last_reason().await;

    let csrf = p.app.csrf_token().await;
    let page = p
        .app
        .client
        .post(format!("{}/roles/{ADMIN}/credentials", p.app.address))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 401);
    let html = page.text().await.unwrap();
    assert!(html.contains("Sign in again to use this role"), "{html}");
    assert!(!reference_in(&html).is_empty());
    assert_eq!(p.app.last_reason().await, api_reason);
    assert_eq!(
        web_identity_tokens(&p.sts).len(),
        sent,
        "nothing reached AWS"
    );
    api_reason
}

#[tokio::test]
async fn the_session_row_holds_no_plaintext_id_token_and_passthrough_works_on_moto() {
    let p = passthrough_app(TEST_SEALING_KEYS, None, None, None).await;
    assert_eq!(p.app.oidc_sign_in("alice").await.status(), 303);
    let resp = p.app.request_credentials(ADMIN, None).await;
    assert_eq!(works_on_moto(resp).await, ALICE_OIDC_ARN);

    // The token AWS received is the upstream's own…
    let tokens = web_identity_tokens(&p.sts);
    assert_eq!(tokens.len(), 1);
    let token = &tokens[0];
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "a compact JWS");
    // …and no part of it is in the session row, in any column or encoding Postgres shows.
    let rows = session_rows(&p.app.pool).await;
    assert_eq!(rows.len(), 1);
    for needle in [token.as_str(), parts[1], parts[2]] {
        assert!(!rows[0].contains(needle), "{needle} in {}", rows[0]);
        let hex_needle = hex::encode(needle.as_bytes());
        assert!(!rows[0].contains(&hex_needle), "hex of {needle} in the row");
    }
    assert_eq!(key_ids(&p.app.pool).await, [Some("seal-1".to_string())]);
    let columns: Vec<String> = sqlx::query_scalar(
        "SELECT column_name::text FROM information_schema.columns WHERE table_name = 'sessions'",
    )
    .fetch_all(&p.app.pool)
    .await
    .unwrap();
    assert!(
        !columns.iter().any(|c| c == "upstream_id_token"),
        "{columns:?}"
    );
}

/// Rotation: a key added last seals new sign-ins while the old key still opens older sessions;
/// once the old key is removed, its sessions are asked to sign in again (audited), and the
/// newer ones keep working.
#[tokio::test]
async fn rotation_keeps_old_sessions_until_their_key_is_removed() {
    let first = passthrough_app(KEY_R1, None, None, None).await;
    assert_eq!(first.app.oidc_sign_in("alice").await.status(), 303);
    let old_browser = first.app.client.clone();
    assert_eq!(key_ids(&first.app.pool).await, [Some("r1".to_string())]);

    // Restart with a new key appended: the old session still works.
    let mut second = passthrough_app(
        &format!("{KEY_R1}\n{KEY_R2}\n"),
        Some(first.app.db_name.clone()),
        Some(same_server(&first.sts)),
        Some(first.client_id.clone()),
    )
    .await;
    second.app.client = old_browser.clone();
    let resp = second.app.request_credentials(ADMIN, None).await;
    assert_eq!(works_on_moto(resp).await, ALICE_OIDC_ARN);
    // A new sign-in is sealed with the new key.
    let new_browser = browser();
    second.app.client = new_browser.clone();
    assert_eq!(second.app.oidc_sign_in("alice").await.status(), 303);
    assert_eq!(
        key_ids(&second.app.pool).await,
        [Some("r1".to_string()), Some("r2".to_string())]
    );

    // Restart without the old key: its session is asked to sign in again, with the reason.
    let mut third = passthrough_app(
        &format!("{KEY_R2}\n"),
        Some(first.app.db_name.clone()),
        Some(same_server(&first.sts)),
        Some(first.client_id.clone()),
    )
    .await;
    third.app.client = old_browser;
    assert_eq!(
        asked_to_sign_in_again(&third).await,
        "passthrough_id_token_unreadable: the ID token kept from the sign-in cannot be read: it was sealed with \
         key `r1`, which is no longer configured ([sealing])"
    );
    let refused = third.app.audit_events().await.pop().unwrap();
    assert_eq!(refused["outcome"], "rejected", "{refused}");
    assert_eq!(refused["details"]["mode"], "oidc_passthrough", "{refused}");
    // The session itself is still there (only pass-through needs the token), and signing in
    // again gives a token sealed with the current key.
    assert_eq!(third.app.get("/roles").await.status(), 200);
    third.app.client = browser();
    assert_eq!(third.app.oidc_sign_in("alice").await.status(), 303);
    let resp = third.app.request_credentials(ADMIN, None).await;
    assert_eq!(works_on_moto(resp).await, ALICE_OIDC_ARN);
    // The session sealed with the new key works unchanged.
    third.app.client = new_browser;
    let resp = third.app.request_credentials(ADMIN, None).await;
    assert_eq!(works_on_moto(resp).await, ALICE_OIDC_ARN);
}

/// Someone who can write the database copies one session's sealed token onto their own
/// session row: it is bound to the session it was sealed for, so it does not open.
#[tokio::test]
async fn a_sealed_token_moved_to_another_session_does_not_open() {
    let mut p = passthrough_app(TEST_SEALING_KEYS, None, None, None).await;
    assert_eq!(p.app.oidc_sign_in("alice").await.status(), 303);
    let victim = p.app.client.clone();
    p.app.client = browser();
    assert_eq!(p.app.oidc_sign_in("alice").await.status(), 303);
    let moved = sqlx::query(
        "UPDATE sessions AS target
         SET upstream_id_token_sealed = source.upstream_id_token_sealed,
             upstream_id_token_key_id = source.upstream_id_token_key_id,
             upstream_id_token_expires_at = source.upstream_id_token_expires_at
         FROM (SELECT * FROM sessions ORDER BY created_at LIMIT 1) AS source
         WHERE target.id_hash = (SELECT id_hash FROM sessions ORDER BY created_at DESC LIMIT 1)",
    )
    .execute(&p.app.pool)
    .await
    .unwrap();
    assert_eq!(moved.rows_affected(), 1);
    assert_eq!(
        asked_to_sign_in_again(&p).await,
        "passthrough_id_token_unreadable: the ID token kept from the sign-in cannot be read: it does not open with \
         key `seal-1` for this session (sealed for another session, altered, or the key's \
         material changed)"
    );
    // The session it was sealed for still opens it.
    p.app.client = victim;
    let resp = p.app.request_credentials(ADMIN, None).await;
    assert_eq!(works_on_moto(resp).await, ALICE_OIDC_ARN);
}

/// A session stored before sealing, with its ID token in plaintext: migration 0015 drops the
/// token (nothing of it stays in the row) and the person is asked to sign in again.
#[tokio::test]
async fn migration_0015_drops_plaintext_tokens_and_asks_to_sign_in_again() {
    let name = format!("roleport_test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(ADMIN_DB_URL).await.unwrap();
    admin
        .execute(format!(r#"CREATE DATABASE "{name}""#).as_str())
        .await
        .unwrap();
    let pool = sqlx::PgPool::connect(&format!("postgres://postgres@127.0.0.1:5432/{name}"))
        .await
        .unwrap();
    let mut before = sqlx::migrate::Migrator::new(std::path::Path::new("migrations"))
        .await
        .unwrap();
    let older: Vec<_> = before
        .migrations
        .iter()
        .filter(|m| m.version < 15)
        .cloned()
        .collect();
    before.migrations = older.into();
    before.run(&pool).await.unwrap();
    let cookie = "an-old-session-cookie-value";
    let token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSIsInBsYWluIjp0cnVlfQ.b2xkLXNpZ25hdHVyZQ";
    let identity = roleport::domain::FederatedIdentity {
        idp: "demo-oidc".into(),
        subject: "alice".into(),
        email: Some("alice@example.org".into()),
        display_name: None,
        groups: vec!["cn=aws-admins,ou=groups,dc=example,dc=org".into()],
        attributes: Default::default(),
    };
    let now = roleport::clock::Clock::system().now();
    sqlx::query(
        "INSERT INTO sessions (id_hash, csrf_token, sign_in_reference, identity, created_at,
             expires_at, upstream_id_token, upstream_id_token_expires_at)
         VALUES ($1, 'csrf-old', 'ref-old', $2, $3, $4, $5, $6)",
    )
    .bind(roleport::db::sha256(cookie.as_bytes()))
    .bind(serde_json::to_value(&identity).unwrap())
    .bind(now)
    .bind(now + chrono::Duration::hours(8))
    .bind(token)
    .bind(now + chrono::Duration::hours(1))
    .execute(&pool)
    .await
    .unwrap();
    // 0015 and every later migration run now; the rules are written in today's schema.
    roleport::db::migrate(&pool).await.unwrap();
    let rules = mapping::parse_document(PASSTHROUGH_RULES).unwrap();
    roleport::db::rules::replace_all(&pool, &rules)
        .await
        .unwrap();

    let mut p = passthrough_app(TEST_SEALING_KEYS, Some(name), None, None).await;
    let rows = session_rows(&p.app.pool).await;
    assert_eq!(rows.len(), 1);
    for needle in token.split('.').skip(1) {
        assert!(!rows[0].contains(needle), "{}", rows[0]);
    }
    p.app.client = reqwest::Client::builder()
        .default_headers(
            [(
                reqwest::header::COOKIE,
                format!("roleport_session={cookie}").parse().unwrap(),
            )]
            .into_iter()
            .collect(),
        )
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    assert_eq!(
        asked_to_sign_in_again(&p).await,
        "passthrough_id_token_unreadable: the ID token kept from the sign-in cannot be read: it was stored before \
         ID tokens were sealed and was dropped (migration 0015)"
    );
}

/// Outside dev_mode, an OpenID provider without a sealing key stops `serve` at start with a
/// message that says what to do; with a key the same settings get past that check.
#[tokio::test]
async fn outside_dev_mode_serve_refuses_to_start_without_a_sealing_key() {
    let dir = std::env::temp_dir().join(format!("roleport-seal-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("roleport.toml");
    std::fs::write(
        &config,
        r#"[server]
listen = "127.0.0.1:0"
public_url = "https://roleport.example.com"
[metrics]
listen = "127.0.0.1:0"
[database]
url = "postgres://postgres@127.0.0.1:1/none"
[[idp]]
id = "corp-oidc"
kind = "oidc"
display_name = "Corp"
issuer = "https://idp.example.com"
client_id = "roleport"
"#,
    )
    .unwrap();
    let serve = |sealing_key: Option<&str>| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_roleport"));
        command
            .arg("--config")
            .arg(&config)
            .arg("serve")
            .env("ROLEPORT_AUDIT__KEY", TEST_AUDIT_KEYS)
            .env("ROLEPORT_IDP_CORP_OIDC_CLIENT_SECRET", "x")
            .env("RUST_LOG", "error")
            .env_remove("ROLEPORT_SEALING__KEY")
            .env_remove("ROLEPORT_SEALING__KEY_FILE");
        if let Some(key) = sealing_key {
            command.env("ROLEPORT_SEALING__KEY", key);
        }
        command.output().expect("run roleport")
    };
    let out = serve(None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("no sealing key is configured")
            && stderr.contains("`corp-oidc`")
            && stderr.contains("ROLEPORT_SEALING__KEY_FILE"),
        "{stderr}"
    );
    // With a key it gets past that check (and stops at the unreachable database instead).
    let out = serve(Some(TEST_SEALING_KEYS));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(!stderr.contains("sealing"), "{stderr}");
    assert!(stderr.contains("database"), "{stderr}");
}
