//! `[rate_limit]`: what keeps junk on the unauthenticated sign-in routes (`/login/{idp}`,
//! `/saml/acs`, `/oidc/callback`) from stalling real sign-ins.

use serde::Deserialize;

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSettings {
    /// Request rate limits on the sign-in routes (429 with `Retry-After`). The caps below on
    /// pending logins, refusal records and the verification wait apply either way.
    #[serde(default = "default_enabled")]
    pub enabled: bool,
    /// Requests one client address may send in a burst…
    #[serde(default = "default_per_client_burst")]
    pub per_client_burst: u32,
    /// …and then per minute, steadily.
    #[serde(default = "default_per_client_per_minute")]
    pub per_client_per_minute: u32,
    /// Requests all clients together may send in a burst…
    #[serde(default = "default_global_burst")]
    pub global_burst: u32,
    /// …and then per second.
    #[serde(default = "default_global_per_second")]
    pub global_per_second: u32,
    /// Refused requests are logged once per client and window, then as one count.
    #[serde(default = "default_log_window_seconds")]
    pub log_window_seconds: u64,
    /// Unexpired pending logins (SAML and OIDC together) one client address may hold.
    #[serde(default = "default_pending_logins_per_client")]
    pub pending_logins_per_client: i64,
    /// Distinct client addresses per minute that get their own refusal counter; the rest are
    /// counted under `other`.
    #[serde(default = "default_refusal_clients_per_minute")]
    pub refusal_clients_per_minute: i64,
    /// How long refusal counters are kept.
    #[serde(default = "default_refusal_retention_days")]
    pub refusal_retention_days: i64,
    /// How long a sign-in waits for a verification slot (`server.blocking_slots`) before it
    /// is answered 503 with `Retry-After`.
    #[serde(default = "default_verify_wait_ms")]
    pub verify_wait_ms: u64,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        Self {
            enabled: default_enabled(),
            per_client_burst: default_per_client_burst(),
            per_client_per_minute: default_per_client_per_minute(),
            global_burst: default_global_burst(),
            global_per_second: default_global_per_second(),
            log_window_seconds: default_log_window_seconds(),
            pending_logins_per_client: default_pending_logins_per_client(),
            refusal_clients_per_minute: default_refusal_clients_per_minute(),
            refusal_retention_days: default_refusal_retention_days(),
            verify_wait_ms: default_verify_wait_ms(),
        }
    }
}

impl RateLimitSettings {
    pub fn validate(&self) -> Result<(), String> {
        let positive = [
            ("per_client_burst", u64::from(self.per_client_burst)),
            (
                "per_client_per_minute",
                u64::from(self.per_client_per_minute),
            ),
            ("global_burst", u64::from(self.global_burst)),
            ("global_per_second", u64::from(self.global_per_second)),
            ("log_window_seconds", self.log_window_seconds),
            (
                "pending_logins_per_client",
                u64::try_from(self.pending_logins_per_client).unwrap_or(0),
            ),
            (
                "refusal_clients_per_minute",
                u64::try_from(self.refusal_clients_per_minute).unwrap_or(0),
            ),
            (
                "refusal_retention_days",
                u64::try_from(self.refusal_retention_days).unwrap_or(0),
            ),
        ];
        match positive.iter().find(|(_, v)| *v == 0) {
            Some((name, _)) => Err(format!("rate_limit.{name} must be at least 1")),
            None => Ok(()),
        }
    }
}

fn default_enabled() -> bool {
    true
}
fn default_per_client_burst() -> u32 {
    60
}
fn default_per_client_per_minute() -> u32 {
    120
}
fn default_global_burst() -> u32 {
    1000
}
fn default_global_per_second() -> u32 {
    200
}
fn default_log_window_seconds() -> u64 {
    60
}
fn default_pending_logins_per_client() -> i64 {
    100
}
fn default_refusal_clients_per_minute() -> i64 {
    200
}
fn default_refusal_retention_days() -> i64 {
    30
}
fn default_verify_wait_ms() -> u64 {
    2000
}

#[cfg(test)]
mod tests {
    use super::super::{ConfigError, load};

    fn load_with(extra: &str, env: &[(&str, &str)]) -> Result<super::super::Settings, ConfigError> {
        let path = std::env::temp_dir().join(format!("roleport-rl-{}.toml", uuid::Uuid::new_v4()));
        std::fs::write(
            &path,
            format!(
                "[server]\nlisten = \"127.0.0.1:0\"\ndev_mode = true\n[database]\nurl = \"postgres://localhost/x\"\n{extra}"
            ),
        )
        .unwrap();
        let result = load(
            &path,
            env.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        );
        let _ = std::fs::remove_file(&path);
        result
    }

    #[test]
    fn on_by_default_and_settable_from_file_and_environment() {
        let s = load_with("", &[]).unwrap();
        assert!(s.rate_limit.enabled);
        assert_eq!(s.rate_limit.per_client_burst, 60);
        let s = load_with(
            "[rate_limit]\nper_client_burst = 7\nverify_wait_ms = 100\n",
            &[("ROLEPORT_RATE_LIMIT__ENABLED", "false")],
        )
        .unwrap();
        assert!(!s.rate_limit.enabled);
        assert_eq!(s.rate_limit.per_client_burst, 7);
        assert_eq!(s.rate_limit.verify_wait_ms, 100);
    }

    #[test]
    fn zero_limits_and_unknown_keys_are_refused() {
        let err = load_with("[rate_limit]\nglobal_per_second = 0\n", &[]).unwrap_err();
        assert!(
            err.to_string()
                .contains("rate_limit.global_per_second must be at least 1"),
            "{err}"
        );
        assert!(load_with("[rate_limit]\nper_ip = 3\n", &[]).is_err());
    }
}
