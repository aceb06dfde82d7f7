//! `/admin/sessions`: who is signed in now, a page of 50 at a time; ending a session
//! (CSRF-protected POST, audited).

use super::{gated, html, see_other};
use crate::admin::capability::Area;
use crate::admin::session_page::{PAGE_SIZE, SessionCursor};
use crate::audit::{EventKind, Outcome};
use crate::db;
use crate::http::AppState;
use crate::http::admin_views::{AdminSessionsPage, SessionView};
use crate::http::errors::{AppError, Format, Kind};
use crate::http::routes::session::{CsrfForm, MaybeSignedIn, SignedInWithCsrf};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/sessions", web::get().to(list))
        .route("/admin/sessions/end", web::post().to(end));
}

fn time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

#[derive(Deserialize)]
struct ListQuery {
    ended: Option<String>,
    /// The page after this row ([`SessionCursor`]); none: the newest sign-ins.
    after: Option<String>,
}

async fn list(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<ListQuery>,
    MaybeSignedIn { signed_in, .. }: MaybeSignedIn,
) -> Result<HttpResponse, AppError> {
    let admin = gated!(state, req, signed_in, Some(Area::Sessions));
    let after = match query.after.as_deref().map(SessionCursor::parse).transpose() {
        Ok(after) => after,
        Err(_) => {
            let reference = crate::audit::new_reference();
            tracing::info!(reference, "sessions page: not a page cursor");
            return Err(AppError::new(
                Kind::BadRequest,
                Format::Html,
                reference,
                "That page of the sessions list does not exist.",
            )
            .asked_for("a page of the live sessions")
            .back_to("/admin/sessions", "Back to the newest sessions"));
        }
    };
    let reference = admin
        .admin_action(
            &state,
            &req,
            "sessions.list",
            serde_json::json!({ "after": query.after }),
        )
        .await?;
    // One more than shown: whether an older page exists.
    let (mut sessions, total) = db::sessions::active(
        &state.pool,
        state.clock.now(),
        after.as_ref(),
        PAGE_SIZE + 1,
    )
    .await
    .map_err(|e| super::db_unavailable(reference.clone(), "listing sessions", &e))?;
    let more = sessions.len() > PAGE_SIZE as usize;
    sessions.truncate(PAGE_SIZE as usize);
    let older_href = more
        .then(|| sessions.last())
        .flatten()
        .map(|last| format!("/admin/sessions?after={}", last.cursor().to_param()));
    let own = hex::encode(&admin.signed_in.token_hash);
    let views = sessions
        .into_iter()
        .map(|s| SessionView {
            yours: s.handle == own,
            person: s.identity.name_to_show(),
            audit_href: format!(
                "/admin/audit?person={}&idp={}",
                urlencoding::encode(&s.identity.subject),
                urlencoding::encode(&s.identity.idp)
            ),
            subject: s.identity.subject,
            idp: s.identity.idp,
            since: time(s.since),
            expires: time(s.expires_at),
            source: s.source_ip.unwrap_or_else(|| "not recorded".into()),
            reference: s.sign_in_reference,
            handle: s.handle,
        })
        .collect();
    // Only a short, fixed word travels in the URL (never a name): "ended", "gone" or "again".
    let ended = match query.ended.as_deref() {
        Some("ended") => Some("The session has ended.".to_string()),
        Some("gone") => Some("That session had already ended.".to_string()),
        Some("again") => Some(
            "You signed in again. No session was ended: press End session again if you still want to."
                .to_string(),
        ),
        _ => None,
    };
    Ok(html(
        StatusCode::OK,
        &AdminSessionsPage {
            nav: admin.nav(),
            sessions: views,
            ended,
            total,
            page_size: PAGE_SIZE,
            first_page: after.is_none(),
            older_href,
        },
    ))
}

#[derive(Deserialize)]
struct EndForm {
    csrf_token: Option<String>,
    session: Option<String>,
}

impl CsrfForm for EndForm {
    fn csrf_token(&self) -> Option<&str> {
        self.csrf_token.as_deref()
    }
}

async fn end(
    state: web::Data<AppState>,
    req: HttpRequest,
    SignedInWithCsrf { signed_in, body }: SignedInWithCsrf<web::Form<EndForm>>,
) -> Result<HttpResponse, AppError> {
    let admin = gated!(
        state,
        req,
        Some(signed_in),
        Some(Area::Sessions),
        super::draft::Resume::Page("/admin/sessions?ended=again")
    );
    let handle = body.session.clone().unwrap_or_default();
    let hash = hex::decode(&handle).ok().filter(|h| h.len() == 32);
    let Some(hash) = hash else {
        let reference = admin
            .record(
                &state,
                &req,
                EventKind::AdminAction,
                Outcome::Rejected,
                "sessions.end",
                serde_json::json!({ "problem": "not a session handle" }),
            )
            .await?;
        return Err(AppError::new(
            Kind::BadRequest,
            Format::Html,
            reference,
            "That is not a session Roleport knows.",
        )
        .back_to("/admin/sessions", "Back to the sessions"));
    };
    // Record the intent first: nothing is done unless the row is written.
    let reference = admin
        .admin_action(
            &state,
            &req,
            "sessions.end",
            serde_json::json!({ "session": handle }),
        )
        .await?;
    let ended = db::sessions::end(&state.pool, &hash).await.map_err(|e| {
        tracing::error!(reference, error = %e, "ending a session failed");
        AppError::new(
            Kind::Unavailable,
            Format::Html,
            reference.clone(),
            "Roleport cannot reach its database right now; the session was not ended.",
        )
    })?;
    match ended {
        Some(identity) => {
            // A second row names whose session it was, under the same reference.
            let event_details = serde_json::json!({
                "session": handle,
                "ended_subject": identity.subject,
                "ended_idp": identity.idp,
            });
            let mut event = super::event_for(EventKind::AdminAction, &admin.signed_in, &req);
            event.outcome = Outcome::Accepted;
            event.details = super::with_action(event_details, "sessions.ended");
            if let Err(e) =
                db::audit::append(&state.pool, &reference, state.clock.now(), event).await
            {
                tracing::error!(reference, error = %e, "audit write failed after ending a session");
            }
            tracing::warn!(security = true, reference, by = %admin.signed_in.session.identity.subject, subject = %identity.subject, idp = %identity.idp, "session ended by an admin");
            Ok(see_other("/admin/sessions?ended=ended"))
        }
        None => Ok(see_other("/admin/sessions?ended=gone")),
    }
}
