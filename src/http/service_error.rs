//! The one translation of [`service::Error`] into HTTP: which page or problem, which status and
//! which words. The service already wrote the log line and the audit row under the reference.

use crate::aws::broker::IssueErrorClass;
use crate::http::errors::{AppError, Format, Kind};
use crate::http::public_messages::issue_error;
use crate::service;

impl AppError {
    pub fn from_service(e: service::Error, format: Format) -> Self {
        use service::Error as E;
        let (kind, message) = match &e {
            E::SignInRefused { .. } => (
                Kind::SignInFailed,
                "Roleport could not accept the answer from your sign-in service. Please start again; if it keeps failing, give the reference below to your platform team.".to_string(),
            ),
            E::SignInUnavailable { .. } => (
                Kind::Unavailable,
                "Roleport cannot complete sign-in right now. Please try again in a moment.".into(),
            ),
            E::NoSuchGrant { .. } => (
                Kind::NotFound,
                "You have no such role. It may have been removed; reload your roles.".into(),
            ),
            E::NoSuchRole { .. } => (Kind::NotFound, "You have no such role.".into()),
            E::NotSamlBroker { .. } => (
                Kind::BadRequest,
                "This role is not reached through Roleport's own SAML identity, so AWS's sign-in page cannot be used for it.".into(),
            ),
            E::NotIssued { error, .. } => {
                let kind = match error.class() {
                    IssueErrorClass::Refused => Kind::BadRequest,
                    IssueErrorClass::SignInAgain => Kind::SignInTooOld,
                    IssueErrorClass::WrongSignIn => Kind::WrongSignIn,
                    IssueErrorClass::Retired => Kind::AccessModeRetired,
                    IssueErrorClass::NotTrusted => Kind::AwsNotTrusted,
                    IssueErrorClass::AwsRefused => Kind::AwsRefused,
                    IssueErrorClass::Configuration => Kind::Internal,
                    IssueErrorClass::AwsBusy => Kind::AwsBusy,
                    IssueErrorClass::Unavailable => Kind::Unavailable,
                };
                (kind, issue_error(error))
            }
            E::NotSigned { error, .. } => (Kind::Unavailable, issue_error(error)),
            E::NotRecorded { .. } => (
                Kind::Unavailable,
                "Roleport could not record this request, so it issued nothing. Please try again in a moment.".into(),
            ),
        };
        AppError::new(kind, format, e.reference(), message)
    }
}

/// Sign-in and console pages are HTML; JSON callers use [`AppError::from_service`].
impl From<service::Error> for AppError {
    fn from(e: service::Error) -> Self {
        AppError::from_service(e, Format::Html)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::broker::IssueError;
    use actix_web::ResponseError;
    use actix_web::http::StatusCode;

    #[test]
    fn each_service_error_keeps_its_status_format_and_reference() {
        let r = || "ref-1".to_string();
        let cases = [
            (
                service::Error::SignInRefused { reference: r() },
                StatusCode::FORBIDDEN,
            ),
            (
                service::Error::SignInUnavailable { reference: r() },
                StatusCode::SERVICE_UNAVAILABLE,
            ),
            (
                service::Error::NoSuchGrant { reference: r() },
                StatusCode::NOT_FOUND,
            ),
            (
                service::Error::NoSuchRole { reference: r() },
                StatusCode::NOT_FOUND,
            ),
            (
                service::Error::NotSamlBroker { reference: r() },
                StatusCode::BAD_REQUEST,
            ),
            (
                service::Error::NotIssued {
                    reference: r(),
                    error: IssueError::NoSigningKey,
                },
                StatusCode::INTERNAL_SERVER_ERROR,
            ),
            (
                service::Error::NotIssued {
                    reference: r(),
                    error: IssueError::NoUpstreamIdToken,
                },
                StatusCode::FORBIDDEN,
            ),
            (
                service::Error::NotSigned {
                    reference: r(),
                    error: IssueError::NoSigningKey,
                },
                StatusCode::SERVICE_UNAVAILABLE,
            ),
            (
                service::Error::NotRecorded { reference: r() },
                StatusCode::SERVICE_UNAVAILABLE,
            ),
        ];
        for (error, status) in cases {
            let shown = format!("{error}");
            let json = AppError::from_service(error, Format::Json);
            assert_eq!(json.status_code(), status, "{shown}");
            assert_eq!(json.format, Format::Json);
            assert_eq!(json.reference, "ref-1");
        }
        let html: AppError = service::Error::NoSuchRole { reference: r() }.into();
        assert_eq!(html.format, Format::Html);
        assert_eq!(html.message, "You have no such role.");
    }
}
