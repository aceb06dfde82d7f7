//! The one rule for identity-bearing values, shared by SAML and OIDC (design.md §5.8).
//!
//! A subject, e-mail address, group or any attribute/claim a rule can read is used exactly as the
//! IdP signed it: never trimmed, case-folded or normalised. A value that only such a silent step
//! would make "equal" to another is a different identity, so values that invite the confusion are
//! refused instead, and with them the whole sign-in:
//! - the empty string;
//! - leading or trailing whitespace (Unicode `White_Space`, exactly what [`str::trim`] strips), so
//!   `" admin@example.com\n"` is never read as `admin@example.com`; inner spaces are fine
//!   (`Domain Users`);
//! - anywhere: control characters (C0, DEL, C1) and the line/paragraph separators U+2028/U+2029,
//!   which end a log line or a displayed row as a newline does;
//! - anywhere: invisible characters, i.e. Unicode `Default_Ignorable_Code_Point` (zero-width
//!   space/joiners U+200B..U+200D, word joiner U+2060, BOM U+FEFF, soft hyphen U+00AD, variation
//!   selectors, Hangul fillers, tags …), so two values that render the same stay distinguishable;
//! - anywhere: bidirectional controls (U+061C, U+200E, U+200F, U+202A..U+202E, U+2066..U+2069),
//!   which reorder what a person reads in an audit row or a rule;
//! - a value that is not in Unicode Normalization Form C: NFC would change it, so a canonically
//!   equivalent spelling (`e` + U+0301 for `é`) can never pose as an accepted value.
//!
//! Display names are not identity-bearing (never matched): they are escaped where shown and are
//! not checked here. LDAP DN comparison keeps its explicit RFC 4514 canonical form in the rules.

use std::fmt;
use unicode_normalization::is_nfc;

/// The audit/log code of every refusal made by this rule, SAML and OIDC alike.
pub const CODE: &str = "identity_value_refused";

/// Where a refused value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    NameId,
    /// A SAML attribute, by name.
    Attribute(String),
    /// An OIDC claim, by path.
    Claim(String),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NameId => f.write_str("NameID"),
            Self::Attribute(name) => write!(f, "attribute \"{}\"", printable(name)),
            Self::Claim(path) => write!(f, "claim \"{}\"", printable(path)),
        }
    }
}

/// Which identity-bearing value was refused. Positions are 1-based, among the values of the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    Subject(Source),
    Email(Source),
    Group {
        source: Source,
        position: usize,
    },
    /// Any other value a rule can read (`attribute:<name>`).
    Value {
        source: Source,
        position: usize,
    },
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Subject(source) => write!(f, "subject ({source})"),
            Self::Email(source) => write!(f, "e-mail ({source})"),
            Self::Group { source, position } => write!(f, "group value {position} of {source}"),
            Self::Value { source, position } => write!(f, "value {position} of {source}"),
        }
    }
}

/// A class of character refused anywhere in a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    Control,
    LineSeparator,
    Invisible,
    Bidi,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Control => "control character",
            Self::LineSeparator => "line separator",
            Self::Invisible => "invisible character",
            Self::Bidi => "bidirectional control",
        })
    }
}

/// Why a value was refused. Characters are named by code point, never echoed, so a refusal can
/// be logged without carrying the very characters it refuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    Empty,
    LeadingWhitespace(char),
    TrailingWhitespace(char),
    /// `position` is the 1-based character index.
    Character {
        class: Refused,
        ch: char,
        position: usize,
    },
    NotNfc,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("is empty"),
            Self::LeadingWhitespace(c) => write!(f, "has leading whitespace ({})", code_point(*c)),
            Self::TrailingWhitespace(c) => {
                write!(f, "has trailing whitespace ({})", code_point(*c))
            }
            Self::Character {
                class,
                ch,
                position,
            } => write!(
                f,
                "contains {class} {} at character {position}",
                code_point(*ch)
            ),
            Self::NotNfc => f.write_str("is not in Unicode NFC (normalisation would change it)"),
        }
    }
}

