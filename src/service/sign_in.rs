//! The end of every sign-in, SAML or OIDC, once the upstream's answer is verified (or refused):
//! the audit row and the session (committed together, with the pending login's take and the
//! replay record, in one statement: `db::sign_in`), metrics, the log line and where to go next.

use super::Error;
use super::refusals::{Evidence, count_unverified};
use crate::audit::{AuditEvent, EventKind, Outcome};
use crate::db;
use crate::domain::{FederatedIdentity, ReturnTo};
use crate::http::AppState;
use crate::http::cookies::random_token;
use crate::http::request_meta::RequestMeta;
use crate::sealing::id_token;
use chrono::Duration;

/// A started session: the handler sets its cookie and redirects to `return_to`.
#[derive(Debug)]
pub struct Started {
    /// The session cookie's value (only its hash is stored).
    pub token: String,
    pub ttl_seconds: i64,
    pub return_to: ReturnTo,
}

/// Where an identity's groups came from, when the IdP resolves nested groups from its directory
/// (`[idp.directory]`): the audit row lists both, separately.
#[derive(Debug, Clone, Default)]
pub struct GroupOrigins {
    pub from_assertion: Vec<String>,
    pub from_directory: Vec<String>,
}

/// What the statement that records the sign-in also consumes: the pending SP-initiated login
/// it answers and the id it records against replay (SAML assertion id).
#[derive(Default)]
pub struct Consumes<'a> {
    pub take: Option<db::sign_in::Take<'a>>,
    pub first_use: Option<db::sign_in::FirstUse<'a>>,
}

/// Why a verified sign-in did not start.
#[derive(Debug)]
pub enum Declined {
    /// The replay cache already held the id (the pending login, if any, is used up).
    Replay,
    /// The pending login was used or expired while the response was checked: nothing recorded.
    LoginGone,
    /// Nothing was recorded, for Roleport's own reasons (database, randomness): answered 503.
    Failed(Error),
}

impl Declined {
    /// For a caller that consumed nothing through [`Consumes`], where only `Failed` can happen.
    pub fn into_error(self, reference: &str) -> Error {
        match self {
            Declined::Failed(e) => e,
            other => unavailable(reference, &format!("sign-in declined: {other:?}")),
        }
    }
}

/// An accepted sign-in: the audit row and the session committed together with what it
/// `consumes`, then metrics and the log line.
#[allow(clippy::too_many_arguments)]
pub async fn accepted(
    state: &AppState,
    reference: &str,
    meta: &RequestMeta,
    identity: FederatedIdentity,
    origins: Option<GroupOrigins>,
    grants: usize,
    upstream: db::sessions::Upstream<'_>,
    return_to: ReturnTo,
    consumes: Consumes<'_>,
) -> Result<Started, Declined> {
    let outcome = if grants == 0 {
        Outcome::NoRoles
    } else {
        Outcome::Accepted
    };
    let mut event = AuditEvent::new(EventKind::SignIn, outcome);
    event.idp = Some(identity.idp.clone());
    event.subject = Some(identity.subject.clone());
    event.groups = identity.groups.clone();
    event.source_ip = meta.source_ip.clone();
    event.user_agent = meta.user_agent.clone();
    // The e-mail (kept only when the IdP vouches for it) lets the admin dry run of a new rules
    // document see the claims this sign-in had; groups are listed by origin when the directory
    // added some.
    let mut details = serde_json::json!({ "grants": grants });
    if let Some(email) = &identity.email {
        details["email"] = serde_json::json!(email);
    }
    if let Some(o) = origins {
        details["groups_from_assertion"] = serde_json::json!(o.from_assertion);
        details["groups_from_directory"] = serde_json::json!(o.from_directory);
    }
    event.details = details;
    let upstream = db::sessions::Upstream {
        id_token: upstream.id_token,
        source_ip: meta.source_ip.as_deref(),
    };
    start_session(
        state, reference, identity, upstream, event, return_to, consumes,
    )
    .await
}

