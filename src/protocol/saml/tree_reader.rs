//! Reads the Response header and the Assertion out of the libxml2 tree libxmlsec1 verified
//! (`signed_tree`), into samael's schema types so the profile checks stay parser-independent.
//!
//! Values are taken exactly as the tree holds them: text is the concatenation of the element's
//! text children, never trimmed. The pre-scan removed comments before parsing, so a value split by
//! a comment is one text node, the full signed string. A CDATA section inside a value is refused:
//! exclusive C14N turns it into text, so it verifies, but a value the IdP sent as one text node
//! does not arrive split (the attack corpus pins this refusal as `bad_signature`). An element
//! that may occur once and occurs twice is refused rather than one of them picked.

use super::SamlError;
use super::guard::{NS_ASSERTION, NS_DSIG, NS_PROTOCOL, RawHeader};
use super::signed_tree::{element_children, is_element};
use chrono::{DateTime, Utc};
use libxml::readonly::RoNode;
use libxml::tree::NodeType;
use samael::attribute::{Attribute, AttributeValue};
use samael::crypto::node;
use samael::schema::{
    Assertion, AttributeStatement, AudienceRestriction, AuthnStatement, Conditions, Issuer,
    Subject, SubjectConfirmation, SubjectConfirmationData, SubjectNameID,
};
use std::ffi::CStr;

/// The header of a signed Response, and its Version.
pub fn response_header(root: RoNode) -> Result<(RawHeader, Option<String>), SamlError> {
    let issuer = optional_child(root, NS_ASSERTION, "Issuer")?
        .map(text)
        .transpose()?;
    let status_code = match optional_child(root, NS_PROTOCOL, "Status")? {
        Some(status) => {
            optional_child(status, NS_PROTOCOL, "StatusCode")?.and_then(|c| attr(c, c"Value"))
        }
        None => None,
    };
    let header = RawHeader {
        id: attr(root, c"ID"),
        in_response_to: attr(root, c"InResponseTo"),
        destination: attr(root, c"Destination"),
        issuer,
        status_code,
    };
    Ok((header, attr(root, c"Version")))
}

pub fn assertion(node: RoNode) -> Result<Assertion, SamlError> {
    let issuer = optional_child(node, NS_ASSERTION, "Issuer")?
        .ok_or_else(|| malformed("Assertion has no Issuer"))?;
    Ok(Assertion {
        id: required_attr(node, c"ID")?,
        issue_instant: instant(node, c"IssueInstant")?
            .ok_or_else(|| malformed("Assertion has no IssueInstant"))?,
        version: required_attr(node, c"Version")?,
        issuer: Issuer {
            name_qualifier: attr(issuer, c"NameQualifier"),
            sp_name_qualifier: attr(issuer, c"SPNameQualifier"),
            format: attr(issuer, c"Format"),
            sp_provided_id: attr(issuer, c"SPProvidedID"),
            value: Some(text(issuer)?),
        },
        signature: None,
        subject: optional_child(node, NS_ASSERTION, "Subject")?
            .map(subject)
            .transpose()?,
        conditions: optional_child(node, NS_ASSERTION, "Conditions")?
            .map(conditions)
            .transpose()?,
        authn_statements: non_empty(
            children(node, NS_ASSERTION, "AuthnStatement")
                .map(authn_statement)
                .collect::<Result<_, _>>()?,
        ),
        attribute_statements: non_empty(
            children(node, NS_ASSERTION, "AttributeStatement")
                .map(attribute_statement)
                .collect::<Result<_, _>>()?,
        ),
    })
}

fn subject(node: RoNode) -> Result<Subject, SamlError> {
    Ok(Subject {
        name_id: optional_child(node, NS_ASSERTION, "NameID")?
            .map(name_id)
            .transpose()?,
        subject_confirmations: non_empty(
            children(node, NS_ASSERTION, "SubjectConfirmation")
                .map(confirmation)
                .collect::<Result<_, _>>()?,
        ),
    })
}

fn name_id(node: RoNode) -> Result<SubjectNameID, SamlError> {
    Ok(SubjectNameID {
        format: attr(node, c"Format"),
        value: text(node)?,
    })
}

fn confirmation(node: RoNode) -> Result<SubjectConfirmation, SamlError> {
    let data = match optional_child(node, NS_ASSERTION, "SubjectConfirmationData")? {
        Some(d) => Some(SubjectConfirmationData {
            not_before: instant(d, c"NotBefore")?,
            not_on_or_after: instant(d, c"NotOnOrAfter")?,
            recipient: attr(d, c"Recipient"),
            in_response_to: attr(d, c"InResponseTo"),
            address: attr(d, c"Address"),
            content: None,
        }),
        None => None,
    };
    Ok(SubjectConfirmation {
        method: attr(node, c"Method"),
        name_id: optional_child(node, NS_ASSERTION, "NameID")?
            .map(name_id)
            .transpose()?,
        subject_confirmation_data: data,
    })
}

