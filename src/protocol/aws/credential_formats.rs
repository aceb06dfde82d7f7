//! Temporary credentials rendered for a terminal: POSIX shell, `~/.aws/credentials`,
//! PowerShell and `credential_process` JSON. Every value is quoted for its target, so a
//! credential can never break out of its line.

use chrono::SecondsFormat;
use serde::Serialize;

use super::credentials::TemporaryCredentials;

/// The longest profile name produced by [`sanitize_profile_name`].
pub const MAX_PROFILE_NAME_CHARS: usize = 64;
/// Used when nothing of the requested profile name survives sanitising.
pub const DEFAULT_PROFILE_NAME: &str = "roleport";

/// Why credentials cannot be written as an INI profile (which has no quoting).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialFormatError {
    #[error(
        "{field} contains a line break, control character or leading/trailing space, which a ~/.aws/credentials file cannot carry"
    )]
    UnsafeIniValue { field: &'static str },
}

fn expiry(creds: &TemporaryCredentials) -> String {
    creds.expiration.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// `'value'` for a POSIX shell: a `'` inside becomes `'\''`.
pub fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// `"value"` for PowerShell: `` ` ``, `"`, `$` and the typographic double quotes PowerShell
/// also ends strings on are escaped with a backtick.
pub fn powershell_quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if matches!(c, '`' | '"' | '$' | '\u{201C}' | '\u{201D}' | '\u{201E}') {
            out.push('`');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// `export` lines for bash/zsh/sh, after a comment with the expiry.
pub fn shell_exports(creds: &TemporaryCredentials) -> String {
    format!(
        "# AWS temporary credentials from Roleport, valid until {}\n\
         export AWS_ACCESS_KEY_ID={}\n\
         export AWS_SECRET_ACCESS_KEY={}\n\
         export AWS_SESSION_TOKEN={}\n",
        expiry(creds),
        shell_quote(&creds.access_key_id),
        shell_quote(&creds.secret_access_key),
        shell_quote(&creds.session_token),
    )
}

/// `$Env:` assignments for PowerShell, after a comment with the expiry.
pub fn powershell(creds: &TemporaryCredentials) -> String {
    format!(
        "# AWS temporary credentials from Roleport, valid until {}\n\
         $Env:AWS_ACCESS_KEY_ID={}\n\
         $Env:AWS_SECRET_ACCESS_KEY={}\n\
         $Env:AWS_SESSION_TOKEN={}\n",
        expiry(creds),
        powershell_quote(&creds.access_key_id),
        powershell_quote(&creds.secret_access_key),
        powershell_quote(&creds.session_token),
    )
}

/// The region lines of a shell block: `AWS_REGION` (SDKs) and `AWS_DEFAULT_REGION` (AWS CLI v1).
pub fn shell_region(region: &str) -> String {
    let q = shell_quote(region);
    format!("export AWS_REGION={q}\nexport AWS_DEFAULT_REGION={q}\n")
}

/// The region lines of a PowerShell block.
pub fn powershell_region(region: &str) -> String {
    let q = powershell_quote(region);
    format!("$Env:AWS_REGION={q}\n$Env:AWS_DEFAULT_REGION={q}\n")
}

/// The `region = ...` line of a `~/.aws/credentials` profile (the AWS CLI and SDKs read the
/// profile from both shared files). An INI value has no quoting, so only a region name passes.
pub fn credentials_file_region(region: &str) -> Result<String, CredentialFormatError> {
    let is_region_name = !region.is_empty()
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !is_region_name {
        return Err(CredentialFormatError::UnsafeIniValue { field: "region" });
    }
    Ok(format!("region = {region}\n"))
}

/// A profile name safe in `[...]`: ASCII letters, digits and `_ - . @ +` kept, anything else
/// becomes `-` (runs collapsed, trimmed), at most 64 characters, `roleport` if nothing is left.
pub fn sanitize_profile_name(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        let c = if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '@' | '+') {
            c
        } else {
            '-'
        };
        if c == '-' && out.ends_with('-') {
            continue;
        }
        out.push(c);
    }
    let trimmed: String = out
        .trim_matches('-')
        .chars()
        .take(MAX_PROFILE_NAME_CHARS)
        .collect();
    let trimmed = trimmed.trim_end_matches('-');
    if trimmed.is_empty() {
        DEFAULT_PROFILE_NAME.to_owned()
    } else {
        trimmed.to_owned()
    }
}

