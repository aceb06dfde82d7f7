//! Error pages keep the header (the signed-in person and Sign out) and name the grant that was
//! asked for. The session is the one an extractor already looked up for this request when there
//! was one; otherwise it is looked up once, with a short time limit. Any failure on the way
//! leaves the page as it was rendered, without the header: an error page never becomes a 500.

use super::AppState;
use super::errors::{Kind, PageParts};
use super::views::NavView;
use crate::db;
use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::ServiceResponse;
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{HttpMessage, HttpRequest, web};
use std::time::Duration;

/// What this request's session lookup found, kept on the request by the extractors.
#[derive(Clone)]
pub struct KnownSession(pub Option<NavView>);

/// How long an error page waits for the session before it is shown without the header.
const LOOKUP_LIMIT: Duration = Duration::from_secs(2);

/// Remembers the outcome of a session lookup on the request, for the error page.
pub fn remember(req: &HttpRequest, nav: Option<NavView>) {
    req.extensions_mut().insert(KnownSession(nav));
}

/// The error page `res` again, with the header and the named grant, once the session is known.
pub fn with_nav<B: MessageBody + 'static>(res: ServiceResponse<B>) -> ErrorHandlerResponse<B> {
    let Some(parts) = res.response().extensions().get::<PageParts>().cloned() else {
        return ErrorHandlerResponse::Response(res.map_into_left_body());
    };
    ErrorHandlerResponse::Future(Box::pin(async move {
        match body_with_nav(res.request(), parts).await {
            Some(body) => Ok(res.map_body(|_, _| EitherBody::right(BoxBody::new(body)))),
            None => Ok(res.map_into_left_body()),
        }
    }))
}

/// The same for a page the error handler made itself.
pub fn fresh_with_nav<B: MessageBody + 'static>(
    res: ServiceResponse<BoxBody>,
) -> ErrorHandlerResponse<B> {
    let Some(parts) = res.response().extensions().get::<PageParts>().cloned() else {
        return ErrorHandlerResponse::Response(res.map_into_right_body());
    };
    ErrorHandlerResponse::Future(Box::pin(async move {
        match body_with_nav(res.request(), parts).await {
            Some(body) => Ok(res.map_body(|_, _| EitherBody::right(BoxBody::new(body)))),
            None => Ok(res.map_into_right_body()),
        }
    }))
}

/// The page's new body, or `None` when there is nothing to add (or it does not render).
async fn body_with_nav(req: &HttpRequest, mut parts: PageParts) -> Option<String> {
    let nav = session_of(req, parts.kind).await;
    // "Not found" on a `/roles/{grant}/…` address is always the grant: the person has no such role.
    if parts.kind == Kind::NotFound && parts.asked_for.is_none() {
        parts.asked_for = missing_grant_words(req);
    }
    if nav.is_none() && parts.asked_for.is_none() && parts.back.is_none() {
        return None;
    }
    parts.body(nav.as_ref())
}

async fn session_of(req: &HttpRequest, kind: Kind) -> Option<NavView> {
    if let Some(KnownSession(known)) = req.extensions().get::<KnownSession>().cloned() {
        return known;
    }
    // The database is what failed, or the session is known to be gone: do not ask again.
    if matches!(kind, Kind::Unavailable | Kind::NotSignedIn) {
        return None;
    }
    let state = req.app_data::<web::Data<AppState>>()?.clone();
    let cookie = req.cookie(state.cookies.session_name())?;
    let found = tokio::time::timeout(
        LOOKUP_LIMIT,
        db::sessions::find(
            &state.pool,
            cookie.value(),
            &state.sealing,
            state.clock.now(),
        ),
    )
    .await;
    match found {
        Ok(Ok(Some(session))) => Some(NavView {
            person: session.identity.name_to_show(),
            idp: session.identity.idp,
            csrf_token: session.csrf_token,
        }),
        Ok(Ok(None)) => None,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "error page shown without the header: session lookup failed");
            None
        }
        Err(_) => {
            tracing::warn!("error page shown without the header: session lookup too slow");
            None
        }
    }
}

/// "You have no role ReadOnly in demo-prod" for the `{grant}` in the path: a grant id is
/// `<account id>-<role name>`, and the account's alias comes from the current rules. The path is
/// anyone's link, so only what has the shape of an account id and an IAM role name is repeated
/// (no sentences planted in a page that carries Roleport's name).
fn missing_grant_words(req: &HttpRequest) -> Option<String> {
    let grant_id = req.match_info().get("grant")?;
    let (account_id, role) = grant_id.split_at_checked(12)?;
    let role = role.strip_prefix('-')?;
    let role_shaped = !role.is_empty()
        && role.len() <= 64
        && role
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b));
    if !role_shaped || !account_id.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let alias = req.app_data::<web::Data<AppState>>().and_then(|state| {
        state
            .rules()
            .rule_set()
            .accounts
            .iter()
            .find(|a| a.id == account_id)
            .map(|a| a.alias.clone())
    });
    Some(match alias {
        Some(alias) => format!("You have no role {role} in {alias} ({account_id})"),
        None => format!("You have no role {role} in account {account_id}"),
    })
}
