//! A streaming pre-scan of untrusted SAML XML, run before any other parser sees it.
//!
//! It enforces the structural rules of design.md §5.1 that libxml2 and samael do not: no DTD, no
//! entity other than the five predefined ones, no processing instruction, bounded size, depth and
//! element count, one root `samlp:Response`, no nested Response. It also records what the
//! signature policy needs (where each `ds:Signature` sits and which algorithms it names) and the
//! Response header, and returns the document with comments removed: comments are outside every
//! exclusive-C14N digest, and dropping them joins split text nodes, so a value such as
//! `alice@example.org<!---->.evil` is read as the full signed string.

use super::SamlError;
use quick_xml::NsReader;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use std::borrow::Cow;

pub const NS_PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
pub const NS_ASSERTION: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
pub const NS_METADATA: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
pub const NS_DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_bytes: usize,
    pub max_depth: usize,
    pub max_elements: usize,
    pub max_attributes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bytes: 256 * 1024,
            max_depth: 32,
            max_elements: 5_000,
            max_attributes: 32,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RootKind {
    Response,
    Assertion,
    /// An IdP's `md:EntityDescriptor`.
    Metadata,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignedParent {
    /// The document root (a Response, or an Assertion after decryption).
    Root,
    /// An Assertion that is a direct child of the root Response.
    ChildAssertion,
    /// Anywhere else: never acceptable.
    Elsewhere(String),
}

#[derive(Debug, Clone, Default)]
pub struct ReferenceInfo {
    pub uri: Option<String>,
    pub transforms: Vec<String>,
    pub digest_method: Option<String>,
}

#[derive(Debug, Clone)]
pub struct SignatureInfo {
    pub parent: SignedParent,
    pub parent_id: Option<String>,
    pub canonicalization: Option<String>,
    pub signature_method: Option<String>,
    pub references: Vec<ReferenceInfo>,
}

/// Response header values as they stand in the raw document. They are not authenticated unless the
/// Response itself is signed; they are checked strictly either way.
#[derive(Debug, Clone, Default)]
pub struct RawHeader {
    pub id: Option<String>,
    pub in_response_to: Option<String>,
    pub destination: Option<String>,
    pub issuer: Option<String>,
    pub status_code: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Prescan<'a> {
    /// The document without comments (the input itself when it has none).
    pub xml: Cow<'a, str>,
    pub root: RootKind,
    pub header: RawHeader,
    pub assertions: usize,
    pub encrypted_assertions: usize,
    pub signatures: Vec<SignatureInfo>,
}

struct Frame {
    ns: Option<&'static str>,
    local: Cow<'static, str>,
    id: Option<String>,
}

/// A frame names its element with a `&'static str` for the local names SAML Responses,
/// assertions and metadata are made of, instead of a copy (this runs for every element of every
/// Response); any other name is copied.
fn known_name(raw: &[u8]) -> Option<&'static str> {
    Some(match raw {
        b"Response" => "Response",
        b"Issuer" => "Issuer",
        b"Status" => "Status",
        b"StatusCode" => "StatusCode",
        b"StatusMessage" => "StatusMessage",
        b"Assertion" => "Assertion",
        b"EncryptedAssertion" => "EncryptedAssertion",
        b"Subject" => "Subject",
        b"NameID" => "NameID",
        b"SubjectConfirmation" => "SubjectConfirmation",
        b"SubjectConfirmationData" => "SubjectConfirmationData",
        b"Conditions" => "Conditions",
        b"AudienceRestriction" => "AudienceRestriction",
        b"Audience" => "Audience",
        b"AuthnStatement" => "AuthnStatement",
        b"AuthnContext" => "AuthnContext",
        b"AuthnContextClassRef" => "AuthnContextClassRef",
        b"AttributeStatement" => "AttributeStatement",
        b"Attribute" => "Attribute",
        b"AttributeValue" => "AttributeValue",
        b"Signature" => "Signature",
        b"SignedInfo" => "SignedInfo",
        b"CanonicalizationMethod" => "CanonicalizationMethod",
        b"SignatureMethod" => "SignatureMethod",
        b"Reference" => "Reference",
        b"Transforms" => "Transforms",
        b"Transform" => "Transform",
        b"InclusiveNamespaces" => "InclusiveNamespaces",
        b"DigestMethod" => "DigestMethod",
        b"DigestValue" => "DigestValue",
        b"SignatureValue" => "SignatureValue",
        b"KeyInfo" => "KeyInfo",
        b"X509Data" => "X509Data",
        b"X509Certificate" => "X509Certificate",
        _ => return None,
    })
}

