//! HTTP: thin handlers around the pure cores, the session, security headers and error pages.

pub mod admin_views;
pub mod admission;
pub mod cookies;
pub mod error_nav;
pub mod errors;
pub mod headers;
pub mod picker;
pub mod public_messages;
pub mod rate_limit;
pub mod request_meta;
pub mod routes;
pub mod service_error;
pub mod state;
pub mod views;

pub use state::AppState;
