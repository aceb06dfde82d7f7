//! From a picked grant to AWS: `POST /api/v1/credentials`, console links
//! and their bookmarkable shortcuts, and Roleport's IdP metadata for IAM.
//!
//! Order of events for every issue ([`crate::service::issue`]): the grant is re-derived from the
//! rules (deny by default), STS is called, the audit row is committed, and only then does
//! anything leave Roleport.

use super::api_caller::ApiWriter;
use super::session::{CsrfForm, MaybeSignedIn, SignedInWithCsrf};
use crate::audit::{EventKind, new_reference};
use crate::aws::federation;
use crate::http::AppState;
use crate::http::errors::{AppError, Format, Kind};
use crate::http::request_meta::RequestMeta;
use crate::http::views::{ConsoleConfirmPage, SamlPostPage};
use crate::protocol::aws::{console_destination, login_url, signin_token_url};
use crate::protocol::mapping::Grant;
use crate::service::{console_post, issue};
use actix_web::{HttpRequest, HttpResponse, Responder, web};
use serde::Deserialize;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/aws/saml-metadata.xml", web::get().to(idp_metadata))
        .route("/api/v1/credentials", web::post().to(api_credentials))
        .route("/api/v1/console", web::post().to(api_console))
        .route("/roles/{grant}/console", web::post().to(console))
        .route("/roles/{grant}/console", web::get().to(console_shortcut))
        .route("/roles/{grant}/saml-post", web::post().to(saml_post))
        // The credentials page, issued once per click.
        .configure(super::credentials_page::configure);
}

async fn idp_metadata(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/samlmetadata+xml")
        .body(
            state
                .aws
                .idp_metadata(&format!("{}/login", state.public_url)),
        )
}

#[derive(Deserialize)]
struct CredentialsRequest {
    grant: String,
    duration_seconds: Option<u32>,
}

/// For the browser (cookie + `X-CSRF-Token`) and the CLI (`Authorization: Bearer`).
async fn api_credentials(
    state: web::Data<AppState>,
    req: HttpRequest,
    ApiWriter(caller): ApiWriter,
) -> Result<HttpResponse, AppError> {
    let request: CredentialsRequest = crate::http::errors::json_body(
        &caller.body,
        r#"{"grant": "<id>", "duration_seconds": N}"#,
    )?;
    let d = issue::issue(
        &state,
        &RequestMeta::of(&req),
        &caller.session,
        &request.grant,
        request.duration_seconds,
        EventKind::CredentialsIssued,
    )
    .await
    .map_err(|e| AppError::from_service(e, Format::Json))?;
    let c = &d.outcome.issued.credentials;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "Version": 1,
        "AccessKeyId": c.access_key_id,
        "SecretAccessKey": c.secret_access_key,
        "SessionToken": c.session_token,
        "Expiration": c.expiration.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "AssumedRoleArn": d.outcome.issued.assumed_role_arn,
        "DurationSeconds": d.outcome.duration.seconds(),
        "Reference": d.reference,
    })))
}

#[derive(Deserialize)]
pub(super) struct CredentialsForm {
    csrf_token: Option<String>,
    pub(super) duration_seconds: Option<String>,
}

const BACK_TO_ROLES: &str = "This form has expired. Go back to your roles and try again.";

impl CsrfForm for CredentialsForm {
    fn csrf_token(&self) -> Option<&str> {
        self.csrf_token.as_deref()
    }
    const EXPIRED: &'static str = BACK_TO_ROLES;
}

#[derive(Deserialize)]
struct ConsoleForm {
    csrf_token: Option<String>,
    /// The picker's session length (empty: the default hour); the grant's limits still apply.
    #[serde(default)]
    duration_seconds: Option<String>,
    #[serde(flatten)]
    destination: Destination,
}

impl CsrfForm for ConsoleForm {
    fn csrf_token(&self) -> Option<&str> {
        self.csrf_token.as_deref()
    }
    const EXPIRED: &'static str = BACK_TO_ROLES;
}

/// Where in the console to land: a service, a region and a path on the partition's console.
/// `destination` may carry them as one relative URL (`s3/home?region=eu-west-1`), the form a
/// bookmark keeps; only `region` is accepted in its query.
#[derive(Deserialize, Default)]
struct Destination {
    destination: Option<String>,
    service: Option<String>,
    region: Option<String>,
}

