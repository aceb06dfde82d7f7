//! Roleport as the OAuth 2.0 authorization server of roleport-cli, at the HTTP level (the real
//! CLI is driven in `cli_e2e.rs`): the authorization code with PKCE and loopback redirects, the
//! device grant, refresh rotation, bearer calls, and every attack the issue names.

use crate::aws_harness::*;
use crate::helpers::*;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use roleport::configuration::RateLimitSettings;
use serde_json::Value;

const ADMIN: &str = "123456789012-Admin";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const REDIRECT: &str = "http://127.0.0.1:18959/callback";

fn challenge_of(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(openssl::sha::sha256(verifier.as_bytes()))
}

fn authorize_query(redirect: &str, challenge: Option<&str>, method: &str) -> String {
    let mut q = format!(
        "response_type=code&client_id=roleport-cli&redirect_uri={}&state=st4te",
        urlencoding::encode(redirect)
    );
    if let Some(c) = challenge {
        q.push_str(&format!(
            "&code_challenge={c}&code_challenge_method={method}"
        ));
    }
    q
}

impl TestApp {
    /// The consent page, then the click: the code sent to the loopback redirect.
    async fn cli_code(&self, redirect: &str, challenge: &str) -> String {
        let page = self
            .get(&format!(
                "/oauth/authorize?{}",
                authorize_query(redirect, Some(challenge), "S256")
            ))
            .await;
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        assert!(html.contains(&html_escape(redirect)), "{html}");
        let csrf = self.csrf_token().await;
        let resp = self
            .client
            .post(format!("{}/oauth/authorize", self.address))
            .form(&[
                ("csrf_token", csrf.as_str()),
                ("client_id", "roleport-cli"),
                ("response_type", "code"),
                ("redirect_uri", redirect),
                ("code_challenge", challenge),
                ("code_challenge_method", "S256"),
                ("state", "st4te"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 303);
        let to = location(&resp);
        assert!(to.starts_with(&format!("{redirect}?")), "{to}");
        let q = query_of(&to);
        assert_eq!(q["state"], "st4te");
        assert_eq!(q["iss"], self.address);
        q["code"].clone()
    }

    async fn token(&self, form: &[(&str, &str)]) -> (u16, Value) {
        let resp = reqwest::Client::new()
            .post(format!("{}/oauth/token", self.address))
            .form(form)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.headers()["cache-control"], "no-store");
        (resp.status().as_u16(), resp.json().await.unwrap())
    }

    async fn exchange(&self, code: &str, verifier: Option<&str>, redirect: &str) -> (u16, Value) {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("client_id", "roleport-cli"),
            ("code", code),
            ("redirect_uri", redirect),
        ];
        if let Some(v) = verifier {
            form.push(("code_verifier", v));
        }
        self.token(&form).await
    }

    async fn refresh(&self, refresh_token: &str) -> (u16, Value) {
        self.token(&[
            ("grant_type", "refresh_token"),
            ("client_id", "roleport-cli"),
            ("refresh_token", refresh_token),
        ])
        .await
    }

    /// Signed-in CLI tokens for the session in `self.client`.
    async fn cli_tokens(&self) -> Value {
        let code = self.cli_code(REDIRECT, CHALLENGE).await;
        let (status, tokens) = self.exchange(&code, Some(VERIFIER), REDIRECT).await;
        assert_eq!(status, 200, "{tokens}");
        tokens
    }

