//! The security team's pages under `/admin`: audit, sessions, rules, identity providers.
//!
//! Every handler goes through [`gate`]: a signed-in person (else the sign-in page and back),
//! whose rules grant the area's capability (else 403 and an audit row), with a recent sign-in
//! (else the identity provider again and back, `[admin] reauth_after_seconds`; a form sent
//! meanwhile is not lost, see [`draft`]). Every admin
//! action writes an audit row (`admin_action`, `rules_imported`) before it answers.

mod audit;
mod document_form;
mod draft;
mod idps;
mod rules;
mod sessions;

use super::session::SignedIn;
use crate::admin::capability::{self, Area};
use crate::admin::reauth;
use crate::audit::{AuditEvent, EventKind, Outcome, new_reference};
use crate::db;
use crate::domain::ReturnTo;
use crate::http::AppState;
use crate::http::admin_views::{AdminIndexPage, AdminNav, AreaLink};
use crate::http::errors::{AppError, Format, Kind};
use crate::http::request_meta::RequestMeta;
use crate::http::views::ErrorPage;
use crate::service::claims_of;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use std::collections::BTreeSet;

const CSS: &str = include_str!("../../../../static/admin.css");
const JS: &str = include_str!("../../../../static/admin.js");

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/static/admin.css", web::get().to(css))
        .route("/static/admin.js", web::get().to(js))
        .route("/admin", web::get().to(index));
    audit::configure(cfg);
    sessions::configure(cfg);
    rules::configure(cfg);
    idps::configure(cfg);
}

async fn css() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(CSS)
}

async fn js() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(JS)
}

/// A person allowed into an admin area, with a recent sign-in.
pub(crate) struct Admin {
    pub signed_in: SignedIn,
    pub capabilities: BTreeSet<String>,
    pub area: Option<Area>,
}

impl Admin {
    pub fn nav(&self) -> AdminNav {
        let identity = &self.signed_in.session.identity;
        AdminNav {
            person: identity.name_to_show(),
            idp: identity.idp.clone(),
            csrf_token: self.signed_in.session.csrf_token.clone(),
            areas: capability::areas(&self.capabilities)
                .into_iter()
                .map(|a| AreaLink {
                    href: a.href(),
                    title: a.title(),
                    current: Some(a) == self.area,
                })
                .collect(),
        }
    }

    /// An audit row for this person's admin action, written before the answer. `Err` when it
    /// could not be written: then nothing is shown or done.
    pub async fn record(
        &self,
        state: &AppState,
        req: &HttpRequest,
        kind: EventKind,
        outcome: Outcome,
        action: &str,
        details: serde_json::Value,
    ) -> Result<String, AppError> {
        let reference = new_reference();
        self.record_as(state, req, &reference, kind, outcome, action, details)
            .await?;
        Ok(reference)
    }

    /// An accepted admin action (most pages): [`Admin::record`] as `admin_action`, `accepted`.
    pub async fn admin_action(
        &self,
        state: &AppState,
        req: &HttpRequest,
        action: &str,
        details: serde_json::Value,
    ) -> Result<String, AppError> {
        self.record(
            state,
            req,
            EventKind::AdminAction,
            Outcome::Accepted,
            action,
            details,
        )
        .await
    }

    /// [`Admin::record`] under a reference already given (a second row of one action).
    #[allow(clippy::too_many_arguments)]
    pub async fn record_as(
        &self,
        state: &AppState,
        req: &HttpRequest,
        reference: &str,
        kind: EventKind,
        outcome: Outcome,
        action: &str,
        details: serde_json::Value,
    ) -> Result<(), AppError> {
        let mut event = event_for(kind, &self.signed_in, req);
        event.outcome = outcome;
        event.details = with_action(details, action);
        if let Err(e) = db::audit::append(&state.pool, reference, state.clock.now(), event).await {
            tracing::error!(reference, error = %e, action, "audit write failed: admin action not done");
            return Err(AppError::new(
                Kind::Unavailable,
                Format::Html,
                reference,
                "Roleport could not record this admin action, so it did not do it. Please try again in a moment.",
            ));
        }
        Ok(())
    }
}

