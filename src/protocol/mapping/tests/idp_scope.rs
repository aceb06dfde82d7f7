//! Every rule names its IdP(s): documents refuse a rule without `idp`, `*` is explicit and
//! warned about, and a stored rule without `idp` applies to no IdP.

use super::*;

const DOC: &str = r#"version: 1
accounts:
  - {id: "123456789012", alias: prod, partition: aws}
roles:
  - arn: arn:aws:iam::123456789012:role/Admin
rules:
  - id: corp-admins
    idp: corp
    claim: group
    match: exact
    pattern: admins
    roles: [arn:aws:iam::123456789012:role/Admin]
  - id: both
    idp: [corp, partner]
    claim: group
    match: exact
    pattern: both
    roles: [arn:aws:iam::123456789012:role/Admin]
  - id: everyone
    idp: "*"
    claim: group
    match: exact
    pattern: everyone
    roles: [arn:aws:iam::123456789012:role/Admin]
"#;

fn admin_for(set: &RuleSet, idp: &str, group: &str) -> bool {
    !granted(set.clone(), &claims(idp, &[group])).is_empty()
}

#[test]
fn a_rule_applies_only_to_the_idps_it_names() {
    let set = parse_document(DOC).unwrap();
    assert!(admin_for(&set, "corp", "admins"));
    // A Google user in a group of the same name does not satisfy corp's rule.
    assert!(!admin_for(&set, "google", "admins"));
    assert!(admin_for(&set, "partner", "both"));
    assert!(!admin_for(&set, "google", "both"));
    assert!(admin_for(&set, "google", "everyone"));
}

#[test]
fn a_rule_without_idp_is_refused_on_its_line_with_the_fix() {
    let text = DOC.replace("    idp: [corp, partner]\n", "");
    let errors = parse_document(&text).unwrap_err();
    assert_eq!(errors.len(), 1, "{errors:?}");
    let e = &errors[0];
    assert_eq!(e.kind, DocumentErrorKind::Rule(ErrorKind::MissingIdp));
    assert_eq!((e.line, e.path.as_deref()), (13, Some("rules[1].idp")));
    assert_eq!(
        e.to_string(),
        "line 13, column 5 (rules[1].idp): every rule must name its IdP: add idp: <id> (or \
         idp: \"*\" to apply it to every IdP)"
    );
}

#[test]
fn bad_idp_values_are_refused_where_they_are() {
    let cases = [
        ("idp: [corp, partner]", "idp: []", 14, "rules[1].idp"),
        (
            "idp: [corp, partner]",
            "idp: [corp, \"*\"]",
            14,
            "rules[1].idp[1]",
        ),
        (
            "idp: [corp, partner]",
            "idp: [corp, corp]",
            14,
            "rules[1].idp[1]",
        ),
        ("idp: corp", "idp: Corp", 8, "rules[0].idp"),
        ("idp: corp", "idp: \"a@b\"", 8, "rules[0].idp"),
        ("idp: corp", "idp: \"\"", 8, "rules[0].idp"),
    ];
    for (from, to, line, path) in cases {
        let text = DOC.replace(from, to);
        let errors = parse_document(&text).unwrap_err();
        let got: Vec<_> = errors
            .iter()
            .map(|e| (e.line, e.kind, e.path.as_deref()))
            .collect();
        assert_eq!(
            got,
            [(
                line,
                DocumentErrorKind::Rule(ErrorKind::InvalidIdp),
                Some(path)
            )],
            "{to}"
        );
    }
}

#[test]
fn star_rules_are_warned_about_with_their_line() {
    let (_, warnings) = parse_document_with_warnings(DOC).unwrap();
    assert_eq!(warnings.len(), 1);
    assert_eq!(warnings[0].rule_id, "everyone");
    assert_eq!(warnings[0].line, 20);
    assert!(
        warnings[0]
            .to_string()
            .starts_with("line 20, column 10 (rule everyone): idp: \"*\" applies this rule to every identity provider"),
        "{}",
        warnings[0]
    );
    // The same warning is found in the rendered form of a stored set.
    let rendered = render_document(&parse_document(DOC).unwrap());
    let again = document_warnings(&rendered);
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].rule_id, "everyone");
    assert!(rendered.contains("idp: '*'"), "{rendered}");
    assert!(rendered.contains("- corp\n"), "{rendered}");
}

#[test]
fn idp_forms_round_trip() {
    let mut set = parse_document(DOC).unwrap();
    let text = render_document(&set);
    set.rules.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(parse_document(&text).unwrap(), set, "{text}");
}

#[test]
fn a_stored_rule_without_idp_applies_to_no_idp() {
    let mut set = parse_document(DOC).unwrap();
    for rule in &mut set.rules {
        rule.idp = None;
    }
    let compiled = CompiledRules::compile(set.clone()).unwrap();
    assert_eq!(
        compiled.rules_without_idp(),
        ["corp-admins", "both", "everyone"]
    );
    for idp in ["corp", "partner", "google", ""] {
        for group in ["admins", "both", "everyone"] {
            assert!(compiled.evaluate(&claims(idp, &[group])).grants.is_empty());
        }
    }
    let why = explain(&compiled, &claims("corp", &["admins"]));
    assert!(
        why.rules
            .iter()
            .all(|t| t.reason == TraceReason::IdpMissing)
    );
    assert!(
        why.to_string()
            .contains("names no idp (stored before idp was mandatory), so it applies to no IdP"),
        "{why}"
    );
    // Exported, such a set reads back as the error that says how to fix it.
    let errors = parse_document(&render_document(&set)).unwrap_err();
    assert!(
        errors
            .iter()
            .all(|e| e.kind == DocumentErrorKind::Rule(ErrorKind::MissingIdp))
    );
}
