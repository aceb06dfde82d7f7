//! `[sealing]` settings: where the keys that seal upstream bearer material at rest come from.

use secrecy::SecretString;
use serde::Deserialize;
use std::path::PathBuf;

#[derive(Debug, Deserialize, Clone, Default)]
#[serde(deny_unknown_fields)]
pub struct SealingSettings {
    /// A file of keys, one `<id> <base64 key>` per line (at least 32 bytes each, as for the audit
    /// keys); the last line seals, every line opens. Kept outside the database.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// The same key lines, only from the environment (`ROLEPORT_SEALING__KEY`, or
    /// `ROLEPORT_SEALING__KEY_FILE=/path`); refused in the settings file.
    #[serde(default)]
    pub key: Option<SecretString>,
}

#[cfg(test)]
mod tests {
    use crate::configuration::load;
    use secrecy::ExposeSecret;

    fn file(name: &str, text: &str) -> std::path::PathBuf {
        let path =
            std::env::temp_dir().join(format!("roleport-sealing-{}-{name}", uuid::Uuid::new_v4()));
        std::fs::write(&path, text).unwrap();
        path
    }

    const DEV: &str = "[server]\nlisten = \"127.0.0.1:0\"\ndev_mode = true\n[database]\nurl = \"postgres://localhost/x\"\n";
    const KEY: &str = "s1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

    #[test]
    fn the_key_comes_from_the_environment_or_a_file_never_the_settings_file() {
        let keys = file("keys", &format!("{KEY}\n"));
        let s = load(
            &file("dev.toml", DEV),
            [(
                "ROLEPORT_SEALING__KEY_FILE".to_string(),
                keys.display().to_string(),
            )],
        )
        .unwrap();
        assert!(s.sealing.key.unwrap().expose_secret().starts_with("s1 "));
        let s = load(
            &file("dev.toml", DEV),
            [("ROLEPORT_SEALING__KEY".to_string(), KEY.to_string())],
        )
        .unwrap();
        assert!(s.sealing.key.is_some());
        let with_file = format!("{DEV}[sealing]\nkey_file = \"{}\"\n", keys.display());
        let s = load(&file("dev.toml", &with_file), []).unwrap();
        assert_eq!(s.sealing.key_file.as_deref(), Some(keys.as_path()));

        let inline = format!("{DEV}[sealing]\nkey = \"{KEY}\"\n");
        let err = load(&file("dev.toml", &inline), [])
            .unwrap_err()
            .to_string();
        assert!(err.contains("sealing.key must not be written"), "{err}");
    }
}