fn with_action(details: serde_json::Value, action: &str) -> serde_json::Value {
    let mut map = match details {
        serde_json::Value::Object(map) => map,
        serde_json::Value::Null => serde_json::Map::new(),
        other => {
            let mut m = serde_json::Map::new();
            m.insert("value".into(), other);
            m
        }
    };
    map.insert("action".into(), action.into());
    serde_json::Value::Object(map)
}

fn event_for(kind: EventKind, signed_in: &SignedIn, req: &HttpRequest) -> AuditEvent {
    let identity = &signed_in.session.identity;
    let meta = RequestMeta::of(req);
    let mut event = AuditEvent::new(kind, Outcome::Rejected);
    event.idp = Some(identity.idp.clone());
    event.subject = Some(identity.subject.clone());
    event.groups = identity.groups.clone();
    event.source_ip = meta.source_ip;
    event.user_agent = meta.user_agent;
    event
}

/// A database read of an admin page failed: logged with `what` under `reference`; the page says
/// to try again.
pub(crate) fn db_unavailable(reference: String, what: &str, e: &sqlx::Error) -> AppError {
    tracing::error!(reference, error = %e, "{what} failed");
    AppError::new(
        Kind::Unavailable,
        Format::Html,
        reference,
        "Roleport cannot reach its database right now. Please try again in a moment.",
    )
}

pub(crate) fn html(status: StatusCode, page: &impl Template) -> HttpResponse {
    match page.render() {
        Ok(body) => HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .body(body),
        Err(e) => {
            tracing::error!(error = %e, "page rendering failed");
            HttpResponse::InternalServerError()
                .content_type("text/plain; charset=utf-8")
                .body("Something went wrong.")
        }
    }
}

fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header(("Location", location))
        .insert_header(("Cache-Control", "no-store"))
        .finish()
}

/// Where to come back to after a sign-in: this page for a GET, the area's page for a POST
/// (whose form is gone by then). Only same-origin paths ([`ReturnTo`]).
fn return_to(req: &HttpRequest, area: Option<Area>) -> ReturnTo {
    let fallback = area.map_or("/admin", Area::href);
    let wanted = if req.method() == actix_web::http::Method::GET {
        req.uri()
            .path_and_query()
            .map_or(fallback.to_string(), |pq| pq.as_str().to_string())
    } else {
        fallback.to_string()
    };
    ReturnTo::parse(&wanted)
        .or_else(|_| ReturnTo::parse(fallback))
        .unwrap_or_else(|_| ReturnTo::roles_page())
}

/// Lets a person into `area` (`None`: the admin index, any area), or answers for them.
pub(crate) async fn gate(
    state: &AppState,
    req: &HttpRequest,
    signed_in: Option<SignedIn>,
    area: Option<Area>,
) -> Result<Admin, HttpResponse> {
    gate_with(state, req, signed_in, area, None).await
}

