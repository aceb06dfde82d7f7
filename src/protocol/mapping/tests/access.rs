//! How AWS is reached: the `access` blocks of accounts and roles, what a grant carries, and
//! where mistakes in them are reported.

use proptest::prelude::*;

use super::*;

const WITH_ACCESS: &str = r#"version: 1
accounts:
  - id: "123456789012"
    alias: prod
    partition: aws
    access:
      mode: assume_role
      external_id: prod-ext-1
  - id: "210987654321"
    alias: dev
    partition: aws
roles:
  - arn: arn:aws:iam::123456789012:role/Admin
  - arn: arn:aws:iam::123456789012:role/Auditor
    access:
      external_id: auditor-ext
  - arn: arn:aws:iam::123456789012:role/Federated
    access:
      mode: federation_token
      session_policy:
        inline: |
          {"Version": "2012-10-17",
           "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
        managed_arns: [arn:aws:iam::aws:policy/ReadOnlyAccess]
  - arn: arn:aws:iam::210987654321:role/Developer
  - arn: arn:aws:iam::210987654321:role/Upstream
    access:
      mode: saml_broker
      saml_provider: corp-idp
rules:
  - id: all
    idp: "*"
    claim: group
    match: exact
    pattern: staff
    roles:
      - arn:aws:iam::123456789012:role/Admin
      - arn:aws:iam::123456789012:role/Auditor
      - arn:aws:iam::123456789012:role/Federated
      - arn:aws:iam::210987654321:role/Developer
      - arn:aws:iam::210987654321:role/Upstream
"#;

fn grants(text: &str) -> Vec<Grant> {
    let set = parse_document(text).unwrap();
    CompiledRules::compile(set)
        .unwrap()
        .evaluate(&claims("idp", &["staff"]))
        .grants
}

fn by_name<'a>(grants: &'a [Grant], name: &str) -> &'a GrantAccess {
    &grants.iter().find(|g| g.role_name == name).unwrap().access
}

/// `(line, column, kind, path)` of each error.
fn located(text: &str) -> Vec<(usize, Option<usize>, DocumentErrorKind, String)> {
    parse_document(text)
        .unwrap_err()
        .into_iter()
        .map(|e| (e.line, e.column, e.kind, e.path.unwrap_or_default()))
        .collect()
}

fn rule_kind(kind: ErrorKind) -> DocumentErrorKind {
    DocumentErrorKind::Rule(kind)
}

#[test]
fn grants_carry_the_access_in_force_role_over_account_over_default() {
    let g = grants(WITH_ACCESS);
    assert_eq!(
        *by_name(&g, "Admin"),
        GrantAccess {
            mode: AccessMode::AssumeRole,
            saml_provider: None,
            external_id: Some("prod-ext-1".into()),
            session_policy: None,
            oidc_audience: None,
        },
        "inherited from the account"
    );
    assert_eq!(
        *by_name(&g, "Auditor"),
        GrantAccess {
            mode: AccessMode::AssumeRole,
            external_id: Some("auditor-ext".into()),
            ..GrantAccess::default()
        },
        "a role field overrides only that field"
    );
    let federated = by_name(&g, "Federated");
    assert_eq!(federated.mode, AccessMode::FederationToken);
    let policy = federated.session_policy.as_ref().unwrap();
    assert!(policy.inline.as_deref().unwrap().contains("s3:GetObject"));
    assert_eq!(
        policy.managed_arns,
        ["arn:aws:iam::aws:policy/ReadOnlyAccess"]
    );
    assert_eq!(
        *by_name(&g, "Developer"),
        GrantAccess::default(),
        "no access anywhere: saml_broker with Roleport's default provider"
    );
    assert_eq!(by_name(&g, "Developer").mode, AccessMode::SamlBroker);
    assert_eq!(
        *by_name(&g, "Upstream"),
        GrantAccess {
            mode: AccessMode::SamlBroker,
            saml_provider: Some("corp-idp".into()),
            ..GrantAccess::default()
        }
    );
}