/// A `~/.aws/credentials` block for `profile` (sanitised). INI values cannot be quoted, so a
/// value with a control character or surrounding whitespace is refused.
pub fn credentials_file_profile(
    profile: &str,
    creds: &TemporaryCredentials,
) -> Result<String, CredentialFormatError> {
    for (field, value) in [
        ("aws_access_key_id", &creds.access_key_id),
        ("aws_secret_access_key", &creds.secret_access_key),
        ("aws_session_token", &creds.session_token),
    ] {
        if value.chars().any(char::is_control) || value.trim() != value {
            return Err(CredentialFormatError::UnsafeIniValue { field });
        }
    }
    Ok(format!(
        "# valid until {}\n\
         [{}]\n\
         aws_access_key_id = {}\n\
         aws_secret_access_key = {}\n\
         aws_session_token = {}\n",
        expiry(creds),
        sanitize_profile_name(profile),
        creds.access_key_id,
        creds.secret_access_key,
        creds.session_token,
    ))
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct CredentialProcess<'a> {
    version: u8,
    access_key_id: &'a str,
    secret_access_key: &'a str,
    session_token: &'a str,
    expiration: String,
}

/// `{"Version":1,"AccessKeyId":…,"SecretAccessKey":…,"SessionToken":…,"Expiration":…}` with
/// an RFC 3339 expiry in whole seconds and `Z`, as `credential_process` prints it.
pub fn credential_process_json(creds: &TemporaryCredentials) -> String {
    serde_json::to_string(&CredentialProcess {
        version: 1,
        access_key_id: &creds.access_key_id,
        secret_access_key: &creds.secret_access_key,
        session_token: &creds.session_token,
        expiration: expiry(creds),
    })
    // Serialising strings and an integer cannot fail.
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_lines_are_quoted_and_an_ini_region_must_be_a_region_name() {
        assert_eq!(
            shell_region("eu-west-1"),
            "export AWS_REGION='eu-west-1'\nexport AWS_DEFAULT_REGION='eu-west-1'\n"
        );
        assert_eq!(
            powershell_region("eu-west-1"),
            "$Env:AWS_REGION=\"eu-west-1\"\n$Env:AWS_DEFAULT_REGION=\"eu-west-1\"\n"
        );
        assert_eq!(
            credentials_file_region("eu-west-1").unwrap(),
            "region = eu-west-1\n"
        );
        for bad in ["", "eu-west-1\n[evil]", "eu west", "EU-WEST-1"] {
            assert_eq!(
                credentials_file_region(bad),
                Err(CredentialFormatError::UnsafeIniValue { field: "region" })
            );
        }
    }
    use chrono::{DateTime, TimeZone, Utc};
    use std::process::Command;

    fn creds(secret: &str, token: &str) -> TemporaryCredentials {
        let expiration = Utc
            .with_ymd_and_hms(2030, 1, 2, 3, 4, 5)
            .single()
            .unwrap_or_default()
            + chrono::Duration::microseconds(123_456);
        TemporaryCredentials {
            access_key_id: "ASIAEXAMPLE".into(),
            secret_access_key: secret.into(),
            session_token: token.into(),
            expiration,
        }
    }

    #[test]
    fn shell_quote_table() {
        for (v, want) in [
            ("abc", "'abc'"),
            ("", "''"),
            ("a'b", r"'a'\''b'"),
            ("$(rm -rf /)`x`", "'$(rm -rf /)`x`'"),
            ("a\nb", "'a\nb'"),
        ] {
            assert_eq!(shell_quote(v), want);
        }
    }

    #[test]
    fn powershell_quote_table() {
        for (v, want) in [
            ("abc", "\"abc\""),
            ("a\"b", "\"a`\"b\""),
            ("$x", "\"`$x\""),
            ("a`b", "\"a``b\""),
            ("\u{201C}x\u{201D}", "\"`\u{201C}x`\u{201D}\""),
            ("a'b", "\"a'b\""),
        ] {
            assert_eq!(powershell_quote(v), want);
        }
    }

    #[test]
    fn shell_exports_shape() {
        let out = shell_exports(&creds("se/cr+et=", "to'ken"));
        assert_eq!(
            out,
            "# AWS temporary credentials from Roleport, valid until 2030-01-02T03:04:05Z\n\
             export AWS_ACCESS_KEY_ID='ASIAEXAMPLE'\n\
             export AWS_SECRET_ACCESS_KEY='se/cr+et='\n\
             export AWS_SESSION_TOKEN='to'\\''ken'\n"
        );
    }

    /// The exports, run by a real shell, give back exactly the values, however odd.
    #[test]
    fn shell_exports_round_trip_through_sh() {
        let nasty = "a'b\"c$(echo pwned)`x`\\n;|&\n*?";
        let script = format!(
            "{}printf '%s|%s' \"$AWS_SECRET_ACCESS_KEY\" \"$AWS_SESSION_TOKEN\"",
            shell_exports(&creds(nasty, "tok'en"))
        );
        let out = Command::new("sh").arg("-c").arg(&script).output();
        let Ok(out) = out else { return }; // no sh: nothing to check against
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!("{nasty}|tok'en")
        );
    }

    #[test]
    fn powershell_shape() {
        let out = powershell(&creds("a$b", "c\"d"));
        assert_eq!(
            out,
            "# AWS temporary credentials from Roleport, valid until 2030-01-02T03:04:05Z\n\
             $Env:AWS_ACCESS_KEY_ID=\"ASIAEXAMPLE\"\n\
             $Env:AWS_SECRET_ACCESS_KEY=\"a`$b\"\n\
             $Env:AWS_SESSION_TOKEN=\"c`\"d\"\n"
        );
    }

    #[test]
    fn profile_names_table() {
        for (v, want) in [
            ("prod-admin", "prod-admin"),
            ("Prod Admin (123456789012)", "Prod-Admin-123456789012"),
            ("a]\n[default", "a-default"),
            ("", "roleport"),
            ("]]]", "roleport"),
            ("élan", "lan"),
        ] {
            assert_eq!(sanitize_profile_name(v), want, "{v:?}");
        }
        assert_eq!(sanitize_profile_name(&"x".repeat(100)).len(), 64);
    }

    #[test]
    fn credentials_file_shape() {
        let out = credentials_file_profile("dev [admin]", &creds("sec/ret+", "tok=="));
        assert_eq!(
            out.as_deref(),
            Ok("# valid until 2030-01-02T03:04:05Z\n\
                [dev-admin]\n\
                aws_access_key_id = ASIAEXAMPLE\n\
                aws_secret_access_key = sec/ret+\n\
                aws_session_token = tok==\n")
        );
        for (secret, token, field) in [
            ("a\nb", "t", "aws_secret_access_key"),
            ("s", "t\r\n[default]", "aws_session_token"),
            (" s", "t", "aws_secret_access_key"),
        ] {
            assert_eq!(
                credentials_file_profile("p", &creds(secret, token)),
                Err(CredentialFormatError::UnsafeIniValue { field })
            );
        }
    }

    #[test]
    fn credential_process_shape() {
        let out = credential_process_json(&creds("s\"ec", "tok"));
        assert_eq!(
            out,
            r#"{"Version":1,"AccessKeyId":"ASIAEXAMPLE","SecretAccessKey":"s\"ec","SessionToken":"tok","Expiration":"2030-01-02T03:04:05Z"}"#
        );
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        let exp = v["Expiration"].as_str().unwrap();
        assert!(DateTime::parse_from_rfc3339(exp).is_ok());
    }
}
