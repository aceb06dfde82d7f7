//! The one integration test binary. Each test spawns Roleport in-process on port 0 with a fresh
//! database; the peers (OpenLDAP + SimpleSAMLphp) are started by `deploy/test.sh`.

mod helpers;

mod audit;
mod e2e_saml;
mod service;
