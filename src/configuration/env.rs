//! File + environment layering: `ROLEPORT_*` overrides, `_FILE` secrets, and the secrets that
//! must never be written in the configuration file.

use secrecy::SecretString;

use super::{ConfigError, IdpKind, Settings};

/// OIDC client secrets: `ROLEPORT_IDP_<ID>_CLIENT_SECRET`, its `_FILE` variant, or the idp's
/// `client_secret_file` — exactly one of them for a confidential client, none for a public one.
pub(super) fn resolve_client_secrets(
    settings: &mut Settings,
    env: &[(String, String)],
) -> Result<(), ConfigError> {
    for idp in &mut settings.idps {
        let variable = idp.client_secret_variable();
        let id = idp.id.clone();
        let IdpKind::Oidc(oidc) = &mut idp.kind else {
            continue;
        };
        let file_variable = format!("{variable}_FILE");
        let mut sources = Vec::new();
        for (name, value) in env {
            if *name == variable {
                sources.push(value.trim_end().to_string());
            } else if *name == file_variable {
                let text = std::fs::read_to_string(value).map_err(|e| ConfigError::Env {
                    name: name.clone(),
                    message: format!("cannot read {value}: {e}"),
                })?;
                sources.push(text.trim_end().to_string());
            }
        }
        if let Some(path) = &oidc.client_secret_file {
            let text = std::fs::read_to_string(path).map_err(|e| {
                ConfigError::Invalid(format!(
                    "idp `{id}` client_secret_file {}: {e}",
                    path.display()
                ))
            })?;
            sources.push(text.trim_end().to_string());
        }
        match sources.len() {
            0 => {}
            1 => oidc.client_secret = sources.pop().map(SecretString::from),
            _ => {
                return Err(ConfigError::Invalid(format!(
                    "idp `{id}`: the client secret is given more than once ({variable}, \
                     {file_variable}, client_secret_file): keep one"
                )));
            }
        }
    }
    Ok(())
}

/// Secrets that must come from the environment or a `*_file`, never from the (committed)
/// configuration file itself.
pub(super) fn refuse_secrets_in_file(table: &toml::Table) -> Result<(), ConfigError> {
    let secret = table
        .get("aws")
        .and_then(|aws| aws.get("federation_user"))
        .and_then(|user| user.get("secret_access_key"));
    if let Some(toml::Value::Array(idps)) = table.get("idp") {
        for idp in idps {
            if idp.get("client_secret").is_some() {
                let id = idp.get("id").and_then(toml::Value::as_str).unwrap_or("?");
                return Err(ConfigError::Invalid(format!(
                    "idp `{id}`: client_secret must not be written in the configuration file: use \
                     client_secret_file, or ROLEPORT_IDP_<ID>_CLIENT_SECRET(_FILE)"
                )));
            }
        }
    }
    if secret.is_some() {
        return Err(ConfigError::Invalid(
            "aws.federation_user.secret_access_key must not be written in the configuration file: \
             use secret_access_key_file, or ROLEPORT_AWS__FEDERATION_USER__SECRET_ACCESS_KEY(_FILE)"
                .into(),
        ));
    }
    // Key rings (one `<id> <base64>` per line) come only from `key_file` or the environment.
    for section in ["audit", "sealing"] {
        if table.get(section).and_then(|s| s.get("key")).is_some() {
            let upper = section.to_uppercase();
            return Err(ConfigError::Invalid(format!(
                "{section}.key must not be written in the configuration file: use \
                 {section}.key_file, or ROLEPORT_{upper}__KEY(_FILE)"
            )));
        }
    }
    Ok(())
}

/// `ROLEPORT_*` variables that are not settings: the config path, the log format, and knobs of
/// the test scripts. Every other `ROLEPORT_*` variable must name a setting.
const NOT_SETTINGS: &[&str] = &[
    "ROLEPORT_CONFIG",
    "ROLEPORT_LOG_FORMAT",
    // roleport-cli's own variables (URL, state directory), exported in engineers' shells.
    "ROLEPORT_CLI_",
    "ROLEPORT_TEST_",
    "ROLEPORT_VENV",
];

pub(super) fn apply_env(
    table: &mut toml::Table,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<(), ConfigError> {
    let mut vars: Vec<(String, String)> = env
        .into_iter()
        .filter(|(k, _)| {
            k.starts_with("ROLEPORT_")
                && !NOT_SETTINGS.iter().any(|p| k.starts_with(p))
                && !is_client_secret_variable(k)
        })
        .collect();
    vars.sort();
    for (name, raw) in vars {
        let Some(rest) = name.strip_prefix("ROLEPORT_") else {
            continue;
        };
        let (key_path, value) = match rest.strip_suffix("_FILE") {
            Some(stripped) => {
                let secret = std::fs::read_to_string(&raw).map_err(|e| ConfigError::Env {
                    name: name.clone(),
                    message: format!("cannot read {raw}: {e}"),
                })?;
                (
                    stripped.to_string(),
                    toml::Value::String(secret.trim_end().to_string()),
                )
            }
            None => (rest.to_string(), scalar(&raw)),
        };
        let parts: Vec<String> = key_path.split("__").map(str::to_lowercase).collect();
        set_path(table, &parts, value).map_err(|message| ConfigError::Env {
            name: name.clone(),
            message,
        })?;
    }
    Ok(())
}

/// `ROLEPORT_IDP_<ID>_CLIENT_SECRET(_FILE)` are read by [`resolve_client_secrets`], not as a
/// settings path (those use `__`).
fn is_client_secret_variable(name: &str) -> bool {
    name.strip_prefix("ROLEPORT_IDP_").is_some_and(|rest| {
        !rest.starts_with('_')
            && (rest.ends_with("_CLIENT_SECRET") || rest.ends_with("_CLIENT_SECRET_FILE"))
    })
}

fn scalar(raw: &str) -> toml::Value {
    if let Ok(i) = raw.parse::<i64>() {
        return toml::Value::Integer(i);
    }
    match raw {
        "true" => toml::Value::Boolean(true),
        "false" => toml::Value::Boolean(false),
        _ => toml::Value::String(raw.to_string()),
    }
}

fn set_path(table: &mut toml::Table, parts: &[String], value: toml::Value) -> Result<(), String> {
    match parts {
        [] => Err("empty key".into()),
        [last] => {
            // Strings that look like numbers stay strings where the file already has a string.
            let value = match (table.get(last), &value) {
                (Some(toml::Value::String(_)), toml::Value::Integer(i)) => {
                    toml::Value::String(i.to_string())
                }
                _ => value,
            };
            table.insert(last.clone(), value);
            Ok(())
        }
        [first, rest @ ..] => {
            let entry = table
                .entry(first.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            match entry {
                toml::Value::Table(inner) => set_path(inner, rest, value),
                _ => Err(format!("`{first}` is not a section")),
            }
        }
    }
}
