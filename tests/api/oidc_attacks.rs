//! ID-token attacks at the HTTP level, against a small fake OpenID provider spun up in the test
//! (discovery, JWKS, token endpoint). Each test starts a real sign-in at Roleport, lets the fake
//! token endpoint answer with a forged ID token, and shows that Roleport refuses it with the
//! precise reason in the audit row and no session.

use crate::helpers::*;
use actix_web::{App, HttpResponse, HttpServer, web};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::sign::Signer;
use roleport::configuration::{IdpKind, IdpSettings, OidcIdpSettings};
use roleport::protocol::oidc::{JwsAlg, token_hash};
use secrecy::SecretString;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

pub(crate) const CLIENT_ID: &str = "roleport-fake-client";
pub(crate) const ACCESS_TOKEN: &str = "fake-access-token-0123456789";

struct OpState {
    issuer: String,
    keys: Vec<(String, PKey<Private>)>,
    /// The body the token endpoint answers with next.
    token_body: Option<String>,
    jwks_fetches: usize,
}

#[derive(Clone)]
pub(crate) struct FakeOp {
    pub(crate) issuer: String,
    state: Arc<Mutex<OpState>>,
}

fn b64(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

fn jwk(kid: &str, key: &PKey<Private>) -> Value {
    let rsa = key.rsa().unwrap();
    json!({"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
           "n": b64(&rsa.n().to_vec()), "e": b64(&rsa.e().to_vec())})
}

fn new_key() -> PKey<Private> {
    PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap()
}

impl FakeOp {
    pub(crate) async fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let issuer = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let state = Arc::new(Mutex::new(OpState {
            issuer: issuer.clone(),
            keys: vec![("key-1".into(), new_key())],
            token_body: None,
            jwks_fetches: 0,
        }));
        let data = web::Data::new(state.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route(
                    "/.well-known/openid-configuration",
                    web::get().to(|s: web::Data<Arc<Mutex<OpState>>>| async move {
                        let iss = s.lock().unwrap().issuer.clone();
                        HttpResponse::Ok().json(json!({
                            "issuer": iss,
                            "authorization_endpoint": format!("{iss}/auth"),
                            "token_endpoint": format!("{iss}/token"),
                            "jwks_uri": format!("{iss}/jwks"),
                            "response_types_supported": ["code"],
                            "subject_types_supported": ["public"],
                            "id_token_signing_alg_values_supported": ["RS256"],
                            "authorization_response_iss_parameter_supported": true,
                        }))
                    }),
                )
                .route(
                    "/jwks",
                    web::get().to(|s: web::Data<Arc<Mutex<OpState>>>| async move {
                        let mut st = s.lock().unwrap();
                        st.jwks_fetches += 1;
                        let keys: Vec<Value> = st.keys.iter().map(|(k, p)| jwk(k, p)).collect();
                        HttpResponse::Ok().json(json!({ "keys": keys }))
                    }),
                )
                .route(
                    "/token",
                    web::post().to(|s: web::Data<Arc<Mutex<OpState>>>| async move {
                        match s.lock().unwrap().token_body.take() {
                            Some(body) => HttpResponse::Ok()
                                .content_type("application/json")
                                .body(body),
                            None => {
                                HttpResponse::BadRequest().json(json!({"error": "invalid_grant"}))
                            }
                        }
                    }),
                )
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        tokio::spawn(server);
        FakeOp { issuer, state }
    }

    pub(crate) fn idp(&self, id: &str) -> IdpSettings {
        let mut oidc = OidcIdpSettings::new(self.issuer.clone(), CLIENT_ID);
        oidc.client_secret = Some(SecretString::from("fake-secret".to_string()));
        IdpSettings {
            id: id.into(),
            kind: IdpKind::Oidc(Box::new(oidc)),
            display_name: format!("Fake OP {id}"),
        }
    }

    pub(crate) fn key(&self) -> (String, PKey<Private>) {
        self.state.lock().unwrap().keys.last().cloned().unwrap()
    }

    pub(crate) fn answer(&self, id_token: &str) {
        self.state.lock().unwrap().token_body = Some(
            json!({"access_token": ACCESS_TOKEN, "token_type": "Bearer", "expires_in": 300,
                   "id_token": id_token})
            .to_string(),
        );
    }
}

/// RS256 over header.payload with the given key; the header and payload are used verbatim.
pub(crate) fn sign_raw(header: &str, payload: &str, key: &PKey<Private>) -> String {
    let input = format!("{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()));
    let mut signer = Signer::new(MessageDigest::sha256(), key).unwrap();
    signer.update(input.as_bytes()).unwrap();
    format!("{input}.{}", b64(&signer.sign_to_vec().unwrap()))
}

fn hs256(header: &str, payload: &str, secret: &[u8]) -> String {
    let input = format!("{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()));
    let key = PKey::hmac(secret).unwrap();
    let mut signer = Signer::new(MessageDigest::sha256(), &key).unwrap();
    signer.update(input.as_bytes()).unwrap();
    format!("{input}.{}", b64(&signer.sign_to_vec().unwrap()))
}

/// A sign-in in flight at Roleport: the fake OP's flow, with what the authorization request said.
pub(crate) struct Flight {
    pub(crate) app: TestApp,
    pub(crate) op: FakeOp,
    pub(crate) state: String,
    pub(crate) nonce: String,
}

pub(crate) async fn flight() -> Flight {
    let op = FakeOp::start().await;
    let app = spawn_app_with(Options {
        extra_idps: vec![op.idp("fake-oidc")],
        include_demo_saml: false,
        ..Options::default()
    })
    .await;
    let (state, nonce) = begin(&app, "fake-oidc").await;
    Flight {
        app,
        op,
        state,
        nonce,
    }
}

pub(crate) async fn begin(app: &TestApp, idp: &str) -> (String, String) {
    let auth = app.start_oidc(idp).await;
    let q = query_of(&auth);
    assert_eq!(q["code_challenge_method"], "S256");
    (q["state"].clone(), q["nonce"].clone())
}

impl Flight {
    pub(crate) fn claims(&self) -> Value {
        let now = self.app.clock.now().timestamp();
        json!({
            "iss": self.op.issuer, "sub": "alice", "aud": CLIENT_ID,
            "iat": now, "exp": now + 300, "nonce": self.nonce,
            "at_hash": token_hash(JwsAlg::RS256, ACCESS_TOKEN).unwrap(),
            "email": "alice@example.org", "email_verified": true,
            "groups": ["cn=aws-admins,ou=groups,dc=example,dc=org"],
        })
    }

    pub(crate) fn signed(&self, claims: &Value) -> String {
        let (kid, key) = self.op.key();
        sign_raw(
            &json!({"alg": "RS256", "kid": kid}).to_string(),
            &claims.to_string(),
            &key,
        )
    }

    pub(crate) async fn callback(&self, id_token: &str) -> reqwest::Response {
        self.op.answer(id_token);
        self.app
            .client
            .get(format!("{}/oidc/callback", self.app.address))
            .query(&[
                ("code", "fake-code"),
                ("state", self.state.as_str()),
                ("iss", self.op.issuer.as_str()),
            ])
            .send()
            .await
            .unwrap()
    }

    /// Asserts the refusal and returns its record (`reason` is `code: detail`).
    pub(crate) async fn refused(&self, id_token: &str, code: &str) -> serde_json::Value {
        let resp = self.callback(id_token).await;
        assert_eq!(resp.status(), 403, "refused ({code})");
        let html = resp.text().await.unwrap();
        let record = crate::refusals::assert_recorded(&self.app, &reference_in(&html), code).await;
        assert_eq!(self.app.session_count().await, 0, "no session");
        record
    }
}

#[tokio::test]
async fn a_well_formed_token_from_the_fake_provider_is_accepted() {
    let f = flight().await;
    let token = f.signed(&f.claims());
    let resp = f.callback(&token).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(f.app.session_count().await, 1);
}

#[tokio::test]
async fn alg_none_is_refused() {
    let f = flight().await;
    let header = b64(json!({"alg": "none"}).to_string().as_bytes());
    let token = format!("{header}.{}.", b64(f.claims().to_string().as_bytes()));
    f.refused(&token, "jws.alg_none").await;
}

#[tokio::test]
async fn rs256_to_hs256_key_confusion_is_refused() {
    let f = flight().await;
    let (kid, key) = f.op.key();
    let public_pem = key.public_key_to_pem().unwrap();
    let token = hs256(
        &json!({"alg": "HS256", "kid": kid}).to_string(),
        &f.claims().to_string(),
        &public_pem,
    );
    f.refused(&token, "jws.alg_hmac").await;
}

#[tokio::test]
async fn unknown_kid_is_refused_after_one_refetch() {
    let f = flight().await;
    let stranger = new_key();
    let token = sign_raw(
        &json!({"alg": "RS256", "kid": "not-published"}).to_string(),
        &f.claims().to_string(),
        &stranger,
    );
    let before = f.op.state.lock().unwrap().jwks_fetches;
    f.refused(&token, "jws.unknown_kid").await;
    assert_eq!(
        f.op.state.lock().unwrap().jwks_fetches,
        before + 1,
        "one refetch"
    );
    // A second unknown kid within the minute does not fetch again.
    let (state, nonce) = begin(&f.app, "fake-oidc").await;
    let g = Flight {
        state,
        nonce,
        app: f.app,
        op: f.op,
    };
    let token = sign_raw(
        &json!({"alg": "RS256", "kid": "also-unknown"}).to_string(),
        &g.claims().to_string(),
        &stranger,
    );
    g.refused(&token, "jws.unknown_kid").await;
    assert_eq!(
        g.op.state.lock().unwrap().jwks_fetches,
        before + 1,
        "rate-limited"
    );
}

#[tokio::test]
async fn keys_offered_in_the_header_are_never_used() {
    for member in ["jku", "x5u", "jwk", "x5c"] {
        let f = flight().await;
        let attacker = new_key();
        let value = match member {
            "jwk" => jwk("attacker", &attacker),
            "x5c" => json!(["MIIB"]),
            _ => json!("https://attacker.example/keys"),
        };
        let mut header = json!({"alg": "RS256", "kid": "attacker"});
        header[member] = value;
        let token = sign_raw(&header.to_string(), &f.claims().to_string(), &attacker);
        f.refused(&token, "jws.embedded_key_header").await;
    }
}

#[tokio::test]
async fn forged_signature_is_refused() {
    let f = flight().await;
    let token = f.signed(&f.claims());
    let mut claims = f.claims();
    claims["sub"] = json!("mallory");
    let forged_payload = b64(claims.to_string().as_bytes());
    let parts: Vec<&str> = token.split('.').collect();
    let forged = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
    f.refused(&forged, "jws.bad_signature").await;
}

#[tokio::test]
async fn expired_token_is_refused() {
    let f = flight().await;
    let token = f.signed(&f.claims());
    // The app's clock moves past exp + leeway (the pending login lives 10 minutes).
    f.app.clock.advance(chrono::Duration::seconds(370));
    f.refused(&token, "id_token.expired").await;
}

#[tokio::test]
async fn not_yet_valid_token_is_refused() {
    let f = flight().await;
    let mut claims = f.claims();
    claims["nbf"] = json!(f.app.clock.now().timestamp() + 600);
    f.refused(&f.signed(&claims), "id_token.not_yet_valid")
        .await;
}

#[tokio::test]
async fn token_issued_too_long_ago_is_refused() {
    let f = flight().await;
    let mut claims = f.claims();
    let now = f.app.clock.now().timestamp();
    claims["iat"] = json!(now - 3600);
    claims["exp"] = json!(now + 3600);
    f.refused(&f.signed(&claims), "id_token.too_old").await;
}

#[tokio::test]
async fn wrong_issuer_is_refused() {
    let f = flight().await;
    let mut claims = f.claims();
    claims["iss"] = json!("https://evil.example.com");
    f.refused(&f.signed(&claims), "id_token.iss_mismatch").await;
}

#[tokio::test]
async fn wrong_audience_and_a_token_for_another_client_are_refused() {
    let f = flight().await;
    let mut claims = f.claims();
    claims["aud"] = json!("another-client");
    f.refused(&f.signed(&claims), "id_token.aud_mismatch").await;
}

#[tokio::test]
async fn an_extra_untrusted_audience_is_refused() {
    let f = flight().await;
    let mut claims = f.claims();
    claims["aud"] = json!([CLIENT_ID, "another-client"]);
    claims["azp"] = json!(CLIENT_ID);
    f.refused(&f.signed(&claims), "id_token.aud_untrusted")
        .await;
}

#[tokio::test]
async fn azp_mismatch_is_refused() {
    let f = flight().await;
    let mut claims = f.claims();
    claims["azp"] = json!("another-client");
    f.refused(&f.signed(&claims), "id_token.azp_mismatch").await;
}

#[tokio::test]
async fn missing_nonce_is_refused() {
    let f = flight().await;
    let mut claims = f.claims();
    claims.as_object_mut().unwrap().remove("nonce");
    f.refused(&f.signed(&claims), "id_token.nonce_missing")
        .await;
}

#[tokio::test]
async fn wrong_nonce_is_refused() {
    let f = flight().await;
    let mut claims = f.claims();
    claims["nonce"] = json!("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    f.refused(&f.signed(&claims), "id_token.nonce_mismatch")
        .await;
}

#[tokio::test]
async fn a_replayed_nonce_is_refused() {
    let f = flight().await;
    let first = f.signed(&f.claims());
    assert_eq!(f.callback(&first).await.status(), 303);
    // A new flow whose token carries the old (already used) nonce.
    let (state, nonce) = begin(&f.app, "fake-oidc").await;
    let old_nonce = f.nonce.clone();
    let g = Flight {
        state,
        nonce,
        app: f.app,
        op: f.op,
    };
    let mut claims = g.claims();
    claims["nonce"] = json!(old_nonce);
    let resp = g.callback(&g.signed(&claims)).await;
    assert_eq!(resp.status(), 403);
    assert!(
        g.app
            .last_reason()
            .await
            .starts_with("id_token.nonce_mismatch")
    );
}

#[tokio::test]
async fn duplicate_claim_names_are_refused() {
    let f = flight().await;
    let claims = f.claims().to_string();
    let payload = format!(
        "{},\"sub\":\"mallory\"}}",
        claims.strip_suffix('}').unwrap()
    );
    let (kid, key) = f.op.key();
    let token = sign_raw(
        &json!({"alg": "RS256", "kid": kid}).to_string(),
        &payload,
        &key,
    );
    f.refused(&token, "jws.duplicate_member").await;
}

#[tokio::test]
async fn an_oversized_token_is_refused() {
    let f = flight().await;
    let mut claims = f.claims();
    claims["padding"] = json!("x".repeat(20 * 1024));
    f.refused(&f.signed(&claims), "jws.too_large").await;
}

#[tokio::test]
async fn at_hash_mismatch_is_refused() {
    let f = flight().await;
    let mut claims = f.claims();
    claims["at_hash"] = json!(token_hash(JwsAlg::RS256, "another-access-token").unwrap());
    f.refused(&f.signed(&claims), "id_token.at_hash_mismatch")
        .await;
}

#[tokio::test]
async fn mix_up_a_response_from_provider_b_to_a_flow_started_with_a_is_refused() {
    let a = FakeOp::start().await;
    let b = FakeOp::start().await;
    let app = spawn_app_with(Options {
        extra_idps: vec![a.idp("op-a"), b.idp("op-b")],
        include_demo_saml: false,
        ..Options::default()
    })
    .await;
    let (state, _nonce) = begin(&app, "op-a").await;
    let resp = app
        .client
        .get(format!("{}/oidc/callback", app.address))
        .query(&[
            ("code", "code-from-b"),
            ("state", state.as_str()),
            ("iss", b.issuer.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert!(app.last_reason().await.starts_with("callback.iss_mismatch"));
    assert_eq!(app.session_count().await, 0);
}

#[tokio::test]
async fn key_rotation_is_picked_up_through_a_refetch_on_the_unknown_kid() {
    let f = flight().await;
    f.op.state
        .lock()
        .unwrap()
        .keys
        .push(("key-2".into(), new_key()));
    // Signed with the new key, which Roleport has not seen yet.
    let token = f.signed(&f.claims());
    let resp = f.callback(&token).await;
    assert_eq!(resp.status(), 303, "{}", f.app.last_reason().await);
    assert_eq!(f.app.session_count().await, 1);
}
