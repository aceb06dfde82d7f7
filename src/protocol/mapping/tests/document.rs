//! The YAML document: reading, writing, and where errors are reported.

use super::*;

const VALID: &str = r#"version: 1
accounts:
  - id: "123456789012"
    alias: demo-prod
    partition: aws
  - id: 210987654321
    alias: demo-dev
    partition: aws
roles:
  - arn: arn:aws:iam::123456789012:role/Admin
    display_name: Administrator
    description: Full access to the demo account
    max_session_seconds: 3600
  - arn: arn:aws:iam::210987654321:role/Developer
rules:
  - id: admins
    description: AWS admins group
    idp: demo-saml        # required: an IdP id, a list of them, or "*" for every IdP
    claim: group          # group | email | email_domain | subject | attribute:<name>
    match: ldap_dn        # exact | glob | regex | ldap_dn | ad_group
    pattern: aws-admins
    roles: [arn:aws:iam::123456789012:role/Admin]
    effect: allow         # allow | deny (default allow)
    priority: 10
    max_session_seconds: 3600
    session_tags: {team: platform}
    transitive_tag_keys: [team]
  - id: devs
    idp: [demo-saml, google]
    claim: email_domain
    match: glob
    pattern: "*.example.com"
    roles:
      - arn:aws:iam::210987654321:role/Developer
    capabilities: [decode-authorization-message]
  - id: no-contractors
    idp: "*"
    claim: attribute:employment
    match: exact
    pattern: contractor
    roles: ["*"]
    effect: deny
"#;

/// `(line, kind)` of each error, in report order.
fn lines(text: &str) -> Vec<(usize, DocumentErrorKind)> {
    parse_document(text)
        .unwrap_err()
        .into_iter()
        .map(|e| (e.line, e.kind))
        .collect()
}

fn rule_kind(kind: ErrorKind) -> DocumentErrorKind {
    DocumentErrorKind::Rule(kind)
}

#[test]
fn valid_document_reads_with_defaults() {
    let set = parse_document(VALID).unwrap();
    assert_eq!(
        set.accounts[1].id, "210987654321",
        "an unquoted id is still text"
    );
    assert_eq!(
        set.roles[1].display_name, "Developer",
        "display_name defaults to the role name"
    );
    assert_eq!(set.roles[1].description, "");
    assert_eq!(set.roles[1].max_session_seconds, 3600);
    let admins = &set.rules[0];
    assert_eq!(admins.idp, Some(IdpScope::Only(vec!["demo-saml".into()])));
    assert_eq!(
        set.rules[1].idp,
        Some(IdpScope::Only(vec!["demo-saml".into(), "google".into()]))
    );
    assert_eq!(set.rules[2].idp, Some(IdpScope::Any));
    assert_eq!(admins.match_kind, MatchKind::LdapDn);
    assert_eq!(admins.session_tags["team"], "platform");
    assert_eq!(set.rules[1].effect, Effect::Allow);
    assert_eq!(set.rules[1].priority, 0);
    assert_eq!(
        set.rules[2].claim,
        ClaimSelector::Attribute("employment".into())
    );
    assert_eq!(set.rules[2].roles, [ALL_ROLES]);

    let compiled = CompiledRules::compile(set).unwrap();
    let c = claims("demo-saml", &["cn=AWS-Admins,ou=groups,dc=example,dc=org"]);
    let decision = compiled.evaluate(&c);
    assert_eq!(decision.grants[0].id, "123456789012-Admin");
    assert_eq!(decision.grants[0].session_tags["team"], "platform");
}

#[test]
fn render_then_parse_round_trips() {
    let set = parse_document(VALID).unwrap();
    let text = render_document(&set);
    assert_eq!(parse_document(&text).unwrap(), set, "rendered:\n{text}");

    // Order of the input does not change the output.
    let mut shuffled = set.clone();
    shuffled.accounts.reverse();
    shuffled.roles.reverse();
    shuffled.rules.reverse();
    assert_eq!(render_document(&shuffled), text);
}

