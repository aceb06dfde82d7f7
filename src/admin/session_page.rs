//! Pages of the live sessions list: newest sign-in first, cut by a keyset cursor (the last
//! row's sign-in time and stored hash), so a page never shifts or repeats when people sign in
//! while someone reads the list.

use chrono::{DateTime, Utc};

/// Sessions shown on one page.
pub const PAGE_SIZE: i64 = 50;

/// Where the next (older) page starts: strictly after this row in the list's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionCursor {
    pub since: DateTime<Utc>,
    /// The stored session hash (32 bytes), which breaks ties between equal sign-in times.
    pub hash: Vec<u8>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("not a sessions page cursor")]
pub struct BadCursor;

impl SessionCursor {
    /// `<microseconds since 1970>.<64 hex digits>`, as [`SessionCursor::to_param`] writes it.
    pub fn parse(text: &str) -> Result<Self, BadCursor> {
        let (micros, hash) = text.split_once('.').ok_or(BadCursor)?;
        if micros.is_empty()
            || micros.len() > 19
            || !micros.bytes().all(|b| b.is_ascii_digit())
            || hash.len() != 64
            || !hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            return Err(BadCursor);
        }
        let micros: i64 = micros.parse().map_err(|_| BadCursor)?;
        let since = DateTime::from_timestamp_micros(micros).ok_or(BadCursor)?;
        let hash = hex::decode(hash).map_err(|_| BadCursor)?;
        Ok(Self { since, hash })
    }

    pub fn to_param(&self) -> String {
        format!(
            "{}.{}",
            self.since.timestamp_micros(),
            hex::encode(&self.hash)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_survives_the_round_trip_and_nothing_else_parses() {
        let c = SessionCursor {
            since: DateTime::from_timestamp_micros(1_796_000_000_123_456).unwrap(),
            hash: vec![0xab; 32],
        };
        assert_eq!(SessionCursor::parse(&c.to_param()), Ok(c.clone()));
        let good = c.to_param();
        for bad in [
            "",
            ".",
            "1796000000123456",
            &good.replace('.', "-"),
            &good.to_uppercase(),
            &format!("{good}0"),
            &format!("-{good}"),
            &format!("+{good}"),
            &good[..good.len() - 2],
            &format!("99999999999999999999.{}", "ab".repeat(32)),
            &format!("1.{}", "zz".repeat(32)),
            &format!("1 .{}", "ab".repeat(32)),
        ] {
            assert_eq!(SessionCursor::parse(bad), Err(BadCursor), "{bad:?}");
        }
    }
}
