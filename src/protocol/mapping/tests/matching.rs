//! One rule, one claim value: does it match?

use super::*;

fn group_matches(kind: MatchKind, pattern: &str, value: &str) -> bool {
    let rule = allow(
        "r",
        ClaimSelector::Group,
        kind,
        pattern,
        &[arn(PROD, "Admin")],
    );
    !granted(base(vec![rule]), &claims("idp", &[value])).is_empty()
}

#[test]
fn exact_is_case_sensitive_equality() {
    let table = [
        ("aws-admins", "aws-admins", true),
        ("aws-admins", "AWS-admins", false),
        ("aws-admins", "aws-admins ", false),
        ("aws-admins", "aws-admin", false),
        ("a*", "abc", false),
    ];
    for (pattern, value, want) in table {
        assert_eq!(
            group_matches(MatchKind::Exact, pattern, value),
            want,
            "{pattern} vs {value}"
        );
    }
}

#[test]
fn glob_is_case_sensitive_and_star_stays_in_a_segment() {
    let table = [
        ("aws-*", "aws-admins", true),
        ("aws-*", "AWS-admins", false),
        ("aws-*", "xaws-admins", false),
        ("aws-?", "aws-1", true),
        ("aws-[ab]", "aws-c", false),
        ("aws-{prod,dev}", "aws-dev", true),
        ("/aws/*", "/aws/admins", true),
        ("/aws/*", "/aws/prod/admins", false),
        ("/aws/**", "/aws/prod/admins", true),
        (r"a\*", "a*", true),
        (r"a\*", "ab", false),
    ];
    for (pattern, value, want) in table {
        assert_eq!(
            group_matches(MatchKind::Glob, pattern, value),
            want,
            "{pattern} vs {value}"
        );
    }
}

#[test]
fn regex_must_match_the_whole_value() {
    let table = [
        ("aws-(admins|ops)", "aws-admins", true),
        ("aws", "xaws", false),
        ("aws", "awsx", false),
        ("a|b", "ab", false),
        ("a|ab", "ab", true),
        ("AWS-.*", "aws-x", false),
        ("(?i)AWS-.*", "aws-x", true),
        (r"aws-\d+", "aws-42", true),
    ];
    for (pattern, value, want) in table {
        assert_eq!(
            group_matches(MatchKind::Regex, pattern, value),
            want,
            "{pattern} vs {value}"
        );
    }
}

#[test]
fn ldap_dn_normalises_and_has_a_cn_shortcut() {
    let dn = "cn=aws-admins,ou=groups,dc=example,dc=org";
    let table = [
        (dn, dn, true),
        (dn, "CN=AWS-Admins, OU=Groups , DC=example,DC=org", true),
        (dn, "cn = aws-admins ,ou= groups,dc =example,dc=org", true),
        (dn, "cn=aws-admins,ou=groups,dc=example", false),
        (
            dn,
            "cn=aws-admins,ou=groups,dc=example,dc=org,dc=extra",
            false,
        ),
        (dn, "aws-admins", false),
        ("commonName=x,dc=y", "CN=x,DC=y", true),
        ("2.5.4.3=x,dc=y", "cn=x,dc=y", true),
        // Escapes: a hex pair and a backslashed character are the same character.
        (r"cn=a\,b,dc=x", r"cn=a\2cb,dc=x", true),
        (r"cn=a\,b,dc=x", "cn=a,b,dc=x", false),
        (r"cn=Jos\C3\A9,dc=x", "cn=JOSÉ,dc=x", true),
        (r"cn=\#1,dc=x", r"cn=\231,dc=x", true),
        // An escaped trailing space counts; an unescaped one does not.
        (r"cn=x\ ,dc=y", "cn=x,dc=y", false),
        ("cn=x   ,dc=y", "cn=x,dc=y", true),
        // Multi-valued RDNs compare as sets.
        ("cn=x+uid=y,dc=z", "UID=y + CN=x,dc=z", true),
        ("cn=x+uid=y,dc=z", "cn=x,dc=z", false),
        ("cn=x,dc=y", "cn=x,dc=y,", false),
        // CN shortcut: a pattern without `=` names the first RDN's CN, any case.
        ("aws-admins", dn, true),
        (
            "AWS-Admins",
            "CN=aws-admins,OU=Groups,DC=example,DC=org",
            true,
        ),
        ("aws-admins", "ou=aws-admins,dc=example", false),
        ("aws-admins", "cn=other,cn=aws-admins", false),
        ("aws-admins", "aws-admins", false),
        ("a,b", r"cn=a\,b,dc=x", true),
        ("x", "cn=x+uid=y,dc=z", false),
    ];
    for (pattern, value, want) in table {
        assert_eq!(
            group_matches(MatchKind::LdapDn, pattern, value),
            want,
            "{pattern} vs {value}"
        );
    }
}

