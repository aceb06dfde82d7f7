//! Decisions over several rules: deny, priority, scoping, caps, explanations.

use super::*;

fn admin() -> Vec<String> {
    vec![arn(PROD, "Admin")]
}

fn group(id: &str, pattern: &str, roles: &[String]) -> Rule {
    allow(id, ClaimSelector::Group, MatchKind::Exact, pattern, roles)
}

#[test]
fn no_rules_no_grants() {
    let compiled = CompiledRules::compile(RuleSet::default()).unwrap();
    let decision = compiled.evaluate(&claims("idp", &["anything"]));
    assert_eq!(decision, Decision::default());
    assert!(granted(base(vec![]), &claims("idp", &["admins"])).is_empty());
}

#[test]
fn deny_beats_allow_whatever_the_priorities() {
    let mut yes = group("allow-admins", "admins", &admin());
    yes.priority = 1000;
    let mut no = deny(
        "no-contractors",
        ClaimSelector::Group,
        MatchKind::Exact,
        "contractors",
        &admin(),
    );
    no.priority = -1000;
    let compiled = CompiledRules::compile(base(vec![yes, no])).unwrap();

    let decision = compiled.evaluate(&claims("idp", &["admins", "contractors"]));
    assert!(decision.grants.is_empty());
    assert_eq!(
        decision.denied,
        [(arn(PROD, "Admin"), "no-contractors".to_owned())]
    );

    let decision = compiled.evaluate(&claims("idp", &["admins"]));
    assert_eq!(decision.grants.len(), 1);
    assert!(decision.denied.is_empty());
}

#[test]
fn deny_star_removes_every_role_and_capability() {
    let mut yes = group("a", "admins", &[arn(PROD, "Admin"), arn(DEV, "Developer")]);
    yes.capabilities = vec!["decode-authorization-message".into()];
    let no = deny(
        "locked",
        ClaimSelector::Group,
        MatchKind::Exact,
        "locked",
        &[ALL_ROLES.into()],
    );
    let compiled = CompiledRules::compile(base(vec![yes, no])).unwrap();

    let open = compiled.evaluate(&claims("idp", &["admins"]));
    assert_eq!(open.grants.len(), 2);
    assert!(open.capabilities.contains("decode-authorization-message"));

    let locked = compiled.evaluate(&claims("idp", &["admins", "locked"]));
    assert!(locked.grants.is_empty());
    assert!(locked.capabilities.is_empty());
    assert_eq!(locked.denied.len(), 2);
    assert!(locked.denied.iter().all(|(_, rule)| rule == "locked"));
}

#[test]
fn denied_names_the_smallest_applying_deny_rule() {
    let rules = vec![
        group("a", "admins", &admin()),
        deny(
            "z-deny",
            ClaimSelector::Group,
            MatchKind::Exact,
            "admins",
            &admin(),
        ),
        deny(
            "m-deny",
            ClaimSelector::Group,
            MatchKind::Exact,
            "admins",
            &[ALL_ROLES.into()],
        ),
    ];
    let decision = CompiledRules::compile(base(rules))
        .unwrap()
        .evaluate(&claims("i", &["admins"]));
    assert_eq!(decision.denied, [(arn(PROD, "Admin"), "m-deny".to_owned())]);
}

#[test]
fn highest_priority_decides_then_smallest_id() {
    let mut low = group("low", "admins", &admin());
    low.priority = 1;
    low.max_session_seconds = Some(900);
    low.session_tags = [("team".to_owned(), "low".to_owned())].into();
    let mut high = group("high", "admins", &admin());
    high.priority = 5;
    high.max_session_seconds = Some(1800);
    high.session_tags = [("team".to_owned(), "high".to_owned())].into();
    high.transitive_tag_keys = vec!["team".into()];
    let compiled = CompiledRules::compile(base(vec![low.clone(), high.clone()])).unwrap();
    let grant = &compiled.evaluate(&claims("idp", &["admins"])).grants[0];
    assert_eq!(grant.rule_id, "high");
    assert_eq!(grant.max_session_seconds, 1800);
    assert_eq!(grant.session_tags["team"], "high");
    assert_eq!(grant.transitive_tag_keys, ["team"]);

    // Equal priorities: the smallest id decides, wherever it sits in the input.
    let (mut beta, mut alpha) = (low, high);
    beta.id = "beta".into();
    alpha.id = "alpha".into();
    beta.priority = 3;
    alpha.priority = 3;
    for rules in [
        vec![beta.clone(), alpha.clone()],
        vec![alpha.clone(), beta.clone()],
    ] {
        let compiled = CompiledRules::compile(base(rules)).unwrap();
        assert_eq!(
            compiled.evaluate(&claims("idp", &["admins"])).grants[0].rule_id,
            "alpha"
        );
    }
}

