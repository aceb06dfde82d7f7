//! Rate limits on the unauthenticated sign-in routes, per client address and overall, so a
//! flood of junk is refused in memory before it reaches the database, the audit log or the
//! verification pool. A refused request gets 429 with `Retry-After` and a reference, counts in
//! `roleport_requests_shed_total`, and is logged in aggregate: the first refusal of a client in a
//! window is logged at once (with its reference), the rest as one count when the window ends.

use super::AppState;
use super::errors::{AppError, Format, Kind};
use super::request_meta::RequestMeta;
use crate::audit::new_reference;
use crate::configuration::RateLimitSettings;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{ResponseError, web};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota};
use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::Duration;

/// The routes anyone may call before signing in (matched route patterns).
/// The CLI's token and device-authorization endpoints are unauthenticated too, and `/device` is
/// where a user code could be guessed.
pub const LIMITED_ROUTES: [&str; 7] = [
    "/login/{idp}",
    "/saml/acs",
    "/oidc/callback",
    "/oauth/token",
    "/oauth/device_authorization",
    "/oauth/revoke",
    "/device",
];

/// Clients tracked by the log aggregation per window; the rest are counted as `other`.
const REPORTED_CLIENTS: usize = 1024;

/// Clients the per-client limiter remembers at once. Past this (only reachable with a huge
/// spread of source addresses) idle entries are dropped, and if that does not help requests
/// are refused as if the global limit were spent, so memory stays bounded.
const TRACKED_CLIENTS: usize = 100_000;

/// The key a client is limited and counted under: its address as [`RequestMeta`] computes it,
/// with IPv6 taken as its /64, since one host commonly holds a whole /64.
pub fn client_key(meta: &RequestMeta) -> String {
    match meta
        .source_ip
        .as_deref()
        .and_then(|ip| ip.parse::<IpAddr>().ok())
        .map(|ip| ip.to_canonical())
    {
        Some(IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        Some(IpAddr::V4(v4)) => v4.to_string(),
        None => "unknown".into(),
    }
}

pub struct RateLimits {
    limiters: Option<Limiters>,
    reporter: Reporter,
    window: Duration,
    tracked_clients: usize,
}

struct Limiters {
    per_client: DefaultKeyedRateLimiter<String>,
    global: DefaultDirectRateLimiter,
}

/// Which limit refused a request; also the metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Scope {
    Client,
    Global,
}

impl Scope {
    fn label(self) -> &'static str {
        match self {
            Self::Client => "client_rate",
            Self::Global => "global_rate",
        }
    }
}

fn nonzero(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN)
}

impl RateLimits {
    pub fn new(settings: &RateLimitSettings) -> Self {
        let limiters = settings.enabled.then(|| Limiters {
            per_client: DefaultKeyedRateLimiter::keyed(
                Quota::per_minute(nonzero(settings.per_client_per_minute))
                    .allow_burst(nonzero(settings.per_client_burst)),
            ),
            global: DefaultDirectRateLimiter::direct(
                Quota::per_second(nonzero(settings.global_per_second))
                    .allow_burst(nonzero(settings.global_burst)),
            ),
        });
        Self {
            limiters,
            reporter: Reporter::default(),
            window: Duration::from_secs(settings.log_window_seconds.max(1)),
            tracked_clients: TRACKED_CLIENTS,
        }
    }

    /// The client limit is checked first, so a client refused for its own rate spends nothing
    /// of the shared budget that everyone else's sign-ins need.
    fn check(&self, key: &str) -> Result<(), (Scope, Duration)> {
        let Some(l) = &self.limiters else {
            return Ok(());
        };
        let clock = DefaultClock::default();
        if l.per_client.len() >= self.tracked_clients {
            l.per_client.retain_recent();
            if l.per_client.len() >= self.tracked_clients {
                return Err((Scope::Global, self.window));
            }
        }
        l.per_client
            .check_key(&key.to_string())
            .map_err(|n| (Scope::Client, n.wait_time_from(clock.now())))?;
        l.global
            .check()
            .map_err(|n| (Scope::Global, n.wait_time_from(clock.now())))
    }

    /// Ends the log window and forgets clients whose buckets are full again, so neither the
    /// report nor the limiter grows with the number of addresses seen.
    fn maintain_once(&self) {
        self.reporter.flush();
        if let Some(l) = &self.limiters {
            l.per_client.retain_recent();
            l.per_client.shrink_to_fit();
        }
    }
}

/// Runs for the life of the server: one log window per tick.
pub async fn maintain(limits: web::Data<RateLimits>) {
    loop {
        tokio::time::sleep(limits.window).await;
        limits.maintain_once();
    }
}

#[derive(Default)]
struct Reporter {
    windows: Mutex<HashMap<(&'static str, Scope, String), Window>>,
}

struct Window {
    first_reference: String,
    refused: u64,
}

impl Reporter {
    fn note(&self, route: &'static str, scope: Scope, key: &str, reference: &str, retry: u64) {
        let Ok(mut windows) = self.windows.lock() else {
            return;
        };
        let key = if windows.len() >= REPORTED_CLIENTS
            && !windows.contains_key(&(route, scope, key.to_string()))
        {
            "other".to_string()
        } else {
            key.to_string()
        };
        match windows.get_mut(&(route, scope, key.clone())) {
            Some(w) => w.refused += 1,
            None => {
                tracing::warn!(
                    security = true,
                    reference,
                    route,
                    limit = scope.label(),
                    client = %key,
                    retry_after_seconds = retry,
                    "rate limit: refusing requests (further refusals from this client are counted until the window ends)"
                );
                windows.insert(
                    (route, scope, key),
                    Window {
                        first_reference: reference.to_string(),
                        refused: 1,
                    },
                );
            }
        }
    }