#[test]
fn dn_parser_rejects_malformed_names() {
    for bad in [
        "cn", "=x", "cn=x,", r"cn=x\", r"cn=x\zz", "cn=#abc", "c n=x",
    ] {
        assert!(Dn::parse(bad).is_err(), "{bad}");
    }
    assert!(Dn::parse("").is_ok());
    assert_eq!(
        Dn::parse("cn=#04ABcd").unwrap(),
        Dn::parse("CN=#04abCD").unwrap()
    );
}

#[test]
fn invalid_ldap_dn_pattern_is_refused_at_compile() {
    let rule = allow(
        "r",
        ClaimSelector::Group,
        MatchKind::LdapDn,
        "cn=x,=y",
        &[arn(PROD, "Admin")],
    );
    let errors = CompiledRules::compile(base(vec![rule])).unwrap_err();
    assert_eq!(errors[0].kind, ErrorKind::InvalidPattern);
}

fn with_email(email: &str, verified: bool) -> Claims {
    Claims {
        email: Some(email.into()),
        email_verified: verified,
        ..claims("idp", &[])
    }
}

#[test]
fn email_claims_need_a_verified_address() {
    let by_email = |pattern: &str| {
        base(vec![allow(
            "r",
            ClaimSelector::Email,
            MatchKind::Exact,
            pattern,
            &[arn(PROD, "Admin")],
        )])
    };
    let table = [
        ("alice@example.com", "alice@example.com", true, true),
        ("alice@example.com", "alice@example.com", false, false),
        ("alice@example.com", "Alice@example.com", true, false),
    ];
    for (pattern, email, verified, want) in table {
        let got = !granted(by_email(pattern), &with_email(email, verified)).is_empty();
        assert_eq!(got, want, "{pattern} vs {email} verified={verified}");
    }
    assert!(granted(by_email("alice@example.com"), &claims("idp", &[])).is_empty());
}

#[test]
fn email_domain_is_after_the_last_at_and_case_insensitive() {
    let by_domain = |kind, pattern: &str| {
        base(vec![allow(
            "r",
            ClaimSelector::EmailDomain,
            kind,
            pattern,
            &[arn(PROD, "Admin")],
        )])
    };
    let table = [
        (
            MatchKind::Exact,
            "example.com",
            "alice@Example.COM",
            true,
            true,
        ),
        (
            MatchKind::Exact,
            "EXAMPLE.com",
            "alice@example.com",
            true,
            true,
        ),
        (
            MatchKind::Exact,
            "example.com",
            "alice@example.com",
            false,
            false,
        ),
        (
            MatchKind::Exact,
            "example.com",
            "\"a@b\"@example.com",
            true,
            true,
        ),
        (
            MatchKind::Exact,
            "example.com",
            "alice@example.com.evil",
            true,
            false,
        ),
        (MatchKind::Exact, "example.com", "example.com", true, false),
        (
            MatchKind::Glob,
            "*.example.com",
            "bob@EU.Example.com",
            true,
            true,
        ),
        (
            MatchKind::Regex,
            r"(eu|us)\.example\.com",
            "bob@US.example.com",
            true,
            true,
        ),
    ];
    for (kind, pattern, email, verified, want) in table {
        let got = !granted(by_domain(kind, pattern), &with_email(email, verified)).is_empty();
        assert_eq!(got, want, "{kind} {pattern} vs {email} verified={verified}");
    }
}

