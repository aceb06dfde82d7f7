//! The service layer between the HTTP routes and the cores, in the shape of kanidm's idm
//! actions: each function does one thing a person asks for — finish a sign-in, issue
//! credentials, sign a console SAML POST — with its audit row, log lines and metrics, and
//! answers a typed [`Error`]. Routes read their input, call one of these, and turn the one error
//! type into a page or a problem JSON (`crate::http::service_error`).

pub mod cli_oauth;
pub mod console_post;
mod error;
pub mod issue;
pub mod nested_groups;
pub mod refusals;
pub mod sign_in;

pub use error::Error;

use crate::audit::AuditEvent;
use crate::db;
use crate::domain::FederatedIdentity;
use crate::http::AppState;
use crate::protocol::mapping::Claims;

/// What the rules see of a signed-in person.
pub fn claims_of(identity: &FederatedIdentity) -> Claims {
    Claims {
        idp: identity.idp.clone(),
        subject: identity.subject.clone(),
        email: identity.email.clone(),
        // An identity only keeps an address its IdP vouches for (`forget_unverified_email`).
        email_verified: identity.email.is_some(),
        groups: identity.groups.clone(),
        attributes: identity.attributes.clone(),
    }
}

/// For rows whose failure must not change the answer (refusals): the failure is logged.
async fn audit_or_log(state: &AppState, reference: &str, event: AuditEvent) {
    if let Err(e) = db::audit::append(&state.pool, reference, state.clock.now(), event).await {
        tracing::error!(reference, error = %e, "audit write failed");
    }
}
