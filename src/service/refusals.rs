//! Refusals on the sign-in routes that carry no verified identity are counted, not chained:
//! one upsert into `refused_sign_ins` per minute, reason, IdP and client (see db::refusals),
//! instead of one audit row under the chain's lock per junk request. The caller still logs the
//! precise reason with the reference the user sees.

use crate::db;
use crate::http::AppState;
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
