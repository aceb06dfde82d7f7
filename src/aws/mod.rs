//! Reaching AWS: STS through the SDK, the console federation endpoint over HTTP, and Roleport's
//! own IdP keys. The AWS rules themselves live in the pure `protocol::aws`.

pub mod broker;
pub mod federation;
pub mod iam;
pub mod key_gen;
pub mod key_ring;
pub mod modes;
pub mod own_credentials;
pub mod registration;
pub mod rotation;
pub mod sts;
pub mod sts_support;
