//! An issued credential set waiting for the one page view that shows it, sealed at rest.
//!
//! Key: HMAC-SHA256(newest configured key, purpose ‖ 0 ‖ session cookie), as for the upstream ID
//! token ([`super::id_token`]): the database and the key file together open nothing without the
//! browser's cookie. Associated data: purpose, key id, the session id hash, the set's id and its
//! expiry, so a sealed set moved to another session or id, or given a later expiry, does not open.

use super::aead;
use super::id_token::SealError;
use super::keys::SealingKeys;
use chrono::{DateTime, Utc};

const PURPOSE: &str = "roleport shown-once credentials v1";

/// A sealed set as its row keeps it.
pub struct SealedSet {
    pub key_id: String,
    pub sealed: Vec<u8>,
}

fn associated(
    purpose: &str,
    key_id: &str,
    session_token: &str,
    id: &str,
    expires_at: DateTime<Utc>,
) -> Vec<u8> {
    let mut out = purpose.as_bytes().to_vec();
    out.push(0);
    out.extend_from_slice(key_id.as_bytes());
    out.push(0);
    out.extend_from_slice(&openssl::sha::sha256(session_token.as_bytes()));
    out.extend_from_slice(id.as_bytes());
    out.push(0);
    out.extend_from_slice(&expires_at.timestamp_micros().to_be_bytes());
    out
}

/// Seals `plain` for the session whose cookie is `session_token`, under the newest key.
pub fn seal(
    keys: &SealingKeys,
    session_token: &str,
    id: &str,
    expires_at: DateTime<Utc>,
    plain: &[u8],
) -> Result<SealedSet, SealError> {
    seal_for(PURPOSE, keys, session_token, id, expires_at, plain)
}

/// Opens a sealed set; `None` if its key is gone or it does not open for this session and id.
pub fn open(
    keys: &SealingKeys,
    session_token: &str,
    id: &str,
    expires_at: DateTime<Utc>,
    set: &SealedSet,
) -> Option<Vec<u8>> {
    open_for(PURPOSE, keys, session_token, id, expires_at, set)
}

/// [`seal`] for another `purpose` (its own derived keys: a value sealed for one purpose never
/// opens for another), held by whoever has `holder_token`.
pub(crate) fn seal_for(
    purpose: &str,
    keys: &SealingKeys,
    holder_token: &str,
    id: &str,
    expires_at: DateTime<Utc>,
    plain: &[u8],
) -> Result<SealedSet, SealError> {
    let key = keys.sealing();
    let derived = key.derive(purpose, holder_token.as_bytes())?;
    let sealed = aead::seal(
        &derived,
        &associated(purpose, key.id(), holder_token, id, expires_at),
        plain,
    )?;
    Ok(SealedSet {
        key_id: key.id().to_string(),
        sealed,
    })
}

/// [`open`] for another `purpose`.
pub(crate) fn open_for(
    purpose: &str,
    keys: &SealingKeys,
    holder_token: &str,
    id: &str,
    expires_at: DateTime<Utc>,
    set: &SealedSet,
) -> Option<Vec<u8>> {
    let key = keys.get(&set.key_id)?;
    let derived = key.derive(purpose, holder_token.as_bytes()).ok()?;
    aead::open(
        &derived,
        &associated(purpose, &set.key_id, holder_token, id, expires_at),
        &set.sealed,
    )
    .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const S1: &str = "s1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const SECRET: &[u8] = b"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(s, 0).unwrap()
    }

    #[test]
    fn a_sealed_set_opens_only_for_its_session_id_and_expiry() {
        let keys = SealingKeys::parse(S1).unwrap();
        let set = seal(&keys, "cookie-a", "id-1", at(1_900_000_000), SECRET).unwrap();
        assert!(!set.sealed.windows(8).any(|w| w == &SECRET[..8]));
        assert_eq!(
            open(&keys, "cookie-a", "id-1", at(1_900_000_000), &set).as_deref(),
            Some(SECRET)
        );
        assert!(open(&keys, "cookie-b", "id-1", at(1_900_000_000), &set).is_none());
        assert!(open(&keys, "cookie-a", "id-2", at(1_900_000_000), &set).is_none());
        assert!(open(&keys, "cookie-a", "id-1", at(1_900_000_001), &set).is_none());
        let other = SealingKeys::parse("s1 BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=").unwrap();
        assert!(open(&other, "cookie-a", "id-1", at(1_900_000_000), &set).is_none());
    }
}
