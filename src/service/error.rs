//! What a service call can answer instead of its result. Every variant carries the reference
//! that already stands in the log line (and the audit row, where there is one); the words shown
//! to the person are chosen once, in `crate::http::service_error`.

use crate::aws::broker::IssueError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A sign-in was refused; the precise reason is only in the log and the audit row.
    #[error("sign-in refused [{reference}]")]
    SignInRefused { reference: String },
    /// The sign-in verified but could not be recorded (database, randomness).
    #[error("sign-in could not complete [{reference}]")]
    SignInUnavailable { reference: String },
    /// The rules, as they stand now, grant no such role (credentials and console links).
    #[error("no such grant [{reference}]")]
    NoSuchGrant { reference: String },
    /// The rules grant no such role (console SAML POST).
    #[error("no such role [{reference}]")]
    NoSuchRole { reference: String },
    /// The console SAML POST needs a role reached through `saml_broker`.
    #[error("not a saml_broker role [{reference}]")]
    NotSamlBroker { reference: String },
    /// AWS was not reached, or refused, or is busy: the kind of answer follows the error's class.
    #[error("credentials not issued [{reference}]: {error}")]
    NotIssued {
        reference: String,
        error: IssueError,
    },
    /// Roleport could not sign the console SAML POST.
    #[error("SAML POST not signed [{reference}]: {error}")]
    NotSigned {
        reference: String,
        error: IssueError,
    },
    /// The audit row was not committed, so nothing was handed over.
    #[error("audit row not committed, nothing handed over [{reference}]")]
    NotRecorded { reference: String },
}

impl Error {
    pub fn reference(&self) -> &str {
        match self {
            Self::SignInRefused { reference }
            | Self::SignInUnavailable { reference }
            | Self::NoSuchGrant { reference }
            | Self::NoSuchRole { reference }
            | Self::NotSamlBroker { reference }
            | Self::NotIssued { reference, .. }
            | Self::NotSigned { reference, .. }
            | Self::NotRecorded { reference } => reference,
        }
    }
}