#[test]
fn duration_is_the_smaller_of_role_max_and_rule_cap() {
    let ro = [arn(PROD, "ReadOnly")];
    let cases = [
        (None, 7200),
        (Some(900), 900),
        (Some(3600), 3600),
        (Some(43200), 7200),
    ];
    for (cap, want) in cases {
        let mut rule = group("r", "g", &ro);
        rule.max_session_seconds = cap;
        let compiled = CompiledRules::compile(base(vec![rule])).unwrap();
        let grant = &compiled.evaluate(&claims("idp", &["g"])).grants[0];
        assert_eq!(grant.max_session_seconds, want, "cap {cap:?}");
    }
}

#[test]
fn idp_scoping() {
    let mut scoped = group("scoped", "admins", &admin());
    scoped.idp = Some(IdpScope::Only(vec!["corp-saml".into()]));
    let any = group("any", "devs", &[arn(DEV, "Developer")]);
    let set = base(vec![scoped, any]);
    assert_eq!(
        granted(set.clone(), &claims("corp-saml", &["admins", "devs"])),
        ["Developer", "Admin"]
    );
    assert_eq!(
        granted(set.clone(), &claims("other-oidc", &["admins", "devs"])),
        ["Developer"]
    );
    assert!(
        granted(set, &claims("Corp-SAML", &["admins"])).is_empty(),
        "idp ids are exact"
    );
}

#[test]
fn grants_are_sorted_and_fully_described() {
    let all = [
        arn(PROD, "ReadOnly"),
        arn(DEV, "Developer"),
        arn(PROD, "Admin"),
    ];
    let mut rule = group("everyone", "staff", &all);
    rule.capabilities = vec!["decode-authorization-message".into()];
    let mut set = base(vec![rule]);
    set.roles[0].description = "Full access".into();
    set.roles[0].display_name = "Administrator".into();
    let decision = CompiledRules::compile(set)
        .unwrap()
        .evaluate(&claims("idp", &["staff"]));
    let order: Vec<_> = decision
        .grants
        .iter()
        .map(|g| (g.account_alias.as_str(), g.role_name.as_str()))
        .collect();
    assert_eq!(
        order,
        [
            ("dev", "Developer"),
            ("prod", "Admin"),
            ("prod", "ReadOnly")
        ]
    );
    let admin = &decision.grants[1];
    assert_eq!(admin.id, format!("{PROD}-Admin"));
    assert_eq!(admin.account_id, PROD);
    assert_eq!(admin.partition, Partition::Aws);
    assert_eq!(admin.role_arn, arn(PROD, "Admin"));
    assert_eq!(admin.display_name, "Administrator");
    assert_eq!(admin.description, "Full access");
    assert_eq!(admin.rule_id, "everyone");
    assert_eq!(admin.capabilities, ["decode-authorization-message"]);
    assert_eq!(decision.capabilities.len(), 1);
}

#[test]
fn role_with_a_path_uses_its_name() {
    let mut set = base(vec![]);
    set.roles.push(Role {
        arn: format!("arn:aws:iam::{PROD}:role/team/ops/Operator"),
        display_name: "Operator".into(),
        description: String::new(),
        max_session_seconds: 3600,
        access: None,
    });
    set.rules
        .push(group("ops", "ops", &[set.roles[3].arn.clone()]));
    let compiled = CompiledRules::compile(set).unwrap();
    let grant = &compiled.evaluate(&claims("idp", &["ops"])).grants[0];
    assert_eq!(grant.id, format!("{PROD}-Operator"));
    assert_eq!(grant.role_name, "Operator");
}

