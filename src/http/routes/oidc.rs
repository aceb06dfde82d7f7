//! OpenID Connect sign-in: `GET /login/{idp}` for an OIDC provider (via [`start`]) and
//! `GET /oidc/callback`, the one redirect URI for every provider (the pending login names it).
//!
//! The callback: `state` bound to this browser and single-use (the pending row is deleted as it
//! is read) → RFC 9207 `iss` / provider errors ([`check_callback`]) → code exchange with the
//! PKCE verifier → [`verify_id_token`] (nonce, `at_hash`, `azp`, age, pinned keys and
//! algorithms…) with one rate-limited JWKS refetch on an unknown `kid` → nonce recorded in the
//! shared replay cache → identity → rules → the same session, audit row and redirect as SAML.

use super::acs::session_started;
use super::refused::{Evidence, pending_bound, pending_logins_capped};
use crate::audit::new_reference;
use crate::db;
use crate::db::oidc_logins::{PendingOidcLogin, Taken};
use crate::domain::{FederatedIdentity, ReturnTo};
use crate::http::AppState;
use crate::http::cookies::random_token;
use crate::http::errors::{AppError, Format, Kind};
use crate::http::rate_limit::client_key;
use crate::http::request_meta::RequestMeta;
use crate::protocol::oidc::{
    CallbackError, CallbackParams, Expectations, FlowBinding, IdTokenError, Pkce, VerifiedIdToken,
    check_callback, extract_identity, new_nonce, new_state, rule_attributes, verify_id_token,
};
use crate::service::sign_in;
use crate::upstream::oidc_provider::{ExchangeError, OidcProvider};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Duration;
use serde_json::Value;
use std::sync::Arc;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/oidc/callback", web::get().to(callback));
}

fn random(len: usize) -> Result<Vec<u8>, String> {
    let mut bytes = vec![0u8; len];
    openssl::rand::rand_bytes(&mut bytes).map_err(|e| e.to_string())?;
    Ok(bytes)
}

/// Starts a sign-in at `provider`: state, nonce and PKCE verifier, stored bound to the browser,
/// then a redirect to the authorization endpoint.
pub(super) async fn start(
    state: &AppState,
    req: &HttpRequest,
    provider: Arc<OidcProvider>,
    return_to: ReturnTo,
    reference: String,
    force_login: bool,
) -> Result<HttpResponse, AppError> {
    let internal = |what: &str, e: &dyn std::fmt::Display| {
        tracing::error!(reference, error = %e, "{what}");
        AppError::new(
            Kind::Internal,
            Format::Html,
            reference.clone(),
            "Roleport could not start the sign-in.",
        )
    };
    let existing = req
        .cookie(state.cookies.browser_name())
        .map(|c| c.value().to_string())
        .filter(|v| v.len() >= 32);
    let (browser_token, set_cookie) = match existing {
        Some(t) => (t, false),
        None => (random_token().map_err(|e| internal("random", &e))?, true),
    };
    let flow_state = random(32)
        .and_then(|r| new_state(&r).map_err(|e| e.to_string()))
        .map_err(|e| internal("state", &e))?;
    let nonce = random(32)
        .and_then(|r| new_nonce(&r).map_err(|e| e.to_string()))
        .map_err(|e| internal("nonce", &e))?;
    let pkce = random(32)
        .and_then(|r| Pkce::from_random(&r).map_err(|e| e.to_string()))
        .map_err(|e| internal("pkce", &e))?;
    let meta = RequestMeta::of(req);
    let client = client_key(&meta);
    let pending = PendingOidcLogin {
        idp: provider.id.clone(),
        nonce: nonce.clone(),
        pkce_verifier: pkce.verifier().to_string(),
        return_to: return_to.to_string(),
    };
    let bound = pending_bound(state, &client);
    match db::oidc_logins::insert(
        &state.pool,
        &flow_state,
        &browser_token,
        &pending,
        &bound,
        bound.now + Duration::seconds(state.settings.session.login_ttl_seconds),
    )
    .await
    {
        Ok(true) => {}
        Ok(false) => {
            return Err(pending_logins_capped(state, &reference, &meta, &provider.id).await);
        }
        Err(e) => {
            tracing::error!(reference, error = %e, "cannot store pending OIDC login");
            return Err(AppError::new(
                Kind::Unavailable,
                Format::Html,
                reference,
                "Roleport cannot reach its database right now. Please try again in a moment.",
            ));
        }
    }
    let url = provider.authorization_url(&flow_state, &nonce, pkce.verifier(), force_login);
    tracing::info!(idp = %provider.id, "OIDC sign-in started");
    let mut response = HttpResponse::Found();
    response.insert_header(("Location", url));
    if set_cookie {
        response.cookie(state.cookies.browser(browser_token));
    }
    Ok(response.finish())
}

