//! Pure protocol logic: no I/O, no web framework, time passed in.

pub mod arn;
pub mod aws;
pub mod cli_oauth;
pub mod directory;
pub mod identity_value;
pub mod mapping;
pub mod oidc;
pub mod saml;
pub mod xml;
