//! Nested groups from a real Active Directory: Samba's AD DC behind SimpleSAMLphp
//! (deploy/peers/samba, started by deploy/test.sh; `ROLEPORT_TEST_SAMBA_ENV`). The IdP sends
//! each person's *direct* groups as memberOf DNs, as bare names and as `EXAMPLE\name` under the
//! AD FS claim URIs; Roleport resolves the nested ones over LDAPS with the pinned test CA.
//!
//! The domain (deploy/peers/samba/seed.sh): alice in aws-admins and AWS-ReadOnly; bob in oncall,
//! which is in platform-team, which is in aws-admins; carol in AWS-ReadOnly; dave in Cycle-A,
//! which is in Cycle-B, which is in Cycle-A; mallory, whose userPrincipalName is
//! `al*@example.test`.

use crate::helpers::*;
use roleport::configuration::{
    AttributeSettings, DirectoryKind, DirectorySettings, GroupFormatSetting, IdpKind, IdpSettings,
    SamlIdpSettings,
};
use std::path::PathBuf;
use std::sync::LazyLock;

const ADFS_GROUP: &str = "http://schemas.xmlsoap.org/claims/Group";
const ADFS_GROUPS: &str = "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups";

static SAMBA: LazyLock<Peers> = LazyLock::new(|| {
    let path = std::env::var("ROLEPORT_TEST_SAMBA_ENV").unwrap_or_else(|_| {
        panic!("ROLEPORT_TEST_SAMBA_ENV is not set: run the suite with deploy/test.sh, which starts the Samba AD DC and its SimpleSAMLphp")
    });
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    Peers {
        env: text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect(),
    }
});

const PASSWORDS: [(&str, &str); 5] = [
    ("alice", "Al1ce-Passw0rd!"),
    ("bob", "B0b-Passw0rd!"),
    ("carol", "C4rol-Passw0rd!"),
    ("dave", "D4ve-Passw0rd!"),
    ("mallory", "M4llory-Passw0rd!"),
];

/// The group format under test: which attribute the IdP's groups are read from, how resolved
/// groups are written, and the rules that speak that format.
#[derive(Clone, Copy, Debug)]
enum Format {
    Dn,
    Name,
    Qualified,
}

impl Format {
    fn attribute(self) -> &'static str {
        match self {
            Format::Dn => "memberOf",
            Format::Name => ADFS_GROUP,
            Format::Qualified => ADFS_GROUPS,
        }
    }

    fn setting(self) -> GroupFormatSetting {
        match self {
            Format::Dn => GroupFormatSetting::Dn,
            Format::Name => GroupFormatSetting::Name,
            Format::Qualified => GroupFormatSetting::Qualified,
        }
    }

    /// Admin for aws-admins, ReadOnly for AWS-ReadOnly (rules written in another case than the
    /// directory's), and Dev for aws-admins of another domain, which nobody here may get.
    fn rules(self) -> String {
        let (kind, admins, readonly, extra) = match self {
            Format::Dn => (
                "ldap_dn",
                "cn=AWS-ADMINS,cn=users,dc=example,dc=test",
                "CN=aws-readonly, CN=Users, DC=example, DC=test",
                "",
            ),
            Format::Name => ("ad_group", "AWS-Admins", "aws-readonly", ""),
            Format::Qualified => (
                "ad_group",
                "Aws-Admins",
                "aws-readonly",
                "\n    domains: [EXAMPLE]",
            ),
        };
        format!(
            r#"
version: 1
accounts:
  - id: "123456789012"
    alias: demo-prod
    partition: aws
roles:
  - arn: arn:aws:iam::123456789012:role/Admin
  - arn: arn:aws:iam::123456789012:role/ReadOnly
  - arn: arn:aws:iam::123456789012:role/Dev
rules:
  - id: admins
    idp: samba
    claim: group
    match: {kind}
    pattern: "{admins}"{extra}
    roles: [arn:aws:iam::123456789012:role/Admin]
  - id: readonly
    idp: samba
    claim: group
    match: {kind}
    pattern: "{readonly}"{extra}
    roles: [arn:aws:iam::123456789012:role/ReadOnly]
  - id: other-domain
    idp: samba
    claim: group
    match: ad_group
    pattern: aws-admins
    domains: [OTHER]
    roles: [arn:aws:iam::123456789012:role/Dev]
"#
        )
    }
}

