//! How close a signing certificate is to expiry, for the identity providers page.

use chrono::{DateTime, Duration, Utc};

/// Warn this long before a certificate expires.
pub const WARN_DAYS: i64 = 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    Valid,
    /// Expires within [`WARN_DAYS`].
    Soon,
    Expired,
    NotYetValid,
}

impl Expiry {
    pub fn label(self) -> &'static str {
        match self {
            Expiry::Valid => "valid",
            Expiry::Soon => "expires soon",
            Expiry::Expired => "expired",
            Expiry::NotYetValid => "not yet valid",
        }
    }

    pub fn is_problem(self) -> bool {
        self != Expiry::Valid
    }
}

pub fn expiry(not_before: DateTime<Utc>, not_after: DateTime<Utc>, now: DateTime<Utc>) -> Expiry {
    if now < not_before {
        Expiry::NotYetValid
    } else if now >= not_after {
        Expiry::Expired
    } else if not_after - now <= Duration::days(WARN_DAYS) {
        Expiry::Soon
    } else {
        Expiry::Valid
    }
}

/// "3 days", "5 h", "12 min" — how long ago or until, for ages on the page.
pub fn human_span(span: Duration) -> String {
    let secs = span.num_seconds().abs();
    if secs >= 2 * 86_400 {
        format!("{} days", secs / 86_400)
    } else if secs >= 2 * 3600 {
        format!("{} h", secs / 3600)
    } else if secs >= 120 {
        format!("{} min", secs / 60)
    } else {
        format!("{secs} s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warns_thirty_days_ahead() {
        let now = DateTime::UNIX_EPOCH + Duration::days(20_000);
        let start = now - Duration::days(365);
        assert_eq!(expiry(start, now + Duration::days(31), now), Expiry::Valid);
        assert_eq!(expiry(start, now + Duration::days(30), now), Expiry::Soon);
        assert_eq!(expiry(start, now + Duration::seconds(1), now), Expiry::Soon);
        assert_eq!(expiry(start, now, now), Expiry::Expired);
        assert_eq!(
            expiry(now + Duration::days(1), now + Duration::days(400), now),
            Expiry::NotYetValid
        );
    }

    #[test]
    fn spans_read_in_the_largest_sensible_unit() {
        assert_eq!(human_span(Duration::seconds(42)), "42 s");
        assert_eq!(human_span(Duration::minutes(90)), "90 min");
        assert_eq!(human_span(Duration::hours(5)), "5 h");
        assert_eq!(human_span(Duration::days(-3)), "3 days");
    }
}
