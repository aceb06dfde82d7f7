//! Roleport as the OAuth 2.0 authorization server of `roleport-cli`: authorization codes for the
//! loopback flow, device authorizations, the token endpoint (code, device code, refresh with
//! rotation and reuse detection), revocation, and the session behind a bearer token.
//!
//! The rules are in `crate::protocol::cli_oauth`; this module stores, audits and logs. Refusals
//! tied to a known session (a reused code, a reused refresh token, a wrong PKCE verifier for a
//! real code) are audit rows with that person's identity; junk that proves nothing (unknown
//! codes and tokens) is counted like refused sign-ins (`service::refusals`), so an
//! unauthenticated client cannot take the audit chain's lock.

use super::refusals::count_unverified;
use crate::audit::{AuditEvent, EventKind, Outcome, new_reference};
use crate::db;
use crate::db::cli_oauth::{CodeRedemption, NewDevice, NewToken};
use crate::db::sessions::Session;
use crate::http::AppState;
use crate::http::cookies::random_token;
use crate::http::request_meta::RequestMeta;
use crate::protocol::cli_oauth::{
    self as rules, CodeChallenge, LoopbackRedirect, OAuthError, PollAnswer, RefreshDecision,
    RefreshRow, UserCode,
};
use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

/// The label refusals of the CLI's endpoints are counted under (in place of an IdP).
const COUNTED_AS: &str = "roleport-cli";

#[derive(Debug)]
pub enum Error {
    /// An OAuth error answer (400 at the token endpoint).
    OAuth {
        reference: String,
        error: OAuthError,
    },
    /// The database or randomness failed.
    Unavailable { reference: String },
}

impl Error {
    fn oauth(reference: &str, code: &'static str, text: impl Into<String>) -> Self {
        Self::OAuth {
            reference: reference.to_string(),
            error: OAuthError::new(code, text),
        }
    }
}

fn unavailable(reference: &str, what: &str, e: impl std::fmt::Display) -> Error {
    tracing::error!(reference, error = %e, "{what}");
    Error::Unavailable {
        reference: reference.to_string(),
    }
}

/// What the token endpoint answers on success.
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: i64,
    pub reference: String,
}

pub fn lifetimes() -> rules::Lifetimes {
    rules::Lifetimes::default()
}

fn event_for(
    kind: EventKind,
    outcome: Outcome,
    session: Option<&Session>,
    meta: &RequestMeta,
) -> AuditEvent {
    let mut event = AuditEvent::new(kind, outcome);
    if let Some(s) = session {
        event.idp = Some(s.identity.idp.clone());
        event.subject = Some(s.identity.subject.clone());
    }
    event.source_ip = meta.source_ip.clone();
    event.user_agent = meta.user_agent.clone();
    event
}

async fn audit(state: &AppState, reference: &str, event: AuditEvent) -> Result<(), Error> {
    db::audit::append(&state.pool, reference, state.clock.now(), event)
        .await
        .map(|_| ())
        .map_err(|e| unavailable(reference, "audit write failed", e))
}

fn new_token(prefix: &str, reference: &str) -> Result<String, Error> {
    random_token()
        .map(|t| format!("{prefix}{t}"))
        .map_err(|e| unavailable(reference, "no randomness", e))
}

/// `GET/POST /oauth/authorize` once the person has approved: a code for the loopback redirect.
pub async fn authorize(
    state: &AppState,
    meta: &RequestMeta,
    session_hash: &[u8],
    session: &Session,
    redirect: &LoopbackRedirect,
    challenge: &CodeChallenge,
    client_state: Option<&str>,
) -> Result<String, Error> {
    let reference = new_reference();
    let now = state.clock.now();
    let code = new_token("", &reference)?;
    let expires_at = (now + Duration::seconds(lifetimes().code_seconds)).min(session.expires_at);
    db::cli_oauth::insert_code(
        &state.pool,
        &db::sha256(code.as_bytes()),
        session_hash,
        redirect.as_str(),
        challenge.as_str(),
        now,
        expires_at,
    )
    .await
    .map_err(|e| unavailable(&reference, "cannot store the authorization code", e))?;
    let mut event = event_for(
        EventKind::CliAuthorized,
        Outcome::Accepted,
        Some(session),
        meta,
    );
    event.details = serde_json::json!({
        "grant_type": "authorization_code",
        "redirect_uri": redirect.as_str(),
    });
    audit(state, &reference, event).await?;
    tracing::info!(reference, subject = %session.identity.subject, redirect_uri = redirect.as_str(), "CLI authorized (authorization code)");
    Ok(redirect.with_code(&code, client_state, &state.public_url))
}

