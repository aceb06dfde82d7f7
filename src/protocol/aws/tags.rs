//! Session tags (STS `Tags`, SAML `PrincipalTag:<key>`) and transitive tag keys.

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;

use super::error::AwsRuleError;
use super::names::has_aws_prefix;

pub const MAX_SESSION_TAGS: usize = 50;
pub const MAX_TAG_KEY_CHARS: usize = 128;
pub const MAX_TAG_VALUE_CHARS: usize = 256;

/// The character set STS accepts in tag keys and values.
static TAG_CHARS: LazyLock<Result<Regex, regex::Error>> =
    LazyLock::new(|| Regex::new(r"^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$"));

/// Fails closed if the pattern could not be built (it always can).
fn tag_chars(s: &str) -> bool {
    TAG_CHARS.as_ref().is_ok_and(|re| re.is_match(s))
}

/// Validated session tags, in the order given, and the transitive keys among them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SessionTags {
    tags: Vec<(String, String)>,
    transitive_keys: Vec<String>,
}

impl SessionTags {
    /// No tags.
    pub fn empty() -> Self {
        Self::default()
    }

    /// At most 50 tags; keys 1–128 and values 0–256 characters of
    /// `[\p{L}\p{Z}\p{N}_.:/=+\-@]`; no key starting with `aws:`; keys unique ignoring case;
    /// every transitive key (given once) is one of the tag keys, spelt the same.
    pub fn new<K, V, T>(
        tags: impl IntoIterator<Item = (K, V)>,
        transitive_keys: impl IntoIterator<Item = T>,
    ) -> Result<Self, AwsRuleError>
    where
        K: Into<String>,
        V: Into<String>,
        T: Into<String>,
    {
        let tags: Vec<(String, String)> = tags
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        if tags.len() > MAX_SESSION_TAGS {
            return Err(AwsRuleError::TooManyTags {
                count: tags.len(),
                max: MAX_SESSION_TAGS,
            });
        }
        let mut folded = BTreeSet::new();
        for (key, value) in &tags {
            check_tag(key, value)?;
            if !folded.insert(key.to_lowercase()) {
                return Err(AwsRuleError::DuplicateTagKey { key: key.clone() });
            }
        }
        let mut transitive: Vec<String> = Vec::new();
        for key in transitive_keys {
            let key = key.into();
            if !tags.iter().any(|(k, _)| *k == key) {
                return Err(AwsRuleError::TransitiveKeyNotTagged { key });
            }
            if transitive.contains(&key) {
                return Err(AwsRuleError::DuplicateTransitiveKey { key });
            }
            transitive.push(key);
        }
        Ok(SessionTags {
            tags,
            transitive_keys: transitive,
        })
    }

    /// From a rule's tag map (the shape of `mapping::Grant`).
    pub fn from_map(
        tags: &BTreeMap<String, String>,
        transitive_keys: &[String],
    ) -> Result<Self, AwsRuleError> {
        Self::new(
            tags.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            transitive_keys.iter().map(String::as_str),
        )
    }

    pub fn tags(&self) -> &[(String, String)] {
        &self.tags
    }

    pub fn transitive_keys(&self) -> &[String] {
        &self.transitive_keys
    }

    pub fn len(&self) -> usize {
        self.tags.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tags.is_empty()
    }
}

