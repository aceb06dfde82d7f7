//! The character set shared by RoleSessionName, SourceIdentity and the GetFederationToken
//! Name (`[\w+=,.@-]`, `\w` being ASCII), the IdP-scoped form of a person's id, and the
//! injective fitting of that form into these names.
//!
//! **Scoped identity.** What reaches AWS is `<person>@<idp>`: the subject (or verified e-mail)
//! exactly as the IdP signed it, `@`, and the IdP id. IdP ids never contain `@` (see
//! `is_idp_id`), so the last `@` separates the two, and the same subject from two IdPs gives
//! two different values.
//!
//! **Fitting.** A scoped value that already meets the name's rules (length, character set, no
//! `aws:` prefix) and does not look fitted is used unchanged. Any other value is *fitted*:
//! every character outside the set becomes `-`, the result is cut to leave room, and
//! `=` plus the first [`HASH_HEX_CHARS`] lower-case hex digits of SHA-256 of the original,
//! full value is appended. A value that happens to end in `=` and [`HASH_HEX_CHARS`] hex digits
//! is fitted too, so a fitted and an unchanged output can never coincide: two different inputs
//! give two different outputs unless SHA-256 collides on its first 64 bits.

use super::error::AwsRuleError;

/// Hex characters of the SHA-256 of the original value that end a fitted name (64 bits).
pub const HASH_HEX_CHARS: usize = 16;
/// `=` and the hash.
const FITTED_SUFFIX_CHARS: usize = HASH_HEX_CHARS + 1;
/// Separates a person's id from the IdP id in a scoped identity.
pub const IDP_SEPARATOR: char = '@';

/// `[\w+=,.@-]` with `\w` = `[A-Za-z0-9_]`.
pub(crate) fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '=' | ',' | '.' | '@' | '-')
}

/// Checks `value` against `min..=max` characters of the name set, and the `aws:` prefix when
/// `forbid_aws_prefix` is set.
pub(crate) fn check_name(
    what: &'static str,
    value: &str,
    min: usize,
    max: usize,
    forbid_aws_prefix: bool,
) -> Result<(), AwsRuleError> {
    let len = value.chars().count();
    if !(min..=max).contains(&len) {
        return Err(AwsRuleError::NameLength {
            what,
            min,
            max,
            len,
        });
    }
    // Checked before the character set (which already excludes `:`), so the message names
    // the more specific rule.
    if forbid_aws_prefix && has_aws_prefix(value) {
        return Err(AwsRuleError::NameAwsPrefix { what });
    }
    if let Some(found) = value.chars().find(|c| !is_name_char(*c)) {
        return Err(AwsRuleError::NameCharset { what, found });
    }
    Ok(())
}

/// `aws:` at the start, in any case.
pub(crate) fn has_aws_prefix(value: &str) -> bool {
    value
        .get(..4)
        .is_some_and(|p| p.eq_ignore_ascii_case("aws:"))
}

