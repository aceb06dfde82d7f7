//! Roleport's addition to samael (see vendor/README.md): verify `ds:Signature` elements of a
//! document the caller has parsed once, with keys the caller has parsed once.
//!
//! samael's `reduce_xml_to_signed` loads every pinned certificate from DER for every signature,
//! and returns a re-serialised copy of the signed part for a second parse. A service provider
//! that verifies hundreds of Responses a second wants neither: it keeps one [`PinnedKey`] per
//! pinned certificate for as long as the IdP's trust is unchanged, and reads the verified
//! elements out of the tree libxmlsec1 verified.
//!
//! What this module checks is libxmlsec1's verdict only, with its context narrowed to what a
//! SAML signature needs: same-document references, the enveloped-signature and exclusive-C14N
//! reference transforms, SHA-256/384/512 digests, and the given key (`ds:KeyInfo` is never consulted). Which signatures
//! are acceptable where (one reference naming the parent element, allowed algorithms) is the
//! caller's policy, checked on the same tree before calling [`PinnedKey::verify`].

use super::wrapper::{self, backend, bindings, XmlSecError, XmlSecKey, XmlSecKeyFormat};
use libxml::readonly::RoNode;
use libxml::tree::Document;
use openssl::x509::X509;
use std::collections::HashSet;
use std::ffi::CString;
use std::ptr::null_mut;
use thiserror::Error;

const XMLNS_XML_DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";

#[derive(Debug, Error, PartialEq, Eq)]
pub enum PinnedError {
    #[error("the certificate cannot be read: {0}")]
    Certificate(String),
    #[error("libxmlsec1 cannot load the certificate's public key")]
    KeyLoad,
    #[error("ID attribute value {0:?} is not an NCName")]
    InvalidId(String),
    #[error("ID attribute value {0:?} appears more than once")]
    DuplicateId(String),
    #[error("ID attribute value {0:?} could not be registered")]
    IdRegistration(String),
    #[error("the node is not a ds:Signature element")]
    NotASignature,
    #[error("libxmlsec1 could not run the verification: {0}")]
    XmlSec(String),
}

impl From<XmlSecError> for PinnedError {
    fn from(e: XmlSecError) -> Self {
        PinnedError::XmlSec(e.to_string())
    }
}

/// The public key of a pinned certificate, loaded into libxmlsec1 once.
///
/// Only the bare public key is kept: no certificate chain is built or checked at verification
/// time (pinning is the trust decision, made when the key is created).
pub struct PinnedKey {
    key: XmlSecKey,
}

// SAFETY: the wrapped xmlSecKey is created in `from_certificate_der` and never mutated after;
// `verify` only reads it through xmlSecKeyDuplicate, which copies the key's metadata and takes a
// new reference on the OpenSSL EVP_PKEY (an atomic reference count). Concurrent duplicates from
// several threads therefore touch no shared mutable state, and the key is destroyed once, when
// the last owner drops it.
unsafe impl Send for PinnedKey {}
unsafe impl Sync for PinnedKey {}

impl std::fmt::Debug for PinnedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PinnedKey")
    }
}

impl PinnedKey {
    /// Takes the public key out of a DER certificate and loads it into libxmlsec1.
    pub fn from_certificate_der(der: &[u8]) -> Result<Self, PinnedError> {
        let cert = X509::from_der(der).map_err(|e| PinnedError::Certificate(e.to_string()))?;
        let spki = cert
            .public_key()
            .and_then(|k| k.public_key_to_der())
            .map_err(|e| PinnedError::Certificate(e.to_string()))?;
        // Format Der: libxmlsec1 tries a private key first, then a SubjectPublicKeyInfo.
        let key = XmlSecKey::from_memory(&spki, XmlSecKeyFormat::Der)
            .map_err(|_| PinnedError::KeyLoad)?;
        Ok(Self { key })
    }

