//! An OpenID provider as Roleport uses it at run time: discovered once at start (with the
//! `openidconnect` crate), its JWKS cached here and refreshed on a schedule and — at most once a
//! minute — when an ID token names an unknown `kid`.
//!
//! The crate does discovery, the authorization URL and the code exchange (PKCE S256, HTTP
//! redirects off in the shared client). It does NOT decide on ID tokens: its token-response type
//! here keeps the ID token as the raw string, so the crate never parses or validates it, and
//! `protocol::oidc::verify_id_token` — which also checks `iat`/max age, `azp`, `at_hash`,
//! leeway, duplicate members, size, and never takes a key from `jku`/`x5u`/`jwk`/`x5c` —
//! verifies it against the key set cached here (design.md §4: the crate fetches the JWKS once,
//! never refreshes it, and skips those checks).

use crate::configuration::IdpSettings;
use crate::protocol::oidc::{IdTokenPolicy, KeySet};
use chrono::{DateTime, Utc};
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreClaimName, CoreClaimType,
    CoreClientAuthMethod, CoreErrorResponseType, CoreGenderClaim, CoreGrantType, CoreJsonWebKey,
    CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm, CoreJwsSigningAlgorithm,
    CoreResponseMode, CoreResponseType, CoreRevocableToken, CoreRevocationErrorResponse,
    CoreSubjectIdentifierType, CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AccessToken, AdditionalProviderMetadata, AuthorizationCode, Client, ClientId, ClientSecret,
    CsrfToken, EmptyAdditionalClaims, EndpointMaybeSet, EndpointNotSet, EndpointSet,
    ExtraTokenFields, IdToken, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    PkceCodeVerifier, ProviderMetadata, RedirectUrl, RefreshToken, RequestTokenError, Scope,
    StandardErrorResponse, StandardTokenResponse, TokenResponse,
};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::sync::{Arc, RwLock};
use std::time::Duration as StdDuration;

/// An unknown `kid` triggers at most one JWKS fetch per provider in this interval.
pub const ON_DEMAND_REFRESH_INTERVAL_SECONDS: i64 = 60;
const MAX_JWKS_BYTES: usize = 256 * 1024;
const MAX_USERINFO_BYTES: usize = 64 * 1024;

/// RFC 9207: whether the provider promises `iss` on authorization responses.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct IssParameterMetadata {
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: Option<bool>,
}
impl AdditionalProviderMetadata for IssParameterMetadata {}

type Metadata = ProviderMetadata<
    IssParameterMetadata,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

/// The token response's `id_token`, kept as the compact string it arrived as.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RawIdTokenField {
    #[serde(default)]
    pub id_token: Option<String>,
}
impl ExtraTokenFields for RawIdTokenField {}

/// A token response whose ID token the crate never parses (see the module documentation).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RawTokenResponse(StandardTokenResponse<RawIdTokenField, CoreTokenType>);

impl OAuth2TokenResponse for RawTokenResponse {
    type TokenType = CoreTokenType;
    fn access_token(&self) -> &AccessToken {
        self.0.access_token()
    }
    fn token_type(&self) -> &CoreTokenType {
        self.0.token_type()
    }
    fn expires_in(&self) -> Option<StdDuration> {
        self.0.expires_in()
    }
    fn refresh_token(&self) -> Option<&RefreshToken> {
        self.0.refresh_token()
    }
    fn scopes(&self) -> Option<&Vec<Scope>> {
        self.0.scopes()
    }
}

impl
    TokenResponse<
        EmptyAdditionalClaims,
        CoreGenderClaim,
        CoreJweContentEncryptionAlgorithm,
        CoreJwsSigningAlgorithm,
    > for RawTokenResponse
{
    /// Always `None`: Roleport verifies the raw string itself.
    fn id_token(
        &self,
    ) -> Option<
        &IdToken<
            EmptyAdditionalClaims,
            CoreGenderClaim,
            CoreJweContentEncryptionAlgorithm,
            CoreJwsSigningAlgorithm,
        >,
    > {
        None
    }
}

type RpClient = Client<
    EmptyAdditionalClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    RawTokenResponse,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

#[derive(Debug, thiserror::Error)]
pub enum OidcLoadError {
    #[error("idp `{id}`: discovery at {issuer} failed: {message}")]
    Discovery {
        id: String,
        issuer: String,
        message: String,
    },
    #[error("idp `{id}`: JWKS: {message}")]
    Jwks { id: String, message: String },
    #[error("idp `{id}`: {message}")]
    Invalid { id: String, message: String },
}

/// What the token endpoint gave back.
pub struct Tokens {
    pub id_token: Option<String>,
    pub access_token: String,
}

/// Why the code exchange failed.
#[derive(Debug)]
pub enum ExchangeError {
    /// The provider answered with an OAuth error (`invalid_grant`: wrong verifier, code replay…).
    Refused { error: String, description: String },
    /// The answer was not a token response.
    Malformed(String),
    /// The provider could not be reached.
    Unreachable(String),
}