#[test]
fn oidc_broker_reads_its_audience_and_refuses_it_elsewhere() {
    let doc = TEST_DOC_WITHOUT_ACCESS.to_string();
    let set = parse_document(&doc).unwrap();
    let arn = set.roles[0].arn.clone();
    let with = |access: &str| {
        doc.replacen(
            &format!("arn: {arn}"),
            &format!("arn: {arn}\n    access: {access}"),
            1,
        )
    };
    let ok = parse_document(&with("{mode: oidc_broker, oidc_audience: my-client}")).unwrap();
    let role = ok.roles.iter().find(|r| r.arn == arn).unwrap();
    let access = GrantAccess::resolve(None, role.access.as_ref());
    assert_eq!(access.mode, AccessMode::OidcBroker);
    assert_eq!(access.oidc_audience(), "my-client");
    assert_eq!(GrantAccess::default().oidc_audience(), "sts.amazonaws.com");
    let err = format!(
        "{:?}",
        parse_document(&with("{mode: assume_role, oidc_audience: my-client}")).unwrap_err()
    );
    let bad = format!(
        "{:?}",
        parse_document(&with(r#"{mode: oidc_broker, oidc_audience: "two words"}"#)).unwrap_err()
    );
    assert!(bad.contains("InvalidOidcAudience"), "{bad}");
    assert!(
        err.contains("oidc_audience applies to oidc_broker only"),
        "{err}"
    );
}

#[test]
fn documents_without_access_still_read_and_default_to_the_broker() {
    let set = parse_document(TEST_DOC_WITHOUT_ACCESS).unwrap();
    assert!(set.accounts.iter().all(|a| a.access.is_none()));
    assert!(set.roles.iter().all(|r| r.access.is_none()));
    let compiled = CompiledRules::compile(set).unwrap();
    let decision = compiled.evaluate(&claims("idp", &["staff"]));
    assert_eq!(decision.grants.len(), 1);
    assert_eq!(decision.grants[0].access, GrantAccess::default());
    assert_eq!(decision.grants[0].access.mode, AccessMode::SamlBroker);
}

const TEST_DOC_WITHOUT_ACCESS: &str = r#"version: 1
accounts:
  - {id: "123456789012", alias: prod, partition: aws}
roles:
  - arn: arn:aws:iam::123456789012:role/Admin
rules:
  - {id: a, idp: "*", claim: group, match: exact, pattern: staff, roles: [arn:aws:iam::123456789012:role/Admin]}
"#;

#[test]
fn access_round_trips_through_render() {
    let set = parse_document(WITH_ACCESS).unwrap();
    let text = render_document(&set);
    assert!(text.contains("mode: assume_role"), "{text}");
    assert!(text.contains("saml_provider: corp-idp"), "{text}");
    let mut back = parse_document(&text).unwrap();
    let mut want = set.clone();
    for s in [&mut back, &mut want] {
        s.accounts.sort_by(|a, b| a.id.cmp(&b.id));
        s.roles.sort_by(|a, b| a.arn.cmp(&b.arn));
    }
    assert_eq!(back, want, "rendered:\n{text}");
}

#[test]
fn an_empty_access_block_is_no_block() {
    let text =
        TEST_DOC_WITHOUT_ACCESS.replace("role/Admin\nrules", "role/Admin\n    access: {}\nrules");
    let set = parse_document(&text).unwrap();
    assert_eq!(set.roles[0].access, None);
    let mut with_empty = set.clone();
    with_empty.roles[0].access = Some(Access::default());
    assert_eq!(render_document(&with_empty), render_document(&set));
}

#[test]
fn every_access_mistake_is_reported_on_its_line() {
    let text = r#"version: 1
accounts:
  - id: "123456789012"
    alias: prod
    partition: aws
    access:
      mode: saml_broker
      external_id: not-for-the-broker
  - id: "210987654321"
    alias: dev
    partition: aws
    access: {mode: assume_role, saml_provider: "bad name!"}
roles:
  - arn: arn:aws:iam::123456789012:role/Admin
    access:
      mode: assume_role
      external_id: "x"
  - arn: arn:aws:iam::123456789012:role/Broker
    access:
      session_policy:
        managed_arns: [arn:aws:iam::aws:policy/ReadOnlyAccess]
  - arn: arn:aws:iam::210987654321:role/Fed
    access:
      mode: federation_token
      session_policy:
        inline: "[1, 2]"
        managed_arns: [arn:aws:iam::aws:policy/A, arn:aws-cn:iam::aws:policy/B, arn:aws:iam::aws:policy/A]
  - arn: arn:aws:iam::210987654321:role/Empty
    access:
      mode: federation_token
      session_policy: {}
rules: []
"#;
    let got = located(text);
    let want = [
        (
            8,
            Some(20),
            rule_kind(ErrorKind::AccessFieldNotForMode),
            "accounts[0].access.external_id",
        ),
        (
            12,
            Some(48),
            rule_kind(ErrorKind::InvalidSamlProvider),
            "accounts[1].access.saml_provider",
        ),
        (
            12,
            Some(48),
            rule_kind(ErrorKind::AccessFieldNotForMode),
            "accounts[1].access.saml_provider",
        ),
        (
            17,
            Some(20),
            rule_kind(ErrorKind::InvalidExternalId),
            "roles[0].access.external_id",
        ),
        // A mapping value is located at its first key.
        (
            21,
            Some(9),
            rule_kind(ErrorKind::AccessFieldNotForMode),
            "roles[1].access.session_policy",
        ),
        (
            26,
            Some(17),
            rule_kind(ErrorKind::InvalidSessionPolicy),
            "roles[2].access.session_policy.inline",
        ),
        (
            27,
            Some(51),
            rule_kind(ErrorKind::InvalidSessionPolicy),
            "roles[2].access.session_policy.managed_arns[1]",
        ),
        (
            27,
            Some(81),
            rule_kind(ErrorKind::InvalidSessionPolicy),
            "roles[2].access.session_policy.managed_arns[2]",
        ),
        (
            31,
            Some(23),
            rule_kind(ErrorKind::InvalidSessionPolicy),
            "roles[3].access.session_policy",
        ),
    ];
    let got: Vec<_> = got
        .iter()
        .map(|(l, c, k, p)| (*l, *c, *k, p.as_str()))
        .collect();
    assert_eq!(got, want);
    let errors = parse_document(text).unwrap_err();
    let message = |path: &str| {
        errors
            .iter()
            .find(|e| e.path.as_deref() == Some(path))
            .map(|e| e.message.clone())
            .unwrap()
    };
    assert!(
        message("accounts[0].access.external_id").contains("assume_role only"),
        "{errors:?}"
    );
    assert!(message("roles[0].access.external_id").contains("2-1224"));
    assert!(message("roles[1].access.session_policy").contains("federation_token only"));
    assert!(message("roles[2].access.session_policy.inline").contains("JSON object"));
    assert!(message("roles[2].access.session_policy.managed_arns[1]").contains("arn:aws:iam"));
    assert!(message("roles[3].access.session_policy").contains("inline policy, managed_arns"));
}

#[test]
fn an_unknown_mode_is_collected_without_echoes() {
    let text = r#"version: 1
accounts:
  - id: "123456789012"
    alias: prod
    partition: aws
    access: {mode: assume-role, external_id: ext-1234}
roles:
  - arn: arn:aws:iam::123456789012:role/Admin
    access:
      mode: sts
      external_id: role-ext
rules: []
"#;
    assert_eq!(
        located(text),
        [
            (
                6,
                Some(20),
                rule_kind(ErrorKind::InvalidAccessMode),
                "accounts[0].access.mode".to_owned()
            ),
            (
                10,
                Some(13),
                rule_kind(ErrorKind::InvalidAccessMode),
                "roles[0].access.mode".to_owned()
            ),
        ],
        "no AccessFieldNotForMode for the external ids next to the unknown modes"
    );
    let message = &parse_document(text).unwrap_err()[0].message;
    assert!(
        message.contains(
            "saml_broker, assume_role, federation_token, oidc_broker or oidc_passthrough"
        ),
        "{message}"
    );
}

#[test]
fn schema_errors_in_access_are_yaml_errors_where_they_are() {
    // The session policy belongs to roles; an account's access has no such key.
    let text = WITH_ACCESS.replace(
        "      external_id: prod-ext-1\n",
        "      external_id: prod-ext-1\n      session_policy: {managed_arns: []}\n",
    );
    let errors = parse_document(&text).unwrap_err();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].kind, DocumentErrorKind::Yaml);
    assert_eq!(errors[0].line, 9);
    assert!(errors[0].message.contains("unknown field `session_policy`"));

    let typo = WITH_ACCESS.replace(
        "      mode: federation_token\n",
        "      mdoe: federation_token\n",
    );
    let errors = parse_document(&typo).unwrap_err();
    assert_eq!(
        (errors[0].kind, errors[0].line),
        (DocumentErrorKind::Yaml, 19)
    );

    let list = WITH_ACCESS.replace(
        "managed_arns: [arn:aws:iam::aws:policy/ReadOnlyAccess]",
        "managed_arns: arn:aws:iam::aws:policy/ReadOnlyAccess",
    );
    assert_eq!(
        parse_document(&list).unwrap_err()[0].kind,
        DocumentErrorKind::Yaml
    );
}

