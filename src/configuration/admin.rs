//! `[admin]`: the security team's pages (`/admin/…`).

use serde::Deserialize;

/// Admin pages need a recent sign-in: a session whose sign-in is older than this is sent
/// through the identity provider again before an admin page opens.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct AdminSettings {
    #[serde(default = "default_reauth_after")]
    pub reauth_after_seconds: i64,
}

impl Default for AdminSettings {
    fn default() -> Self {
        Self {
            reauth_after_seconds: default_reauth_after(),
        }
    }
}

fn default_reauth_after() -> i64 {
    15 * 60
}

impl AdminSettings {
    pub fn validate(&self) -> Result<(), String> {
        if !(60..=86_400).contains(&self.reauth_after_seconds) {
            return Err(format!(
                "admin.reauth_after_seconds is {}; it must be between 60 and 86400 (24 h)",
                self.reauth_after_seconds
            ));
        }
        Ok(())
    }
}
