//! `match: ad_group`: AD group names, bare or `DOMAIN\name`, compared case-insensitively.

use proptest::prelude::*;

use super::*;

fn ad_rule(pattern: &str, domains: &[&str], allow_unqualified: Option<bool>) -> Rule {
    Rule {
        domains: domains.iter().map(|d| (*d).to_owned()).collect(),
        allow_unqualified,
        ..allow(
            "ad",
            ClaimSelector::Group,
            MatchKind::AdGroup,
            pattern,
            &[arn(PROD, "Admin")],
        )
    }
}

fn matches(rule: Rule, value: &str) -> bool {
    !granted(base(vec![rule]), &claims("idp", &[value])).is_empty()
}

#[test]
fn bare_names_match_in_any_case_without_domains() {
    let table = [
        ("aws-admins", true),
        ("AWS-Admins", true),
        ("AWS-ADMINS", true),
        ("aws-admin", false),
        ("aws-admins ", false),
        (" aws-admins", false),
        ("aws_admins", false),
        // A rule without domains means unqualified names: a qualified value has a domain the
        // rule never named.
        ("EXAMPLE\\aws-admins", false),
    ];
    for (value, want) in table {
        assert_eq!(
            matches(ad_rule("aws-admins", &[], None), value),
            want,
            "{value:?}"
        );
    }
}

#[test]
fn qualified_names_match_only_in_the_named_domains() {
    let rule = || ad_rule("aws-admins", &["EXAMPLE", "CORP"], None);
    let table = [
        ("EXAMPLE\\aws-admins", true),
        ("example\\AWS-Admins", true),
        ("CORP\\Aws-Admins", true),
        ("OTHER\\aws-admins", false),
        ("EXAMPLE2\\aws-admins", false),
        ("EXAMPLE\\aws-admins2", false),
        // Unqualified names are refused unless the rule allows them.
        ("aws-admins", false),
        ("\\aws-admins", false),
        ("EXAMPLE\\", false),
        ("EXAMPLE\\CORP\\aws-admins", false),
        ("EXAMPLE\\\\aws-admins", false),
        ("example.com\\aws-admins", false),
    ];
    for (value, want) in table {
        assert_eq!(matches(rule(), value), want, "{value:?}");
    }
}

#[test]
fn allow_unqualified_adds_bare_names_to_named_domains() {
    let rule = || ad_rule("AWS-ReadOnly", &["EXAMPLE"], Some(true));
    assert!(matches(rule(), "aws-readonly"));
    assert!(matches(rule(), "EXAMPLE\\aws-readonly"));
    assert!(!matches(rule(), "OTHER\\aws-readonly"));
    assert!(!matches(
        ad_rule("AWS-ReadOnly", &["EXAMPLE"], Some(false)),
        "aws-readonly"
    ));
}

#[test]
fn folding_is_simple_unicode_case_folding_and_nothing_more() {
    let table = [
        // Simple folding pairs beyond ASCII.
        ("gruppe-ä", "GRUPPE-Ä", true),
        ("σ-ops", "Σ-OPS", true),
        // The Kelvin sign folds to k, as AD's upper-case table has it.
        ("k-team", "\u{212A}-team", true),
        // Full folding would join these; AD and simple folding keep them apart.
        ("straße", "STRASSE", false),
        // No normalisation: a precomposed and a decomposed é are different names.
        ("café", "cafe\u{301}", false),
        // No trimming, no width folding.
        ("ops", "ｏｐｓ", false),
    ];
    for (pattern, value, want) in table {
        assert_eq!(
            matches(ad_rule(pattern, &[], None), value),
            want,
            "{pattern:?} vs {value:?}"
        );
    }
}

#[test]
fn exact_stays_case_sensitive_next_to_ad_group() {
    let exact = allow(
        "exact",
        ClaimSelector::Group,
        MatchKind::Exact,
        "aws-admins",
        &[arn(PROD, "ReadOnly")],
    );
    let set = base(vec![ad_rule("aws-admins", &[], None), exact]);
    assert_eq!(
        granted(set.clone(), &claims("idp", &["AWS-Admins"])),
        vec!["Admin"]
    );
    assert_eq!(
        granted(set, &claims("idp", &["aws-admins"])),
        vec!["Admin", "ReadOnly"]
    );
}

const DOC_HEAD: &str = "version: 1
accounts:
  - id: \"123456789012\"
    alias: prod
    partition: aws
roles:
  - arn: arn:aws:iam::123456789012:role/Admin
rules:
";

fn doc(rule: &str) -> String {
    format!("{DOC_HEAD}{rule}")
}

