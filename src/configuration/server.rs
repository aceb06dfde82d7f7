//! The listener, database, browser sessions, metrics listener and rules reload.

use secrecy::SecretString;
use serde::Deserialize;

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    /// Address to bind, e.g. `127.0.0.1:8080`; port 0 picks a free port.
    pub listen: String,
    /// The URL browsers use to reach Roleport, without a trailing slash. When empty, derived from the
    /// bound address (useful with port 0 in tests).
    #[serde(default)]
    pub public_url: String,
    /// Local development over plain http: cookies lose `Secure`. Refused for a non-loopback public URL.
    #[serde(default)]
    pub dev_mode: bool,
    #[serde(default = "default_workers")]
    pub workers: usize,
    /// Threads for blocking C calls (xmlsec); requests queue for a slot rather than grow the pool.
    #[serde(default = "default_blocking_slots")]
    pub blocking_slots: usize,
    /// Proxies whose `X-Forwarded-For`/`Forwarded` headers are believed (CIDRs or addresses).
    #[serde(default)]
    pub trusted_proxies: crate::http::request_meta::TrustedProxies,
    /// Which forwarding header those proxies write: `x-forwarded-for` or `forwarded`.
    #[serde(default)]
    pub forwarded_header: crate::http::request_meta::ForwardedHeader,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    pub url: SecretString,
    /// Connections in the pool. Two cores running Postgres and Roleport gain nothing past about
    /// ten (each sign-in holds one for a few milliseconds); more only add Postgres backends.
    #[serde(default = "default_max_connections")]
    pub max_connections: u32,
    /// How long a request waits for a pool connection before it is answered 503 with
    /// `Retry-After`. With admission bounding the work in flight, a healthy pool hands one out
    /// within milliseconds; a longer wait means Postgres is slow or gone, and waiting longer
    /// only piles requests up.
    #[serde(default = "default_acquire_timeout_ms")]
    pub acquire_timeout_ms: u64,
    #[serde(default)]
    pub migrate_on_start: bool,
}

/// The bounds of `database.acquire_timeout_ms`.
pub const ACQUIRE_TIMEOUT_MS: std::ops::RangeInclusive<u64> = 10..=30_000;
/// The bounds of `database.max_connections`.
pub const MAX_CONNECTIONS: std::ops::RangeInclusive<u32> = 1..=1_000;

impl DatabaseSettings {
    pub fn validate(&self) -> Result<(), String> {
        if !MAX_CONNECTIONS.contains(&self.max_connections) {
            return Err(format!(
                "database.max_connections is {}; it must be between {} and {}",
                self.max_connections,
                MAX_CONNECTIONS.start(),
                MAX_CONNECTIONS.end()
            ));
        }
        if !ACQUIRE_TIMEOUT_MS.contains(&self.acquire_timeout_ms) {
            return Err(format!(
                "database.acquire_timeout_ms is {}; it must be between {} and {} (a request \
                 waits this long for a pool connection before it is answered 503)",
                self.acquire_timeout_ms,
                ACQUIRE_TIMEOUT_MS.start(),
                ACQUIRE_TIMEOUT_MS.end()
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct SessionSettings {
    #[serde(default = "default_session_ttl")]
    pub ttl_seconds: i64,
    #[serde(default = "default_login_ttl")]
    pub login_ttl_seconds: i64,
}

impl Default for SessionSettings {
    fn default() -> Self {
        Self {
            ttl_seconds: default_session_ttl(),
            login_ttl_seconds: default_login_ttl(),
        }
    }
}

/// `/metrics` has its own listener, kept off the public one (default loopback).
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct MetricsSettings {
    /// Address to bind; port 0 picks a free port.
    #[serde(default = "default_metrics_listen")]
    pub listen: String,
}

impl Default for MetricsSettings {
    fn default() -> Self {
        Self {
            listen: default_metrics_listen(),
        }
    }
}

fn default_metrics_listen() -> String {
    "127.0.0.1:9464".into()
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct RulesSettings {
    /// How often each process checks Postgres for a new rules generation.
    #[serde(default = "default_rules_reload")]
    pub reload_seconds: u64,
}

impl Default for RulesSettings {
    fn default() -> Self {
        Self {
            reload_seconds: default_rules_reload(),
        }
    }
}

fn default_workers() -> usize {
    2
}
fn default_blocking_slots() -> usize {
    4
}
fn default_max_connections() -> u32 {
    10
}
fn default_acquire_timeout_ms() -> u64 {
    1_000
}
fn default_session_ttl() -> i64 {
    8 * 3600
}
fn default_login_ttl() -> i64 {
    600
}
fn default_rules_reload() -> u64 {
    10
}
pub(super) fn is_loopback_listen(listen: &str) -> bool {
    listen
        .parse::<std::net::SocketAddr>()
        .map(|a| a.ip().is_loopback())
        .unwrap_or_else(|_| listen.starts_with("localhost:"))
}

pub(super) fn is_loopback_url(url: &str) -> bool {
    url::Url::parse(url)
        .ok()
        .and_then(|u| {
            u.host().map(|h| match h {
                url::Host::Domain(d) => d == "localhost",
                url::Host::Ipv4(ip) => ip.is_loopback(),
                url::Host::Ipv6(ip) => ip.is_loopback(),
            })
        })
        .unwrap_or(false)
}
