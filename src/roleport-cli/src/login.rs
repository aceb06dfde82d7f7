//! Signing the CLI in: the authorization-code flow with PKCE (S256) and a loopback redirect on
//! 127.0.0.1 (RFC 8252), or the device authorization grant (RFC 8628) where no browser runs.

use crate::client::{self, CLIENT_ID, Settings, TokenAnswer, Tokens};
use crate::clock;
use crate::error::CliError;
use crate::store::{self, Dirs};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

fn random(len: usize) -> Result<String, CliError> {
    let mut buf = vec![0u8; len];
    getrandom::fill(&mut buf).map_err(|e| CliError::Local(format!("no randomness: {e}")))?;
    Ok(URL_SAFE_NO_PAD.encode(buf))
}

pub fn challenge_of(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Percent-encoding for a query value (RFC 3986 unreserved characters pass).
pub fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes.get(i) {
            Some(b'+') => out.push(b' '),
            Some(b'%') => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok());
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(v) => {
                        out.push(v);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            Some(b) => out.push(*b),
            None => {}
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn query_param(query: &str, name: &str) -> Option<String> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| decode(v))
}

/// Opens `url` in the person's browser: `$BROWSER` if set, else the desktop's opener. The URL is
/// always printed too, for when nothing opens.
pub fn open_browser(url: &str) {
    eprintln!(
        "Opening your browser at:\n  {url}\nIf it does not open, visit that address yourself."
    );
    let tried = match std::env::var("BROWSER").ok().filter(|b| !b.is_empty()) {
        Some(browser) => std::process::Command::new(browser).arg(url).spawn(),
        None if cfg!(target_os = "macos") => std::process::Command::new("open").arg(url).spawn(),
        None if cfg!(windows) => std::process::Command::new("rundll32")
            .args(["url.dll,FileProtocolHandler", url])
            .spawn(),
        None => std::process::Command::new("xdg-open").arg(url).spawn(),
    };
    if let Err(e) = tried {
        eprintln!("(no browser could be opened: {e})");
    }
}

fn finish(dirs: &Dirs, url: &str, answer: TokenAnswer) -> Result<Tokens, CliError> {
    let tokens = answer
        .into_tokens(url)
        .ok_or_else(|| CliError::Network("Roleport's token answer has no tokens".into()))?;
    store::write(&dirs.tokens(), &tokens)?;
    store::write(
        &dirs.settings(),
        &Settings {
            url: Some(url.to_string()),
        },
    )?;
    // Credentials cached under an earlier sign-in are not this one's.
    store::remove_dir(&dirs.credentials())?;
    Ok(tokens)
}

fn refused(status: u16, answer: &TokenAnswer) -> CliError {
    CliError::Server {
        status,
        message: answer
            .error_description
            .clone()
            .or_else(|| answer.error.clone())
            .unwrap_or_else(|| "sign-in refused".into()),
        reference: None,
    }
}

const WAIT: Duration = Duration::from_secs(300);

/// The browser flow: listen on 127.0.0.1, send the browser to `/oauth/authorize`, take the code
/// from the redirect, exchange it with the PKCE verifier.
pub fn browser_login(dirs: &Dirs, url: &str) -> Result<Tokens, CliError> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .map_err(|e| CliError::Local(format!("cannot listen on 127.0.0.1: {e}")))?;
    let port = listener
        .local_addr()
        .map_err(|e| CliError::Local(e.to_string()))?
        .port();
    let redirect_uri = format!("http://127.0.0.1:{port}/callback");
    let verifier = random(32)?;
    let state = random(16)?;
    let authorize = format!(
        "{url}/oauth/authorize?response_type=code&client_id={CLIENT_ID}&redirect_uri={}&code_challenge={}&code_challenge_method=S256&state={}",
        encode(&redirect_uri),
        challenge_of(&verifier),
        encode(&state),
    );
    open_browser(&authorize);
    let code = wait_for_code(&listener, &state, url)?;
    let (status, answer) = client::token_request(
        &client::agent(),
        url,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", CLIENT_ID),
            ("code", &code),
            ("redirect_uri", &redirect_uri),
            ("code_verifier", &verifier),
        ],
    )?;
    if status != 200 {
        return Err(refused(status, &answer));
    }
    finish(dirs, url, answer)
}

fn wait_for_code(listener: &TcpListener, state: &str, issuer: &str) -> Result<String, CliError> {
    listener
        .set_nonblocking(true)
        .map_err(|e| CliError::Local(e.to_string()))?;
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        match listener.accept() {
            Ok((stream, _)) => {
                if let Some(code) = handle_callback(stream, state, issuer)? {
                    return Ok(code);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(100))
            }
            Err(e) => return Err(CliError::Local(format!("loopback listener: {e}"))),
        }
    }
    Err(CliError::Local(
        "no answer from the browser within 5 minutes; run `roleport-cli login` again".into(),
    ))
}