/// The token endpoint's form (RFC 6749 §4.1.3, §6; RFC 8628 §3.4).
#[derive(Debug, Default, serde::Deserialize)]
pub struct TokenRequest {
    pub grant_type: Option<String>,
    pub client_id: Option<String>,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
    pub refresh_token: Option<String>,
    pub device_code: Option<String>,
}

pub async fn token(
    state: &AppState,
    meta: &RequestMeta,
    req: &TokenRequest,
) -> Result<Tokens, Error> {
    let reference = new_reference();
    if let Err(error) = rules::check_client(req.client_id.as_deref()) {
        count_unverified(state, &reference, meta, COUNTED_AS, "cli_token_bad_client").await;
        return Err(Error::OAuth { reference, error });
    }
    match req.grant_type.as_deref() {
        Some("authorization_code") => code_grant(state, meta, req, reference).await,
        Some("refresh_token") => refresh_grant(state, meta, req, reference).await,
        Some(rules::DEVICE_GRANT_TYPE) => device_grant(state, meta, req, reference).await,
        _ => {
            count_unverified(
                state,
                &reference,
                meta,
                COUNTED_AS,
                "cli_token_bad_grant_type",
            )
            .await;
            Err(Error::oauth(
                &reference,
                "unsupported_grant_type",
                "unsupported grant_type",
            ))
        }
    }
}

async fn refuse_unverified(
    state: &AppState,
    meta: &RequestMeta,
    reference: String,
    reason: &str,
    code: &'static str,
    text: &str,
) -> Error {
    tracing::warn!(security = true, reference, reason, "CLI token refused");
    count_unverified(state, &reference, meta, COUNTED_AS, reason).await;
    Error::oauth(&reference, code, text)
}

/// A refusal tied to a known session: audited with that person's identity.
async fn refuse_audited(
    state: &AppState,
    meta: &RequestMeta,
    session: Option<&Session>,
    reference: String,
    reason: String,
    grant_type: &str,
    error: OAuthError,
) -> Error {
    tracing::warn!(
        security = true,
        reference,
        reason,
        grant_type,
        "CLI token refused"
    );
    let mut event = event_for(EventKind::CliTokens, Outcome::Rejected, session, meta);
    event.reason = Some(reason);
    event.details = serde_json::json!({ "grant_type": grant_type });
    if let Err(e) = db::audit::append(&state.pool, &reference, state.clock.now(), event).await {
        tracing::error!(reference, error = %e, "audit write failed");
    }
    Error::OAuth { reference, error }
}

async fn session_of(
    state: &AppState,
    hash: &[u8],
    reference: &str,
) -> Result<Option<Session>, Error> {
    db::sessions::find_by_hash(&state.pool, hash, state.clock.now())
        .await
        .map_err(|e| unavailable(reference, "session lookup failed", e))
}