/// Why an OIDC sign-in was refused; `code()` goes to logs, metrics and the audit row.
#[derive(Debug)]
enum Refusal {
    Callback(CallbackError),
    UnknownState,
    OtherBrowser,
    UnknownProvider(String),
    Exchange { error: String, description: String },
    TokenResponse(String),
    NoIdToken,
    IdToken(IdTokenError),
    NonceReplay,
    Userinfo(String),
}

impl Refusal {
    fn code(&self) -> String {
        match self {
            Self::Callback(e) => e.code().into(),
            Self::UnknownState => "callback.state_unknown".into(),
            Self::OtherBrowser => "callback.state_other_browser".into(),
            Self::UnknownProvider(_) => "callback.unknown_provider".into(),
            Self::Exchange { error, .. } => format!(
                "token.{}",
                if error.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
                    error.as_str()
                } else {
                    "error"
                }
            ),
            Self::TokenResponse(_) => "token.malformed_response".into(),
            Self::NoIdToken => "token.no_id_token".into(),
            Self::IdToken(e) => e.code().into(),
            Self::NonceReplay => "id_token.nonce_replayed".into(),
            Self::Userinfo(_) => "userinfo.failed".into(),
        }
    }

    fn detail(&self) -> String {
        match self {
            Self::Callback(e) => e.to_string(),
            Self::UnknownState => {
                "state names no pending sign-in (unknown, used or expired)".into()
            }
            Self::OtherBrowser => "the sign-in was started by another browser".into(),
            Self::UnknownProvider(id) => format!("provider `{id}` is no longer configured"),
            Self::Exchange { error, description } => {
                format!("token endpoint refused the code: {error} {description}")
            }
            Self::TokenResponse(why) => format!("token endpoint answer unusable: {why}"),
            Self::NoIdToken => "token endpoint returned no id_token".into(),
            Self::IdToken(e) => e.to_string(),
            Self::NonceReplay => "the nonce of this ID token was already used".into(),
            Self::Userinfo(why) => format!("userinfo: {why}"),
        }
    }

    /// Only an ID token that verified carries an identity. A live state from another browser
    /// carries none: its code cannot be redeemed without spending the owner's sign-in.
    fn evidence(&self) -> Evidence {
        match self {
            Self::NonceReplay | Self::Userinfo(_) | Self::IdToken(IdTokenError::Claims(_)) => {
                Evidence::Verified
            }
            Self::Callback(_)
            | Self::OtherBrowser
            | Self::UnknownState
            | Self::UnknownProvider(_)
            | Self::Exchange { .. }
            | Self::TokenResponse(_)
            | Self::NoIdToken
            | Self::IdToken(_) => Evidence::Unverified,
        }
    }
}

enum Failure {
    Refused(Refusal),
    Unavailable(String),
}

impl From<Refusal> for Failure {
    fn from(r: Refusal) -> Self {
        Failure::Refused(r)
    }
}

struct Accepted {
    identity: FederatedIdentity,
    return_to: ReturnTo,
    grants: usize,
    /// The verified ID token as issued, for `oidc_passthrough`.
    id_token: crate::domain::UpstreamIdToken,
}

