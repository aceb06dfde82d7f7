//! An audit search as the admin page's form sends it (`GET /admin/audit?person=…`), read into a
//! typed filter. Values are kept exactly as typed (identities are compared exactly, never
//! folded); empty fields mean "any". Everything is bound as a SQL parameter by
//! `db::admin_audit`, so a value such as `' OR 1=1 --` is only ever a value that matches nothing.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::Deserialize;

/// The form's fields, as sent.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AuditQuery {
    pub person: Option<String>,
    pub idp: Option<String>,
    pub account: Option<String>,
    pub role: Option<String>,
    pub kind: Option<String>,
    pub outcome: Option<String>,
    pub reason: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    /// Keyset cursor: show events older than this insert number.
    pub before: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutcomeFilter {
    Accepted,
    Rejected,
    NoRoles,
}

impl OutcomeFilter {
    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeFilter::Accepted => "accepted",
            OutcomeFilter::Rejected => "rejected",
            OutcomeFilter::NoRoles => "no_roles",
        }
    }
}

/// A checked search. `from` is inclusive, `to` exclusive.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// The subject, exactly.
    pub person: Option<String>,
    pub idp: Option<String>,
    /// A 12-digit account id (read from the role ARN of credential and console events).
    pub account: Option<String>,
    /// A role ARN, or a role name (with its path) within any account.
    pub role: Option<String>,
    /// An event kind (`sign_in`, `credentials_issued`, …).
    pub kind: Option<String>,
    pub outcome: Option<OutcomeFilter>,
    /// The start of the reason: its code (`no_capability`) or more.
    pub reason: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub before: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FilterError {
    pub field: &'static str,
    pub message: String,
}

const MAX_CHARS: usize = 512;

fn err(field: &'static str, message: impl Into<String>) -> FilterError {
    FilterError {
        field,
        message: message.into(),
    }
}

/// A text field: empty is "any"; control characters and overlong values are refused (they
/// can match nothing an audit row holds, and a clear error beats an empty result).
fn text(field: &'static str, raw: &Option<String>) -> Result<Option<String>, FilterError> {
    let Some(v) = raw.as_deref().filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if v.chars().count() > MAX_CHARS {
        return Err(err(field, format!("at most {MAX_CHARS} characters")));
    }
    if v.chars().any(char::is_control) {
        return Err(err(field, "contains a control character"));
    }
    Ok(Some(v.to_string()))
}

/// `2026-12-07`, `2026-12-07T12:30` (a `datetime-local` field, read as UTC) or RFC 3339.
pub fn parse_time(raw: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Some(t.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(raw, format) {
            return Some(t.and_utc());
        }
    }
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

fn time(field: &'static str, raw: &Option<String>) -> Result<Option<DateTime<Utc>>, FilterError> {
    match raw.as_deref().filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => parse_time(v).map(Some).ok_or_else(|| {
            err(
                field,
                "a date (2026-12-07), a date and time (2026-12-07T12:30, UTC) or RFC 3339",
            )
        }),
    }
}

