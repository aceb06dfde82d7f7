//! Parsed-not-validated value types used across the crate.

mod email_trust;
mod identity;
mod return_to;
mod upstream_id_token;

pub use identity::FederatedIdentity;
pub use return_to::{ReturnTo, ReturnToError};
pub use upstream_id_token::{KeptIdToken, UnreadableIdToken, UpstreamIdToken};
