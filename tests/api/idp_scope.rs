//! No identity confusion between identity providers, through HTTP: a second IdP's user cannot
//! satisfy a rule written for another IdP (OIDC and SAML), the same subject from two IdPs reaches
//! AWS as two people, fitted names cannot be made to collide, an unverified e-mail address
//! reaches no rule, and rules stored without `idp` apply to no IdP.

use crate::aws_harness::*;
use crate::forge::*;
use crate::helpers::*;
use crate::oidc_attacks::{ACCESS_TOKEN, CLIENT_ID, FakeOp, begin, sign_raw};
use roleport::protocol::aws::SourceIdentity;
use roleport::protocol::oidc::{JwsAlg, token_hash};
use serde_json::{Value, json};

const ADMIN: &str = "123456789012-Admin";
const ADMIN_ARN: &str = "arn:aws:iam::123456789012:role/Admin";

/// TEST_RULES' accounts and roles, with `rules` in its place.
fn with_rules(rules: &str) -> String {
    let (head, _) = TEST_RULES.split_once("rules:\n").unwrap();
    format!("{head}rules:\n{rules}")
}

/// The first 16 hex digits of SHA-256, as the README documents the fitted suffix.
fn documented_hash(value: &str) -> String {
    hex::encode(openssl::sha::sha256(value.as_bytes()))[..16].to_string()
}

/// An ID token from the fake OP for the sign-in started with `nonce`; `claims` are merged over
/// a well-formed default (sub alice, verified alice@example.org, aws-admins).
fn id_token(app: &TestApp, op: &FakeOp, nonce: &str, claims: Value) -> String {
    let now = app.clock.now().timestamp();
    let mut body = json!({
        "iss": op.issuer, "sub": "alice", "aud": CLIENT_ID,
        "iat": now, "exp": now + 300, "nonce": nonce,
        "at_hash": token_hash(JwsAlg::RS256, ACCESS_TOKEN).unwrap(),
        "email": "alice@example.org", "email_verified": true,
        "groups": ["cn=aws-admins,ou=groups,dc=example,dc=org"],
    });
    for (k, v) in claims.as_object().unwrap() {
        if v.is_null() {
            body.as_object_mut().unwrap().remove(k);
        } else {
            body[k] = v.clone();
        }
    }
    let (kid, key) = op.key();
    sign_raw(
        &json!({"alg": "RS256", "kid": kid}).to_string(),
        &body.to_string(),
        &key,
    )
}

/// A full sign-in at the fake OP configured as `idp`; returns Roleport's answer.
pub(crate) async fn fake_op_sign_in(
    app: &TestApp,
    op: &FakeOp,
    idp: &str,
    claims: Value,
) -> reqwest::Response {
    let (state, nonce) = begin(app, idp).await;
    op.answer(&id_token(app, op, &nonce, claims));
    app.client
        .get(format!("{}/oidc/callback", app.address))
        .query(&[
            ("code", "fake-code"),
            ("state", state.as_str()),
            ("iss", op.issuer.as_str()),
        ])
        .send()
        .await
        .unwrap()
}

/// The newest sign-in row: `(idp, outcome, grants)`.
async fn last_sign_in_summary(app: &TestApp) -> (String, String, u64) {
    let row = last_sign_in(app).await;
    (
        row["idp"].as_str().unwrap().to_string(),
        row["outcome"].as_str().unwrap().to_string(),
        row["details"]["grants"].as_u64().unwrap(),
    )
}

const CROSS_IDP_RULES: &str = "  - id: corp-admins
    idp: demo-saml
    claim: group
    match: ldap_dn
    pattern: aws-admins
    roles: [arn:aws:iam::123456789012:role/Admin]
  - id: corp-admin-mail
    idp: demo-saml
    claim: email
    match: exact
    pattern: alice@example.org
    roles: [arn:aws:iam::123456789012:role/Admin]
  - id: corp-admin-subject
    idp: demo-saml
    claim: subject
    match: exact
    pattern: alice@example.org
    roles: [arn:aws:iam::123456789012:role/Admin]
  - id: outside-readonly
    idp: [google, forge]
    claim: email_domain
    match: exact
    pattern: example.org
    roles: [arn:aws:iam::123456789012:role/ReadOnly]
