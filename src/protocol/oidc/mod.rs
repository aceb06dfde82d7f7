//! OpenID Connect, relying-party side. Pure: no I/O, keys and `now` are parameters.
//!
//! The upstream flow (discovery, authorization request, code exchange) uses the `openidconnect`
//! crate; its ID-token validation is incomplete (design.md §4: no `iat`/max age, no `azp`, no
//! `at_hash`, no leeway, no JWKS refresh), so Roleport decides on ID tokens here and only here:
//!
//! - [`jwks`]: a provider's JWKS → [`KeySet`] (RSA ≥ 2048 bits, EC P-256/384/521, `use`/`key_ops`,
//!   `kid`, `alg`), and the key-selection rule;
//! - [`jws`]: compact JWS with strict encoding, duplicate-member rejection, a pinned algorithm
//!   allow-list (never `none`/`HS*`), `crit`, embedded-key headers, RSA/PSS/ECDSA verification;
//! - [`id_token`]: [`verify_id_token`], every check of OIDC Core §3.1.3.7 plus `azp`, `at_hash`,
//!   leeway and a maximum age;
//! - [`claims`]: the identity (stable id, e-mail, groups, `hd`) through configurable claim paths;
//! - [`state`]: PKCE S256, `state`/`nonce` values, and the callback check with RFC 9207 `iss`.
//!
//! Left to the caller (stateful): making the nonce and `state` single-use (consume the pending
//! login row atomically), refreshing the JWKS on a schedule and once — rate-limited — when
//! [`IdTokenError::suggests_jwks_refresh`] is true, and reading the clock.
//!
//! Every error type has a stable `code()` (`jwks.*`, `jws.*`, `id_token.*`, `claims.*`,
//! `flow.*`, `callback.*`) for logs, audit rows and tests; a refused identity value is
//! `identity_value_refused`, the code SAML uses for the same rule
//! ([`crate::protocol::identity_value`]).

pub mod alg;
pub mod claims;
pub mod id_token;
pub mod json;
pub mod jwks;
pub mod jws;
pub mod state;

#[cfg(test)]
mod attack_tests;
#[cfg(test)]
mod jwks_tests;
#[cfg(test)]
mod test_support;

pub use alg::{EcCurve, JwsAlg, KeyFamily};
pub use claims::{
    ClaimMapping, ClaimPath, ClaimsError, GroupSource, Identity, StringForm, extract_identity,
    rule_attributes,
};
pub use id_token::{
    AtHashRule, Expectations, IdTokenError, IdTokenPolicy, VerifiedIdToken, token_hash,
    verify_id_token,
};
pub use jwks::{JwksError, KeySet, SkipReason, SkippedKey, VerificationKey};
pub use jws::{EmbeddedKeyHeaders, JoseHeader, JwsError, JwsPolicy, VerifiedJws, peek_header};
pub use state::{
    CallbackError, CallbackParams, FlowBinding, Pkce, SecretError, check_callback, new_nonce,
    new_state, pkce_s256_challenge,
};
