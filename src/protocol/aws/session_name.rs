//! `RoleSessionName` (AssumeRole*, the SAML `RoleSessionName` attribute) and the
//! GetFederationToken `Name`.

use super::names::name_type;

name_type!(
    /// 2–64 characters of `[\w+=,.@-]` (`\w` = ASCII letters, digits, `_`): the session name
    /// AWS shows in the assumed-role ARN and in CloudTrail.
    RoleSessionName,
    "RoleSessionName",
    2,
    64,
    false
);

name_type!(
    /// The `Name` of GetFederationToken: 2–32 characters of `[\w+=,.@-]`.
    FederationTokenName,
    "GetFederationToken Name",
    2,
    32,
    false
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::aws::AwsRuleError;
    use proptest::prelude::*;

    #[test]
    fn role_session_name_parse_table() {
        let ok = [
            "ab",
            "alice@example.org",
            "a_b+c=d,e.f@g-h",
            &"x".repeat(64),
        ];
        for v in ok {
            assert_eq!(
                RoleSessionName::parse(v).map(|n| n.to_string()),
                Ok(v.to_owned())
            );
        }
        let bad: &[(&str, AwsRuleError)] = &[
            (
                "a",
                AwsRuleError::NameLength {
                    what: "RoleSessionName",
                    min: 2,
                    max: 64,
                    len: 1,
                },
            ),
            (
                "",
                AwsRuleError::NameLength {
                    what: "RoleSessionName",
                    min: 2,
                    max: 64,
                    len: 0,
                },
            ),
            (
                &"x".repeat(65),
                AwsRuleError::NameLength {
                    what: "RoleSessionName",
                    min: 2,
                    max: 64,
                    len: 65,
                },
            ),
            (
                "al ice",
                AwsRuleError::NameCharset {
                    what: "RoleSessionName",
                    found: ' ',
                },
            ),
            (
                "a:b",
                AwsRuleError::NameCharset {
                    what: "RoleSessionName",
                    found: ':',
                },
            ),
            (
                "jos\u{e9}",
                AwsRuleError::NameCharset {
                    what: "RoleSessionName",
                    found: '\u{e9}',
                },
            ),
            (
                "a/b",
                AwsRuleError::NameCharset {
                    what: "RoleSessionName",
                    found: '/',
                },
            ),
        ];
        for (v, want) in bad {
            assert_eq!(RoleSessionName::parse(v).as_ref(), Err(want), "{v}");
        }
    }

    #[test]
    fn federation_token_name_parse_table() {
        assert!(FederationTokenName::parse("ab").is_ok());
        assert!(FederationTokenName::parse(&"y".repeat(32)).is_ok());
        assert_eq!(
            FederationTokenName::parse(&"y".repeat(33)),
            Err(AwsRuleError::NameLength {
                what: "GetFederationToken Name",
                min: 2,
                max: 32,
                len: 33
            })
        );
        assert!(FederationTokenName::parse("a b").is_err());
    }

    #[test]
    fn error_message_names_the_rule() {
        let msg = RoleSessionName::parse("a")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert_eq!(msg, "RoleSessionName must be 2-64 characters; got 1");
    }

    #[test]
    fn of_person_scopes_by_idp() {
        assert_eq!(
            RoleSessionName::of_person("alice@example.org", "corp").as_str(),
            "alice@example.org@corp"
        );
        assert_ne!(
            RoleSessionName::of_person("alice@example.org", "corp"),
            RoleSessionName::of_person("alice@example.org", "google")
        );
        let long = format!("{}@example.org", "firstname.lastname".repeat(5));
        let d = FederationTokenName::of_person(&long, "corp");
        assert_eq!(d.as_str().len(), 32);
        assert!(FederationTokenName::parse(d.as_str()).is_ok());
    }

    #[test]
    fn serde_goes_through_parse() {
        let ok: Result<RoleSessionName, _> = serde_json::from_str("\"alice\"");
        assert!(ok.is_ok());
        let bad: Result<RoleSessionName, _> = serde_json::from_str("\"a\"");
        assert!(bad.is_err());
        assert_eq!(
            serde_json::to_string(&RoleSessionName::fit("bob"))
                .ok()
                .as_deref(),
            Some("\"bob\"")
        );
    }

    proptest! {
        #[test]
        fn fitted_role_session_names_always_parse(id in any::<String>(), idp in "[a-z0-9_-]{1,64}") {
            let d = RoleSessionName::of_person(&id, &idp);
            prop_assert!(RoleSessionName::parse(d.as_str()).is_ok(), "{:?} -> {:?}", id, d);
        }

        #[test]
        fn fitted_federation_names_always_parse(id in any::<String>(), idp in "[a-z0-9_-]{1,64}") {
            let d = FederationTokenName::of_person(&id, &idp);
            prop_assert!(FederationTokenName::parse(d.as_str()).is_ok(), "{:?} -> {:?}", id, d);
        }
    }
}
