//! The CLI's OAuth 2.0 endpoints (rules in `protocol::cli_oauth`, flow in `service::cli_oauth`):
//!
//! - `GET /oauth/authorize`: after sign-in, one click (a CSRF form) sends an authorization code to
//!   the CLI's loopback redirect. A bad client or redirect is shown as a page, never redirected to.
//! - `POST /oauth/token`, `POST /oauth/revoke`, `POST /oauth/device_authorization`: form in,
//!   JSON out (RFC 6749 §5, RFC 7009, RFC 8628), `Cache-Control: no-store`.
//! - `GET/POST /device`: the person enters or follows the user code, sees who asked, approves.
//!
//! The token, device-authorization and `/device` routes are rate limited (`http::rate_limit`).

use super::session::{CsrfForm, MaybeSignedIn, SignedIn, SignedInWithCsrf};
use crate::audit::new_reference;
use crate::http::AppState;
use crate::http::errors::{AppError, Format, Kind};
use crate::http::request_meta::RequestMeta;
use crate::http::views::{CliAuthorizePage, CliDeviceDonePage, CliDevicePage, PendingDeviceView};
use crate::protocol::cli_oauth::{self as rules, CodeChallenge, LoopbackRedirect, UserCode};
use crate::service::cli_oauth::{self as service, Error, TokenRequest};
use actix_web::{HttpRequest, HttpResponse, Responder, web};
use serde::Deserialize;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/oauth/authorize", web::get().to(authorize_page))
        .route("/oauth/authorize", web::post().to(authorize))
        .route("/oauth/token", web::post().to(token))
        .route("/oauth/revoke", web::post().to(revoke))
        .route(
            "/oauth/device_authorization",
            web::post().to(device_authorization),
        )
        .route("/device", web::get().to(device_page))
        .route("/device", web::post().to(device_decide));
}

#[derive(Deserialize, Default)]
struct AuthorizeRequest {
    csrf_token: Option<String>,
    response_type: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    state: Option<String>,
}

impl CsrfForm for AuthorizeRequest {
    fn csrf_token(&self) -> Option<&str> {
        self.csrf_token.as_deref()
    }
    const EXPIRED: &'static str = "This sign-in form has expired. Run `roleport-cli login` again.";
}

/// The checked request. Errors are pages: with an unchecked client or redirect, Roleport must
/// not redirect anywhere (RFC 6749 §4.1.2.1).
fn checked(q: &AuthorizeRequest) -> Result<(LoopbackRedirect, CodeChallenge), AppError> {
    let bad = |why: String| {
        let reference = new_reference();
        tracing::warn!(security = true, reference, reason = %why, "CLI authorization request refused");
        AppError::new(
            Kind::BadRequest,
            Format::Html,
            reference,
            format!("This CLI sign-in request is not valid: {why}."),
        )
    };
    rules::check_client(q.client_id.as_deref()).map_err(|e| bad(e.description))?;
    let redirect =
        LoopbackRedirect::parse(q.redirect_uri.as_deref()).map_err(|e| bad(e.to_string()))?;
    if q.response_type.as_deref() != Some("code") {
        return Err(bad("response_type must be code".into()));
    }
    let challenge = CodeChallenge::parse(
        q.code_challenge.as_deref(),
        q.code_challenge_method.as_deref(),
    )
    .map_err(|e| bad(e.to_string()))?;
    if q.state.as_ref().is_some_and(|s| s.len() > 512) {
        return Err(bad("state is too long".into()));
    }
    Ok((redirect, challenge))
}

fn to_login(req: &HttpRequest) -> HttpResponse {
    let here = req
        .uri()
        .path_and_query()
        .map(|pq| pq.as_str().to_string())
        .unwrap_or_else(|| req.path().to_string());
    HttpResponse::SeeOther()
        .insert_header((
            "Location",
            format!("/login?return_to={}", urlencoding::encode(&here)),
        ))
        .finish()
}

async fn authorize_page(
    req: HttpRequest,
    query: web::Query<AuthorizeRequest>,
    MaybeSignedIn { signed_in, .. }: MaybeSignedIn,
) -> Result<HttpResponse, AppError> {
    let (redirect, challenge) = checked(&query)?;
    let Some(signed_in) = signed_in else {
        return Ok(to_login(&req));
    };
    let csp = crate::http::headers::content_security_policy(&[redirect.origin()]);
    let mut page = CliAuthorizePage {
        person: signed_in.person(),
        idp: signed_in.session.identity.idp.clone(),
        csrf_token: signed_in.session.csrf_token.clone(),
        client_id: rules::CLIENT_ID.into(),
        redirect_uri: redirect.as_str().into(),
        code_challenge: challenge.as_str().into(),
        state: query.state.clone().unwrap_or_default(),
    }
    .respond_to(&req)
    .map_into_boxed_body();
    // The Allow button's POST ends in a redirect to the CLI's loopback listener.
    if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&csp) {
        page.headers_mut()
            .insert(actix_web::http::header::CONTENT_SECURITY_POLICY, value);
    }
    Ok(page)
}