#[test]
fn a_session_policy_must_fit_getfederationtoken_limits() {
    // The inline policy alone fits in 2048 packed characters; with the managed ARN it does not.
    let filler = "x".repeat(1930);
    let text = WITH_ACCESS.replace(
        r#""Resource": "*"}]}"#,
        &format!(r#""Resource": "*", "Sid": "{filler}"}}]}}"#),
    );
    let errors = parse_document(&text).unwrap_err();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(
        errors[0].path.as_deref(),
        Some("roles[2].access.session_policy")
    );
    assert!(errors[0].message.contains("2048"), "{}", errors[0].message);
    assert_eq!(errors[0].line, 21);

    let eleven: Vec<String> = (0..11)
        .map(|i| format!("arn:aws:iam::aws:policy/P{i}"))
        .collect();
    let text = WITH_ACCESS.replace(
        "[arn:aws:iam::aws:policy/ReadOnlyAccess]",
        &format!("[{}]", eleven.join(", ")),
    );
    let errors = parse_document(&text).unwrap_err();
    assert_eq!(
        errors[0].path.as_deref(),
        Some("roles[2].access.session_policy.managed_arns")
    );
    assert!(errors[0].message.contains("at most 10"));
}

#[test]
fn a_federation_role_without_a_policy_is_accepted_and_refused_when_issued() {
    // The document may name the mode alone; issuing refuses it with a clear message
    // (GetFederationToken without a policy gives credentials with no permissions).
    let text = WITH_ACCESS.replace(
        "      mode: federation_token\n      session_policy:\n        inline: |\n          {\"Version\": \"2012-10-17\",\n           \"Statement\": [{\"Effect\": \"Allow\", \"Action\": \"s3:GetObject\", \"Resource\": \"*\"}]}\n        managed_arns: [arn:aws:iam::aws:policy/ReadOnlyAccess]\n",
        "      mode: federation_token\n",
    );
    let g = grants(&text);
    let federated = by_name(&g, "Federated");
    assert_eq!(federated.mode, AccessMode::FederationToken);
    assert_eq!(federated.session_policy, None);
}

#[test]
fn modes_read_and_write_as_text() {
    for mode in AccessMode::ALL {
        assert_eq!(mode.as_str().parse::<AccessMode>(), Ok(mode));
        assert_eq!(
            serde_json::to_value(mode).unwrap(),
            serde_json::json!(mode.as_str())
        );
    }
    assert!("SAML_BROKER".parse::<AccessMode>().is_err());
    assert!(AccessMode::SamlBroker.uses_saml_provider());
    assert!(AccessMode::SamlPassthrough.uses_saml_provider());
    // Retired, but still read, so stored rules naming it load and are refused with the reason.
    assert_eq!(
        "saml_passthrough".parse::<AccessMode>(),
        Ok(AccessMode::SamlPassthrough)
    );
    assert!(AccessMode::SamlPassthrough.is_retired());
    assert!(AccessMode::ALL.iter().all(|m| !m.is_retired()));
    assert!(!AccessMode::AssumeRole.uses_saml_provider());
    assert!(!AccessMode::FederationToken.uses_saml_provider());
}

type RawAccess = (
    Option<AccessMode>,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
    Vec<String>,
);

fn raw_access() -> impl Strategy<Value = RawAccess> {
    let mode = prop::option::of(prop::sample::select(AccessMode::ALL.to_vec()));
    let provider = prop::option::of(prop::sample::select(vec!["roleport", "corp-idp"]));
    let external = prop::option::of(prop::sample::select(vec!["ext-1", "a/b:c=d"]));
    let inline = prop::option::of(prop::sample::select(vec![
        r#"{"Version":"2012-10-17"}"#,
        "{\n  \"Statement\": []\n}\n",
    ]));
    let arns = prop::sample::subsequence(
        vec![
            "arn:aws:iam::aws:policy/ReadOnlyAccess".to_owned(),
            format!("arn:aws:iam::{PROD}:policy/team/Dev"),
        ],
        0..=2,
    );
    (mode, provider, external, inline, arns)
}

/// Keeps only the fields the mode in force uses, so generated sets are valid.
fn fit(raw: RawAccess, inherited: Option<AccessMode>, role: bool) -> Option<Access> {
    let (mode, provider, external, inline, arns) = raw;
    let m = mode.or(inherited).unwrap_or_default();
    let policy = (role && m == AccessMode::FederationToken)
        .then_some(SessionPolicy {
            inline: inline.map(str::to_owned),
            managed_arns: arns,
        })
        .filter(|p| p.inline.is_some() || !p.managed_arns.is_empty());
    let access = Access {
        mode,
        saml_provider: provider
            .filter(|_| m.uses_saml_provider())
            .map(str::to_owned),
        external_id: external
            .filter(|_| m == AccessMode::AssumeRole)
            .map(str::to_owned),
        session_policy: policy,
        oidc_audience: (m == AccessMode::OidcBroker).then(|| "sts.amazonaws.com".to_owned()),
    };
    (!access.is_empty()).then_some(access)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn access_configurations_render_and_read_back_equal(
        account in raw_access(),
        roles in prop::collection::vec(raw_access(), 3),
    ) {
        let mut set = base(vec![]);
        set.accounts[0].access = fit(account, None, false);
        let inherited = set.accounts[0].access.as_ref().and_then(|a| a.mode);
        for (role, raw) in set.roles.iter_mut().zip(roles) {
            // roles[2] is in the other account, which has no access block.
            let from_account = if role.arn.contains(PROD) { inherited } else { None };
            role.access = fit(raw, from_account, true);
        }
        let text = render_document(&set);
        let back = parse_document(&text);
        prop_assert!(back.is_ok(), "{:?}\n{}", back, text);
        set.accounts.sort_by(|a, b| a.id.cmp(&b.id));
        set.roles.sort_by(|a, b| a.arn.cmp(&b.arn));
        prop_assert_eq!(back.unwrap(), set);
        // And every grant's access is the resolution of the two blocks.
        let compiled = CompiledRules::compile(parse_document(&text).unwrap()).unwrap();
        for role in &compiled.rule_set().roles {
            let account = compiled.rule_set().accounts.iter()
                .find(|a| role.arn.contains(&a.id)).unwrap();
            let g = GrantAccess::resolve(account.access.as_ref(), role.access.as_ref());
            prop_assert_eq!(g.mode, role.access.as_ref().and_then(|a| a.mode)
                .or(account.access.as_ref().and_then(|a| a.mode)).unwrap_or_default());
        }
    }
}

#[test]
fn saml_passthrough_is_refused_at_import_where_it_is_named() {
    let text = WITH_ACCESS.replace(
        "      mode: saml_broker\n      saml_provider: corp-idp",
        "      mode: saml_passthrough\n      saml_provider: corp-idp",
    );
    let line = text
        .lines()
        .position(|l| l.contains("saml_passthrough"))
        .unwrap()
        + 1;
    assert_eq!(
        located(&text),
        [(
            line,
            Some(13),
            rule_kind(ErrorKind::RetiredAccessMode),
            "roles[4].access.mode".to_owned()
        )],
        "one error, where the mode is named; none for its saml_provider"
    );
    let error = &parse_document(&text).unwrap_err()[0];
    for words in [
        "saml_passthrough is retired",
        "Destination",
        "Recipient",
        "Roleport's ACS",
        "Use saml_broker",
        "oidc_passthrough for an OpenID Connect provider",
    ] {
        assert!(
            error.message.contains(words),
            "{words:?} in {}",
            error.message
        );
    }
    assert!(
        error
            .to_string()
            .starts_with(&format!("line {line}, column 13"))
    );
    // On an account too.
    let text = WITH_ACCESS.replace(
        "mode: assume_role\n      external_id: prod-ext-1",
        "mode: saml_passthrough",
    );
    let errors = located(&text);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].2, rule_kind(ErrorKind::RetiredAccessMode));
    assert_eq!(errors[0].3, "accounts[0].access.mode");
}