fn local_name(raw: &[u8]) -> Cow<'static, str> {
    match known_name(raw) {
        Some(known) => Cow::Borrowed(known),
        None => Cow::Owned(String::from_utf8_lossy(raw).into_owned()),
    }
}

fn has_reference(raw: &[u8]) -> bool {
    raw.contains(&b'&')
}

#[derive(Default)]
struct SigState {
    depth: usize,
    info: Option<SignatureInfo>,
    current_ref: Option<ReferenceInfo>,
    in_signed_info: bool,
}

pub fn prescan<'a>(
    xml: &'a str,
    limits: &Limits,
    expected_root: RootKind,
) -> Result<Prescan<'a>, SamlError> {
    if xml.len() > limits.max_bytes {
        return Err(SamlError::TooLarge);
    }
    let mut reader = NsReader::from_str(xml);
    reader.config_mut().trim_text(false);
    reader.config_mut().check_end_names = true;

    let mut stack: Vec<Frame> = Vec::new();
    let mut comments: Vec<(usize, usize)> = Vec::new();
    let mut elements = 0usize;
    let mut root_seen = false;
    let mut out = Prescan {
        xml: Cow::Borrowed(""),
        root: expected_root,
        header: RawHeader::default(),
        assertions: 0,
        encrypted_assertions: 0,
        signatures: Vec::new(),
    };
    let mut sig = SigState::default();
    let mut text_target: Option<TextTarget> = None;

    loop {
        let start = position(&reader);
        let (ns, event) = reader
            .read_resolved_event()
            .map_err(|e| SamlError::Malformed(format!("XML syntax: {e}")))?;
        let ns = resolved(&ns);
        match event {
            Event::Eof => break,
            Event::DocType(_) => return Err(SamlError::DtdPresent),
            Event::PI(_) => return Err(SamlError::Malformed("processing instruction".into())),
            Event::Decl(_) => {
                if root_seen || !stack.is_empty() {
                    return Err(SamlError::Malformed("misplaced XML declaration".into()));
                }
            }
            Event::Comment(_) => comments.push((start, position(&reader))),
            // Unescaping is what finds an unknown entity; text without `&` has none (and, cut
            // from a `str` at markup, is UTF-8), so it is only unescaped when it is read.
            Event::Text(t) if stack.is_empty() || text_target.is_some() || has_reference(&t) => {
                let text = t.unescape().map_err(|_| SamlError::EntityReference)?;
                if stack.is_empty() && !text.trim().is_empty() {
                    return Err(SamlError::Malformed("text outside the root element".into()));
                }
                if let Some(target) = &text_target {
                    append_text(&mut out.header, *target, &text);
                }
            }
            Event::Text(_) => {}
            Event::CData(_) => {
                if stack.is_empty() {
                    return Err(SamlError::Malformed(
                        "CDATA outside the root element".into(),
                    ));
                }
            }
            Event::Start(ref e) | Event::Empty(ref e) => {
                let is_empty = matches!(event, Event::Empty(_));
                elements += 1;
                if elements > limits.max_elements {
                    return Err(SamlError::TooLarge);
                }
                if stack.len() + 1 > limits.max_depth {
                    return Err(SamlError::TooDeep);
                }
                let local = local_name(e.local_name().as_ref());
                let attrs = attributes(e, limits)?;
                let id = attrs.owned(Wanted::Id);
                let depth = stack.len();
                let ns_ref = ns;

                if depth == 0 {
                    if root_seen {
                        return Err(SamlError::Malformed("more than one root element".into()));
                    }
                    root_seen = true;
                    let root_ok = match expected_root {
                        RootKind::Response => ns_ref == Some(NS_PROTOCOL) && local == "Response",
                        RootKind::Assertion => ns_ref == Some(NS_ASSERTION) && local == "Assertion",
                        RootKind::Metadata => {
                            ns_ref == Some(NS_METADATA) && local == "EntityDescriptor"
                        }
                    };
                    if !root_ok {
                        return Err(SamlError::Malformed(format!(
                            "unexpected root element {local}"
                        )));
                    }
                    if expected_root == RootKind::Response {
                        out.header.id = id.clone();
                        out.header.in_response_to = attrs.owned(Wanted::InResponseTo);
                        out.header.destination = attrs.owned(Wanted::Destination);
                    }
                } else if ns_ref == Some(NS_PROTOCOL) && local == "Response" {
                    return Err(SamlError::WrappedResponse);
                }

                if ns_ref == Some(NS_ASSERTION) && local == "Assertion" {
                    out.assertions += 1;
                }
                if ns_ref == Some(NS_ASSERTION) && local == "EncryptedAssertion" {
                    out.encrypted_assertions += 1;
                }

                // Header fields: direct children of the root Response.
                text_target = None;
                if depth == 1
                    && expected_root == RootKind::Response
                    && ns_ref == Some(NS_ASSERTION)
                    && local == "Issuer"
                {
                    text_target = Some(TextTarget::Issuer);
                }
                if depth == 2
                    && expected_root == RootKind::Response
                    && ns_ref == Some(NS_PROTOCOL)
                    && local == "StatusCode"
                    && stack.last().is_some_and(|f| f.local == "Status")
                    && out.header.status_code.is_none()
                {
                    out.header.status_code = attrs.owned(Wanted::Value);
                }

                track_signature(&mut sig, &mut out, &stack, ns_ref, &local, &attrs)?;

                if is_empty {
                    end_signature_element(&mut sig, &mut out, stack.len(), ns_ref, &local);
                } else {
                    stack.push(Frame { ns, local, id });
                }
            }
            Event::End(_) => {
                text_target = None;
                if let Some(frame) = stack.pop() {
                    end_signature_element(&mut sig, &mut out, stack.len(), frame.ns, &frame.local);
                }
            }
        }
    }
    if !root_seen {
        return Err(SamlError::Malformed("empty document".into()));
    }
    out.xml = strip_ranges(xml, &comments);
    Ok(out)
}

