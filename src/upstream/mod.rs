//! Loading and refreshing upstream IdP trust around the pure cores.

pub mod certificates;
pub mod directory;
pub mod oidc_provider;
pub mod saml_idp;