fn conditions(node: RoNode) -> Result<Conditions, SamlError> {
    let restrictions = children(node, NS_ASSERTION, "AudienceRestriction")
        .map(|r| {
            Ok(AudienceRestriction {
                audience: children(r, NS_ASSERTION, "Audience")
                    .map(text)
                    .collect::<Result<_, SamlError>>()?,
            })
        })
        .collect::<Result<Vec<_>, SamlError>>()?;
    Ok(Conditions {
        not_before: instant(node, c"NotBefore")?,
        not_on_or_after: instant(node, c"NotOnOrAfter")?,
        audience_restrictions: non_empty(restrictions),
        one_time_use: None,
        proxy_restriction: None,
    })
}

fn authn_statement(node: RoNode) -> Result<AuthnStatement, SamlError> {
    Ok(AuthnStatement {
        authn_instant: instant(node, c"AuthnInstant")?,
        session_index: attr(node, c"SessionIndex"),
        session_not_on_or_after: instant(node, c"SessionNotOnOrAfter")?,
        subject_locality: None,
        authn_context: None,
    })
}

fn attribute_statement(node: RoNode) -> Result<AttributeStatement, SamlError> {
    let attributes = children(node, NS_ASSERTION, "Attribute")
        .map(|a| {
            Ok(Attribute {
                friendly_name: attr(a, c"FriendlyName"),
                name: attr(a, c"Name"),
                name_format: attr(a, c"NameFormat"),
                values: children(a, NS_ASSERTION, "AttributeValue")
                    .map(|v| {
                        Ok(AttributeValue {
                            attribute_type: None,
                            value: Some(text(v)?),
                        })
                    })
                    .collect::<Result<_, SamlError>>()?,
            })
        })
        .collect::<Result<_, SamlError>>()?;
    Ok(AttributeStatement { attributes })
}

const NS_XENC: &str = "http://www.w3.org/2001/04/xmlenc#";

/// What decryption needs from an `EncryptedAssertion`, read from the one tree (the verified one
/// when the Response is signed), so no second parser decides what is decrypted.
#[derive(Debug, Default)]
pub struct EncryptedParts {
    /// The content key's wrapping: `EncryptionMethod/@Algorithm` and `CipherValue` (base64) of
    /// the `EncryptedKey` in `EncryptedData/ds:KeyInfo`, or else of the one beside
    /// `EncryptedData` (both forms are in use).
    pub key: Option<(String, String)>,
    /// The content cipher and ciphertext of `EncryptedData`.
    pub content: Option<(String, String)>,
}

/// The Response's one `EncryptedAssertion` child (the pre-scan found exactly one in the
/// document and no plain Assertion).
pub fn encrypted_assertion(root: RoNode) -> Result<EncryptedParts, SamlError> {
    let found: Vec<RoNode> = children(root, NS_ASSERTION, "EncryptedAssertion").collect();
    let [node] = found.as_slice() else {
        return Err(SamlError::AssertionCount(found.len()));
    };
    let data = optional_child(*node, NS_XENC, "EncryptedData")?;
    let inner_key = match data {
        Some(d) => match optional_child(d, NS_DSIG, "KeyInfo")? {
            Some(info) => optional_child(info, NS_XENC, "EncryptedKey")?
                .map(cipher)
                .transpose()?
                .flatten(),
            None => None,
        },
        None => None,
    };
    let key = match inner_key {
        Some(key) => Some(key),
        None => optional_child(*node, NS_XENC, "EncryptedKey")?
            .map(cipher)
            .transpose()?
            .flatten(),
    };
    Ok(EncryptedParts {
        key,
        content: data.map(cipher).transpose()?.flatten(),
    })
}

/// `EncryptionMethod/@Algorithm` and `CipherData/CipherValue` of an `EncryptedData` or
/// `EncryptedKey`, when both are there.
fn cipher(node: RoNode) -> Result<Option<(String, String)>, SamlError> {
    let algorithm =
        optional_child(node, NS_XENC, "EncryptionMethod")?.and_then(|m| attr(m, c"Algorithm"));
    let value = match optional_child(node, NS_XENC, "CipherData")? {
        Some(data) => optional_child(data, NS_XENC, "CipherValue")?
            .map(text)
            .transpose()?,
        None => None,
    };
    Ok(algorithm.zip(value))
}

/// The element's text: its text children joined, exactly as written.
fn text(node: RoNode) -> Result<String, SamlError> {
    let mut out = String::new();
    let mut child = node.get_first_child();
    while let Some(c) = child {
        match c.get_type() {
            Some(NodeType::TextNode) => {
                node::push_text(c, &mut out);
            }
            Some(NodeType::CDataSectionNode) => return Err(SamlError::BadSignature),
            _ => {
                return Err(malformed(&format!(
                    "<{}> holds markup where text is expected",
                    node.get_name()
                )));
            }
        }
        child = c.get_next_sibling();
    }
    Ok(out)
}