#[derive(Clone, Copy)]
enum TextTarget {
    Issuer,
}

fn append_text(header: &mut RawHeader, target: TextTarget, text: &str) {
    match target {
        TextTarget::Issuer => header.issuer.get_or_insert_with(String::new).push_str(text),
    }
}

fn position(reader: &NsReader<&[u8]>) -> usize {
    usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX)
}

/// Namespaces this scan compares against; any other bound namespace is `OTHER_NS`, which equals
/// none of them (allocation-free: this runs for every element of every Response).
const OTHER_NS: &str = "";

fn resolved(ns: &ResolveResult<'_>) -> Option<&'static str> {
    match ns {
        ResolveResult::Bound(n) => Some(
            [NS_PROTOCOL, NS_ASSERTION, NS_METADATA, NS_DSIG]
                .into_iter()
                .find(|known| known.as_bytes() == n.as_ref())
                .unwrap_or(OTHER_NS),
        ),
        _ => None,
    }
}

/// The attributes this scan reads, by qualified name as written.
#[derive(Clone, Copy)]
enum Wanted {
    Id,
    InResponseTo,
    Destination,
    Value,
    Algorithm,
    Uri,
}

const WANTED: [(&[u8], Wanted); 6] = [
    (b"ID", Wanted::Id),
    (b"InResponseTo", Wanted::InResponseTo),
    (b"Destination", Wanted::Destination),
    (b"Value", Wanted::Value),
    (b"Algorithm", Wanted::Algorithm),
    (b"URI", Wanted::Uri),
];

/// An element's attributes that this scan reads, unescaped (borrowed unless escaped). Every
/// attribute is still unescaped and counted; the others are not kept, so an element costs no
/// allocation for its attributes.
#[derive(Default)]
struct Attrs<'a> {
    values: [Option<Cow<'a, str>>; 6],
}

impl Attrs<'_> {
    fn owned(&self, wanted: Wanted) -> Option<String> {
        self.values
            .get(wanted as usize)
            .and_then(Option::as_ref)
            .map(|v| v.to_string())
    }
}