    /// Verifies one `ds:Signature` element of `doc` with this key. `Ok(false)` means the
    /// signature does not verify with this key (wrong key, altered content, a reference or
    /// transform outside the narrowed context); `Err` that verification could not run.
    ///
    /// The IDs the references name must have been registered with [`register_ids`].
    pub fn verify(&self, doc: &Document, signature: RoNode) -> Result<bool, PinnedError> {
        if !is_dsig_element(signature, "Signature") || !same_document(doc, signature) {
            return Err(PinnedError::NotASignature);
        }
        let mut ctx = wrapper::XmlSecSignatureContext::new()?;
        // SAFETY: `ctx` owns a live xmlSecDSigCtx until it is dropped at the end of this
        // function; the key handed to it is a fresh duplicate that the context destroys.
        unsafe {
            let raw = ctx.raw();
            (*raw).enabledReferenceUris = bindings::xmlSecTransformUriTypeSameDocument;
            // Everything a Reference may name: its transforms and its digest method.
            for klass in [
                bindings::xmlSecTransformExclC14NGetKlass(),
                bindings::xmlSecTransformEnvelopedGetKlass(),
                backend::xmlSecTransformSha256GetKlass(),
                backend::xmlSecTransformSha384GetKlass(),
                backend::xmlSecTransformSha512GetKlass(),
            ] {
                if bindings::xmlSecDSigCtxEnableReferenceTransform(raw, klass) < 0 {
                    return Err(PinnedError::XmlSec("cannot narrow reference transforms".into()));
                }
            }
        }
        let duplicate = self.key.clone();
        if duplicate.is_null() {
            return Err(PinnedError::XmlSec("cannot duplicate the key".into()));
        }
        ctx.insert_key(duplicate);
        Ok(ctx.verify_raw_node(signature.node_ptr() as *mut bindings::xmlNode)?)
    }
}

fn same_document(doc: &Document, node: RoNode) -> bool {
    // SAFETY: `node` comes from a live tree (the caller holds `doc`); reading its `doc` field.
    unsafe { (*node.node_ptr()).doc == doc.doc_ptr() }
}

/// Registers every `ID` attribute of the document with libxml2, so that a reference `#x`
/// resolves to the one element whose ID is `x`. Refuses values that are not NCNames and values
/// that occur twice (a duplicate would let a reference resolve to an element of the attacker's
/// choosing).
pub fn register_ids(doc: &Document) -> Result<(), PinnedError> {
    let Some(root) = doc.get_root_readonly() else {
        return Ok(());
    };
    let name = c"ID";
    let mut seen = HashSet::new();
    let mut stack = vec![root];
    while let Some(node) = stack.pop() {
        // Without a copy for the many elements that have no ID (`xmlGetProp`'s semantics).
        if let Some(value) = super::node::attribute(node, name) {
            let c_value =
                CString::new(value.as_str()).map_err(|_| PinnedError::InvalidId(value.clone()))?;
            // SAFETY: NUL-terminated input; xmlValidateNCName only reads it.
            let valid =
                unsafe { libxml::bindings::xmlValidateNCName(c_value.as_ptr() as *const u8, 0) };
            if valid != 0 {
                return Err(PinnedError::InvalidId(value));
            }
            if !seen.insert(value.clone()) {
                return Err(PinnedError::DuplicateId(value));
            }
            // SAFETY: `node` is an element of `doc`'s live tree; xmlAddID copies the value and
            // links the attribute into the document's ID table, freed with the document.
            let added = unsafe {
                let attr = libxml::bindings::xmlHasProp(node.node_ptr(), name.as_ptr() as *const u8);
                !attr.is_null()
                    && !libxml::bindings::xmlAddID(
                        null_mut(),
                        doc.doc_ptr(),
                        c_value.as_ptr() as *const u8,
                        attr,
                    )
                    .is_null()
            };
            if !added {
                return Err(PinnedError::IdRegistration(value));
            }
        }
        let mut child = node.get_first_element_child();
        while let Some(c) = child {
            stack.push(c);
            child = c.get_next_element_sibling();
        }
    }
    Ok(())
}

/// Whether `node` is the XML-DSig element `local`.
pub fn is_dsig_element(node: RoNode, local: &str) -> bool {
    super::node::is_element(node, XMLNS_XML_DSIG, local)
}