#[test]
fn compile_collects_every_error() {
    let mut set = base(vec![
        allow(
            "Bad Id",
            ClaimSelector::Group,
            MatchKind::Regex,
            "(unclosed",
            &[arn(PROD, "Nope")],
        ),
        group("dup", "x", &admin()),
        group("dup", "y", &[ALL_ROLES.into()]),
    ]);
    set.accounts.push(Account {
        id: "12345".into(),
        alias: "prod".into(),
        partition: Partition::Aws,
        access: None,
        environment: None,
        owner: None,
        description: None,
    });
    set.roles.push(Role {
        arn: "arn:aws:iam::999999999999:role/X".into(),
        ..role(PROD, "X", 100)
    });
    set.roles.push(Role {
        arn: "arn:aws-cn:iam::123456789012:role/Cn".into(),
        ..role(PROD, "Cn", 3600)
    });
    set.rules[1].session_tags = [
        ("aws:foo".to_owned(), "v".to_owned()),
        ("ok".to_owned(), "bad!".to_owned()),
    ]
    .into();
    set.rules[1].transitive_tag_keys = vec!["missing".into()];
    set.rules[1].max_session_seconds = Some(60);
    set.rules[1].capabilities = vec!["Not A Token".into()];
    let kinds: Vec<ErrorKind> = CompiledRules::compile(set)
        .unwrap_err()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    let want = [
        ErrorKind::InvalidAccountId,
        ErrorKind::DuplicateAlias,
        ErrorKind::UnknownAccount,
        ErrorKind::SessionDurationOutOfRange,
        ErrorKind::PartitionMismatch,
        ErrorKind::InvalidRuleId,
        ErrorKind::UnknownRole,
        ErrorKind::InvalidPattern,
        ErrorKind::SessionDurationOutOfRange,
        ErrorKind::InvalidSessionTag,
        ErrorKind::InvalidSessionTag,
        ErrorKind::InvalidTransitiveTagKey,
        ErrorKind::InvalidCapability,
        ErrorKind::DuplicateRuleId,
        ErrorKind::MisusedWildcard,
    ];
    assert_eq!(kinds, want);
}

#[test]
fn structural_errors() {
    let mut dup_role = base(vec![]);
    dup_role.roles.push(role(PROD, "Admin", 3600));
    dup_role.roles.push(Role {
        arn: format!("arn:aws:iam::{PROD}:role/x/admin"),
        ..role(PROD, "a", 3600)
    });
    let kinds: Vec<_> = CompiledRules::compile(dup_role)
        .unwrap_err()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        [ErrorKind::DuplicateRoleArn, ErrorKind::DuplicateRoleName]
    );

    let mut d = deny(
        "d",
        ClaimSelector::Group,
        MatchKind::Exact,
        "x",
        &[ALL_ROLES.into(), arn(PROD, "Admin")],
    );
    d.session_tags = [("k".to_owned(), "v".to_owned())].into();
    let empty = group("e", "", &[]);
    let twice = group("t", "x", &[arn(PROD, "Admin"), arn(PROD, "Admin")]);
    let kinds: Vec<_> = CompiledRules::compile(base(vec![d, empty, twice]))
        .unwrap_err()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        [
            ErrorKind::MisusedWildcard,
            ErrorKind::GrantFieldOnDenyRule,
            ErrorKind::InvalidPattern,
            ErrorKind::NoRoles,
            ErrorKind::DuplicateRoleReference,
        ]
    );
}

#[test]
fn role_arn_shapes() {
    let good = [
        "arn:aws:iam::123456789012:role/Admin",
        "arn:aws-us-gov:iam::123456789012:role/a/b/c+=,.@_-",
        "arn:aws-cn:iam::123456789012:role/service-role/X",
    ];
    for arn in good {
        assert!(RoleArn::parse(arn).is_some(), "{arn}");
    }
    let bad = [
        "arn:aws:iam::12345678901:role/Admin",
        "arn:aws:iam:us-east-1:123456789012:role/Admin",
        "arn:aws:sts::123456789012:role/Admin",
        "arn:aws:iam::123456789012:user/Admin",
        "arn:aws:iam::123456789012:role/",
        "arn:aws:iam::123456789012:role/a//B",
        "arn:aws:iam::123456789012:role/bad name",
        "arn:azure:iam::123456789012:role/Admin",
        "arn:aws:iam::123456789012:role/Ädmin",
    ];
    for arn in bad {
        assert!(RoleArn::parse(arn).is_none(), "{arn}");
    }
    let long = format!("arn:aws:iam::123456789012:role/{}", "a".repeat(65));
    assert!(RoleArn::parse(&long).is_none());
}

#[test]
fn session_tag_rules() {
    let check = |key: &str, value: &str| {
        let mut rule = group("r", "g", &admin());
        rule.session_tags = [(key.to_owned(), value.to_owned())].into();
        CompiledRules::compile(base(vec![rule])).is_ok()
    };
    assert!(check("team", "platform"));
    assert!(check("équipe 1:/=+-@._", ""));
    assert!(!check("", "v"));
    assert!(!check("AWS:thing", "v"));
    assert!(!check("bad!", "v"));
    assert!(!check(&"k".repeat(129), "v"));
    assert!(check(&"k".repeat(128), &"v".repeat(256)));
    assert!(!check("k", &"v".repeat(257)));

    let mut many = group("r", "g", &admin());
    many.session_tags = (0..51).map(|i| (format!("k{i}"), "v".to_owned())).collect();
    let errors = CompiledRules::compile(base(vec![many])).unwrap_err();
    assert_eq!(errors[0].kind, ErrorKind::TooManySessionTags);

    let mut folded = group("r", "g", &admin());
    folded.session_tags = [
        ("Team".to_owned(), "a".to_owned()),
        ("team".to_owned(), "b".to_owned()),
    ]
    .into();
    let errors = CompiledRules::compile(base(vec![folded])).unwrap_err();
    assert_eq!(errors[0].kind, ErrorKind::InvalidSessionTag);
}

