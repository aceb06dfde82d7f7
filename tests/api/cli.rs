//! The `roleport` binary: rules import/export/explain, audit verify, start-up refusals.

use crate::helpers::*;
use std::path::{Path, PathBuf};
use std::process::Output;

struct CliEnv {
    dir: PathBuf,
    config: PathBuf,
    db_url: String,
}

async fn cli_env(extra_toml: &str) -> CliEnv {
    let name = format!("roleport_test_{}", uuid::Uuid::new_v4().simple());
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(ADMIN_DB_URL)
        .await
        .unwrap();
    sqlx::query(&format!(r#"CREATE DATABASE "{name}""#))
        .execute(&mut conn)
        .await
        .unwrap();
    let dir = std::env::temp_dir().join(format!("roleport-cli-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("roleport.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\ndev_mode = true\n[database]\nurl = \"unused\"\nmigrate_on_start = true\n{extra_toml}"
        ),
    )
    .unwrap();
    CliEnv {
        dir,
        config,
        db_url: format!("postgres://postgres@127.0.0.1:5432/{name}"),
    }
}

fn roleport(env: &CliEnv, args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_roleport"))
        .arg("--config")
        .arg(&env.config)
        .args(args)
        // The database URL is a secret: it comes from the environment, not the file.
        .env("ROLEPORT_DATABASE__URL", &env.db_url)
        .env("RUST_LOG", "error")
        .output()
        .expect("run roleport")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn write(dir: &Path, name: &str, body: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p
}

#[tokio::test]
async fn rules_import_export_round_trip_and_explain() {
    let env = cli_env("").await;
    let file = write(&env.dir, "rules.yaml", TEST_RULES);
    let out = roleport(&env, &["rules", "import", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("imported 1 accounts, 2 roles, 2 rules"));
    // The import is audited like the admin page's, and the generation says how it came.
    let pool = sqlx::PgPool::connect(&env.db_url).await.unwrap();
    let row: serde_json::Value = sqlx::query_scalar(
        "SELECT event FROM audit_events WHERE event->>'kind' = 'rules_imported'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(row["outcome"], "accepted");
    assert_eq!(row["details"]["via"], "cli");
    assert_eq!(row["details"]["rules"], 2);
    let provenance = roleport::db::rules::provenance(&pool).await.unwrap();
    assert_eq!(provenance.importer.via, "cli");
    assert_eq!(row["details"]["generation"], provenance.generation);

    let out = roleport(&env, &["rules", "export"]);
    assert!(out.status.success());
    let exported =
        roleport::protocol::mapping::parse_document(&text(&out.stdout)).expect("export parses");
    let original = roleport::protocol::mapping::parse_document(TEST_RULES).unwrap();
    assert_eq!(exported, original);

    let out = roleport(
        &env,
        &[
            "rules",
            "explain",
            "--idp",
            "demo-saml",
            "--group",
            "cn=aws-admins,ou=groups,dc=example,dc=org",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let explained = text(&out.stdout);
    assert!(explained.contains("admins"), "{explained}");
    assert!(
        explained.contains("arn:aws:iam::123456789012:role/Admin"),
        "{explained}"
    );
    assert!(
        !explained.contains("role/ReadOnly\n") || explained.contains("readonly"),
        "{explained}"
    );

    let out = roleport(
        &env,
        &[
            "rules",
            "explain",
            "--idp",
            "demo-saml",
            "--group",
            "nobody",
            "--json",
        ],
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json explain");
    assert_eq!(json["decision"]["grants"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn an_invalid_rules_file_is_refused_with_lines_and_changes_nothing() {
    let env = cli_env("").await;
    let good = write(&env.dir, "good.yaml", TEST_RULES);
    assert!(
        roleport(&env, &["rules", "import", good.to_str().unwrap()])
            .status
            .success()
    );
    let before = text(&roleport(&env, &["rules", "export"]).stdout);

    let bad_yaml = TEST_RULES
        .replace(
            "roles: [arn:aws:iam::123456789012:role/Admin]",
            "roles: [arn:aws:iam::123456789012:role/Nope]",
        )
        .replace(
            "match: ldap_dn\n    pattern: aws-admins",
            "match: regex\n    pattern: \"(unclosed\"",
        );
    let bad = write(&env.dir, "bad.yaml", &bad_yaml);
    let out = roleport(&env, &["rules", "import", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    let nope_line = bad_yaml
        .lines()
        .position(|l| l.contains("role/Nope"))
        .unwrap()
        + 1;
    let regex_line = bad_yaml
        .lines()
        .position(|l| l.contains("(unclosed"))
        .unwrap()
        + 1;
    assert!(err.contains(&format!("line {nope_line}")), "{err}");
    assert!(err.contains(&format!("line {regex_line}")), "{err}");
    assert!(err.contains("nothing was changed"), "{err}");
    assert_eq!(text(&roleport(&env, &["rules", "export"]).stdout), before);
}

#[tokio::test]
async fn audit_verify_reports_intact_and_broken_chains() {
    let env = cli_env("").await;
    let pool = sqlx::PgPool::connect(&env.db_url).await.unwrap();
    roleport::db::migrate(&pool).await.unwrap();
    for i in 0..3 {
        let mut e = roleport::audit::AuditEvent::new(
            roleport::audit::EventKind::SignIn,
            roleport::audit::Outcome::Rejected,
        );
        e.reason = Some(format!("test {i}"));
        roleport::db::audit::append(&pool, "REF", chrono::DateTime::UNIX_EPOCH, e)
            .await
            .unwrap();
    }
    let out = roleport(&env, &["audit", "verify"]);
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("intact: 3 rows"));

    sqlx::query("ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("DELETE FROM audit_events WHERE seq = 2")
        .execute(&pool)
        .await
        .unwrap();
    let out = roleport(&env, &["audit", "verify"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stdout).contains("BROKEN at row 3"),
        "{}",
        text(&out.stdout)
    );
}

#[tokio::test]
async fn an_idp_without_a_pinned_key_is_refused_at_start() {
    let env = cli_env(
        "[[idp]]\nid = \"corp\"\nkind = \"saml\"\ndisplay_name = \"Corp\"\nentity_id = \"https://idp.corp/\"\nsso_url = \"https://idp.corp/sso\"\n",
    )
    .await;
    for cmd in [&["serve"][..], &["check-config"][..]] {
        let out = roleport(&env, cmd);
        assert!(!out.status.success());
        let err = text(&out.stderr);
        assert!(
            err.contains("idp `corp` has no pinned signing certificate"),
            "{err}"
        );
    }
}

#[tokio::test]
async fn metadata_without_signing_certificates_is_refused_at_start() {
    let env = cli_env("").await;
    let md = write(
        &env.dir,
        "idp.xml",
        r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.corp/"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.corp/sso"/></md:IDPSSODescriptor></md:EntityDescriptor>"#,
    );
    let mut cfg = std::fs::read_to_string(&env.config).unwrap();
    cfg.push_str(&format!(
        "[[idp]]\nid = \"corp\"\nkind = \"saml\"\ndisplay_name = \"Corp\"\nmetadata_file = \"{}\"\n",
        md.display()
    ));
    std::fs::write(&env.config, cfg).unwrap();
    let out = roleport(&env, &["check-config"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("no pinned signing certificate"),
        "{}",
        text(&out.stderr)
    );
}

#[tokio::test]
async fn unknown_configuration_keys_are_refused() {
    let env = cli_env("[saml]\nallow_unsigned = true\n").await;
    let out = roleport(&env, &["check-config"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("allow_unsigned"),
        "{}",
        text(&out.stderr)
    );
}

#[tokio::test]
async fn check_config_loads_the_aws_side_too() {
    let env = cli_env("[aws]\nsigning_keys = [{ key_file = \"/nonexistent/key.pem\", cert_file = \"/nonexistent/cert.pem\" }]\n").await;
    let out = roleport(&env, &["check-config"]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("/nonexistent/key.pem"), "{err}");
    let env = cli_env("").await;
    let out = roleport(&env, &["check-config"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("0 IdP signing key(s)"));
}

/// The role names `rules explain --json` grants for these arguments.
fn explained_roles(env: &CliEnv, args: &[&str]) -> Vec<String> {
    let mut all = vec!["rules", "explain", "--json"];
    all.extend_from_slice(args);
    let out = roleport(env, &all);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json explain");
    let mut names: Vec<String> = json["decision"]["grants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["role_name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn rules_explain_works_for_oidc_claims() {
    // OIDC-scoped rules: a plain group name (Entra/Okta `groups`), an e-mail domain (Google).
    const OIDC_RULES: &str = r#"
version: 1
accounts:
  - id: "123456789012"
    alias: demo-prod
    partition: aws
roles:
  - arn: arn:aws:iam::123456789012:role/Admin
    display_name: Administrator
    max_session_seconds: 3600
  - arn: arn:aws:iam::123456789012:role/ReadOnly
    display_name: Read-only
    max_session_seconds: 7200
rules:
  - id: oidc-admins
    idp: demo-oidc
    claim: group
    match: exact
    pattern: aws-admins
    roles: [arn:aws:iam::123456789012:role/Admin]
  - id: oidc-example-org
    idp: demo-oidc
    claim: email_domain
    match: exact
    pattern: example.org
    roles: [arn:aws:iam::123456789012:role/ReadOnly]
"#;
    let env = cli_env("").await;
    let file = write(&env.dir, "rules.yaml", OIDC_RULES);
    let out = roleport(&env, &["rules", "import", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    let out = roleport(
        &env,
        &[
            "rules",
            "explain",
            "--idp",
            "demo-oidc",
            "--subject",
            "alice",
            "--group",
            "aws-admins",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let explained = text(&out.stdout);
    assert!(explained.contains("oidc-admins"), "{explained}");
    assert!(
        explained.contains("arn:aws:iam::123456789012:role/Admin"),
        "{explained}"
    );

    let args = ["--idp", "demo-oidc", "--group", "aws-admins"];
    assert_eq!(explained_roles(&env, &args), vec!["Admin"]);
    // A verified e-mail in the domain adds the domain rule's role.
    let args = [
        "--idp",
        "demo-oidc",
        "--group",
        "aws-admins",
        "--email",
        "alice@Example.org",
    ];
    assert_eq!(explained_roles(&env, &args), vec!["Admin", "ReadOnly"]);
    // The rules name their IdP: the same claims from the SAML IdP get nothing, and the trace says why.
    let args = ["--idp", "demo-saml", "--group", "aws-admins"];
    assert!(explained_roles(&env, &args).is_empty());
    let out = roleport(
        &env,
        &[
            "rules",
            "explain",
            "--json",
            "--idp",
            "demo-saml",
            "--group",
            "aws-admins",
        ],
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let trace = &json["rules"][0];
    assert_eq!(trace["rule_id"], "oidc-admins");
    assert_eq!(trace["reason"]["kind"], "idp_differs");
}

#[tokio::test]
async fn the_demo_rules_give_the_same_roles_via_oidc_as_via_saml() {
    // deploy/demo/rules.yaml: the OIDC provider's `groups_dn` claim carries the same DNs as memberOf.
    let env = cli_env("").await;
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/demo/rules.yaml");
    let out = roleport(&env, &["rules", "import", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let alice = [
        "cn=aws-admins,ou=groups,dc=example,dc=org",
        "cn=aws-readonly,ou=groups,dc=example,dc=org",
    ];
    let bob = ["cn=aws-readonly,ou=groups,dc=example,dc=org"];
    // alice also holds the roles of the seven listed accounts (the role picker's demo).
    let alice_roles = [
        ["Admin"; 3].as_slice(),
        &["Analyst", "Auditor", "BillingViewer", "CIOperator"],
        &["Developer"; 3],
        &["IncidentResponder", "NetworkAdmin", "OnCall"],
        &["ReadOnly"; 6],
    ]
    .concat();
    for (groups, expected) in [
        (&alice[..], alice_roles),
        (&bob[..], vec!["ReadOnly"]),
        (&[][..], vec![]),
    ] {
        for idp in ["demo-saml", "demo-oidc"] {
            let mut args = vec!["--idp", idp];
            for g in groups {
                args.extend(["--group", g]);
            }
            assert_eq!(explained_roles(&env, &args), expected, "{idp} {groups:?}");
        }
    }
}

#[tokio::test]
async fn audit_refusals_lists_the_counters_and_finds_a_reference() {
    let env = cli_env("").await;
    let pool = sqlx::PgPool::connect(&env.db_url).await.unwrap();
    roleport::db::migrate(&pool).await.unwrap();
    let now = roleport::clock::Clock::system().now();
    for reference in ["REF1", "REF2"] {
        let refused = roleport::db::refusals::Refused {
            reason: "bad_signature",
            idp: "corp",
            client: "192.0.2.7",
            reference,
        };
        roleport::db::refusals::record(&pool, &refused, now, 200)
            .await
            .unwrap();
    }
    let out = roleport(&env, &["audit", "refusals", "--minutes", "5"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let rows: Vec<&str> = stdout.lines().skip(1).collect();
    assert_eq!(rows.len(), 1, "{stdout}");
    assert!(
        rows[0].ends_with("\tbad_signature\tcorp\t192.0.2.7\t2\tREF2"),
        "{stdout}"
    );
    let out = roleport(&env, &["audit", "refusals", "--reference", "REF1"]);
    assert_eq!(
        text(&out.stdout).lines().count(),
        1,
        "only the header: REF1 is not the latest"
    );
    let out = roleport(&env, &["audit", "refusals", "--reference", "REF2"]);
    assert_eq!(text(&out.stdout).lines().count(), 2);
}

/// Every rule names its IdP: `import` refuses a rule without one, on its line, saying how to
/// fix it; `import` and `explain` warn about each `idp: "*"` rule with its line.
#[tokio::test]
async fn rules_without_idp_are_refused_and_star_rules_warned_about() {
    let env = cli_env("").await;
    let missing = TEST_RULES.replacen("    idp: [demo-saml, demo-oidc]\n", "", 1);
    let line = missing.lines().position(|l| l == "  - id: admins").unwrap() + 1;
    let file = write(&env.dir, "missing.yaml", &missing);
    let out = roleport(&env, &["rules", "import", file.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!(
            "line {line}, column 5 (rules[0].idp): every rule must name its IdP: add idp: <id> \
             (or idp: \"*\" to apply it to every IdP)"
        )),
        "{err}"
    );
    assert!(err.contains("nothing was changed"), "{err}");

    let star = TEST_RULES.replacen("idp: [demo-saml, demo-oidc]", "idp: \"*\"", 1);
    let star_line = star.lines().position(|l| l.contains("idp: \"*\"")).unwrap() + 1;
    let file = write(&env.dir, "star.yaml", &star);
    let out = roleport(&env, &["rules", "import", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!(
            "warning: line {star_line}, column 10 (rule admins): idp: \"*\" applies this rule to every identity provider"
        )),
        "{err}"
    );
    // Both rules name demo-saml and demo-oidc, which this configuration does not define.
    assert!(
        err.contains("warning: rule readonly names idp demo-saml, which is not configured here"),
        "{err}"
    );

    let out = roleport(&env, &["rules", "explain", "--idp", "anything"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("(rule admins): idp: \"*\" applies this rule to every identity provider"),
        "{err}"
    );
    assert_eq!(err.matches("warning:").count(), 1, "{err}");
}

#[tokio::test]
async fn a_document_naming_saml_passthrough_is_refused_with_its_line_and_the_replacement() {
    let env = cli_env("").await;
    let good = write(&env.dir, "good.yaml", TEST_RULES);
    assert!(
        roleport(&env, &["rules", "import", good.to_str().unwrap()])
            .status
            .success()
    );
    let before = text(&roleport(&env, &["rules", "export"]).stdout);
    let retired = TEST_RULES.replace(
        "    partition: aws\n",
        "    partition: aws\n    access: {mode: saml_passthrough, saml_provider: corp-idp}\n",
    );
    let line = retired
        .lines()
        .position(|l| l.contains("saml_passthrough"))
        .unwrap()
        + 1;
    let file = write(&env.dir, "retired.yaml", &retired);
    let out = roleport(&env, &["rules", "import", file.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("line {line}, column ")) && err.contains("(accounts[0].access.mode)"),
        "{err}"
    );
    for words in [
        "access mode saml_passthrough is retired",
        "Use saml_broker",
        "oidc_passthrough for an OpenID Connect provider",
    ] {
        assert!(err.contains(words), "{words:?} in {err}");
    }
    assert!(err.contains("1 error(s); nothing was changed"), "{err}");
    assert_eq!(text(&roleport(&env, &["rules", "export"]).stdout), before);
}

#[tokio::test]
async fn an_http_oidc_broker_issuer_is_refused_at_start_outside_dev_mode() {
    let env = cli_env("[aws]\noidc_issuer = \"http://roleport.example.com\"\n").await;
    let check = |dev_mode: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_roleport"))
            .arg("--config")
            .arg(&env.config)
            .arg("check-config")
            .env("ROLEPORT_DATABASE__URL", &env.db_url)
            .env("ROLEPORT_SERVER__DEV_MODE", dev_mode)
            .env("ROLEPORT_AUDIT__KEY", crate::helpers::TEST_AUDIT_KEYS)
            .env(
                "ROLEPORT_SERVER__PUBLIC_URL",
                "https://roleport.example.com",
            )
            .env("RUST_LOG", "error")
            .output()
            .expect("run roleport")
    };
    let out = check("false");
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("aws.oidc_issuer must be https:// outside dev_mode")
            && err.contains("IAM registers only https OpenID Connect providers"),
        "{err}"
    );
}

/// `rules explain` says, per value, why an `ad_group` rule took it or not.
#[tokio::test]
async fn rules_explain_says_why_an_ad_group_value_matched_or_not() {
    let env = cli_env("").await;
    let (head, _) = TEST_RULES.split_once("rules:\n").unwrap();
    let rules = format!(
        "{head}rules:\n  - id: ad-admins\n    idp: demo-saml\n    claim: group\n    match: ad_group\n    pattern: aws-admins\n    domains: [EXAMPLE]\n    roles: [arn:aws:iam::123456789012:role/Admin]\n  - id: ad-readonly\n    idp: demo-saml\n    claim: group\n    match: ad_group\n    pattern: aws-readonly\n    domains: [EXAMPLE, CORP]\n    allow_unqualified: true\n    roles: [arn:aws:iam::123456789012:role/ReadOnly]\n"
    );
    let file = write(&env.dir, "rules.yaml", &rules);
    let out = roleport(&env, &["rules", "import", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // domains and allow_unqualified survive the database.
    let out = roleport(&env, &["rules", "export"]);
    let exported =
        roleport::protocol::mapping::parse_document(&text(&out.stdout)).expect("export parses");
    let original = roleport::protocol::mapping::parse_document(&rules).unwrap();
    assert_eq!(exported, original);
    let explain = |groups: &[&str]| {
        let mut args = vec!["rules", "explain", "--idp", "demo-saml"];
        for g in groups {
            args.extend(["--group", g]);
        }
        let out = roleport(&env, &args);
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    let matched = explain(&["EXAMPLE\\AWS-Admins"]);
    assert!(
        matched.contains(
            "EXAMPLE\\AWS-Admins matches aws-admins in domain EXAMPLE (case-insensitive)"
        ),
        "{matched}"
    );
    assert!(matched.contains("role/Admin"), "{matched}");
    let refused = explain(&["OTHER\\aws-admins", "aws-admins", "AWS-ReadOnly"]);
    assert!(
        refused.contains("OTHER\\aws-admins: domain OTHER is not one of EXAMPLE"),
        "{refused}"
    );
    assert!(
        refused.contains("aws-admins: an unqualified name, and the rule names domains (EXAMPLE)"),
        "{refused}"
    );
    // The bare name reaches the rule that allows unqualified names, and only it.
    assert!(
        refused.contains(
            "AWS-ReadOnly matches aws-readonly (case-insensitive, unqualified, allowed by allow_unqualified)"
        ),
        "{refused}"
    );
    assert!(refused.contains("Grants (1)"), "{refused}");
    assert!(refused.contains("role/ReadOnly"), "{refused}");
    assert!(!refused.contains("role/Admin  "), "{refused}");
}
