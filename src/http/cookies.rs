//! Cookie names and flags. Outside dev mode cookies carry the `__Host-` prefix, which browsers
//! accept only with Secure, Path=/ and no Domain.

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

#[derive(Debug, Clone, Copy)]
pub struct CookiePolicy {
    pub dev_mode: bool,
}

impl CookiePolicy {
    pub fn session_name(&self) -> &'static str {
        if self.dev_mode {
            "roleport_session"
        } else {
            "__Host-roleport_session"
        }
    }

    pub fn browser_name(&self) -> &'static str {
        if self.dev_mode {
            "roleport_browser"
        } else {
            "__Host-roleport_browser"
        }
    }

    pub fn draft_name(&self) -> &'static str {
        if self.dev_mode {
            "roleport_draft"
        } else {
            "__Host-roleport_draft"
        }
    }

    /// Holds the key to an admin's draft (see [`crate::sealing::admin_draft`]) while they sign in
    /// again. Lax: it must come along on the top-level GET back from the identity provider.
    pub fn draft(&self, token: String, max_age_seconds: i64) -> Cookie<'static> {
        self.build(self.draft_name(), token, max_age_seconds, SameSite::Lax)
    }

    pub fn session(&self, token: String, max_age_seconds: i64) -> Cookie<'static> {
        self.build(self.session_name(), token, max_age_seconds, SameSite::Lax)
    }

    /// Binds a pending login to this browser. The IdP posts the response cross-site, so outside
    /// local development (where IdP and Roleport share a site) it must be SameSite=None.
    pub fn browser(&self, token: String) -> Cookie<'static> {
        let same_site = if self.dev_mode {
            SameSite::Lax
        } else {
            SameSite::None
        };
        self.build(self.browser_name(), token, 24 * 3600, same_site)
    }

    pub fn removal(&self, name: &'static str) -> Cookie<'static> {
        let mut c = self.build(name, String::new(), 0, SameSite::Lax);
        c.make_removal();
        c
    }

    fn build(
        &self,
        name: &'static str,
        value: String,
        max_age_seconds: i64,
        same_site: SameSite,
    ) -> Cookie<'static> {
        Cookie::build(name, value)
            .path("/")
            .http_only(true)
            .secure(!self.dev_mode)
            .same_site(same_site)
            .max_age(CookieDuration::seconds(max_age_seconds))
            .finish()
    }
}

/// 256 random bits, URL-safe.
pub fn random_token() -> Result<String, openssl::error::ErrorStack> {
    let mut buf = [0u8; 32];
    openssl::rand::rand_bytes(&mut buf)?;
    Ok(URL_SAFE_NO_PAD.encode(buf))
}