fn password_file() -> PathBuf {
    let path = std::env::temp_dir().join(format!(
        "roleport-samba-bind-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::write(&path, format!("{}\n", SAMBA.get("SAMBA_BIND_PW"))).unwrap();
    path
}

fn directory(format: Format) -> DirectorySettings {
    DirectorySettings {
        kind: DirectoryKind::Ad,
        url: SAMBA.get("SAMBA_LDAPS_URL").to_string(),
        starttls: false,
        ca_file: Some(PathBuf::from(SAMBA.get("SAMBA_CA_FILE"))),
        base_dn: SAMBA.get("SAMBA_BASE_DN").to_string(),
        bind_dn: SAMBA.get("SAMBA_BIND_DN").to_string(),
        bind_password_file: password_file(),
        identity: "subject".into(),
        user_attribute: None,
        user_filter: None,
        group_filter: None,
        group_name_attribute: None,
        group_format: format.setting(),
        netbios_domain: Some(SAMBA.get("SAMBA_DOMAIN").to_string()),
        timeout_ms: 5000,
        cache_seconds: 60,
        max_depth: 8,
    }
}

fn samba_idp(format: Format, directory: Option<DirectorySettings>) -> IdpSettings {
    IdpSettings {
        id: "samba".into(),
        display_name: "Samba AD (SimpleSAMLphp)".into(),
        kind: IdpKind::Saml(Box::new(SamlIdpSettings {
            metadata_url: Some(SAMBA.get("IDP_METADATA_URL").to_string()),
            attributes: AttributeSettings {
                subject: Some("uid".into()),
                groups: vec![format.attribute().to_string()],
                ..AttributeSettings::default()
            },
            directory,
            ..SamlIdpSettings::default()
        })),
    }
}

async fn spawn(format: Format, directory: Option<DirectorySettings>) -> TestApp {
    let app = spawn_app_with(Options {
        rules_yaml: format.rules(),
        include_demo_saml: false,
        extra_idps: vec![samba_idp(format, directory)],
        ..Options::default()
    })
    .await;
    register_sp_json_in(
        std::path::Path::new(SAMBA.get("SP_REMOTE_DIR")),
        serde_json::json!({
            "entity_id": app.sp_entity_id,
            "acs_url": format!("{}/saml/acs", app.address),
            "allow_idp_initiated": false,
        }),
    );
    app
}

/// A full SP-initiated sign-in in a fresh browser: Roleport's answer and that browser.
async fn sign_in(app: &TestApp, user: &str) -> (reqwest::Response, reqwest::Client) {
    let password = PASSWORDS
        .iter()
        .find(|(u, _)| *u == user)
        .map(|(_, p)| *p)
        .unwrap();
    let client = browser();
    let start = client
        .get(format!("{}/login/samba", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), 302, "login start");
    let post = idp_sign_in_at(
        SAMBA.get("IDP_BASE_URL"),
        &client,
        &location(&start),
        user,
        password,
    )
    .await;
    let mut form = vec![("SAMLResponse", post.saml_response)];
    if let Some(r) = post.relay_state {
        form.push(("RelayState", r));
    }
    let resp = client
        .post(format!("{}/saml/acs", app.address))
        .form(&form)
        .send()
        .await
        .unwrap();
    (resp, client)
}

/// The roles `user` gets (sorted role names), checking the sign-in was accepted.
async fn roles_of(app: &TestApp, user: &str) -> Vec<String> {
    let (resp, client) = sign_in(app, user).await;
    assert_eq!(resp.status(), 303, "{user}: {}", resp.text().await.unwrap());
    let json: serde_json::Value = client
        .get(format!("{}/api/v1/roles", app.address))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut names: Vec<String> = json["grants"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|g| g["role_name"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

async fn last_sign_in(app: &TestApp) -> serde_json::Value {
    app.audit_events()
        .await
        .into_iter()
        .rev()
        .find(|e| e["kind"] == "sign_in")
        .expect("a sign-in audit row")
}

fn strings(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

/// Without `[idp.directory]`, only the direct groups the IdP sends count.
async fn direct_groups_only(format: Format) {
    let app = spawn(format, None).await;
    assert_eq!(
        roles_of(&app, "alice").await,
        ["Admin", "ReadOnly"],
        "{format:?}"
    );
    let row = last_sign_in(&app).await;
    assert!(
        row["details"].get("groups_from_directory").is_none(),
        "{row}"
    );
    // bob is in aws-admins only through two levels of nesting.
    assert!(roles_of(&app, "bob").await.is_empty(), "{format:?}");
    assert_eq!(roles_of(&app, "carol").await, ["ReadOnly"], "{format:?}");
    assert!(roles_of(&app, "dave").await.is_empty(), "{format:?}");
}

/// With it, nested groups count, in the format the rules speak; the audit row tells the
/// assertion's groups from the directory's.
async fn nested_groups_resolved(format: Format) {
    let app = spawn(format, Some(directory(format))).await;
    assert_eq!(
        roles_of(&app, "alice").await,
        ["Admin", "ReadOnly"],
        "{format:?}"
    );
    assert_eq!(roles_of(&app, "bob").await, ["Admin"], "{format:?}");
    let row = last_sign_in(&app).await;
    assert_eq!(row["outcome"], "accepted", "{row}");
    let from_assertion = strings(&row["details"]["groups_from_assertion"]);
    let from_directory = strings(&row["details"]["groups_from_directory"]);
    let (oncall, platform, admins) = match format {
        Format::Dn => (
            "CN=oncall,CN=Users,DC=example,DC=test",
            "CN=platform-team,CN=Users,DC=example,DC=test",
            "CN=aws-admins,CN=Users,DC=example,DC=test",
        ),
        Format::Name => ("oncall", "platform-team", "aws-admins"),
        Format::Qualified => (
            "EXAMPLE\\oncall",
            "EXAMPLE\\platform-team",
            "EXAMPLE\\aws-admins",
        ),
    };
    assert_eq!(from_assertion, [oncall], "{row}");
    let mut sorted = from_directory.clone();
    sorted.sort();
    let mut want = vec![platform.to_string(), admins.to_string()];
    want.sort();
    assert_eq!(
        sorted, want,
        "the directory adds what the assertion lacked: {row}"
    );
    let mut all = strings(&row["groups"]);
    all.sort();
    let mut union = [from_assertion, from_directory].concat();
    union.sort();
    assert_eq!(all, union, "{row}");

    assert_eq!(roles_of(&app, "carol").await, ["ReadOnly"], "{format:?}");
    // A membership cycle ends (AD resolves it; nobody gets a role from it).
    assert!(roles_of(&app, "dave").await.is_empty(), "{format:?}");
    let row = last_sign_in(&app).await;
    assert_eq!(row["outcome"], "no_roles", "{row}");
}

#[tokio::test]
async fn group_dns_from_memberof_direct_only() {
    direct_groups_only(Format::Dn).await;
}

#[tokio::test]
async fn bare_group_names_direct_only() {
    direct_groups_only(Format::Name).await;
}

#[tokio::test]
async fn domain_qualified_group_names_direct_only() {
    direct_groups_only(Format::Qualified).await;
}

#[tokio::test]
async fn group_dns_with_nested_groups_from_the_directory() {
    nested_groups_resolved(Format::Dn).await;
}

#[tokio::test]
async fn bare_group_names_with_nested_groups_from_the_directory() {
    nested_groups_resolved(Format::Name).await;
}

#[tokio::test]
async fn domain_qualified_group_names_with_nested_groups_from_the_directory() {
    nested_groups_resolved(Format::Qualified).await;
}

/// The sign-in is refused with the directory's reason, never completed with fewer groups.
async fn refused_with(app: &TestApp, user: &str, code: &str) -> serde_json::Value {
    let (resp, _) = sign_in(app, user).await;
    assert_eq!(resp.status(), 403, "{user}");
    let html = resp.text().await.unwrap();
    assert!(
        !html.contains(code),
        "the page does not say which check failed"
    );
    let row = last_sign_in(app).await;
    assert_eq!(row["outcome"], "rejected", "{row}");
    let reason = row["reason"].as_str().unwrap();
    assert!(reason.starts_with(&format!("{code}: ")), "{row}");
    assert_eq!(app.session_count().await, 0);
    row
}

#[tokio::test]
async fn directory_down_refuses_the_sign_in() {
    // Nothing listens on this port (one of this suite's own).
    let mut settings = directory(Format::Name);
    settings.url = "ldaps://127.0.0.1:18941".into();
    let app = spawn(Format::Name, Some(settings)).await;
    // alice's direct groups alone would give her roles: still refused.
    refused_with(&app, "alice", "directory_unavailable").await;
}

#[tokio::test]
async fn directory_not_answering_refuses_the_sign_in_after_the_timeout() {
    // A listener that accepts and never answers (a blackholed directory).
    let hole = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = hole.local_addr().unwrap().port();
    let mut settings = directory(Format::Name);
    settings.url = format!("ldaps://127.0.0.1:{port}");
    settings.timeout_ms = 500;
    let app = spawn(Format::Name, Some(settings)).await;
    refused_with(&app, "bob", "directory_timeout").await;
    drop(hole);
}

#[tokio::test]
async fn a_directory_certificate_from_another_ca_is_refused() {
    let (_key, other_ca, _) = keypair_files("Not the Samba test CA");
    let mut settings = directory(Format::Name);
    settings.ca_file = Some(other_ca);
    let app = spawn(Format::Name, Some(settings)).await;
    let row = refused_with(&app, "alice", "directory_unavailable").await;
    assert!(
        row["reason"].as_str().unwrap().contains("certificate"),
        "{row}"
    );
}

#[tokio::test]
async fn a_wrong_bind_password_refuses_the_sign_in() {
    let mut settings = directory(Format::Name);
    let path = password_file();
    std::fs::write(&path, "not-the-password\n").unwrap();
    settings.bind_password_file = path;
    let app = spawn(Format::Name, Some(settings)).await;
    refused_with(&app, "alice", "directory_bind_refused").await;
}

/// mallory's userPrincipalName is `al*@example.test`. Looked up by it, unescaped, the search
/// would also match alice@example.test (and hand mallory alice's groups, or refuse everyone as
/// ambiguous): escaped, it finds mallory alone, who has no groups.
#[tokio::test]
async fn a_filter_metacharacter_in_the_identity_does_not_widen_the_search() {
    let mut settings = directory(Format::Name);
    settings.identity = "attribute:userPrincipalName".into();
    settings.user_attribute = Some("userPrincipalName".into());
    let app = spawn(Format::Name, Some(settings)).await;
    assert!(roles_of(&app, "mallory").await.is_empty());
    let row = last_sign_in(&app).await;
    assert_eq!(row["outcome"], "no_roles", "{row}");
    assert_eq!(
        strings(&row["details"]["groups_from_directory"]),
        Vec::<String>::new()
    );
    // The same lookup finds alice by hers, so it is the escaping that kept mallory alone.
    assert_eq!(roles_of(&app, "alice").await, ["Admin", "ReadOnly"]);
}

#[tokio::test]
async fn a_person_missing_from_the_directory_is_refused() {
    let mut settings = directory(Format::Name);
    // Look people up by an attribute nobody has that value in.
    settings.user_attribute = Some("mail".into());
    let app = spawn(Format::Name, Some(settings)).await;
    refused_with(&app, "bob", "directory_person_not_found").await;
}

#[tokio::test]
async fn starttls_on_the_plain_port_works_and_plain_binds_are_refused_by_the_directory() {
    let mut settings = directory(Format::Name);
    settings.url = SAMBA.get("SAMBA_LDAP_URL").to_string();
    settings.starttls = true;
    let app = spawn(Format::Name, Some(settings.clone())).await;
    assert_eq!(roles_of(&app, "bob").await, ["Admin"]);

    // Without StartTLS (dev_mode only), AD refuses a simple bind in clear: the sign-in is refused.
    settings.starttls = false;
    let app = spawn(Format::Name, Some(settings)).await;
    refused_with(&app, "bob", "directory_bind_refused").await;
}

/// The OpenLDAP way (a level-by-level walk over `member`), run on the AD, which answers plain
/// `(member=<dn>)` searches too: the same nested groups, a cycle that ends, and a depth limit
/// that refuses rather than cuts the list short.
fn walk_settings(max_depth: u32) -> DirectorySettings {
    DirectorySettings {
        kind: DirectoryKind::Openldap,
        user_attribute: Some("sAMAccountName".into()),
        user_filter: Some("(objectClass=user)".into()),
        group_filter: Some("(objectClass=group)".into()),
        group_name_attribute: Some("sAMAccountName".into()),
        max_depth,
        ..directory(Format::Qualified)
    }
}

#[tokio::test]
async fn the_member_walk_finds_nested_groups_and_ends_cycles() {
    let app = spawn(Format::Qualified, Some(walk_settings(8))).await;
    assert_eq!(roles_of(&app, "bob").await, ["Admin"]);
    let row = last_sign_in(&app).await;
    let mut from_directory = strings(&row["details"]["groups_from_directory"]);
    from_directory.sort();
    assert_eq!(
        from_directory,
        ["EXAMPLE\\aws-admins", "EXAMPLE\\platform-team"],
        "{row}"
    );
    assert!(roles_of(&app, "dave").await.is_empty());
    let row = last_sign_in(&app).await;
    assert_eq!(
        strings(&row["details"]["groups_from_directory"]),
        ["EXAMPLE\\Cycle-B"],
        "{row}"
    );
}

#[tokio::test]
async fn nesting_deeper_than_max_depth_refuses_the_sign_in() {
    // bob: oncall (1) -> platform-team (2) -> aws-admins (3).
    let app = spawn(Format::Qualified, Some(walk_settings(2))).await;
    refused_with(&app, "bob", "directory_nesting_too_deep").await;
    let app = spawn(Format::Qualified, Some(walk_settings(3))).await;
    assert_eq!(roles_of(&app, "bob").await, ["Admin"]);
}

/// The walk with its OpenLDAP defaults (uid, inetOrgPerson, groupOfNames, cn) against the
/// suite's OpenLDAP behind the first SimpleSAMLphp: alice's groups, already in her memberOf, are
/// found again and not added twice.
#[tokio::test]
async fn the_member_walk_on_openldap_adds_nothing_the_assertion_already_has() {
    let password = std::env::temp_dir().join(format!(
        "roleport-ldap-bind-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::write(&password, PEERS.get("LDAP_ADMIN_PW")).unwrap();
    let mut idp = demo_saml_idp(false);
    if let IdpKind::Saml(saml) = &mut idp.kind {
        saml.directory = Some(DirectorySettings {
            kind: DirectoryKind::Openldap,
            url: PEERS.get("LDAP_URL").to_string(),
            starttls: false,
            ca_file: None,
            base_dn: PEERS.get("LDAP_BASE_DN").to_string(),
            bind_dn: PEERS.get("LDAP_ADMIN_DN").to_string(),
            bind_password_file: password,
            identity: "subject".into(),
            user_attribute: None,
            user_filter: None,
            group_filter: None,
            group_name_attribute: None,
            group_format: GroupFormatSetting::Dn,
            netbios_domain: None,
            timeout_ms: 5000,
            cache_seconds: 0,
            max_depth: 4,
        });
    }
    let app = spawn_app_with(Options {
        include_demo_saml: false,
        extra_idps: vec![idp],
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
    assert_eq!(row["outcome"], "accepted", "{row}");
    assert_eq!(
        strings(&row["details"]["groups_from_assertion"]).len(),
        2,
        "{row}"
    );
    assert_eq!(
        strings(&row["details"]["groups_from_directory"]),
        Vec::<String>::new(),
        "{row}"
    );
}

/// NameIDs built to widen `(sAMAccountName=<value>)`, signed by a trusted IdP (the forge): each
/// is one literal value, which nobody in the directory has, so the sign-in is refused; a plain
/// `bob` through the same path gets his nested groups.
#[tokio::test]
async fn a_crafted_name_id_cannot_widen_the_directory_search() {
    use crate::forge::*;
    let mut idp = forge_idp(false);
    if let IdpKind::Saml(saml) = &mut idp.kind {
        saml.directory = Some(directory(Format::Name));
    }
    let app = spawn_app_with(Options {
        extra_idps: vec![idp],
        include_demo_saml: false,
        rules_yaml: Format::Name.rules().replace("idp: samba", "idp: forge"),
        ..Options::default()
    })
    .await;
    for name_id in [
        "*",
        "b*",
        "bob)(sAMAccountName=*",
        "*)(|(objectClass=*",
        "bob\\2a",
    ] {
        let login = start_login(&app, &app.client).await;
        let xml = forge_for(&app)
            .in_response_to(&login.request_id)
            .name_id(name_id)
            .groups(&["Domain Users"])
            .build(Sign::Assertion, &signer());
        let resp = post_acs_as(&app, &app.client, &xml, Some(&login.relay_state)).await;
        assert_eq!(resp.status(), 403, "{name_id}");
        let row = last_sign_in(&app).await;
        let reason = row["reason"].as_str().unwrap();
        assert!(
            reason.starts_with("directory_person_not_found: "),
            "{name_id}: {row}"
        );
    }
    let login = start_login(&app, &app.client).await;
    let xml = forge_for(&app)
        .in_response_to(&login.request_id)
        .name_id("bob")
        .groups(&["Domain Users"])
        .build(Sign::Assertion, &signer());
    let resp = post_acs_as(&app, &app.client, &xml, Some(&login.relay_state)).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(role_names(&app).await, ["Admin"]);
}