#[test]
fn awkward_strings_survive_a_round_trip() {
    let mut set = base(vec![]);
    let awkward = [
        "yes",
        "no",
        "null",
        "~",
        "123",
        "0x1F",
        "1e3",
        ": colon",
        "# hash",
        "- dash",
        " lead",
        "trail ",
        "multi\nline",
        "quote ' and \"",
        "ünïcødé",
        "[flow]",
        "{map}",
        "*star",
        "&amp",
        "!tag",
        "%pct",
        "@at",
        "`tick",
        "|pipe",
        ">gt",
        "",
    ];
    for (i, text) in awkward.iter().enumerate() {
        let label = format!("a{}x", text.replace('\n', " "));
        let claim = ClaimSelector::Attribute(label.clone());
        let mut rule = allow(
            &format!("r{i:02}"),
            claim,
            MatchKind::Exact,
            "p",
            &[arn(PROD, "Admin")],
        );
        rule.description = (*text).to_owned();
        rule.pattern = format!("{text}x");
        rule.idp = Some(IdpScope::Only(vec![format!("idp-{i}")]));
        rule.priority = -7;
        set.rules.push(rule);
    }
    set.roles[0].description = "multi\nline: yes".into();
    let text = render_document(&set);
    let back = parse_document(&text).unwrap();
    set.roles.sort_by(|a, b| a.arn.cmp(&b.arn));
    set.accounts.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(back, set, "rendered:\n{text}");
}

const BROKEN: &str = r#"version: 1
accounts:
  - id: "123456789012"
    alias: prod
    partition: aws
  - id: "12345"
    alias: bad
    partition: aws
roles:
  - arn: arn:aws:iam::123456789012:role/Admin
  - arn: arn:aws:iam::123456789012:roles/Broken
  - arn: arn:aws:iam::999999999999:role/Orphan
    max_session_seconds: 60
rules:
  - id: admins
    idp: corp
    claim: group
    match: regex
    pattern: "(unclosed"
    roles: [arn:aws:iam::123456789012:role/Admin]
  - id: admins
    idp: corp
    claim: group
    match: exact
    pattern: x
    roles:
      - arn:aws:iam::123456789012:role/Admin
      - arn:aws:iam::123456789012:role/Missing
    session_tags:
      team: a
      "aws:x": b
    transitive_tag_keys: [nope]
"#;

#[test]
fn every_semantic_error_is_reported_on_its_line() {
    let errors = parse_document(BROKEN).unwrap_err();
    let got: Vec<_> = errors
        .iter()
        .map(|e| (e.line, e.kind, e.path.as_deref().unwrap_or("")))
        .collect();
    assert_eq!(
        got,
        [
            (6, rule_kind(ErrorKind::InvalidAccountId), "accounts[1].id"),
            (11, rule_kind(ErrorKind::InvalidRoleArn), "roles[1].arn"),
            (12, rule_kind(ErrorKind::UnknownAccount), "roles[2].arn"),
            (
                13,
                rule_kind(ErrorKind::SessionDurationOutOfRange),
                "roles[2].max_session_seconds"
            ),
            (19, rule_kind(ErrorKind::InvalidPattern), "rules[0].pattern"),
            (21, rule_kind(ErrorKind::DuplicateRuleId), "rules[1].id"),
            (28, rule_kind(ErrorKind::UnknownRole), "rules[1].roles[1]"),
            (
                31,
                rule_kind(ErrorKind::InvalidSessionTag),
                "rules[1].session_tags.\"aws:x\""
            ),
            (
                32,
                rule_kind(ErrorKind::InvalidTransitiveTagKey),
                "rules[1].transitive_tag_keys[0]"
            ),
        ]
    );
    assert_eq!(errors[0].column, Some(9));
    assert!(
        errors[0].message.contains("exactly 12 digits"),
        "{}",
        errors[0].message
    );
    assert!(
        errors[5].message.contains("rule ids must be unique"),
        "{}",
        errors[5].message
    );
    assert!(
        errors[4].message.contains("invalid regex"),
        "{}",
        errors[4].message
    );
    assert_eq!(
        errors[0].to_string(),
        format!("line 6, column 9 (accounts[1].id): {}", errors[0].message)
    );
}

