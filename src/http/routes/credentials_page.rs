//! The credentials page, issued once per click: `POST /roles/{grant}/credentials` issues (audit
//! row committed first, as every issue), keeps the set sealed for one view and answers 303 to
//! `GET /roles/{grant}/credentials/{id}`, which takes the set (deletes it) and shows it. A reload
//! of that GET finds nothing and says so, with a button to issue new credentials: it never
//! reaches AWS.

use super::credentials::CredentialsForm;
use super::session::{MaybeSignedIn, SignedInWithCsrf};
use crate::audit::{AuditEvent, EventKind, Outcome, new_reference};
use crate::http::AppState;
use crate::http::cookies::random_token;
use crate::http::errors::{AppError, Format, Kind};
use crate::http::request_meta::RequestMeta;
use crate::http::views::{CredentialsGonePage, CredentialsPage};
use crate::protocol::aws::{
    TemporaryCredentials, credential_process_json, credentials_file_profile,
    credentials_file_region, powershell, powershell_region, shell_exports, shell_region,
};
use crate::sealing::shown_once::{self, SealedSet};
use crate::service::issue;
use actix_web::{HttpRequest, HttpResponse, Responder, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How long an issued set waits for its one view: long enough for a slow redirect, short
/// enough that a forgotten set does not linger.
pub const SHOWN_ONCE_SECONDS: i64 = 300;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/roles/{grant}/credentials", web::post().to(issue_once))
        .route("/roles/{grant}/credentials/{id}", web::get().to(show_once));
}

/// What the page shows, as sealed. No `Debug`: it holds the secret.
#[derive(Serialize, Deserialize)]
struct IssuedSet {
    grant_id: String,
    role_name: String,
    account_alias: String,
    account_id: String,
    assumed_role_arn: String,
    access_key_id: String,
    secret_access_key: String,
    session_token: String,
    expiration: DateTime<Utc>,
    region: Option<String>,
    reference: String,
}

async fn issue_once(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    SignedInWithCsrf {
        signed_in,
        body: form,
    }: SignedInWithCsrf<web::Form<CredentialsForm>>,
) -> Result<HttpResponse, AppError> {
    let requested = form
        .duration_seconds
        .as_deref()
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
        })?;
    let d = issue::issue(
        &state,
        &RequestMeta::of(&req),
        &signed_in.session,
        &path,
        requested,
        EventKind::CredentialsIssued,
    )
    .await?;
    let c = &d.outcome.issued.credentials;
    let set = IssuedSet {
        grant_id: d.picked.grant.id.clone(),
        role_name: crate::http::views::role_label(
            &d.picked.grant.display_name,
            &d.picked.grant.role_name,
        ),
        account_alias: d.picked.grant.account_alias.clone(),
        account_id: d.picked.grant.account_id.clone(),
        assumed_role_arn: d.outcome.issued.assumed_role_arn.clone(),
        access_key_id: c.access_key_id.clone(),
        secret_access_key: c.secret_access_key.clone(),
        session_token: c.session_token.clone(),
        expiration: c.expiration,
        region: state
            .aws
            .endpoints(d.picked.grant.partition)
            .map(|e| e.sts_signing_region.clone()),
        reference: d.reference.clone(),
    };
    let id = keep(&state, &req, &signed_in.token_hash, &set)
        .await
        .map_err(|e| {
            // The audit row names the key; the person is told to issue again.
            tracing::error!(reference = %d.reference, access_key_id = %c.access_key_id, error = %e, "issued credentials not kept for display");
            AppError::new(
                Kind::Unavailable,
                Format::Html,
                d.reference.clone(),
                "The credentials were issued but could not be shown. Please issue new ones.",
            )
        })?;
    Ok(HttpResponse::SeeOther()
        .insert_header((
            "Location",
            format!(
                "/roles/{}/credentials/{}",
                urlencoding::encode(&set.grant_id),
                urlencoding::encode(&id)
            ),
        ))
        .finish())
}

/// Seals the set to this browser's session cookie and stores it for one view; returns its id.
async fn keep(
    state: &AppState,
    req: &HttpRequest,
    session_hash: &[u8],
    set: &IssuedSet,
) -> Result<String, String> {
    let cookie = req
        .cookie(state.cookies.session_name())
        .ok_or("the session cookie is gone")?;
    let id = random_token().map_err(|e| e.to_string())?;
    let now = state.clock.now();
    let expires_at = now + chrono::Duration::seconds(SHOWN_ONCE_SECONDS);
    let plain = serde_json::to_vec(set).map_err(|e| e.to_string())?;
    let sealed = shown_once::seal(&state.sealing, cookie.value(), &id, expires_at, &plain)
        .map_err(|e| e.to_string())?;
    crate::db::shown_once::insert(&state.pool, &id, session_hash, &sealed, expires_at, now)
        .await
        .map_err(|e| e.to_string())?;
    Ok(id)
}

/// Why a set was not shown (for the log line; the person sees one page for all).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NotShown {
    /// Already shown, never issued, or another session's.
    NotHere,
    Expired,
    DoesNotOpen,
    /// Its id under another grant's path.
    OtherGrant,
}

impl NotShown {
    fn as_str(self) -> &'static str {
        match self {
            Self::NotHere => "already shown, unknown or another session's",
            Self::Expired => "expired before it was shown",
            Self::DoesNotOpen => "does not open for this session",
            Self::OtherGrant => "asked for under another role",
        }
    }
}

