//! Admin pages need a recent sign-in (`[admin] reauth_after_seconds`).

use chrono::{DateTime, Duration, Utc};

/// Whether a sign-in at `signed_in_at` is recent enough at `now`. A sign-in dated in the
/// future (clock skew between replicas) counts as recent.
pub fn is_recent(signed_in_at: DateTime<Utc>, now: DateTime<Utc>, max_age_seconds: i64) -> bool {
    now - signed_in_at <= Duration::seconds(max_age_seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_up_to_the_limit_and_not_a_second_after() {
        let t = DateTime::UNIX_EPOCH + Duration::days(20_000);
        assert!(is_recent(t, t, 900));
        assert!(is_recent(t, t + Duration::seconds(900), 900));
        assert!(!is_recent(t, t + Duration::seconds(901), 900));
        assert!(is_recent(t + Duration::seconds(5), t, 900));
    }
}