/// The first [`HASH_HEX_CHARS`] hex digits of SHA-256(`value`).
pub(crate) fn short_hash(value: &str) -> String {
    let digest = openssl::sha::sha256(value.as_bytes());
    digest
        .iter()
        .take(HASH_HEX_CHARS / 2)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `<person>@<idp>`: the form of a person's id that reaches AWS.
pub fn scoped_identity(person: &str, idp: &str) -> String {
    format!("{person}{IDP_SEPARATOR}{idp}")
}

/// Whether `value` ends the way a fitted name ends: `=` and [`HASH_HEX_CHARS`] lower-case hex
/// digits.
pub(crate) fn looks_fitted(value: &str) -> bool {
    let Some(start) = value.len().checked_sub(FITTED_SUFFIX_CHARS) else {
        return false;
    };
    value.get(start..).is_some_and(|tail| {
        tail.strip_prefix('=').is_some_and(|hex| {
            hex.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
    })
}

/// Fits any value into `min..=max` characters of the name set, injectively (see the module
/// documentation). Requires `min <= FITTED_SUFFIX_CHARS < max`, which all callers satisfy.
pub(crate) fn fit_name(value: &str, min: usize, max: usize, forbid_aws_prefix: bool) -> String {
    if check_name("", value, min, max, forbid_aws_prefix).is_ok() && !looks_fitted(value) {
        return value.to_owned();
    }
    // `:` is outside the set, so the head can never start with `aws:`.
    let head: String = value
        .chars()
        .map(|c| if is_name_char(c) { c } else { '-' })
        .take(max.saturating_sub(FITTED_SUFFIX_CHARS))
        .collect();
    format!("{head}={}", short_hash(value))
}

/// Declares a validated name newtype over the `[\w+=,.@-]` set.
macro_rules! name_type {
    ($(#[$doc:meta])* $ty:ident, $what:literal, $min:expr, $max:expr, $forbid_aws:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $ty(String);

        impl $ty {
            pub const MIN_CHARS: usize = $min;
            pub const MAX_CHARS: usize = $max;

            /// Accepts exactly what AWS accepts, or says which rule `value` breaks.
            pub fn parse(value: &str) -> Result<Self, $crate::protocol::aws::AwsRuleError> {
                $crate::protocol::aws::names::check_name($what, value, $min, $max, $forbid_aws)?;
                Ok(Self(value.to_owned()))
            }

            /// Any value fitted injectively into the name's rules; never fails (see the
            /// module documentation of `names`).
            pub fn fit(value: &str) -> Self {
                Self($crate::protocol::aws::names::fit_name(value, $min, $max, $forbid_aws))
            }

            /// The IdP-scoped form of a person's id, `<person>@<idp>`, fitted.
            pub fn of_person(person: &str, idp: &str) -> Self {
                Self::fit(&$crate::protocol::aws::names::scoped_identity(person, idp))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::str::FromStr for $ty {
            type Err = $crate::protocol::aws::AwsRuleError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl TryFrom<String> for $ty {
            type Error = $crate::protocol::aws::AwsRuleError;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                Self::parse(&s)
            }
        }

        impl From<$ty> for String {
            fn from(v: $ty) -> String {
                v.0
            }
        }
    };
}
pub(crate) use name_type;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fit64(v: &str) -> String {
        fit_name(v, 2, 64, true)
    }

    #[test]
    fn fit_table() {
        let h = |v: &str| short_hash(v);
        let cases: Vec<(&str, String)> = vec![
            ("alice@example.org@corp", "alice@example.org@corp".into()),
            (
                "Alice Smith@corp",
                format!("Alice-Smith@corp={}", h("Alice Smith@corp")),
            ),
            ("a", format!("a={}", h("a"))),
            ("", format!("={}", h(""))),
            (
                "aws:root@corp",
                format!("aws-root@corp={}", h("aws:root@corp")),
            ),
            ("josé@corp", format!("jos-@corp={}", h("josé@corp"))),
        ];
        for (value, want) in cases {
            assert_eq!(fit64(value), want, "{value:?}");
        }
        let long = format!("{}@corp", "a".repeat(100));
        let cut = fit64(&long);
        assert_eq!(cut.len(), 64);
        assert_eq!(cut, format!("{}={}", "a".repeat(47), h(&long)));
    }

    #[test]
    fn replaced_characters_never_collide() {
        assert_ne!(fit64("a b@corp"), fit64("a-b@corp"));
        assert_ne!(fit64("a b@corp"), fit64("a\tb@corp"));
        assert_eq!(fit64("a-b@corp"), "a-b@corp");
    }

    #[test]
    fn a_value_that_looks_fitted_is_fitted_again() {
        let fitted = fit64("a b@corp");
        assert!(looks_fitted(&fitted));
        let again = fit64(&fitted);
        assert_ne!(
            again, fitted,
            "an unchanged value must not equal a fitted one"
        );
        assert!(looks_fitted(&again));
        // Upper-case hex, or one digit short, is not the fitted form.
        assert!(!looks_fitted(&format!("x={}", "A".repeat(16))));
        assert!(!looks_fitted(&format!("x={}", "a".repeat(15))));
        assert!(!looks_fitted("é"));
    }

    #[test]
    fn same_subject_from_two_idps_differs() {
        assert_ne!(
            fit64(&scoped_identity("alice@example.org", "corp")),
            fit64(&scoped_identity("alice@example.org", "google"))
        );
    }

    #[test]
    fn prefix_sharing_long_values_differ() {
        let a = format!("{}a", "x".repeat(80));
        let b = format!("{}b", "x".repeat(80));
        assert_ne!(fit64(&a), fit64(&b));
        assert_ne!(fit_name(&a, 2, 32, false), fit_name(&b, 2, 32, false));
    }

    #[test]
    fn aws_prefix_any_case() {
        assert!(has_aws_prefix("aws:x"));
        assert!(has_aws_prefix("AwS:x"));
        assert!(!has_aws_prefix("aws"));
        assert!(!has_aws_prefix("awsx:"));
        assert!(!has_aws_prefix("é:aws:"));
    }

    /// Characters that fitting treats differently: inside and outside the set, the hash
    /// suffix's own characters, multi-byte ones.
    fn tricky() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop::sample::select(vec![
                'a', 'b', 'f', '0', '9', '=', '@', '-', '_', '.', ' ', ':', 'é', '日', '\t', 'A',
            ]),
            0..90,
        )
        .prop_map(|cs| cs.into_iter().collect())
    }

    proptest! {
        #[test]
        fn fitted_values_meet_aws_rules(v in any::<String>(), max in prop::sample::select(vec![32usize, 64])) {
            let out = fit_name(&v, 2, max, true);
            prop_assert!(check_name("n", &out, 2, max, true).is_ok(), "{:?} -> {:?}", v, out);
        }

        #[test]
        fn fitted_and_unchanged_outputs_never_coincide(v in tricky()) {
            let out = fit64(&v);
            if out == v {
                prop_assert!(!looks_fitted(&v));
                prop_assert!(check_name("n", &v, 2, 64, true).is_ok());
            } else {
                prop_assert!(looks_fitted(&out), "{:?} -> {:?}", v, out);
                prop_assert!(out.ends_with(&short_hash(&v)));
            }
        }

        #[test]
        fn fitting_is_injective(a in tricky(), b in tricky()) {
            prop_assume!(a != b);
            prop_assert_ne!(fit64(&a), fit64(&b));
            prop_assert_ne!(fit_name(&a, 2, 32, false), fit_name(&b, 2, 32, false));
        }

        #[test]
        fn one_replaced_character_changes_the_output(v in tricky(), at in any::<prop::sample::Index>(), c in prop::sample::select(vec!['-', ' ', '=', 'x', 'é'])) {
            let chars: Vec<char> = v.chars().collect();
            prop_assume!(!chars.is_empty());
            let i = at.index(chars.len());
            let mut other = chars.clone();
            other[i] = c;
            let other: String = other.into_iter().collect();
            prop_assume!(other != v);
            prop_assert_ne!(fit64(&v), fit64(&other));
        }

        #[test]
        fn scoped_values_from_two_idps_differ(person in any::<String>(), a in "[a-z0-9_-]{1,64}", b in "[a-z0-9_-]{1,64}") {
            prop_assume!(a != b);
            prop_assert_ne!(fit64(&scoped_identity(&person, &a)), fit64(&scoped_identity(&person, &b)));
        }

        #[test]
        fn valid_unfitted_values_are_kept(v in "[A-Za-z0-9_+=,.@-]{2,64}") {
            prop_assume!(!looks_fitted(&v));
            prop_assert_eq!(fit64(&v), v);
        }
    }
}