fn destination_url(
    state: &AppState,
    grant: &Grant,
    d: &Destination,
    reference: &str,
) -> Result<String, AppError> {
    let bad = |msg: String| {
        AppError::new(Kind::BadRequest, Format::Html, reference, msg).asked_for(format!(
            "You asked for the console of {} in {}, at a page it does not accept.",
            crate::http::views::role_label(&grant.display_name, &grant.role_name),
            grant.account_alias
        ))
    };
    let endpoints = state.aws.endpoints(grant.partition).ok_or_else(|| {
        AppError::new(
            Kind::Internal,
            Format::Html,
            reference,
            "No console is configured for this partition.",
        )
    })?;
    // As copied from the console's address bar: path, `?query` and `#fragment` are checked in
    // protocol::aws::console; a form's own region field beats a region in the query.
    let path = d
        .destination
        .as_deref()
        .map(|p| p.strip_prefix('/').unwrap_or(p))
        .filter(|p| !p.is_empty());
    let region = d.region.as_deref().filter(|r| !r.is_empty());
    let service = d.service.as_deref().filter(|s| !s.is_empty());
    console_destination(&endpoints.console, service, region, path)
        .map(|u| u.to_string())
        .map_err(|e| bad(e.to_string()))
}

/// A form's session length in seconds; empty or absent is the default.
pub(super) fn requested_seconds(field: Option<&str>) -> Result<Option<u32>, AppError> {
    field
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<u32>())
        .transpose()
        .map_err(|_| {
            AppError::new(
                Kind::BadRequest,
                Format::Html,
                new_reference(),
                "The session length must be a number of seconds.",
            )
        })
}

async fn console(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    SignedInWithCsrf {
        signed_in,
        body: form,
    }: SignedInWithCsrf<web::Form<ConsoleForm>>,
) -> Result<HttpResponse, AppError> {
    let Some(picked) = issue::pick(&state, &signed_in.session.identity, &path) else {
        return Err(AppError::new(
            Kind::NotFound,
            Format::Html,
            new_reference(),
            "You have no such role.",
        ));
    };
    let requested = requested_seconds(form.duration_seconds.as_deref())?;
    let url = console_link(
        &state,
        &RequestMeta::of(&req),
        &signed_in.session,
        &picked,
        &form.destination,
        requested,
        Format::Html,
    )
    .await?;
    Ok(HttpResponse::SeeOther()
        .insert_header(("Location", url.to_string()))
        .finish())
}

/// Issues credentials for the picked grant's console (audited as such) and turns them into an
/// AWS console sign-in link landing on `destination`.
async fn console_link(
    state: &AppState,
    meta: &RequestMeta,
    session: &crate::db::sessions::Session,
    picked: &issue::Picked,
    destination: &Destination,
    requested_seconds: Option<u32>,
    format: Format,
) -> Result<url::Url, AppError> {
    // Validate the destination before anything is issued.
    let destination = destination_url(state, &picked.grant, destination, &new_reference())
        .map_err(|mut e| {
            e.format = format;
            e
        })?;
    let d = issue::issue(
        state,
        meta,
        session,
        &picked.grant.id,
        requested_seconds,
        EventKind::ConsoleLink,
    )
    .await
    .map_err(|e| AppError::from_service(e, format))?;
    let endpoints = state
        .aws
        .endpoints(d.picked.grant.partition)
        .ok_or_else(|| {
            AppError::new(
                Kind::Internal,
                format,
                d.reference.clone(),
                "No console is configured.",
            )
        })?;
    let unavailable = |e: String| {
        tracing::error!(reference = %d.reference, error = %e, "console sign-in link failed");
        AppError::new(
            Kind::Unavailable,
            format,
            d.reference.clone(),
            "The AWS sign-in service did not answer as expected. Please try again.",
        )
    };
    let session_duration = d
        .outcome
        .kind
        .allows_console_session_duration()
        .then(|| d.outcome.duration.seconds());
    let request = signin_token_url(
        &endpoints.federation,
        &d.outcome.issued.credentials,
        d.outcome.kind,
        session_duration,
    )
    .map_err(|e| unavailable(e.to_string()))?;
    let token = federation::signin_token(&state.aws.http, request)
        .await
        .map_err(|e| unavailable(format!("{}: {e}", e.code())))?;
    let url = login_url(
        &endpoints.federation,
        &state.public_url,
        &destination,
        &token,
    )
    .map_err(|e| unavailable(e.to_string()))?;
    Ok(url)
}