/// A rejected row, so a set asked for by another session (or again) leaves a trace; the id is
/// no secret without the issuing session's cookie.
async fn audit_not_shown(
    state: &AppState,
    req: &HttpRequest,
    reference: &str,
    grant: &str,
    id: &str,
    signed_in: &super::SignedIn,
    why: NotShown,
) {
    let identity = &signed_in.session.identity;
    let meta = RequestMeta::of(req);
    let mut event = AuditEvent::new(EventKind::CredentialsIssued, Outcome::Rejected);
    event.reason = Some(format!("credentials_not_shown: {}", why.as_str()));
    event.idp = Some(identity.idp.clone());
    event.subject = Some(identity.subject.clone());
    event.groups = identity.groups.clone();
    event.source_ip = meta.source_ip;
    event.user_agent = meta.user_agent;
    event.details = serde_json::json!({ "grant": grant, "shown_once_id": id });
    if let Err(e) = crate::db::audit::append(&state.pool, reference, state.clock.now(), event).await
    {
        tracing::error!(reference, error = %e, "audit write failed");
    }
}

async fn show_once(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    MaybeSignedIn { signed_in, .. }: MaybeSignedIn,
) -> Result<HttpResponse, AppError> {
    let (grant, id) = path.into_inner();
    let Some(signed_in) = signed_in else {
        // The set is bound to the session that issued it: a new sign-in cannot open it.
        return Ok(HttpResponse::SeeOther()
            .insert_header(("Location", "/login?return_to=%2Froles"))
            .finish());
    };
    let taken = crate::db::shown_once::take(&state.pool, &id, &signed_in.token_hash)
        .await
        .map_err(|e| {
            let reference = new_reference();
            tracing::error!(reference, error = %e, "shown-once credentials lookup failed");
            AppError::new(
                Kind::Unavailable,
                Format::Html,
                reference,
                "Roleport cannot reach its database right now. Please try again in a moment.",
            )
        })?;
    let opened = match taken {
        None => Err(NotShown::NotHere),
        Some((_, expires_at)) if expires_at <= state.clock.now() => Err(NotShown::Expired),
        Some((sealed, expires_at)) => match open(&state, &req, &id, expires_at, &sealed) {
            None => Err(NotShown::DoesNotOpen),
            Some(set) if set.grant_id != grant => Err(NotShown::OtherGrant),
            Some(set) => Ok(set),
        },
    };
    match opened {
        Ok(set) => Ok(shown_page(set, &signed_in)
            .respond_to(&req)
            .map_into_boxed_body()),
        Err(why) => {
            let reference = new_reference();
            audit_not_shown(&state, &req, &reference, &grant, &id, &signed_in, why).await;
            gone(&state, &grant, &signed_in, why, reference)
        }
    }
}

fn open(
    state: &AppState,
    req: &HttpRequest,
    id: &str,
    expires_at: DateTime<Utc>,
    sealed: &SealedSet,
) -> Option<IssuedSet> {
    let cookie = req.cookie(state.cookies.session_name())?;
    let plain = shown_once::open(&state.sealing, cookie.value(), id, expires_at, sealed)?;
    serde_json::from_slice(&plain).ok()
}

fn shown_page(set: IssuedSet, signed_in: &super::SignedIn) -> CredentialsPage {
    let c = TemporaryCredentials {
        access_key_id: set.access_key_id,
        secret_access_key: set.secret_access_key,
        session_token: set.session_token,
        expiration: set.expiration,
    };
    let region = set.region.unwrap_or_default();
    let with_region = |block: String, line: String| {
        if region.is_empty() {
            block
        } else {
            block + &line
        }
    };
    let credentials_file = credentials_file_profile(&set.grant_id, &c)
        .map(|block| {
            let line = credentials_file_region(&region).unwrap_or_default();
            with_region(block, line)
        })
        .unwrap_or_default();
    CredentialsPage {
        person: signed_in.person(),
        idp: signed_in.session.identity.idp.clone(),
        role_name: set.role_name,
        account_alias: set.account_alias,
        account_id: set.account_id,
        assumed_role_arn: set.assumed_role_arn,
        expiration: c
            .expiration
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        shell: with_region(shell_exports(&c), shell_region(&region)),
        credentials_file,
        powershell: with_region(powershell(&c), powershell_region(&region)),
        credential_process: credential_process_json(&c),
        region,
        reference: set.reference,
        csrf_token: signed_in.session.csrf_token.clone(),
    }
}

fn gone(
    state: &AppState,
    grant: &str,
    signed_in: &super::SignedIn,
    why: NotShown,
    reference: String,
) -> Result<HttpResponse, AppError> {
    tracing::info!(reference, reason = why.as_str(), subject = %signed_in.session.identity.subject, grant, "credentials page not shown");
    let picked = issue::pick(state, &signed_in.session.identity, grant);
    let page = CredentialsGonePage {
        person: signed_in.person(),
        idp: signed_in.session.identity.idp.clone(),
        grant_id: picked.as_ref().map(|p| p.grant.id.clone()),
        role_name: picked
            .map(|p| crate::http::views::role_label(&p.grant.display_name, &p.grant.role_name))
            .unwrap_or_else(|| grant.to_string()),
        shown_once_minutes: SHOWN_ONCE_SECONDS / 60,
        reference: reference.clone(),
        csrf_token: signed_in.session.csrf_token.clone(),
    };
    let body = askama::Template::render(&page).map_err(|e| {
        tracing::error!(reference, error = %e, "credentials-gone page not rendered");
        AppError::new(
            Kind::Internal,
            Format::Html,
            reference.clone(),
            "Roleport could not show this page. Please try again.",
        )
    })?;
    Ok(HttpResponse::Gone()
        .content_type("text/html; charset=utf-8")
        .body(body))
}
