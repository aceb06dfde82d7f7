//! Refusals of `/login/{idp}`: a client holding too many pending logins. How refusals without a
//! verified identity are counted lives in [`crate::service::refusals`].

use crate::db;
use crate::http::AppState;
use crate::http::errors::{AppError, Format, Kind};
use crate::http::rate_limit::client_key;
use crate::http::request_meta::RequestMeta;
pub use crate::service::refusals::{Evidence, count_unverified};

/// `GET /login/{idp}` from a client that already holds its share of pending logins: counted,
/// logged, and answered 429 until its oldest pending login expires.
pub async fn pending_logins_capped(
    state: &AppState,
    reference: &str,
    meta: &RequestMeta,
    idp: &str,
) -> AppError {
    let client = client_key(meta);
    let now = state.clock.now();
    let retry = match db::logins::next_expiry(&state.pool, &client, now).await {
        Ok(Some(at)) => u64::try_from((at - now).num_seconds()).unwrap_or(0).max(1),
        _ => u64::try_from(state.settings.session.login_ttl_seconds).unwrap_or(60),
    };
    state
        .metrics
        .shed
        .with_label_values(&["/login/{idp}", "pending_logins_cap"])
        .inc();
    tracing::warn!(
        security = true,
        reference,
        idp,
        reason = "pending_logins_cap",
        %client,
        "sign-in start refused: this client holds too many pending logins"
    );
    count_unverified(state, reference, meta, idp, "pending_logins_cap").await;
    AppError::new(
        Kind::TooManyRequests,
        Format::Html,
        reference,
        "Too many sign-ins have been started from your network and not finished. Please finish one, or wait a few minutes and try again.",
    )
    .retry_after(retry)
}

/// What bounds the pending logins of `client` (a [`client_key`]).
pub fn pending_bound<'a>(state: &AppState, client: &'a str) -> db::logins::PendingBound<'a> {
    db::logins::PendingBound {
        client,
        per_client: state.settings.rate_limit.pending_logins_per_client,
        now: state.clock.now(),
    }
}
