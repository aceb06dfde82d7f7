//! SP-initiated AuthnRequest over the HTTP-Redirect binding (SAML bindings §3.4), optionally
//! signed with the query-string signature that binding defines.

use crate::protocol::xml::escape as xml_escape;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, SecondsFormat, Utc};
use flate2::Compression;
use flate2::write::DeflateEncoder;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::sign::Signer;
use std::io::Write;

const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";

pub struct AuthnRequest<'a> {
    pub id: &'a str,
    pub issue_instant: DateTime<Utc>,
    pub destination: &'a str,
    pub acs_url: &'a str,
    pub sp_entity_id: &'a str,
    /// `ForceAuthn="true"`: the IdP must authenticate the person again rather than reuse its
    /// own session (the admin pages' re-authentication).
    pub force_authn: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum AuthnRequestError {
    #[error("the IdP SSO URL is not a valid URL")]
    BadDestination,
    #[error("could not encode or sign the request: {0}")]
    Encoding(String),
}

impl AuthnRequest<'_> {
    pub fn to_xml(&self) -> String {
        format!(
            concat!(
                r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" "#,
                r#"xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{id}" Version="2.0" "#,
                r#"IssueInstant="{instant}" Destination="{dest}" AssertionConsumerServiceURL="{acs}" "#,
                r#"ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"{force}>"#,
                r#"<saml:Issuer>{issuer}</saml:Issuer>"#,
                r#"<samlp:NameIDPolicy AllowCreate="true"/>"#,
                r#"</samlp:AuthnRequest>"#
            ),
            id = xml_escape(self.id),
            instant = self
                .issue_instant
                .to_rfc3339_opts(SecondsFormat::Secs, true),
            dest = xml_escape(self.destination),
            acs = xml_escape(self.acs_url),
            issuer = xml_escape(self.sp_entity_id),
            force = if self.force_authn {
                r#" ForceAuthn="true""#
            } else {
                ""
            },
        )
    }

    /// The URL to send the browser to. `relay_state` is an opaque handle, never a URL.
    pub fn redirect_url(
        &self,
        relay_state: &str,
        signing_key: Option<&PKey<Private>>,
    ) -> Result<String, AuthnRequestError> {
        let mut encoder = DeflateEncoder::new(Vec::new(), Compression::default());
        encoder
            .write_all(self.to_xml().as_bytes())
            .map_err(|e| AuthnRequestError::Encoding(e.to_string()))?;
        let deflated = encoder
            .finish()
            .map_err(|e| AuthnRequestError::Encoding(e.to_string()))?;
        let mut query = format!(
            "SAMLRequest={}&RelayState={}",
            urlencoding::encode(&STANDARD.encode(deflated)),
            urlencoding::encode(relay_state)
        );
        if let Some(key) = signing_key {
            query.push_str("&SigAlg=");
            query.push_str(&urlencoding::encode(RSA_SHA256));
            let mut signer = Signer::new(MessageDigest::sha256(), key)
                .map_err(|e| AuthnRequestError::Encoding(e.to_string()))?;
            signer
                .update(query.as_bytes())
                .map_err(|e| AuthnRequestError::Encoding(e.to_string()))?;
            let signature = signer
                .sign_to_vec()
                .map_err(|e| AuthnRequestError::Encoding(e.to_string()))?;
            query.push_str("&Signature=");
            query.push_str(&urlencoding::encode(&STANDARD.encode(signature)));
        }
        let mut url =
            url::Url::parse(self.destination).map_err(|_| AuthnRequestError::BadDestination)?;
        let merged = match url.query() {
            Some(existing) if !existing.is_empty() => format!("{existing}&{query}"),
            _ => query,
        };
        url.set_query(Some(&merged));
        Ok(url.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use flate2::read::DeflateDecoder;
    use std::io::Read;

    fn request() -> AuthnRequest<'static> {
        AuthnRequest {
            id: "_abc",
            issue_instant: Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap(),
            destination: "https://idp.example/sso?x=1",
            acs_url: "https://rp.example/saml/acs",
            sp_entity_id: "https://rp.example/saml/metadata",
            force_authn: false,
        }
    }

    #[test]
    fn force_authn_only_when_asked() {
        assert!(!request().to_xml().contains("ForceAuthn"));
        let forced = AuthnRequest {
            force_authn: true,
            ..request()
        };
        assert!(forced.to_xml().contains(r#"HTTP-POST" ForceAuthn="true">"#));
    }

    #[test]
    fn redirect_round_trips_and_signs() {
        let key = PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap();
        let url = url::Url::parse(&request().redirect_url("h1", Some(&key)).unwrap()).unwrap();
        let q: std::collections::BTreeMap<_, _> = url.query_pairs().into_owned().collect();
        assert_eq!(q["x"], "1");
        assert_eq!(q["RelayState"], "h1");
        let raw = STANDARD.decode(&q["SAMLRequest"]).unwrap();
        let mut xml = String::new();
        DeflateDecoder::new(&raw[..])
            .read_to_string(&mut xml)
            .unwrap();
        assert!(xml.contains(r#"ID="_abc""#));
        assert!(xml.contains(r#"IssueInstant="2026-01-02T03:04:05Z""#));
        assert!(xml.contains(r#"AssertionConsumerServiceURL="https://rp.example/saml/acs""#));

        // The signature covers the binding's octet string, in order.
        let query = url.query().unwrap();
        let signed = &query[query.find("SAMLRequest").unwrap()..query.find("&Signature=").unwrap()];
        let sig = STANDARD.decode(&q["Signature"]).unwrap();
        let mut v = openssl::sign::Verifier::new(MessageDigest::sha256(), &key).unwrap();
        v.update(signed.as_bytes()).unwrap();
        assert!(v.verify(&sig).unwrap());
    }
}
