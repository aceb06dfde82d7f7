//! What can go wrong, and the one line each prints. No message carries a secret: stderr is what
//! the AWS CLI shows when `credential_process` fails.

use std::fmt;
use std::path::Path;

#[derive(Debug)]
pub enum CliError {
    /// No sign-in stored, or Roleport no longer accepts it: the person must run `login`.
    SignInNeeded,
    /// Wrong use of the command line, or a missing setting.
    Usage(String),
    /// Roleport answered with an error.
    Server {
        status: u16,
        message: String,
        reference: Option<String>,
    },
    /// Roleport could not be reached.
    Network(String),
    /// Files, the browser, the child process.
    Local(String),
}

impl CliError {
    pub fn io(path: &Path, e: std::io::Error) -> Self {
        Self::Local(format!("{}: {e}", path.display()))
    }

    pub fn exit_code(&self) -> i32 {
        match self {
            Self::SignInNeeded => 3,
            Self::Usage(_) => 2,
            _ => 1,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SignInNeeded => f.write_str(
                "your Roleport sign-in has ended or is missing: run `roleport-cli login`",
            ),
            Self::Usage(m) | Self::Network(m) | Self::Local(m) => f.write_str(m),
            Self::Server {
                status,
                message,
                reference,
            } => match reference {
                Some(r) => write!(f, "Roleport refused ({status}): {message} [reference {r}]"),
                None => write!(f, "Roleport refused ({status}): {message}"),
            },
        }
    }
}
