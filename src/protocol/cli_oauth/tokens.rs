//! Token lifetimes and refresh rotation. An access token lives minutes; a refresh token lives as
//! long as the Roleport session and no longer. Every refresh rotates the refresh token, and a
//! rotated one presented again means it was copied: the whole family is revoked (OAuth 2.0
//! Security BCP, RFC 9700 §4.14.2).

use chrono::{DateTime, Duration, Utc};

#[derive(Debug, Clone, Copy)]
pub struct Lifetimes {
    pub access_seconds: i64,
    pub code_seconds: i64,
    pub device_seconds: i64,
    pub device_interval_seconds: i32,
}

impl Default for Lifetimes {
    fn default() -> Self {
        Self {
            access_seconds: 15 * 60,
            code_seconds: 60,
            device_seconds: 10 * 60,
            device_interval_seconds: 5,
        }
    }
}

impl Lifetimes {
    /// When an access token issued now expires: never after the session.
    pub fn access_expiry(
        &self,
        now: DateTime<Utc>,
        session_expires: DateTime<Utc>,
    ) -> DateTime<Utc> {
        (now + Duration::seconds(self.access_seconds)).min(session_expires)
    }
}

/// A refresh token as stored, with its family.
#[derive(Debug, Clone)]
pub struct RefreshRow {
    pub is_refresh: bool,
    pub expires_at: DateTime<Utc>,
    pub rotated: bool,
    /// The session the family is bound to, still alive.
    pub session_expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshDecision {
    /// Issue a new access + refresh token; mark this one rotated.
    Rotate,
    /// A rotated token came back: revoke the family.
    ReuseRevokeFamily,
    /// Unknown, an access token, or expired: `invalid_grant`.
    Invalid(&'static str),
}

pub fn decide_refresh(row: Option<&RefreshRow>, now: DateTime<Utc>) -> RefreshDecision {
    let Some(row) = row else {
        return RefreshDecision::Invalid("unknown_token");
    };
    if !row.is_refresh {
        return RefreshDecision::Invalid("not_a_refresh_token");
    }
    if row.rotated {
        return RefreshDecision::ReuseRevokeFamily;
    }
    if now >= row.expires_at || now >= row.session_expires_at {
        return RefreshDecision::Invalid("expired");
    }
    RefreshDecision::Rotate
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::UNIX_EPOCH + Duration::seconds(s)
    }

    fn row() -> RefreshRow {
        RefreshRow {
            is_refresh: true,
            expires_at: t(1000),
            rotated: false,
            session_expires_at: t(1000),
        }
    }

    #[test]
    fn rotation_reuse_and_expiry() {
        assert_eq!(decide_refresh(Some(&row()), t(10)), RefreshDecision::Rotate);
        let rotated = RefreshRow {
            rotated: true,
            ..row()
        };
        assert_eq!(
            decide_refresh(Some(&rotated), t(10)),
            RefreshDecision::ReuseRevokeFamily
        );
        // Reuse is detected even after expiry: the copy is still evidence.
        assert_eq!(
            decide_refresh(Some(&rotated), t(5000)),
            RefreshDecision::ReuseRevokeFamily
        );
        assert_eq!(
            decide_refresh(Some(&row()), t(1000)),
            RefreshDecision::Invalid("expired")
        );
        let session_ended = RefreshRow {
            session_expires_at: t(5),
            ..row()
        };
        assert_eq!(
            decide_refresh(Some(&session_ended), t(10)),
            RefreshDecision::Invalid("expired")
        );
        let access = RefreshRow {
            is_refresh: false,
            ..row()
        };
        assert_eq!(
            decide_refresh(Some(&access), t(10)),
            RefreshDecision::Invalid("not_a_refresh_token")
        );
        assert_eq!(
            decide_refresh(None, t(10)),
            RefreshDecision::Invalid("unknown_token")
        );
    }

    proptest! {
        #[test]
        fn access_tokens_never_outlive_the_session(now in 0i64..100_000, session in 0i64..100_000, life in 1i64..100_000) {
            let l = Lifetimes { access_seconds: life, ..Lifetimes::default() };
            let exp = l.access_expiry(t(now), t(session));
            prop_assert!(exp <= t(session));
            prop_assert!(exp <= t(now + life));
        }
    }
}
