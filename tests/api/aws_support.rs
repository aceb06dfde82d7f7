//! Support tools: DecodeAuthorizationMessage (page and CLI) against a fake STS, since moto
//! lacks the operation; the credentials check (fresh credentials, then GetCallerIdentity)
//! against moto.

use crate::aws_harness::*;
use crate::helpers::*;
use std::path::PathBuf;

const ADMIN: &str = "123456789012-Admin";
const READONLY: &str = "123456789012-ReadOnly";

/// The test rules, with the decode capability granted to the admins rule (alice), not to the
/// read-only rule (bob).
fn decode_rules() -> String {
    TEST_RULES.replace(
        "    roles: [arn:aws:iam::123456789012:role/Admin]\n",
        "    roles: [arn:aws:iam::123456789012:role/Admin]\n    capabilities: [decode-authorization-message]\n",
    )
}

/// Roleport's own credentials, as its environment would hold them.
const OWN_KEY: &str = "AKIAROLEPORTEXAMPLE1";
const OWN_SECRET: &str = "roleportOwnSecretExampleKey0000000000000";
const OWN_TOKEN: &str = "roleport-own-session-token-example";
pub(crate) const OWN_CREDENTIALS: &[(&str, &str)] = &[
    ("AWS_ACCESS_KEY_ID", OWN_KEY),
    ("AWS_SECRET_ACCESS_KEY", OWN_SECRET),
    ("AWS_SESSION_TOKEN", OWN_TOKEN),
];
const CREDENTIAL_VARS: &[&str] = &[
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
];

/// An encoded message as AWS prints it (opaque; wrapped as a terminal would).
pub(crate) const ENCODED: &str = "Xox5wMB0w-v5x_s7TQ0f3EgC3Tnq0s5tPvtMeP0oSZMRKzGEXAMPLEc9\n  Rmf2Vs8ZcJo7sKVfLqZtW1Jv4k3Mn8EXAMPLEmRz1qQ7nZp2yV0GtW_";
/// A message the fake STS says it cannot decode.
const UNDECODABLE: &str = "not-an-encoded-authorization-message";
/// A message for which the fake STS refuses Roleport itself.
const FORBIDDEN_TO_ROLEPORT: &str = "message-roleport-may-not-decode";

/// What DecodeAuthorizationMessage returns for [`ENCODED`]: AWS's documented structure, with
/// a tag value that would be markup if a page forgot to escape it.
pub(crate) const DECODED: &str = r#"{"allowed":false,"explicitDeny":true,"matchedStatements":{"items":[{"statementId":"DenyLargeInstances","effect":"DENY","principals":{"items":[{"value":"AROAEXAMPLEROLEID"}]},"principalGroups":{"items":[]},"actions":{"items":[{"value":"ec2:RunInstances"}]},"resources":{"items":[{"value":"*"}]},"conditions":{"items":[]}}]},"failures":{"items":[]},"context":{"principal":{"id":"AROAEXAMPLEROLEID:alice@example.org","name":"alice@example.org","arn":"arn:aws:sts::123456789012:assumed-role/ReadOnly/alice@example.org@demo-saml"},"action":"ec2:RunInstances","resource":"arn:aws:ec2:us-east-1:123456789012:instance/*","conditions":{"items":[{"key":"ec2:InstanceType","values":{"items":[{"value":"m5.24xlarge"}]}},{"key":"aws:Region","values":{"items":[{"value":"us-east-1"}]}},{"key":"aws:RequestTag/Name","values":{"items":[{"value":"<script>alert(1)</script>"}]}}]}}}"#;

/// A fake STS for DecodeAuthorizationMessage: decodes [`ENCODED`] (whitespace removed),
/// refuses [`UNDECODABLE`] as AWS does, denies Roleport for [`FORBIDDEN_TO_ROLEPORT`].
pub(crate) async fn decoding_sts() -> FakeServer {
    fake_sts(|r| {
        assert_eq!(r.params["Action"], "DecodeAuthorizationMessage");
        let message = r.params.get("EncodedMessage").map(String::as_str);
        let expected: String = ENCODED.chars().filter(|c| !c.is_whitespace()).collect();
        match message {
            Some(m) if m == expected => decode_authorization_message_ok(DECODED),
            Some(UNDECODABLE) => sts_error(
                400,
                "InvalidAuthorizationMessageException",
                "The message is invalid.",
            ),
            Some(FORBIDDEN_TO_ROLEPORT) => sts_error(
                403,
                "AccessDenied",
                "User: arn:aws:iam::123456789012:user/roleport-broker is not authorized to perform: sts:DecodeAuthorizationMessage",
            ),
            other => sts_error(400, "ValidationError", &format!("unexpected {other:?}")),
        }
    })
    .await
}