    /// `GET /api/v1/roles` with only a bearer token (no cookie).
    async fn bearer_roles(&self, access_token: &str) -> u16 {
        reqwest::Client::new()
            .get(format!("{}/api/v1/roles", self.address))
            .bearer_auth(access_token)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    async fn cli_audit(&self, kind: &str) -> Vec<Value> {
        self.audit_events()
            .await
            .into_iter()
            .filter(|e| e["kind"] == kind)
            .collect()
    }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('"', "&quot;")
}

fn s(v: &Value, k: &str) -> String {
    v[k].as_str()
        .unwrap_or_else(|| panic!("no {k} in {v}"))
        .to_string()
}

#[tokio::test]
async fn cli_code_flow_gives_tokens_that_read_and_issue_without_cookie_or_csrf() {
    let sts = recording_sts().await;
    let app = spawn_app_with(Options {
        aws: Some(aws_settings(&sts.url, None)),
        ..Options::default()
    })
    .await;
    app.sign_in("alice").await;
    let tokens = app.cli_tokens().await;
    assert_eq!(tokens["token_type"], "Bearer");
    let access = s(&tokens, "access_token");
    assert!(access.starts_with("rpa_") && s(&tokens, "refresh_token").starts_with("rpr_"));
    let expires_in = tokens["expires_in"].as_i64().unwrap();
    assert!((1..=900).contains(&expires_in), "{tokens}");

    let bare = reqwest::Client::new();
    let roles: Value = bare
        .get(format!("{}/api/v1/roles", app.address))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(roles["grants"].as_array().unwrap().len(), 2, "{roles}");
    let creds = bare
        .post(format!("{}/api/v1/credentials", app.address))
        .bearer_auth(&access)
        .json(&serde_json::json!({ "grant": ADMIN }))
        .send()
        .await
        .unwrap();
    assert_eq!(creds.status(), 200);
    let creds: Value = creds.json().await.unwrap();
    assert_eq!(creds["Version"], 1);
    assert_eq!(
        caller_arn(
            &s(&creds, "AccessKeyId"),
            &s(&creds, "SecretAccessKey"),
            &s(&creds, "SessionToken")
        )
        .await,
        "arn:aws:sts::123456789012:assumed-role/Admin/alice@example.org@demo-saml"
    );
    // Same audited issue path as the page: the row is committed and names alice.
    let issued = app.cli_audit("credentials_issued").await;
    assert_eq!(issued.len(), 1);
    assert_eq!(issued[0]["subject"], "alice");
    assert_eq!(issued[0]["outcome"], "accepted");
    // Authorization and token issue are audited.
    assert_eq!(app.cli_audit("cli_authorized").await.len(), 1);
    assert_eq!(app.cli_audit("cli_tokens").await[0]["outcome"], "accepted");
    // Tokens are stored hashed only.
    let stored: Vec<Vec<u8>> = sqlx::query_scalar("SELECT token_hash FROM cli_tokens")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(stored.len(), 2);
    assert!(stored.contains(&openssl::sha::sha256(access.as_bytes()).to_vec()));
    // Unknown, malformed and missing bearer tokens.
    assert_eq!(app.bearer_roles("rpa_nope").await, 401);
    let odd = bare
        .get(format!("{}/api/v1/roles", app.address))
        .header("Authorization", format!("Basic {access}"))
        .send()
        .await
        .unwrap();
    assert_eq!(odd.status(), 401);
}

#[tokio::test]
async fn cli_a_bearer_call_that_also_carries_a_cookie_is_refused() {
    let app = spawn_app().await;
    app.sign_in("alice").await;
    let access = s(&app.cli_tokens().await, "access_token");
    // app.client holds alice's session cookie: bearer + cookie together is refused.
    let resp = app
        .client
        .get(format!("{}/api/v1/roles", app.address))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    // The cookie path still needs its CSRF header for the issue API; a bearer never helps it.
    let resp = app
        .client
        .post(format!("{}/api/v1/credentials", app.address))
        .json(&serde_json::json!({ "grant": ADMIN }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
}

#[tokio::test]
async fn cli_attack_code_reuse_is_refused_and_revokes_what_the_code_gave() {
    let app = spawn_app().await;
    app.sign_in("alice").await;
    let code = app.cli_code(REDIRECT, CHALLENGE).await;
    let (status, first) = app.exchange(&code, Some(VERIFIER), REDIRECT).await;
    assert_eq!(status, 200);
    let access = s(&first, "access_token");
    assert_eq!(app.bearer_roles(&access).await, 200);
    let (status, again) = app.exchange(&code, Some(VERIFIER), REDIRECT).await;
    assert_eq!(
        (status, again["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    // RFC 6749 §4.1.2: the tokens from the first redemption are revoked.
    assert!(
        app.last_reason().await.starts_with("code_reuse"),
        "{}",
        app.last_reason().await
    );
    assert_eq!(app.bearer_roles(&access).await, 401);
    assert_eq!(app.refresh(&s(&first, "refresh_token")).await.0, 400);
    // A made-up code is refused and counted, not audited.
    let (status, junk) = app.exchange("not-a-code", Some(VERIFIER), REDIRECT).await;
    assert_eq!(
        (status, junk["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert_eq!(app.last_reason().await, "cli_code_unknown");
}

#[tokio::test]
async fn cli_attack_pkce_missing_plain_or_wrong_verifier_gets_nothing() {
    let app = spawn_app().await;
    app.sign_in("alice").await;
    // Without a challenge, or with `plain`, there is no consent page and no redirect.
    for query in [
        authorize_query(REDIRECT, None, "S256"),
        authorize_query(REDIRECT, Some(CHALLENGE), "plain"),
        authorize_query(REDIRECT, Some("short"), "S256"),
    ] {
        let resp = app.get(&format!("/oauth/authorize?{query}")).await;
        assert_eq!(resp.status(), 400, "{query}");
        assert!(resp.headers().get("location").is_none());
    }
    // A code whose verifier is missing, wrong, or the challenge itself.
    for verifier in [None, Some("x".repeat(43)), Some(CHALLENGE.to_string())] {
        let code = app.cli_code(REDIRECT, CHALLENGE).await;
        let (status, err) = app.exchange(&code, verifier.as_deref(), REDIRECT).await;
        assert_eq!(
            (status, err["error"].as_str()),
            (400, Some("invalid_grant")),
            "{verifier:?}"
        );
        assert!(
            app.last_reason().await.starts_with("pkce"),
            "{}",
            app.last_reason().await
        );
        // The code is spent even so: the right verifier afterwards gets nothing.
        assert_eq!(app.exchange(&code, Some(VERIFIER), REDIRECT).await.0, 400);
    }
    // Another verifier with its own challenge works: the check is real.
    let other = "A".repeat(64);
    let code = app.cli_code(REDIRECT, &challenge_of(&other)).await;
    assert_eq!(app.exchange(&code, Some(&other), REDIRECT).await.0, 200);
}

#[tokio::test]
async fn cli_attack_redirects_off_loopback_are_never_followed() {
    let app = spawn_app().await;
    app.sign_in("alice").await;
    for redirect in [
        "http://evil.example:8080/callback",
        "http://localhost:8080/callback",
        "https://127.0.0.1:8080/callback",
        "http://127.0.0.1/callback",
        "http://127.0.0.1.evil.example:80/callback",
        "http://127.1:8080/callback",
        "http://user@127.0.0.1:8080/callback",
    ] {
        let resp = app
            .get(&format!(
                "/oauth/authorize?{}",
                authorize_query(redirect, Some(CHALLENGE), "S256")
            ))
            .await;
        assert_eq!(resp.status(), 400, "{redirect}");
        assert!(resp.headers().get("location").is_none(), "{redirect}");
        // Nor through the POST (a forged form with the right CSRF token).
        let csrf = app.csrf_token().await;
        let resp = app
            .client
            .post(format!("{}/oauth/authorize", app.address))
            .form(&[
                ("csrf_token", csrf.as_str()),
                ("client_id", "roleport-cli"),
                ("response_type", "code"),
                ("redirect_uri", redirect),
                ("code_challenge", CHALLENGE),
                ("code_challenge_method", "S256"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "{redirect}");
    }
    // [::1] with any port is fine; another client id is not.
    let v6 = "http://[::1]:43210/cb";
    let code = app.cli_code(v6, CHALLENGE).await;
    // The token request must name the same redirect.
    assert_eq!(app.exchange(&code, Some(VERIFIER), REDIRECT).await.0, 400);
    assert!(app.last_reason().await.starts_with("redirect_uri_mismatch"));
    let resp = app
        .get(&format!(
            "/oauth/authorize?{}",
            authorize_query(REDIRECT, Some(CHALLENGE), "S256").replace("roleport-cli", "aws-cli")
        ))
        .await;
    assert_eq!(resp.status(), 400);
    // Without the CSRF token, the click does nothing.
    let resp = app
        .client
        .post(format!("{}/oauth/authorize", app.address))
        .form(&[
            ("client_id", "roleport-cli"),
            ("response_type", "code"),
            ("redirect_uri", REDIRECT),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert!(resp.headers().get("location").is_none());
}

#[tokio::test]
async fn cli_attack_refresh_token_reuse_revokes_the_family() {
    let app = spawn_app().await;
    app.sign_in("alice").await;
    let first = app.cli_tokens().await;
    let (status, second) = app.refresh(&s(&first, "refresh_token")).await;
    assert_eq!(status, 200, "{second}");
    assert_ne!(second["refresh_token"], first["refresh_token"]);
    assert_eq!(app.bearer_roles(&s(&second, "access_token")).await, 200);
    // The rotated token comes back (a copy): refused, and everything of the family ends.
    let (status, err) = app.refresh(&s(&first, "refresh_token")).await;
    assert_eq!(
        (status, err["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert_eq!(app.bearer_roles(&s(&second, "access_token")).await, 401);
    assert_eq!(app.refresh(&s(&second, "refresh_token")).await.0, 400);
    let refused = app.cli_audit("cli_tokens").await;
    let reuse = refused.iter().find(|e| e["outcome"] == "rejected").unwrap();
    assert!(
        reuse["reason"]
            .as_str()
            .unwrap()
            .starts_with("refresh_token_reuse"),
        "{reuse}"
    );
    assert_eq!(reuse["subject"], "alice");
    // An access token is not a refresh token.
    let other = app.cli_tokens().await;
    assert_eq!(app.refresh(&s(&other, "access_token")).await.0, 400);
}

#[tokio::test]
async fn cli_tokens_expire_refresh_and_never_outlive_the_session() {
    let app = spawn_app_with(Options {
        configure: Some(Box::new(|s| s.session.ttl_seconds = 600)),
        ..Options::default()
    })
    .await;
    app.sign_in("alice").await;
    let tokens = app.cli_tokens().await;
    // 10 minutes of session left: the access token gets no more.
    assert!(tokens["expires_in"].as_i64().unwrap() <= 600, "{tokens}");
    let access = s(&tokens, "access_token");
    app.clock.advance(chrono::Duration::minutes(5));
    assert_eq!(app.bearer_roles(&access).await, 200);
    let (status, fresh) = app.refresh(&s(&tokens, "refresh_token")).await;
    assert_eq!(status, 200);
    assert!(fresh["expires_in"].as_i64().unwrap() <= 300, "{fresh}");
    // The session ends: so do all tokens, refresh included.
    app.clock.advance(chrono::Duration::minutes(6));
    assert_eq!(app.bearer_roles(&s(&fresh, "access_token")).await, 401);
    assert_eq!(app.refresh(&s(&fresh, "refresh_token")).await.0, 400);
}

#[tokio::test]
async fn cli_attack_a_token_of_another_session_ends_with_that_session() {
    let app = spawn_app().await;
    app.sign_in("alice").await;
    let tokens = app.cli_tokens().await;
    let access = s(&tokens, "access_token");
    // Alice signs in again in another browser: a second session.
    let other = TestApp {
        client: browser(),
        address: app.address.clone(),
        metrics_address: app.metrics_address.clone(),
        pool: app.pool.clone(),
        clock: app.clock.clone(),
        db_name: app.db_name.clone(),
        sp_entity_id: app.sp_entity_id.clone(),
        state: app.state.clone(),
    };
    other.sign_in("alice").await;
    assert_eq!(app.session_count().await, 2);
    // The first browser signs out: its CLI tokens end, though alice still has a session.
    let csrf = app.csrf_token().await;
    let out = app
        .client
        .post(format!("{}/logout", app.address))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 200);
    assert_eq!(app.bearer_roles(&access).await, 401);
    assert_eq!(app.refresh(&s(&tokens, "refresh_token")).await.0, 400);
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM cli_tokens")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(left, 0);
    // Revocation by an operator (the session row deleted) ends a fresh family the same way.
    let second = other.cli_tokens().await;
    assert_eq!(other.bearer_roles(&s(&second, "access_token")).await, 200);
    sqlx::query("DELETE FROM sessions")
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(other.bearer_roles(&s(&second, "access_token")).await, 401);
    assert_eq!(other.refresh(&s(&second, "refresh_token")).await.0, 400);
}

#[tokio::test]
async fn cli_logout_revokes_the_family() {
    let app = spawn_app().await;
    app.sign_in("alice").await;
    let tokens = app.cli_tokens().await;
    let resp = reqwest::Client::new()
        .post(format!("{}/oauth/revoke", app.address))
        .form(&[
            ("token", s(&tokens, "refresh_token").as_str()),
            ("client_id", "roleport-cli"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(app.bearer_roles(&s(&tokens, "access_token")).await, 401);
    assert_eq!(app.refresh(&s(&tokens, "refresh_token")).await.0, 400);
    assert_eq!(app.cli_audit("cli_sign_out").await[0]["subject"], "alice");
    // The browser session itself goes on.
    assert_eq!(app.get("/api/v1/roles").await.status(), 200);
}

async fn start_device(app: &TestApp) -> Value {
    let resp = reqwest::Client::new()
        .post(format!("{}/oauth/device_authorization", app.address))
        .form(&[("client_id", "roleport-cli")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

async fn poll(app: &TestApp, device_code: &str) -> (u16, Value) {
    app.token(&[
        ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
        ("client_id", "roleport-cli"),
        ("device_code", device_code),
    ])
    .await
}

#[tokio::test]
async fn cli_device_flow_pending_slow_down_approval_and_single_redemption() {
    let app = spawn_app().await;
    let start = start_device(&app).await;
    let device_code = s(&start, "device_code");
    let user_code = s(&start, "user_code");
    assert_eq!(start["interval"], 5);
    assert_eq!(
        s(&start, "verification_uri_complete"),
        format!("{}/device?user_code={user_code}", app.address)
    );
    assert_eq!(
        poll(&app, &device_code).await.1["error"],
        "authorization_pending"
    );
    // Too soon: slow_down, and the interval grows.
    assert_eq!(poll(&app, &device_code).await.1["error"], "slow_down");
    app.clock.advance(chrono::Duration::seconds(11));
    assert_eq!(
        poll(&app, &device_code).await.1["error"],
        "authorization_pending"
    );

    // The person signs in and opens the complete link: the page shows the code and who asked.
    app.sign_in("alice").await;
    let page = app
        .get(&format!("/device?user_code={}", user_code.to_lowercase()))
        .await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains(&format!(r#"<code id="user-code">{user_code}</code>"#)),
        "{html}"
    );
    assert!(
        html.contains(r#"<dd id="source-ip">127.0.0.1</dd>"#),
        "{html}"
    );
    assert!(
        html.contains(r#"id="user-agent">reqwest"#) || html.contains(r#"id="user-agent">unknown"#),
        "{html}"
    );
    // Approving needs the CSRF token.
    let no_csrf = app
        .client
        .post(format!("{}/device", app.address))
        .form(&[("user_code", user_code.as_str()), ("decision", "approve")])
        .send()
        .await
        .unwrap();
    assert_eq!(no_csrf.status(), 400);
    let csrf = app.csrf_token().await;
    let approved = app
        .client
        .post(format!("{}/device", app.address))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("user_code", user_code.as_str()),
            ("decision", "approve"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(approved.status(), 200);
    assert!(
        approved
            .text()
            .await
            .unwrap()
            .contains("The CLI is signed in")
    );
    app.clock.advance(chrono::Duration::seconds(20));
    let (status, tokens) = poll(&app, &device_code).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(app.bearer_roles(&s(&tokens, "access_token")).await, 200);
    // Once only.
    app.clock.advance(chrono::Duration::seconds(20));
    assert_eq!(poll(&app, &device_code).await.1["error"], "invalid_grant");
    let authorized = app.cli_audit("cli_authorized").await;
    assert_eq!(authorized[0]["outcome"], "accepted");
    assert_eq!(authorized[0]["details"]["user_code"], user_code);
}

#[tokio::test]
async fn cli_device_codes_expire_and_can_be_denied() {
    let app = spawn_app().await;
    app.sign_in("alice").await;
    let denied = start_device(&app).await;
    let csrf = app.csrf_token().await;
    let resp = app
        .client
        .post(format!("{}/device", app.address))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("user_code", &s(&denied, "user_code")),
            ("decision", "deny"),
        ])
        .send()
        .await
        .unwrap();
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("The request was denied")
    );
    assert_eq!(
        poll(&app, &s(&denied, "device_code")).await.1["error"],
        "access_denied"
    );
    let late = start_device(&app).await;
    app.clock.advance(chrono::Duration::minutes(11));
    assert_eq!(
        poll(&app, &s(&late, "device_code")).await.1["error"],
        "expired_token"
    );
    let page = app
        .get(&format!("/device?user_code={}", s(&late, "user_code")))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("There is no pending request with this code"),
        "{page}"
    );
}

#[tokio::test]
async fn cli_attack_device_code_brute_force_is_rate_limited() {
    let app = spawn_app_with(Options {
        rate_limit: Some(RateLimitSettings {
            per_client_burst: 12,
            per_client_per_minute: 1,
            ..relaxed_limits()
        }),
        ..Options::default()
    })
    .await;
    app.sign_in("alice").await;
    let victim = start_device(&app).await;
    let mut limited = 0;
    let mut found = 0;
    const ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";
    for i in 0..30 {
        let tail: String = [i / 20, i % 20, 0, 0]
            .iter()
            .map(|n| char::from(ALPHABET[*n]))
            .collect();
        let guess = format!("ZZZZ-{tail}");
        let resp = app.get(&format!("/device?user_code={guess}")).await;
        match resp.status().as_u16() {
            429 => {
                limited += 1;
                assert!(resp.headers().get("retry-after").is_some());
            }
            200 => {
                if resp.text().await.unwrap().contains(r#"id="approve""#) {
                    found += 1;
                }
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert!(
        limited >= 15,
        "only {limited} of 30 guesses were rate limited"
    );
    assert_eq!(found, 0);
    // Guessing device codes at the token endpoint meets the same limit.
    let resp = reqwest::Client::new()
        .post(format!("{}/oauth/token", app.address))
        .form(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("client_id", "roleport-cli"),
            ("device_code", "guess"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    // The victim's code was never approved.
    let pending: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("SELECT approved_at FROM cli_device_codes WHERE user_code = $1")
            .bind(s(&victim, "user_code"))
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(pending.is_none());
}
