//! Sign-out: `GET /logout` only asks (a page with a button), `POST /logout` with the session's
//! CSRF token ends the session and answers a "You are signed out" page (not a redirect, so the
//! person sees that it worked). Another site can therefore not sign a person out.

use super::session::MaybeSignedIn;
use crate::audit::{AuditEvent, EventKind, Outcome, new_reference};
use crate::db;
use crate::http::AppState;
use crate::http::errors::{AppError, Format, Kind};
use crate::http::request_meta::RequestMeta;
use crate::http::views::{SignOutPage, SignedOutPage};
use actix_web::{HttpRequest, HttpResponse, Responder, web};
use serde::Deserialize;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/logout", web::get().to(confirm))
        .route("/logout", web::post().to(sign_out));
}

async fn confirm(
    req: HttpRequest,
    MaybeSignedIn { signed_in, .. }: MaybeSignedIn,
) -> Result<HttpResponse, AppError> {
    match signed_in {
        Some(signed_in) => Ok(SignOutPage {
            person: signed_in.person(),
            idp: signed_in.session.identity.idp.clone(),
            csrf_token: signed_in.session.csrf_token.clone(),
        }
        .respond_to(&req)
        .map_into_boxed_body()),
        None => Ok(to_login()),
    }
}

#[derive(Deserialize)]
struct SignOutForm {
    csrf_token: Option<String>,
}

async fn sign_out(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<SignOutForm>,
    MaybeSignedIn { signed_in, .. }: MaybeSignedIn,
) -> Result<HttpResponse, AppError> {
    // Not [`SignedInWithCsrf`]: a stranger is sent to /login, and a refusal is audited.
    let Some(signed_in) = signed_in else {
        return Ok(to_login());
    };
    let reference = new_reference();
    let mut event = AuditEvent::new(EventKind::SignOut, Outcome::Accepted);
    event.idp = Some(signed_in.session.identity.idp.clone());
    event.subject = Some(signed_in.session.identity.subject.clone());
    let meta = RequestMeta::of(&req);
    event.source_ip = meta.source_ip;
    event.user_agent = meta.user_agent;
    if !signed_in.csrf_matches(form.csrf_token.as_deref()) {
        tracing::warn!(security = true, reference, subject = %signed_in.session.identity.subject, "sign-out refused: missing or wrong CSRF token");
        event.outcome = Outcome::Rejected;
        event.reason = Some("bad_csrf_token: sign-out without the session's CSRF token".into());
        audit_or_log(&state, &reference, event).await;
        return Err(AppError::new(
            Kind::BadRequest,
            Format::Html,
            reference,
            "This sign-out form has expired, so you are still signed in. Sign out with the button on a Roleport page.",
        )
        .back_to("/logout", "Sign out"));
    }
    if let Err(e) = db::sessions::delete(&state.pool, &signed_in.token_hash).await {
        tracing::error!(reference, error = %e, "cannot delete session");
        return Err(AppError::new(
            Kind::Unavailable,
            Format::Html,
            reference,
            "Roleport cannot reach its database right now; you are still signed in. Please try again.",
        ));
    }
    audit_or_log(&state, &reference, event).await;
    tracing::info!(reference, subject = %signed_in.session.identity.subject, "signed out");
    let mut page = SignedOutPage { reference }
        .respond_to(&req)
        .map_into_boxed_body();
    page.add_cookie(&state.cookies.removal(state.cookies.session_name()))
        .map_err(|e| {
            let reference = new_reference();
            tracing::error!(reference, error = %e, "cannot write the cookie removal");
            AppError::new(
                Kind::Internal,
                Format::Html,
                reference,
                "Something went wrong.",
            )
        })?;
    Ok(page)
}

async fn audit_or_log(state: &AppState, reference: &str, event: AuditEvent) {
    if let Err(e) = db::audit::append(&state.pool, reference, state.clock.now(), event).await {
        tracing::error!(reference, error = %e, "audit write failed");
    }
}

fn to_login() -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header(("Location", "/login"))
        .finish()
}
