//! The device authorization grant (RFC 8628): user codes people can type, and what a poll of the
//! token endpoint is answered.

use super::OAuthError;
use chrono::{DateTime, Duration, Utc};

/// Consonants only (RFC 8628 §6.1): no vowels to spell words, no look-alike digits.
const ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";
const LEN: usize = 8;

/// A user code in its canonical form `XXXX-XXXX` (20^8 ≈ 2.6·10^10 values).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserCode(String);

impl UserCode {
    /// A code from random bytes, without modulo bias; `None` if the bytes run out first.
    pub fn from_random(bytes: &[u8]) -> Option<Self> {
        let chars: Vec<u8> = bytes
            .iter()
            .filter(|b| usize::from(**b) < 240)
            .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()])
            .take(LEN)
            .collect();
        (chars.len() == LEN).then(|| Self::canonical(&chars))
    }

    /// What a person typed: case, spaces and dashes do not matter (a user code is not an
    /// identity, RFC 8628 §6.1 asks for this). Anything else is not a code.
    pub fn parse(typed: &str) -> Option<Self> {
        let chars: Vec<u8> = typed
            .bytes()
            .filter(|b| !matches!(b, b'-' | b' '))
            .map(|b| b.to_ascii_uppercase())
            .collect();
        (chars.len() == LEN && chars.iter().all(|c| ALPHABET.contains(c)))
            .then(|| Self::canonical(&chars))
    }

    fn canonical(chars: &[u8]) -> Self {
        let (a, b) = chars.split_at(LEN / 2);
        Self(format!(
            "{}-{}",
            String::from_utf8_lossy(a),
            String::from_utf8_lossy(b)
        ))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A device authorization as stored.
#[derive(Debug, Clone)]
pub struct DeviceState {
    pub expires_at: DateTime<Utc>,
    pub interval_seconds: i32,
    pub last_poll_at: Option<DateTime<Utc>>,
    pub approved: bool,
    pub denied: bool,
    pub redeemed: bool,
}

/// What one poll is answered, and the interval to store for the next one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PollAnswer {
    /// Tokens are issued now (and the authorization is redeemed).
    Approved,
    Refused {
        error: OAuthError,
        next_interval_seconds: i32,
    },
}

/// RFC 8628 §3.5: polling faster than the interval is `slow_down` and adds 5 seconds to it.
pub fn poll(state: &DeviceState, now: DateTime<Utc>) -> PollAnswer {
    let refused = |code: &'static str, text: &str, next: i32| PollAnswer::Refused {
        error: OAuthError::new(code, text),
        next_interval_seconds: next,
    };
    let interval = state.interval_seconds;
    if now >= state.expires_at {
        return refused(
            "expired_token",
            "the device code has expired; start again",
            interval,
        );
    }
    if state.redeemed {
        return refused(
            "invalid_grant",
            "the device code was already used",
            interval,
        );
    }
    if state.denied {
        return refused("access_denied", "the request was denied", interval);
    }
    let too_soon = state
        .last_poll_at
        .is_some_and(|last| now < last + Duration::seconds(i64::from(interval)));
    if too_soon {
        return refused("slow_down", "polling too fast", interval.saturating_add(5));
    }
    if state.approved {
        PollAnswer::Approved
    } else {
        refused(
            "authorization_pending",
            "waiting for the person to approve",
            interval,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::UNIX_EPOCH + Duration::seconds(s)
    }

    fn state() -> DeviceState {
        DeviceState {
            expires_at: t(600),
            interval_seconds: 5,
            last_poll_at: None,
            approved: false,
            denied: false,
            redeemed: false,
        }
    }

    fn code(answer: PollAnswer) -> (&'static str, i32) {
        match answer {
            PollAnswer::Approved => ("approved", 0),
            PollAnswer::Refused {
                error,
                next_interval_seconds,
            } => (error.code, next_interval_seconds),
        }
    }

    #[test]
    fn pending_then_slow_down_then_approved() {
        let mut s = state();
        assert_eq!(code(poll(&s, t(1))), ("authorization_pending", 5));
        s.last_poll_at = Some(t(1));
        assert_eq!(code(poll(&s, t(3))), ("slow_down", 10));
        s.interval_seconds = 10;
        s.last_poll_at = Some(t(3));
        assert_eq!(code(poll(&s, t(12))), ("slow_down", 15));
        s.approved = true;
        s.interval_seconds = 15;
        s.last_poll_at = Some(t(12));
        assert_eq!(code(poll(&s, t(27))), ("approved", 0));
    }

    #[test]
    fn expired_denied_and_redeemed_codes_give_nothing() {
        let mut s = state();
        s.approved = true;
        assert_eq!(code(poll(&s, t(600))).0, "expired_token");
        s.redeemed = true;
        assert_eq!(code(poll(&s, t(10))).0, "invalid_grant");
        let mut d = state();
        d.denied = true;
        assert_eq!(code(poll(&d, t(10))).0, "access_denied");
    }

    #[test]
    fn typed_codes_are_read_leniently_but_only_from_the_alphabet() {
        let c = UserCode::parse("bcdf-ghjk").unwrap();
        assert_eq!(c.as_str(), "BCDF-GHJK");
        assert_eq!(UserCode::parse(" BCDF GHJK ").unwrap(), c);
        assert_eq!(UserCode::parse("BCDFGHJK").unwrap(), c);
        for bad in [
            "",
            "BCDF-GHJ",
            "BCDF-GHJKL",
            "ABCD-EFGH",
            "BCDF-GHJ1",
            "BCDF_GHJK",
            "ВCDF-GHJK",
        ] {
            assert!(UserCode::parse(bad).is_none(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn generated_codes_parse_back(bytes in proptest::collection::vec(any::<u8>(), 32)) {
            if let Some(c) = UserCode::from_random(&bytes) {
                prop_assert_eq!(UserCode::parse(c.as_str()), Some(c.clone()));
                prop_assert_eq!(c.as_str().len(), 9);
            }
        }
    }
}
