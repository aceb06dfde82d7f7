//! XML-DSig verification on one libxml2 tree, with keys parsed once per IdP.
//!
//! The pre-scanned text (comments already removed, structure and signature policy already
//! checked by `guard` and `policy`) is parsed once. On that tree the placement of every
//! signature and its one reference are checked again, libxmlsec1 verifies each signature with
//! the pinned keys, and the caller reads identity from the same tree, only from the elements a
//! verified signature covers ([`SignedTree::covered_assertion`], [`SignedTree::signed_root`]).
//! Nothing is re-serialised, and no second parser decides what the first one verified.

use super::SamlError;
use super::guard::{NS_ASSERTION, NS_DSIG};
use libxml::parser::{Parser, ParserOptions};
use libxml::readonly::RoNode;
use libxml::tree::Document;
use samael::crypto::{PinnedError, PinnedKey, is_dsig_element, register_ids};
use std::sync::Arc;

/// A pinned certificate's key, shared by every request verified with this IdP's trust.
pub type SharedKey = Arc<PinnedKey>;

pub fn load_keys(
    certificates: &[samael::crypto::CertificateDer],
) -> Result<Vec<SharedKey>, String> {
    certificates
        .iter()
        .map(|c| {
            PinnedKey::from_certificate_der(c.der_data())
                .map(Arc::new)
                .map_err(|e| e.to_string())
        })
        .collect()
}

/// A document whose signatures all verified, and what they cover.
pub struct SignedTree {
    doc: Document,
    root_signed: bool,
    /// The one Assertion child of the root, when the root is a Response.
    child_assertion: Option<RoNode>,
    child_assertion_signed: bool,
}

impl SignedTree {
    /// Parses `xml`, checks that the signatures sit where `expected_signatures` (from the
    /// pre-scan) says and that each names its parent, and verifies them all.
    pub fn verify(
        xml: &str,
        keys: &[SharedKey],
        expected_signatures: usize,
    ) -> Result<Self, SamlError> {
        if keys.is_empty() {
            // Unreachable through configuration; kept so no path ever verifies against nothing.
            return Err(SamlError::BadSignature);
        }
        let doc = parse(xml)?;
        // Duplicate or malformed IDs: a reference could resolve to the wrong element.
        register_ids(&doc).map_err(|_| SamlError::BadSignature)?;
        let root = doc
            .get_root_readonly()
            .ok_or_else(|| SamlError::Malformed("empty document".into()))?;

        let mut tree = SignedTree {
            root_signed: false,
            child_assertion: None,
            child_assertion_signed: false,
            doc,
        };
        let mut verified = 0usize;
        for signature in dsig_children(root) {
            verify_one(&tree.doc, signature, root, keys)?;
            tree.root_signed = true;
            verified += 1;
        }
        let assertions: Vec<RoNode> = element_children(root)
            .filter(|c| is_element(*c, NS_ASSERTION, "Assertion"))
            .collect();
        if let [assertion] = assertions.as_slice() {
            tree.child_assertion = Some(*assertion);
            for signature in dsig_children(*assertion) {
                verify_one(&tree.doc, signature, *assertion, keys)?;
                tree.child_assertion_signed = true;
                verified += 1;
            }
        }
        // The pre-scan's count comes from another parser; if the two disagree, fail closed.
        if verified == 0 || verified != expected_signatures {
            return Err(SamlError::SignaturePolicy(format!(
                "{verified} signatures found on the verified tree, {expected_signatures} in the pre-scan"
            )));
        }
        Ok(tree)
    }

    /// The root element, if a verified signature covers it.
    pub fn signed_root(&self) -> Option<RoNode> {
        if self.root_signed {
            self.doc.get_root_readonly()
        } else {
            None
        }
    }

    /// The root element, signed or not (for an Assertion root, `verify` has required its own
    /// signature through the pre-scan count).
    pub fn root(&self) -> Option<RoNode> {
        self.doc.get_root_readonly()
    }

    /// The Response's one Assertion child, if a verified signature covers it (its own or the
    /// Response's).
    pub fn covered_assertion(&self) -> Option<RoNode> {
        self.child_assertion
            .filter(|_| self.root_signed || self.child_assertion_signed)
    }
}

/// The one parse of a (pre-scanned) document.
pub fn parse(xml: &str) -> Result<Document, SamlError> {
    let options = ParserOptions {
        // The pre-scan has refused anything not well-formed; never let libxml2 repair input.
        recover: false,
        no_net: true,
        no_def_dtd: true,
        ..ParserOptions::default()
    };
    Parser::default()
        .parse_string_with_options(xml, options)
        .map_err(|e| SamlError::Malformed(format!("XML: {e}")))
}

/// Checks the placement and the one reference of `signature` (a child of `parent`) on this
/// tree, then asks libxmlsec1 whether any pinned key verifies it.
fn verify_one(
    doc: &Document,
    signature: RoNode,
    parent: RoNode,
    keys: &[SharedKey],
) -> Result<(), SamlError> {
    let id = samael::crypto::node::attribute(parent, c"ID")
        .ok_or_else(|| SamlError::SignaturePolicy("signed element has no ID".into()))?;
    let references: Vec<RoNode> = element_children(signature)
        .filter(|c| is_dsig_element(*c, "SignedInfo"))
        .flat_map(element_children)
        .filter(|c| is_dsig_element(*c, "Reference"))
        .collect();
    let [reference] = references.as_slice() else {
        return Err(SamlError::SignaturePolicy(format!(
            "{} references; exactly one is required",
            references.len()
        )));
    };
    let uri = samael::crypto::node::attribute(*reference, c"URI");
    if uri.as_deref().and_then(|u| u.strip_prefix('#')) != Some(id.as_str()) {
        return Err(SamlError::SignaturePolicy(format!(
            "reference {uri:?} does not name the signed element"
        )));
    }
    for key in keys {
        match key.verify(doc, signature) {
            Ok(true) => return Ok(()),
            Ok(false) => {}
            Err(PinnedError::XmlSec(_)) => {}
            Err(e) => return Err(SamlError::Internal(e.to_string())),
        }
    }
    Err(SamlError::BadSignature)
}

pub fn element_children(node: RoNode) -> impl Iterator<Item = RoNode> {
    std::iter::successors(node.get_first_element_child(), |n| {
        n.get_next_element_sibling()
    })
}

fn dsig_children(node: RoNode) -> impl Iterator<Item = RoNode> {
    element_children(node).filter(|c| is_element(*c, NS_DSIG, "Signature"))
}

/// Whether `node` is the element `{ns}local` (compared in place, without copying the names).
pub fn is_element(node: RoNode, ns: &str, local: &str) -> bool {
    samael::crypto::node::is_element(node, ns, local)
}
