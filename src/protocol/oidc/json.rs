//! Strict JSON for JOSE objects: duplicate member names are an error, at every depth.
//!
//! `serde_json` silently keeps the last of two members with the same name, so a token carrying
//! `{"sub":"alice","sub":"admin"}` would be read one way by us and possibly another way by a
//! different parser (a log pipeline, AWS, the provider's own tooling). RFC 7515 §5.2 and RFC 7519
//! §4 allow a recipient to reject such objects; we always do.

use serde::de::{DeserializeSeed, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use std::cell::RefCell;
use std::fmt;

/// Why a byte string is not a strict JSON object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StrictJsonError {
    /// Not JSON at all (syntax, encoding, trailing data, nesting deeper than serde_json's limit).
    Syntax(String),
    /// Valid JSON but the top level is not an object.
    NotObject,
    /// An object (at any depth) repeats this member name.
    DuplicateMember(String),
}

/// Parses `bytes` as exactly one JSON object, rejecting duplicate member names at any depth.
pub fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, StrictJsonError> {
    match parse_value(bytes)? {
        Value::Object(map) => Ok(map),
        _ => Err(StrictJsonError::NotObject),
    }
}

/// Parses `bytes` as exactly one JSON value, rejecting duplicate member names at any depth.
pub fn parse_value(bytes: &[u8]) -> Result<Value, StrictJsonError> {
    let duplicate = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed = StrictSeed {
        duplicate: &duplicate,
    }
    .deserialize(&mut de)
    .and_then(|value| de.end().map(|()| value));
    match parsed {
        Ok(value) => Ok(value),
        Err(e) => match duplicate.into_inner() {
            Some(name) => Err(StrictJsonError::DuplicateMember(name)),
            None => Err(StrictJsonError::Syntax(e.to_string())),
        },
    }
}

#[derive(Clone, Copy)]
struct StrictSeed<'a> {
    duplicate: &'a RefCell<Option<String>>,
}

impl<'de> DeserializeSeed<'de> for StrictSeed<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrictSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value without duplicate member names")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("non-finite number"))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(item) = seq.next_element_seed(self)? {
            out.push(item);
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                let message = format!("duplicate member name {key:?}");
                *self.duplicate.borrow_mut() = Some(key);
                return Err(A::Error::custom(message));
            }
            let value = map.next_value_seed(self)?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn table() {
        let cases: &[(&str, Result<(), StrictJsonError>)] = &[
            (r#"{"a":1}"#, Ok(())),
            (r#"{"a":1,"b":{"a":2}}"#, Ok(())),
            (
                r#"{"a":1,"a":2}"#,
                Err(StrictJsonError::DuplicateMember("a".into())),
            ),
            (
                r#"{"a":{"b":1,"b":1}}"#,
                Err(StrictJsonError::DuplicateMember("b".into())),
            ),
            (
                r#"{"a":[{"c":1,"c":2}]}"#,
                Err(StrictJsonError::DuplicateMember("c".into())),
            ),
            // Same name after JSON unescaping is still the same name.
            (
                r#"{"sub":1,"s\u0075b":2}"#,
                Err(StrictJsonError::DuplicateMember("sub".into())),
            ),
            (r#"[1,2]"#, Err(StrictJsonError::NotObject)),
            (r#""x""#, Err(StrictJsonError::NotObject)),
        ];
        for (input, want) in cases {
            let got = parse_object(input.as_bytes()).map(|_| ());
            assert_eq!(&got, want, "{input}");
        }
        for bad in [
            &b"{"[..],
            b"{\"a\":1} x",
            b"{\"a\":1}{}",
            b"\xef\xbb\xbf{}",
            b"{'a':1}",
            b"{\"a\":\"\xff\"}",
        ] {
            assert!(matches!(parse_object(bad), Err(StrictJsonError::Syntax(_))));
        }
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(matches!(
            parse_value(deep.as_bytes()),
            Err(StrictJsonError::Syntax(_))
        ));
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = parse_value(&bytes);
        }

        #[test]
        fn agrees_with_serde_json_without_duplicates(
            map in proptest::collection::btree_map("[a-z]{1,6}", any::<i32>(), 0..8)
        ) {
            let text = serde_json::to_vec(&map).unwrap_or_default();
            let strict = parse_object(&text).map(Value::Object);
            let lax: Result<Value, _> = serde_json::from_slice(&text);
            prop_assert_eq!(strict.ok(), lax.ok());
        }

        #[test]
        fn any_repeated_key_is_caught(key in "[a-z]{1,6}", a in any::<i32>(), b in any::<i32>()) {
            let text = format!(r#"{{"x":{{"{key}":{a},"{key}":{b}}}}}"#);
            prop_assert_eq!(
                parse_object(text.as_bytes()),
                Err(StrictJsonError::DuplicateMember(key))
            );
        }
    }
}
