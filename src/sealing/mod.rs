//! Sealing at rest: upstream bearer material (the ID token kept for `oidc_passthrough`) and
//! pending OIDC logins are stored only AES-256-GCM-sealed, bound to their holder, and so are
//! issued credentials waiting for their one view on the credentials page, and what an admin sent
//! while the page sent them to sign in again.

pub mod admin_draft;
pub mod aead;
pub mod id_token;
pub mod keys;
pub mod settings;
pub mod shown_once;
pub mod signing_key;
