//! The credential cache: one 0600 file per grant (and requested duration). A cached set is
//! returned until 5 minutes before it expires; SDKs do not cache `credential_process` output,
//! so without this every AWS call would ask Roleport.

use crate::clock;
use crate::error::CliError;
use crate::store::{self, Dirs};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The `credential_process` JSON (Version 1).
#[derive(Serialize, Deserialize, Clone)]
pub struct Credentials {
    #[serde(rename = "Version")]
    pub version: u8,
    #[serde(rename = "AccessKeyId")]
    pub access_key_id: String,
    #[serde(rename = "SecretAccessKey")]
    pub secret_access_key: String,
    #[serde(rename = "SessionToken")]
    pub session_token: String,
    #[serde(rename = "Expiration")]
    pub expiration: String,
}

pub const REFRESH_BEFORE_MINUTES: i64 = 5;

impl Credentials {
    pub fn expires_at(&self) -> Option<DateTime<Utc>> {
        DateTime::parse_from_rfc3339(&self.expiration)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }

    pub fn fresh(&self, now: DateTime<Utc>) -> bool {
        self.expires_at()
            .is_some_and(|exp| now + Duration::minutes(REFRESH_BEFORE_MINUTES) < exp)
    }
}

fn file(dirs: &Dirs, grant: &str, duration: Option<u32>) -> PathBuf {
    // Grant ids are `<account>-<role name>`; anything else is hex-encoded, so a name can never
    // leave the directory.
    let safe = grant
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '+' | '=' | ',' | '@'))
        && !grant.starts_with('.');
    let name = if safe {
        grant.to_string()
    } else {
        grant.bytes().map(|b| format!("{b:02x}")).collect()
    };
    let suffix = duration.map(|d| format!(".{d}s")).unwrap_or_default();
    dirs.credentials().join(format!("{name}{suffix}.json"))
}

pub fn get(
    dirs: &Dirs,
    grant: &str,
    duration: Option<u32>,
) -> Result<Option<Credentials>, CliError> {
    let cached: Option<Credentials> = store::read(&file(dirs, grant, duration)).unwrap_or(None);
    Ok(cached.filter(|c| c.fresh(clock::now())))
}

pub fn put(
    dirs: &Dirs,
    grant: &str,
    duration: Option<u32>,
    c: &Credentials,
) -> Result<(), CliError> {
    store::write(&file(dirs, grant, duration), c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(exp: &str) -> Credentials {
        Credentials {
            version: 1,
            access_key_id: "A".into(),
            secret_access_key: "S".into(),
            session_token: "T".into(),
            expiration: exp.into(),
        }
    }

    #[test]
    fn fresh_until_five_minutes_before_expiry() {
        let now = DateTime::parse_from_rfc3339("2026-01-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert!(creds("2026-01-01T12:05:01Z").fresh(now));
        assert!(!creds("2026-01-01T12:05:00Z").fresh(now));
        assert!(!creds("2026-01-01T11:00:00Z").fresh(now));
        assert!(!creds("garbage").fresh(now));
        assert!(creds("2026-01-01T12:30:00.123456+00:00").fresh(now));
    }
}