fn errors(text: &str) -> Vec<(usize, ErrorKind, String)> {
    parse_document(text)
        .unwrap_err()
        .into_iter()
        .map(|e| match e.kind {
            DocumentErrorKind::Rule(kind) => (e.line, kind, e.path.unwrap_or_default()),
            other => panic!("not a rule error: {other:?} {e}"),
        })
        .collect()
}

#[test]
fn a_document_reads_and_writes_ad_group_rules() {
    let text = doc(r#"  - id: admins
    idp: adfs
    claim: group
    match: ad_group
    pattern: aws-admins
    domains: [EXAMPLE, CORP]
    allow_unqualified: true
    roles: [arn:aws:iam::123456789012:role/Admin]
"#);
    let set = parse_document(&text).unwrap();
    let rule = &set.rules[0];
    assert_eq!(rule.match_kind, MatchKind::AdGroup);
    assert_eq!(rule.domains, vec!["EXAMPLE", "CORP"]);
    assert_eq!(rule.allow_unqualified, Some(true));
    let rendered = render_document(&set);
    assert!(rendered.contains("match: ad_group"), "{rendered}");
    assert_eq!(parse_document(&rendered).unwrap(), set);
}

#[test]
fn bad_ad_group_rules_are_refused_at_their_line() {
    let text = doc(r#"  - id: backslash
    idp: adfs
    claim: group
    match: ad_group
    pattern: EXAMPLE\aws-admins
    roles: [arn:aws:iam::123456789012:role/Admin]
  - id: glob
    idp: adfs
    claim: group
    match: ad_group
    pattern: aws-*
    roles: [arn:aws:iam::123456789012:role/Admin]
  - id: empty
    idp: adfs
    claim: group
    match: ad_group
    pattern: ""
    roles: [arn:aws:iam::123456789012:role/Admin]
  - id: domains
    idp: adfs
    claim: group
    match: ad_group
    pattern: aws-admins
    domains:
      - EXAMPLE
      - example.com
      - EX AMPLE
      - example
      - MUCHTOOLONGDOMAIN
    roles: [arn:aws:iam::123456789012:role/Admin]
  - id: nothing-left
    idp: adfs
    claim: group
    match: ad_group
    pattern: aws-admins
    allow_unqualified: false
    roles: [arn:aws:iam::123456789012:role/Admin]
  - id: not-ad
    idp: adfs
    claim: group
    match: exact
    pattern: aws-admins
    domains: [EXAMPLE]
    allow_unqualified: true
    roles: [arn:aws:iam::123456789012:role/Admin]
  - id: email
    idp: adfs
    claim: email
    match: ad_group
    pattern: aws-admins
    roles: [arn:aws:iam::123456789012:role/Admin]
  - id: spaced
    idp: adfs
    claim: group
    match: ad_group
    pattern: " aws-admins"
    roles: [arn:aws:iam::123456789012:role/Admin]
"#);
    let found = errors(&text);
    let want = [
        (13, ErrorKind::InvalidPattern, "rules[0].pattern"),
        (19, ErrorKind::InvalidPattern, "rules[1].pattern"),
        (25, ErrorKind::InvalidPattern, "rules[2].pattern"),
        (34, ErrorKind::InvalidAdDomain, "rules[3].domains[1]"),
        (35, ErrorKind::InvalidAdDomain, "rules[3].domains[2]"),
        (36, ErrorKind::InvalidAdDomain, "rules[3].domains[3]"),
        (37, ErrorKind::InvalidAdDomain, "rules[3].domains[4]"),
        (
            44,
            ErrorKind::MisusedAdGroupField,
            "rules[4].allow_unqualified",
        ),
        (51, ErrorKind::MisusedAdGroupField, "rules[5].domains"),
        (
            52,
            ErrorKind::MisusedAdGroupField,
            "rules[5].allow_unqualified",
        ),
        (57, ErrorKind::InvalidMatchKind, "rules[6].match"),
        (64, ErrorKind::InvalidPattern, "rules[7].pattern"),
    ];
    let found: Vec<(usize, ErrorKind, &str)> =
        found.iter().map(|(l, k, p)| (*l, *k, p.as_str())).collect();
    assert_eq!(found, want);
}

fn explain_lines(rule: Rule, values: &[&str]) -> (bool, Vec<String>) {
    let compiled = CompiledRules::compile(base(vec![rule])).unwrap();
    let explanation = explain(&compiled, &claims("idp", values));
    let trace = &explanation.rules[0];
    (trace.applied, trace.value_checks.clone())
}

#[test]
fn explain_says_why_each_value_matched_or_not() {
    let rule = ad_rule("aws-admins", &["EXAMPLE"], None);
    let (applied, lines) = explain_lines(rule.clone(), &["EXAMPLE\\AWS-Admins"]);
    assert!(applied);
    assert_eq!(
        lines,
        vec!["EXAMPLE\\AWS-Admins matches aws-admins in domain EXAMPLE (case-insensitive)"]
    );
    let (applied, lines) = explain_lines(
        rule,
        &[
            "OTHER\\aws-admins",
            "aws-admins",
            "EXAMPLE\\aws-ops",
            "A\\B\\C",
        ],
    );
    assert!(!applied);
    assert_eq!(
        lines,
        vec![
            "OTHER\\aws-admins: domain OTHER is not one of EXAMPLE",
            "aws-admins: an unqualified name, and the rule names domains (EXAMPLE) without \
             allow_unqualified: true",
            "EXAMPLE\\aws-ops: the name is not aws-admins (case-insensitive)",
            "A\\B\\C: not a group name (expected name or DOMAIN\\name)",
        ]
    );
    let (_, lines) = explain_lines(ad_rule("aws-admins", &[], None), &["EXAMPLE\\aws-admins"]);
    assert_eq!(
        lines,
        vec![
            "EXAMPLE\\aws-admins: qualified by domain EXAMPLE, and the rule names no domains \
             (it matches unqualified names only)"
        ]
    );
    let compiled =
        CompiledRules::compile(base(vec![ad_rule("aws-admins", &["EXAMPLE"], None)])).unwrap();
    let text = explain(&compiled, &claims("idp", &["OTHER\\aws-admins"])).to_string();
    assert!(
        text.contains("\n      OTHER\\aws-admins: domain OTHER is not one of EXAMPLE\n"),
        "{text}"
    );
}

/// Every case variant of a name: each character independently upper- or lower-cased.
fn case_variant(name: &str, flips: &[bool]) -> String {
    name.chars()
        .zip(flips.iter().cycle())
        .map(|(c, up)| {
            if *up {
                c.to_uppercase().collect::<String>()
            } else {
                c.to_lowercase().collect::<String>()
            }
        })
        .collect()
}

fn name() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9][a-zA-Z0-9 ._-]{0,20}[a-zA-Z0-9]|[a-zA-Zäöüσ]"
}

