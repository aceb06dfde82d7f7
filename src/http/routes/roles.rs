//! The role picker: `/roles` (HTML) and `/api/v1/roles` (JSON), evaluated afresh per request from
//! the compiled rules so a rule change applies without signing in again; and a person's stars
//! (`POST /roles/{grant}/favourite`). The page model is built in [`crate::http::picker`].

use super::acs::claims_of;
use super::api_caller::ApiReader;
use super::session::{CsrfForm, MaybeSignedIn, SignedIn, SignedInWithCsrf};
use crate::audit::new_reference;
use crate::db;
use crate::http::AppState;
use crate::http::errors::{AppError, Format, Kind};
use crate::http::picker::{self, PickerInput, RECENT_SHOWN};
use crate::http::views::{NoRolesPage, SessionEnds};
use actix_web::{HttpRequest, HttpResponse, Responder, web};
use serde::Deserialize;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/roles", web::get().to(roles_page))
        .route("/api/v1/roles", web::get().to(roles_api))
        .route("/roles/{grant}/favourite", web::post().to(favourite));
}

#[derive(Deserialize)]
struct PickerQuery {
    #[serde(default)]
    q: String,
}

/// A lookup of the person's own stars or history failed: logged, and the picker still shows
/// every role (they are a convenience, never a condition).
fn or_empty(result: Result<Vec<String>, sqlx::Error>, what: &str) -> Vec<String> {
    result.unwrap_or_else(|e| {
        tracing::error!(error = %e, "{what} could not be read; the picker lists roles without them");
        Vec::new()
    })
}

async fn stars_and_recent(state: &AppState, signed_in: &SignedIn) -> (Vec<String>, Vec<String>) {
    let identity = &signed_in.session.identity;
    let (stars, recent) = tokio::join!(
        db::favourites::list(&state.pool, &identity.idp, &identity.subject),
        db::own_activity::recent_grants(
            &state.pool,
            &identity.idp,
            &identity.subject,
            RECENT_SHOWN
        ),
    );
    (
        or_empty(stars, "favourites"),
        or_empty(recent, "recently used roles"),
    )
}

async fn roles_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: Option<web::Query<PickerQuery>>,
    MaybeSignedIn { signed_in, .. }: MaybeSignedIn,
) -> Result<HttpResponse, AppError> {
    let Some(signed_in) = signed_in else {
        return Ok(HttpResponse::SeeOther()
            .insert_header(("Location", "/login?return_to=%2Froles"))
            .finish());
    };
    let identity = &signed_in.session.identity;
    let rules = state.rules();
    let decision = rules.evaluate(&claims_of(identity));
    let person = signed_in.person();
    let csrf_token = signed_in.session.csrf_token.clone();
    if decision.grants.is_empty() {
        let reference = signed_in.session.sign_in_reference.clone();
        tracing::info!(reference, idp = %identity.idp, subject = %identity.subject, groups = ?identity.groups, "no role granted");
        return Ok(NoRolesPage {
            session_ends: SessionEnds::at(signed_in.session.expires_at),
            person,
            idp: identity.idp.clone(),
            csrf_token,
            reference,
        }
        .respond_to(&req)
        .map_into_boxed_body());
    }
    let (favourites, recent) = stars_and_recent(&state, &signed_in).await;
    let query = query.map(|q| q.into_inner().q).unwrap_or_default();
    let page = picker::roles_page(
        &decision,
        PickerInput {
            person,
            idp: identity.idp.clone(),
            csrf_token,
            accounts: &rules.rule_set().accounts,
            favourites: &favourites,
            recent: &recent,
            query: &query,
            can_decode: decision
                .capabilities
                .contains(super::support::DECODE_CAPABILITY),
            can_admin: !crate::admin::capability::areas(&decision.capabilities).is_empty(),
            public_url: &state.public_url,
            session_ends: SessionEnds::at(signed_in.session.expires_at),
        },
    );
    let html = picker::render_roles_page(&page).map_err(|e| {
        let reference = new_reference();
        tracing::error!(reference, error = %e, "roles page failed to render");
        AppError::new(Kind::Internal, Format::Html, reference, "internal error")
    })?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(html))
}

/// For the browser (cookie) and the CLI (`Authorization: Bearer`).
async fn roles_api(
    state: web::Data<AppState>,
    ApiReader(caller): ApiReader,
) -> Result<HttpResponse, AppError> {
    let rules = state.rules();
    let identity = &caller.session.identity;
    let decision = rules.evaluate(&claims_of(identity));
    let favourites = or_empty(
        db::favourites::list(&state.pool, &identity.idp, &identity.subject).await,
        "favourites",
    );
    let body =
        picker::grants_json(&decision, &rules.rule_set().accounts, &favourites).map_err(|e| {
            let reference = new_reference();
            tracing::error!(reference, error = %e, "roles JSON failed");
            AppError::new(Kind::Internal, Format::Json, reference, "internal error")
        })?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(body))
}

/// The star of one role: `star=on` or `star=off`. The picker's form posts it with every other
/// field of the page (they are ignored here).
#[derive(Deserialize)]
struct FavouriteForm {
    csrf_token: Option<String>,
    star: Option<String>,
}

impl CsrfForm for FavouriteForm {
    fn csrf_token(&self) -> Option<&str> {
        self.csrf_token.as_deref()
    }
    const EXPIRED: &'static str = "This form has expired. Go back to your roles and try again.";
}

/// Stars or unstars a role the person holds. Without scripts the browser follows a 303 back to
/// the picker; roleport.js sends `Accept: application/json` and gets a small JSON answer.
async fn favourite(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    SignedInWithCsrf {
        signed_in,
        body: form,
    }: SignedInWithCsrf<web::Form<FavouriteForm>>,
) -> Result<HttpResponse, AppError> {
    let wants_json = req
        .headers()
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let format = if wants_json {
        Format::Json
    } else {
        Format::Html
    };
    let on = match form.star.as_deref() {
        Some("on") => true,
        Some("off") => false,
        _ => {
            return Err(AppError::new(
                Kind::BadRequest,
                format,
                new_reference(),
                "star must be on or off.",
            ));
        }
    };
    let identity = &signed_in.session.identity;
    let grant_id = path.into_inner();
    // Only a role the rules grant right now can be starred (a star never grants anything, but
    // the table should not collect arbitrary text). Unstarring is always allowed.
    let held = state
        .rules()
        .evaluate(&claims_of(identity))
        .grants
        .iter()
        .any(|g| g.id == grant_id);
    if on && !held {
        let reference = new_reference();
        tracing::info!(reference, subject = %identity.subject, grant_id, "star refused: no such grant");
        return Err(
            AppError::new(Kind::NotFound, format, reference, "You have no such role.")
                .asked_for(format!("the role {grant_id}")),
        );
    }
    db::favourites::set(
        &state.pool,
        &identity.idp,
        &identity.subject,
        &grant_id,
        on,
        state.clock.now(),
    )
    .await
    .map_err(|e| {
        let reference = new_reference();
        tracing::error!(reference, error = %e, "favourite not saved");
        AppError::new(
            Kind::Unavailable,
            format,
            reference,
            "Your favourite could not be saved. Please try again.",
        )
    })?;
    if wants_json {
        return Ok(
            HttpResponse::Ok().json(serde_json::json!({ "grant": grant_id, "favourite": on }))
        );
    }
    Ok(HttpResponse::SeeOther()
        .insert_header(("Location", "/roles"))
        .finish())
}
