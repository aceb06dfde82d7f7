//! roleport-cli end to end, with real clients: the CLI binary itself, signed in through the
//! headless Chromium (SAML and OIDC IdPs; the browser flow and the device flow), then the AWS
//! CLI and boto3 (from the test venv) calling `sts get-caller-identity` on moto through the
//! profiles `roleport-cli configure` wrote.
//!
//! Every CLI and AWS CLI call runs on a blocking thread: the app under test runs on this test's
//! runtime and must keep answering meanwhile.

use crate::aws_harness::*;
use crate::helpers::*;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

const ADMIN: &str = "123456789012-Admin";
const READONLY: &str = "123456789012-ReadOnly";
const ADMIN_PROFILE: &str = "roleport-123456789012-Admin";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The CLI binary, built once per test run (it is another workspace member, so cargo does not
/// build it for this test binary by itself).
fn cli_binary() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let out = Command::new(env!("CARGO"))
                .args(["build", "--quiet", "-p", "roleport-cli"])
                .current_dir(repo())
                .output()
                .expect("run cargo build -p roleport-cli");
            assert!(
                out.status.success(),
                "cargo build -p roleport-cli failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            // This test binary is target/<profile>/deps/api-…; the CLI is target/<profile>/.
            let exe = std::env::current_exe().unwrap();
            let profile_dir = exe.parent().and_then(Path::parent).unwrap();
            let cli = profile_dir.join("roleport-cli");
            assert!(cli.is_file(), "{} is missing", cli.display());
            cli
        })
        .clone()
}

