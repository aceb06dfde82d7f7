//! The upstream ID token kept with a session for `oidc_passthrough`, sealed at rest.
//!
//! Key: HMAC-SHA256(newest configured key, purpose ‖ 0 ‖ session cookie). Only the cookie's hash
//! is stored, so the database and the key file together still open nothing: the browser's cookie
//! is needed too, as for pending OIDC logins. Associated data: purpose, key id, the session id
//! hash and the token's expiry, so a sealed token copied onto another session row, or given a
//! later expiry there, does not open.

use super::aead::{self, AeadError};
use super::keys::{SealingKeyError, SealingKeys};
use crate::domain::{KeptIdToken, UnreadableIdToken, UpstreamIdToken};
use chrono::{DateTime, Utc};

const PURPOSE: &str = "roleport upstream id token v1";

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error(transparent)]
    Aead(#[from] AeadError),
    #[error(transparent)]
    Key(#[from] SealingKeyError),
}

/// A sealed token as the session row keeps it.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedIdToken {
    pub key_id: String,
    pub sealed: Vec<u8>,
    pub expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for SealedIdToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedIdToken")
            .field("key_id", &self.key_id)
            .field("sealed", &format_args!("<{} bytes>", self.sealed.len()))
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

fn associated(key_id: &str, session_token: &str, expires_at: DateTime<Utc>) -> Vec<u8> {
    let mut out = PURPOSE.as_bytes().to_vec();
    out.push(0);
    out.extend_from_slice(key_id.as_bytes());
    out.push(0);
    out.extend_from_slice(&openssl::sha::sha256(session_token.as_bytes()));
    out.extend_from_slice(&expires_at.timestamp_micros().to_be_bytes());
    out
}

/// Seals `token` for the session whose cookie is `session_token`, under the newest key.
pub fn seal(
    keys: &SealingKeys,
    session_token: &str,
    token: &UpstreamIdToken,
) -> Result<SealedIdToken, SealError> {
    let key = keys.sealing();
    let derived = key.derive(PURPOSE, session_token.as_bytes())?;
    let sealed = aead::seal(
        &derived,
        &associated(key.id(), session_token, token.expires_at),
        token.token().as_bytes(),
    )?;
    Ok(SealedIdToken {
        key_id: key.id().to_string(),
        sealed,
        expires_at: token.expires_at,
    })
}

/// Opens what a session row holds. Every failure is an [`UnreadableIdToken`], never an error:
/// the session stays usable for everything but pass-through.
pub fn open(
    keys: &SealingKeys,
    session_token: &str,
    sealed: Option<Vec<u8>>,
    key_id: Option<String>,
    expires_at: Option<DateTime<Utc>>,
) -> KeptIdToken {
    let (sealed, key_id, expires_at) = match (sealed, key_id, expires_at) {
        (None, None, None) => return KeptIdToken::None,
        (None, None, Some(_)) => return KeptIdToken::Unreadable(UnreadableIdToken::Dropped),
        (Some(sealed), Some(key_id), Some(expires_at)) => (sealed, key_id, expires_at),
        (_, key_id, _) => {
            return KeptIdToken::Unreadable(UnreadableIdToken::DoesNotOpen {
                key_id: key_id.unwrap_or_default(),
            });
        }
    };
    let Some(key) = keys.get(&key_id) else {
        return KeptIdToken::Unreadable(UnreadableIdToken::KeyRemoved { key_id });
    };
    let opened = key
        .derive(PURPOSE, session_token.as_bytes())
        .ok()
        .and_then(|derived| {
            aead::open(
                &derived,
                &associated(&key_id, session_token, expires_at),
                &sealed,
            )
            .ok()
        })
        .and_then(|plain| String::from_utf8(plain).ok());
    match opened {
        Some(token) => KeptIdToken::Open(UpstreamIdToken::new(token, expires_at)),
        None => KeptIdToken::Unreadable(UnreadableIdToken::DoesNotOpen { key_id }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S1: &str = "s1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const S2: &str = "s2 BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=";
    const TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl";

    fn token() -> UpstreamIdToken {
        UpstreamIdToken::new(
            TOKEN.into(),
            DateTime::from_timestamp(1_900_000_000, 0).unwrap(),
        )
    }

    fn reopen(keys: &SealingKeys, cookie: &str, s: &SealedIdToken) -> KeptIdToken {
        open(
            keys,
            cookie,
            Some(s.sealed.clone()),
            Some(s.key_id.clone()),
            Some(s.expires_at),
        )
    }

    #[test]
    fn a_sealed_token_opens_for_its_session_and_holds_no_plaintext() {
        let keys = SealingKeys::parse(S1).unwrap();
        let sealed = seal(&keys, "cookie-a", &token()).unwrap();
        assert_eq!(sealed.key_id, "s1");
        for part in TOKEN.split('.') {
            assert!(
                !sealed
                    .sealed
                    .windows(8)
                    .any(|w| part.as_bytes().starts_with(w))
            );
        }
        assert_eq!(
            reopen(&keys, "cookie-a", &sealed),
            KeptIdToken::Open(token())
        );
    }

    #[test]
    fn another_session_or_another_expiry_does_not_open() {
        let keys = SealingKeys::parse(S1).unwrap();
        let sealed = seal(&keys, "cookie-a", &token()).unwrap();
        let does_not_open = KeptIdToken::Unreadable(UnreadableIdToken::DoesNotOpen {
            key_id: "s1".into(),
        });
        assert_eq!(reopen(&keys, "cookie-b", &sealed), does_not_open);
        let later = SealedIdToken {
            expires_at: sealed.expires_at + chrono::Duration::hours(1),
            ..sealed.clone()
        };
        assert_eq!(reopen(&keys, "cookie-a", &later), does_not_open);
    }

    #[test]
    fn rotation_new_key_seals_old_still_opens_removed_fails_closed() {
        let old = SealingKeys::parse(S1).unwrap();
        let sealed_old = seal(&old, "cookie-a", &token()).unwrap();
        let rotated = SealingKeys::parse(&format!("{S1}\n{S2}")).unwrap();
        assert_eq!(
            reopen(&rotated, "cookie-a", &sealed_old),
            KeptIdToken::Open(token())
        );
        let sealed_new = seal(&rotated, "cookie-b", &token()).unwrap();
        assert_eq!(sealed_new.key_id, "s2");
        let retired = SealingKeys::parse(S2).unwrap();
        assert_eq!(
            reopen(&retired, "cookie-a", &sealed_old),
            KeptIdToken::Unreadable(UnreadableIdToken::KeyRemoved {
                key_id: "s1".into()
            })
        );
        assert_eq!(
            reopen(&retired, "cookie-b", &sealed_new),
            KeptIdToken::Open(token())
        );
        // A key id relabelled onto other material does not open either.
        let relabelled = SealedIdToken {
            key_id: "s2".into(),
            ..sealed_old
        };
        assert!(matches!(
            reopen(&retired, "cookie-a", &relabelled),
            KeptIdToken::Unreadable(UnreadableIdToken::DoesNotOpen { .. })
        ));
    }

    #[test]
    fn rows_without_a_sealed_token() {
        let keys = SealingKeys::parse(S1).unwrap();
        assert_eq!(open(&keys, "c", None, None, None), KeptIdToken::None);
        assert_eq!(
            open(&keys, "c", None, None, Some(token().expires_at)),
            KeptIdToken::Unreadable(UnreadableIdToken::Dropped)
        );
        assert!(matches!(
            open(&keys, "c", Some(vec![1, 2]), None, Some(token().expires_at)),
            KeptIdToken::Unreadable(UnreadableIdToken::DoesNotOpen { .. })
        ));
    }
}
