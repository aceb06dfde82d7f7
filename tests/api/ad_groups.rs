//! `match: ad_group` through HTTP: the forge signs groups the way AD FS sends them, under both AD FS
//! claim URIs, as bare names, `DOMAIN\name` and in mixed case, and each sign-in gets exactly the
//! roles the rules give. `exact` stays case-sensitive next to it. An OpenID provider's groups
//! are matched the same way.

use crate::forge::*;
use crate::helpers::*;
use crate::idp_scope::fake_op_sign_in;
use crate::oidc_attacks::FakeOp;
use serde_json::json;

const ADFS_GROUP: &str = "http://schemas.xmlsoap.org/claims/Group";
const ADFS_GROUPS: &str = "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups";

/// Admin for `aws-admins` qualified by EXAMPLE, ReadOnly for the bare name `AWS-ReadOnly`,
/// Billing for exactly `Billing`.
const AD_RULES: &str = r#"
version: 1
accounts:
  - id: "123456789012"
    alias: demo-prod
    partition: aws
roles:
  - arn: arn:aws:iam::123456789012:role/Admin
  - arn: arn:aws:iam::123456789012:role/ReadOnly
  - arn: arn:aws:iam::123456789012:role/Billing
rules:
  - id: admins-qualified
    idp: forge
    claim: group
    match: ad_group
    pattern: aws-admins
    domains: [EXAMPLE]
    roles: [arn:aws:iam::123456789012:role/Admin]
  - id: readonly-unqualified
    idp: forge
    claim: group
    match: ad_group
    pattern: AWS-ReadOnly
    roles: [arn:aws:iam::123456789012:role/ReadOnly]
  - id: billing-exact
    idp: forge
    claim: group
    match: exact
    pattern: Billing
    roles: [arn:aws:iam::123456789012:role/Billing]
"#;

/// `(attribute name, values)` as the forge signs them.
type Attributes<'a> = &'a [(&'a str, &'a [&'a str])];

/// An SP-initiated sign-in at the forge with `attributes` as the only group-bearing ones;
/// returns the role names granted (none when the audit row says `no_roles`).
async fn roles_for(app: &TestApp, attributes: Attributes<'_>) -> Vec<String> {
    let login = start_login(app, &app.client).await;
    let mut forged = forge_for(app).in_response_to(&login.request_id);
    forged.attributes = attributes
        .iter()
        .map(|(name, values)| {
            (
                (*name).to_string(),
                values.iter().map(|v| (*v).to_string()).collect(),
            )
        })
        .collect();
    forged
        .attributes
        .push(("mail".into(), vec!["alice@example.org".into()]));
    let xml = forged.build(Sign::Assertion, &signer());
    let resp = post_acs_as(app, &app.client, &xml, Some(&login.relay_state)).await;
    assert_eq!(resp.status(), 303, "{}", resp.text().await.unwrap());
    let row = last_sign_in(app).await;
    if row["outcome"] == "no_roles" {
        assert_eq!(row["details"]["grants"], 0, "{row}");
        return Vec::new();
    }
    assert_eq!(row["outcome"], "accepted", "{row}");
    role_names(app).await
}

#[tokio::test]
async fn adfs_group_names_map_the_way_ad_compares_them() {
    let app = spawn_app_with(Options {
        rules_yaml: AD_RULES.to_string(),
        ..forge_options(false)
    })
    .await;
    let cases: [(Attributes<'_>, &[&str]); 9] = [
        // "Token-Groups - Qualified by Domain Name", in AD's own case or any other.
        (&[(ADFS_GROUP, &["EXAMPLE\\aws-admins"])], &["Admin"]),
        (&[(ADFS_GROUPS, &["example\\AWS-Admins"])], &["Admin"]),
        // Another domain's group of the same name is another group.
        (&[(ADFS_GROUP, &["OTHER\\aws-admins"])], &[]),
        // A bare name proves no domain: the EXAMPLE rule does not take it.
        (&[(ADFS_GROUP, &["aws-admins"])], &[]),
        // "Token-Groups - Unqualified Names" for a rule without domains, in any case.
        (&[(ADFS_GROUPS, &["aws-readonly"])], &["ReadOnly"]),
        (&[(ADFS_GROUP, &["AWS-READONLY"])], &["ReadOnly"]),
        // ...but not qualified, and not differing in more than case.
        (
            &[(ADFS_GROUP, &["EXAMPLE\\aws-readonly", "aws-read-only"])],
            &[],
        ),
        // `exact` stays case-sensitive.
        (&[(ADFS_GROUP, &["billing", "BILLING"])], &[]),
        // Both URIs at once, mixed forms.
        (
            &[
                (ADFS_GROUP, &["EXAMPLE\\Aws-Admins", "Domain Users"]),
                (ADFS_GROUPS, &["Aws-ReadOnly", "Billing"]),
            ],
            &["Admin", "Billing", "ReadOnly"],
        ),
    ];
    for (attributes, want) in cases {
        assert_eq!(
            roles_for(&app, attributes).await,
            want,
            "groups {attributes:?}"
        );
    }
}

/// The same rules for an OpenID provider sending `DOMAIN\name` groups (Entra ID's
/// "sAMAccountName" group claims for synchronised groups look like this).
const OIDC_AD_RULES: &str = r#"
version: 1
accounts:
  - id: "123456789012"
    alias: demo-prod
    partition: aws
roles:
  - arn: arn:aws:iam::123456789012:role/Admin
  - arn: arn:aws:iam::123456789012:role/ReadOnly
rules:
  - id: admins-qualified
    idp: entra
    claim: group
    match: ad_group
    pattern: aws-admins
    domains: [EXAMPLE]
    roles: [arn:aws:iam::123456789012:role/Admin]
  - id: readonly-exact
    idp: entra
    claim: group
    match: exact
    pattern: aws-readonly
    roles: [arn:aws:iam::123456789012:role/ReadOnly]
"#;

#[tokio::test]
async fn oidc_group_names_map_the_same_way() {
    let op = FakeOp::start().await;
    let app = spawn_app_with(Options {
        rules_yaml: OIDC_AD_RULES.to_string(),
        extra_idps: vec![op.idp("entra")],
        ..Options::default()
    })
    .await;
    let cases: [(&[&str], &[&str]); 4] = [
        (&["example\\AWS-Admins"], &["Admin"]),
        (&["OTHER\\aws-admins", "aws-admins"], &[]),
        (
            &["EXAMPLE\\aws-admins", "aws-readonly"],
            &["Admin", "ReadOnly"],
        ),
        (&["AWS-ReadOnly"], &[]),
    ];
    for (groups, want) in cases {
        let resp = fake_op_sign_in(&app, &op, "entra", json!({ "groups": groups })).await;
        assert_eq!(resp.status(), 303, "{groups:?}");
        let row = last_sign_in(&app).await;
        let got = if row["outcome"] == "no_roles" {
            Vec::new()
        } else {
            assert_eq!(row["outcome"], "accepted", "{row}");
            role_names(&app).await
        };
        assert_eq!(got, want, "groups {groups:?}");
    }
}
