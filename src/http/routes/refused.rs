//! Refusals on the sign-in routes that carry no verified identity are counted, not chained:
//! one upsert into `refused_sign_ins` per minute, reason, IdP and client (see db::refusals),
//! instead of one audit row under the chain's lock per junk request. The caller still logs the
//! precise reason with the reference the user sees.

use crate::db;
use crate::http::AppState;
use crate::http::errors::{AppError, Format, Kind};
use crate::http::rate_limit::client_key;
use crate::http::request_meta::RequestMeta;

/// How much a refusal proves about who was refused, and so how it is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Evidence {
    /// A fully verified assertion or ID token was refused (no role, replay of a valid
    /// assertion, identity values refused), or a live login was carried by another browser:
    /// a full audit row.
    Verified,
    /// Nothing verified: bad signature, garbled form, unknown InResponseTo or state, a refused
    /// `/login` call… A counter.
    Unverified,
}

pub async fn count_unverified(
    state: &AppState,
    reference: &str,
    meta: &RequestMeta,
    idp: &str,
    reason: &str,
) {
    let client = client_key(meta);
    let refused = db::refusals::Refused {
        reason,
        idp,
        client: &client,
        reference,
    };
    if let Err(e) = db::refusals::record(
        &state.pool,
        &refused,
        state.clock.now(),
        state.settings.rate_limit.refusal_clients_per_minute,
    )
    .await
    {
        tracing::error!(reference, error = %e, "refusal counter write failed");
    }
}

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