/// Issues a new family's first tokens (and audits them) for `session`.
#[allow(clippy::too_many_arguments)]
async fn issue_family(
    state: &AppState,
    meta: &RequestMeta,
    session_hash: &[u8],
    session: &Session,
    grant_type: &str,
    code_hash: Option<&[u8]>,
    reference: String,
    now: DateTime<Utc>,
) -> Result<Tokens, Error> {
    let access = new_token("rpa_", &reference)?;
    let refresh = new_token("rpr_", &reference)?;
    let access_expires = lifetimes().access_expiry(now, session.expires_at);
    let family = db::cli_oauth::create_family(
        &state.pool,
        session_hash,
        grant_type,
        code_hash,
        NewToken {
            hash: &db::sha256(access.as_bytes()),
            expires_at: access_expires,
        },
        NewToken {
            hash: &db::sha256(refresh.as_bytes()),
            expires_at: session.expires_at,
        },
        now,
    )
    .await
    .map_err(|e| unavailable(&reference, "cannot store CLI tokens", e))?;
    let mut event = event_for(EventKind::CliTokens, Outcome::Accepted, Some(session), meta);
    event.details = serde_json::json!({
        "grant_type": grant_type,
        "family": family,
        "access_expires_at": access_expires,
        "refresh_expires_at": session.expires_at,
    });
    if let Err(e) = audit(state, &reference, event).await {
        // Nothing leaves unless its audit row is committed.
        let _ = db::cli_oauth::revoke_family(&state.pool, family).await;
        return Err(e);
    }
    tracing::info!(reference, subject = %session.identity.subject, grant_type, %family, "CLI tokens issued");
    Ok(Tokens {
        access_token: access,
        refresh_token: refresh,
        expires_in: (access_expires - now).num_seconds().max(0),
        reference,
    })
}

async fn code_grant(
    state: &AppState,
    meta: &RequestMeta,
    req: &TokenRequest,
    reference: String,
) -> Result<Tokens, Error> {
    const GT: &str = "authorization_code";
    let now = state.clock.now();
    let Some(code) = req.code.as_deref().filter(|c| !c.is_empty()) else {
        return Err(refuse_unverified(
            state,
            meta,
            reference,
            "cli_code_missing",
            "invalid_request",
            "code is missing",
        )
        .await);
    };
    let code_hash = db::sha256(code.as_bytes());
    let redemption = db::cli_oauth::redeem_code(&state.pool, &code_hash, now)
        .await
        .map_err(|e| unavailable(&reference, "code lookup failed", e))?;
    let invalid = || {
        OAuthError::new(
            "invalid_grant",
            "the authorization code is invalid, expired or used",
        )
    };
    let (session_hash, redirect_uri, challenge) = match redemption {
        CodeRedemption::Unknown => {
            return Err(refuse_unverified(
                state,
                meta,
                reference,
                "cli_code_unknown",
                "invalid_grant",
                "the authorization code is invalid, expired or used",
            )
            .await);
        }
        CodeRedemption::Expired => {
            return Err(refuse_unverified(
                state,
                meta,
                reference,
                "cli_code_expired",
                "invalid_grant",
                "the authorization code is invalid, expired or used",
            )
            .await);
        }
        CodeRedemption::Reused { family_id } => {
            // RFC 6749 §4.1.2: a second use revokes what the first produced.
            if let Some(family) = family_id {
                db::cli_oauth::revoke_family(&state.pool, family)
                    .await
                    .map_err(|e| unavailable(&reference, "cannot revoke a token family", e))?;
            }
            return Err(refuse_audited(
                state,
                meta,
                None,
                reference,
                format!("code_reuse: family {family_id:?} revoked"),
                GT,
                invalid(),
            )
            .await);
        }
        CodeRedemption::Fresh {
            session_hash,
            redirect_uri,
            code_challenge,
        } => (session_hash, redirect_uri, code_challenge),
    };
    let session = session_of(state, &session_hash, &reference).await?;
    let Some(session) = session else {
        return Err(refuse_unverified(
            state,
            meta,
            reference,
            "cli_code_session_ended",
            "invalid_grant",
            "the Roleport session has ended",
        )
        .await);
    };
    if req.redirect_uri.as_deref() != Some(redirect_uri.as_str()) {
        return Err(refuse_audited(
            state,
            meta,
            Some(&session),
            reference,
            "redirect_uri_mismatch: not the one the code was issued for".into(),
            GT,
            invalid(),
        )
        .await);
    }
    if let Err(e) = rules::verify_pkce(
        &CodeChallenge::stored(challenge),
        req.code_verifier.as_deref(),
    ) {
        return Err(refuse_audited(
            state,
            meta,
            Some(&session),
            reference,
            format!("pkce: {e}"),
            GT,
            OAuthError::new("invalid_grant", e.to_string()),
        )
        .await);
    }
    issue_family(
        state,
        meta,
        &session_hash,
        &session,
        GT,
        Some(&code_hash),
        reference,
        now,
    )
    .await
}

