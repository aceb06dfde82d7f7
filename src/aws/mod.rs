//! Reaching AWS: STS through the SDK, the console federation endpoint over HTTP, and Roleport's
//! own IdP keys. The AWS rules themselves live in the pure `protocol::aws`.

pub mod broker;
pub mod federation;
pub mod modes;
pub mod own_credentials;
pub mod sts;
pub mod sts_support;
