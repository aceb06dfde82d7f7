//! What an admin sent when the page asked for a fresh sign-in first (a rules document), kept
//! sealed for the few minutes the trip through the identity provider takes.
//!
//! Key: HMAC-SHA256(newest configured key, purpose ‖ 0 ‖ the draft cookie), so the database and
//! the key file together open nothing without the browser that sent it. Associated data binds
//! the row's person (IdP and subject), what it was sent to, and its expiry: a draft moved to
//! another person or form, or given a later expiry, does not open.

use super::id_token::SealError;
use super::keys::SealingKeys;
use super::shown_once::{SealedSet, open_for, seal_for};
use chrono::{DateTime, Utc};

const PURPOSE: &str = "roleport admin draft v1";

/// Who may take the draft back, and to which form it belongs: unambiguous bytes (each part's
/// length first), hashed into the associated data's id.
fn binding(idp: &str, subject: &str, form: &str) -> String {
    let mut out = Vec::new();
    for part in [idp, subject, form] {
        out.extend_from_slice(&(part.len() as u64).to_be_bytes());
        out.extend_from_slice(part.as_bytes());
    }
    hex::encode(openssl::sha::sha256(&out))
}

/// A draft's owner and form.
pub struct DraftOwner<'a> {
    pub idp: &'a str,
    pub subject: &'a str,
    /// The admin action it was sent to (`rules.dry_run`, `rules.import`).
    pub form: &'a str,
}

pub fn seal(
    keys: &SealingKeys,
    cookie: &str,
    owner: &DraftOwner<'_>,
    expires_at: DateTime<Utc>,
    plain: &[u8],
) -> Result<SealedSet, SealError> {
    let id = binding(owner.idp, owner.subject, owner.form);
    seal_for(PURPOSE, keys, cookie, &id, expires_at, plain)
}

/// `None` when the key is gone, or the draft was not sealed for this cookie, person and form.
pub fn open(
    keys: &SealingKeys,
    cookie: &str,
    owner: &DraftOwner<'_>,
    expires_at: DateTime<Utc>,
    set: &SealedSet,
) -> Option<Vec<u8>> {
    let id = binding(owner.idp, owner.subject, owner.form);
    open_for(PURPOSE, keys, cookie, &id, expires_at, set)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S1: &str = "s1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const DOC: &[u8] = b"version: 1\nrules: []\n";

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(s, 0).unwrap()
    }

    fn owner<'a>(idp: &'a str, subject: &'a str, form: &'a str) -> DraftOwner<'a> {
        DraftOwner { idp, subject, form }
    }

    #[test]
    fn a_draft_opens_only_for_its_cookie_person_form_and_expiry() {
        let keys = SealingKeys::parse(S1).unwrap();
        let alice = owner("demo-saml", "alice", "rules.dry_run");
        let set = seal(&keys, "cookie-a", &alice, at(1_900_000_000), DOC).unwrap();
        assert!(!set.sealed.windows(8).any(|w| w == &DOC[..8]));
        assert_eq!(
            open(&keys, "cookie-a", &alice, at(1_900_000_000), &set).as_deref(),
            Some(DOC)
        );
        for (cookie, who, expiry) in [
            ("cookie-b", owner("demo-saml", "alice", "rules.dry_run"), 0),
            ("cookie-a", owner("demo-oidc", "alice", "rules.dry_run"), 0),
            ("cookie-a", owner("demo-saml", "alice ", "rules.dry_run"), 0),
            ("cookie-a", owner("demo-saml", "Alice", "rules.dry_run"), 0),
            ("cookie-a", owner("demo-saml", "alice", "rules.import"), 0),
            // The parts cannot be shifted into one another.
            ("cookie-a", owner("demo-samla", "lice", "rules.dry_run"), 0),
            ("cookie-a", owner("demo-saml", "alice", "rules.dry_run"), 1),
        ] {
            assert!(
                open(&keys, cookie, &who, at(1_900_000_000 + expiry), &set).is_none(),
                "{cookie} {} {} {} +{expiry}",
                who.idp,
                who.subject,
                who.form
            );
        }
        // Sealed for another purpose with the same inputs: does not open as a draft.
        let id = binding("demo-saml", "alice", "rules.dry_run");
        let credentials =
            crate::sealing::shown_once::seal(&keys, "cookie-a", &id, at(1_900_000_000), DOC)
                .unwrap();
        assert!(open(&keys, "cookie-a", &alice, at(1_900_000_000), &credentials).is_none());
    }
}
