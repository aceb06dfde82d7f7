//! Loading and refreshing upstream IdP trust around the pure cores.

pub mod saml_idp;
