//! "An identity is exactly what the IdP signed" (issue 7 §1), through HTTP. The forge IdP (SAML)
//! and a fake OpenID provider sign identities a person could choose at their IdP — padded with
//! whitespace, carrying control, zero-width or bidi characters, empty — and each sign-in is refused
//! whole, with no session and the precise audit reason. Also: bearer SubjectConfirmationData with
//! NotBefore, and assertions and ID tokens that stay valid longer than the 24-hour cap.
//!
//! Where the trimmed value would have granted Admin (`aws-admins`, or the subject rule for
//! `alice@example.org`), the attack is the real one: a silent trim would have let it in.

use crate::attacks::{answer, sp_attack, sp_initiated};
use crate::forge::*;
use crate::helpers::*;
use crate::oidc_attacks::flight;
use chrono::Duration;
use serde_json::json;

/// The SAML attack: the forge signs `edit(valid answer)`; refused with exactly `reason`.
async fn saml_refused(app: &TestApp, reason: &str, edit: impl FnOnce(Forge) -> Forge) {
    let code = reason.split(':').next().unwrap_or_default();
    let row = sp_attack(app, code, |f| edit(f).build(Sign::Both, &signer())).await;
    assert_eq!(row["reason"], reason, "{row}");
    assert!(row.get("subject").is_none_or(|s| s.is_null()), "{row}");
}

// ---------------------------------------------------------------------------------------------
// SAML
// ---------------------------------------------------------------------------------------------

/// `" admin@example.com\n"` (a name a person could pick, padded) is not `admin@example.com`; and
/// `"alice@example.org\n"`, trimmed, would be Admin through the subject rule.
#[tokio::test]
async fn saml_padded_name_id_is_refused() {
    let app = spawn_app_with(Options {
        rules_yaml: forge_rules_with_subject_rule(),
        ..forge_options(false)
    })
    .await;
    saml_refused(
        &app,
        "identity_value_refused: subject (NameID) has leading whitespace (U+0020)",
        |f| f.name_id(" admin@example.com\n").groups(&[]),
    )
    .await;
    saml_refused(
        &app,
        "identity_value_refused: subject (NameID) has trailing whitespace (U+000A)",
        |f| f.name_id("alice@example.org\n").groups(&[]),
    )
    .await;
    saml_refused(
        &app,
        "identity_value_refused: subject (NameID) has trailing whitespace (U+00A0)",
        |f| f.name_id("alice@example.org\u{A0}").groups(&[]),
    )
    .await;
}

/// `" aws-admins"` trimmed is `aws-admins` (Admin). The whole sign-in is refused, not just the
/// value, and the reason names the position.
#[tokio::test]
async fn saml_padded_group_refuses_the_sign_in() {
    let app = spawn_forge_app().await;
    saml_refused(
        &app,
        "identity_value_refused: group value 1 of attribute \"groups\" has leading whitespace (U+0020)",
        |f| f.groups(&[" aws-admins"]),
    )
    .await;
    saml_refused(
        &app,
        "identity_value_refused: group value 3 of attribute \"groups\" has leading whitespace (U+0020)",
        |f| f.groups(&["Domain Users", "aws-readonly", " aws-admins"]),
    )
    .await;
    saml_refused(
        &app,
        "identity_value_refused: group value 1 of attribute \"groups\" has trailing whitespace (U+0009)",
        |f| f.groups(&["aws-admins\t"]),
    )
    .await;
}

#[tokio::test]
async fn saml_zero_width_and_bidi_characters_are_refused() {
    let app = spawn_forge_app().await;
    saml_refused(
        &app,
        "identity_value_refused: group value 1 of attribute \"groups\" contains invisible character U+200B at character 11",
        |f| f.groups(&["aws-admins\u{200B}"]),
    )
    .await;
    saml_refused(
        &app,
        "identity_value_refused: group value 1 of attribute \"groups\" contains bidirectional control U+202E at character 1",
        |f| f.groups(&["\u{202E}snimda-swa"]),
    )
    .await;
    saml_refused(
        &app,
        "identity_value_refused: e-mail (attribute \"mail\") contains invisible character U+200D at character 6",
        |f| {
            let mut f = f.groups(&[]);
            f.attributes = vec![("mail".into(), vec!["alice\u{200D}@example.org".into()])];
            f
        },
    )
    .await;
    saml_refused(
        &app,
        "identity_value_refused: e-mail (attribute \"mail\") contains bidirectional control U+2066 at character 18",
        |f| {
            let mut f = f.groups(&[]);
            f.attributes = vec![("mail".into(), vec!["alice@example.org\u{2066}".into()])];
            f
        },
    )
    .await;
}

