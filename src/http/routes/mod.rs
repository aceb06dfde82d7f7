//! Route registration, one module per area.

mod access;
mod acs;
mod admin;
mod api_caller;
mod assets;
mod cli_oauth;
mod credentials;
mod credentials_page;
mod health;
mod login;
mod logout;
mod metadata;
mod oidc;
mod oidc_issuer;
mod refused;
mod roles;
mod session;
mod support;

use actix_web::web;

pub use health::configure_metrics;
pub use session::SignedIn;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.configure(login::configure)
        .configure(logout::configure)
        .configure(acs::configure)
        .configure(oidc::configure)
        .configure(oidc_issuer::configure)
        .configure(cli_oauth::configure)
        .configure(roles::configure)
        .configure(access::configure)
        .configure(credentials::configure)
        .configure(support::configure)
        .configure(admin::configure)
        .configure(metadata::configure)
        .configure(health::configure)
        .configure(assets::configure);
}