async fn decode_app(sts: &FakeServer) -> TestApp {
    let mut aws = aws_settings(&sts.url, None);
    aws.sts_max_attempts = 2;
    spawn_app_with(Options {
        aws: Some(aws),
        rules_yaml: decode_rules(),
        ..Options::default()
    })
    .await
}

async fn post_decode(app: &TestApp, csrf: Option<&str>, message: &str) -> reqwest::Response {
    let mut form = vec![("encoded_message", message), ("partition", "aws")];
    if let Some(csrf) = csrf {
        form.push(("csrf_token", csrf));
    }
    app.client
        .post(format!("{}/support/decode", app.address))
        .form(&form)
        .send()
        .await
        .unwrap()
}

async fn row(app: &TestApp, reference: &str) -> serde_json::Value {
    let rows = roleport::db::audit::by_reference(&app.pool, reference)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    serde_json::to_value(&rows[0]).unwrap()
}

fn text_of(html: &str, id: &str) -> String {
    let re = regex::Regex::new(&format!(r#"id="{id}"[^>]*>(?:<strong>)?([^<]*)<"#)).unwrap();
    html_unescape(
        &re.captures(html)
            .unwrap_or_else(|| panic!("no #{id} in:\n{html}"))[1],
    )
}

#[tokio::test]
async fn decode_page_shows_the_decoded_message_readably_to_people_granted_it() {
    if !in_child_with_env(
        "aws_support::decode_page_shows_the_decoded_message_readably_to_people_granted_it",
        OWN_CREDENTIALS,
        &[],
    ) {
        return;
    }
    let sts = decoding_sts().await;
    let app = decode_app(&sts).await;
    app.sign_in("alice").await;

    // The roles page links the tool for alice.
    let roles = app.get("/roles").await.text().await.unwrap();
    assert!(roles.contains(r#"href="/support/decode""#), "{roles}");
    let form = app.get("/support/decode").await;
    assert_eq!(form.status(), 200);
    let form = form.text().await.unwrap();
    assert!(form.contains(r#"name="encoded_message""#));
    assert!(form.contains(r#"<option value="aws-cn""#));

    let csrf = app.csrf_token().await;
    let resp = post_decode(&app, Some(&csrf), ENCODED).await;
    assert_eq!(resp.status(), 200);
    let html = resp.text().await.unwrap();

    // The key facts…
    assert_eq!(text_of(&html, "verdict"), "Denied");
    assert_eq!(text_of(&html, "explicit-deny"), "Yes");
    assert_eq!(text_of(&html, "action"), "ec2:RunInstances");
    assert_eq!(
        text_of(&html, "resource"),
        "arn:aws:ec2:us-east-1:123456789012:instance/*"
    );
    assert_eq!(
        text_of(&html, "principal"),
        "arn:aws:sts::123456789012:assumed-role/ReadOnly/alice@example.org@demo-saml"
    );
    assert!(html.contains("<code>ec2:InstanceType</code> = <code>m5.24xlarge</code>"));
    assert!(html.contains("<code>aws:Region</code> = <code>us-east-1</code>"));
    // …and the whole message, pretty-printed and escaped.
    assert!(!html.contains("<script>alert"), "decoded text is escaped");
    let pretty = html_unescape(
        &regex::Regex::new(r#"(?s)<pre id="decoded-json">(.*?)</pre>"#)
            .unwrap()
            .captures(&html)
            .unwrap()[1]
            .replace("&#60;", "&lt;")
            .replace("&#62;", "&gt;"),
    );
    assert!(pretty.contains("\n  \"allowed\": false,"), "{pretty}");
    let shown: serde_json::Value = serde_json::from_str(&pretty).unwrap();
    assert_eq!(
        shown,
        serde_json::from_str::<serde_json::Value>(DECODED).unwrap()
    );

    // STS got the message without the line wrapping, signed with Roleport's own key.
    let calls = sts.seen.lock().unwrap().clone();
    assert_eq!(calls.len(), 1);
    assert_eq!(
        calls[0].params["EncodedMessage"],
        ENCODED
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
    );
    assert_eq!(
        sigv4_scope(&calls[0]),
        Some((OWN_KEY.into(), "us-east-1".into(), "sts".into()))
    );
    assert_eq!(calls[0].headers["x-amz-security-token"], OWN_TOKEN);

    // Audited: who, which key, what was refused — not the message itself.
    let audit = row(&app, &reference_in(&html)).await;
    assert_eq!(audit["kind"], "authorization_message_decoded");
    assert_eq!(audit["outcome"], "accepted");
    assert_eq!(audit["subject"], "alice");
    assert_eq!(audit["details"]["own_access_key_id"], OWN_KEY);
    assert_eq!(audit["details"]["action"], "ec2:RunInstances");
    assert_eq!(audit["details"]["allowed"], false);
    assert_eq!(audit["details"]["explicit_deny"], true);
    assert!(audit["details"]["sts_request_id"].is_string());
    let text = audit.to_string();
    assert!(!text.contains(OWN_SECRET) && !text.contains(OWN_TOKEN));
    assert!(
        !text.contains("Xox5wMB0w"),
        "the encoded message is not kept"
    );
}

#[tokio::test]
async fn decode_refuses_bad_input_and_names_what_aws_could_not_decode() {
    if !in_child_with_env(
        "aws_support::decode_refuses_bad_input_and_names_what_aws_could_not_decode",
        OWN_CREDENTIALS,
        &[],
    ) {
        return;
    }
    let sts = decoding_sts().await;
    let app = decode_app(&sts).await;
    app.sign_in("alice").await;
    let csrf = app.csrf_token().await;

    // No CSRF token: nothing is sent.
    let resp = post_decode(&app, None, ENCODED).await;
    assert_eq!(resp.status(), 400);
    let resp = post_decode(&app, Some("forged"), ENCODED).await;
    assert_eq!(resp.status(), 400);

    // Empty, too long, not ASCII: refused before STS, with the form shown again.
    for (bad, says) in [
        ("   ", "Paste the encoded message"),
        (&"a".repeat(10_241)[..], "at most 10240 characters"),
        ("caf\u{e9}", "printable ASCII"),
    ] {
        let resp = post_decode(&app, Some(&csrf), bad).await;
        assert_eq!(resp.status(), 400);
        let html = resp.text().await.unwrap();
        assert!(html_unescape(&html).contains(says), "{says}: {html}");
        assert!(html.contains(r#"id="problem""#));
        let audit = row(&app, &reference_in(&html)).await;
        assert_eq!(audit["outcome"], "rejected");
        assert!(
            audit["reason"]
                .as_str()
                .unwrap()
                .starts_with("bad_encoded_message: ")
        );
    }
    let resp = app
        .client
        .post(format!("{}/support/decode", app.address))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("encoded_message", ENCODED),
            ("partition", "aws-mars\u{0}"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let html = resp.text().await.unwrap();
    assert!(html.contains("Choose the partition"), "{html}");
    let audit = row(&app, &reference_in(&html)).await;
    assert_eq!(audit["details"]["partition"], "invalid");
    assert_eq!(sts.seen.lock().unwrap().len(), 0);

    // AWS cannot decode it: the person is told so (400), the code is audited.
    let resp = post_decode(&app, Some(&csrf), UNDECODABLE).await;
    assert_eq!(resp.status(), 400);
    let html = resp.text().await.unwrap();
    assert!(
        html.contains("not a valid encoded authorization message"),
        "{html}"
    );
    let audit = row(&app, &reference_in(&html)).await;
    assert!(
        audit["reason"]
            .as_str()
            .unwrap()
            .starts_with("sts_invalid_message: ")
    );

    // AWS refuses Roleport itself: a refusal that retrying will not fix (422), named.
    let resp = post_decode(&app, Some(&csrf), FORBIDDEN_TO_ROLEPORT).await;
    assert_eq!(resp.status(), 422);
    let html = resp.text().await.unwrap();
    assert!(html.contains("AWS denied access"), "{html}");
    let audit = row(&app, &reference_in(&html)).await;
    assert!(
        audit["reason"]
            .as_str()
            .unwrap()
            .starts_with("sts_access_denied: ")
    );
    assert_eq!(sts.seen.lock().unwrap().len(), 2, "no retries for 4xx");
}

#[tokio::test]
async fn decode_is_refused_with_a_403_page_and_an_audit_row_without_the_capability() {
    let sts = decoding_sts().await;
    let app = decode_app(&sts).await;

    // Not signed in: sign in first (page) or 401 (form post).
    let resp = app.get("/support/decode").await;
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/login?return_to=%2Fsupport%2Fdecode");
    let resp = post_decode(&app, Some("x"), ENCODED).await;
    assert_eq!(resp.status(), 401);

    // bob's rules grant ReadOnly but not the capability.
    app.sign_in("bob").await;
    let roles = app.get("/roles").await.text().await.unwrap();
    assert!(roles.contains(READONLY), "{roles}");
    assert!(!roles.contains("/support/decode"), "no link for bob");

    let resp = app.get("/support/decode").await;
    assert_eq!(resp.status(), 403);
    let html = resp.text().await.unwrap();
    assert!(html.contains("Not allowed"), "{html}");
    assert!(html.contains("only for people whose access rules grant it"));
    assert!(!html.contains(r#"name="encoded_message""#));
    let audit = row(&app, &reference_in(&html)).await;
    assert_eq!(audit["kind"], "authorization_message_decoded");
    assert_eq!(audit["outcome"], "rejected");
    assert_eq!(audit["subject"], "bob");
    assert!(
        audit["reason"]
            .as_str()
            .unwrap()
            .starts_with("no_capability: ")
    );

    // Posting the form directly is refused the same way, and nothing reaches STS.
    let csrf = app.csrf_token().await;
    let resp = post_decode(&app, Some(&csrf), ENCODED).await;
    assert_eq!(resp.status(), 403);
    let html = resp.text().await.unwrap();
    let audit = row(&app, &reference_in(&html)).await;
    assert_eq!(audit["outcome"], "rejected");
    assert_eq!(sts.seen.lock().unwrap().len(), 0);
}

#[tokio::test]
async fn decode_without_roleports_own_credentials_says_so_and_sends_nothing() {
    if !in_child_with_env(
        "aws_support::decode_without_roleports_own_credentials_says_so_and_sends_nothing",
        &[],
        CREDENTIAL_VARS,
    ) {
        return;
    }
    let sts = decoding_sts().await;
    let app = decode_app(&sts).await;
    app.sign_in("alice").await;
    let csrf = app.csrf_token().await;
    let resp = post_decode(&app, Some(&csrf), ENCODED).await;
    // Roleport is not set up for the call: not a "try again".
    assert_eq!(resp.status(), 500);
    let html = resp.text().await.unwrap();
    assert!(
        html.contains("it has no AWS credentials of its own"),
        "{html}"
    );
    let audit = row(&app, &reference_in(&html)).await;
    let reason = audit["reason"].as_str().unwrap();
    assert!(reason.starts_with("no_own_credentials: "), "{reason}");
    assert!(
        reason.contains("AWS_ACCESS_KEY_ID"),
        "the log says what to set"
    );
    assert_eq!(sts.seen.lock().unwrap().len(), 0);
}

// ----- The command line -----

fn cli_config(sts: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "roleport-support-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("roleport.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\ndev_mode = true\n[database]\nurl = \"unused\"\n\
             [aws]\nsts_max_attempts = 1\nsts_timeout_seconds = 5\n[aws.endpoints.aws]\nsts = \"{sts}\"\n"
        ),
    )
    .unwrap();
    config
}

fn roleport(
    config: &PathBuf,
    args: &[&str],
    env: &[(&str, &str)],
    stdin: Option<&str>,
) -> std::process::Output {
    use std::io::Write;
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_roleport"));
    command
        .arg("--config")
        .arg(config)
        .args(args)
        .env(
            "ROLEPORT_DATABASE__URL",
            "postgres://unused@127.0.0.1:1/unused",
        )
        .env("RUST_LOG", "error")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for k in CREDENTIAL_VARS {
        command.env_remove(k);
    }
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

#[tokio::test]
async fn decode_message_cli_prints_the_pretty_json() {
    let sts = decoding_sts().await;
    let config = cli_config(&sts.url);
    let expected: serde_json::Value = serde_json::from_str(DECODED).unwrap();

    // Runs in a blocking thread: the fake STS answers on this test's runtime.
    let cfg = config.clone();
    let out = tokio::task::spawn_blocking(move || {
        roleport(
            &cfg,
            &["aws", "decode-message", ENCODED],
            OWN_CREDENTIALS,
            None,
        )
    })
    .await
    .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("{\n  \""), "pretty-printed: {stdout}");
    let printed: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(printed, expected);

    // `-` reads the message from standard input.
    let cfg = config.clone();
    let out = tokio::task::spawn_blocking(move || {
        roleport(
            &cfg,
            &["aws", "decode-message", "-"],
            OWN_CREDENTIALS,
            Some(ENCODED),
        )
    })
    .await
    .unwrap();
    assert!(out.status.success());
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed, expected);

    let calls = sts.seen.lock().unwrap().clone();
    assert_eq!(calls.len(), 2);
    for call in &calls {
        assert_eq!(
            sigv4_scope(call),
            Some((OWN_KEY.into(), "us-east-1".into(), "sts".into()))
        );
    }
}

/// Environment variables for a child process.
type Env = &'static [(&'static str, &'static str)];

#[tokio::test]
async fn decode_message_cli_fails_clearly_and_non_zero() {
    let sts = decoding_sts().await;
    let config = cli_config(&sts.url);
    let run = |args: Vec<&'static str>, env: Env| {
        let cfg = config.clone();
        tokio::task::spawn_blocking(move || roleport(&cfg, &args, env, None))
    };
    let cases: Vec<(Vec<&'static str>, Env, &str)> = vec![
        (
            vec!["aws", "decode-message", ENCODED],
            &[],
            "no AWS credentials of its own: set AWS_ACCESS_KEY_ID",
        ),
        (
            vec!["aws", "decode-message", UNDECODABLE],
            OWN_CREDENTIALS,
            "not a valid encoded authorization message",
        ),
        (
            vec!["aws", "decode-message", FORBIDDEN_TO_ROLEPORT],
            OWN_CREDENTIALS,
            "AWS denied access",
        ),
        (
            vec!["aws", "decode-message", "  "],
            OWN_CREDENTIALS,
            "Paste the encoded message",
        ),
        (
            vec!["aws", "decode-message", "--partition", "aws-mars", ENCODED],
            OWN_CREDENTIALS,
            "expected aws, aws-cn or aws-us-gov",
        ),
    ];
    for (args, env, says) in cases {
        let out = run(args.clone(), env).await.unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(stderr.starts_with("roleport: "), "{stderr}");
        assert!(out.stdout.is_empty(), "{args:?} printed on stdout");
        assert!(!stderr.contains(OWN_SECRET));
    }
    let refused = String::from_utf8_lossy(
        &run(
            vec!["aws", "decode-message", FORBIDDEN_TO_ROLEPORT],
            OWN_CREDENTIALS,
        )
        .await
        .unwrap()
        .stderr,
    )
    .into_owned();
    assert!(refused.contains("sts_access_denied"), "{refused}");
}

// ----- The credentials check, against moto -----

async fn check_app() -> (TestApp, FakeServer) {
    let sts = recording_sts().await;
    let app = spawn_app_with(Options {
        aws: Some(aws_settings(&sts.url, None)),
        ..Options::default()
    })
    .await;
    (app, sts)
}

#[tokio::test]
async fn credentials_check_runs_get_caller_identity_with_fresh_credentials() {
    let (app, sts) = check_app().await;
    app.sign_in("alice").await;
    let csrf = app.csrf_token().await;

    // The form: a page with the ARN, account and user id that moto names.
    let resp = app
        .client
        .post(format!("{}/roles/{ADMIN}/check", app.address))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let html = resp.text().await.unwrap();
    let arn = "arn:aws:sts::123456789012:assumed-role/Admin/alice@example.org@demo-saml";
    assert_eq!(text_of(&html, "caller-arn"), arn);
    assert_eq!(text_of(&html, "caller-account"), "123456789012");
    let user_id = text_of(&html, "caller-user-id");
    assert!(
        user_id.starts_with("AROA") && user_id.ends_with(":alice@example.org@demo-saml"),
        "{user_id}"
    );
    assert!(html.contains("The check passed"), "{html}");
    // The check's credentials are not handed out.
    assert!(!html.contains("SecretAccessKey") && !html.contains("aws_secret_access_key"));

    // STS saw the issue and then GetCallerIdentity signed with the issued key.
    let calls = sts.seen.lock().unwrap().clone();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].params["Action"], "AssumeRoleWithSAML");
    assert_eq!(
        calls[0].params["DurationSeconds"], "900",
        "the shortest session"
    );
    assert_eq!(calls[1].params["Action"], "GetCallerIdentity");
    let key = text_of(&html, "access-key-id");
    assert_eq!(
        sigv4_scope(&calls[1]),
        Some((key.clone(), "us-east-1".into(), "sts".into()))
    );
    assert!(calls[1].headers.contains_key("x-amz-security-token"));

    // Audited: the issue (for a check), then what GetCallerIdentity said, under one reference.
    let rows = roleport::db::audit::by_reference(&app.pool, &reference_in(&html))
        .await
        .unwrap();
    let rows: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| serde_json::to_value(r).unwrap())
        .collect();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0]["kind"], "credentials_check");
    assert_eq!(rows[0]["outcome"], "accepted");
    assert_eq!(rows[0]["details"]["access_key_id"], key.as_str());
    assert_eq!(rows[1]["kind"], "caller_identity_checked");
    assert_eq!(rows[1]["outcome"], "accepted");
    assert_eq!(rows[1]["details"]["caller_arn"], arn);
    assert_eq!(rows[1]["details"]["caller_account"], "123456789012");
    assert_eq!(rows[1]["details"]["matches"], true);
    assert_eq!(rows[1]["subject"], "alice");

    // The API: the same as JSON.
    let resp = app
        .client
        .post(format!("{}/api/v1/credentials/check", app.address))
        .header("X-CSRF-Token", &csrf)
        .json(&serde_json::json!({ "grant": READONLY }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(
        body["Arn"],
        "arn:aws:sts::123456789012:assumed-role/ReadOnly/alice@example.org@demo-saml"
    );
    assert_eq!(body["Account"], "123456789012");
    assert!(
        body["UserId"]
            .as_str()
            .unwrap()
            .ends_with(":alice@example.org@demo-saml")
    );
    assert_eq!(body["Matches"], true);
    assert!(body.get("SecretAccessKey").is_none() && body.get("SessionToken").is_none());
    let rows = roleport::db::audit::by_reference(&app.pool, body["Reference"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
}

#[tokio::test]
async fn credentials_check_needs_csrf_and_a_granted_role() {
    let (app, sts) = check_app().await;
    app.sign_in("bob").await;
    let resp = app
        .client
        .post(format!("{}/roles/{READONLY}/check", app.address))
        .form(&[("csrf_token", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let resp = app
        .client
        .post(format!("{}/api/v1/credentials/check", app.address))
        .json(&serde_json::json!({ "grant": READONLY }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let csrf = app.csrf_token().await;
    let resp = app
        .client
        .post(format!("{}/api/v1/credentials/check", app.address))
        .header("X-CSRF-Token", &csrf)
        .json(&serde_json::json!({ "grant": ADMIN }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404, "bob has no Admin grant");
    let problem: serde_json::Value = resp.json().await.unwrap();
    let rows = roleport::db::audit::by_reference(&app.pool, problem["reference"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_value(&rows[0]).unwrap()["kind"],
        "credentials_check"
    );
    assert!(rows[0].reason.as_deref().unwrap().starts_with("no_grant"));
    assert_eq!(sts.seen.lock().unwrap().len(), 0);

    let anonymous = browser()
        .post(format!("{}/api/v1/credentials/check", app.address))
        .json(&serde_json::json!({ "grant": READONLY }))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
}

#[tokio::test]
async fn credentials_check_reports_an_sts_failure_with_its_reference() {
    // Issue succeeds (fake STS), GetCallerIdentity is refused.
    let sts = fake_sts(|r| match r.params["Action"].as_str() {
        "AssumeRoleWithSAML" => assume_role_with_saml_ok(r),
        _ => sts_error(403, "AccessDenied", "not allowed"),
    })
    .await;
    let app = spawn_app_with(Options {
        aws: Some(aws_settings(&sts.url, None)),
        ..Options::default()
    })
    .await;
    app.sign_in("alice").await;
    let csrf = app.csrf_token().await;
    let resp = app
        .client
        .post(format!("{}/api/v1/credentials/check", app.address))
        .header("X-CSRF-Token", &csrf)
        .json(&serde_json::json!({ "grant": ADMIN }))
        .send()
        .await
        .unwrap();
    // AccessDenied on GetCallerIdentity: refused, and retrying will not fix it.
    assert_eq!(resp.status(), 422);
    let problem: serde_json::Value = resp.json().await.unwrap();
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("AWS could not confirm them"),
        "{problem}"
    );
    let rows = roleport::db::audit::by_reference(&app.pool, problem["reference"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    let last = serde_json::to_value(&rows[1]).unwrap();
    assert_eq!(last["kind"], "caller_identity_checked");
    assert_eq!(last["outcome"], "rejected");
    assert!(
        last["reason"]
            .as_str()
            .unwrap()
            .starts_with("sts_access_denied: ")
    );
}
