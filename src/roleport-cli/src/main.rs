//! `roleport-cli`: terminal access through Roleport. Sign in once in the browser (or with a
//! device code); every AWS tool then gets fresh credentials for any granted role, through
//! `credential_process` profiles, until the Roleport session ends.

mod aws_config;
mod cache;
mod client;
mod clock;
mod error;
mod login;
mod store;

use cache::Credentials;
use clap::{Parser, Subcommand};
use client::Client;
use error::CliError;
use store::Dirs;

#[derive(Parser)]
#[command(
    name = "roleport-cli",
    version,
    about = "AWS credentials from Roleport in your terminal"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Sign in: opens the browser (authorization code + PKCE), or with --device prints a code
    /// to approve on any device.
    Login {
        /// Roleport's address (remembered; also ROLEPORT_CLI_URL).
        #[arg(long)]
        url: Option<String>,
        /// Device authorization: for SSH sessions and containers without a browser.
        #[arg(long)]
        device: bool,
    },
    /// Prints credential_process JSON for GRANT (cached until 5 minutes before expiry).
    Credentials {
        grant: String,
        /// Session length in seconds (the rules and the role may shorten it).
        #[arg(long)]
        duration: Option<u32>,
    },
    /// Writes an AWS profile for every grant into ~/.aws/config (or $AWS_CONFIG_FILE).
    Configure {
        #[arg(long)]
        region: Option<String>,
        /// Profile names are this prefix plus the grant id.
        #[arg(long, default_value = "roleport-")]
        prefix: String,
    },
    /// Opens (or prints) an AWS console sign-in link for GRANT.
    Console {
        grant: String,
        /// Where in the console to land, e.g. `s3/home?region=eu-west-1`.
        #[arg(long)]
        destination: Option<String>,
        /// Print the link instead of opening it.
        #[arg(long)]
        print: bool,
    },
    /// Runs a command with GRANT's credentials in its environment.
    Exec {
        grant: String,
        #[arg(long)]
        duration: Option<u32>,
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
    /// Prints GRANT's credentials as shell export lines.
    Env {
        grant: String,
        #[arg(long)]
        duration: Option<u32>,
        #[arg(long)]
        json: bool,
    },
    /// Lists the roles Roleport grants you.
    Roles {
        #[arg(long)]
        json: bool,
    },
    /// Signs the CLI out: revokes its tokens at Roleport and deletes them and the cache.
    Logout,
}

fn main() {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            // One line: the AWS CLI shows it when credential_process fails.
            eprintln!("roleport-cli: {e}");
            std::process::exit(e.exit_code());
        }
    }
}

fn run(command: Command) -> Result<i32, CliError> {
    let dirs = Dirs::locate()?;
    match command {
        Command::Login { url, device } => {
            let url = client::resolve_url(&dirs, url.as_deref())?;
            if device {
                login::device_login(&dirs, &url)?;
            } else {
                login::browser_login(&dirs, &url)?;
            }
            eprintln!(
                "Signed in to {url}. Next: `roleport-cli configure`, or `roleport-cli roles`."
            );
        }
        Command::Credentials { grant, duration } => {
            let c = credentials(dirs, &grant, duration)?;
            println!("{}", json(&c)?);
        }
        Command::Configure { region, prefix } => configure(dirs, region, &prefix)?,
        Command::Console {
            grant,
            destination,
            print,
        } => {
            let mut client = Client::load(dirs)?;
            let mut body = serde_json::json!({ "grant": grant });
            if let (Some(d), Some(map)) = (destination, body.as_object_mut()) {
                map.insert("destination".into(), d.into());
            }
            let answer = client.call("POST", "/api/v1/console", Some(&body))?;
            let url = answer
                .get("url")
                .and_then(|u| u.as_str())
                .ok_or_else(|| CliError::Network("Roleport's answer has no url".into()))?;
            if print {
                println!("{url}");
            } else {
                login::open_browser(url);
            }
        }
        Command::Exec {
            grant,
            duration,
            command,
        } => return exec(dirs, &grant, duration, &command),
        Command::Env {
            grant,
            duration,
            json: as_json,
        } => {
            let c = credentials(dirs, &grant, duration)?;
            if as_json {
                println!("{}", json(&c)?);
            } else {
                for (k, v) in env_pairs(&c) {
                    println!("export {k}={}", shell_quote(&v));
                }
            }
        }
        Command::Roles { json: as_json } => {
            let mut client = Client::load(dirs)?;
            let answer = client.call("GET", "/api/v1/roles", None)?;
            if as_json {
                println!("{}", json(&answer)?);
            } else {
                let grants = answer
                    .get("grants")
                    .and_then(|g| g.as_array())
                    .cloned()
                    .unwrap_or_default();
                if grants.is_empty() {
                    println!("Roleport grants you no roles.");
                }
                for g in grants {
                    let field =
                        |k: &str| g.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
                    println!(
                        "{:<40} {} ({})",
                        field("id"),
                        field("role_arn"),
                        field("account_alias")
                    );
                }
            }
        }
        Command::Logout => logout(dirs)?,
    }
    Ok(0)
}

