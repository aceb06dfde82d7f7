//! Security headers on every response (design.md §5.4).

use actix_web::middleware::DefaultHeaders;

/// The policy for every page. `form_targets` are the origins a form's POST may lead to besides
/// Roleport itself: browsers apply `form-action` to the redirect after a POST too, so the
/// console button (POST, then 303 to the federation endpoint) needs those origins listed.
pub fn content_security_policy(form_targets: &[String]) -> String {
    let mut form_action = String::from("'self'");
    for origin in form_targets {
        form_action.push(' ');
        form_action.push_str(origin);
    }
    format!(
        "default-src 'none'; style-src 'self'; img-src 'self'; script-src 'self'; \
         form-action {form_action}; frame-ancestors 'none'; base-uri 'none'"
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
