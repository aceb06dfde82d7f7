//! Security headers on every response (design.md §5.4).

use crate::http::AppState;
use crate::http::request_meta::client_origin;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderValue, STRICT_TRANSPORT_SECURITY};
use actix_web::middleware::{DefaultHeaders, Next};
use actix_web::web;

/// One year, subdomains included: Roleport's origin is https-only outside development.
pub const HSTS: &str = "max-age=31536000; includeSubDomains";

/// The policy for every page. `form_targets` are the origins a form's POST may lead to besides
/// Roleport itself (`connect-src 'self'`: the picker saves stars with fetch): browsers apply `form-action` to the redirect after a POST too, so the
/// console button (POST, then 303 to the federation endpoint) needs those origins listed.
pub fn content_security_policy(form_targets: &[String]) -> String {
    let mut form_action = String::from("'self'");
    for origin in form_targets {
        form_action.push(' ');
        form_action.push_str(origin);
    }
    format!(
        "default-src 'none'; style-src 'self'; img-src 'self'; script-src 'self'; \
         connect-src 'self'; form-action {form_action}; frame-ancestors 'none'; base-uri 'none'"
    )
}

pub fn security_headers(form_targets: &[String]) -> DefaultHeaders {
    DefaultHeaders::new()
        .add((
            "Content-Security-Policy",
            content_security_policy(form_targets),
        ))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("X-Frame-Options", "DENY"))
        .add(("Referrer-Policy", "no-referrer"))
        .add(("Cross-Origin-Opener-Policy", "same-origin"))
        .add(("Cache-Control", "no-store"))
}

/// HSTS on every response outside dev_mode (where `public_url` must be https). Left off only
/// when a trusted proxy says the request came over plain http (RFC 6797 §7.2); what an
/// untrusted client claims about its scheme changes nothing.
pub async fn strict_transport_security(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let send = req
        .app_data::<web::Data<AppState>>()
        .is_some_and(|state| !state.settings.server.dev_mode)
        && client_origin(req.request()).and_then(|o| o.forwarded_https) != Some(false);
    let mut res = next.call(req).await?;
    if send {
        res.headers_mut()
            .insert(STRICT_TRANSPORT_SECURITY, HeaderValue::from_static(HSTS));
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_targets_are_listed_and_nothing_else_loosens() {
        let csp = content_security_policy(&["https://signin.aws.amazon.com".into()]);
        assert!(csp.contains("form-action 'self' https://signin.aws.amazon.com;"));
        assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"));
        assert!(!csp.contains("unsafe"));
    }
}