fn children(node: RoNode, ns: &'static str, local: &'static str) -> impl Iterator<Item = RoNode> {
    element_children(node).filter(move |c| is_element(*c, ns, local))
}

fn optional_child(
    node: RoNode,
    ns: &'static str,
    local: &'static str,
) -> Result<Option<RoNode>, SamlError> {
    let mut found = children(node, ns, local);
    let first = found.next();
    if found.next().is_some() {
        return Err(malformed(&format!(
            "more than one <{local}> in <{}>",
            node.get_name()
        )));
    }
    Ok(first)
}

/// An attribute's value as `RoNode::get_attribute` gives it, read without a copy per lookup.
fn attr(node: RoNode, name: &CStr) -> Option<String> {
    node::attribute(node, name)
}

fn required_attr(node: RoNode, name: &CStr) -> Result<String, SamlError> {
    attr(node, name).ok_or_else(|| {
        malformed(&format!(
            "<{}> has no {}",
            node.get_name(),
            name.to_string_lossy()
        ))
    })
}

fn instant(node: RoNode, name: &CStr) -> Result<Option<DateTime<Utc>>, SamlError> {
    attr(node, name)
        .map(|v| {
            v.parse::<DateTime<Utc>>().map_err(|_| {
                malformed(&format!(
                    "{} {v:?} is not a date-time",
                    name.to_string_lossy()
                ))
            })
        })
        .transpose()
}

fn non_empty<T>(items: Vec<T>) -> Option<Vec<T>> {
    if items.is_empty() { None } else { Some(items) }
}

fn malformed(what: &str) -> SamlError {
    SamlError::Malformed(what.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use libxml::parser::Parser;
    use proptest::prelude::*;

    /// Every element of `xml` with every name asked of it: the allocation-free reads in the
    /// vendored samael (`samael::crypto::node`) answer as the `libxml` crate's copying ones.
    fn same_answers(xml: &str, names: &[(&str, &str)], attrs: &[&CStr]) {
        let Ok(doc) = Parser::default().parse_string(xml) else {
            return;
        };
        let Some(root) = doc.get_root_readonly() else {
            return;
        };
        let mut stack = vec![root];
        while let Some(n) = stack.pop() {
            for (ns, local) in names {
                let copying = n.is_element_node()
                    && n.get_name() == *local
                    && n.get_namespace().is_some_and(|x| x.get_href() == *ns);
                assert_eq!(node::is_element(n, ns, local), copying, "{ns} {local}");
            }
            for name in attrs {
                let copying = n.get_attribute(name.to_str().unwrap_or_default());
                assert_eq!(node::attribute(n, name), copying, "{name:?}");
            }
            let (mut joined, mut copied) = (String::new(), String::new());
            let mut child = n.get_first_child();
            while let Some(c) = child {
                if node::push_text(c, &mut joined) {
                    copied.push_str(&c.get_content());
                } else {
                    stack.push(c);
                }
                child = c.get_next_sibling();
            }
            assert_eq!(joined, copied);
        }
    }

    #[test]
    fn tree_reads_answer_as_the_libxml_crate() {
        same_answers(
            r#"<r xmlns="urn:a" xmlns:b="urn:b" A="1" b:B="2" E="" R="x &amp; &#233;"><b:c b:A="p" A="q">x &amp; y<![CDATA[z]]>&#x2603;</b:c><c/><!-- c --><?pi x?></r>"#,
            &[
                ("urn:a", "r"),
                ("urn:b", "c"),
                ("urn:a", "c"),
                ("urn:b", "r"),
                ("", "r"),
            ],
            &[c"A", c"B", c"E", c"R", c"b:A", c"missing"],
        );
    }

    proptest! {
        #[test]
        fn tree_reads_answer_as_the_libxml_crate_on_any_values(
            value in "[a-zA-Z0-9 <>&\"'\u{e9}\u{2603}]{0,12}",
            text in "[a-zA-Z0-9 <>&\u{e9}]{0,12}",
            prefix in "[ab]",
        ) {
            let esc = |v: &str| v.replace('&', "&amp;").replace('<', "&lt;").replace('"', "&quot;");
            let xml = format!(
                r#"<{prefix}:e xmlns:a="urn:a" xmlns:b="urn:b" V="{}" {prefix}:W="{}">{}<![CDATA[{}]]>{}</{prefix}:e>"#,
                esc(&value), esc(&text), esc(&text), text.replace("]]>", ""), esc(&value),
            );
            same_answers(&xml, &[("urn:a", "e"), ("urn:b", "e")], &[c"V", c"W", c"a:W"]);
        }
    }
}
