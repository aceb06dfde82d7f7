//! `roleport aws status` / `register` on the emulator: each account's IAM is reached through its
//! registration role (AssumeRole with Roleport's own credentials, then IAM with the role's), its
//! providers compared with what Roleport publishes, and with `--apply` created or updated and
//! read back. Every test uses its own account ids, so tests on the shared moto do not collide.
//! STS and IAM go through a recorder in front of moto whose gate can refuse a call, as an account
//! without the role (or with an IAM that refuses) would.

use crate::aws_harness::*;
use crate::aws_modes::{Call, Gate, own_credentials, signing_recording_sts_with};
use crate::helpers::*;
use roleport::protocol::aws::registration::{LineState, ProviderCheck, ReportLine};
use std::sync::Arc;

/// A fresh 12-digit account id (never 123456789012, whose fixtures other tests use).
pub(crate) fn account_id() -> String {
    let n = uuid::Uuid::new_v4().as_u128() % 100_000_000_000;
    format!("5{n:011}")
}

pub(crate) fn rules_for(saml_accounts: &[&str], oidc_accounts: &[&str]) -> String {
    let mut accounts = String::new();
    let mut roles = String::new();
    for a in saml_accounts {
        accounts.push_str(&format!(
            "  - id: \"{a}\"\n    alias: saml-{a}\n    partition: aws\n"
        ));
        roles.push_str(&format!(
            "  - arn: arn:aws:iam::{a}:role/Admin\n    display_name: Admin\n    max_session_seconds: 3600\n"
        ));
    }
    for a in oidc_accounts {
        accounts.push_str(&format!(
            "  - id: \"{a}\"\n    alias: oidc-{a}\n    partition: aws\n    access:\n      mode: oidc_broker\n"
        ));
        roles.push_str(&format!(
            "  - arn: arn:aws:iam::{a}:role/Admin\n    display_name: Admin\n    max_session_seconds: 3600\n"
        ));
    }
    format!("version: 1\naccounts:\n{accounts}roles:\n{roles}rules: []\n")
}

/// Roleport whose STS and IAM are the gated recorder in front of moto, with its own credentials
/// (moto's broker user) for AssumeRole.
pub(crate) async fn app_for(
    rules: &str,
    gate: Option<Gate>,
    configure: impl FnOnce(&mut roleport::configuration::AwsSettings),
) -> (TestApp, roleport::configuration::AwsSettings) {
    let proxy = signing_recording_sts_with(gate).await;
    let mut aws = aws_settings(&proxy.url, None);
    aws.own_credentials = own_credentials(false);
    if let Some(e) = aws.endpoints.get_mut("aws") {
        e.iam = Some(url::Url::parse(&proxy.url).unwrap());
    }
    configure(&mut aws);
    let app = spawn_app_with(Options {
        rules_yaml: rules.to_string(),
        aws: Some(aws.clone()),
        ..Options::default()
    })
    .await;
    (app, aws)
}

pub(crate) async fn survey(
    app: &TestApp,
    aws: &roleport::configuration::AwsSettings,
    apply: bool,
) -> Vec<ReportLine> {
    roleport::aws::registration::survey(
        &app.pool,
        &app.state.aws,
        aws,
        &app.address,
        app.clock.now(),
        apply,
    )
    .await
    .unwrap()
}

fn only<'a>(lines: &'a [ReportLine], account: &str) -> Vec<&'a ReportLine> {
    lines.iter().filter(|l| l.account_id == account).collect()
}

