//! What a person is told when issuing or checking credentials fails. Only words written for
//! them reach a page or a problem `detail`: never the text of a dependency's error (an AWS
//! message, an OpenSSL or credential-chain failure) and never configuration names. The precise
//! error stays in the log line and the audit row under the same reference.

use crate::aws::broker::IssueError;
use crate::aws::sts::{StsError, StsErrorClass};
use crate::aws::sts_support::SupportError;
use crate::http::errors::Kind;

pub const NOT_SET_UP: &str = "Roleport is not set up to reach AWS for this role. Tell the Roleport \
     operators and quote the reference below.";

pub fn issue_error(e: &IssueError) -> String {
    match e {
        IssueError::Sts(sts) => sts_error(sts),
        IssueError::Signing(_) => "Roleport could not sign its request to AWS. Please try again; \
             if this keeps happening, tell the Roleport operators and quote the reference below."
            .into(),
        IssueError::NoSigningKey
        | IssueError::NoOidcKey
        | IssueError::NoEndpoints(_)
        | IssueError::NoOwnCredentials(_)
        | IssueError::NoFederationUser => NOT_SET_UP.into(),
        // Written for the person: what they asked for broke an AWS rule, the role's mode is
        // retired, or they must sign in (again, or through another provider).
        IssueError::Rule(_)
        | IssueError::RetiredMode(_)
        | IssueError::NoUpstreamIdToken
        | IssueError::UpstreamIdTokenExpired { .. } => e.to_string(),
        // Which key, and why, is for the log line and the audit row.
        IssueError::UpstreamIdTokenUnreadable(_) => {
            "Roleport can no longer read the ID token kept from your sign-in, which this role \
             needs. Sign in again to use this role."
                .into()
        }
    }
}

/// AWS's own message text is left out (it is in the log line and the audit row, see
/// [`StsError::detail`]): the plain words of the error's kind name only AWS's error code.
pub fn sts_error(e: &StsError) -> String {
    e.to_string()
}

/// Which kind of problem an STS failure of a support call is. Support calls use Roleport's own
/// credentials or ones it just issued, never a role's trust: a denial is a refusal that
/// retrying will not fix, and only a busy AWS is a "try again" (503).
pub fn sts_kind(e: &StsError) -> Kind {
    match e.class() {
        StsErrorClass::Busy => Kind::AwsBusy,
        StsErrorClass::SignInAgain => Kind::SignInTooOld,
        StsErrorClass::NotTrusted | StsErrorClass::Refused => Kind::AwsRefused,
    }
}

/// The kind of a support tool's failure that is not the person's input.
pub fn support_kind(e: &SupportError) -> Kind {
    match e {
        SupportError::Sts(sts) => sts_kind(sts),
        // Roleport is not set up for the call: nothing the person can retry.
        SupportError::NoCredentials | SupportError::IncompleteCredentials(_) => Kind::Internal,
        SupportError::NoAnswer => Kind::AwsBusy,
        SupportError::BadMessage(_) | SupportError::InvalidMessage { .. } => Kind::BadRequest,
    }
}

pub fn support_error(e: &SupportError) -> String {
    match e {
        SupportError::NoCredentials | SupportError::IncompleteCredentials(_) => {
            "Roleport is not set up to decode messages: it has no AWS credentials of its own. \
             Tell the Roleport operators and quote the reference below."
                .into()
        }
        SupportError::Sts(sts) => sts_error(sts),
        SupportError::BadMessage(_)
        | SupportError::InvalidMessage { .. }
        | SupportError::NoAnswer => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(message: &str) -> crate::aws::sts::AwsWords {
        crate::aws::sts::AwsWords {
            code: "Odd".into(),
            message: message.into(),
            request_id: Some("req-1".into()),
        }
    }

    #[test]
    fn dependency_text_never_reaches_the_person() {
        let secret = "arn:aws:iam::999999999999:user/internal-marker";
        let cases = [
            issue_error(&IssueError::Sts(StsError::Other(words(secret)))),
            issue_error(&IssueError::Signing(secret.into())),
            issue_error(&IssueError::NoOwnCredentials(secret.into())),
            support_error(&SupportError::Sts(StsError::AccessDenied(words(secret)))),
        ];
        for message in cases {
            assert!(!message.contains("internal-marker"), "{message}");
            assert!(message.contains("reference"), "{message}");
        }
        assert!(!issue_error(&IssueError::NoFederationUser).contains("aws."));
    }

    #[test]
    fn only_a_busy_aws_is_a_try_again() {
        assert_eq!(sts_kind(&StsError::Throttled(words("x"))), Kind::AwsBusy);
        assert_eq!(sts_kind(&StsError::Timeout), Kind::AwsBusy);
        assert_eq!(
            sts_kind(&StsError::AccessDenied(words("x"))),
            Kind::AwsRefused
        );
        assert_eq!(sts_kind(&StsError::Other(words("x"))), Kind::AwsRefused);
        assert_eq!(sts_kind(&StsError::Expired(words("x"))), Kind::SignInTooOld);
        assert_eq!(support_kind(&SupportError::NoCredentials), Kind::Internal);
    }
}
