//! Roleport's addition to samael (see vendor/README.md): questions about a libxml2 tree answered
//! without a Rust allocation per question.
//!
//! The `libxml` crate's `RoNode::get_name`, `get_namespace().get_href()`, `get_attribute` and
//! `get_content` each copy into a new `String` (and the last two into a C buffer first). A
//! service provider that reads identity out of a verified tree asks "is this `{ns}local`?" of
//! every child it walks past, which made those copies a measurable share of verifying a Response
//! with a hundred group values (issue 10). These functions read the same fields in place and
//! give the same answers as the crate's functions they replace (documented on each; Roleport's
//! `tree_reader` tests hold them to that, samael's own test suite needs the test vectors this
//! copy leaves out).

use libxml::bindings::{self, xmlElementType_XML_ATTRIBUTE_NODE, xmlElementType_XML_ELEMENT_NODE};
use libxml::readonly::RoNode;
use std::ffi::{c_char, CStr};

/// The NUL-terminated string at `ptr`, or `None` for a null pointer.
///
/// # Safety
/// `ptr` is null or points at a NUL-terminated string that outlives the returned borrow.
unsafe fn c_bytes<'a>(ptr: *const u8) -> Option<&'a [u8]> {
    if ptr.is_null() {
        None
    } else {
        // SAFETY: the caller's contract.
        Some(unsafe { CStr::from_ptr(ptr as *const c_char) }.to_bytes())
    }
}

/// Whether `node` is the element `{ns}local`: the same answer as
/// `node.is_element_node() && node.get_name() == local && node.get_namespace()` having href `ns`.
pub fn is_element(node: RoNode, ns: &str, local: &str) -> bool {
    let ptr = node.node_ptr();
    if ptr.is_null() {
        return false;
    }
    // SAFETY: `node` is a live node of a tree its caller holds; an element's `name` is its
    // NUL-terminated local name and its `ns`, when set, a namespace whose `href` is
    // NUL-terminated (or null), all owned by that tree and only read here.
    unsafe {
        let raw = &*ptr;
        if raw.type_ != xmlElementType_XML_ELEMENT_NODE
            || c_bytes(raw.name) != Some(local.as_bytes())
        {
            return false;
        }
        !raw.ns.is_null() && c_bytes((*raw.ns).href) == Some(ns.as_bytes())
    }
}

/// The value of the attribute `name` of an element, as `RoNode::get_attribute` (libxml2's
/// `xmlGetProp`) returns it: the first attribute with that local name whatever its namespace,
/// the empty string for an empty value, and DTD default values (none here: documents with a DTD
/// never reach a tree) through `xmlGetProp` itself.
pub fn attribute(node: RoNode, name: &CStr) -> Option<String> {
    let ptr = node.node_ptr();
    if ptr.is_null() {
        return None;
    }
    // SAFETY: as in `is_element`; `xmlHasProp` only reads the node and returns an attribute of
    // it (or a DTD declaration), owned by the tree. An attribute's only child, when it is a text
    // node, holds the whole value as a NUL-terminated string.
    unsafe {
        let attr = bindings::xmlHasProp(ptr, name.as_ptr() as *const u8);
        if attr.is_null() {
            return None;
        }
        if (*attr).type_ == xmlElementType_XML_ATTRIBUTE_NODE {
            let child = (*attr).children;
            if child.is_null() {
                return Some(String::new());
            }
            if (*child).next.is_null() && is_text_like((*child).type_) {
                let value = c_bytes((*child).content).unwrap_or_default();
                return Some(match std::str::from_utf8(value) {
                    Ok(text) => text.to_owned(),
                    Err(_) => String::from_utf8_lossy(value).into_owned(),
                });
            }
        }
    }
    // Entity references inside the value, or a DTD default: libxml2 assembles it.
    node.get_attribute(name.to_str().ok()?)
}

fn is_text_like(kind: bindings::xmlElementType) -> bool {
    kind == bindings::xmlElementType_XML_TEXT_NODE
        || kind == bindings::xmlElementType_XML_CDATA_SECTION_NODE
}

/// Appends the content of a text or CDATA node to `out`, as `RoNode::get_content` would return
/// it for such a node; returns false (and appends nothing) for any other kind of node.
pub fn push_text(node: RoNode, out: &mut String) -> bool {
    let ptr = node.node_ptr();
    if ptr.is_null() {
        return false;
    }
    // SAFETY: as in `is_element`; a text or CDATA node's `content` is its NUL-terminated text.
    unsafe {
        let raw = &*ptr;
        if !is_text_like(raw.type_) {
            return false;
        }
        if let Some(bytes) = c_bytes(raw.content) {
            // libxml2 holds UTF-8; checked all the same (the strict check is the quicker one).
            match std::str::from_utf8(bytes) {
                Ok(text) => out.push_str(text),
                Err(_) => out.push_str(&String::from_utf8_lossy(bytes)),
            }
        }
    }
    true
}