struct JwksCache {
    keys: Arc<KeySet>,
    fetched_at: DateTime<Utc>,
    last_on_demand: Option<DateTime<Utc>>,
}

pub struct OidcProvider {
    pub id: String,
    pub display_name: String,
    pub issuer: String,
    pub client_id: String,
    pub iss_parameter_supported: bool,
    pub userinfo_endpoint: Option<String>,
    pub use_userinfo: bool,
    pub jwks_uri: String,
    pub jwks_refresh: chrono::Duration,
    pub scopes: Vec<String>,
    pub policy: IdTokenPolicy,
    client: RpClient,
    http: reqwest::Client,
    jwks: RwLock<JwksCache>,
    refresh_lock: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for OidcProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcProvider")
            .field("id", &self.id)
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// Discovers the provider, fetches its JWKS and builds the client. `redirect_uri` is Roleport's
/// `/oidc/callback`.
pub async fn discover(
    settings: &IdpSettings,
    http: &reqwest::Client,
    redirect_uri: &str,
    now: DateTime<Utc>,
) -> Result<OidcProvider, OidcLoadError> {
    let id = settings.id.clone();
    let invalid = |message: String| OidcLoadError::Invalid {
        id: id.clone(),
        message,
    };
    let oidc = settings
        .oidc()
        .ok_or_else(|| invalid("not an OIDC provider".into()))?;
    let policy = oidc.id_token_policy().map_err(&invalid)?;
    let issuer_url = IssuerUrl::new(oidc.issuer.clone()).map_err(|e| invalid(e.to_string()))?;
    // The crate checks that the document's `issuer` equals the configured one exactly.
    let metadata = Metadata::discover_async(issuer_url, http)
        .await
        .map_err(|e| OidcLoadError::Discovery {
            id: id.clone(),
            issuer: oidc.issuer.clone(),
            message: error_chain(&e),
        })?;
    let jwks_uri = metadata.jwks_uri().url().to_string();
    let userinfo_endpoint = metadata.userinfo_endpoint().map(|u| u.url().to_string());
    let iss_parameter_supported = metadata
        .additional_metadata()
        .authorization_response_iss_parameter_supported
        .unwrap_or(false);
    if metadata.token_endpoint().is_none() {
        return Err(invalid("discovery names no token_endpoint".into()));
    }
    if oidc.userinfo && userinfo_endpoint.is_none() {
        return Err(invalid(
            "userinfo = true but discovery names no userinfo_endpoint".into(),
        ));
    }
    let secret = oidc
        .client_secret
        .as_ref()
        .map(|s| ClientSecret::new(s.expose_secret().to_string()));
    let redirect =
        RedirectUrl::new(redirect_uri.to_string()).map_err(|e| invalid(e.to_string()))?;
    let client =
        Client::from_provider_metadata(metadata, ClientId::new(oidc.client_id.clone()), secret)
            .set_redirect_uri(redirect);
    let keys = fetch_jwks(http, &jwks_uri)
        .await
        .map_err(|message| OidcLoadError::Jwks {
            id: id.clone(),
            message,
        })?;
    Ok(OidcProvider {
        id: id.clone(),
        display_name: settings.display_name.clone(),
        issuer: oidc.issuer.clone(),
        client_id: oidc.client_id.clone(),
        iss_parameter_supported,
        userinfo_endpoint,
        use_userinfo: oidc.userinfo,
        jwks_uri,
        jwks_refresh: chrono::Duration::seconds(
            i64::try_from(oidc.jwks_refresh_seconds).unwrap_or(3600),
        ),
        scopes: oidc.scopes.clone(),
        policy,
        client,
        http: http.clone(),
        jwks: RwLock::new(JwksCache {
            keys: Arc::new(keys),
            fetched_at: now,
            last_on_demand: None,
        }),
        refresh_lock: tokio::sync::Mutex::new(()),
    })
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

async fn fetch_jwks(http: &reqwest::Client, url: &str) -> Result<KeySet, String> {
    let bytes = fetch_limited(http.get(url), MAX_JWKS_BYTES).await?;
    let keys = KeySet::from_jwks(&bytes).map_err(|e| format!("{}: {e}", e.code()))?;
    for skipped in keys.skipped() {
        tracing::warn!(jwks_uri = url, kid = ?skipped.kid, reason = skipped.reason.code(), "JWKS key skipped");
    }
    Ok(keys)
}

async fn fetch_limited(request: reqwest::RequestBuilder, limit: usize) -> Result<Vec<u8>, String> {
    let mut response = request
        .timeout(StdDuration::from_secs(10))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !response.status().is_success() {
        return Err(format!("HTTP {}", response.status()));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
        if body.len().saturating_add(chunk.len()) > limit {
            return Err(format!("answer larger than {limit} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

impl OidcProvider {
    /// The keys ID tokens are verified against.
    pub fn keys(&self) -> Arc<KeySet> {
        match self.jwks.read() {
            Ok(c) => c.keys.clone(),
            Err(poisoned) => poisoned.into_inner().keys.clone(),
        }
    }

    pub fn jwks_fetched_at(&self) -> Option<DateTime<Utc>> {
        self.jwks.read().ok().map(|c| c.fetched_at)
    }

    fn store(&self, keys: KeySet, now: DateTime<Utc>, on_demand: bool) {
        if let Ok(mut c) = self.jwks.write() {
            c.keys = Arc::new(keys);
            c.fetched_at = now;
            if on_demand {
                c.last_on_demand = Some(now);
            }
        }
    }

    /// Scheduled refresh: when the cached set is older than `jwks_refresh_seconds`. A failed
    /// fetch keeps the previous keys.
    pub async fn refresh_if_due(&self, now: DateTime<Utc>) {
        let due = self
            .jwks_fetched_at()
            .is_none_or(|at| now - at >= self.jwks_refresh);
        if !due {
            return;
        }
        let _guard = self.refresh_lock.lock().await;
        match fetch_jwks(&self.http, &self.jwks_uri).await {
            Ok(keys) => {
                tracing::info!(idp = %self.id, keys = keys.len(), "JWKS refreshed");
                self.store(keys, now, false);
            }
            Err(e) => {
                tracing::error!(idp = %self.id, error = %e, "JWKS refresh failed; keeping the previous keys")
            }
        }
    }

    /// Refetches the JWKS because a token named a key we do not have. At most once per
    /// [`ON_DEMAND_REFRESH_INTERVAL_SECONDS`]: a flood of tokens with made-up `kid`s cannot turn
    /// into a flood of fetches. Returns whether a new key set is in place.
    pub async fn refresh_on_unknown_kid(&self, now: DateTime<Utc>) -> bool {
        let _guard = self.refresh_lock.lock().await;
        let recent = self
            .jwks
            .read()
            .ok()
            .and_then(|c| c.last_on_demand)
            .is_some_and(|at| {
                now - at < chrono::Duration::seconds(ON_DEMAND_REFRESH_INTERVAL_SECONDS)
            });
        if recent {
            tracing::warn!(idp = %self.id, "unknown kid, but the JWKS was refetched less than a minute ago");
            return false;
        }
        match fetch_jwks(&self.http, &self.jwks_uri).await {
            Ok(keys) => {
                tracing::info!(idp = %self.id, keys = keys.len(), "JWKS refetched for an unknown kid");
                self.store(keys, now, true);
                true
            }
            Err(e) => {
                if let Ok(mut c) = self.jwks.write() {
                    c.last_on_demand = Some(now);
                }
                tracing::error!(idp = %self.id, error = %e, "JWKS refetch failed");
                false
            }
        }
    }

    /// The authorization request URL (code flow, PKCE S256, state, nonce).
    /// `force_login` adds `prompt=login`: the provider authenticates the person again.
    pub fn authorization_url(
        &self,
        state: &str,
        nonce: &str,
        pkce_verifier: &str,
        force_login: bool,
    ) -> String {
        let challenge = PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(
            pkce_verifier.to_string(),
        ));
        let state = state.to_string();
        let nonce = nonce.to_string();
        let mut request = self
            .client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                move || CsrfToken::new(state),
                move || Nonce::new(nonce),
            )
            .set_pkce_challenge(challenge);
        // The crate always asks for `openid` itself.
        for scope in self.scopes.iter().filter(|s| *s != "openid") {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        if force_login {
            request = request.add_prompt(CoreAuthPrompt::Login);
        }
        request.url().0.to_string()
    }

    /// Redeems the code with the PKCE verifier.
    pub async fn exchange(&self, code: &str, pkce_verifier: &str) -> Result<Tokens, ExchangeError> {
        let request = self
            .client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .map_err(|e| ExchangeError::Malformed(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_string()));
        match request.request_async(&self.http).await {
            Ok(response) => Ok(Tokens {
                id_token: response.0.extra_fields().id_token.clone(),
                access_token: response.access_token().secret().clone(),
            }),
            Err(RequestTokenError::ServerResponse(e)) => Err(ExchangeError::Refused {
                error: e.error().as_ref().chars().take(64).collect(),
                description: e
                    .error_description()
                    .map(|d| d.chars().take(200).collect())
                    .unwrap_or_default(),
            }),
            Err(RequestTokenError::Parse(e, _)) => Err(ExchangeError::Malformed(e.to_string())),
            Err(RequestTokenError::Request(e)) => Err(ExchangeError::Unreachable(error_chain(&e))),
            Err(RequestTokenError::Other(e)) => Err(ExchangeError::Malformed(e)),
        }
    }

    /// Claims from the userinfo endpoint (JSON answers only; a signed userinfo is not used).
    pub async fn userinfo(&self, access_token: &str) -> Result<Map<String, Value>, String> {
        let url = self
            .userinfo_endpoint
            .as_deref()
            .ok_or("no userinfo endpoint")?;
        let bytes = fetch_limited(
            self.http.get(url).bearer_auth(access_token),
            MAX_USERINFO_BYTES,
        )
        .await?;
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(_) => Err("userinfo is not a JSON object".into()),
            Err(e) => Err(format!("userinfo is not JSON: {e}")),
        }
    }
}