";

/// A Google-like provider's user carries the same group DN, the same verified e-mail and a
/// subject like the directory's: the rules written for the directory still do not apply.
#[tokio::test]
async fn a_second_oidc_providers_user_cannot_satisfy_a_rule_written_for_another_idp() {
    let op = FakeOp::start().await;
    let app = spawn_app_with(Options {
        rules_yaml: with_rules(CROSS_IDP_RULES),
        extra_idps: vec![op.idp("google")],
        ..Options::default()
    })
    .await;
    let resp = fake_op_sign_in(&app, &op, "google", json!({"sub": "alice@example.org"})).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(role_names(&app).await, ["ReadOnly"]);
    assert_eq!(
        last_sign_in_summary(&app).await,
        ("google".into(), "accepted".into(), 1)
    );

    // The directory's own alice still gets what its rules give.
    assert_eq!(app.sign_in("alice").await.status(), 303);
    assert_eq!(role_names(&app).await, ["Admin"]);
}

/// The same through a second SAML IdP (the forge signs whatever it is told to).
#[tokio::test]
async fn a_second_saml_idps_user_cannot_satisfy_a_rule_written_for_another_idp() {
    let app = spawn_app_with(Options {
        rules_yaml: with_rules(CROSS_IDP_RULES),
        extra_idps: vec![forge_idp(false)],
        ..Options::default()
    })
    .await;
    let login = start_login(&app, &app.client).await;
    let mut forged = forge_for(&app).in_response_to(&login.request_id);
    forged.name_id = "alice@example.org".into();
    forged.attributes = vec![
        (
            "memberOf".into(),
            vec!["cn=aws-admins,ou=groups,dc=example,dc=org".into()],
        ),
        ("mail".into(), vec!["alice@example.org".into()]),
    ];
    let xml = forged.build(Sign::Assertion, &signer());
    let resp = post_acs_as(&app, &app.client, &xml, Some(&login.relay_state)).await;
    assert_eq!(resp.status(), 303, "{}", resp.text().await.unwrap());
    assert_eq!(role_names(&app).await, ["ReadOnly"]);
    assert_eq!(
        last_sign_in_summary(&app).await,
        (FORGE_ID.into(), "accepted".into(), 1)
    );
}

const SAME_SUBJECT_RULES: &str = "  - id: corp-admins
    idp: demo-saml
    claim: group
    match: ldap_dn
    pattern: aws-admins
    roles: [arn:aws:iam::123456789012:role/Admin]
  - id: google-admins
    idp: google
    claim: group
    match: ldap_dn
    pattern: aws-admins
    roles: [arn:aws:iam::123456789012:role/Admin]
";

fn saml_check<'a>(
    app: &'a TestApp,
    session_name: &'a str,
    source_identity: &'a str,
) -> SamlCheck<'a> {
    SamlCheck {
        app,
        role_arn: ADMIN_ARN,
        session_name,
        duration: 3600,
        source_identity,
        recipient: "https://signin.aws.amazon.com/saml",
        audience: "urn:amazon:webservices",
    }
}

/// The persistent NameID of the Response Roleport signed for AWS.
fn name_id_of(call: &Recorded) -> String {
    let xml = saml_of(call);
    let re = regex::Regex::new(r"<saml:NameID[^>]*>([^<]*)</saml:NameID>").unwrap();
    re.captures(&xml)
        .unwrap_or_else(|| panic!("no NameID in {xml}"))[1]
        .to_string()
}

/// Issues Admin and returns what moto says the session is.
async fn admin_session_at_moto(app: &TestApp) -> String {
    let resp = app.request_credentials(ADMIN, None).await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let body: Value = resp.json().await.unwrap();
    let s = |k: &str| body[k].as_str().unwrap().to_string();
    caller_arn(&s("AccessKeyId"), &s("SecretAccessKey"), &s("SessionToken")).await
}

