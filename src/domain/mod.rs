//! Parsed-not-validated value types used across the crate.

mod identity;
mod return_to;

pub use identity::FederatedIdentity;
pub use return_to::{ReturnTo, ReturnToError};
