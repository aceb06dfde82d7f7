//! `SourceIdentity`: the person's stable id, carried into CloudTrail and fixed for the whole
//! role chain.

use super::names::name_type;

name_type!(
    /// 2–64 characters of `[\w+=,.@-]`, not starting with `aws:` (in any case).
    SourceIdentity,
    "SourceIdentity",
    2,
    64,
    true
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::aws::AwsRuleError;
    use proptest::prelude::*;

    #[test]
    fn parse_table() {
        assert!(SourceIdentity::parse("alice@example.org").is_ok());
        assert!(SourceIdentity::parse("awsome").is_ok());
        let cases: &[(&str, AwsRuleError)] = &[
            (
                "a",
                AwsRuleError::NameLength {
                    what: "SourceIdentity",
                    min: 2,
                    max: 64,
                    len: 1,
                },
            ),
            (
                "aws:x",
                AwsRuleError::NameAwsPrefix {
                    what: "SourceIdentity",
                },
            ),
            (
                "AWS:x",
                AwsRuleError::NameAwsPrefix {
                    what: "SourceIdentity",
                },
            ),
            (
                "a b",
                AwsRuleError::NameCharset {
                    what: "SourceIdentity",
                    found: ' ',
                },
            ),
        ];
        for (v, want) in cases {
            assert_eq!(SourceIdentity::parse(v).as_ref(), Err(want), "{v}");
        }
    }

    #[test]
    fn fit_never_yields_aws_prefix() {
        for id in ["aws:alice", "AWS:root", "Aws:"] {
            let d = SourceIdentity::fit(id);
            assert!(!d.as_str().to_ascii_lowercase().starts_with("aws:"));
            assert!(SourceIdentity::parse(d.as_str()).is_ok(), "{id} -> {d}");
        }
    }

    proptest! {
        #[test]
        fn fitted_always_parses(id in any::<String>(), idp in "[a-z0-9_-]{1,64}") {
            let d = SourceIdentity::of_person(&id, &idp);
            prop_assert!(SourceIdentity::parse(d.as_str()).is_ok());
        }
    }
}
