//! `[audit]` settings: where the chain's HMAC keys come from and how often the chain is sealed and
//! checkpointed.

use secrecy::SecretString;
use serde::Deserialize;
use std::path::PathBuf;

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct AuditSettings {
    /// A file of HMAC keys, one `<id> <base64 key>` per line (at least 32 bytes each); the last
    /// line signs, the others verify older rows. Kept outside the database.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// The same key lines, only from the environment (`ROLEPORT_AUDIT__KEY`, or
    /// `ROLEPORT_AUDIT__KEY_FILE=/path` which reads them from a file); refused in the settings file.
    #[serde(default)]
    pub key: Option<SecretString>,
    /// How often each process tries to seal committed rows into the chain.
    #[serde(default = "default_seal_interval")]
    pub seal_interval_seconds: u64,
    /// How often the sealer writes a checkpoint while the chain grows.
    #[serde(default = "default_checkpoint_interval")]
    pub checkpoint_interval_seconds: u64,
    /// `audit verify` reports a row that has been sealed longer than this without a checkpoint
    /// covering it (checkpoints, and perhaps the tail, were deleted). 0 turns the check off.
    #[serde(default = "default_checkpoint_max_age")]
    pub checkpoint_max_age_seconds: u64,
}

impl Default for AuditSettings {
    fn default() -> Self {
        Self {
            key_file: None,
            key: None,
            seal_interval_seconds: default_seal_interval(),
            checkpoint_interval_seconds: default_checkpoint_interval(),
            checkpoint_max_age_seconds: default_checkpoint_max_age(),
        }
    }
}

fn default_seal_interval() -> u64 {
    1
}
fn default_checkpoint_interval() -> u64 {
    60
}
fn default_checkpoint_max_age() -> u64 {
    900
}

impl AuditSettings {
    pub fn validate(&self, dev_mode: bool) -> Result<(), String> {
        if self.key.is_some() && self.key_file.is_some() {
            return Err(
                "audit: the keys are given twice (audit.key_file and ROLEPORT_AUDIT__KEY(_FILE)): keep one"
                    .into(),
            );
        }
        if self.key.is_none() && self.key_file.is_none() && !dev_mode {
            return Err(
                "audit.key_file is not set: the audit chain needs an HMAC key kept outside the \
                 database. Create one with `echo \"k1 $(openssl rand -base64 32)\" > /etc/roleport/audit-keys` \
                 (mode 0600) and set [audit] key_file or ROLEPORT_AUDIT__KEY_FILE"
                    .into(),
            );
        }
        if !(1..=60).contains(&self.seal_interval_seconds) {
            return Err("audit.seal_interval_seconds must be between 1 and 60".into());
        }
        if !(1..=86_400).contains(&self.checkpoint_interval_seconds) {
            return Err("audit.checkpoint_interval_seconds must be between 1 and 86400".into());
        }
        if self.checkpoint_max_age_seconds != 0
            && self.checkpoint_max_age_seconds
                <= self.checkpoint_interval_seconds + 2 * self.seal_interval_seconds
        {
            return Err(
                "audit.checkpoint_max_age_seconds must exceed checkpoint_interval_seconds plus two \
                 seal intervals (or be 0 to turn the staleness check off)"
                    .into(),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::configuration::load;
    use secrecy::ExposeSecret;

    fn file(name: &str, text: &str) -> std::path::PathBuf {
        let path =
            std::env::temp_dir().join(format!("roleport-audit-{}-{name}", uuid::Uuid::new_v4()));
        std::fs::write(&path, text).unwrap();
        path
    }

    const PROD: &str = "[server]\nlisten = \"0.0.0.0:8080\"\npublic_url = \"https://roleport.example.com\"\n[database]\nurl = \"postgres://localhost/x\"\n";

    #[test]
    fn outside_dev_mode_a_missing_key_is_refused_clearly() {
        let err = load(&file("prod.toml", PROD), []).unwrap_err().to_string();
        assert!(err.contains("audit.key_file is not set"), "{err}");
        let keys = file("keys", "k1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n");
        let with_file = format!("{PROD}[audit]\nkey_file = \"{}\"\n", keys.display());
        assert!(load(&file("prod.toml", &with_file), []).is_ok());
    }

    #[test]
    fn the_key_comes_from_the_environment_or_a_file_never_the_settings_file() {
        let keys = file("keys", "k1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n");
        let s = load(
            &file("prod.toml", PROD),
            [(
                "ROLEPORT_AUDIT__KEY_FILE".to_string(),
                keys.display().to_string(),
            )],
        )
        .unwrap();
        assert!(s.audit.key.unwrap().expose_secret().starts_with("k1 "));
        let inline =
            format!("{PROD}[audit]\nkey = \"k1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\"\n");
        let err = load(&file("prod.toml", &inline), [])
            .unwrap_err()
            .to_string();
        assert!(err.contains("audit.key must not be written"), "{err}");
        let twice = format!("{PROD}[audit]\nkey_file = \"{}\"\n", keys.display());
        let err = load(
            &file("prod.toml", &twice),
            [("ROLEPORT_AUDIT__KEY".to_string(), "k1 x".to_string())],
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("given twice"), "{err}");
    }
}
