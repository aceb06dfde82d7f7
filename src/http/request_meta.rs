//! Who is asking: source address and user agent, for logs and audit rows.

use actix_web::HttpRequest;

#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
}

impl RequestMeta {
    /// The peer address of the TCP connection. Forwarded headers are not trusted: a deployment
    /// behind a proxy must configure the proxy to be the only peer.
    pub fn of(req: &HttpRequest) -> Self {
        Self {
            source_ip: req.peer_addr().map(|a| a.ip().to_string()),
            user_agent: req
                .headers()
                .get(actix_web::http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(|s| s.chars().take(512).collect()),
        }
    }
}
