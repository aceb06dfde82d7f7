//! Roleport's IdP metadata as AWS registers it (`/aws/saml-metadata.xml`, the document
//! `roleport aws register` and the key rotation push to each account's IAM SAML provider).

use crate::protocol::xml::escape as xml_escape;
use base64::Engine;

/// Every certificate in `certificates` (DER) is listed for signing, in order.
pub fn idp_metadata(entity_id: &str, certificates: &[Vec<u8>], sso_url: &str) -> String {
    let keys: String = certificates
        .iter()
        .map(|der| {
            format!(
                r#"<md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"#,
                base64::engine::general_purpose::STANDARD.encode(der)
            )
        })
        .collect();
    format!(
        concat!(
            r#"<?xml version="1.0" encoding="UTF-8"?>"#,
            r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{entity}">"#,
            r#"<md:IDPSSODescriptor WantAuthnRequestsSigned="false" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">{keys}"#,
            r#"<md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>"#,
            r#"<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="{sso}"/>"#,
            r#"</md:IDPSSODescriptor></md:EntityDescriptor>"#
        ),
        entity = xml_escape(entity_id),
        keys = keys,
        sso = xml_escape(sso_url),
    )
}