#[test]
fn flow_list_entries_get_their_column() {
    let text = VALID.replace(
        "roles: [arn:aws:iam::123456789012:role/Admin]",
        "roles: [arn:aws:iam::123456789012:role/Admin, arn:aws:iam::123456789012:role/Nope]",
    );
    let errors = parse_document(&text).unwrap_err();
    assert_eq!(errors.len(), 1);
    assert_eq!((errors[0].line, errors[0].column), (22, Some(51)));
    assert_eq!(errors[0].kind, rule_kind(ErrorKind::UnknownRole));
}

#[test]
fn closed_vocabularies_are_collected_not_fatal() {
    let text = r#"version: 1
accounts:
  - id: "123456789012"
    alias: prod
    partition: aws-mars
roles:
  - arn: arn:aws:iam::123456789012:role/Admin
rules:
  - id: a
    idp: corp
    claim: groups
    match: fuzzy
    pattern: x
    roles: ["*"]
    effect: permit
"#;
    assert_eq!(
        lines(text),
        [
            (5, rule_kind(ErrorKind::InvalidPartition)),
            (11, rule_kind(ErrorKind::InvalidClaim)),
            (12, rule_kind(ErrorKind::InvalidMatchKind)),
            (15, rule_kind(ErrorKind::InvalidEffect)),
        ],
        "no PartitionMismatch or MisusedWildcard echo of the stand-in values"
    );
}

#[test]
fn unknown_keys_are_rejected_where_they_are() {
    let text = VALID.replace("    priority: 10\n", "    priority: 10\n    prority: 11\n");
    let errors = parse_document(&text).unwrap_err();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].kind, DocumentErrorKind::Yaml);
    assert_eq!((errors[0].line, errors[0].column), (25, Some(5)));
    assert!(
        errors[0].message.contains("unknown field `prority`"),
        "{}",
        errors[0].message
    );
    assert!(
        !errors[0].message.contains("at line"),
        "{}",
        errors[0].message
    );

    let top = VALID.replace("accounts:", "acounts:");
    assert_eq!(lines(&top), [(2, DocumentErrorKind::Yaml)]);
}

#[test]
fn schema_and_syntax_errors_carry_a_line() {
    let wrong_type = VALID.replace("priority: 10", "priority: high");
    assert_eq!(lines(&wrong_type), [(24, DocumentErrorKind::Yaml)]);
    let missing = VALID.replace("    pattern: contractor\n", "");
    // A missing key is reported at the start of the item that lacks it.
    assert_eq!(lines(&missing), [(36, DocumentErrorKind::Yaml)]);
    let syntax = VALID.replace(
        "session_tags: {team: platform}",
        "session_tags: {team: platform",
    );
    assert_eq!(
        parse_document(&syntax).unwrap_err()[0].kind,
        DocumentErrorKind::Yaml
    );
    assert_eq!(lines(""), [(1, DocumentErrorKind::Yaml)]);
    let version = VALID.replace("version: 1", "version: 2");
    assert_eq!(
        lines(&version),
        [(1, rule_kind(ErrorKind::UnsupportedVersion))]
    );
    let no_version = VALID.replace("version: 1\n", "");
    assert_eq!(
        parse_document(&no_version).unwrap_err()[0].kind,
        DocumentErrorKind::Yaml
    );
}

#[test]
fn repeated_tag_key_points_at_the_repeat() {
    let text = VALID.replace(
        "session_tags: {team: platform}",
        "session_tags:\n      team: a\n      team: b",
    );
    let errors = parse_document(&text).unwrap_err();
    assert_eq!(
        (errors[0].line, errors[0].kind),
        (28, rule_kind(ErrorKind::InvalidSessionTag))
    );
}

