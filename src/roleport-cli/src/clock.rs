//! The one place that reads the wall clock.
//!
//! `ROLEPORT_CLI_CLOCK_SKEW_SECONDS` moves this clock, for tests only: the end-to-end tests
//! use it to step past a cached set's refresh point without waiting. Nothing else should set it.

use chrono::{DateTime, Duration, Utc};

pub fn now() -> DateTime<Utc> {
    let skew = std::env::var("ROLEPORT_CLI_CLOCK_SKEW_SECONDS")
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .unwrap_or(0);
    #[allow(clippy::disallowed_methods)]
    let wall = Utc::now();
    wall + Duration::seconds(skew)
}
