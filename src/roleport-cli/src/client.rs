//! Talking to Roleport: the stored URL and tokens, bearer calls to the API, and refreshing the
//! access token (rotating the refresh token) when it has expired or Roleport says so.

use crate::clock;
use crate::error::CliError;
use crate::store::{self, Dirs};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::time::Duration as StdDuration;
use ureq::Agent;

pub const CLIENT_ID: &str = "roleport-cli";

#[derive(Serialize, Deserialize, Default)]
pub struct Settings {
    pub url: Option<String>,
}

#[derive(Serialize, Deserialize, Clone)]
pub struct Tokens {
    pub url: String,
    pub access_token: String,
    pub access_expires_at: DateTime<Utc>,
    pub refresh_token: String,
}

/// The token endpoint's answer (RFC 6749 §5.1) or error (§5.2).
#[derive(Deserialize)]
pub struct TokenAnswer {
    pub access_token: Option<String>,
    pub refresh_token: Option<String>,
    pub expires_in: Option<i64>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

impl TokenAnswer {
    pub fn into_tokens(self, url: &str) -> Option<Tokens> {
        Some(Tokens {
            url: url.to_string(),
            access_token: self.access_token?,
            refresh_token: self.refresh_token?,
            access_expires_at: clock::now() + Duration::seconds(self.expires_in.unwrap_or(0)),
        })
    }
}

pub fn agent() -> Agent {
    Agent::config_builder()
        .http_status_as_error(false)
        // A bearer token must never follow a redirect anywhere.
        .max_redirects(0)
        .timeout_global(Some(StdDuration::from_secs(60)))
        // Servers close idle connections (actix after 5 s, load balancers after their own idle
        // timeout); a pooled connection reused just as it closes fails the request with "peer
        // disconnected". Device polling waits exactly 5 s, so never reuse one that old.
        .max_idle_age(StdDuration::from_secs(2))
        .user_agent(concat!("roleport-cli/", env!("CARGO_PKG_VERSION")))
        .build()
        .into()
}

/// The Roleport URL: `--url`, then `ROLEPORT_CLI_URL`, then the one `login` remembered.
pub fn resolve_url(dirs: &Dirs, flag: Option<&str>) -> Result<String, CliError> {
    let from_env = std::env::var("ROLEPORT_CLI_URL")
        .ok()
        .filter(|u| !u.is_empty());
    let remembered = || -> Result<Option<String>, CliError> {
        Ok(store::read::<Settings>(&dirs.settings())?.and_then(|s| s.url))
    };
    let url = match (flag, from_env) {
        (Some(u), _) => u.to_string(),
        (None, Some(u)) => u,
        (None, None) => remembered()?.ok_or_else(|| {
            CliError::Usage(
                "no Roleport URL: run `roleport-cli login --url https://roleport.example.com`"
                    .into(),
            )
        })?,
    };
    let url = url.trim_end_matches('/').to_string();
    if !(url.starts_with("https://")
        || url.starts_with("http://127.0.0.1")
        || url.starts_with("http://localhost")
        || url.starts_with("http://[::1]"))
    {
        return Err(CliError::Usage(format!(
            "{url}: Roleport must be reached over https (plain http only on loopback)"
        )));
    }
    Ok(url)
}

fn network(url: &str, e: ureq::Error) -> CliError {
    CliError::Network(format!("cannot reach Roleport at {url}: {e}"))
}

/// POSTs a form to the token endpoint.
pub fn token_request(
    agent: &Agent,
    url: &str,
    form: &[(&str, &str)],
) -> Result<(u16, TokenAnswer), CliError> {
    let mut resp = agent
        .post(format!("{url}/oauth/token"))
        .send_form(form.iter().copied())
        .map_err(|e| network(url, e))?;
    let status = resp.status().as_u16();
    let answer: TokenAnswer = resp.body_mut().read_json().map_err(|e| {
        CliError::Network(format!(
            "Roleport's token endpoint answered {status} without JSON: {e}"
        ))
    })?;
    Ok((status, answer))
}

/// A signed-in client: the tokens on disk, refreshed when needed.
pub struct Client {
    pub agent: Agent,
    pub dirs: Dirs,
    pub tokens: Tokens,
}

impl Client {
    pub fn load(dirs: Dirs) -> Result<Self, CliError> {
        let tokens: Tokens = store::read(&dirs.tokens())?.ok_or(CliError::SignInNeeded)?;
        Ok(Self {
            agent: agent(),
            dirs,
            tokens,
        })
    }

    /// Rotates the refresh token. An `invalid_grant` means the sign-in is over.
    pub fn refresh(&mut self) -> Result<(), CliError> {
        let url = self.tokens.url.clone();
        let (status, answer) = token_request(
            &self.agent,
            &url,
            &[
                ("grant_type", "refresh_token"),
                ("client_id", CLIENT_ID),
                ("refresh_token", &self.tokens.refresh_token),
            ],
        )?;
        if status == 400 || status == 401 {
            // The stored tokens are dead; keep nothing that looks alive.
            store::remove(&self.dirs.tokens())?;
            return Err(CliError::SignInNeeded);
        }
        let error = answer.error.clone();
        let description = answer.error_description.clone();
        match answer.into_tokens(&url) {
            Some(tokens) if status == 200 => {
                store::write(&self.dirs.tokens(), &tokens)?;
                self.tokens = tokens;
                Ok(())
            }
            _ => Err(CliError::Server {
                status,
                message: description
                    .or(error)
                    .unwrap_or_else(|| "refresh failed".into()),
                reference: None,
            }),
        }
    }

    /// A bearer call; on 401 the access token is refreshed once and the call repeated.
    pub fn call(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<serde_json::Value, CliError> {
        // A little early, so a token does not expire in flight.
        if clock::now() + Duration::seconds(30) >= self.tokens.access_expires_at {
            self.refresh()?;
        }
        let (status, json) = self.send(method, path, body)?;
        let (status, json) = if status == 401 {
            self.refresh()?;
            self.send(method, path, body)?
        } else {
            (status, json)
        };
        if status == 401 {
            return Err(CliError::SignInNeeded);
        }
        if !(200..300).contains(&status) {
            let message = json
                .get("message")
                .or_else(|| json.get("detail"))
                .or_else(|| json.get("error"))
                .and_then(|m| m.as_str())
                .unwrap_or("unexpected answer")
                .to_string();
            let reference = json
                .get("reference")
                .and_then(|r| r.as_str())
                .map(str::to_string);
            return Err(CliError::Server {
                status,
                message,
                reference,
            });
        }
        Ok(json)
    }

    fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<(u16, serde_json::Value), CliError> {
        let url = format!("{}{path}", self.tokens.url);
        let auth = format!("Bearer {}", self.tokens.access_token);
        let result = match (method, body) {
            ("GET", _) => self.agent.get(&url).header("Authorization", &auth).call(),
            (_, Some(b)) => self
                .agent
                .post(&url)
                .header("Authorization", &auth)
                .send_json(b),
            (_, None) => self
                .agent
                .post(&url)
                .header("Authorization", &auth)
                .send_empty(),
        };
        let mut resp = result.map_err(|e| network(&self.tokens.url, e))?;
        let status = resp.status().as_u16();
        let json = resp
            .body_mut()
            .read_json::<serde_json::Value>()
            .unwrap_or(serde_json::Value::Null);
        Ok((status, json))
    }
}