async fn refresh_grant(
    state: &AppState,
    meta: &RequestMeta,
    req: &TokenRequest,
    reference: String,
) -> Result<Tokens, Error> {
    const GT: &str = "refresh_token";
    let now = state.clock.now();
    let Some(presented) = req.refresh_token.as_deref().filter(|t| !t.is_empty()) else {
        return Err(refuse_unverified(
            state,
            meta,
            reference,
            "cli_refresh_missing",
            "invalid_request",
            "refresh_token is missing",
        )
        .await);
    };
    let hash = db::sha256(presented.as_bytes());
    let row = db::cli_oauth::find_token(&state.pool, &hash)
        .await
        .map_err(|e| unavailable(&reference, "token lookup failed", e))?;
    let decision = rules::decide_refresh(
        row.as_ref()
            .map(|r| RefreshRow {
                is_refresh: r.kind == "refresh",
                expires_at: r.expires_at,
                rotated: r.rotated,
                session_expires_at: r.session_expires_at,
            })
            .as_ref(),
        now,
    );
    let invalid = || {
        OAuthError::new(
            "invalid_grant",
            "the refresh token is invalid or expired; run `roleport-cli login`",
        )
    };
    let (row, session) = match (decision, row) {
        (RefreshDecision::Invalid(_), _) | (_, None) => {
            let why = match decision {
                RefreshDecision::Invalid(w) => w,
                _ => "unknown_token",
            };
            return Err(refuse_unverified(
                state,
                meta,
                reference,
                &format!("cli_refresh_{why}"),
                "invalid_grant",
                "the refresh token is invalid or expired; run `roleport-cli login`",
            )
            .await);
        }
        (RefreshDecision::ReuseRevokeFamily, Some(row)) => {
            return Err(reuse(
                state,
                meta,
                reference,
                row.family_id,
                &row.session_hash,
                invalid(),
            )
            .await);
        }
        (RefreshDecision::Rotate, Some(row)) => {
            let session = session_of(state, &row.session_hash, &reference).await?;
            (row, session)
        }
    };
    let Some(session) = session else {
        return Err(refuse_unverified(
            state,
            meta,
            reference,
            "cli_refresh_session_ended",
            "invalid_grant",
            "the Roleport session has ended; run `roleport-cli login`",
        )
        .await);
    };
    let access = new_token("rpa_", &reference)?;
    let refresh = new_token("rpr_", &reference)?;
    let access_expires = lifetimes().access_expiry(now, session.expires_at);
    let rotated = db::cli_oauth::rotate(
        &state.pool,
        row.family_id,
        &hash,
        NewToken {
            hash: &db::sha256(access.as_bytes()),
            expires_at: access_expires,
        },
        NewToken {
            hash: &db::sha256(refresh.as_bytes()),
            expires_at: session.expires_at,
        },
        now,
    )
    .await
    .map_err(|e| unavailable(&reference, "cannot rotate CLI tokens", e))?;
    if !rotated {
        return Err(reuse(
            state,
            meta,
            reference,
            row.family_id,
            &row.session_hash,
            invalid(),
        )
        .await);
    }
    let mut event = event_for(
        EventKind::CliTokens,
        Outcome::Accepted,
        Some(&session),
        meta,
    );
    event.details = serde_json::json!({
        "grant_type": GT,
        "family": row.family_id,
        "access_expires_at": access_expires,
    });
    if let Err(e) = audit(state, &reference, event).await {
        let _ = db::cli_oauth::revoke_family(&state.pool, row.family_id).await;
        return Err(e);
    }
    tracing::info!(reference, subject = %session.identity.subject, family = %row.family_id, "CLI tokens refreshed");
    Ok(Tokens {
        access_token: access,
        refresh_token: refresh,
        expires_in: (access_expires - now).num_seconds().max(0),
        reference,
    })
}