#[test]
fn stored_rules_naming_saml_passthrough_still_compile_and_grant_a_retired_mode() {
    // Stored rows are not a document: they load as they are and the grant carries the retired
    // mode, which the credential path refuses with the reason.
    let mut set = parse_document(WITH_ACCESS).unwrap();
    let upstream = set
        .roles
        .iter_mut()
        .find(|r| r.arn.ends_with("role/Upstream"))
        .unwrap();
    upstream.access.as_mut().unwrap().mode = Some(AccessMode::SamlPassthrough);
    let compiled = CompiledRules::compile(set).unwrap();
    let grants = compiled.evaluate(&claims("idp", &["staff"])).grants;
    let access = by_name(&grants, "Upstream");
    assert_eq!(access.mode, AccessMode::SamlPassthrough);
    assert!(access.mode.is_retired());
    assert!(
        retired_mode_message(access.mode).contains("oidc_passthrough"),
        "the same words at import and at credential time"
    );
}

#[test]
fn sessions_past_twelve_hours_only_for_federation_token_roles_and_rules_that_say_so() {
    let doc = |mode: &str, role_max: u32, cap: u32| {
        format!(
            r#"version: 1
accounts:
  - {{id: "123456789012", alias: prod, partition: aws}}
roles:
  - arn: arn:aws:iam::123456789012:role/Federated
    max_session_seconds: {role_max}
    access:
      mode: {mode}
  - arn: arn:aws:iam::123456789012:role/Admin
rules:
  - id: long
    idp: idp
    claim: group
    match: exact
    pattern: staff
    max_session_seconds: {cap}
    roles: [arn:aws:iam::123456789012:role/Federated]
"#
        )
    };
    let policy = "federation_token\n      session_policy: {managed_arns: [arn:aws:iam::aws:policy/ReadOnlyAccess]}";
    let ok = parse_document(&doc(policy, 129_600, 129_600)).unwrap();
    assert_eq!(ok.roles[0].max_session_seconds, 129_600);
    let longest = |set: RuleSet| {
        CompiledRules::compile(set)
            .unwrap()
            .evaluate(&claims("idp", &["staff"]))
            .grants[0]
            .max_session_seconds
    };
    assert_eq!(
        longest(ok.clone()),
        129_600,
        "role and rule both allow 36 h"
    );
    let mut silent = ok;
    silent.rules[0].max_session_seconds = None;
    assert_eq!(longest(silent), 43_200, "the rule says nothing: 12 h");
    assert!(parse_document(&doc(policy, 129_601, 3600)).is_err());

    let errors = located(&doc("assume_role", 50_000, 3600));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].2, rule_kind(ErrorKind::SessionDurationOutOfRange));
    assert_eq!(errors[0].3, "roles[0].max_session_seconds");
    let message = &parse_document(&doc("assume_role", 50_000, 3600)).unwrap_err()[0].message;
    assert!(
        message.contains("only for federation_token roles"),
        "{message}"
    );

    // A rule allowing more than 12 h must name only roles that allow it too.
    let errors = located(&doc(policy, 43_200, 50_000));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].3, "rules[0].max_session_seconds");
    let text = doc(policy, 129_600, 50_000).replace(
        "roles: [arn:aws:iam::123456789012:role/Federated]",
        "roles: [arn:aws:iam::123456789012:role/Federated, arn:aws:iam::123456789012:role/Admin]",
    );
    let errors = located(&text);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].3, "rules[0].max_session_seconds");
}