#[test]
fn duplicates_point_at_the_second_declaration() {
    let text = VALID.replace(
        "  - arn: arn:aws:iam::210987654321:role/Developer\n",
        "  - arn: arn:aws:iam::210987654321:role/Developer\n  - arn: arn:aws:iam::123456789012:role/Admin\n",
    )
    .replace("    alias: demo-dev\n", "    alias: demo-prod\n");
    assert_eq!(
        lines(&text),
        [
            (7, rule_kind(ErrorKind::DuplicateAlias)),
            (15, rule_kind(ErrorKind::DuplicateRoleArn))
        ]
    );
}

#[test]
fn anchors_and_aliases_are_plain_yaml() {
    let text = VALID.replace(
        "roles: [arn:aws:iam::123456789012:role/Admin]",
        "roles: &admin [arn:aws:iam::123456789012:role/Admin]",
    ) + "  - id: zz\n    idp: corp\n    claim: subject\n    match: exact\n    pattern: root\n    roles: *admin\n";
    let set = parse_document(&text).unwrap();
    assert_eq!(set.rules[3].roles, [arn(PROD, "Admin")]);
}

#[test]
fn error_list_is_capped_with_a_summary() {
    let mut text = String::from("version: 1\nrules:\n");
    for i in 0..130 {
        text.push_str(&format!("  - {{id: Bad{i}, idp: corp, claim: group, match: exact, pattern: x, roles: [\"*\"], effect: deny}}\n"));
    }
    let errors = parse_document(&text).unwrap_err();
    assert_eq!(errors.len(), 101);
    assert_eq!(errors[0].line, 3);
    assert_eq!(errors[99].line, 102);
    assert_eq!(errors[100].kind, DocumentErrorKind::TooManyErrors);
    assert!(errors[100].message.starts_with("30 more errors"));
}

#[test]
fn errors_serialize_for_the_api() {
    let errors = parse_document(BROKEN).unwrap_err();
    let json = serde_json::to_value(&errors[0]).unwrap();
    assert_eq!(json["line"], 6);
    assert_eq!(json["kind"]["rule"], "invalid_account_id");
}

const WITH_ACCOUNT_INFO: &str = r#"version: 1
accounts:
  - id: "123456789012"
    alias: payments-prod
    partition: aws
    environment: production
    owner: Payments team
    description: Card payments and settlements
  - id: "210987654321"
    alias: scratch
    partition: aws
roles:
  - arn: arn:aws:iam::123456789012:role/Admin
rules: []
"#;

#[test]
fn account_metadata_reads_round_trips_and_is_optional() {
    let set = parse_document(WITH_ACCOUNT_INFO).unwrap();
    let a = &set.accounts[0];
    assert_eq!(a.environment.as_deref(), Some("production"));
    assert_eq!(a.owner.as_deref(), Some("Payments team"));
    assert_eq!(
        a.description.as_deref(),
        Some("Card payments and settlements")
    );
    let b = &set.accounts[1];
    assert_eq!(
        (&b.environment, &b.owner, &b.description),
        (&None, &None, &None)
    );
    let text = render_document(&set);
    assert_eq!(parse_document(&text).unwrap(), set, "rendered:\n{text}");
}

#[test]
fn bad_account_metadata_is_reported_on_its_line() {
    let bad = WITH_ACCOUNT_INFO
        .replace("environment: production", "environment: Production Env")
        .replace("owner: Payments team", "owner: \" Payments team\"")
        .replace(
            "description: Card payments and settlements",
            "description: \"two\\nlines\"",
        );
    assert_eq!(
        lines(&bad),
        vec![
            (6, rule_kind(ErrorKind::InvalidAccountInfo)),
            (7, rule_kind(ErrorKind::InvalidAccountInfo)),
            (8, rule_kind(ErrorKind::InvalidAccountInfo)),
        ]
    );
}

#[test]
fn the_demo_rules_document_reads() {
    let demo = include_str!("../../../../deploy/demo/rules.yaml");
    let set = parse_document(demo).unwrap();
    assert!(set.accounts.len() >= 6, "enough accounts to search");
    let environments: std::collections::BTreeSet<_> = set
        .accounts
        .iter()
        .filter_map(|a| a.environment.as_deref())
        .collect();
    assert!(environments.len() >= 3, "{environments:?}");
}