/// [`gate`] for a form's POST: when a fresh sign-in is due, `resume` says where the person
/// comes back to and what of their form is kept meanwhile.
pub(crate) async fn gate_with(
    state: &AppState,
    req: &HttpRequest,
    signed_in: Option<SignedIn>,
    area: Option<Area>,
    resume: Option<draft::Resume<'_>>,
) -> Result<Admin, HttpResponse> {
    let Some(signed_in) = signed_in else {
        let back = return_to(req, area);
        return Err(see_other(&format!(
            "/login?return_to={}",
            urlencoding::encode(back.as_str())
        )));
    };
    let capabilities = state
        .rules()
        .evaluate(&claims_of(&signed_in.session.identity))
        .capabilities;
    let allowed = match area {
        Some(a) => capability::allows(&capabilities, a),
        None => !capability::areas(&capabilities).is_empty(),
    };
    if !allowed {
        return Err(refuse(state, req, &signed_in, area).await);
    }
    let now = state.clock.now();
    let max_age = state.settings.admin.reauth_after_seconds;
    if !reauth::is_recent(signed_in.session.signed_in_at, now, max_age) {
        let identity = &signed_in.session.identity;
        let (back, kept) = match resume {
            None => (return_to(req, area), None),
            Some(draft::Resume::Page(page)) => (
                ReturnTo::parse(page).unwrap_or_else(|_| return_to(req, area)),
                None,
            ),
            Some(draft::Resume::Document { form, text }) => (
                ReturnTo::parse(draft::RULES_KEPT).unwrap_or_else(|_| return_to(req, area)),
                draft::keep(state, &signed_in, form, text).await,
            ),
        };
        tracing::info!(subject = %identity.subject, idp = %identity.idp, path = req.path(), kept = kept.is_some(), "admin page needs a recent sign-in: sending through the IdP again");
        let mut answer = see_other(&format!(
            "/login/{}?reauth=1&return_to={}",
            urlencoding::encode(&identity.idp),
            urlencoding::encode(back.as_str())
        ));
        if let Some(cookie) = kept
            && let Err(e) = answer.add_cookie(&cookie)
        {
            tracing::error!(error = %e, "the draft cookie could not be set");
        }
        return Err(answer);
    }
    Ok(Admin {
        signed_in,
        capabilities,
        area,
    })
}

/// 403 with a reference, and an audit row saying who was refused what.
async fn refuse(
    state: &AppState,
    req: &HttpRequest,
    signed_in: &SignedIn,
    area: Option<Area>,
) -> HttpResponse {
    let reference = new_reference();
    let wanted = area.map_or(capability::SECURITY_TEAM, Area::capability);
    let mut event = event_for(EventKind::AdminAction, signed_in, req);
    event.reason = Some(format!(
        "no_capability: no applying rule grants {wanted} or {}",
        capability::SECURITY_TEAM
    ));
    event.details = serde_json::json!({
        "action": "refused",
        "capability": wanted,
        "method": req.method().as_str(),
        "path": req.path(),
    });
    if let Err(e) = db::audit::append(&state.pool, &reference, state.clock.now(), event).await {
        tracing::error!(reference, error = %e, "audit write failed");
    }
    tracing::warn!(security = true, reference, subject = %signed_in.session.identity.subject, capability = wanted, path = req.path(), "admin page refused: no capability");
    let nav = signed_in.nav();
    let asked = match area {
        Some(a) => format!("You asked to open {} in the admin pages.", a.title()),
        None => "You asked to open the admin pages.".to_string(),
    };
    html(
        StatusCode::FORBIDDEN,
        &ErrorPage {
            title: "Not allowed",
            message: "The admin pages are only for people whose access rules grant them. If you need them, ask your platform team and quote the reference below.",
            asked_for: Some(&asked),
            reference: &reference,
            show_login: false,
            nav: Some(&nav),
            back_href: "/roles",
            back_label: "Back to your roles",
        },
    )
}

/// Runs the gate inside a handler: `gated!(state, req, signed_in, area)` yields the [`Admin`]
/// or returns the gate's answer.
macro_rules! gated {
    ($state:expr, $req:expr, $signed_in:expr, $area:expr) => {
        match $crate::http::routes::admin::gate(&$state, &$req, $signed_in, $area).await {
            Ok(admin) => admin,
            Err(answer) => return Ok(answer),
        }
    };
    ($state:expr, $req:expr, $signed_in:expr, $area:expr, $resume:expr) => {
        match $crate::http::routes::admin::gate_with(
            &$state,
            &$req,
            $signed_in,
            $area,
            Some($resume),
        )
        .await
        {
            Ok(admin) => admin,
            Err(answer) => return Ok(answer),
        }
    };
}
pub(crate) use gated;

async fn index(
    state: web::Data<AppState>,
    req: HttpRequest,
    super::session::MaybeSignedIn { signed_in, .. }: super::session::MaybeSignedIn,
) -> Result<HttpResponse, AppError> {
    let admin = gated!(state, req, signed_in, None);
    Ok(html(StatusCode::OK, &AdminIndexPage { nav: admin.nav() }))
}
