//! SAML 2.0 Web Browser SSO, service-provider side. Pure: no I/O; `now` is a parameter.
//!
//! samael (with libxmlsec1) does the XML-DSig work; everything it leaves out or gets wrong
//! (design.md §4) is done here: the structural pre-scan, the algorithm and transform allow-lists,
//! every profile check against an injected clock, and decryption with uniform errors.

pub mod attributes;
pub mod authn_request;
mod checks;
#[cfg(test)]
mod checks_tests;
mod decrypt;
pub mod guard;
pub mod metadata;
mod policy;
mod signed_tree;
mod tree_reader;
mod verify;

use crate::protocol::identity_value::IdentityValueError;
pub use attributes::{AttributeMapping, extract_identity};
pub use verify::{
    IdpTrust, ScannedResponse, Solicitation, SpContext, VerifiedAssertion, scan, verify_response,
    verify_scanned,
};

/// Why a SAML response was refused. The variant is logged and audited; the browser only sees
/// "sign-in failed" and a reference id.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum SamlError {
    #[error("SAMLResponse is not valid base64")]
    BadEncoding,
    #[error("response exceeds the size or element limits")]
    TooLarge,
    #[error("response nests elements too deeply")]
    TooDeep,
    #[error("response contains a DTD")]
    DtdPresent,
    #[error("response contains an entity reference")]
    EntityReference,
    #[error("malformed response: {0}")]
    Malformed(String),
    #[error("a Response is wrapped inside the Response")]
    WrappedResponse,
    #[error("response carries {0} assertions; exactly one is required")]
    AssertionCount(usize),
    #[error("response is not signed")]
    Unsigned,
    #[error("signature policy: {0}")]
    SignaturePolicy(String),
    #[error("signature algorithm not allowed: {0}")]
    WeakAlgorithm(String),
    #[error("signature does not verify against the pinned certificates")]
    BadSignature,
    #[error("unknown issuer {0:?}")]
    UnknownIssuer(Option<String>),
    #[error("issuer mismatch: got {got:?}")]
    IssuerMismatch { got: Option<String> },
    #[error("destination mismatch: got {got:?}")]
    DestinationMismatch { got: Option<String> },
    #[error("recipient mismatch: got {got:?}")]
    RecipientMismatch { got: Option<String> },
    #[error("audience mismatch: got {got:?}")]
    AudienceMismatch { got: Vec<String> },
    #[error("status is not Success: {0:?}")]
    StatusNotSuccess(Option<String>),
    #[error("assertion has expired")]
    Expired,
    #[error("assertion is not yet valid")]
    NotYetValid,
    #[error("assertion was issued too long ago")]
    TooOld,
    #[error("no bearer subject confirmation")]
    NoBearerConfirmation,
    #[error("bearer SubjectConfirmationData carries NotBefore (SAML profiles §4.1.4.2 forbids it)")]
    ConfirmationNotBefore,
    #[error(
        "assertion lifetime too long: {element} NotOnOrAfter is {seconds} s after IssueInstant (maximum {max} s)"
    )]
    LifetimeTooLong {
        element: &'static str,
        seconds: i64,
        max: i64,
    },
    #[error("InResponseTo {got:?} does not match the request this browser started")]
    InResponseToMismatch { got: Option<String> },
    #[error("unsolicited response refused for this identity provider")]
    UnsolicitedRefused,
    #[error("assertion could not be decrypted")]
    DecryptionFailed,
    #[error("encrypted assertion uses CBC outside a signed Response")]
    CbcOutsideSignedResponse,
    #[error("assertion has no subject")]
    NoSubject,
    #[error(transparent)]
    IdentityValue(#[from] IdentityValueError),
    #[error("verification could not run: {0}")]
    Internal(String),
}

impl SamlError {
    /// A stable snake_case code for metrics labels, logs and audit rows.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadEncoding => "bad_encoding",
            Self::TooLarge => "too_large",
            Self::TooDeep => "too_deep",
            Self::DtdPresent => "dtd_present",
            Self::EntityReference => "entity_reference",
            Self::Malformed(_) => "malformed",
            Self::WrappedResponse => "wrapped_response",
            Self::AssertionCount(_) => "assertion_count",
            Self::Unsigned => "unsigned",
            Self::SignaturePolicy(_) => "signature_policy",
            Self::WeakAlgorithm(_) => "weak_algorithm",
            Self::BadSignature => "bad_signature",
            Self::UnknownIssuer(_) => "unknown_issuer",
            Self::IssuerMismatch { .. } => "issuer_mismatch",
            Self::DestinationMismatch { .. } => "destination_mismatch",
            Self::RecipientMismatch { .. } => "recipient_mismatch",
            Self::AudienceMismatch { .. } => "audience_mismatch",
            Self::StatusNotSuccess(_) => "status_not_success",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::TooOld => "too_old",
            Self::NoBearerConfirmation => "no_bearer_confirmation",
            Self::ConfirmationNotBefore => "confirmation_not_before",
            Self::LifetimeTooLong { .. } => "lifetime_too_long",
            Self::InResponseToMismatch { .. } => "in_response_to_mismatch",
            Self::UnsolicitedRefused => "unsolicited_refused",
            Self::DecryptionFailed => "decryption_failed",
            Self::CbcOutsideSignedResponse => "cbc_outside_signed_response",
            Self::NoSubject => "no_subject",
            Self::IdentityValue(e) => e.code(),
            Self::Internal(_) => "internal",
        }
    }
}