/// One request on the loopback listener. `Some(code)` when it is the redirect of this login.
fn handle_callback(
    stream: TcpStream,
    state: &str,
    issuer: &str,
) -> Result<Option<String>, CliError> {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut reader = BufReader::new(&stream);
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return Ok(None);
    }
    // Read the headers to the end: closing a socket with unread bytes resets the connection,
    // and the browser would show an error instead of the answer.
    let mut header = String::new();
    for _ in 0..100 {
        header.clear();
        match reader.read_line(&mut header) {
            Ok(0) | Err(_) => break,
            Ok(_) if header.trim().is_empty() => break,
            Ok(_) => {}
        }
    }
    let target = line.split_whitespace().nth(1).unwrap_or_default();
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let reply = |mut s: &TcpStream, status: &str, text: &str| {
        let body =
            format!("<!doctype html><meta charset=utf-8><title>roleport-cli</title><p>{text}</p>");
        let _ = write!(
            s,
            "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\nCache-Control: no-store\r\n\r\n{body}",
            body.len()
        );
    };
    if path != "/callback" {
        reply(&stream, "404 Not Found", "Not found.");
        return Ok(None);
    }
    // Another page could send the browser here; only this login's state counts.
    if query_param(query, "state").as_deref() != Some(state) {
        reply(
            &stream,
            "400 Bad Request",
            "This is not the sign-in this terminal started.",
        );
        return Ok(None);
    }
    if let Some(iss) = query_param(query, "iss")
        && iss.trim_end_matches('/') != issuer
    {
        reply(
            &stream,
            "400 Bad Request",
            "This answer comes from another server.",
        );
        return Err(CliError::Local(format!(
            "the sign-in answer came from {iss}, not {issuer}"
        )));
    }
    if let Some(error) = query_param(query, "error") {
        reply(
            &stream,
            "400 Bad Request",
            "Sign-in was not completed. You can close this window.",
        );
        return Err(CliError::Local(format!(
            "sign-in was not completed: {error}"
        )));
    }
    match query_param(query, "code") {
        Some(code) if !code.is_empty() => {
            reply(
                &stream,
                "200 OK",
                "roleport-cli is signed in. You can close this window and go back to your terminal.",
            );
            Ok(Some(code))
        }
        _ => {
            reply(&stream, "400 Bad Request", "No code in this answer.");
            Ok(None)
        }
    }
}

#[derive(serde::Deserialize)]
struct DeviceStart {
    device_code: String,
    user_code: String,
    verification_uri: String,
    verification_uri_complete: Option<String>,
    expires_in: i64,
    interval: Option<i64>,
}

/// Consecutive polls that may fail on the network before the login gives up.
const MAX_POLL_NETWORK_FAILURES: u32 = 3;

/// The device flow: print where to go and the code, then poll at the interval Roleport sets.
pub fn device_login(dirs: &Dirs, url: &str) -> Result<Tokens, CliError> {
    let agent = client::agent();
    let mut resp = agent
        .post(format!("{url}/oauth/device_authorization"))
        .send_form([("client_id", CLIENT_ID)])
        .map_err(|e| CliError::Network(format!("cannot reach Roleport at {url}: {e}")))?;
    let status = resp.status().as_u16();
    if status != 200 {
        return Err(CliError::Server {
            status,
            message: "device sign-in refused".into(),
            reference: None,
        });
    }
    let start: DeviceStart = resp
        .body_mut()
        .read_json()
        .map_err(|e| CliError::Network(format!("unexpected device authorization answer: {e}")))?;
    let complete = start
        .verification_uri_complete
        .clone()
        .unwrap_or_else(|| start.verification_uri.clone());
    eprintln!(
        "To sign in, open this address on any device where you can sign in to Roleport:\n  {complete}\nand check that it shows the code\n  {}\nWaiting for approval…",
        start.user_code
    );
    let mut interval = start.interval.unwrap_or(5).max(1);
    let deadline = clock::now() + chrono::Duration::seconds(start.expires_in);
    let mut network_failures = 0;
    loop {
        std::thread::sleep(Duration::from_secs(u64::try_from(interval).unwrap_or(5)));
        if clock::now() >= deadline {
            return Err(CliError::Local(
                "the code expired before it was approved; run `roleport-cli login --device` again"
                    .into(),
            ));
        }
        let polled = client::token_request(
            &agent,
            url,
            &[
                ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                ("client_id", CLIENT_ID),
                ("device_code", &start.device_code),
            ],
        );
        // A poll lost on the network is asked again at the next interval: the person may be
        // approving right now, and a device code is redeemed at most once whatever we resend.
        let (status, answer) = match polled {
            Ok(answer) => {
                network_failures = 0;
                answer
            }
            Err(CliError::Network(e)) if network_failures < MAX_POLL_NETWORK_FAILURES => {
                network_failures += 1;
                eprintln!("({e}; trying again)");
                continue;
            }
            Err(e) => return Err(e),
        };
        if status == 200 {
            return finish(dirs, url, answer);
        }
        match answer.error.as_deref() {
            Some("authorization_pending") => {}
            Some("slow_down") => interval += 5,
            _ => return Err(refused(status, &answer)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_matches_rfc_7636() {
        assert_eq!(
            challenge_of("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn query_values_round_trip() {
        let v = "a b&c=d/é";
        assert_eq!(
            query_param(&format!("x=1&v={}", encode(v)), "v").as_deref(),
            Some(v)
        );
        assert_eq!(query_param("code=a+b", "code").as_deref(), Some("a b"));
        assert_eq!(query_param("code=", "state"), None);
    }
}
