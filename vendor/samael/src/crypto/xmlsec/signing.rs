//! Roleport's addition to samael (see vendor/README.md): sign many documents with a private key
//! loaded into libxmlsec1 once.
//!
//! samael's `sign_xml` loads the key from DER for every document: a PKCS#8 parse, and OpenSSL
//! then rebuilds the key's Montgomery contexts and blinding on its first use, for every
//! signature. Roleport signs two per credential issue (Assertion and Response) with the same
//! key for hours, so it keeps one [`SigningKey`] for as long as that key is active.

use super::pinned::PinnedError;
use super::wrapper::{XmlSecKey, XmlSecKeyFormat, XmlSecSignatureContext};
use libxml::parser::Parser as XmlParser;

/// A private key loaded into libxmlsec1 once.
pub struct SigningKey {
    key: XmlSecKey,
}

// SAFETY: the wrapped xmlSecKey is created in `from_private_key_der` and never mutated after;
// `sign_xml` only reads it through xmlSecKeyDuplicate, which copies the key's metadata and takes
// a new reference on the OpenSSL EVP_PKEY (an atomic reference count). OpenSSL's RSA private
// operations on one shared key are safe from several threads (its blinding is locked or per
// thread). The key is destroyed once, when the last owner drops it.
unsafe impl Send for SigningKey {}
unsafe impl Sync for SigningKey {}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey")
    }
}

impl SigningKey {
    /// Loads a DER private key (PKCS#8 or PKCS#1) into libxmlsec1.
    pub fn from_private_key_der(der: &[u8]) -> Result<Self, PinnedError> {
        let key =
            XmlSecKey::from_memory(der, XmlSecKeyFormat::Der).map_err(|_| PinnedError::KeyLoad)?;
        if key.is_null() {
            return Err(PinnedError::KeyLoad);
        }
        Ok(Self { key })
    }

    /// What samael's `sign_xml` does, with this key: parses `xml`, signs its first
    /// `ds:Signature` template (references resolved through `ID` attributes) and returns the
    /// serialised document.
    pub fn sign_xml(&self, xml: &str) -> Result<String, PinnedError> {
        let document = XmlParser::default()
            .parse_string(xml)
            .map_err(|e| PinnedError::XmlSec(format!("{e:?}")))?;
        let duplicate = self.key.clone();
        if duplicate.is_null() {
            return Err(PinnedError::XmlSec("cannot duplicate the key".into()));
        }
        let mut context = XmlSecSignatureContext::new()?;
        context.insert_key(duplicate);
        context.sign_document(&document, Some("ID"))?;
        Ok(document.to_string())
    }
}