#[test]
fn explanation_says_why() {
    let mut scoped = group("scoped", "admins", &admin());
    scoped.idp = Some(IdpScope::Only(vec!["other".into()]));
    let rules = vec![
        allow(
            "by-dn",
            ClaimSelector::Group,
            MatchKind::LdapDn,
            "aws-devs",
            &[arn(DEV, "Developer")],
        ),
        scoped,
        allow(
            "by-mail",
            ClaimSelector::Email,
            MatchKind::Exact,
            "a@b.c",
            &admin(),
        ),
        group("nomatch", "nobody", &admin()),
        allow(
            "by-attr",
            ClaimSelector::Attribute("x".into()),
            MatchKind::Exact,
            "y",
            &admin(),
        ),
        deny(
            "no-ro",
            ClaimSelector::Subject,
            MatchKind::Exact,
            "alice",
            &[arn(DEV, "Developer")],
        ),
    ];
    let compiled = CompiledRules::compile(base(rules)).unwrap();
    let c = Claims {
        email: Some("a@b.c".into()),
        ..claims(
            "corp",
            &["CN=AWS-Devs,OU=Groups,DC=example,DC=org", "other"],
        )
    };
    let explanation = explain(&compiled, &c);
    assert_eq!(explanation.decision, compiled.evaluate(&c));
    let reasons: Vec<(&str, bool, &TraceReason)> = explanation
        .rules
        .iter()
        .map(|t| (t.rule_id.as_str(), t.applied, &t.reason))
        .collect();
    assert_eq!(
        reasons,
        [
            ("by-attr", false, &TraceReason::NoClaimValue),
            (
                "by-dn",
                true,
                &TraceReason::Matched {
                    value: "CN=AWS-Devs,OU=Groups,DC=example,DC=org".into()
                }
            ),
            ("by-mail", false, &TraceReason::EmailUnverified),
            (
                "no-ro",
                true,
                &TraceReason::Matched {
                    value: "alice".into()
                }
            ),
            (
                "nomatch",
                false,
                &TraceReason::NoValueMatched { values_tried: 2 }
            ),
            (
                "scoped",
                false,
                &TraceReason::IdpDiffers {
                    rule_idp: "other".into()
                }
            ),
        ]
    );
    let text = explanation.to_string();
    for needle in [
        "Identity provider: corp",
        "[applied] by-dn (allow, priority 0): group \"CN=AWS-Devs,OU=Groups,DC=example,DC=org\" matched ldap_dn pattern \"aws-devs\"",
        "[skipped] scoped (allow, priority 0): idp differs (rule is for \"other\")",
        "[skipped] by-mail (allow, priority 0): email is not verified",
        "[skipped] nomatch (allow, priority 0): no value matched: 2 group value(s) tried against exact pattern \"nobody\"",
        "Grants (0):",
        "Denied (1):",
        "arn:aws:iam::210987654321:role/Developer  (deny rule no-ro)",
        "Capabilities: none",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
    let json = serde_json::to_value(&explanation).unwrap();
    assert_eq!(json["rules"][1]["reason"]["kind"], "matched");
    assert_eq!(json["rules"][1]["claim"], "group");
    assert_eq!(json["decision"]["denied"][0][1], "no-ro");
}

#[test]
fn dn_claims_are_parsed_once_per_evaluation_and_bad_dns_never_match() {
    let rules = (0..20)
        .map(|i| {
            allow(
                &format!("r{i:02}"),
                ClaimSelector::Group,
                MatchKind::LdapDn,
                &format!("g{i}"),
                &admin(),
            )
        })
        .collect();
    let compiled = CompiledRules::compile(base(rules)).unwrap();
    assert!(
        compiled
            .evaluate(&claims("i", &["not a dn", "cn=g7,dc=x"]))
            .grants
            .len()
            == 1
    );
    assert!(
        compiled
            .evaluate(&claims("i", &["not a dn", "g7"]))
            .grants
            .is_empty()
    );
}
