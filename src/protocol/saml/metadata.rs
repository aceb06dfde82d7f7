//! SAML metadata: Roleport's own SP metadata, and reading an IdP's.

use super::SamlError;
use super::guard::{self, Limits, RootKind};
use crate::protocol::xml::escape as xml_escape;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use samael::crypto::CertificateDer;
use samael::metadata::EntityDescriptor;

const REDIRECT_BINDING: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";

pub struct SpMetadata<'a> {
    pub entity_id: &'a str,
    pub acs_url: &'a str,
    /// DER certificate used for signing AuthnRequests and for encryption to us.
    pub certificate: Option<&'a [u8]>,
    pub sign_requests: bool,
}

impl SpMetadata<'_> {
    pub fn to_xml(&self) -> String {
        let keys = self
            .certificate
            .map(|der| {
                let b64 = STANDARD.encode(der);
                ["signing", "encryption"]
                    .iter()
                    .map(|usage| {
                        format!(
                            r#"<md:KeyDescriptor use="{usage}"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>{b64}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>{enc}</md:KeyDescriptor>"#,
                            enc = if *usage == "encryption" {
                                r#"<md:EncryptionMethod Algorithm="http://www.w3.org/2009/xmlenc11#aes256-gcm"/><md:EncryptionMethod Algorithm="http://www.w3.org/2009/xmlenc11#aes128-gcm"/><md:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"/>"#
                            } else {
                                ""
                            }
                        )
                    })
                    .collect::<String>()
            })
            .unwrap_or_default();
        format!(
            concat!(
                r#"<?xml version="1.0" encoding="UTF-8"?>"#,
                r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{entity}">"#,
                r#"<md:SPSSODescriptor AuthnRequestsSigned="{signed}" WantAssertionsSigned="true" "#,
                r#"protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">{keys}"#,
                r#"<md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>"#,
                r#"<md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="{acs}" index="0" isDefault="true"/>"#,
                r#"</md:SPSSODescriptor></md:EntityDescriptor>"#
            ),
            entity = xml_escape(self.entity_id),
            signed = self.sign_requests,
            keys = keys,
            acs = xml_escape(self.acs_url),
        )
    }
}

/// What Roleport takes from an IdP's metadata.
#[derive(Debug, Clone)]
pub struct IdpMetadata {
    pub entity_id: String,
    pub sso_redirect_url: Option<String>,
    pub wants_signed_requests: bool,
    pub signing_certificates: Vec<CertificateDer>,
}

pub fn parse_idp_metadata(xml: &str) -> Result<IdpMetadata, SamlError> {
    let limits = Limits {
        max_bytes: 1024 * 1024,
        max_elements: 20_000,
        ..Limits::default()
    };
    let scan = guard::prescan(xml, &limits, RootKind::Metadata)?;
    let descriptor: EntityDescriptor = scan
        .xml
        .parse()
        .map_err(|e| SamlError::Malformed(format!("IdP metadata: {e}")))?;
    let entity_id = descriptor
        .entity_id
        .clone()
        .filter(|e| !e.is_empty())
        .ok_or_else(|| SamlError::Malformed("IdP metadata has no entityID".into()))?;
    let idps = descriptor.idp_sso_descriptors.clone().unwrap_or_default();
    if idps.is_empty() {
        return Err(SamlError::Malformed(
            "metadata has no IDPSSODescriptor".into(),
        ));
    }
    let mut certs = Vec::new();
    let mut sso = None;
    for idp in &idps {
        for kd in &idp.key_descriptors {
            let usable = matches!(kd.key_use.as_deref(), None | Some("") | Some("signing"));
            if !usable {
                continue;
            }
            for data in kd.key_info.x509_data.iter() {
                for cert in &data.certificates {
                    let compact: String = cert.chars().filter(|c| !c.is_whitespace()).collect();
                    let der = STANDARD.decode(compact).map_err(|_| {
                        SamlError::Malformed("metadata certificate is not base64".into())
                    })?;
                    openssl::x509::X509::from_der(&der).map_err(|_| {
                        SamlError::Malformed("metadata certificate is not X.509".into())
                    })?;
                    let der = CertificateDer::from(der);
                    if !certs.contains(&der) {
                        certs.push(der);
                    }
                }
            }
        }
        if sso.is_none() {
            sso = idp
                .single_sign_on_services
                .iter()
                .find(|s| s.binding == REDIRECT_BINDING)
                .map(|s| s.location.clone());
        }
    }
    Ok(IdpMetadata {
        entity_id,
        sso_redirect_url: sso,
        wants_signed_requests: idps
            .iter()
            .any(|i| i.want_authn_requests_signed == Some(true)),
        signing_certificates: certs,
    })
}