fn domain() -> impl Strategy<Value = String> {
    "[A-Z][A-Z0-9-]{0,14}"
}

proptest! {
    #[test]
    fn case_variants_match(name in name(), domain in domain(),
                           flips in prop::collection::vec(any::<bool>(), 1..8),
                           domain_flips in prop::collection::vec(any::<bool>(), 1..8)) {
        let variant = case_variant(&name, &flips);
        let domain_variant = case_variant(&domain, &domain_flips);
        prop_assert!(matches(ad_rule(&name, &[], None), &variant));
        let rule = ad_rule(&name, &[&domain], None);
        let qualified = format!("{domain_variant}\\{variant}");
        prop_assert!(matches(rule, &qualified));
    }

    #[test]
    fn other_domains_never_match(name in name(), domain in domain(), other in domain(),
                                 allow in prop::option::of(any::<bool>())) {
        prop_assume!(!domain.eq_ignore_ascii_case(&other));
        let rule = ad_rule(&name, &[&domain], allow);
        let value = format!("{other}\\{name}");
        prop_assert!(!matches(rule, &value));
    }

    #[test]
    fn a_value_differing_in_more_than_case_never_matches(
        name in name(), value in "[a-zA-Z0-9 ._\\-äÄöÖσΣ]{0,24}") {
        prop_assume!(name.to_lowercase() != value.to_lowercase());
        prop_assert!(!matches(ad_rule(&name, &[], None), &value));
        let qualified = format!("EXAMPLE\\{value}");
        prop_assert!(!matches(ad_rule(&name, &["EXAMPLE"], Some(true)), &qualified));
    }

    #[test]
    fn ad_group_rules_render_and_read_back_equal(
        name in name(),
        domains in prop::collection::btree_set(domain(), 0..3),
        allow in prop::option::of(any::<bool>())) {
        let domains: Vec<&str> = domains.iter().map(String::as_str).collect();
        // `allow_unqualified: false` without domains is refused; it says nothing to round-trip.
        let allow = if domains.is_empty() { allow.filter(|a| *a) } else { allow };
        let rule = Rule { idp: Some(IdpScope::Only(vec!["adfs".into()])), ..ad_rule(&name, &domains, allow) };
        let set = base(vec![rule]);
        let text = render_document(&set);
        prop_assert_eq!(parse_document(&text).unwrap(), set);
    }
}