/// A refused sign-in: metrics, a precise security log line, an audit row with the reason code
/// when a verified identity was refused (else a counter, see [`super::refusals`]). The answer
/// ([`Error::SignInRefused`]) says nothing about which check failed.
pub async fn refused(
    state: &AppState,
    reference: &str,
    meta: RequestMeta,
    idp: Option<&str>,
    code: &str,
    detail: &str,
    evidence: Evidence,
) -> Error {
    let idp = idp.unwrap_or("unknown").to_string();
    state
        .metrics
        .sign_ins
        .with_label_values(&[idp.as_str(), "rejected"])
        .inc();
    state
        .metrics
        .rejections
        .with_label_values(&[idp.as_str(), code])
        .inc();
    tracing::warn!(
        security = true,
        reference,
        idp,
        reason = code,
        detail = %detail,
        source_ip = ?meta.source_ip,
        verified = evidence == Evidence::Verified,
        "sign-in refused"
    );
    let failed = Error::SignInRefused {
        reference: reference.to_string(),
    };
    if evidence == Evidence::Unverified {
        count_unverified(state, reference, &meta, &idp, code).await;
        return failed;
    }
    let mut event = AuditEvent::new(EventKind::SignIn, Outcome::Rejected);
    event.reason = Some(format!("{code}: {detail}"));
    event.idp = Some(idp);
    event.source_ip = meta.source_ip;
    event.user_agent = meta.user_agent;
    if let Err(e) = db::audit::append(&state.pool, reference, state.clock.now(), event).await {
        tracing::error!(reference, error = %e, "audit write failed for a refused sign-in");
    }
    failed
}

/// A sign-in that could not complete for Roleport's own reasons (database, workers).
pub fn unavailable(reference: &str, what: &str) -> Error {
    tracing::error!(reference, error = %what, "sign-in could not complete");
    Error::SignInUnavailable {
        reference: reference.to_string(),
    }
}

async fn start_session(
    state: &AppState,
    reference: &str,
    identity: FederatedIdentity,
    upstream: db::sessions::Upstream<'_>,
    event: AuditEvent,
    return_to: ReturnTo,
    consumes: Consumes<'_>,
) -> Result<Started, Declined> {
    let failed = |what: String| Declined::Failed(unavailable(reference, &what));
    let token = random_token().map_err(|e| failed(e.to_string()))?;
    let csrf = random_token().map_err(|e| failed(e.to_string()))?;
    let now = state.clock.now();
    let ttl = state.settings.session.ttl_seconds;
    let sealed = upstream
        .id_token
        .map(|t| id_token::seal(&state.sealing, &token, t))
        .transpose()
        .map_err(|e| failed(format!("sealing the upstream ID token: {e}")))?;
    let event = event.sanitized();
    let outcome = event.outcome;
    let row = serde_json::to_value(&event).map_err(|e| failed(format!("audit event: {e}")))?;
    let person =
        serde_json::to_value(&identity).map_err(|e| failed(format!("session identity: {e}")))?;
    // One statement: the audit row commits with the session (never after it), together with the
    // pending login's take and the replay record; on any error none of them is committed.
    let recorded = db::sign_in::record(
        &state.pool,
        db::sign_in::SignIn {
            take: consumes.take,
            first_use: consumes.first_use,
            audit: db::sign_in::AuditRow {
                reference,
                at: now,
                event: row,
            },
            session: db::sign_in::NewSession {
                token: &token,
                csrf_token: &csrf,
                identity: person,
                created_at: now,
                expires_at: now + Duration::seconds(ttl),
                upstream_id_token: sealed.as_ref(),
                source_ip: upstream.source_ip,
            },
        },
    )
    .await;
    match recorded {
        Ok(db::sign_in::Recorded::SignedIn) => {}
        Ok(db::sign_in::Recorded::Replay) => return Err(Declined::Replay),
        Ok(db::sign_in::Recorded::LoginGone) => return Err(Declined::LoginGone),
        Err(e) => {
            let error = unavailable(reference, &e.to_string());
            // Only when Postgres itself answered (a constraint, a statement timeout): in an
            // outage a second attempt would only double the wait for the 503.
            if matches!(e, sqlx::Error::Database(_)) {
                not_recorded(state, reference, event, &e).await;
            }
            return Err(Declined::Failed(error));
        }
    }
    let outcome_label = match outcome {
        Outcome::NoRoles => "no_roles",
        _ => "accepted",
    };
    state
        .metrics
        .sign_ins
        .with_label_values(&[identity.idp.as_str(), outcome_label])
        .inc();
    tracing::info!(reference, idp = %identity.idp, subject = %identity.subject, groups = ?identity.groups, outcome = outcome_label, "signed in");
    Ok(Started {
        token,
        ttl_seconds: ttl,
        return_to,
    })
}

/// A verified sign-in that could not be recorded leaves its own row when the database still takes
/// one, so the audit log shows the attempt under the reference the person was given.
async fn not_recorded(state: &AppState, reference: &str, mut event: AuditEvent, e: &sqlx::Error) {
    event.outcome = Outcome::Rejected;
    event.reason = Some(format!("not_recorded: {e}"));
    if let Err(e) = db::audit::append(&state.pool, reference, state.clock.now(), event).await {
        tracing::error!(reference, error = %e, "audit write failed for a sign-in not recorded");
    }
}