/// C0 (a newline inside), DEL and C1. (XML 1.0 cannot carry other C0 characters at all.)
#[tokio::test]
async fn saml_control_characters_are_refused() {
    let app = spawn_forge_app().await;
    for (group, reason) in [
        (
            "aws-\nadmins",
            "identity_value_refused: group value 1 of attribute \"groups\" contains control character U+000A at character 5",
        ),
        (
            "aws-admins\u{7F}x",
            "identity_value_refused: group value 1 of attribute \"groups\" contains control character U+007F at character 11",
        ),
        (
            "aws-\u{9B}admins",
            "identity_value_refused: group value 1 of attribute \"groups\" contains control character U+009B at character 5",
        ),
    ] {
        saml_refused(&app, reason, |f| f.groups(&[group])).await;
    }
    // In an attribute a rule could read (`attribute:department`), too.
    saml_refused(
        &app,
        "identity_value_refused: value 2 of attribute \"department\" contains control character U+0085 at character 4",
        |f| {
            let mut f = f;
            f.attributes
                .push(("department".into(), vec!["Ops".into(), "Sec\u{85}x".into()]));
            f
        },
    )
    .await;
}

#[tokio::test]
async fn saml_empty_group_value_refuses_the_sign_in() {
    let app = spawn_forge_app().await;
    saml_refused(
        &app,
        "identity_value_refused: group value 2 of attribute \"groups\" is empty",
        |f| f.groups(&["aws-admins", ""]),
    )
    .await;
}

/// SAML profiles §4.1.4.2: a bearer SubjectConfirmationData MUST NOT carry NotBefore.
#[tokio::test]
async fn saml_bearer_confirmation_with_not_before_is_refused() {
    let app = spawn_forge_app().await;
    let now = app.clock.now();
    let row = sp_attack(&app, "confirmation_not_before", |mut f| {
        f.confirmation_not_before = Some(now - Duration::seconds(30));
        f.build(Sign::Both, &signer())
    })
    .await;
    assert_eq!(
        row["reason"],
        "confirmation_not_before: bearer SubjectConfirmationData carries NotBefore (SAML profiles §4.1.4.2 forbids it)"
    );
}

/// An assertion valid for 25 hours is refused while young, whichever NotOnOrAfter says so.
#[tokio::test]
async fn saml_overlong_assertion_lifetime_is_refused() {
    let app = spawn_forge_app().await;
    // Measured from the assertion's own IssueInstant: the test clock moves while the test runs.
    let row = sp_attack(&app, "lifetime_too_long", |mut f| {
        f.not_on_or_after = Some(f.assertion_issue_instant + Duration::hours(25));
        f.build(Sign::Both, &signer())
    })
    .await;
    assert_eq!(
        row["reason"],
        "lifetime_too_long: assertion lifetime too long: Conditions NotOnOrAfter is 90000 s after IssueInstant (maximum 86400 s)"
    );
    let row = sp_attack(&app, "lifetime_too_long", |mut f| {
        f.confirmation_not_on_or_after = Some(f.assertion_issue_instant + Duration::hours(25));
        f.build(Sign::Both, &signer())
    })
    .await;
    assert_eq!(
        row["reason"],
        "lifetime_too_long: assertion lifetime too long: SubjectConfirmationData NotOnOrAfter is 90000 s after IssueInstant (maximum 86400 s)"
    );
}

/// Inner spaces are part of a legitimate value: `Domain Users` and `Platform Ops` arrive, are
/// audited and are kept exactly as signed, and the sign-in goes through.
#[tokio::test]
async fn saml_values_with_inner_spaces_are_accepted_unchanged() {
    let app = spawn_forge_app().await;
    let (login, mut forge) = sp_initiated(&app).await;
    forge = forge.groups(&["Domain Users", "aws-admins"]);
    forge
        .attributes
        .push(("department".into(), vec!["Platform Ops".into()]));
    let resp = answer(&app, &login, &forge.build(Sign::Both, &signer())).await;
    assert_eq!(
        resp.status(),
        303,
        "{}",
        resp.text().await.unwrap_or_default()
    );
    assert_eq!(role_names(&app).await, vec!["Admin"]);
    let row = last_sign_in(&app).await;
    assert_eq!(row["outcome"], "accepted");
    assert_eq!(row["subject"], "alice@example.org");
    assert_eq!(row["groups"], json!(["Domain Users", "aws-admins"]));
    assert_eq!(app.session_count().await, 1);
}

