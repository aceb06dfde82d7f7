//! The sealing key ring: the last key seals, every key opens what names its id. Rotation is:
//! append a new line, restart every process; removing a line makes what it sealed unreadable.

use super::settings::SealingSettings;
use crate::key_lines::{self, KeyLinesError};
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::sign::Signer;

#[derive(Debug, thiserror::Error)]
pub enum SealingKeyError {
    #[error("sealing keys: {0}")]
    Lines(#[from] KeyLinesError),
    #[error("sealing keys: {0}")]
    Invalid(String),
    #[error("sealing keys: {0}")]
    Crypto(#[from] openssl::error::ErrorStack),
}

pub struct SealingKey {
    id: String,
    pkey: PKey<Private>,
}

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealingKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl SealingKey {
    fn new(id: &str, secret: &[u8]) -> Result<Self, SealingKeyError> {
        Ok(Self {
            id: id.to_string(),
            pkey: PKey::hmac(secret)?,
        })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// An AES-256 key for one purpose and one holder: HMAC-SHA256(key, purpose ‖ 0 ‖ holder).
    /// A configured key never encrypts directly, so one key serves every purpose.
    pub fn derive(&self, purpose: &str, holder: &[u8]) -> Result<[u8; 32], SealingKeyError> {
        let mut signer = Signer::new(MessageDigest::sha256(), &self.pkey)?;
        signer.update(purpose.as_bytes())?;
        signer.update(&[0])?;
        signer.update(holder)?;
        let mut out = [0u8; 32];
        signer.sign(&mut out)?;
        Ok(out)
    }
}

#[derive(Debug)]
pub struct SealingKeys {
    /// Open-only keys first, the sealing key last; never empty.
    keys: Vec<SealingKey>,
    ephemeral: bool,
}

impl SealingKeys {
    pub fn parse(text: &str) -> Result<Self, SealingKeyError> {
        Self::from_lines(key_lines::parse(text, &[])?)
    }

    fn from_lines(lines: Vec<key_lines::KeyLine>) -> Result<Self, SealingKeyError> {
        let keys = lines
            .iter()
            .map(|line| SealingKey::new(&line.id, &line.secret))
            .collect::<Result<Vec<_>, _>>()?;
        if keys.is_empty() {
            return Err(KeyLinesError::Empty.into());
        }
        Ok(Self {
            keys,
            ephemeral: false,
        })
    }

    /// The configured keys. Without any: outside `dev_mode` that is refused when an OpenID
    /// provider is configured (its sign-ins keep ID tokens for `oidc_passthrough`); otherwise a
    /// random key that lives as long as this process, so nothing sealed survives a restart or
    /// opens on another replica (those sessions are asked to sign in again for pass-through).
    pub fn from_settings(
        settings: &SealingSettings,
        dev_mode: bool,
        oidc_idps: &[&str],
    ) -> Result<Self, SealingKeyError> {
        if settings.key.is_some() && settings.key_file.is_some() {
            return Err(SealingKeyError::Invalid(
                "the keys are given twice (sealing.key_file and ROLEPORT_SEALING__KEY(_FILE)): keep one"
                    .into(),
            ));
        }
        if let Some(lines) =
            key_lines::configured(settings.key.as_ref(), settings.key_file.as_deref(), &[])?
        {
            return Self::from_lines(lines);
        }
        if !dev_mode && !oidc_idps.is_empty() {
            return Err(SealingKeyError::Invalid(format!(
                "no sealing key is configured, and the OpenID provider(s) {} keep each sign-in's \
                 ID token for oidc_passthrough, sealed at rest. Create a key with \
                 `echo \"k1 $(openssl rand -base64 32)\" > /etc/roleport/sealing-keys` (mode 0600) \
                 and set [sealing] key_file or ROLEPORT_SEALING__KEY_FILE",
                oidc_idps
                    .iter()
                    .map(|id| format!("`{id}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        Self::ephemeral()
    }

    fn ephemeral() -> Result<Self, SealingKeyError> {
        let mut secret = [0u8; 32];
        openssl::rand::rand_bytes(&mut secret)?;
        let mut tag = [0u8; 4];
        openssl::rand::rand_bytes(&mut tag)?;
        Ok(Self {
            keys: vec![SealingKey::new(
                &format!("ephemeral-{}", hex::encode(tag)),
                &secret,
            )?],
            ephemeral: true,
        })
    }

    /// The key that seals: the last one configured.
    pub fn sealing(&self) -> &SealingKey {
        // Every constructor refuses an empty ring.
        &self.keys[self.keys.len() - 1]
    }

    pub fn get(&self, id: &str) -> Option<&SealingKey> {
        self.keys.iter().find(|k| k.id == id)
    }

    pub fn ids(&self) -> Vec<&str> {
        self.keys.iter().map(|k| k.id.as_str()).collect()
    }

    /// Whether no key was configured and this process made its own.
    pub fn is_ephemeral(&self) -> bool {
        self.ephemeral
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    const S1: &str = "s1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const S2: &str = "s2 BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=";

    fn with_key(text: &str) -> SealingSettings {
        SealingSettings {
            key: Some(SecretString::from(text.to_string())),
            key_file: None,
        }
    }

    #[test]
    fn the_last_key_seals_and_every_key_is_found_by_id() {
        let ring = SealingKeys::parse(&format!("# rotated\n{S1}\n{S2}\n")).unwrap();
        assert_eq!(ring.sealing().id(), "s2");
        assert_eq!(ring.ids(), ["s1", "s2"]);
        assert!(ring.get("s1").is_some());
        assert!(ring.get("s3").is_none());
        assert!(!ring.is_ephemeral());
    }

    #[test]
    fn derived_keys_differ_by_key_purpose_and_holder() {
        let ring = SealingKeys::parse(&format!("{S1}\n{S2}")).unwrap();
        let s1 = ring.get("s1").unwrap();
        let a = s1.derive("p", b"holder").unwrap();
        assert_eq!(a, s1.derive("p", b"holder").unwrap());
        assert_ne!(a, s1.derive("p", b"holder2").unwrap());
        assert_ne!(a, s1.derive("q", b"holder").unwrap());
        assert_ne!(a, ring.get("s2").unwrap().derive("p", b"holder").unwrap());
        // The separator keeps purpose and holder apart.
        assert_ne!(
            s1.derive("pa", b"b").unwrap(),
            s1.derive("p", b"ab").unwrap()
        );
    }

    #[test]
    fn bad_lines_are_refused_with_their_line_and_no_key_parses_as_one() {
        for (text, needle) in [
            ("", "no key"),
            ("s1", "line 1: expected"),
            ("# c\ns1 c2hvcnQ=", "line 2: the key is shorter"),
            (
                &format!("{S1}\n{S1}"),
                "line 2: this key id is already used",
            ),
        ] {
            let err = SealingKeys::parse(text).unwrap_err().to_string();
            assert!(err.starts_with("sealing keys: "), "{err}");
            assert!(err.contains(needle), "{text:?}: {err}");
        }
    }

    #[test]
    fn outside_dev_mode_an_oidc_provider_needs_a_configured_key() {
        let none = SealingSettings::default();
        let err = SealingKeys::from_settings(&none, false, &["corp-oidc"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("no sealing key is configured"), "{err}");
        assert!(err.contains("`corp-oidc`"), "{err}");
        assert!(err.contains("ROLEPORT_SEALING__KEY_FILE"), "{err}");
        // Nothing is sealed without an OpenID provider, and dev_mode gets a process key.
        assert!(
            SealingKeys::from_settings(&none, false, &[])
                .unwrap()
                .is_ephemeral()
        );
        let dev = SealingKeys::from_settings(&none, true, &["corp-oidc"]).unwrap();
        assert!(dev.is_ephemeral());
        assert!(dev.sealing().id().starts_with("ephemeral-"));
        let other = SealingKeys::from_settings(&none, true, &["corp-oidc"]).unwrap();
        assert_ne!(dev.sealing().id(), other.sealing().id());
        assert_ne!(
            dev.sealing().derive("p", b"h").unwrap(),
            other.sealing().derive("p", b"h").unwrap()
        );
        let prod = SealingKeys::from_settings(&with_key(S1), false, &["corp-oidc"]).unwrap();
        assert_eq!(prod.ids(), ["s1"]);
    }

    #[test]
    fn keys_given_twice_or_from_a_bad_file_are_refused() {
        let twice = SealingSettings {
            key: Some(SecretString::from(S1.to_string())),
            key_file: Some("/nonexistent".into()),
        };
        let err = SealingKeys::from_settings(&twice, true, &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("given twice"), "{err}");
        let missing = SealingSettings {
            key: None,
            key_file: Some("/nonexistent/sealing-keys".into()),
        };
        let err = SealingKeys::from_settings(&missing, true, &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("key file /nonexistent/sealing-keys"), "{err}");
    }

    #[test]
    fn debug_output_names_the_id_only() {
        let shown = format!("{:?}", SealingKeys::parse(S1).unwrap());
        assert!(shown.contains("s1"));
        assert!(!shown.contains("AAECAwQF"));
    }
}
