//! The end of an accepted sign-in as one statement: the pending login taken, the assertion id
//! recorded against replay, the audit row and the session inserted — one round trip and one
//! implicit transaction, so a failure anywhere in it commits none of them and no lock is held
//! between statements (there are none). Before, these were four statements in four transactions
//! (and four commits to flush).
//!
//! The parts depend on each other through the CTEs' `RETURNING` output: the replay record is
//! only written when the pending login was taken (or there is none to take), and the audit row
//! and the session only when both of those held. A pending login taken concurrently by another
//! request, or expired meanwhile, therefore leaves nothing behind; an assertion id already used
//! leaves the taken pending login gone (a verified replay burns the login it answers, fail
//! closed) and nothing else.

use super::sha256;
use crate::sealing::id_token::SealedIdToken;
use chrono::{DateTime, SubsecRound, Utc};
use sqlx::{PgPool, Row};

/// The pending SP-initiated login the response answers, taken (deleted) if this browser still
/// holds it unexpired.
pub struct Take<'a> {
    pub request_id: &'a str,
    pub browser_hash: &'a [u8],
    pub now: DateTime<Utc>,
}

/// An id recorded in the replay cache shared by all replicas (primary key `(idp, id)`).
pub struct FirstUse<'a> {
    pub idp: &'a str,
    pub id: &'a str,
    pub expires_at: DateTime<Utc>,
}

/// The audit row, as `db::audit::append` writes it.
pub struct AuditRow<'a> {
    pub reference: &'a str,
    pub at: DateTime<Utc>,
    /// The sanitized event as JSON.
    pub event: serde_json::Value,
}

/// The session row, as `db::sessions::create_with_upstream` writes it.
pub struct NewSession<'a> {
    pub token: &'a str,
    pub csrf_token: &'a str,
    pub identity: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// The upstream ID token sealed to the session (OIDC pass-through), if kept.
    pub upstream_id_token: Option<&'a SealedIdToken>,
    pub source_ip: Option<&'a str>,
}

pub struct SignIn<'a> {
    pub take: Option<Take<'a>>,
    pub first_use: Option<FirstUse<'a>>,
    pub audit: AuditRow<'a>,
    pub session: NewSession<'a>,
}

/// What the statement committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// Pending login taken (if any), id recorded (if any), audit row and session committed.
    SignedIn,
    /// The pending login was no longer there (used by a concurrent request, or expired):
    /// nothing was written.
    LoginGone,
    /// The id was already in the replay cache: only the pending login (if any) was taken.
    Replay,
}

/// `$1..$3` take, `$4..$6` replay record, `$7..$9` audit row, `$10..$18` session. A `NULL`
/// request id (`$1`) or replay id (`$5`) skips that part.
const SIGN_IN: &str = "
WITH taken AS (
    DELETE FROM pending_logins
     WHERE request_id = $1 AND browser_hash = $2 AND expires_at > $3
    RETURNING 1
), login_ok AS (
    SELECT 1 WHERE $1::text IS NULL OR EXISTS (SELECT 1 FROM taken)
), first_use AS (
    INSERT INTO used_assertions (idp, assertion_id, expires_at)
    SELECT $4, $5, $6 FROM login_ok WHERE $5::text IS NOT NULL
    ON CONFLICT DO NOTHING
    RETURNING 1
), go AS (
    SELECT 1 FROM login_ok WHERE $5::text IS NULL OR EXISTS (SELECT 1 FROM first_use)
), audit AS (
    INSERT INTO audit_events (ref_id, at, event)
    SELECT $7, $8, $9 FROM go
    RETURNING seq
), session AS (
    INSERT INTO sessions (id_hash, csrf_token, sign_in_reference, identity, created_at, expires_at,
        upstream_id_token_sealed, upstream_id_token_key_id, upstream_id_token_expires_at, source_ip)
    SELECT $10, $11, $7, $12, $13, $14, $15, $16, $17, $18 FROM go
    RETURNING 1
)
SELECT EXISTS (SELECT 1 FROM login_ok) AS login_ok,
       EXISTS (SELECT 1 FROM audit) AND EXISTS (SELECT 1 FROM session) AS recorded";

/// Runs the sign-in's one statement. An `Err` (database unreachable, a constraint, a timeout)
/// means nothing of it was committed.
pub async fn record(pool: &PgPool, s: SignIn<'_>) -> Result<Recorded, sqlx::Error> {
    let sealed = s.session.upstream_id_token;
    let row = sqlx::query(SIGN_IN)
        .bind(s.take.as_ref().map(|t| t.request_id))
        .bind(s.take.as_ref().map(|t| t.browser_hash))
        .bind(s.take.as_ref().map(|t| t.now))
        .bind(s.first_use.as_ref().map(|f| f.idp))
        .bind(s.first_use.as_ref().map(|f| f.id))
        .bind(s.first_use.as_ref().map(|f| f.expires_at))
        .bind(s.audit.reference)
        .bind(s.audit.at.trunc_subsecs(6))
        .bind(&s.audit.event)
        .bind(sha256(s.session.token.as_bytes()))
        .bind(s.session.csrf_token)
        .bind(&s.session.identity)
        .bind(s.session.created_at)
        .bind(s.session.expires_at)
        .bind(sealed.map(|t| t.sealed.as_slice()))
        .bind(sealed.map(|t| t.key_id.as_str()))
        .bind(sealed.map(|t| t.expires_at))
        .bind(s.session.source_ip)
        .fetch_one(pool)
        .await?;
    let login_ok: bool = row.try_get("login_ok")?;
    let recorded: bool = row.try_get("recorded")?;
    Ok(match (login_ok, recorded) {
        (_, true) => Recorded::SignedIn,
        (false, false) => Recorded::LoginGone,
        (true, false) => Recorded::Replay,
    })
}