// ---------------------------------------------------------------------------------------------
// OIDC
// ---------------------------------------------------------------------------------------------

/// One OIDC sign-in whose ID token carries `edit(valid claims)`; refused with exactly `reason`.
async fn oidc_refused(reason: &str, edit: impl FnOnce(&mut serde_json::Value)) {
    let f = flight().await;
    let mut claims = f.claims();
    edit(&mut claims);
    let code = reason.split(':').next().unwrap_or_default();
    f.refused(&f.signed(&claims), code).await;
    assert_eq!(f.app.last_reason().await, reason);
}

#[tokio::test]
async fn oidc_padded_subject_is_refused() {
    oidc_refused(
        "identity_value_refused: subject (claim \"sub\") has leading whitespace (U+0020)",
        |c| c["sub"] = json!(" admin@example.com\n"),
    )
    .await;
    oidc_refused(
        "identity_value_refused: subject (claim \"sub\") is empty",
        |c| c["sub"] = json!(""),
    )
    .await;
}

#[tokio::test]
async fn oidc_padded_group_refuses_the_sign_in() {
    oidc_refused(
        "identity_value_refused: group value 3 of claim \"groups\" has leading whitespace (U+0020)",
        |c| {
            c["groups"] = json!([
                "Domain Users",
                "cn=aws-readonly,ou=groups,dc=example,dc=org",
                " cn=aws-admins,ou=groups,dc=example,dc=org"
            ])
        },
    )
    .await;
}

#[tokio::test]
async fn oidc_zero_width_and_bidi_characters_are_refused() {
    oidc_refused(
        "identity_value_refused: group value 1 of claim \"groups\" contains invisible character U+FEFF at character 1",
        |c| c["groups"] = json!(["\u{FEFF}cn=aws-admins,ou=groups,dc=example,dc=org"]),
    )
    .await;
    oidc_refused(
        "identity_value_refused: e-mail (claim \"email\") contains bidirectional control U+202E at character 6",
        |c| c["email"] = json!("alice\u{202E}gro.elpmaxe@"),
    )
    .await;
    oidc_refused(
        "identity_value_refused: e-mail (claim \"email\") contains invisible character U+200B at character 18",
        |c| c["email"] = json!("alice@example.org\u{200B}"),
    )
    .await;
}

#[tokio::test]
async fn oidc_control_characters_and_empty_groups_are_refused() {
    oidc_refused(
        "identity_value_refused: group value 1 of claim \"groups\" contains control character U+001B at character 6",
        |c| c["groups"] = json!(["admin\u{1B}[0m"]),
    )
    .await;
    oidc_refused(
        "identity_value_refused: group value 2 of claim \"groups\" is empty",
        |c| c["groups"] = json!(["cn=aws-admins,ou=groups,dc=example,dc=org", ""]),
    )
    .await;
    // A claim a rule can read (`attribute:department`).
    oidc_refused(
        "identity_value_refused: value 1 of claim \"department\" has trailing whitespace (U+2028)",
        |c| c["department"] = json!("Ops\u{2028}"),
    )
    .await;
}

#[tokio::test]
async fn oidc_overlong_token_lifetime_is_refused() {
    let f = flight().await;
    let mut claims = f.claims();
    let now = f.app.clock.now().timestamp();
    claims["iat"] = json!(now);
    claims["exp"] = json!(now + 25 * 3600);
    let record = f
        .refused(&f.signed(&claims), "id_token.lifetime_too_long")
        .await;
    assert_eq!(
        record["reason"],
        "id_token.lifetime_too_long: token lifetime exp − iat is 90000 s, more than the maximum 86400 s"
    );
}

#[tokio::test]
async fn oidc_values_with_inner_spaces_are_accepted_unchanged() {
    let f = flight().await;
    let mut claims = f.claims();
    claims["groups"] = json!(["Domain Users", "cn=aws-admins,ou=groups,dc=example,dc=org"]);
    claims["department"] = json!("Platform Ops");
    // A display name is shown, never matched: not refused.
    claims["name"] = json!(" Alice Example ");
    let resp = f.callback(&f.signed(&claims)).await;
    assert_eq!(resp.status(), 303, "{}", f.app.last_reason().await);
    assert_eq!(f.app.session_count().await, 1);
    let row = f
        .app
        .audit_events()
        .await
        .into_iter()
        .rev()
        .find(|e| e["kind"] == "sign_in")
        .unwrap();
    assert_eq!(row["subject"], "alice");
    assert_eq!(
        row["groups"],
        json!(["Domain Users", "cn=aws-admins,ou=groups,dc=example,dc=org"])
    );
}