fn check_tag(key: &str, value: &str) -> Result<(), AwsRuleError> {
    let key_len = key.chars().count();
    if !(1..=MAX_TAG_KEY_CHARS).contains(&key_len) {
        return Err(AwsRuleError::TagKeyLength {
            len: key_len,
            max: MAX_TAG_KEY_CHARS,
        });
    }
    if has_aws_prefix(key) {
        return Err(AwsRuleError::TagKeyAwsPrefix {
            key: key.to_owned(),
        });
    }
    if !tag_chars(key) {
        return Err(AwsRuleError::TagKeyCharset {
            key: key.to_owned(),
        });
    }
    let value_len = value.chars().count();
    if value_len > MAX_TAG_VALUE_CHARS {
        return Err(AwsRuleError::TagValueLength {
            key: key.to_owned(),
            len: value_len,
            max: MAX_TAG_VALUE_CHARS,
        });
    }
    if !tag_chars(value) {
        return Err(AwsRuleError::TagValueCharset {
            key: key.to_owned(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    type Pairs<'a> = &'a [(&'a str, &'a str)];

    fn tags(pairs: &[(&str, &str)], transitive: &[&str]) -> Result<SessionTags, AwsRuleError> {
        SessionTags::new(pairs.iter().copied(), transitive.iter().copied())
    }

    #[test]
    fn accepted_table() {
        let k128 = "k".repeat(128);
        let v256 = "é".repeat(256);
        let ok: &[(Pairs, &[&str])] = &[
            (&[], &[]),
            (&[("team", "")], &[]),
            (
                &[("Team", "Platform Ops"), ("cost-center", "4711")],
                &["Team"],
            ),
            (&[("dept:sub/x=y+z@w", "a.b_c-d")], &[]),
            (&[("Ünïcødé", "値 ٣ \u{2003}")], &[]),
            (&[(&k128, &v256)], &[]),
            (&[("awsx", "v"), ("aws", "v")], &[]),
        ];
        for (pairs, transitive) in ok {
            assert!(tags(pairs, transitive).is_ok(), "{pairs:?}");
        }
    }

    #[test]
    fn refused_table() {
        let k129 = "k".repeat(129);
        let v257 = "v".repeat(257);
        let table: &[(Pairs, &[&str], AwsRuleError)] = &[
            (
                &[("", "v")],
                &[],
                AwsRuleError::TagKeyLength { len: 0, max: 128 },
            ),
            (
                &[(&k129, "v")],
                &[],
                AwsRuleError::TagKeyLength { len: 129, max: 128 },
            ),
            (
                &[("k", &v257)],
                &[],
                AwsRuleError::TagValueLength {
                    key: "k".into(),
                    len: 257,
                    max: 256,
                },
            ),
            (
                &[("aws:team", "v")],
                &[],
                AwsRuleError::TagKeyAwsPrefix {
                    key: "aws:team".into(),
                },
            ),
            (
                &[("AWS:team", "v")],
                &[],
                AwsRuleError::TagKeyAwsPrefix {
                    key: "AWS:team".into(),
                },
            ),
            (
                &[("a*b", "v")],
                &[],
                AwsRuleError::TagKeyCharset { key: "a*b".into() },
            ),
            (
                &[("k", "a\nb")],
                &[],
                AwsRuleError::TagValueCharset { key: "k".into() },
            ),
            (
                &[("k", "<x>")],
                &[],
                AwsRuleError::TagValueCharset { key: "k".into() },
            ),
            (
                &[("k", "a\"b")],
                &[],
                AwsRuleError::TagValueCharset { key: "k".into() },
            ),
            (
                &[("Team", "a"), ("team", "b")],
                &[],
                AwsRuleError::DuplicateTagKey { key: "team".into() },
            ),
            (
                &[("a", "1")],
                &["b"],
                AwsRuleError::TransitiveKeyNotTagged { key: "b".into() },
            ),
            (
                &[("a", "1")],
                &["A"],
                AwsRuleError::TransitiveKeyNotTagged { key: "A".into() },
            ),
            (
                &[("a", "1")],
                &["a", "a"],
                AwsRuleError::DuplicateTransitiveKey { key: "a".into() },
            ),
        ];
        for (pairs, transitive, want) in table {
            assert_eq!(tags(pairs, transitive).as_ref(), Err(want), "{pairs:?}");
        }
    }

    #[test]
    fn at_most_fifty() {
        let fifty: Vec<(String, String)> = (0..50).map(|i| (format!("k{i}"), "v".into())).collect();
        assert_eq!(
            SessionTags::new(fifty.clone(), Vec::<String>::new()).map(|t| t.len()),
            Ok(50)
        );
        let mut many = fifty;
        many.push(("k50".into(), "v".into()));
        assert_eq!(
            SessionTags::new(many, Vec::<String>::new()),
            Err(AwsRuleError::TooManyTags { count: 51, max: 50 })
        );
    }

    #[test]
    fn from_map_keeps_order_and_transitive() {
        let map: BTreeMap<String, String> = [
            ("b".to_owned(), "2".to_owned()),
            ("a".to_owned(), "1".to_owned()),
        ]
        .into();
        let t = SessionTags::from_map(&map, &["b".to_owned()]);
        assert_eq!(
            t.as_ref().map(|t| t.tags().to_vec()),
            Ok(vec![
                ("a".to_owned(), "1".to_owned()),
                ("b".to_owned(), "2".to_owned())
            ])
        );
        assert_eq!(
            t.map(|t| t.transitive_keys().to_vec()),
            Ok(vec!["b".to_owned()])
        );
    }

    proptest! {
        #[test]
        fn well_formed_tags_pass(
            map in proptest::collection::btree_map("[a-z][a-z0-9_.:/=+@-]{0,20}", "[A-Za-z0-9 _.:/=+@-]{0,40}", 0..=50),
        ) {
            let map: BTreeMap<String, String> =
                map.into_iter().filter(|(k, _)| !k.starts_with("aws:")).collect();
            let keys: Vec<String> = map.keys().take(3).cloned().collect();
            prop_assert!(SessionTags::from_map(&map, &keys).is_ok());
        }

        #[test]
        fn angle_brackets_and_quotes_never_pass(key in "[a-z]{1,5}", bad in "[<>\"'&*]") {
            let value = format!("x{bad}y");
            prop_assert!(tags(&[(&key, &value)], &[]).is_err());
            let bad_key = format!("{key}{bad}");
            prop_assert!(tags(&[(&bad_key, "v")], &[]).is_err());
        }
    }
}
