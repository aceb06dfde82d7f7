//! What a signature may look like before libxmlsec1 is asked to verify it (design.md §5.1):
//! enveloped signatures on the Response or its Assertion only, one Reference to the parent's ID,
//! exclusive C14N without comments, SHA-256-or-stronger RSA/ECDSA.

use super::SamlError;
use super::guard::{Prescan, SignatureInfo, SignedParent};
use samael::crypto::AllowedSignatureAlgorithm;

const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";

pub const ALLOWED_SIGNATURES: &[AllowedSignatureAlgorithm] = &[
    AllowedSignatureAlgorithm::RsaSha256,
    AllowedSignatureAlgorithm::RsaSha384,
    AllowedSignatureAlgorithm::RsaSha512,
    AllowedSignatureAlgorithm::EcdsaSha256,
    AllowedSignatureAlgorithm::EcdsaSha384,
    AllowedSignatureAlgorithm::EcdsaSha512,
];

const ALLOWED_DIGESTS: &[&str] = &[
    "http://www.w3.org/2001/04/xmlenc#sha256",
    "http://www.w3.org/2001/04/xmldsig-more#sha384",
    "http://www.w3.org/2001/04/xmlenc#sha512",
];

/// Which parts of the document are covered by a signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Coverage {
    pub root: bool,
    pub child_assertion: bool,
}

pub fn check(prescan: &Prescan<'_>) -> Result<Coverage, SamlError> {
    if prescan.signatures.is_empty() {
        return Err(SamlError::Unsigned);
    }
    let mut coverage = Coverage {
        root: false,
        child_assertion: false,
    };
    for sig in &prescan.signatures {
        check_one(sig)?;
        match sig.parent {
            SignedParent::Root if coverage.root => {
                return Err(SamlError::SignaturePolicy(
                    "two signatures on the root".into(),
                ));
            }
            SignedParent::Root => coverage.root = true,
            SignedParent::ChildAssertion if coverage.child_assertion => {
                return Err(SamlError::SignaturePolicy("two signed assertions".into()));
            }
            SignedParent::ChildAssertion => coverage.child_assertion = true,
            SignedParent::Elsewhere(ref parent) => {
                return Err(SamlError::SignaturePolicy(format!(
                    "signature inside <{parent}> is not allowed"
                )));
            }
        }
    }
    Ok(coverage)
}

fn check_one(sig: &SignatureInfo) -> Result<(), SamlError> {
    let method = sig.signature_method.as_deref().unwrap_or_default();
    if !ALLOWED_SIGNATURES
        .iter()
        .any(|a| a.signature_uri() == method)
    {
        return Err(SamlError::WeakAlgorithm(method.to_string()));
    }
    if sig.canonicalization.as_deref() != Some(EXC_C14N) {
        return Err(SamlError::SignaturePolicy(format!(
            "canonicalization {:?} is not exclusive C14N without comments",
            sig.canonicalization
        )));
    }
    let [reference] = sig.references.as_slice() else {
        return Err(SamlError::SignaturePolicy(format!(
            "{} references; exactly one is required",
            sig.references.len()
        )));
    };
    let expected = sig.parent_id.as_ref().map(|id| format!("#{id}"));
    if reference.uri.is_none() || reference.uri != expected {
        return Err(SamlError::SignaturePolicy(format!(
            "reference {:?} does not name the signed element",
            reference.uri
        )));
    }
    for transform in &reference.transforms {
        if transform != ENVELOPED && transform != EXC_C14N {
            return Err(SamlError::SignaturePolicy(format!(
                "transform {transform} is not allowed"
            )));
        }
    }
    let digest = reference.digest_method.as_deref().unwrap_or_default();
    if !ALLOWED_DIGESTS.contains(&digest) {
        return Err(SamlError::WeakAlgorithm(digest.to_string()));
    }
    Ok(())
}