/// A program of the test venv (deploy/peers/moto/install.sh installs awscli and boto3 there).
fn venv_bin(name: &str) -> PathBuf {
    let venv = std::env::var_os("ROLEPORT_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(".run/venv"));
    let bin = venv.join("bin").join(name);
    assert!(
        bin.is_file(),
        "{} is missing: run `bash deploy/peers/moto/install.sh` (deploy/test.sh does)",
        bin.display()
    );
    bin
}

/// One engineer's machine: the CLI's state, an AWS config file, a clean AWS environment.
struct Laptop {
    dir: PathBuf,
}

impl Laptop {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "roleport-cli-e2e-{}",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        // A profile of the engineer's own that configure must leave alone.
        std::fs::write(
            dir.join("aws-config"),
            "[profile mine]\nregion = eu-central-1\noutput = text\n",
        )
        .unwrap();
        Self { dir }
    }

    fn aws_config(&self) -> PathBuf {
        self.dir.join("aws-config")
    }

    fn env(&self, cmd: &mut Command) {
        for var in [
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "AWS_PROFILE",
            "AWS_DEFAULT_PROFILE",
            "ROLEPORT_CLI_URL",
        ] {
            cmd.env_remove(var);
        }
        cmd.env("ROLEPORT_CLI_HOME", self.dir.join("home"))
            .env("AWS_CONFIG_FILE", self.aws_config())
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                self.dir.join("aws-credentials"),
            )
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_MAX_ATTEMPTS", "1")
            // The CLI must never open a real browser here; the test drives Chromium itself.
            .env("BROWSER", "true");
    }

    fn cli_cmd(&self, args: &[&str], skew: i64) -> Command {
        let mut cmd = Command::new(cli_binary());
        cmd.args(args);
        self.env(&mut cmd);
        if skew != 0 {
            cmd.env("ROLEPORT_CLI_CLOCK_SKEW_SECONDS", skew.to_string());
        }
        cmd
    }

    async fn cli(&self, args: &[&str]) -> Output {
        self.cli_skewed(args, 0).await
    }

    async fn cli_skewed(&self, args: &[&str], skew: i64) -> Output {
        let mut cmd = self.cli_cmd(args, skew);
        tokio::task::spawn_blocking(move || cmd.output().expect("run roleport-cli"))
            .await
            .unwrap()
    }

    /// `aws sts get-caller-identity --profile <profile>` against moto.
    async fn aws_caller(&self, profile: &str, skew: i64) -> Output {
        let mut cmd = Command::new(venv_bin("aws"));
        cmd.args([
            "sts",
            "get-caller-identity",
            "--output",
            "json",
            "--profile",
            profile,
            "--endpoint-url",
            MOTO.get("MOTO_URL"),
        ]);
        self.env(&mut cmd);
        if skew != 0 {
            cmd.env("ROLEPORT_CLI_CLOCK_SKEW_SECONDS", skew.to_string());
        }
        tokio::task::spawn_blocking(move || cmd.output().expect("run aws"))
            .await
            .unwrap()
    }

    /// boto3 through the same profile.
    async fn boto3_caller(&self, profile: &str) -> Output {
        let mut cmd = Command::new(venv_bin("python"));
        cmd.args([
            "-c",
            "import sys, boto3\ns = boto3.Session(profile_name=sys.argv[1])\nprint(s.client('sts', endpoint_url=sys.argv[2], region_name='us-east-1').get_caller_identity()['Arn'])",
            profile,
            MOTO.get("MOTO_URL"),
        ]);
        self.env(&mut cmd);
        tokio::task::spawn_blocking(move || cmd.output().expect("run python"))
            .await
            .unwrap()
    }

    /// `roleport-cli login` (browser or device flow), with the browser half done by Chromium.
    async fn login(
        &self,
        app: &TestApp,
        idp: &str,
        user: &str,
        device: bool,
    ) -> (Value, Vec<String>) {
        let mut args = vec!["login", "--url", app.address.as_str()];
        if device {
            args.push("--device");
        }
        let mut cmd = self.cli_cmd(&args, 0);
        cmd.stderr(Stdio::piped()).stdout(Stdio::null());
        let mut child = cmd.spawn().expect("spawn roleport-cli login");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<(String, Option<String>)>();
        let reader = tokio::task::spawn_blocking(move || {
            let mut lines = Vec::new();
            let mut tx = Some(tx);
            let mut url = None;
            for line in BufReader::new(stderr).lines() {
                let line = line.unwrap_or_default();
                let t = line.trim().to_string();
                if url.is_none() && t.starts_with("http") {
                    url = Some(t.clone());
                    if !device && let Some(tx) = tx.take() {
                        let _ = tx.send((t.clone(), None));
                    }
                } else if device
                    && url.is_some()
                    && tx.is_some()
                    && !t.is_empty()
                    && !t.contains(' ')
                {
                    // The line after the URL's sentence: the code itself.
                    if let Some(tx) = tx.take() {
                        let _ = tx.send((url.clone().unwrap_or_default(), Some(t.clone())));
                    }
                }
                lines.push(line);
            }
            lines
        });
        let (url, code) = rx.await.expect("roleport-cli login printed no URL");
        let shot = std::env::temp_dir().join(format!(
            "roleport-cli-login-{}.png",
            uuid::Uuid::new_v4().simple()
        ));
        let mode = if device { "device" } else { "authorize" };
        let node_args = vec![
            url.clone(),
            idp.to_string(),
            user.to_string(),
            format!("{user}pw"),
            mode.to_string(),
            shot.display().to_string(),
        ];
        let dir = repo().join("tests/browser");
        let out = tokio::task::spawn_blocking(move || {
            Command::new("node")
                .arg("cli_login.mjs")
                .args(&node_args)
                .current_dir(&dir)
                .output()
        })
        .await
        .unwrap()
        .expect("run node (Node.js 20 is required)");
        if !out.status.success() {
            // A CLI left waiting would keep this test's runtime from shutting down.
            let _ = child.kill();
        }
        assert!(
            out.status.success(),
            "cli_login.mjs failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        let _ = std::fs::remove_file(&shot);
        let mut seen: Value = serde_json::from_slice(&out.stdout).expect("one JSON line");
        let status =
            tokio::task::spawn_blocking(move || child.wait().expect("wait for roleport-cli login"))
                .await
                .unwrap();
        let lines = reader.await.unwrap();
        assert!(
            status.success(),
            "roleport-cli login failed:\n{}",
            lines.join("\n")
        );
        if let (Some(code), Some(map)) = (code, seen.as_object_mut()) {
            map.insert("cli_printed_code".into(), code.into());
        }
        map_url(&mut seen, &url);
        (seen, lines)
    }
}