/// A refused identity-bearing value: which one, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} {problem}")]
pub struct IdentityValueError {
    pub field: Field,
    pub problem: Problem,
}

impl IdentityValueError {
    pub fn code(&self) -> &'static str {
        CODE
    }
}

/// The rule itself: `value` unchanged if it may be used as an identity, else why not.
pub fn exact(value: &str) -> Result<&str, Problem> {
    let (Some(first), Some(last)) = (value.chars().next(), value.chars().next_back()) else {
        return Err(Problem::Empty);
    };
    if first.is_whitespace() {
        return Err(Problem::LeadingWhitespace(first));
    }
    if last.is_whitespace() {
        return Err(Problem::TrailingWhitespace(last));
    }
    for (index, ch) in value.chars().enumerate() {
        if let Some(class) = refused_class(ch) {
            return Err(Problem::Character {
                class,
                ch,
                position: index.saturating_add(1),
            });
        }
    }
    if !is_nfc(value) {
        return Err(Problem::NotNfc);
    }
    Ok(value)
}

/// [`exact`], naming the value on refusal. `field` is only built when the value is refused.
pub fn require(value: &str, field: impl FnOnce() -> Field) -> Result<&str, IdentityValueError> {
    exact(value).map_err(|problem| IdentityValueError {
        field: field(),
        problem,
    })
}

/// Every value of every attribute/claim in `values` (as kept for rules), each named by `source`.
pub fn require_all<'a>(
    values: impl IntoIterator<Item = (&'a String, &'a Vec<String>)>,
    source: impl Fn(&str) -> Source,
) -> Result<(), IdentityValueError> {
    for (name, list) in values {
        for (index, value) in list.iter().enumerate() {
            require(value, || Field::Value {
                source: source(name),
                position: index.saturating_add(1),
            })?;
        }
    }
    Ok(())
}

/// Which refused class `ch` belongs to, if any.
pub fn refused_class(ch: char) -> Option<Refused> {
    let c = u32::from(ch);
    if ch.is_control() {
        // C0, DEL and C1: exactly Unicode's `Cc`.
        return Some(Refused::Control);
    }
    if matches!(c, 0x2028 | 0x2029) {
        return Some(Refused::LineSeparator);
    }
    if matches!(c, 0x061C | 0x200E | 0x200F | 0x202A..=0x202E | 0x2066..=0x2069) {
        return Some(Refused::Bidi);
    }
    // Unicode Default_Ignorable_Code_Point (DerivedCoreProperties.txt), bidi controls aside.
    let ignorable = matches!(
        c,
        0x00AD
            | 0x034F
            | 0x115F..=0x1160
            | 0x17B4..=0x17B5
            | 0x180B..=0x180F
            | 0x200B..=0x200D
            | 0x2060..=0x2065
            | 0x206A..=0x206F
            | 0x3164
            | 0xFE00..=0xFE0F
            | 0xFEFF
            | 0xFFA0
            | 0xFFF0..=0xFFF8
            | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A
            | 0xE0000..=0xE0FFF
    );
    ignorable.then_some(Refused::Invisible)
}

fn code_point(c: char) -> String {
    format!("U+{:04X}", u32::from(c))
}

