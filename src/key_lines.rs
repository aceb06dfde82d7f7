//! Key files kept outside the database (the audit chain's HMAC keys, the sealing keys): one
//! `<id> <base64 key>` per line, `#` comments and blank lines ignored. Every key is at least 32
//! bytes and its id is unique; the last line is the newest key.

use base64::Engine;
use secrecy::{ExposeSecret, SecretString};
use std::path::Path;

const MIN_KEY_BYTES: usize = 32;

/// One line of a key file.
pub struct KeyLine {
    pub id: String,
    pub secret: Vec<u8>,
}

impl std::fmt::Debug for KeyLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyLine")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyLinesError {
    #[error("key file {path}: {message}")]
    File { path: String, message: String },
    #[error("line {line}: {message}")]
    Line { line: usize, message: String },
    #[error("no key is given")]
    Empty,
}

/// Parses key lines; `reserved` ids (built-in keys) may not be used.
pub fn parse(text: &str, reserved: &[&str]) -> Result<Vec<KeyLine>, KeyLinesError> {
    let mut keys: Vec<KeyLine> = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line_error = |message: &str| KeyLinesError::Line {
            line: index + 1,
            message: message.to_string(),
        };
        let mut parts = line.split_whitespace();
        let (Some(id), Some(encoded), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(line_error("expected `<id> <base64 key>`"));
        };
        if !valid_id(id) {
            return Err(line_error(
                "the key id must be 1-64 characters of A-Z, a-z, 0-9, '.', '_' or '-'",
            ));
        }
        if reserved.contains(&id) {
            return Err(line_error(
                "this key id is reserved for the development key",
            ));
        }
        if keys.iter().any(|k| k.id == id) {
            return Err(line_error("this key id is already used by an earlier line"));
        }
        let secret = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|_| line_error("the key is not base64"))?;
        if secret.len() < MIN_KEY_BYTES {
            return Err(line_error(
                "the key is shorter than 32 bytes (use `openssl rand -base64 32`)",
            ));
        }
        keys.push(KeyLine {
            id: id.to_string(),
            secret,
        });
    }
    if keys.is_empty() {
        return Err(KeyLinesError::Empty);
    }
    Ok(keys)
}

/// The key lines a setting names: given inline (from the environment) or read from a file;
/// `None` when neither is set. A parse error in a file names the file.
pub fn configured(
    key: Option<&SecretString>,
    key_file: Option<&Path>,
    reserved: &[&str],
) -> Result<Option<Vec<KeyLine>>, KeyLinesError> {
    match (key, key_file) {
        (Some(text), _) => parse(text.expose_secret(), reserved).map(Some),
        (None, Some(path)) => {
            let in_file = |message: String| KeyLinesError::File {
                path: path.display().to_string(),
                message,
            };
            let text = std::fs::read_to_string(path).map_err(|e| in_file(e.to_string()))?;
            parse(&text, reserved)
                .map(Some)
                .map_err(|e| in_file(e.to_string()))
        }
        (None, None) => Ok(None),
    }
}

fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}
