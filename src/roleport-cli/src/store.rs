//! Where the CLI keeps its state, and how: JSON files readable only by their owner (0600, in
//! 0700 directories), written through a temporary file and a rename so a reader never sees half.
//!
//! `$ROLEPORT_CLI_HOME` holds everything when set (tests, CI runners). Otherwise the settings and
//! tokens live in the user's config directory (`~/.config/roleport-cli` on Linux) and the
//! credential cache in the cache directory (`~/.cache/roleport-cli`).

use crate::error::CliError;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

pub struct Dirs {
    pub config: PathBuf,
    pub cache: PathBuf,
}

impl Dirs {
    pub fn locate() -> Result<Self, CliError> {
        if let Some(home) = std::env::var_os("ROLEPORT_CLI_HOME").filter(|h| !h.is_empty()) {
            let home = PathBuf::from(home);
            return Ok(Self {
                config: home.clone(),
                cache: home.join("cache"),
            });
        }
        let config = dirs::config_dir()
            .ok_or_else(|| CliError::Local("no config directory: set ROLEPORT_CLI_HOME".into()))?;
        let cache = dirs::cache_dir()
            .ok_or_else(|| CliError::Local("no cache directory: set ROLEPORT_CLI_HOME".into()))?;
        Ok(Self {
            config: config.join("roleport-cli"),
            cache: cache.join("roleport-cli"),
        })
    }

    pub fn settings(&self) -> PathBuf {
        self.config.join("settings.json")
    }

    pub fn tokens(&self) -> PathBuf {
        self.config.join("tokens.json")
    }

    pub fn credentials(&self) -> PathBuf {
        self.cache.join("credentials")
    }
}

fn private_dir(dir: &Path) -> Result<(), CliError> {
    fs::create_dir_all(dir).map_err(|e| CliError::io(dir, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
            .map_err(|e| CliError::io(dir, e))?;
    }
    Ok(())
}

pub fn read<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, CliError> {
    match fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            CliError::Local(format!(
                "{} is not readable ({e}); delete it",
                path.display()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(CliError::io(path, e)),
    }
}

pub fn write<T: Serialize>(path: &Path, value: &T) -> Result<(), CliError> {
    let dir = path
        .parent()
        .ok_or_else(|| CliError::Local(format!("{} has no directory", path.display())))?;
    private_dir(dir)?;
    let bytes = serde_json::to_vec_pretty(value).map_err(|e| CliError::Local(e.to_string()))?;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp).map_err(|e| CliError::io(&tmp, e))?;
    file.write_all(&bytes).map_err(|e| CliError::io(&tmp, e))?;
    file.sync_all().map_err(|e| CliError::io(&tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| CliError::io(path, e))
}

pub fn remove(path: &Path) -> Result<(), CliError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(CliError::io(path, e)),
    }
}

pub fn remove_dir(path: &Path) -> Result<(), CliError> {
    match fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(CliError::io(path, e)),
    }
}
