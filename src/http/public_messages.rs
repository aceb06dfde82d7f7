//! What a person is told when issuing or checking credentials fails. Only words written for
//! them reach a page or a problem `detail`: never the text of a dependency's error (an AWS
//! message, an OpenSSL or credential-chain failure) and never configuration names. The precise
//! error stays in the log line and the audit row under the same reference.

use crate::aws::broker::IssueError;
use crate::aws::sts::StsError;
use crate::aws::sts_support::SupportError;

pub const NOT_SET_UP: &str = "Roleport is not set up to reach AWS for this role. Tell the Roleport \
     operators and quote the reference below.";

pub fn issue_error(e: &IssueError) -> String {
    match e {
        IssueError::Sts(sts) => sts_error(sts),
        IssueError::Signing(_) => "Roleport could not sign its request to AWS. Please try again; \
             if this keeps happening, tell the Roleport operators and quote the reference below."
            .into(),
        IssueError::UnusableUpstreamAssertion(_) => {
            "Your identity provider's assertion cannot be passed on to AWS. Sign in again; if \
             this keeps happening, tell the Roleport operators and quote the reference below."
                .into()
        }
        IssueError::NoSigningKey
        | IssueError::NoOidcKey
        | IssueError::NoEndpoints(_)
        | IssueError::NoOwnCredentials(_)
        | IssueError::NoFederationUser => NOT_SET_UP.into(),
        // Written for the person: what they asked for broke an AWS rule, or they must sign in
        // again.
        IssueError::Rule(_)
        | IssueError::NoUpstreamAssertion
        | IssueError::NoUpstreamIdToken
        | IssueError::UpstreamIdTokenExpired { .. }
        | IssueError::UpstreamAssertionTooOld { .. }
        | IssueError::RoleNotInUpstreamAssertion { .. } => e.to_string(),
    }
}

/// AWS's own message text is left out; its error code names the class.
pub fn sts_error(e: &StsError) -> String {
    match e {
        StsError::Other { code, .. } => format!(
            "AWS refused the request ({code}). If this keeps happening, tell the Roleport \
             operators and quote the reference below."
        ),
        _ => e.to_string(),
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

    #[test]
    fn dependency_text_never_reaches_the_person() {
        let secret = "arn:aws:iam::999999999999:user/internal-marker";
        let cases = [
            issue_error(&IssueError::Sts(StsError::Other {
                code: "Odd".into(),
                message: secret.into(),
            })),
            issue_error(&IssueError::Signing(secret.into())),
            issue_error(&IssueError::NoOwnCredentials(secret.into())),
            issue_error(&IssueError::UnusableUpstreamAssertion(secret.into())),
            support_error(&SupportError::Sts(StsError::Other {
                code: "Odd".into(),
                message: secret.into(),
            })),
        ];
        for message in cases {
            assert!(!message.contains("internal-marker"), "{message}");
            assert!(message.contains("reference"), "{message}");
        }
        assert!(!issue_error(&IssueError::NoFederationUser).contains("aws."));
    }
}