#[derive(Deserialize)]
struct ConsoleRequest {
    grant: String,
    #[serde(flatten)]
    destination: Destination,
}

/// `POST /api/v1/console`: the console sign-in link as JSON, for the CLI (`Authorization:
/// Bearer`) or the browser (cookie + `X-CSRF-Token`).
async fn api_console(
    state: web::Data<AppState>,
    req: HttpRequest,
    ApiWriter(caller): ApiWriter,
) -> Result<HttpResponse, AppError> {
    let request: ConsoleRequest = crate::http::errors::json_body(
        &caller.body,
        r#"{"grant": "<id>", "destination": "<console path>"}"#,
    )?;
    let Some(picked) = issue::pick(&state, &caller.session.identity, &request.grant) else {
        return Err(AppError::new(
            Kind::NotFound,
            Format::Json,
            new_reference(),
            "You have no such role.",
        ));
    };
    let url = console_link(
        &state,
        &RequestMeta::of(&req),
        &caller.session,
        &picked,
        &request.destination,
        None,
        Format::Json,
    )
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(serde_json::json!({ "url": url.to_string() })))
}

/// A bookmarkable link: signs in first if needed, then asks for one click (a CSRF-protected
/// form), because a GET must never issue credentials.
async fn console_shortcut(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<Destination>,
    MaybeSignedIn { signed_in, .. }: MaybeSignedIn,
) -> Result<HttpResponse, AppError> {
    let Some(signed_in) = signed_in else {
        let here = match req.uri().path_and_query() {
            Some(pq) => pq.as_str().to_string(),
            None => req.path().to_string(),
        };
        return Ok(HttpResponse::SeeOther()
            .insert_header((
                "Location",
                format!("/login?return_to={}", urlencoding::encode(&here)),
            ))
            .finish());
    };
    let Some(picked) = issue::pick(&state, &signed_in.session.identity, &path) else {
        return Err(AppError::new(
            Kind::NotFound,
            Format::Html,
            new_reference(),
            "You have no such role.",
        ));
    };
    let shown = destination_url(&state, &picked.grant, &query, &new_reference())?;
    let destination = query.destination.clone().unwrap_or_default();
    Ok(ConsoleConfirmPage {
        person: signed_in.person(),
        idp: signed_in.session.identity.idp.clone(),
        grant_id: picked.grant.id.clone(),
        role_name: crate::http::views::role_label(
            &picked.grant.display_name,
            &picked.grant.role_name,
        ),
        account_alias: picked.grant.account_alias.clone(),
        account_id: picked.grant.account_id.clone(),
        destination,
        service: query.service.clone().unwrap_or_default(),
        region: query.region.clone().unwrap_or_default(),
        destination_url: shown,
        csrf_token: signed_in.session.csrf_token.clone(),
    }
    .respond_to(&req)
    .map_into_boxed_body())
}

/// Console-only sign-in through AWS's own SAML endpoint: Roleport signs a Response for exactly
/// this role and the browser posts it to AWS, which then runs the console session itself. No
/// STS call, no credentials in Roleport's hands; the audit row is committed before the page.
async fn saml_post(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    SignedInWithCsrf { signed_in, body: _ }: SignedInWithCsrf<web::Form<CredentialsForm>>,
) -> Result<HttpResponse, AppError> {
    let console_post::Posted {
        picked,
        signed,
        reference,
    } = console_post::saml_post(&state, &RequestMeta::of(&req), &signed_in.session, &path).await?;
    let origin = url::Url::parse(&signed.recipient)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default();
    let page = SamlPostPage {
        role_name: crate::http::views::role_label(
            &picked.grant.display_name,
            &picked.grant.role_name,
        ),
        account_alias: picked.grant.account_alias.clone(),
        recipient: signed.recipient.clone(),
        saml_response: signed.signed.saml_response.clone(),
        reference,
    };
    let body = askama::Template::render(&page).map_err(|e| {
        let reference = new_reference();
        tracing::error!(reference, error = %e, "SAML POST page not rendered");
        AppError::new(
            Kind::Internal,
            Format::Html,
            reference,
            "Roleport could not show this page. Please try again.",
        )
    })?;
    // This one page may post to AWS's sign-in endpoint; every other page only to Roleport.
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((
            "Content-Security-Policy",
            format!(
                "default-src 'none'; style-src 'self'; script-src 'self'; form-action {origin}; frame-ancestors 'none'; base-uri 'none'"
            ),
        ))
        .body(body))
}