#[test]
fn subject_and_attribute_claims() {
    let admin = [arn(PROD, "Admin")];
    let by_subject = base(vec![allow(
        "r",
        ClaimSelector::Subject,
        MatchKind::Exact,
        "alice",
        &admin,
    )]);
    assert_eq!(granted(by_subject.clone(), &claims("idp", &[])), ["Admin"]);
    let bob = Claims {
        subject: "bob".into(),
        ..claims("idp", &[])
    };
    assert!(granted(by_subject, &bob).is_empty());

    let dept = ClaimSelector::Attribute("department".into());
    let by_attr = base(vec![allow("r", dept, MatchKind::Exact, "ops", &admin)]);
    let mut c = claims("idp", &["ops"]);
    assert!(
        granted(by_attr.clone(), &c).is_empty(),
        "groups are not attributes"
    );
    c.attributes
        .insert("department".into(), vec!["eng".into(), "ops".into()]);
    assert_eq!(granted(by_attr.clone(), &c), ["Admin"]);
    c.attributes = [("Department".to_owned(), vec!["ops".to_owned()])].into();
    assert!(
        granted(by_attr, &c).is_empty(),
        "attribute names are case-sensitive"
    );
}

#[test]
fn ldap_dn_is_refused_for_email_claims() {
    let rule = allow(
        "r",
        ClaimSelector::EmailDomain,
        MatchKind::LdapDn,
        "x",
        &[arn(PROD, "Admin")],
    );
    let errors = CompiledRules::compile(base(vec![rule])).unwrap_err();
    assert_eq!(errors[0].kind, ErrorKind::InvalidMatchKind);
}

#[test]
fn claim_selector_text_form() {
    for text in [
        "group",
        "email",
        "email_domain",
        "subject",
        "attribute:dept",
    ] {
        assert_eq!(text.parse::<ClaimSelector>().unwrap().to_string(), text);
    }
    assert!("attribute:".parse::<ClaimSelector>().is_err());
    assert!("groups".parse::<ClaimSelector>().is_err());
    assert_eq!(
        serde_json::to_string(&ClaimSelector::Attribute("a".into())).unwrap(),
        "\"attribute:a\""
    );
}

#[test]
fn empty_claim_values_match_nothing() {
    let anything = base(vec![allow(
        "r",
        ClaimSelector::Subject,
        MatchKind::Regex,
        ".*",
        &[arn(PROD, "Admin")],
    )]);
    let nobody = Claims {
        subject: String::new(),
        ..claims("idp", &[])
    };
    assert!(granted(anything.clone(), &nobody).is_empty());
    assert_eq!(granted(anything, &claims("idp", &[])), ["Admin"]);
}

/// Group DNs as directories write them, with the spacing and type spellings RFC 4514 allows.
fn dn_text() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    let ava = (
        prop::sample::select(vec!["cn", "CN", "ou", "commonName", "2.5.4.3", "DC", "uid"]),
        "[ \t]{0,2}",
        "[ \t]{0,2}",
        "[a-zA-Z0-9 .=\\-]{0,8}",
    )
        .prop_map(|(kind, before, after, value)| format!("{before}{kind}{after}={value}"));
    prop::collection::vec(ava, 0..5).prop_map(|avas| avas.join(","))
}

proptest::proptest! {
    #[test]
    fn the_plain_dn_shortcut_agrees_with_the_general_parser(text in dn_text()) {
        proptest::prop_assert_eq!(Dn::parse(&text), Dn::parse_general(&text));
    }

    #[test]
    fn any_text_parses_as_the_general_parser_says(text in r"[ a-zA-Z0-9=,.+#\\\t-]{0,24}") {
        proptest::prop_assert_eq!(Dn::parse(&text), Dn::parse_general(&text));
    }
}
