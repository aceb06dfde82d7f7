//! The character set shared by RoleSessionName, SourceIdentity and the GetFederationToken
//! Name (`[\w+=,.@-]`, `\w` being ASCII), and the never-failing derivation from a person's id.

use super::error::AwsRuleError;

/// Hex characters of the SHA-256 of the full id appended when a derived name had to be cut.
const HASH_HEX_CHARS: usize = 8;

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

/// The first [`HASH_HEX_CHARS`] hex digits of SHA-256(`id`).
pub(crate) fn short_hash(id: &str) -> String {
    let digest = openssl::sha::sha256(id.as_bytes());
    digest
        .iter()
        .take(HASH_HEX_CHARS / 2)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Turns any id (e-mail, UPN, DN, opaque subject) into `min..=max` characters of the name set.
///
/// Every character outside the set becomes `-`, runs of `-` collapse to one, and `-` is
/// trimmed from both ends. A result longer than `max` keeps its head and ends in
/// `-<hash of the full id>`, so two long ids sharing a prefix still differ; a result left empty
/// (an id of only foreign characters) becomes that hash; a one-character result is padded
/// with `_`. Requires `2 <= min` and `max >= HASH_HEX_CHARS + 2`, which all callers satisfy.
pub(crate) fn derive_name(id: &str, min: usize, max: usize) -> String {
    let mut out = String::with_capacity(id.len().min(max * 2));
    for c in id.chars() {
        let c = if is_name_char(c) { c } else { '-' };
        if c == '-' && out.ends_with('-') {
            continue;
        }
        out.push(c);
    }
    let trimmed = out.trim_matches('-');
    // Every char is ASCII now, so byte length is char length.
    let mut name = if trimmed.is_empty() {
        short_hash(id)
    } else if trimmed.len() > max {
        let keep = max.saturating_sub(HASH_HEX_CHARS + 1);
        let head = trimmed
            .get(..keep)
            .unwrap_or_default()
            .trim_end_matches('-');
        format!("{head}-{}", short_hash(id))
    } else {
        trimmed.to_owned()
    };
    while name.len() < min {
        name.push('_');
    }
    name
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

            /// A valid value derived from a person's id; never fails (see the module docs of
            /// `names`: foreign characters become `-`, long ids are cut and end in a hash of
            /// the full id, short ones are padded).
            pub fn derive(person_id: &str) -> Self {
                Self($crate::protocol::aws::names::derive_name(person_id, $min, $max))
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

    #[test]
    fn derive_table() {
        let long = "a".repeat(100);
        let cases: &[(&str, &str)] = &[
            ("alice@example.org", "alice@example.org"),
            ("Alice Smith", "Alice-Smith"),
            (
                "cn=Smith\\, John,ou=people,dc=example,dc=org",
                "cn=Smith-,-John,ou=people,dc=example,dc=org",
            ),
            ("  ++ ", "++"),
            ("a", "a_"),
            ("x//y", "x-y"),
            ("DOMAIN\\bob", "DOMAIN-bob"),
            ("josé.garcía@example.es", "jos-.garc-a@example.es"),
        ];
        for (id, want) in cases {
            assert_eq!(derive_name(id, 2, 64), *want, "{id}");
        }
        let cut = derive_name(&long, 2, 64);
        assert_eq!(cut.len(), 64);
        assert!(cut.ends_with(&format!("-{}", short_hash(&long))));
        assert_eq!(derive_name("日本語", 2, 64), short_hash("日本語"));
        assert_ne!(derive_name("日本", 2, 64), derive_name("日本語", 2, 64));
        assert_eq!(derive_name("", 2, 64).len(), 8);
    }

    #[test]
    fn prefix_sharing_long_ids_differ() {
        let a = format!("{}a", "x".repeat(80));
        let b = format!("{}b", "x".repeat(80));
        assert_ne!(derive_name(&a, 2, 64), derive_name(&b, 2, 64));
        assert_ne!(derive_name(&a, 2, 32), derive_name(&b, 2, 32));
    }

    #[test]
    fn aws_prefix_any_case() {
        assert!(has_aws_prefix("aws:x"));
        assert!(has_aws_prefix("AwS:x"));
        assert!(!has_aws_prefix("aws"));
        assert!(!has_aws_prefix("awsx:"));
        assert!(!has_aws_prefix("é:aws:"));
    }
}
