//! `/login` and `/login/{idp}` (SP-initiated start).

use super::refused::{count_unverified, pending_bound, pending_logins_capped};
use crate::audit::new_reference;
use crate::db;
use crate::db::logins::PendingLogin;
use crate::domain::ReturnTo;
use crate::http::AppState;
use crate::http::cookies::random_token;
use crate::http::errors::{AppError, Format, Kind};
use crate::http::rate_limit::client_key;
use crate::http::request_meta::RequestMeta;
use crate::http::views::{IdpLink, LoginPage};
use crate::protocol::saml::authn_request::AuthnRequest;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Duration;
use serde::Deserialize;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/login", web::get().to(login_page))
        .route("/login/{idp}", web::get().to(start));
}

#[derive(Deserialize)]
struct LoginQuery {
    return_to: Option<String>,
    /// `1`: the admin pages ask for a fresh sign-in; the IdP is told to authenticate again
    /// (SAML `ForceAuthn`, OIDC `prompt=login`) instead of reusing its own session.
    reauth: Option<String>,
}

async fn login_page(state: web::Data<AppState>, query: web::Query<LoginQuery>) -> LoginPage {
    let suffix = query
        .return_to
        .as_deref()
        .and_then(|r| ReturnTo::parse(r).ok())
        .map(|r| format!("?return_to={}", urlencoding::encode(r.as_str())))
        .unwrap_or_default();
    let mut idps: Vec<IdpLink> = state
        .all_idps()
        .iter()
        .map(|i| IdpLink {
            id: i.id.clone(),
            display_name: i.display_name.clone(),
            href: format!("/login/{}{}", i.id, suffix),
        })
        .chain(state.oidc.values().map(|p| IdpLink {
            id: p.id.clone(),
            display_name: p.display_name.clone(),
            href: format!("/login/{}{}", p.id, suffix),
        }))
        .collect();
    idps.sort_by(|a, b| a.id.cmp(&b.id));
    LoginPage { idps }
}

async fn start(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<LoginQuery>,
) -> Result<HttpResponse, AppError> {
    let reference = new_reference();
    let meta = RequestMeta::of(&req);
    let idp_id = path.into_inner();
    let saml = state.idp(&idp_id);
    let oidc = state.oidc_provider(&idp_id);
    if saml.is_none() && oidc.is_none() {
        // The name is the caller's, not an IdP's: it is logged, never made a counter label.
        let named: String = idp_id.chars().take(64).collect();
        tracing::warn!(security = true, reference, idp = %named, reason = "unknown_idp", source_ip = ?meta.source_ip, "sign-in start refused");
        count_unverified(&state, &reference, &meta, "unknown", "unknown_idp").await;
        return Err(AppError::new(
            Kind::NotFound,
            Format::Html,
            reference,
            "There is no identity provider with that name.",
        ));
    }
    let return_to = match query.return_to.as_deref() {
        None | Some("") => ReturnTo::roles_page(),
        Some(raw) => match ReturnTo::parse(raw) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(security = true, reference, idp = %idp_id, reason = "bad_return_to", detail = %e, "refused post-login target");
                count_unverified(&state, &reference, &meta, &idp_id, "bad_return_to").await;
                return Err(AppError::new(
                    Kind::BadRequest,
                    Format::Html,
                    reference,
                    "The page to return to after sign-in must be a page of Roleport.",
                ));
            }
        },
    };
    let force_login = query.reauth.as_deref() == Some("1");
    let Some(idp) = saml else {
        let Some(provider) = oidc else {
            return Err(AppError::new(
                Kind::NotFound,
                Format::Html,
                reference,
                "There is no identity provider with that name.",
            ));
        };
        return super::oidc::start(&state, &req, provider, return_to, reference, force_login).await;
    };
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
    let request_id = format!(
        "_{}",
        hex::encode(
            random_token()
                .map_err(|e| internal("random", &e))?
                .as_bytes()
        )
        .get(..40)
        .unwrap_or_default()
    );
    let relay_handle = random_token().map_err(|e| internal("random", &e))?;
    let client = client_key(&meta);
    let bound = pending_bound(&state, &client);
    let now = bound.now;
    let pending = PendingLogin {
        relay_handle: relay_handle.clone(),
        request_id: request_id.clone(),
        idp: idp.id.clone(),
        browser_hash: db::sha256(browser_token.as_bytes()),
        return_to: return_to.to_string(),
    };
    match db::logins::insert(
        &state.pool,
        &pending,
        &bound,
        now + Duration::seconds(state.settings.session.login_ttl_seconds),
    )
    .await
    {
        Ok(true) => {}
        Ok(false) => {
            return Err(pending_logins_capped(&state, &reference, &meta, &idp.id).await);
        }
        Err(e) => {
            tracing::error!(reference, error = %e, "cannot store pending login");
            return Err(AppError::new(
                Kind::Unavailable,
                Format::Html,
                reference,
                "Roleport cannot reach its database right now. Please try again in a moment.",
            ));
        }
    }
    let request = AuthnRequest {
        id: &request_id,
        issue_instant: now,
        destination: &idp.sso_url,
        acs_url: &state.sp.acs_url,
        sp_entity_id: &state.sp.entity_id,
        force_authn: force_login,
    };
    let key = if idp.sign_requests {
        state.sp.key.as_ref()
    } else {
        None
    };
    let url = request
        .redirect_url(&relay_handle, key)
        .map_err(|e| internal("authn request", &e))?;
    tracing::info!(idp = %idp.id, request_id, "sign-in started");
    let mut response = HttpResponse::Found();
    response.insert_header(("Location", url));
    if set_cookie {
        response.cookie(state.cookies.browser(browser_token));
    }
    Ok(response.finish())
}