async fn callback(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, AppError> {
    let reference = new_reference();
    let meta = RequestMeta::of(&req);
    let mut idp_label: Option<String> = None;
    match consume(&state, &req, &mut idp_label).await {
        Ok(Accepted {
            identity,
            return_to,
            grants,
            id_token,
        }) => {
            let upstream = db::sessions::Upstream {
                id_token: Some(&id_token),
                source_ip: None,
            };
            // The pending flow was taken and the nonce recorded above; this records the audit
            // row and the session together.
            let started = sign_in::accepted(
                &state,
                &reference,
                &meta,
                identity,
                None,
                grants,
                upstream,
                return_to,
                sign_in::Consumes::default(),
            )
            .await
            .map_err(|declined| declined.into_error(&reference))?;
            Ok(session_started(&state, started))
        }
        Err(Failure::Refused(refusal)) => Err(sign_in::refused(
            &state,
            &reference,
            meta,
            idp_label.as_deref(),
            &refusal.code(),
            &refusal.detail(),
            refusal.evidence(),
        )
        .await
        .into()),
        Err(Failure::Unavailable(what)) => Err(sign_in::unavailable(&reference, &what).into()),
    }
}

async fn consume(
    state: &AppState,
    req: &HttpRequest,
    idp_label: &mut Option<String>,
) -> Result<Accepted, Failure> {
    let params =
        CallbackParams::from_pairs(url::form_urlencoded::parse(req.query_string().as_bytes()))
            .map_err(Refusal::Callback)?;
    let flow_state = params
        .state
        .clone()
        .filter(|s| !s.is_empty())
        .ok_or(Refusal::Callback(CallbackError::StateMissing))?;
    let browser = req
        .cookie(state.cookies.browser_name())
        .map(|c| c.value().to_string())
        .unwrap_or_default();
    let now = state.clock.now();
    let pending = match db::oidc_logins::take(&state.pool, &flow_state, &browser, now)
        .await
        .map_err(|e| Failure::Unavailable(e.to_string()))?
    {
        Taken::Login(p) => p,
        Taken::OtherBrowser => return Err(Refusal::OtherBrowser.into()),
        Taken::Unknown => return Err(Refusal::UnknownState.into()),
    };
    *idp_label = Some(pending.idp.clone());
    let provider = state
        .oidc_provider(&pending.idp)
        .ok_or_else(|| Refusal::UnknownProvider(pending.idp.clone()))?;
    let return_to = ReturnTo::parse(&pending.return_to).unwrap_or_else(|_| ReturnTo::roles_page());
    // State (again, in constant time), RFC 9207 `iss` — a response from another provider to
    // this flow is the mix-up attack — and error responses.
    let code = check_callback(
        &params,
        &FlowBinding {
            expected_state: &flow_state,
            issuer: &provider.issuer,
            iss_parameter_supported: provider.iss_parameter_supported,
        },
    )
    .map_err(Refusal::Callback)?;

    let tokens = provider
        .exchange(code, &pending.pkce_verifier)
        .await
        .map_err(|e| match e {
            ExchangeError::Refused { error, description } => {
                Failure::Refused(Refusal::Exchange { error, description })
            }
            ExchangeError::Malformed(why) => Failure::Refused(Refusal::TokenResponse(why)),
            ExchangeError::Unreachable(why) => {
                Failure::Unavailable(format!("token endpoint of {}: {why}", provider.id))
            }
        })?;
    let id_token = tokens.id_token.as_deref().ok_or(Refusal::NoIdToken)?;
    let verified = verify(
        state,
        &provider,
        id_token,
        &pending.nonce,
        &tokens.access_token,
    )
    .await?;

    // The pending row (and with it the nonce) is gone already; the shared replay cache also
    // refuses a second token carrying this nonce on any replica.
    let first = db::replay::first_use(
        &state.pool,
        &provider.id,
        &format!("oidc-nonce:{}", pending.nonce),
        verified.expires_at + provider.policy.leeway,
    )
    .await
    .map_err(|e| Failure::Unavailable(e.to_string()))?;
    if !first {
        return Err(Refusal::NonceReplay.into());
    }

    let mut identity = verified.identity.clone();
    let mut claims = verified.claims.clone();
    if identity.groups.is_empty() && provider.use_userinfo {
        let info = provider
            .userinfo(&tokens.access_token)
            .await
            .map_err(Refusal::Userinfo)?;
        // OIDC Core §5.3.2: the userinfo `sub` must be the ID token's.
        if info.get("sub").and_then(Value::as_str) != Some(verified.subject.as_str()) {
            return Err(Refusal::Userinfo("sub differs from the ID token's".into()).into());
        }
        for (k, v) in info {
            claims.entry(k).or_insert(v);
        }
        identity = extract_identity(&claims, &provider.policy.claims)
            .map_err(|e| Refusal::IdToken(IdTokenError::Claims(e)))?;
    }
    let attributes = rule_attributes(&claims, &provider.policy.claims)
        .map_err(|e| Refusal::IdToken(IdTokenError::Claims(e)))?;
    let mut federated = FederatedIdentity {
        idp: provider.id.clone(),
        subject: identity.stable_id.clone(),
        email: identity.email.clone(),
        display_name: identity.name.clone(),
        groups: identity.groups.clone(),
        attributes,
    };
    // Only a verified address reaches the rules, through `email` or any attribute path.
    federated.forget_unverified_email(
        identity.email_verified,
        &provider.policy.claims.email.top_level_names(),
    );
    let grants = state
        .rules()
        .evaluate(&super::acs::claims_of(&federated))
        .grants
        .len();
    Ok(Accepted {
        identity: federated,
        return_to,
        grants,
        id_token: crate::domain::UpstreamIdToken::new(id_token.to_string(), verified.expires_at),
    })
}

/// Verifies with the cached keys; on an unknown `kid`, refetches the JWKS once (rate-limited)
/// and tries again.
async fn verify(
    state: &AppState,
    provider: &OidcProvider,
    id_token: &str,
    nonce: &str,
    access_token: &str,
) -> Result<VerifiedIdToken, Failure> {
    let expect = Expectations::new(&provider.issuer, &provider.client_id, nonce)
        .with_access_token(access_token);
    let first = verify_id_token(
        id_token,
        &provider.policy,
        &provider.keys(),
        &expect,
        state.clock.now(),
    );
    match first {
        Ok(v) => Ok(v),
        Err(e) if e.suggests_jwks_refresh() => {
            if provider.refresh_on_unknown_kid(state.clock.now()).await {
                verify_id_token(
                    id_token,
                    &provider.policy,
                    &provider.keys(),
                    &expect,
                    state.clock.now(),
                )
                .map_err(|e| Refusal::IdToken(e).into())
            } else {
                Err(Refusal::IdToken(e).into())
            }
        }
        Err(e) => Err(Refusal::IdToken(e).into()),
    }
}