/// Subject `alice` at the directory and subject `alice` at a Google-like provider are two
/// people: AWS (moto, and the strict checker on what was sent) sees two SourceIdentities, two
/// session names and two NameIDs, each naming its IdP.
#[tokio::test]
async fn the_same_subject_from_two_idps_reaches_aws_as_two_people() {
    let sts = recording_sts().await;
    let op = FakeOp::start().await;
    let app = spawn_app_with(Options {
        rules_yaml: with_rules(SAME_SUBJECT_RULES),
        extra_idps: vec![op.idp("google")],
        aws: Some(aws_settings(&sts.url, None)),
        ..Options::default()
    })
    .await;

    assert_eq!(app.sign_in("alice").await.status(), 303);
    let directory = admin_session_at_moto(&app).await;
    assert_eq!(
        directory,
        "arn:aws:sts::123456789012:assumed-role/Admin/alice@example.org@demo-saml"
    );
    let resp = fake_op_sign_in(&app, &op, "google", json!({})).await;
    assert_eq!(resp.status(), 303);
    let google = admin_session_at_moto(&app).await;
    assert_eq!(
        google,
        "arn:aws:sts::123456789012:assumed-role/Admin/alice@example.org@google"
    );

    let calls: Vec<Recorded> = sts
        .seen
        .lock()
        .unwrap()
        .iter()
        .filter(|c| c.params["Action"] == "AssumeRoleWithSAML")
        .cloned()
        .collect();
    assert_eq!(calls.len(), 2);
    saml_check(&app, "alice@example.org@demo-saml", "alice@demo-saml")
        .verify(&calls[0])
        .await;
    saml_check(&app, "alice@example.org@google", "alice@google")
        .verify(&calls[1])
        .await;
    assert_eq!(name_id_of(&calls[0]), "alice@demo-saml");
    assert_eq!(name_id_of(&calls[1]), "alice@google");
}

/// Subjects chosen to collide once fitted: `a b` (a replaced character), `a-b` (what the
/// replacement gives), the fitted form of `a b` itself (its scoped form ends in `@google`, so it
/// can never look fitted; the unit properties cover values that do), and two long ones sharing
/// their first 64 characters. Every one reaches AWS under its own SourceIdentity and session name.
#[tokio::test]
async fn fitted_names_cannot_be_made_to_collide() {
    let sts = recording_sts().await;
    let op = FakeOp::start().await;
    let rules = "  - id: anyone-at-google
    idp: google
    claim: group
    match: ldap_dn
    pattern: aws-admins
    roles: [arn:aws:iam::123456789012:role/Admin]
";
    let app = spawn_app_with(Options {
        rules_yaml: with_rules(rules),
        extra_idps: vec![op.idp("google")],
        aws: Some(aws_settings(&sts.url, None)),
        include_demo_saml: false,
        ..Options::default()
    })
    .await;
    let fitted_a_b = format!("a-b@google={}", documented_hash("a b@google"));
    let long = "x".repeat(64);
    let subjects = [
        "a b".to_string(),
        "a-b".to_string(),
        fitted_a_b.clone(),
        format!("{long}1"),
        format!("{long}2"),
    ];
    let mut seen = Vec::new();
    for subject in &subjects {
        // No e-mail: the session name is the subject's too.
        let resp = fake_op_sign_in(
            &app,
            &op,
            "google",
            json!({"sub": subject, "email": null, "email_verified": null}),
        )
        .await;
        assert_eq!(resp.status(), 303, "{subject}");
        let resp = app.request_credentials(ADMIN, None).await;
        assert_eq!(
            resp.status(),
            200,
            "{subject}: {}",
            resp.text().await.unwrap()
        );
        let call = sts.seen.lock().unwrap().last().cloned().unwrap();
        let xml = saml_of(&call);
        let attr = |name: &str| {
            let re = regex::Regex::new(&format!(
                r#"Name="https://aws.amazon.com/SAML/Attributes/{name}"[^>]*>\s*<saml:AttributeValue[^>]*>([^<]+)<"#
            ))
            .unwrap();
            re.captures(&xml).unwrap()[1].to_string()
        };
        let (source, session) = (attr("SourceIdentity"), attr("RoleSessionName"));
        assert_eq!(source, session, "no e-mail: both are the scoped subject");
        assert!(SourceIdentity::parse(&source).is_ok(), "{source}");
        seen.push(source);
    }
    assert_eq!(seen[0], fitted_a_b, "the documented format");
    assert_eq!(seen[1], "a-b@google");
    // Scoped, it ends in `@google`, not in a hash: unchanged, and still not `a b`'s name.
    assert_eq!(seen[2], format!("{fitted_a_b}@google"));
    assert_eq!(seen[3].len(), 64);
    let mut distinct = seen.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), subjects.len(), "{seen:?}");
}