async fn authorize(
    state: web::Data<AppState>,
    req: HttpRequest,
    SignedInWithCsrf { signed_in, body }: SignedInWithCsrf<web::Form<AuthorizeRequest>>,
) -> Result<HttpResponse, AppError> {
    let (redirect, challenge) = checked(&body)?;
    let SignedIn {
        token_hash,
        session,
    } = &signed_in;
    let location = service::authorize(
        &state,
        &RequestMeta::of(&req),
        token_hash,
        session,
        &redirect,
        &challenge,
        body.state.as_deref().filter(|s| !s.is_empty()),
    )
    .await
    .map_err(html_error)?;
    Ok(HttpResponse::SeeOther()
        .insert_header(("Location", location))
        .insert_header(("Cache-Control", "no-store"))
        .finish())
}

fn html_error(e: Error) -> AppError {
    match e {
        Error::OAuth { reference, error } => {
            AppError::new(Kind::BadRequest, Format::Html, reference, error.description)
        }
        Error::Unavailable { reference } => AppError::new(
            Kind::Unavailable,
            Format::Html,
            reference,
            "Roleport cannot reach its database right now. Please try again in a moment.",
        ),
    }
}

/// RFC 6749 §5.2 error JSON (400, or 401 for `invalid_client`); 503 when Roleport failed.
fn oauth_error(e: Error) -> HttpResponse {
    match e {
        Error::OAuth { reference, error } => {
            let mut r = if error.code == "invalid_client" {
                HttpResponse::Unauthorized()
            } else {
                HttpResponse::BadRequest()
            };
            r.insert_header(("Cache-Control", "no-store"))
                .json(serde_json::json!({
                    "error": error.code,
                    "error_description": error.description,
                    "reference": reference,
                }))
        }
        Error::Unavailable { reference } => HttpResponse::ServiceUnavailable()
            .insert_header(("Cache-Control", "no-store"))
            .insert_header(("Retry-After", "5"))
            .json(serde_json::json!({
                "error": "temporarily_unavailable",
                "error_description": "Roleport cannot reach its database right now",
                "reference": reference,
            })),
    }
}

async fn token(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: Result<web::Form<TokenRequest>, actix_web::Error>,
) -> HttpResponse {
    let Ok(form) = form else {
        return oauth_error(Error::OAuth {
            reference: new_reference(),
            error: rules::OAuthError::new(
                "invalid_request",
                "expected an application/x-www-form-urlencoded body",
            ),
        });
    };
    match service::token(&state, &RequestMeta::of(&req), &form).await {
        Ok(t) => HttpResponse::Ok()
            .insert_header(("Cache-Control", "no-store"))
            .json(serde_json::json!({
                "access_token": t.access_token,
                "token_type": "Bearer",
                "expires_in": t.expires_in,
                "refresh_token": t.refresh_token,
                "reference": t.reference,
            })),
        Err(e) => oauth_error(e),
    }
}

#[derive(Deserialize)]
struct RevokeRequest {
    token: Option<String>,
}

async fn revoke(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: Result<web::Form<RevokeRequest>, actix_web::Error>,
) -> HttpResponse {
    let token = form
        .ok()
        .and_then(|f| f.into_inner().token)
        .unwrap_or_default();
    if token.is_empty() {
        return oauth_error(Error::OAuth {
            reference: new_reference(),
            error: rules::OAuthError::new("invalid_request", "token is missing"),
        });
    }
    match service::revoke(&state, &RequestMeta::of(&req), &token).await {
        Ok(()) => HttpResponse::Ok()
            .insert_header(("Cache-Control", "no-store"))
            .finish(),
        Err(e) => oauth_error(e),
    }
}

#[derive(Deserialize)]
struct DeviceAuthorizationRequest {
    client_id: Option<String>,
}

async fn device_authorization(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: Result<web::Form<DeviceAuthorizationRequest>, actix_web::Error>,
) -> HttpResponse {
    let client_id = form.ok().and_then(|f| f.into_inner().client_id);
    match service::start_device(&state, &RequestMeta::of(&req), client_id.as_deref()).await {
        Ok(d) => {
            let verification_uri = format!("{}/device", state.public_url);
            HttpResponse::Ok()
                .insert_header(("Cache-Control", "no-store"))
                .json(serde_json::json!({
                    "device_code": d.device_code,
                    "user_code": d.user_code.as_str(),
                    "verification_uri_complete": format!("{verification_uri}?user_code={}", d.user_code.as_str()),
                    "verification_uri": verification_uri,
                    "expires_in": d.expires_in,
                    "interval": d.interval,
                }))
        }
        Err(e) => oauth_error(e),
    }
}