fn as_str(raw: Cow<'_, [u8]>) -> Option<Cow<'_, str>> {
    match raw {
        Cow::Borrowed(bytes) => std::str::from_utf8(bytes).ok().map(Cow::Borrowed),
        Cow::Owned(bytes) => String::from_utf8(bytes).ok().map(Cow::Owned),
    }
}

fn attributes<'a>(e: &'a BytesStart<'_>, limits: &Limits) -> Result<Attrs<'a>, SamlError> {
    let mut out = Attrs::default();
    let mut count = 0usize;
    for a in e.attributes() {
        let a = a.map_err(|err| SamlError::Malformed(format!("attribute: {err}")))?;
        // quick-xml resolves prefixes with the namespace name as written, libxml2 with its
        // references replaced: `xmlns:p="…protoco&#108;"` would be "protocol" to one and some
        // other namespace to the other, hiding e.g. a nested Response from this scan.
        let key = a.key.into_inner();
        if (key == b"xmlns" || key.starts_with(b"xmlns:")) && has_reference(&a.value) {
            return Err(SamlError::Malformed(
                "namespace name written with a reference".into(),
            ));
        }
        let wanted = WANTED
            .iter()
            .find(|(name, _)| *name == key)
            .map(|(_, wanted)| *wanted);
        // As for text: a value without `&` holds no entity, and is UTF-8 as it stands.
        let value = if has_reference(&a.value) {
            Some(a.unescape_value().map_err(|_| SamlError::EntityReference)?)
        } else if wanted.is_some() {
            Some(as_str(a.value).ok_or(SamlError::EntityReference)?)
        } else {
            None
        };
        count += 1;
        if count > limits.max_attributes {
            return Err(SamlError::TooLarge);
        }
        if let (Some(wanted), Some(value)) = (wanted, value)
            && let Some(slot) = out.values.get_mut(wanted as usize)
            // Names are unique (quick-xml refuses a repeated attribute): the first is the one.
            && slot.is_none()
        {
            *slot = Some(value);
        }
    }
    Ok(out)
}

fn track_signature(
    sig: &mut SigState,
    out: &mut Prescan<'_>,
    stack: &[Frame],
    ns: Option<&str>,
    local: &str,
    attrs: &Attrs<'_>,
) -> Result<(), SamlError> {
    if ns != Some(NS_DSIG) {
        return Ok(());
    }
    let depth = stack.len();
    match local {
        "Signature" => {
            if sig.info.is_some() {
                return Err(SamlError::SignaturePolicy("nested ds:Signature".into()));
            }
            let parent = match stack.last() {
                Some(_) if depth == 1 => SignedParent::Root,
                Some(f)
                    if depth == 2
                        && f.ns == Some(NS_ASSERTION)
                        && f.local == "Assertion"
                        && out.root == RootKind::Response =>
                {
                    SignedParent::ChildAssertion
                }
                Some(f) => SignedParent::Elsewhere(f.local.to_string()),
                None => SignedParent::Elsewhere("document".into()),
            };
            sig.depth = depth;
            sig.info = Some(SignatureInfo {
                parent,
                parent_id: stack.last().and_then(|f| f.id.clone()),
                canonicalization: None,
                signature_method: None,
                references: Vec::new(),
            });
        }
        "SignedInfo" => sig.in_signed_info = true,
        "CanonicalizationMethod" if sig.in_signed_info => {
            if let Some(info) = sig.info.as_mut() {
                info.canonicalization = attrs.owned(Wanted::Algorithm);
            }
        }
        "SignatureMethod" if sig.in_signed_info => {
            if let Some(info) = sig.info.as_mut() {
                info.signature_method = attrs.owned(Wanted::Algorithm);
            }
        }
        "Reference" if sig.in_signed_info => {
            sig.current_ref = Some(ReferenceInfo {
                uri: attrs.owned(Wanted::Uri),
                ..ReferenceInfo::default()
            });
        }
        "Transform" => {
            if let (Some(r), Some(alg)) = (sig.current_ref.as_mut(), attrs.owned(Wanted::Algorithm))
            {
                r.transforms.push(alg);
            }
        }
        "DigestMethod" => {
            if let Some(r) = sig.current_ref.as_mut() {
                r.digest_method = attrs.owned(Wanted::Algorithm);
            }
        }
        _ => {}
    }
    Ok(())
}

fn end_signature_element(
    sig: &mut SigState,
    out: &mut Prescan<'_>,
    depth_after_pop: usize,
    ns: Option<&str>,
    local: &str,
) {
    if ns != Some(NS_DSIG) {
        return;
    }
    match local {
        "Signature" if depth_after_pop == sig.depth => {
            if let Some(info) = sig.info.take() {
                out.signatures.push(info);
            }
            sig.in_signed_info = false;
        }
        "SignedInfo" => sig.in_signed_info = false,
        "Reference" => {
            if let (Some(r), Some(info)) = (sig.current_ref.take(), sig.info.as_mut()) {
                info.references.push(r);
            }
        }
        _ => {}
    }
}

fn strip_ranges<'a>(xml: &'a str, ranges: &[(usize, usize)]) -> Cow<'a, str> {
    if ranges.is_empty() {
        return Cow::Borrowed(xml);
    }
    let mut out = String::with_capacity(xml.len());
    let mut last = 0;
    for &(start, end) in ranges {
        if let Some(piece) = xml.get(last..start) {
            out.push_str(piece);
        }
        last = end;
    }
    if let Some(piece) = xml.get(last..) {
        out.push_str(piece);
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(xml: &str) -> Result<Prescan<'_>, SamlError> {
        prescan(xml, &Limits::default(), RootKind::Response)
    }

    const MIN: &str = r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r" InResponseTo="_q" Destination="https://sp/acs"><saml:Issuer>https://idp</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status><saml:Assertion ID="_a"><saml:Subject><saml:NameID>alice@example.org<!-- x -->.evil</saml:NameID></saml:Subject></saml:Assertion></samlp:Response>"#;

    #[test]
    fn reads_header_and_strips_comments() {
        let p = scan(MIN).unwrap();
        assert_eq!(p.header.id.as_deref(), Some("_r"));
        assert_eq!(p.header.in_response_to.as_deref(), Some("_q"));
        assert_eq!(p.header.destination.as_deref(), Some("https://sp/acs"));
        assert_eq!(p.header.issuer.as_deref(), Some("https://idp"));
        assert_eq!(
            p.header.status_code.as_deref(),
            Some("urn:oasis:names:tc:SAML:2.0:status:Success")
        );
        assert_eq!(p.assertions, 1);
        assert!(p.xml.contains("alice@example.org.evil</saml:NameID>"));
    }

    #[test]
    fn refuses_dtd_and_entities() {
        let dtd = format!("<!DOCTYPE r [<!ENTITY x \"y\">]>{MIN}");
        assert!(matches!(scan(&dtd), Err(SamlError::DtdPresent)));
        let ent = MIN.replace("https://idp<", "&x;<");
        assert!(matches!(scan(&ent), Err(SamlError::EntityReference)));
        let pi = format!("<?xml version=\"1.0\"?><?evil x?>{MIN}");
        assert!(scan(&pi).is_err());
    }

    #[test]
    fn enforces_limits() {
        let mut deep =
            String::from(r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol">"#);
        for _ in 0..40 {
            deep.push_str("<x>");
        }
        for _ in 0..40 {
            deep.push_str("</x>");
        }
        deep.push_str("</samlp:Response>");
        assert!(matches!(scan(&deep), Err(SamlError::TooDeep)));
        let big = MIN.replace("https://idp", &"a".repeat(300 * 1024));
        assert!(matches!(scan(&big), Err(SamlError::TooLarge)));
    }

    #[test]
    fn refuses_nested_response_and_counts_assertions_anywhere() {
        let wrapped = MIN.replace(
            "<samlp:Status>",
            "<samlp:Extensions><samlp:Response ID=\"x\"/></samlp:Extensions><samlp:Status>",
        );
        assert!(matches!(scan(&wrapped), Err(SamlError::WrappedResponse)));
        let advice = MIN.replace(
            "</saml:Subject>",
            "</saml:Subject><saml:Advice><saml:Assertion ID=\"b\"/></saml:Advice>",
        );
        assert_eq!(scan(&advice).unwrap().assertions, 2);
    }

    #[test]
    fn namespace_names_with_references_are_refused() {
        // libxml2 reads this nested element as a samlp:Response; quick-xml would not.
        let wrapped = MIN.replace(
            "<samlp:Status>",
            "<samlp:Extensions><x:Response xmlns:x=\"urn:oasis:names:tc:SAML:2.0:protoco&#108;\" ID=\"x\"/></samlp:Extensions><samlp:Status>",
        );
        assert!(matches!(scan(&wrapped), Err(SamlError::Malformed(_))));
        let default_ns = MIN.replace(
            "<saml:Issuer>",
            "<Issuer xmlns=\"urn:x&amp;y\"/><saml:Issuer>",
        );
        assert!(matches!(scan(&default_ns), Err(SamlError::Malformed(_))));
        // Other attribute values may hold references.
        let escaped_value = MIN.replace(
            "Destination=\"https://sp/acs\"",
            "Destination=\"https://sp/acs?a=1&amp;b=2\"",
        );
        assert_eq!(
            scan(&escaped_value).unwrap().header.destination.as_deref(),
            Some("https://sp/acs?a=1&b=2")
        );
    }

    #[test]
    fn wrong_root_is_refused() {
        let other = r#"<foo xmlns="urn:x"/>"#;
        assert!(scan(other).is_err());
        assert!(scan("").is_err());
    }

    mod never_panics {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            /// Attacker-controlled input: any bytes, and any splice into a real document, give a
            /// verdict, never a panic.
            #[test]
            fn on_arbitrary_text(raw in "\\PC{0,400}") {
                let _ = scan(&raw);
            }

            #[test]
            fn on_spliced_documents(at in 0usize..1200, insert in "[<>&;!\\[\\]\"'=/a-zA-Z:#-]{0,24}") {
                let mut doc = MIN.to_string();
                let at = at.min(doc.len());
                if doc.is_char_boundary(at) {
                    doc.insert_str(at, &insert);
                    let _ = scan(&doc);
                }
            }
        }
    }
}