/// A name for a message: refused characters (and quotes, backslashes) as `\u{…}` escapes.
fn printable(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if refused_class(c).is_some() || c == '"' || c == '\\' {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use unicode_normalization::UnicodeNormalization;

    fn problem(v: &str) -> Option<Problem> {
        exact(v).err()
    }

    #[test]
    fn ordinary_values_are_accepted_unchanged() {
        for v in [
            "alice@example.org",
            "Domain Users",
            "cn=aws-admins,ou=groups,dc=example,dc=org",
            "CN=AWS Admins, OU=Groups,DC=corp",
            "S-1-5-21-3623811015-3361044348-30300820-1013",
            "José",
            "値 グループ",
            "a",
            "x\u{00A0}y",
        ] {
            let got = exact(v).unwrap();
            assert_eq!(got, v);
            assert!(std::ptr::eq(got, v), "the same slice, not a copy");
        }
    }

    #[test]
    fn the_refusals_each_name_their_reason() {
        let cases: &[(&str, Problem)] = &[
            ("", Problem::Empty),
            (" admin@example.com\n", Problem::LeadingWhitespace(' ')),
            ("admin@example.com\n", Problem::TrailingWhitespace('\n')),
            (" admins", Problem::LeadingWhitespace(' ')),
            ("admins\t", Problem::TrailingWhitespace('\t')),
            ("\u{00A0}admins", Problem::LeadingWhitespace('\u{00A0}')),
            ("admins\u{3000}", Problem::TrailingWhitespace('\u{3000}')),
            ("admins\u{0085}", Problem::TrailingWhitespace('\u{0085}')),
            ("   ", Problem::LeadingWhitespace(' ')),
        ];
        for (v, want) in cases {
            assert_eq!(problem(v).as_ref(), Some(want), "{v:?}");
        }
        let inner: &[(char, Refused)] = &[
            ('\u{0}', Refused::Control),
            ('\u{1B}', Refused::Control),
            ('\n', Refused::Control),
            ('\u{7F}', Refused::Control),
            ('\u{85}', Refused::Control),
            ('\u{9B}', Refused::Control),
            ('\u{2028}', Refused::LineSeparator),
            ('\u{2029}', Refused::LineSeparator),
            ('\u{200B}', Refused::Invisible),
            ('\u{200C}', Refused::Invisible),
            ('\u{200D}', Refused::Invisible),
            ('\u{2060}', Refused::Invisible),
            ('\u{FEFF}', Refused::Invisible),
            ('\u{00AD}', Refused::Invisible),
            ('\u{180E}', Refused::Invisible),
            ('\u{FE0F}', Refused::Invisible),
            ('\u{E0041}', Refused::Invisible),
            ('\u{061C}', Refused::Bidi),
            ('\u{200E}', Refused::Bidi),
            ('\u{200F}', Refused::Bidi),
            ('\u{202A}', Refused::Bidi),
            ('\u{202E}', Refused::Bidi),
            ('\u{2066}', Refused::Bidi),
            ('\u{2069}', Refused::Bidi),
        ];
        for (ch, class) in inner {
            let v = format!("adm{ch}ins");
            assert_eq!(
                problem(&v),
                Some(Problem::Character {
                    class: *class,
                    ch: *ch,
                    position: 4
                }),
                "{v:?}"
            );
            // At the start too, when it is not also whitespace.
            let v = format!("{ch}admins");
            if !ch.is_whitespace() {
                assert!(
                    matches!(problem(&v), Some(Problem::Character { position: 1, .. })),
                    "{v:?}"
                );
            }
        }
        // `é` as e + combining acute: NFC would change it.
        assert_eq!(problem("Jose\u{301}"), Some(Problem::NotNfc));
        // The Ångström sign is canonically equivalent to Å.
        assert_eq!(problem("\u{212B}ngstrom"), Some(Problem::NotNfc));
    }

    #[test]
    fn messages_name_the_value_and_never_echo_it() {
        let e = require(" admins", || Field::Group {
            source: Source::Attribute("groups".into()),
            position: 3,
        })
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "group value 3 of attribute \"groups\" has leading whitespace (U+0020)"
        );
        assert_eq!(e.code(), "identity_value_refused");
        let e = require("a\u{202E}b", || Field::Subject(Source::NameId)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "subject (NameID) contains bidirectional control U+202E at character 2"
        );
        let e = require("", || Field::Email(Source::Claim("email".into()))).unwrap_err();
        assert_eq!(e.to_string(), "e-mail (claim \"email\") is empty");
        // A hostile attribute name is escaped in the message.
        let e = require("", || Field::Value {
            source: Source::Attribute("x\"\n\u{202E}".into()),
            position: 1,
        })
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "value 1 of attribute \"x\\u{22}\\u{a}\\u{202e}\" is empty"
        );
    }

    #[test]
    fn require_all_names_the_attribute_and_position() {
        let mut map = std::collections::BTreeMap::new();
        map.insert("department".to_string(), vec!["Ops".to_string()]);
        map.insert(
            "title".to_string(),
            vec!["Engineer".to_string(), "Lead\u{200B}".to_string()],
        );
        let e = require_all(&map, |n| Source::Attribute(n.to_string())).unwrap_err();
        assert_eq!(
            e.field,
            Field::Value {
                source: Source::Attribute("title".into()),
                position: 2
            }
        );
        map.remove("title");
        assert!(require_all(&map, |n| Source::Claim(n.to_string())).is_ok());
    }

    /// Characters the tests treat as refused, written out independently of `refused_class`.
    const REFUSED: &[char] = &[
        '\u{0}', '\u{9}', '\u{A}', '\u{D}', '\u{1F}', '\u{7F}', '\u{80}', '\u{85}', '\u{9F}',
        '\u{AD}', '\u{61C}', '\u{200B}', '\u{200C}', '\u{200D}', '\u{200E}', '\u{200F}',
        '\u{2028}', '\u{2029}', '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}',
        '\u{2060}', '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}', '\u{FEFF}',
    ];

    fn any_char() -> impl Strategy<Value = char> {
        prop_oneof![
            4 => proptest::char::range('a', 'z'),
            2 => Just(' '),
            1 => proptest::sample::select(REFUSED.to_vec()),
            1 => proptest::sample::select(vec!['\u{A0}', '\u{3000}', '\u{2003}', '\u{301}', '\u{212B}', 'é', '値']),
            1 => any::<char>(),
        ]
    }

    proptest! {
        /// Whatever a trim would change is refused.
        #[test]
        fn anything_a_trim_would_change_is_refused(chars in proptest::collection::vec(any_char(), 0..16)) {
            let s: String = chars.into_iter().collect();
            if s.trim() != s || s.is_empty() {
                prop_assert!(exact(&s).is_err(), "{:?}", s);
            }
        }

        /// Whatever NFC would change is refused.
        #[test]
        fn anything_nfc_would_change_is_refused(chars in proptest::collection::vec(any_char(), 1..16)) {
            let s: String = chars.into_iter().collect();
            if s.nfc().collect::<String>() != s {
                prop_assert!(exact(&s).is_err(), "{:?}", s);
            }
        }

        /// A refused character anywhere refuses the value.
        #[test]
        fn a_refused_character_anywhere_is_refused(
            before in "[a-zA-Z0-9 ]{0,8}",
            bad in proptest::sample::select(REFUSED.to_vec()),
            after in "[a-zA-Z0-9 ]{0,8}",
        ) {
            let s = format!("{before}{bad}{after}");
            prop_assert!(exact(&s).is_err(), "{:?}", s);
        }

        /// Allowed characters with no surrounding whitespace come back unchanged.
        #[test]
        fn allowed_values_are_accepted_unchanged(
            first in "[a-zA-Z0-9@=,.\u{e9}\u{5024}\u{00C5}_-]",
            middle in "[a-zA-Z0-9 @=,.+()/:\u{e9}\u{5024}\u{00C5}\u{00A0}_-]{0,30}",
            last in "[a-zA-Z0-9@=,.\u{e9}\u{5024}\u{00C5}_-]",
        ) {
            let s = format!("{first}{middle}{last}");
            prop_assert_eq!(exact(&s), Ok(s.as_str()));
            let s = first.clone();
            prop_assert_eq!(exact(&s), Ok(s.as_str()));
        }
    }
}