#[derive(Deserialize)]
struct DeviceQuery {
    user_code: Option<String>,
}

fn device_page_for(
    signed_in: &SignedIn,
    pending: Option<PendingDeviceView>,
    message: &str,
) -> CliDevicePage {
    CliDevicePage {
        person: signed_in.person(),
        idp: signed_in.session.identity.idp.clone(),
        csrf_token: signed_in.session.csrf_token.clone(),
        pending,
        message: message.into(),
    }
}

async fn device_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<DeviceQuery>,
    MaybeSignedIn { signed_in, .. }: MaybeSignedIn,
) -> Result<HttpResponse, AppError> {
    let Some(signed_in) = signed_in else {
        return Ok(to_login(&req));
    };
    let typed = query.user_code.as_deref().unwrap_or_default();
    if typed.is_empty() {
        return Ok(device_page_for(&signed_in, None, "")
            .respond_to(&req)
            .map_into_boxed_body());
    }
    const NOT_PENDING: &str = "There is no pending request with this code. Check the code your terminal shows; it is valid for 10 minutes.";
    let Some(code) = UserCode::parse(typed) else {
        return Ok(device_page_for(&signed_in, None, NOT_PENDING)
            .respond_to(&req)
            .map_into_boxed_body());
    };
    let pending =
        crate::db::cli_oauth::pending_device(&state.pool, code.as_str(), state.clock.now())
            .await
            .map_err(|e| {
                let reference = new_reference();
                tracing::error!(reference, error = %e, "device code lookup failed");
                AppError::new(
                    Kind::Unavailable,
                    Format::Html,
                    reference,
                    "Roleport cannot reach its database right now. Please try again in a moment.",
                )
            })?;
    let Some(p) = pending else {
        tracing::info!(subject = %signed_in.session.identity.subject, "device page: no pending request for the code entered");
        return Ok(device_page_for(&signed_in, None, NOT_PENDING)
            .respond_to(&req)
            .map_into_boxed_body());
    };
    let view = PendingDeviceView {
        user_code: p.user_code,
        source_ip: p.source_ip.unwrap_or_else(|| "unknown".into()),
        user_agent: p.user_agent.unwrap_or_else(|| "unknown".into()),
        requested_at: p.created_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
    };
    Ok(device_page_for(&signed_in, Some(view), "")
        .respond_to(&req)
        .map_into_boxed_body())
}

#[derive(Deserialize)]
struct DeviceDecision {
    csrf_token: Option<String>,
    user_code: Option<String>,
    decision: Option<String>,
}

impl CsrfForm for DeviceDecision {
    fn csrf_token(&self) -> Option<&str> {
        self.csrf_token.as_deref()
    }
    const EXPIRED: &'static str = "This form has expired. Open the link your terminal shows again.";
}

async fn device_decide(
    state: web::Data<AppState>,
    req: HttpRequest,
    SignedInWithCsrf { signed_in, body }: SignedInWithCsrf<web::Form<DeviceDecision>>,
) -> Result<HttpResponse, AppError> {
    let approve = match body.decision.as_deref() {
        Some("approve") => true,
        Some("deny") => false,
        _ => {
            return Err(AppError::new(
                Kind::BadRequest,
                Format::Html,
                new_reference(),
                "Choose Approve or Deny.",
            ));
        }
    };
    let Some(code) = body.user_code.as_deref().and_then(UserCode::parse) else {
        return Ok(
            device_page_for(&signed_in, None, "That is not a code Roleport gives out.")
                .respond_to(&req)
                .map_into_boxed_body(),
        );
    };
    let (done, reference) = service::decide_device(
        &state,
        &RequestMeta::of(&req),
        &signed_in.token_hash,
        &signed_in.session,
        &code,
        approve,
    )
    .await
    .map_err(html_error)?;
    if !done {
        return Ok(device_page_for(
            &signed_in,
            None,
            "This request is no longer pending: it expired or was already answered.",
        )
        .respond_to(&req)
        .map_into_boxed_body());
    }
    Ok(CliDeviceDonePage {
        person: signed_in.person(),
        idp: signed_in.session.identity.idp.clone(),
        csrf_token: signed_in.session.csrf_token.clone(),
        approved: approve,
        reference,
    }
    .respond_to(&req)
    .map_into_boxed_body())
}