    fn flush(&self) {
        let drained: Vec<_> = match self.windows.lock() {
            Ok(mut w) => w.drain().collect(),
            Err(_) => return,
        };
        for ((route, scope, client), w) in drained {
            if w.refused > 1 {
                tracing::warn!(
                    security = true,
                    route,
                    limit = scope.label(),
                    %client,
                    refused = w.refused,
                    first_reference = %w.first_reference,
                    "rate limit: requests refused in the last window"
                );
            }
        }
    }
}

/// `Retry-After` in whole seconds, at least one.
pub fn retry_after_seconds(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

/// The middleware: only the routes in [`LIMITED_ROUTES`] are limited.
pub async fn enforce(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let route = req
        .match_pattern()
        .and_then(|p| LIMITED_ROUTES.iter().find(|r| **r == p).copied());
    let limits = req.app_data::<web::Data<RateLimits>>().cloned();
    let (Some(route), Some(limits)) = (route, limits) else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let key = client_key(&RequestMeta::of(req.request()));
    let Err((scope, wait)) = limits.check(&key) else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let retry = retry_after_seconds(wait);
    let reference = new_reference();
    if let Some(state) = req.app_data::<web::Data<AppState>>() {
        state
            .metrics
            .shed
            .with_label_values(&[route, scope.label()])
            .inc();
    }
    limits.reporter.note(route, scope, &key, &reference, retry);
    let error = AppError::new(
        Kind::TooManyRequests,
        Format::Html,
        reference,
        "Too many sign-in requests have come from your network. Please wait a moment and try again.",
    )
    .retry_after(retry);
    Ok(req.into_response(error.error_response()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(ip: &str) -> RequestMeta {
        RequestMeta {
            source_ip: Some(ip.into()),
            user_agent: None,
        }
    }

    #[test]
    fn ipv6_clients_are_keyed_by_their_64() {
        assert_eq!(
            client_key(&meta("2001:db8:1:2:aaaa::1")),
            client_key(&meta("2001:db8:1:2:bbbb::9"))
        );
        assert_ne!(
            client_key(&meta("2001:db8:1:2::1")),
            client_key(&meta("2001:db8:1:3::1"))
        );
        assert_eq!(client_key(&meta("::ffff:192.0.2.7")), "192.0.2.7");
        assert_eq!(client_key(&RequestMeta::default()), "unknown");
    }

    fn settings(burst: u32) -> RateLimitSettings {
        RateLimitSettings {
            per_client_burst: burst,
            per_client_per_minute: 1,
            global_burst: 3,
            global_per_second: 1,
            ..RateLimitSettings::default()
        }
    }

    #[test]
    fn a_client_over_its_burst_is_refused_without_spending_the_global_budget() {
        let limits = RateLimits::new(&settings(2));
        assert!(limits.check("192.0.2.1").is_ok());
        assert!(limits.check("192.0.2.1").is_ok());
        for _ in 0..10 {
            let (scope, wait) = limits.check("192.0.2.1").unwrap_err();
            assert_eq!(scope, Scope::Client);
            assert!(retry_after_seconds(wait) >= 1);
        }
        // One unit of the global burst (3) is left for somebody else.
        assert!(limits.check("192.0.2.2").is_ok());
        assert_eq!(limits.check("192.0.2.3").unwrap_err().0, Scope::Global);
    }

    #[test]
    fn the_client_table_is_bounded() {
        let mut limits = RateLimits::new(&RateLimitSettings {
            global_burst: 1000,
            global_per_second: 1000,
            ..settings(5)
        });
        limits.tracked_clients = 3;
        for i in 0..3 {
            assert!(limits.check(&format!("192.0.2.{i}")).is_ok());
        }
        // All three are mid-burst, so none can be forgotten: requests are shed like over the
        // global limit until entries go idle.
        assert_eq!(limits.check("192.0.2.9").unwrap_err().0, Scope::Global);
        assert_eq!(limits.check("192.0.2.1").unwrap_err().0, Scope::Global);
    }

    #[test]
    fn disabled_limits_refuse_nothing() {
        let limits = RateLimits::new(&RateLimitSettings {
            enabled: false,
            ..settings(1)
        });
        for _ in 0..100 {
            assert!(limits.check("192.0.2.1").is_ok());
        }
    }

    #[test]
    fn the_report_keeps_one_entry_per_client_and_window() {
        let reporter = Reporter::default();
        for i in 0..3 {
            reporter.note("/saml/acs", Scope::Client, "192.0.2.1", &format!("R{i}"), 1);
        }
        for i in 0..(REPORTED_CLIENTS + 10) {
            reporter.note("/saml/acs", Scope::Client, &format!("10.0.{i}"), "X", 1);
        }
        {
            let w = reporter.windows.lock().unwrap();
            let first = &w[&("/saml/acs", Scope::Client, "192.0.2.1".to_string())];
            assert_eq!((first.refused, first.first_reference.as_str()), (3, "R0"));
            assert!(w.len() <= REPORTED_CLIENTS + 1);
            assert!(w.contains_key(&("/saml/acs", Scope::Client, "other".to_string())));
        }
        reporter.flush();
        assert!(reporter.windows.lock().unwrap().is_empty());
    }
}
