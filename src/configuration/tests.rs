use super::*;
use std::io::Write;

fn write(text: &str) -> tempfile_path::TempPath {
    tempfile_path::TempPath::with(text)
}

mod tempfile_path {
    pub struct TempPath(pub std::path::PathBuf);
    impl TempPath {
        pub fn with(text: &str) -> Self {
            let path =
                std::env::temp_dir().join(format!("roleport-cfg-{}.toml", uuid::Uuid::new_v4()));
            let mut f = std::fs::File::create(&path).unwrap();
            super::Write::write_all(&mut f, text.as_bytes()).unwrap();
            Self(path)
        }
    }
    impl Drop for TempPath {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

const BASE: &str = r#"
[server]
listen = "127.0.0.1:0"
dev_mode = true
[database]
url = "postgres://localhost/x"
"#;

#[test]
fn env_overrides_nest_and_keep_types() {
    let f = write(BASE);
    let s = load(
        &f.0,
        [
            (
                "ROLEPORT_SERVER__LISTEN".to_string(),
                "127.0.0.1:9".to_string(),
            ),
            (
                "ROLEPORT_SESSION__TTL_SECONDS".to_string(),
                "60".to_string(),
            ),
        ],
    )
    .unwrap();
    assert_eq!(s.server.listen, "127.0.0.1:9");
    assert_eq!(s.session.ttl_seconds, 60);
}

#[test]
fn secrets_come_from_file_variants() {
    let f = write(BASE);
    let secret = write("postgres://secret@localhost/db\n");
    let s = load(
        &f.0,
        [(
            "ROLEPORT_DATABASE__URL_FILE".to_string(),
            secret.0.display().to_string(),
        )],
    )
    .unwrap();
    use secrecy::ExposeSecret;
    assert_eq!(
        s.database.url.expose_secret(),
        "postgres://secret@localhost/db"
    );
}

#[test]
fn unknown_keys_are_refused() {
    let f = write(&format!("{BASE}\nbogus = 1\n"));
    assert!(matches!(load(&f.0, []), Err(ConfigError::Invalid(_))));
    let f = write(BASE);
    let err = load(&f.0, [("ROLEPORT_SERVER__LISTN".into(), "x".into())]);
    assert!(err.is_err());
}

#[test]
fn assertion_lifetime_cap_is_range_checked() {
    let f = write(BASE);
    let ok = load(&f.0, []).unwrap();
    assert_eq!(ok.saml.max_assertion_lifetime_seconds, 86_400);
    for good in ["60", "300", "86400"] {
        let f = write(&format!(
            "{BASE}\n[saml]\nmax_assertion_lifetime_seconds = {good}\n"
        ));
        assert!(load(&f.0, []).is_ok(), "{good}");
    }
    for bad in ["0", "59", "86401", "-5"] {
        let f = write(&format!(
            "{BASE}\n[saml]\nmax_assertion_lifetime_seconds = {bad}\n"
        ));
        let e = load(&f.0, []).unwrap_err().to_string();
        assert!(
            e.contains(&format!("saml.max_assertion_lifetime_seconds is {bad}"))
                && e.contains("between 60 and 86400"),
            "{e}"
        );
    }
}

#[test]
fn idp_without_pinned_key_is_refused_with_a_clear_message() {
    let f = write(&format!(
        "{BASE}\n[[idp]]\nid = \"corp\"\nkind = \"saml\"\ndisplay_name = \"Corp\"\nentity_id = \"x\"\nsso_url = \"https://idp/sso\"\n"
    ));
    let err = load(&f.0, []).unwrap_err().to_string();
    assert!(err.contains("no pinned signing certificate"), "{err}");
}

#[test]
fn non_setting_variables_are_ignored_but_typos_are_not() {
    let f = write(BASE);
    let env = [
        ("ROLEPORT_LOG_FORMAT".to_string(), "pretty".to_string()),
        ("ROLEPORT_TEST_PEERS_ENV".to_string(), "/x".to_string()),
        ("ROLEPORT_CONFIG".to_string(), "/y".to_string()),
        // roleport-cli's own, exported in the same shell.
        ("ROLEPORT_CLI_URL".to_string(), "https://rp".to_string()),
        ("ROLEPORT_CLI_HOME".to_string(), "/z".to_string()),
    ];
    assert!(load(&f.0, env).is_ok());
    let typo = [("ROLEPORT_SERVR__LISTEN".to_string(), "x".to_string())];
    assert!(load(&f.0, typo).is_err());
}

#[test]
fn federation_user_secret_only_from_env_or_file() {
    use secrecy::ExposeSecret;
    let in_file = write(&format!(
        "{BASE}\n[aws.federation_user]\naccess_key_id = \"AKIAEXAMPLE\"\nsecret_access_key = \"s3cr3t\"\n"
    ));
    let err = load(&in_file.0, []).unwrap_err().to_string();
    assert!(
        err.contains("must not be written in the configuration file"),
        "{err}"
    );

    let secret = write("s3cr3t\n");
    let f = write(&format!(
        "{BASE}\n[aws.federation_user]\naccess_key_id = \"AKIAEXAMPLE\"\n"
    ));
    let s = load(
        &f.0,
        [(
            "ROLEPORT_AWS__FEDERATION_USER__SECRET_ACCESS_KEY_FILE".to_string(),
            secret.0.display().to_string(),
        )],
    )
    .unwrap();
    let user = s.aws.federation_user.unwrap();
    assert_eq!(user.access_key_id.as_deref(), Some("AKIAEXAMPLE"));
    assert_eq!(user.secret_access_key.unwrap().expose_secret(), "s3cr3t");
    assert!(
        !format!(
            "{:?}",
            load(
                &f.0,
                [(
                    "ROLEPORT_AWS__FEDERATION_USER__SECRET_ACCESS_KEY_FILE".to_string(),
                    secret.0.display().to_string(),
                )]
            )
            .unwrap()
        )
        .contains("s3cr3t")
    );

    let paths = write(&format!(
        "{BASE}\n[aws.federation_user]\naccess_key_id_file = \"/run/secrets/id\"\nsecret_access_key_file = \"/run/secrets/key\"\n"
    ));
    assert!(load(&paths.0, []).is_ok());

    let half = write(&format!(
        "{BASE}\n[aws.federation_user]\naccess_key_id = \"AKIAEXAMPLE\"\n"
    ));
    let err = load(&half.0, []).unwrap_err().to_string();
    assert!(err.contains("secret_access_key"), "{err}");

    let typo = write(&format!(
        "{BASE}\n[aws.federation_user]\naccess_key = \"AKIAEXAMPLE\"\n"
    ));
    assert!(load(&typo.0, []).is_err(), "unknown keys stay an error");
}

#[test]
fn own_credentials_settings_name_no_secret() {
    let f = write(&format!(
        "{BASE}\n[aws.own_credentials]\nprofile = \"roleport\"\ncredentials_file = \"/etc/roleport/aws\"\ninstance_metadata = false\n"
    ));
    let s = load(&f.0, []).unwrap();
    assert_eq!(s.aws.own_credentials.profile.as_deref(), Some("roleport"));
    assert!(!s.aws.own_credentials.instance_metadata);
    assert!(AwsSettings::default().own_credentials.instance_metadata);
    let typo = write(&format!(
        "{BASE}\n[aws.own_credentials]\naccess_key_id = \"AKIA\"\n"
    ));
    assert!(load(&typo.0, []).is_err());
}

#[test]
fn dev_mode_needs_a_loopback_listener() {
    let f = write(&BASE.replace("127.0.0.1:0", "0.0.0.0:8080"));
    let err = load(&f.0, []).unwrap_err().to_string();
    assert!(err.contains("loopback"), "{err}");
}

#[test]
fn dev_mode_is_refused_off_loopback_and_http_outside_dev_mode() {
    let f = write(&BASE.replace(
        "dev_mode = true",
        "dev_mode = true\npublic_url = \"http://roleport.example.com\"",
    ));
    assert!(load(&f.0, []).is_err());
    let f = write(&BASE.replace(
        "dev_mode = true",
        "public_url = \"http://roleport.example.com\"",
    ));
    assert!(load(&f.0, []).is_err());
}

#[test]
fn the_oidc_broker_issuer_is_https_outside_dev_mode() {
    // Outside dev_mode the audit chain needs its key; it comes from the environment.
    let audit_key = || {
        [(
            "ROLEPORT_AUDIT__KEY".to_string(),
            "k1 dGVzdCBhdWRpdCBrZXkgb2YgdGhpcnR5LXR3byBieXRlcw==".to_string(),
        )]
    };
    let prod = BASE.replace(
        "dev_mode = true",
        "public_url = \"https://roleport.example.com\"",
    );
    let http = write(&format!(
        "{prod}[aws]\noidc_issuer = \"http://roleport.example.com\"\n"
    ));
    let err = load(&http.0, audit_key()).unwrap_err().to_string();
    assert!(
        err.contains("aws.oidc_issuer must be https://")
            && err.contains("IAM registers only https"),
        "{err}"
    );
    let https = write(&format!(
        "{prod}[aws]\noidc_issuer = \"https://sso.example.com/aws\"\n"
    ));
    assert!(load(&https.0, audit_key()).is_ok());
    // dev_mode keeps plain http for a loopback test issuer.
    let dev = write(&format!(
        "{BASE}[aws]\noidc_issuer = \"http://127.0.0.1:8080\"\n"
    ));
    assert!(load(&dev.0, []).is_ok());
}

const OIDC: &str = "\n[[idp]]\nid = \"demo-oidc\"\nkind = \"oidc\"\ndisplay_name = \"Demo\"\nissuer = \"http://127.0.0.1:38903\"\nclient_id = \"roleport\"\n";

#[test]
fn oidc_idp_parses_with_its_secret_from_the_environment() {
    use secrecy::ExposeSecret;
    let f = write(&format!(
        "{BASE}{OIDC}scopes = [\"openid\", \"groups\"]\nalgorithms = [\"RS256\", \"ES256\"]\n[idp.claims]\ngroups = [\"groups\", \"realm_access.roles\"]\n"
    ));
    let s = load(
        &f.0,
        [(
            "ROLEPORT_IDP_DEMO_OIDC_CLIENT_SECRET".to_string(),
            "s3cret".to_string(),
        )],
    )
    .unwrap();
    let oidc = s.idps[0].oidc().unwrap();
    assert_eq!(oidc.client_id, "roleport");
    assert_eq!(
        oidc.client_secret.as_ref().unwrap().expose_secret(),
        "s3cret"
    );
    assert_eq!(oidc.claims.groups.len(), 2);
    let policy = oidc.id_token_policy().unwrap();
    assert_eq!(policy.jws.allowed_algs.len(), 2);
    assert!(!format!("{s:?}").contains("s3cret"));
}

#[test]
fn saml_idps_keep_their_shape_and_unknown_keys_stay_errors() {
    let f = write(&format!(
        "{BASE}\n[[idp]]\nid = \"corp\"\nkind = \"saml\"\ndisplay_name = \"Corp\"\nmetadata_file = \"/x.xml\"\n"
    ));
    let s = load(&f.0, []).unwrap();
    assert!(matches!(s.idps[0].kind, IdpKind::Saml(_)));
    let f = write(&format!(
        "{BASE}\n[[idp]]\nid = \"corp\"\nkind = \"saml\"\ndisplay_name = \"Corp\"\nmetadata_file = \"/x.xml\"\nissuer = \"https://x\"\n"
    ));
    assert!(load(&f.0, []).is_err(), "an OIDC key on a SAML idp");
    let f = write(&format!("{BASE}{OIDC}metadata_url = \"https://x\"\n"));
    let env = [(
        "ROLEPORT_IDP_DEMO_OIDC_CLIENT_SECRET".to_string(),
        "x".to_string(),
    )];
    assert!(load(&f.0, env).is_err(), "a SAML key on an OIDC idp");
}

#[test]
fn weakening_oidc_settings_are_refused_with_clear_messages() {
    let secret = || {
        [(
            "ROLEPORT_IDP_DEMO_OIDC_CLIENT_SECRET".to_string(),
            "x".to_string(),
        )]
    };
    let err = |extra: &str| {
        let f = write(&format!("{BASE}{OIDC}{extra}"));
        load(&f.0, secret()).unwrap_err().to_string()
    };
    assert!(err("algorithms = [\"none\"]\n").contains("cannot be allowed"));
    assert!(err("algorithms = [\"HS256\"]\n").contains("cannot be allowed"));
    assert!(err("leeway_seconds = 3600\n").contains("leeway"));
    assert!(err("max_token_age_seconds = 999999\n").contains("max_age"));
    for bad in ["0", "59", "86401", "-1"] {
        let e = err(&format!("max_token_lifetime_seconds = {bad}\n"));
        assert!(
            e.contains("idp `demo-oidc`: max_token_lifetime_seconds is")
                && e.contains("between 60 and 86400"),
            "{e}"
        );
    }
    assert!(err("scopes = [\"email\"]\n").contains("openid"));
    assert!(err("client_secret = \"x\"\n").contains("must not be written"));
    let f = write(&format!("{BASE}{OIDC}"));
    let e = load(&f.0, []).unwrap_err().to_string();
    assert!(e.contains("no client secret"), "{e}");
    let f = write(&format!("{BASE}{OIDC}public_client = true\n"));
    assert!(load(&f.0, []).is_ok());
    let f = write(&format!("{BASE}{OIDC}public_client = true\n"));
    assert!(load(&f.0, secret()).is_err(), "public client with a secret");
    let f =
        write(&format!("{BASE}{OIDC}").replace("http://127.0.0.1:38903", "http://idp.example.com"));
    let e = load(&f.0, secret()).unwrap_err().to_string();
    assert!(e.contains("https"), "{e}");
}

const DIRECTORY_IDP: &str = r#"
[[idp]]
id = "corp"
display_name = "Corp"
kind = "saml"
metadata_file = "/dev/null"

[idp.directory]
kind = "ad"
url = "ldaps://dc.example.test"
ca_file = "/etc/roleport/ad-ca.pem"
base_dn = "DC=example,DC=test"
bind_dn = "CN=roleport,CN=Users,DC=example,DC=test"
bind_password_file = "/run/secrets/ad-bind"
group_format = "qualified"
netbios_domain = "EXAMPLE"
"#;

#[test]
fn directory_settings_parse_with_their_defaults() {
    let f = write(&format!("{BASE}{DIRECTORY_IDP}"));
    let s = load(&f.0, []).unwrap();
    let d = s.idps[0].saml().unwrap().directory.clone().unwrap();
    assert_eq!(d.kind, DirectoryKind::Ad);
    assert_eq!(d.user_attribute(), "sAMAccountName");
    assert_eq!(d.group_filter(), "(objectClass=group)");
    assert_eq!(d.identity(), Some(DirectoryIdentity::Subject));
    assert_eq!((d.timeout_ms, d.cache_seconds, d.max_depth), (3000, 60, 8));
    assert!(d.uses_tls());
    assert!(d.validate(false).is_ok());
}

#[test]
fn directory_without_tls_or_pinned_ca_is_refused_outside_dev_mode() {
    let f = write(&format!("{BASE}{DIRECTORY_IDP}"));
    let s = load(&f.0, []).unwrap();
    let good = s.idps[0].saml().unwrap().directory.clone().unwrap();

    let mut plain = good.clone();
    plain.url = "ldap://dc.example.test".into();
    let e = plain.validate(false).unwrap_err();
    assert!(e.contains("plain ldap://"), "{e}");
    assert!(plain.validate(true).is_ok(), "plain LDAP is for dev_mode");
    plain.starttls = true;
    assert!(plain.validate(false).is_ok(), "StartTLS with a pinned CA");

    let mut unpinned = good.clone();
    unpinned.ca_file = None;
    let e = unpinned.validate(false).unwrap_err();
    assert!(e.contains("ca_file is required"), "{e}");

    let mut both = good.clone();
    both.starttls = true;
    assert!(
        both.validate(true).is_err(),
        "starttls on ldaps:// makes no sense"
    );
}

#[test]
fn directory_settings_that_could_break_a_filter_are_refused() {
    let f = write(&format!("{BASE}{DIRECTORY_IDP}"));
    let s = load(&f.0, []).unwrap();
    let good = s.idps[0].saml().unwrap().directory.clone().unwrap();
    for (change, needle) in [
        (
            Box::new(|d: &mut DirectorySettings| d.user_attribute = Some("uid)(cn".into()))
                as Box<dyn Fn(&mut DirectorySettings)>,
            "not an LDAP attribute name",
        ),
        (
            Box::new(|d: &mut DirectorySettings| d.user_filter = Some("objectClass=user".into())),
            "not one parenthesised",
        ),
        (
            Box::new(|d: &mut DirectorySettings| d.identity = "email".into()),
            "use `subject` or `attribute:<name>`",
        ),
        (
            Box::new(|d: &mut DirectorySettings| d.netbios_domain = None),
            "needs netbios_domain",
        ),
        (
            Box::new(|d: &mut DirectorySettings| d.cache_seconds = 86400),
            "short TTL",
        ),
        (
            Box::new(|d: &mut DirectorySettings| d.max_depth = 0),
            "max_depth",
        ),
        (
            Box::new(|d: &mut DirectorySettings| d.base_dn = "not a dn".into()),
            "is not a DN",
        ),
    ] {
        let mut d = good.clone();
        change(&mut d);
        let e = d.validate(true).unwrap_err();
        assert!(e.contains(needle), "{e}");
    }
}

#[test]
fn unknown_directory_keys_are_refused() {
    let f = write(&format!(
        "{BASE}{DIRECTORY_IDP}bind_password = \"inline\"\n"
    ));
    let e = load(&f.0, []).unwrap_err().to_string();
    assert!(e.contains("bind_password"), "{e}");
}

#[test]
fn admission_and_pool_bounds_have_defaults_and_refuse_what_would_disable_them() {
    let audit_key = || {
        [(
            "ROLEPORT_AUDIT__KEY".to_string(),
            "k1 dGVzdCBhdWRpdCBrZXkgb2YgdGhpcnR5LXR3byBieXRlcw==".to_string(),
        )]
    };
    let prod = BASE.replace(
        "dev_mode = true",
        "public_url = \"https://roleport.example.com\"",
    );
    let s = load(&write(&prod).0, audit_key()).unwrap();
    assert_eq!(
        (
            s.admission.sign_in_in_flight,
            s.admission.oidc_callback_in_flight,
            s.admission.issue_in_flight,
            s.admission.max_waiting,
            s.admission.max_wait_ms,
            s.admission.retry_after_seconds,
            s.admission.body_timeout_ms
        ),
        (32, 64, 32, 32, 100, 1, 10_000)
    );
    assert_eq!(
        (s.database.max_connections, s.database.acquire_timeout_ms),
        (10, 1_000)
    );

    // No bound at all: refused outside dev_mode, with the setting named and why.
    for key in [
        "sign_in_in_flight",
        "oidc_callback_in_flight",
        "issue_in_flight",
    ] {
        let f = write(&format!("{prod}[admission]\n{key} = 0\n"));
        let err = load(&f.0, audit_key()).unwrap_err().to_string();
        assert!(
            err.contains(&format!("admission.{key} = 0 turns off the bound"))
                && err.contains("only with server.dev_mode"),
            "{err}"
        );
        // dev_mode may measure without it.
        assert!(load(&write(&format!("{BASE}[admission]\n{key} = 0\n")).0, []).is_ok());
    }
    // Bounds so large they bound nothing, in dev_mode too.
    for (extra, says) in [
        (
            "sign_in_in_flight = 100000",
            "admission.sign_in_in_flight is 100000",
        ),
        ("max_waiting = 1000000", "admission.max_waiting is 1000000"),
        ("max_wait_ms = 30000", "a longer wait is a queue"),
        (
            "retry_after_seconds = 0",
            "admission.retry_after_seconds is 0",
        ),
        ("body_timeout_ms = 0", "admission.body_timeout_ms is 0"),
    ] {
        let err = load(&write(&format!("{BASE}[admission]\n{extra}\n")).0, [])
            .unwrap_err()
            .to_string();
        assert!(err.contains(says), "{extra}: {err}");
    }
    for (extra, says) in [
        ("acquire_timeout_ms = 0", "database.acquire_timeout_ms is 0"),
        (
            "acquire_timeout_ms = 600000",
            "database.acquire_timeout_ms is 600000",
        ),
        ("max_connections = 0", "database.max_connections is 0"),
    ] {
        // [database] is BASE's last table.
        let err = load(&write(&format!("{BASE}{extra}\n")).0, [])
            .unwrap_err()
            .to_string();
        assert!(err.contains(says), "{extra}: {err}");
    }
    // The environment reaches them like any other setting.
    let s = load(
        &write(BASE).0,
        [
            (
                "ROLEPORT_ADMISSION__SIGN_IN_IN_FLIGHT".to_string(),
                "8".to_string(),
            ),
            (
                "ROLEPORT_DATABASE__ACQUIRE_TIMEOUT_MS".to_string(),
                "250".to_string(),
            ),
        ],
    )
    .unwrap();
    assert_eq!(s.admission.sign_in_in_flight, 8);
    assert_eq!(s.database.acquire_timeout_ms, 250);
    assert!(load(&write(&format!("{BASE}[admission]\nin_flight = 3\n")).0, []).is_err());
}
