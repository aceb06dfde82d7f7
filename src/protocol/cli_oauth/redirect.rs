//! The loopback redirect of a native app (RFC 8252 §7.3): `http://127.0.0.1:<port>/…` or
//! `http://[::1]:<port>/…`, any port, nothing else. `localhost` is refused (RFC 8252 §8.3: it
//! may resolve elsewhere), and so is every other host, scheme, user info or fragment.
//! The accepted string is kept exactly as sent and compared exactly at the token endpoint.

use url::{Host, Url};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoopbackRedirect(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedirectError {
    #[error("redirect_uri is missing")]
    Missing,
    #[error("redirect_uri is not an absolute URL")]
    NotAUrl,
    #[error("redirect_uri must use http on a loopback address")]
    NotHttp,
    #[error("redirect_uri must be 127.0.0.1 or [::1] with a port")]
    NotLoopback,
    #[error("redirect_uri must not carry user info or a fragment")]
    Extra,
    #[error("redirect_uri is too long")]
    TooLong,
}

const MAX_LEN: usize = 512;

impl LoopbackRedirect {
    pub fn parse(raw: Option<&str>) -> Result<Self, RedirectError> {
        let raw = raw.ok_or(RedirectError::Missing)?;
        if raw.len() > MAX_LEN {
            return Err(RedirectError::TooLong);
        }
        // The URL parser forgives whitespace and backslashes; a redirect target must not need that.
        if raw
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '\\')
        {
            return Err(RedirectError::NotAUrl);
        }
        let url = Url::parse(raw).map_err(|_| RedirectError::NotAUrl)?;
        if url.scheme() != "http" {
            return Err(RedirectError::NotHttp);
        }
        if !url.username().is_empty() || url.password().is_some() || url.fragment().is_some() {
            return Err(RedirectError::Extra);
        }
        let loopback = match url.host() {
            Some(Host::Ipv4(ip)) => ip == std::net::Ipv4Addr::LOCALHOST,
            Some(Host::Ipv6(ip)) => ip == std::net::Ipv6Addr::LOCALHOST,
            _ => false,
        };
        // The parser normalises `127.1` or `0x7f.0.0.1` into 127.0.0.1: only the literal form passes.
        let literal = raw.starts_with("http://127.0.0.1:") || raw.starts_with("http://[::1]:");
        if !loopback || !literal || url.port().is_none() {
            return Err(RedirectError::NotLoopback);
        }
        Ok(Self(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `http://127.0.0.1:<port>`: what the consent page's `form-action` must allow, since
    /// browsers check the redirect after a form's POST against it.
    pub fn origin(&self) -> String {
        Url::parse(&self.0)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_default()
    }

    /// The redirect carrying `code` and `state` (RFC 6749 §4.1.2) and `iss` (RFC 9207).
    pub fn with_code(&self, code: &str, state: Option<&str>, issuer: &str) -> String {
        let mut url = match Url::parse(&self.0) {
            Ok(u) => u,
            Err(_) => return self.0.clone(),
        };
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("code", code);
            if let Some(state) = state {
                q.append_pair("state", state);
            }
            q.append_pair("iss", issuer);
        }
        url.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn loopback_addresses_with_any_port_pass() {
        for ok in [
            "http://127.0.0.1:1/",
            "http://127.0.0.1:49152/callback",
            "http://[::1]:8080/cb?x=1",
        ] {
            assert_eq!(LoopbackRedirect::parse(Some(ok)).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn everything_else_is_refused() {
        use RedirectError::*;
        for (bad, why) in [
            ("", NotAUrl),
            ("/callback", NotAUrl),
            ("https://127.0.0.1:8080/", NotHttp),
            ("http://localhost:8080/", NotLoopback),
            ("http://127.0.0.1/", NotLoopback),
            ("http://127.0.0.2:80/", NotLoopback),
            ("http://127.1:8080/", NotLoopback),
            ("http://0x7f.0.0.1:8080/", NotLoopback),
            ("http://evil.example:8080/", NotLoopback),
            ("http://127.0.0.1.evil.example:80/", NotLoopback),
            ("http://[::ffff:127.0.0.1]:80/", NotLoopback),
            ("http://user@127.0.0.1:80/", Extra),
            ("http://127.0.0.1:80/#x", Extra),
            ("http://127.0.0.1:80/ x", NotAUrl),
            ("http://127.0.0.1:80\\@evil.example/", NotAUrl),
            ("javascript:alert(1)", NotHttp),
        ] {
            assert_eq!(LoopbackRedirect::parse(Some(bad)), Err(why), "{bad}");
        }
        assert_eq!(LoopbackRedirect::parse(None), Err(Missing));
    }

    #[test]
    fn the_origin_is_scheme_host_and_port() {
        let r = LoopbackRedirect::parse(Some("http://[::1]:9/cb?a=1")).unwrap();
        assert_eq!(r.origin(), "http://[::1]:9");
    }

    #[test]
    fn the_code_is_appended_to_the_query() {
        let r = LoopbackRedirect::parse(Some("http://127.0.0.1:9/cb?a=1")).unwrap();
        assert_eq!(
            r.with_code("c d", Some("s"), "https://rp.example"),
            "http://127.0.0.1:9/cb?a=1&code=c+d&state=s&iss=https%3A%2F%2Frp.example"
        );
    }

    proptest! {
        /// Whatever is accepted points at a loopback address.
        #[test]
        fn accepted_redirects_are_loopback(host in "[a-z0-9.:\\[\\]@]{1,30}", port in 0u32..70000, path in "[a-z/?=&#]{0,10}") {
            let raw = format!("http://{host}:{port}/{path}");
            if let Ok(r) = LoopbackRedirect::parse(Some(&raw)) {
                let url = Url::parse(r.as_str()).unwrap();
                let loopback = matches!(url.host(), Some(Host::Ipv4(ip)) if ip.is_loopback())
                    || matches!(url.host(), Some(Host::Ipv6(ip)) if ip.is_loopback());
                prop_assert!(loopback, "{raw}");
            }
        }
    }
}