const EMAIL_RULES: &str = "  - id: mail-attribute
    idp: google
    claim: attribute:email
    match: exact
    pattern: admin@example.org
    roles: [arn:aws:iam::123456789012:role/Admin]
  - id: mail
    idp: google
    claim: email
    match: exact
    pattern: admin@example.org
    roles: [arn:aws:iam::123456789012:role/ReadOnly]
  - id: username
    idp: google
    claim: attribute:preferred_username
    match: exact
    pattern: admin@example.org
    roles: [arn:aws:iam::123456789012:role/Admin]
";

/// An OIDC provider that does not vouch for an address (`email_verified: false`): neither an
/// `email` rule nor an `attribute:email` rule sees it, and no other claim carries it through
/// (here `preferred_username`, holding the same address).
#[tokio::test]
async fn an_unverified_oidc_email_reaches_no_rule() {
    let op = FakeOp::start().await;
    let app = spawn_app_with(Options {
        rules_yaml: with_rules(EMAIL_RULES),
        extra_idps: vec![op.idp("google")],
        include_demo_saml: false,
        ..Options::default()
    })
    .await;
    for (verified, label) in [
        (json!(false), "false"),
        (json!("false"), "\"false\""),
        (Value::Null, "absent"),
    ] {
        let resp = fake_op_sign_in(
            &app,
            &op,
            "google",
            json!({"sub": "mallory", "email": "admin@example.org", "email_verified": verified,
                   "preferred_username": "admin@example.org", "groups": []}),
        )
        .await;
        assert_eq!(resp.status(), 303, "{label}");
        assert_eq!(
            last_sign_in_summary(&app).await,
            ("google".into(), "no_roles".into(), 0),
            "email_verified {label}"
        );
    }
    // The same address, verified: both rules apply.
    let resp = fake_op_sign_in(
        &app,
        &op,
        "google",
        json!({"sub": "admin", "email": "admin@example.org", "email_verified": true, "groups": []}),
    )
    .await;
    assert_eq!(resp.status(), 303);
    assert_eq!(role_names(&app).await, ["Admin", "ReadOnly"]);
}

/// A provider configured to take the stable id from the e-mail claim: an unverified address would
/// become the subject (and so reach `subject` rules), so such a sign-in is refused.
#[tokio::test]
async fn an_unverified_email_cannot_become_the_subject() {
    let op = FakeOp::start().await;
    let mut idp = op.idp("google");
    if let roleport::configuration::IdpKind::Oidc(oidc) = &mut idp.kind {
        oidc.claims.stable_id = "email".into();
    }
    let rules = "  - id: admin-by-subject
    idp: google
    claim: subject
    match: exact
    pattern: admin@example.org
    roles: [arn:aws:iam::123456789012:role/Admin]
";
    let app = spawn_app_with(Options {
        rules_yaml: with_rules(rules),
        extra_idps: vec![idp],
        include_demo_saml: false,
        ..Options::default()
    })
    .await;
    let unverified = json!({"email": "admin@example.org", "email_verified": false});
    let resp = fake_op_sign_in(&app, &op, "google", unverified).await;
    assert_eq!(resp.status(), 403);
    let _ = reference_in(&resp.text().await.unwrap());
    let reason = app.last_reason().await;
    assert!(
        reason.starts_with("claims.stable_id_unverified_email: "),
        "{reason}"
    );
    assert_eq!(app.session_count().await, 0);

    let verified = json!({"email": "admin@example.org", "email_verified": true});
    let resp = fake_op_sign_in(&app, &op, "google", verified).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(role_names(&app).await, ["Admin"]);
}

const SAML_EMAIL_RULES: &str = "  - id: mail-attribute
    idp: demo-saml
    claim: attribute:mail
    match: exact
    pattern: alice@example.org
    roles: [arn:aws:iam::123456789012:role/Admin]
  - id: mail
    idp: demo-saml
    claim: email_domain
    match: exact
    pattern: example.org
    roles: [arn:aws:iam::123456789012:role/ReadOnly]