/// A rotated refresh token came back: someone holds a copy. The family ends.
async fn reuse(
    state: &AppState,
    meta: &RequestMeta,
    reference: String,
    family: Uuid,
    session_hash: &[u8],
    error: OAuthError,
) -> Error {
    if let Err(e) = db::cli_oauth::revoke_family(&state.pool, family).await {
        return unavailable(&reference, "cannot revoke a token family", e);
    }
    let session = session_of(state, session_hash, &reference)
        .await
        .ok()
        .flatten();
    refuse_audited(
        state,
        meta,
        session.as_ref(),
        reference,
        format!("refresh_token_reuse: family {family} revoked"),
        "refresh_token",
        error,
    )
    .await
}

async fn device_grant(
    state: &AppState,
    meta: &RequestMeta,
    req: &TokenRequest,
    reference: String,
) -> Result<Tokens, Error> {
    let now = state.clock.now();
    let Some(device_code) = req.device_code.as_deref().filter(|c| !c.is_empty()) else {
        return Err(refuse_unverified(
            state,
            meta,
            reference,
            "cli_device_code_missing",
            "invalid_request",
            "device_code is missing",
        )
        .await);
    };
    let hash = db::sha256(device_code.as_bytes());
    let polled = db::cli_oauth::device_for_poll(&state.pool, &hash)
        .await
        .map_err(|e| unavailable(&reference, "device code lookup failed", e))?;
    let Some(polled) = polled else {
        return Err(refuse_unverified(
            state,
            meta,
            reference,
            "cli_device_code_unknown",
            "invalid_grant",
            "unknown device code",
        )
        .await);
    };
    match rules::poll(&polled.state, now) {
        PollAnswer::Refused {
            error,
            next_interval_seconds,
        } => {
            db::cli_oauth::record_poll(&state.pool, &hash, next_interval_seconds, false, now)
                .await
                .map_err(|e| unavailable(&reference, "cannot record a device poll", e))?;
            // Waiting is the normal answer, not a refusal worth a record.
            Err(Error::OAuth { reference, error })
        }
        PollAnswer::Approved => {
            let redeemed = db::cli_oauth::record_poll(
                &state.pool,
                &hash,
                polled.state.interval_seconds,
                true,
                now,
            )
            .await
            .map_err(|e| unavailable(&reference, "cannot record a device poll", e))?;
            let session = match (&polled.session_hash, redeemed) {
                (Some(h), true) => session_of(state, h, &reference).await?,
                _ => None,
            };
            let (Some(session), Some(session_hash)) = (session, polled.session_hash) else {
                return Err(refuse_unverified(
                    state,
                    meta,
                    reference,
                    "cli_device_code_spent",
                    "invalid_grant",
                    "the device code was already used or its session ended",
                )
                .await);
            };
            issue_family(
                state,
                meta,
                &session_hash,
                &session,
                rules::DEVICE_GRANT_TYPE,
                None,
                reference,
                now,
            )
            .await
        }
    }
}

/// What `POST /oauth/device_authorization` answers.
pub struct DeviceStart {
    pub device_code: String,
    pub user_code: UserCode,
    pub expires_in: i64,
    pub interval: i32,
}