impl AuditFilter {
    pub fn parse(q: &AuditQuery) -> Result<Self, FilterError> {
        let account = text("account", &q.account)?;
        if let Some(a) = &account
            && (a.len() != 12 || !a.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(err("account", "an AWS account id is 12 digits"));
        }
        let kind = text("kind", &q.kind)?;
        if let Some(k) = &kind
            && !k.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
        {
            return Err(err("kind", "an event kind such as sign_in"));
        }
        let outcome = match q.outcome.as_deref().unwrap_or_default() {
            "" => None,
            "accepted" => Some(OutcomeFilter::Accepted),
            "rejected" => Some(OutcomeFilter::Rejected),
            "no_roles" => Some(OutcomeFilter::NoRoles),
            _ => return Err(err("outcome", "accepted, rejected or no_roles")),
        };
        let before = match q.before.as_deref().unwrap_or_default() {
            "" => None,
            v => Some(
                v.parse::<i64>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| err("before", "a positive event number"))?,
            ),
        };
        let filter = Self {
            person: text("person", &q.person)?,
            idp: text("idp", &q.idp)?,
            account,
            role: text("role", &q.role)?,
            kind,
            outcome,
            reason: text("reason", &q.reason)?,
            from: time("from", &q.from)?,
            to: time("to", &q.to)?,
            before,
        };
        if let (Some(from), Some(to)) = (filter.from, filter.to)
            && from >= to
        {
            return Err(err("to", "must be after from"));
        }
        Ok(filter)
    }

    /// The filter as a query string (without the cursor), for export and paging links.
    pub fn query_string(&self) -> String {
        let time = |t: &Option<DateTime<Utc>>| {
            t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        };
        let pairs: [(&str, Option<String>); 9] = [
            ("person", self.person.clone()),
            ("idp", self.idp.clone()),
            ("account", self.account.clone()),
            ("role", self.role.clone()),
            ("kind", self.kind.clone()),
            ("outcome", self.outcome.map(|o| o.as_str().to_string())),
            ("reason", self.reason.clone()),
            ("from", time(&self.from)),
            ("to", time(&self.to)),
        ];
        pairs
            .iter()
            .filter_map(|(k, v)| {
                v.as_ref()
                    .map(|v| format!("{k}={}", urlencoding::encode(v)))
            })
            .collect::<Vec<_>>()
            .join("&")
    }

    /// The same search without a cursor (what an export takes: the whole filtered set).
    pub fn without_cursor(&self) -> Self {
        Self {
            before: None,
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn q(pairs: &[(&str, &str)]) -> AuditQuery {
        let encoded = pairs
            .iter()
            .map(|(k, v)| format!("{k}={}", urlencoding::encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        serde_urlencoded::from_str(&encoded).expect("query")
    }

    #[test]
    fn empty_fields_mean_any() {
        let f = AuditFilter::parse(&q(&[("person", ""), ("outcome", ""), ("from", "")])).unwrap();
        assert_eq!(f, AuditFilter::default());
        assert_eq!(f.query_string(), "");
    }

    #[test]
    fn values_are_kept_exactly() {
        let f = AuditFilter::parse(&q(&[("person", " Alice "), ("idp", "demo-saml")])).unwrap();
        assert_eq!(f.person.as_deref(), Some(" Alice "));
        let sqlish = AuditFilter::parse(&q(&[("person", "' OR 1=1 --")])).unwrap();
        assert_eq!(sqlish.person.as_deref(), Some("' OR 1=1 --"));
    }

    #[test]
    fn bad_values_are_named() {
        for (field, value) in [
            ("account", "12345"),
            ("account", "12345678901a"),
            ("outcome", "maybe"),
            ("kind", "sign_in; drop"),
            ("from", "yesterday"),
            ("before", "-1"),
            ("before", "1e3"),
            ("person", "a\u{0}b"),
        ] {
            let e = AuditFilter::parse(&q(&[(field, value)])).unwrap_err();
            assert_eq!(e.field, field, "{value}");
        }
        let long = "x".repeat(MAX_CHARS + 1);
        assert_eq!(
            AuditFilter::parse(&q(&[("role", &long)]))
                .unwrap_err()
                .field,
            "role"
        );
        let e =
            AuditFilter::parse(&q(&[("from", "2026-12-07"), ("to", "2026-12-06")])).unwrap_err();
        assert_eq!(e.field, "to");
    }

    #[test]
    fn times_in_three_spellings() {
        let day = parse_time("2026-12-07").unwrap();
        assert_eq!(day.to_rfc3339(), "2026-12-07T00:00:00+00:00");
        assert_eq!(
            parse_time("2026-12-07T12:30").unwrap().to_rfc3339(),
            "2026-12-07T12:30:00+00:00"
        );
        assert_eq!(
            parse_time("2026-12-07T12:30:00+01:00")
                .unwrap()
                .to_rfc3339(),
            "2026-12-07T11:30:00+00:00"
        );
    }

    proptest! {
        /// The query string a page links to reads back as the same filter.
        #[test]
        fn query_string_round_trips(
            person in "[^\u{0}-\u{1f}\u{7f}-\u{9f}]{0,20}",
            reason in "[a-z_: ]{0,16}",
            outcome in prop::sample::select(vec!["", "accepted", "rejected", "no_roles"]),
            account in prop::option::of("[0-9]{12}"),
        ) {
            let mut pairs = vec![("person", person.as_str()), ("reason", reason.as_str()), ("outcome", outcome)];
            if let Some(a) = &account { pairs.push(("account", a.as_str())); }
            let f = AuditFilter::parse(&q(&pairs)).unwrap();
            let back: AuditQuery = serde_urlencoded::from_str(&f.query_string()).unwrap();
            prop_assert_eq!(AuditFilter::parse(&back).unwrap(), f);
        }
    }
}