";

/// A SAML IdP set to `attributes.email_verified = false`: its `mail` attribute reaches no rule;
/// with the default (the IdP signs it) the same sign-in gets both roles.
#[tokio::test]
async fn a_saml_idp_that_does_not_vouch_for_email_reaches_no_email_rule() {
    for (verified, want) in [(false, vec![]), (true, vec!["Admin", "ReadOnly"])] {
        let mut idp = demo_saml_idp(false);
        idp.saml_mut().unwrap().attributes.email_verified = verified;
        let app = spawn_app_with(Options {
            rules_yaml: with_rules(SAML_EMAIL_RULES),
            extra_idps: vec![idp],
            include_demo_saml: false,
            ..Options::default()
        })
        .await;
        register_sp(
            &app.sp_entity_id,
            &format!("{}/saml/acs", app.address),
            None,
        );
        assert_eq!(app.sign_in("alice").await.status(), 303);
        let row = last_sign_in(&app).await;
        assert_eq!(row["idp"], "demo-saml");
        if verified {
            assert_eq!(role_names(&app).await, want);
        } else {
            assert_eq!(row["outcome"], "no_roles", "{row}");
            assert_eq!(row["details"]["grants"], 0);
        }
    }
}

/// A rule stored before `idp` was mandatory (a NULL `idps`, as migration 0009 leaves one that
/// had no `idp`) applies to no IdP: alice, whom it would match, gets nothing from it, and
/// `/readyz` names it.
#[tokio::test]
async fn a_stored_rule_without_idp_applies_to_no_idp_and_is_reported() {
    let app = spawn_app().await;
    sqlx::query("UPDATE mapping_rules SET idps = NULL WHERE id = 'admins'")
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE rules_generation SET generation = generation + 1")
        .execute(&app.pool)
        .await
        .unwrap();
    // Each replica polls the generation every reload_seconds (1 s in tests).
    let mut reported = Value::Null;
    for _ in 0..50 {
        reported = app.get("/readyz").await.json().await.unwrap();
        if reported["rules_without_idp"] == json!(["admins"]) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        reported["rules_without_idp"],
        json!(["admins"]),
        "{reported}"
    );
    assert_eq!(app.sign_in("alice").await.status(), 303);
    assert_eq!(role_names(&app).await, ["ReadOnly"]);
}

/// Migration 0009 on rules stored by an older release: one `idp` becomes a one-element list, a
/// missing one stays missing (applies to no IdP), never "every IdP".
#[tokio::test]
async fn migration_0009_keeps_scoped_rules_and_leaves_unscoped_ones_applying_to_no_idp() {
    use roleport::protocol::mapping::IdpScope;
    use sqlx::{Connection, Executor};
    let name = format!("roleport_test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(ADMIN_DB_URL).await.unwrap();
    admin
        .execute(format!(r#"CREATE DATABASE "{name}""#).as_str())
        .await
        .unwrap();
    let pool = sqlx::PgPool::connect(&format!("postgres://postgres@127.0.0.1:5432/{name}"))
        .await
        .unwrap();
    let mut before = sqlx::migrate::Migrator::new(std::path::Path::new("migrations"))
        .await
        .unwrap();
    let older: Vec<_> = before
        .migrations
        .iter()
        .filter(|m| m.version < 9)
        .cloned()
        .collect();
    before.migrations = older.into();
    before.run(&pool).await.unwrap();
    for (id, idp) in [("scoped", Some("corp")), ("legacy", None)] {
        sqlx::query(
            "INSERT INTO mapping_rules (id, idp, claim, match_kind, pattern, roles, effect)
             VALUES ($1, $2, 'group', 'exact', 'admins', '[]', 'allow')",
        )
        .bind(id)
        .bind(idp)
        .execute(&pool)
        .await
        .unwrap();
    }
    roleport::db::migrate(&pool).await.unwrap();
    let set = roleport::db::rules::load(&pool).await.unwrap();
    let idp_of = |id: &str| set.rules.iter().find(|r| r.id == id).unwrap().idp.clone();
    assert_eq!(idp_of("scoped"), Some(IdpScope::Only(vec!["corp".into()])));
    assert_eq!(idp_of("legacy"), None);
}
