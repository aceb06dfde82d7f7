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
use super::guard::{NS_ASSERTION, NS_PROTOCOL, RawHeader};
use super::signed_tree::{element_children, is_element};
use chrono::{DateTime, Utc};
use libxml::readonly::RoNode;
use libxml::tree::NodeType;
use samael::attribute::{Attribute, AttributeValue};
use samael::schema::{
    Assertion, AttributeStatement, AudienceRestriction, AuthnStatement, Conditions, Issuer,
    Subject, SubjectConfirmation, SubjectConfirmationData, SubjectNameID,
};

/// The header of a signed Response, and its Version.
pub fn response_header(root: RoNode) -> Result<(RawHeader, Option<String>), SamlError> {
    let issuer = optional_child(root, NS_ASSERTION, "Issuer")?
        .map(text)
        .transpose()?;
    let status_code = match optional_child(root, NS_PROTOCOL, "Status")? {
        Some(status) => optional_child(status, NS_PROTOCOL, "StatusCode")?
            .and_then(|c| c.get_attribute("Value")),
        None => None,
    };
    let header = RawHeader {
        id: root.get_attribute("ID"),
        in_response_to: root.get_attribute("InResponseTo"),
        destination: root.get_attribute("Destination"),
        issuer,
        status_code,
    };
    Ok((header, root.get_attribute("Version")))
}

pub fn assertion(node: RoNode) -> Result<Assertion, SamlError> {
    let issuer = optional_child(node, NS_ASSERTION, "Issuer")?
        .ok_or_else(|| malformed("Assertion has no Issuer"))?;
    Ok(Assertion {
        id: required_attr(node, "ID")?,
        issue_instant: instant(node, "IssueInstant")?
            .ok_or_else(|| malformed("Assertion has no IssueInstant"))?,
        version: required_attr(node, "Version")?,
        issuer: Issuer {
            name_qualifier: issuer.get_attribute("NameQualifier"),
            sp_name_qualifier: issuer.get_attribute("SPNameQualifier"),
            format: issuer.get_attribute("Format"),
            sp_provided_id: issuer.get_attribute("SPProvidedID"),
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
        format: node.get_attribute("Format"),
        value: text(node)?,
    })
}

fn confirmation(node: RoNode) -> Result<SubjectConfirmation, SamlError> {
    let data = match optional_child(node, NS_ASSERTION, "SubjectConfirmationData")? {
        Some(d) => Some(SubjectConfirmationData {
            not_before: instant(d, "NotBefore")?,
            not_on_or_after: instant(d, "NotOnOrAfter")?,
            recipient: d.get_attribute("Recipient"),
            in_response_to: d.get_attribute("InResponseTo"),
            address: d.get_attribute("Address"),
            content: None,
        }),
        None => None,
    };
    Ok(SubjectConfirmation {
        method: node.get_attribute("Method"),
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
        not_before: instant(node, "NotBefore")?,
        not_on_or_after: instant(node, "NotOnOrAfter")?,
        audience_restrictions: non_empty(restrictions),
        one_time_use: None,
        proxy_restriction: None,
    })
}

fn authn_statement(node: RoNode) -> Result<AuthnStatement, SamlError> {
    Ok(AuthnStatement {
        authn_instant: instant(node, "AuthnInstant")?,
        session_index: node.get_attribute("SessionIndex"),
        session_not_on_or_after: instant(node, "SessionNotOnOrAfter")?,
        subject_locality: None,
        authn_context: None,
    })
}

fn attribute_statement(node: RoNode) -> Result<AttributeStatement, SamlError> {
    let attributes = children(node, NS_ASSERTION, "Attribute")
        .map(|a| {
            Ok(Attribute {
                friendly_name: a.get_attribute("FriendlyName"),
                name: a.get_attribute("Name"),
                name_format: a.get_attribute("NameFormat"),
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

/// The element's text: its text children joined, exactly as written.
fn text(node: RoNode) -> Result<String, SamlError> {
    let mut out = String::new();
    let mut child = node.get_first_child();
    while let Some(c) = child {
        match c.get_type() {
            Some(NodeType::TextNode) => out.push_str(&c.get_content()),
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

fn required_attr(node: RoNode, name: &str) -> Result<String, SamlError> {
    node.get_attribute(name)
        .ok_or_else(|| malformed(&format!("<{}> has no {name}", node.get_name())))
}

fn instant(node: RoNode, name: &str) -> Result<Option<DateTime<Utc>>, SamlError> {
    node.get_attribute(name)
        .map(|v| {
            v.parse::<DateTime<Utc>>()
                .map_err(|_| malformed(&format!("{name} {v:?} is not a date-time")))
        })
        .transpose()
}

fn non_empty<T>(items: Vec<T>) -> Option<Vec<T>> {
    if items.is_empty() { None } else { Some(items) }
}

fn malformed(what: &str) -> SamlError {
    SamlError::Malformed(what.to_string())
}
