//! The audit chain's HMAC-SHA256 keys. They live outside the database (a file or the
//! environment), so someone who can write the database cannot recompute the chain.
//!
//! Key file: one `<id> <base64 key>` per line, `#` comments and blank lines ignored. The last key
//! signs new rows and checkpoints; every key verifies the rows and checkpoints that name its id, so
//! rotation is: append a new line, restart every process, keep the old lines.

use super::settings::AuditSettings;
use crate::key_lines::KeyLinesError;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::sign::Signer;

/// The id of the built-in development key. It is public (it is in this source file), so it is
/// accepted only in `dev_mode`.
pub const DEV_KEY_ID: &str = "dev-insecure";
const DEV_KEY_MATERIAL: &[u8] = b"roleport development audit key: not a secret, dev_mode only";

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("audit key file {path}: {message}")]
    File { path: String, message: String },
    #[error("audit keys, line {line}: {message}")]
    Line { line: usize, message: String },
    #[error("audit keys: {0}")]
    Invalid(String),
    #[error("audit keys: HMAC: {0}")]
    Crypto(#[from] openssl::error::ErrorStack),
}

impl From<KeyLinesError> for KeyError {
    fn from(e: KeyLinesError) -> Self {
        match e {
            KeyLinesError::File { path, message } => Self::File { path, message },
            KeyLinesError::Line { line, message } => Self::Line { line, message },
            KeyLinesError::Empty => Self::Invalid(e.to_string()),
        }
    }
}

pub struct AuditKey {
    id: String,
    pkey: PKey<Private>,
}

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl AuditKey {
    fn new(id: &str, secret: &[u8]) -> Result<Self, KeyError> {
        Ok(Self {
            id: id.to_string(),
            pkey: PKey::hmac(secret)?,
        })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// HMAC-SHA256 of `material`.
    pub fn mac(&self, material: &[u8]) -> Result<Vec<u8>, KeyError> {
        let mut signer = Signer::new(MessageDigest::sha256(), &self.pkey)?;
        signer.update(material)?;
        Ok(signer.sign_to_vec()?)
    }

    /// Whether `mac` is this key's MAC of `material`, compared in constant time.
    pub fn verifies(&self, material: &[u8], mac: &[u8]) -> Result<bool, KeyError> {
        let expected = self.mac(material)?;
        Ok(expected.len() == mac.len() && openssl::memcmp::eq(&expected, mac))
    }
}

#[derive(Debug)]
pub struct AuditKeys {
    /// Verify-only keys first, the signing key last.
    keys: Vec<AuditKey>,
}

impl AuditKeys {
    /// Parses key lines (the key file's format, see [`crate::key_lines`]).
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let lines = crate::key_lines::parse(text, &[DEV_KEY_ID])?;
        Self::from_lines(lines)
    }

    fn from_lines(lines: Vec<crate::key_lines::KeyLine>) -> Result<Self, KeyError> {
        let keys = lines
            .iter()
            .map(|line| AuditKey::new(&line.id, &line.secret))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { keys })
    }

    /// The keys the settings name. In `dev_mode` the public development key is accepted too, and
    /// signs when no key is configured; outside `dev_mode` it is never accepted.
    pub fn from_settings(settings: &AuditSettings, dev_mode: bool) -> Result<Self, KeyError> {
        let configured = crate::key_lines::configured(
            settings.key.as_ref(),
            settings.key_file.as_deref(),
            &[DEV_KEY_ID],
        )?
        .map(Self::from_lines)
        .transpose()?;
        match (configured, dev_mode) {
            (Some(mut ring), true) => {
                ring.keys.insert(0, Self::dev_key()?);
                Ok(ring)
            }
            (Some(ring), false) => Ok(ring),
            (None, true) => Ok(Self {
                keys: vec![Self::dev_key()?],
            }),
            (None, false) => Err(KeyError::Invalid(
                "no audit key is configured (set [audit] key_file or ROLEPORT_AUDIT__KEY_FILE)"
                    .into(),
            )),
        }
    }

    fn dev_key() -> Result<AuditKey, KeyError> {
        AuditKey::new(DEV_KEY_ID, &openssl::sha::sha256(DEV_KEY_MATERIAL))
    }

    /// The key that signs new rows and checkpoints: the last one configured.
    pub fn signing(&self) -> &AuditKey {
        // `parse` and `from_settings` never build an empty ring.
        &self.keys[self.keys.len() - 1]
    }

    pub fn get(&self, id: &str) -> Option<&AuditKey> {
        self.keys.iter().find(|k| k.id == id)
    }

    pub fn ids(&self) -> Vec<&str> {
        self.keys.iter().map(|k| k.id.as_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    const K1: &str = "k1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

    #[test]
    fn hmac_sha256_matches_rfc_4231_test_case_2() {
        // Key "Jefe" is too short for a ring; the primitive itself is what is checked here.
        let key = AuditKey::new("t", b"Jefe").unwrap();
        assert_eq!(
            hex::encode(key.mac(b"what do ya want for nothing?").unwrap()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn the_last_key_signs_and_every_key_verifies() {
        let ring = AuditKeys::parse(&format!(
            "# rotated 2026-12\n{K1}\n\nk2 {}\n",
            base64::engine::general_purpose::STANDARD.encode([7u8; 32])
        ))
        .unwrap();
        assert_eq!(ring.signing().id(), "k2");
        assert_eq!(ring.ids(), ["k1", "k2"]);
        let mac = ring.get("k1").unwrap().mac(b"row").unwrap();
        assert!(ring.get("k1").unwrap().verifies(b"row", &mac).unwrap());
        assert!(!ring.get("k2").unwrap().verifies(b"row", &mac).unwrap());
        assert!(!ring.get("k1").unwrap().verifies(b"rows", &mac).unwrap());
    }

    #[test]
    fn bad_key_lines_are_refused_with_their_line() {
        for (text, needle) in [
            ("", "no key"),
            ("k1", "line 1: expected"),
            ("# c\nk1 c2hvcnQ=", "line 2: the key is shorter"),
            ("k1 not*base64", "not base64"),
            (
                &format!("{K1}\n{K1}"),
                "line 2: this key id is already used",
            ),
            (
                "k/1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
                "key id must be",
            ),
            (
                "dev-insecure AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
                "reserved",
            ),
        ] {
            let err = AuditKeys::parse(text).unwrap_err().to_string();
            assert!(err.contains(needle), "{text:?}: {err}");
        }
    }

    #[test]
    fn the_development_key_only_in_dev_mode_and_no_key_outside_it() {
        let none = AuditSettings::default();
        assert!(AuditKeys::from_settings(&none, false).is_err());
        let dev = AuditKeys::from_settings(&none, true).unwrap();
        assert_eq!(dev.signing().id(), DEV_KEY_ID);
        let configured = AuditSettings {
            key: Some(K1.into()),
            ..AuditSettings::default()
        };
        let prod = AuditKeys::from_settings(&configured, false).unwrap();
        assert_eq!(prod.ids(), ["k1"]);
        let dev = AuditKeys::from_settings(&configured, true).unwrap();
        assert_eq!(dev.signing().id(), "k1");
        assert!(dev.get(DEV_KEY_ID).is_some());
    }

    #[test]
    fn debug_output_names_the_id_only() {
        let ring = AuditKeys::parse(K1).unwrap();
        let shown = format!("{ring:?}");
        assert!(shown.contains("k1"));
        assert!(!shown.contains("AAECAwQF"));
    }
}