fn json<T: serde::Serialize>(v: &T) -> Result<String, CliError> {
    serde_json::to_string(v).map_err(|e| CliError::Local(e.to_string()))
}

/// Cached, or issued now by Roleport (audited there) and cached.
fn credentials(dirs: Dirs, grant: &str, duration: Option<u32>) -> Result<Credentials, CliError> {
    if let Some(c) = cache::get(&dirs, grant, duration)? {
        return Ok(c);
    }
    let mut client = Client::load(dirs)?;
    let mut body = serde_json::json!({ "grant": grant });
    if let (Some(d), Some(map)) = (duration, body.as_object_mut()) {
        map.insert("duration_seconds".into(), d.into());
    }
    let answer = client.call("POST", "/api/v1/credentials", Some(&body))?;
    let c: Credentials = serde_json::from_value(answer)
        .map_err(|e| CliError::Network(format!("unexpected credentials answer: {e}")))?;
    cache::put(&client.dirs, grant, duration, &c)?;
    Ok(c)
}

fn env_pairs(c: &Credentials) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ACCESS_KEY_ID", c.access_key_id.clone()),
        ("AWS_SECRET_ACCESS_KEY", c.secret_access_key.clone()),
        ("AWS_SESSION_TOKEN", c.session_token.clone()),
        ("AWS_CREDENTIAL_EXPIRATION", c.expiration.clone()),
    ]
}

fn shell_quote(v: &str) -> String {
    format!("'{}'", v.replace('\'', "'\\''"))
}

fn exec(
    dirs: Dirs,
    grant: &str,
    duration: Option<u32>,
    command: &[String],
) -> Result<i32, CliError> {
    let c = credentials(dirs, grant, duration)?;
    let (program, args) = command
        .split_first()
        .ok_or_else(|| CliError::Usage("exec needs a command after --".into()))?;
    let mut child = std::process::Command::new(program);
    child.args(args);
    // A profile would otherwise compete with the credentials given here.
    child
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_DEFAULT_PROFILE");
    for (k, v) in env_pairs(&c) {
        child.env(k, v);
    }
    let status = child
        .status()
        .map_err(|e| CliError::Local(format!("cannot run {program}: {e}")))?;
    Ok(status.code().unwrap_or(1))
}

fn configure(dirs: Dirs, region: Option<String>, prefix: &str) -> Result<(), CliError> {
    let mut client = Client::load(dirs)?;
    let answer = client.call("GET", "/api/v1/roles", None)?;
    let exe = std::env::current_exe().map_err(|e| CliError::Local(format!("where am I? {e}")))?;
    let exe = aws_config::quote(&exe.to_string_lossy());
    let grants: Vec<String> = answer
        .get("grants")
        .and_then(|g| g.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|g| g.get("id")?.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let profiles: Vec<aws_config::Profile> = grants
        .iter()
        .map(|g| aws_config::Profile {
            name: aws_config::profile_name(prefix, g),
            credential_process: format!("{exe} credentials {}", aws_config::quote(g)),
            region: region.clone(),
        })
        .collect();
    let path = match std::env::var_os("AWS_CONFIG_FILE").filter(|p| !p.is_empty()) {
        Some(p) => std::path::PathBuf::from(p),
        None => dirs::home_dir()
            .ok_or_else(|| CliError::Local("no home directory: set AWS_CONFIG_FILE".into()))?
            .join(".aws")
            .join("config"),
    };
    let before = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(CliError::io(&path, e)),
    };
    let after = aws_config::update(&before, &profiles);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| CliError::io(dir, e))?;
    }
    let tmp = path.with_extension("roleport-cli.tmp");
    std::fs::write(&tmp, after).map_err(|e| CliError::io(&tmp, e))?;
    std::fs::rename(&tmp, &path).map_err(|e| CliError::io(&path, e))?;
    eprintln!("Wrote {} profile(s) to {}:", profiles.len(), path.display());
    for p in &profiles {
        println!("{}", p.name);
    }
    Ok(())
}

fn logout(dirs: Dirs) -> Result<(), CliError> {
    let tokens: Option<client::Tokens> = store::read(&dirs.tokens())?;
    if let Some(t) = &tokens {
        // Revoking the refresh token ends the whole family at Roleport.
        let resp = client::agent()
            .post(format!("{}/oauth/revoke", t.url))
            .send_form([
                ("token", t.refresh_token.as_str()),
                ("client_id", client::CLIENT_ID),
            ]);
        if let Err(e) = resp {
            eprintln!(
                "roleport-cli: could not reach Roleport to revoke the tokens ({e}); they are deleted here and end with your session"
            );
        }
    }
    store::remove(&dirs.tokens())?;
    store::remove_dir(&dirs.credentials())?;
    eprintln!("Signed out.");
    Ok(())
}