pub async fn start_device(
    state: &AppState,
    meta: &RequestMeta,
    client_id: Option<&str>,
) -> Result<DeviceStart, Error> {
    let reference = new_reference();
    if let Err(error) = rules::check_client(client_id) {
        count_unverified(state, &reference, meta, COUNTED_AS, "cli_device_bad_client").await;
        return Err(Error::OAuth { reference, error });
    }
    let now = state.clock.now();
    let l = lifetimes();
    let device_code = new_token("", &reference)?;
    let device_hash = db::sha256(device_code.as_bytes());
    // A clash of user codes is rare (2.6·10^10 values); a few draws settle it.
    for _ in 0..5 {
        let mut bytes = [0u8; 32];
        openssl::rand::rand_bytes(&mut bytes)
            .map_err(|e| unavailable(&reference, "no randomness", e))?;
        let Some(user_code) = UserCode::from_random(&bytes) else {
            continue;
        };
        let inserted = db::cli_oauth::insert_device(
            &state.pool,
            NewDevice {
                device_code_hash: &device_hash,
                user_code: user_code.as_str(),
                expires_at: now + Duration::seconds(l.device_seconds),
                interval_seconds: l.device_interval_seconds,
                source_ip: meta.source_ip.as_deref(),
                user_agent: meta.user_agent.as_deref(),
            },
            now,
        )
        .await
        .map_err(|e| unavailable(&reference, "cannot store a device code", e))?;
        if inserted {
            tracing::info!(reference, user_code = user_code.as_str(), source_ip = ?meta.source_ip, "CLI device authorization started");
            return Ok(DeviceStart {
                device_code,
                user_code,
                expires_in: l.device_seconds,
                interval: l.device_interval_seconds,
            });
        }
    }
    Err(unavailable(&reference, "no free user code", "five clashes"))
}

/// The person's answer on `/device`. `Ok(false)`: no such pending code.
pub async fn decide_device(
    state: &AppState,
    meta: &RequestMeta,
    session_hash: &[u8],
    session: &Session,
    user_code: &UserCode,
    approve: bool,
) -> Result<(bool, String), Error> {
    let reference = new_reference();
    let now = state.clock.now();
    let done =
        db::cli_oauth::decide_device(&state.pool, user_code.as_str(), session_hash, approve, now)
            .await
            .map_err(|e| unavailable(&reference, "cannot record the device decision", e))?;
    let mut event = event_for(
        EventKind::CliAuthorized,
        if done && approve {
            Outcome::Accepted
        } else {
            Outcome::Rejected
        },
        Some(session),
        meta,
    );
    event.details = serde_json::json!({ "grant_type": rules::DEVICE_GRANT_TYPE, "user_code": user_code.as_str() });
    if !done {
        event.reason = Some("device_code_not_pending: unknown, expired or already decided".into());
    } else if !approve {
        event.reason = Some("denied_by_person".into());
    }
    audit(state, &reference, event).await?;
    tracing::info!(reference, subject = %session.identity.subject, user_code = user_code.as_str(), approve, done, "CLI device decision");
    Ok((done, reference))
}

/// RFC 7009: revoking either token ends the whole family. Unknown tokens are not an error.
pub async fn revoke(state: &AppState, meta: &RequestMeta, token: &str) -> Result<(), Error> {
    let reference = new_reference();
    let row = db::cli_oauth::find_token(&state.pool, &db::sha256(token.as_bytes()))
        .await
        .map_err(|e| unavailable(&reference, "token lookup failed", e))?;
    let Some(row) = row else {
        return Ok(());
    };
    db::cli_oauth::revoke_family(&state.pool, row.family_id)
        .await
        .map_err(|e| unavailable(&reference, "cannot revoke a token family", e))?;
    let session = session_of(state, &row.session_hash, &reference)
        .await
        .ok()
        .flatten();
    let mut event = event_for(
        EventKind::CliSignOut,
        Outcome::Accepted,
        session.as_ref(),
        meta,
    );
    event.details = serde_json::json!({ "family": row.family_id });
    if let Err(e) = db::audit::append(&state.pool, &reference, state.clock.now(), event).await {
        tracing::error!(reference, error = %e, "audit write failed");
    }
    tracing::info!(reference, family = %row.family_id, "CLI signed out: token family revoked");
    Ok(())
}

/// The session an access token speaks for, with the session's hash.
pub async fn bearer_session(
    state: &AppState,
    token: &str,
) -> Result<Option<(Vec<u8>, Session)>, sqlx::Error> {
    let now = state.clock.now();
    let Some((session_hash, _family)) =
        db::cli_oauth::access_token_session(&state.pool, &db::sha256(token.as_bytes()), now)
            .await?
    else {
        return Ok(None);
    };
    Ok(db::sessions::find_by_hash(&state.pool, &session_hash, now)
        .await?
        .map(|s| (session_hash, s)))
}