#[tokio::test]
async fn a_fresh_account_is_missing_then_registered_then_ok() {
    let (saml, oidc) = (account_id(), account_id());
    let (app, aws) = app_for(&rules_for(&[&saml], &[&oidc]), None, |_| {}).await;

    let before = survey(&app, &aws, false).await;
    assert_eq!(before.len(), 2, "{before:?}");
    let s = only(&before, &saml);
    assert_eq!(s[0].provider, "saml-provider/roleport");
    assert_eq!(s[0].state, LineState::Checked(ProviderCheck::Missing));
    assert_eq!(
        s[0].action.as_deref(),
        Some("would create (run with --apply)")
    );
    let o = only(&before, &oidc);
    let issuer_path = app.address.trim_start_matches("http://");
    assert_eq!(o[0].provider, format!("oidc-provider/{issuer_path}"));
    assert_eq!(o[0].state, LineState::Checked(ProviderCheck::Missing));
    // The dry run changed nothing.
    assert_eq!(survey(&app, &aws, false).await, before);

    let applied = survey(&app, &aws, true).await;
    assert!(applied.iter().all(ReportLine::is_ok), "{applied:?}");
    assert_eq!(
        applied
            .iter()
            .map(|l| l.action.as_deref())
            .collect::<Vec<_>>(),
        [Some("created"), Some("created")]
    );
    let after = survey(&app, &aws, false).await;
    assert!(
        after.iter().all(|l| l.is_ok() && l.action.is_none()),
        "{after:?}"
    );
    let text = roleport::aws::registration::render(&after);
    assert!(
        text.contains(&format!("{saml}\taws\tsaml-provider/roleport\tok")),
        "{text}"
    );
    assert!(text.ends_with("2 provider line(s): 2 ok\n"), "{text}");

    // Each change has its audit row.
    let rows: Vec<serde_json::Value> = app
        .audit_events()
        .await
        .into_iter()
        .filter(|e| e["kind"] == "aws_registration")
        .collect();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(
        rows.iter()
            .all(|r| r["outcome"] == "accepted" && r["details"]["action"] == "created")
    );
}

#[tokio::test]
async fn a_stale_provider_is_detected_and_updated() {
    let account = account_id();
    let oidc = account_id();
    let rules = rules_for(&[&account], &[&oidc]);
    let tag = &uuid::Uuid::new_v4().simple().to_string()[..8];
    let base = format!("https://roleport-{tag}.example.com");
    let (first, aws) = app_for(&rules, None, |a| {
        a.idp_entity_id = Some(format!("{base}/aws/saml-metadata.xml"));
        a.oidc_issuer = Some(base.clone());
        a.registration.oidc_thumbprints = vec!["0123456789abcdef0123456789abcdef01234567".into()];
    })
    .await;
    assert!(
        survey(&first, &aws, true)
            .await
            .iter()
            .all(ReportLine::is_ok)
    );

    // The same deployment with a new signing key and another thumbprint: what IAM holds is
    // stale now, and the report says why.
    let (key, cert, _) = keypair_files("roleport-aws-idp-stale");
    let mut aws2 = aws.clone();
    aws2.signing_keys = vec![roleport::configuration::KeyPairFiles {
        key_file: key,
        cert_file: cert,
    }];
    aws2.registration.oidc_thumbprints = vec!["89abcdef0123456789abcdef0123456789abcdef".into()];
    let second = spawn_app_with(Options {
        aws: Some(aws2.clone()),
        database: Some(first.db_name.clone()),
        ..Options::default()
    })
    .await;
    let lines = survey(&second, &aws2, false).await;
    let saml = only(&lines, &account)[0];
    let LineState::Checked(ProviderCheck::Stale(why)) = &saml.state else {
        panic!("{saml:?}")
    };
    assert_eq!(why.len(), 2, "{why:?}");
    assert!(why[0].starts_with("lacks Roleport's key"), "{why:?}");
    assert!(why[1].contains("no longer publishes"), "{why:?}");
    let o = only(&lines, &oidc)[0];
    let LineState::Checked(ProviderCheck::Stale(why)) = &o.state else {
        panic!("{o:?}")
    };
    assert!(why[0].starts_with("thumbprints are"), "{why:?}");
    assert_eq!(o.action.as_deref(), Some("would update (run with --apply)"));

    let applied = survey(&second, &aws2, true).await;
    assert!(applied.iter().all(ReportLine::is_ok), "{applied:?}");
    assert!(
        applied
            .iter()
            .all(|l| l.action.as_deref() == Some("updated")),
        "{applied:?}"
    );
    assert!(
        survey(&second, &aws2, false)
            .await
            .iter()
            .all(ReportLine::is_ok)
    );
    // The first instance's key is no longer what IAM holds: from its side, stale.
    let from_first = survey(&first, &aws, false).await;
    assert!(
        only(&from_first, &account)[0].label() == "stale",
        "{from_first:?}"
    );
}