fn map_url(seen: &mut Value, url: &str) {
    if let Some(map) = seen.as_object_mut() {
        map.insert("cli_printed_url".into(), url.into());
    }
}

impl Drop for Laptop {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn arn_of(out: &Output) -> String {
    assert!(
        out.status.success(),
        "aws failed:\n{}\n{}",
        text(&out.stderr),
        text(&out.stdout)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["Arn"].as_str().unwrap().to_string()
}

async fn issued(app: &TestApp) -> usize {
    app.audit_events()
        .await
        .iter()
        .filter(|e| e["kind"] == "credentials_issued" && e["outcome"] == "accepted")
        .count()
}

async fn refreshes(app: &TestApp) -> usize {
    app.audit_events()
        .await
        .iter()
        .filter(|e| e["kind"] == "cli_tokens" && e["details"]["grant_type"] == "refresh_token")
        .count()
}

#[cfg(unix)]
fn mode_of(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// The one line a failing credential_process call leaves for the person.
const SIGN_IN_AGAIN: &str =
    "roleport-cli: your Roleport sign-in has ended or is missing: run `roleport-cli login`";

#[tokio::test]
async fn cli_e2e_saml_browser_login_configure_awscli_and_boto3_with_cache_refresh_and_revocation() {
    let sts = recording_sts().await;
    let app = spawn_app_with(Options {
        aws: Some(aws_settings(&sts.url, None)),
        ..Options::default()
    })
    .await;
    let laptop = Laptop::new();
    let (seen, _) = laptop.login(&app, "demo-saml", "alice", false).await;
    assert!(
        seen["redirect_uri"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:"),
        "{seen}"
    );
    assert!(
        seen["text"]
            .as_str()
            .unwrap()
            .contains("roleport-cli is signed in"),
        "{seen}"
    );
    let home = laptop.dir.join("home");
    assert_eq!(mode_of(&home.join("tokens.json")), 0o600);

    // roles, then profiles for every grant; the engineer's own profile stays as it was.
    let roles = laptop.cli(&["roles", "--json"]).await;
    assert!(roles.status.success(), "{}", text(&roles.stderr));
    let roles: Value = serde_json::from_slice(&roles.stdout).unwrap();
    assert_eq!(roles["grants"].as_array().unwrap().len(), 2);
    let configured = laptop.cli(&["configure", "--region", "us-east-1"]).await;
    assert!(configured.status.success(), "{}", text(&configured.stderr));
    let config = std::fs::read_to_string(laptop.aws_config()).unwrap();
    assert!(
        config.starts_with("[profile mine]\nregion = eu-central-1\noutput = text\n"),
        "{config}"
    );
    assert!(
        config.contains(&format!(
            "[profile {ADMIN_PROFILE}]\n# managed by roleport-cli"
        )),
        "{config}"
    );
    assert!(
        config.contains(&format!("credentials {ADMIN}\nregion = us-east-1\n")),
        "{config}"
    );
    // A rerun updates only Roleport's own.
    assert!(
        laptop
            .cli(&["configure", "--region", "us-east-1"])
            .await
            .status
            .success()
    );
    assert_eq!(
        std::fs::read_to_string(laptop.aws_config()).unwrap(),
        config
    );

    // The real AWS CLI, through the profile: credential_process → Roleport → moto.
    let expected = "arn:aws:sts::123456789012:assumed-role/Admin/alice@example.org@demo-saml";
    assert_eq!(arn_of(&laptop.aws_caller(ADMIN_PROFILE, 0).await), expected);
    assert_eq!(issued(&app).await, 1);
    let cached = home.join("cache/credentials").join(format!("{ADMIN}.json"));
    assert_eq!(mode_of(&cached), 0o600);
    // boto3 within the cache window: no request to Roleport.
    let boto = laptop.boto3_caller(ADMIN_PROFILE).await;
    assert!(boto.status.success(), "{}", text(&boto.stderr));
    assert_eq!(text(&boto.stdout).trim(), expected);
    assert_eq!(issued(&app).await, 1);
    assert_eq!(sts.seen.lock().unwrap().len(), 1);

    // An hour later (CLI clock): the set is stale and the access token too; the CLI refreshes
    // its tokens by itself and gets a new set.
    assert_eq!(
        arn_of(&laptop.aws_caller(ADMIN_PROFILE, 3600).await),
        expected
    );
    assert_eq!(issued(&app).await, 2);
    assert_eq!(refreshes(&app).await, 1);
    // Roleport's clock moves on instead: it refuses the access token and the CLI refreshes.
    app.clock.advance(chrono::Duration::minutes(20));
    let roles = laptop.cli(&["roles"]).await;
    assert!(roles.status.success(), "{}", text(&roles.stderr));
    assert!(text(&roles.stdout).contains(ADMIN));
    assert_eq!(refreshes(&app).await, 2);

    // The session is revoked: the next fetch fails with one line telling to sign in.
    sqlx::query("DELETE FROM sessions")
        .execute(&app.pool)
        .await
        .unwrap();
    let out = laptop.cli_skewed(&["credentials", ADMIN], 7200).await;
    assert_eq!(out.status.code(), Some(3));
    assert!(out.stdout.is_empty());
    assert_eq!(text(&out.stderr), format!("{SIGN_IN_AGAIN}\n"));
    let aws = laptop.aws_caller(ADMIN_PROFILE, 7200).await;
    assert!(!aws.status.success());
    assert!(
        text(&aws.stderr).contains("run `roleport-cli login`"),
        "{}",
        text(&aws.stderr)
    );
}

async fn oidc_app_with_aws(sts: &FakeServer) -> TestApp {
    let client_id = format!("roleport-test-{}", uuid::Uuid::new_v4().simple());
    let secret = "s3cret-cli";
    let app = spawn_app_with(Options {
        extra_idps: vec![demo_oidc_idp(&client_id, Some(secret))],
        aws: Some(aws_settings(&sts.url, None)),
        ..Options::default()
    })
    .await;
    register_oidc_client(
        &client_id,
        Some(secret),
        &format!("{}/oidc/callback", app.address),
    );
    app
}

#[tokio::test]
async fn cli_e2e_oidc_browser_login_then_logout_revokes() {
    let sts = recording_sts().await;
    let app = oidc_app_with_aws(&sts).await;
    let laptop = Laptop::new();
    laptop.login(&app, "demo-oidc", "alice", false).await;
    assert!(
        laptop
            .cli(&["configure", "--region", "us-east-1"])
            .await
            .status
            .success()
    );
    let arn = arn_of(&laptop.aws_caller(ADMIN_PROFILE, 0).await);
    assert!(
        arn.starts_with("arn:aws:sts::123456789012:assumed-role/Admin/")
            && arn.ends_with("@demo-oidc"),
        "{arn}"
    );
    let creds = laptop
        .cli(&["credentials", READONLY, "--duration", "900"])
        .await;
    assert!(creds.status.success(), "{}", text(&creds.stderr));
    let creds: Value = serde_json::from_slice(&creds.stdout).unwrap();
    assert_eq!(creds["Version"], 1);
    assert!(creds["Expiration"].as_str().unwrap().ends_with('Z'));

    let out = laptop.cli(&["logout"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        app.audit_events()
            .await
            .iter()
            .filter(|e| e["kind"] == "cli_sign_out")
            .count(),
        1
    );
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM cli_tokens")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(left, 0);
    // Nothing cached survives the logout, and nothing new is issued.
    let out = laptop.cli(&["credentials", ADMIN]).await;
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(text(&out.stderr), format!("{SIGN_IN_AGAIN}\n"));
    let aws = laptop.aws_caller(ADMIN_PROFILE, 0).await;
    assert!(!aws.status.success());
    assert!(
        text(&aws.stderr).contains("run `roleport-cli login`"),
        "{}",
        text(&aws.stderr)
    );
}

#[tokio::test]
async fn cli_e2e_device_login_approved_in_the_browser_then_env_exec_and_console() {
    let sts = recording_sts().await;
    let federation = fake_federation().await;
    let app = spawn_app_with(Options {
        aws: Some(aws_settings(&sts.url, Some(&federation.url))),
        ..Options::default()
    })
    .await;
    let laptop = Laptop::new();
    let (seen, lines) = laptop.login(&app, "demo-saml", "alice", true).await;
    // The page showed the code the terminal printed, and who asked.
    let printed = seen["cli_printed_code"].as_str().unwrap();
    assert_eq!(seen["user_code"], printed, "{seen}\n{lines:?}");
    assert_eq!(
        seen["cli_printed_url"].as_str().unwrap(),
        format!("{}/device?user_code={printed}", app.address)
    );
    assert_eq!(seen["source_ip"], "127.0.0.1");
    assert!(
        seen["user_agent"]
            .as_str()
            .unwrap()
            .starts_with("roleport-cli/"),
        "{seen}"
    );
    assert_eq!(seen["done"], "The CLI is signed in");

    let env = laptop.cli(&["env", ADMIN]).await;
    assert!(env.status.success(), "{}", text(&env.stderr));
    let env = text(&env.stdout);
    for var in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_CREDENTIAL_EXPIRATION",
    ] {
        assert!(env.contains(&format!("export {var}='")), "{env}");
    }
    // exec: the AWS CLI with the credentials in its environment (no profile).
    let aws = venv_bin("aws");
    let exec = laptop
        .cli(&[
            "exec",
            ADMIN,
            "--",
            aws.to_str().unwrap(),
            "sts",
            "get-caller-identity",
            "--output",
            "json",
            "--region",
            "us-east-1",
            "--endpoint-url",
            MOTO.get("MOTO_URL"),
        ])
        .await;
    assert_eq!(
        arn_of(&exec),
        "arn:aws:sts::123456789012:assumed-role/Admin/alice@example.org@demo-saml"
    );
    // exec passes the command's exit status on.
    assert_eq!(
        laptop
            .cli(&["exec", ADMIN, "--", "sh", "-c", "exit 7"])
            .await
            .status
            .code(),
        Some(7)
    );

    let console = laptop
        .cli(&[
            "console",
            ADMIN,
            "--destination",
            "s3/home?region=eu-west-1",
            "--print",
        ])
        .await;
    assert!(console.status.success(), "{}", text(&console.stderr));
    let link = text(&console.stdout).trim().to_string();
    assert!(
        link.starts_with(&format!("{}/federation?Action=login", federation.url)),
        "{link}"
    );
    let q = query_of(&link);
    assert!(
        q["Destination"].ends_with("/console/s3/home?region=eu-west-1"),
        "{link}"
    );
    assert!(q["SigninToken"].starts_with("token-"));
    let kinds: Vec<String> = app
        .audit_events()
        .await
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect();
    assert!(kinds.contains(&"console_link".to_string()), "{kinds:?}");
    // An unknown grant: one line, non-zero, and nothing issued.
    let out = laptop.cli(&["credentials", "123456789012-Nope"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr).lines().count(),
        1,
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn cli_binary_links_no_openssl_libxml2_xmlsec_or_libpq() {
    let tree = Command::new(env!("CARGO"))
        .args([
            "tree",
            "-p",
            "roleport-cli",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--format",
            "{p}",
        ])
        .current_dir(repo())
        .output()
        .expect("cargo tree");
    assert!(tree.status.success(), "{}", text(&tree.stderr));
    let tree = text(&tree.stdout);
    for crate_name in [
        "openssl",
        "openssl-sys",
        "native-tls",
        "samael",
        "libxml",
        "xmlsec",
        "sqlx",
        "pq-sys",
        "reqwest",
        "actix-web",
    ] {
        assert!(
            !tree
                .lines()
                .any(|l| l.split_whitespace().next() == Some(crate_name)),
            "roleport-cli depends on {crate_name}:\n{tree}"
        );
    }
    assert!(tree.lines().any(|l| l.starts_with("rustls ")), "{tree}");
    let ldd = Command::new("ldd").arg(cli_binary()).output().expect("ldd");
    let libs = text(&ldd.stdout);
    for lib in ["libssl", "libcrypto", "libxml2", "libxmlsec1", "libpq"] {
        assert!(!libs.contains(lib), "roleport-cli links {lib}:\n{libs}");
    }
}