#[tokio::test]
async fn a_role_that_cannot_be_assumed_is_reported_and_the_others_still_checked() {
    let (good, locked) = (account_id(), account_id());
    let refused = format!("arn:aws:iam::{locked}:role/RoleportRegistration");
    let gate: Gate = Arc::new(move |c: &Call| {
        (c.params.get("Action").map(String::as_str) == Some("AssumeRole")
            && c.params.get("RoleArn") == Some(&refused))
        .then(|| {
            sts_error(
                403,
                "AccessDenied",
                "User: arn:aws:iam::123456789012:user/roleport-broker is not authorized to perform: sts:AssumeRole",
            )
        })
    });
    let (app, aws) = app_for(&rules_for(&[&good, &locked], &[]), Some(gate), |_| {}).await;
    let lines = survey(&app, &aws, true).await;
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(only(&lines, &good)[0].is_ok());
    let l = only(&lines, &locked)[0];
    assert_eq!(l.label(), "cannot-assume");
    assert_eq!(l.provider, "-");
    assert!(
        l.detail().contains(&format!(
            "AssumeRole arn:aws:iam::{locked}:role/RoleportRegistration"
        )),
        "{}",
        l.detail()
    );
    assert!(l.detail().contains("AccessDenied"), "{}", l.detail());
    let text = roleport::aws::registration::render(&lines);
    assert!(
        text.ends_with("2 provider line(s): 1 cannot-assume, 1 ok\n"),
        "{text}"
    );
}

/// The `roleport` binary on the same database and emulator: what a monitoring job sees.
fn roleport_aws(
    app: &TestApp,
    aws: &roleport::configuration::AwsSettings,
    args: &[&str],
) -> std::process::Output {
    let endpoints = &aws.endpoints["aws"];
    let key = &aws.signing_keys[0];
    let own = &aws.own_credentials;
    let dir = std::env::temp_dir().join(format!("roleport-reg-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("roleport.toml");
    std::fs::write(
        &config,
        format!(
            r#"[server]
listen = "127.0.0.1:0"
dev_mode = true
public_url = "{public_url}"
[database]
url = "unused"
[aws]
sts_max_attempts = 1
signing_keys = [{{ key_file = "{key_file}", cert_file = "{cert_file}" }}]
[aws.endpoints.aws]
sts = "{sts}"
iam = "{iam}"
[aws.own_credentials]
profile = "{profile}"
credentials_file = "{credentials}"
instance_metadata = false
"#,
            public_url = app.address,
            key_file = key.key_file.display(),
            cert_file = key.cert_file.display(),
            sts = endpoints.sts.as_ref().unwrap(),
            iam = endpoints.iam.as_ref().unwrap(),
            profile = own.profile.as_deref().unwrap(),
            credentials = own.credentials_file.as_ref().unwrap().display(),
        ),
    )
    .unwrap();
    let db_url = format!(
        "{}/{}",
        ADMIN_DB_URL.rsplit_once('/').unwrap().0,
        app.db_name
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_roleport"))
        .arg("--config")
        .arg(&config)
        .args(args)
        .env("ROLEPORT_DATABASE__URL", db_url)
        .env("ROLEPORT_AUDIT__KEY", TEST_AUDIT_KEYS)
        .env("RUST_LOG", "error")
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).ok();
    out
}

#[tokio::test]
async fn the_command_line_exits_1_until_every_provider_is_ok() {
    let (saml, oidc) = (account_id(), account_id());
    let (app, aws) = app_for(&rules_for(&[&saml], &[&oidc]), None, |_| {}).await;
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();

    let status = roleport_aws(&app, &aws, &["aws", "status"]);
    let out = text(&status.stdout);
    assert_eq!(
        status.status.code(),
        Some(1),
        "{out}{}",
        text(&status.stderr)
    );
    assert!(
        out.contains(&format!("{saml}\taws\tsaml-provider/roleport\tmissing")),
        "{out}"
    );
    assert!(out.ends_with("2 provider line(s): 2 missing\n"), "{out}");

    // A dry run changes nothing and still fails.
    let dry = roleport_aws(&app, &aws, &["aws", "register"]);
    assert_eq!(dry.status.code(), Some(1), "{}", text(&dry.stdout));
    assert!(text(&dry.stdout).contains("would create (run with --apply)"));

    let apply = roleport_aws(&app, &aws, &["aws", "register", "--apply"]);
    let out = text(&apply.stdout);
    assert_eq!(apply.status.code(), Some(0), "{out}{}", text(&apply.stderr));
    assert_eq!(out.matches("\tcreated").count(), 2, "{out}");

    let status = roleport_aws(&app, &aws, &["aws", "status"]);
    let out = text(&status.stdout);
    assert_eq!(
        status.status.code(),
        Some(0),
        "{out}{}",
        text(&status.stderr)
    );
    assert!(out.ends_with("2 provider line(s): 2 ok\n"), "{out}");
}
