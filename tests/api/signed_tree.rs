//! The pre-parsed-key verification path (vendor/samael `PinnedKey`, src/protocol/saml/signed_tree.rs)
//! on its own: no app, no database. The attack corpus (attacks.rs) runs the same attacks
//! through the ACS; here they are aimed at `verify_response` and at `PinnedKey` directly, so a
//! regression shows which layer let it through.

use crate::forge::*;
use chrono::{DateTime, Duration, TimeZone, Utc};
use libxml::parser::Parser;
use roleport::protocol::saml::guard::Limits;
use roleport::protocol::saml::{
    IdpTrust, SamlError, Solicitation, SpContext, VerifiedAssertion, verify_response,
};
use samael::crypto::{CertificateDer, PinnedError, PinnedKey, is_dsig_element, register_ids};
use std::sync::LazyLock;

const IDP: &str = "https://idp.pinned.test/metadata";
const REQUEST: &str = "_pinned-request";

static KEY: LazyLock<ForgeKey> = LazyLock::new(|| ForgeKey::cached("idp.pinned.test"));
static OTHER: LazyLock<ForgeKey> = LazyLock::new(|| ForgeKey::cached("other.pinned.test"));

fn sp() -> SpTarget {
    SpTarget {
        entity_id: "https://roleport.pinned.test/saml/metadata".into(),
        acs_url: "https://roleport.pinned.test/saml/acs".into(),
    }
}

fn der(key: &ForgeKey) -> CertificateDer {
    CertificateDer::from(key.cert.to_der().unwrap())
}

/// A fixed time: signing and verifying both take it as a parameter.
fn instant() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 7, 9, 0, 0).unwrap()
}

fn forge(now: DateTime<Utc>) -> Forge {
    Forge::new(IDP, &sp(), now).in_response_to(REQUEST)
}

fn verify_with(
    xml: &str,
    pinned: &[&ForgeKey],
    now: DateTime<Utc>,
) -> Result<VerifiedAssertion, SamlError> {
    let trust = IdpTrust::new(IDP.into(), pinned.iter().map(|k| der(k)).collect()).unwrap();
    let sp = sp();
    let ctx = SpContext {
        entity_id: &sp.entity_id,
        acs_url: &sp.acs_url,
        decryption_key: None,
        skew: Duration::seconds(90),
        max_assertion_age: Duration::seconds(600),
        max_assertion_lifetime: Duration::seconds(86_400),
        limits: Limits::default(),
    };
    let solicitation = Solicitation::Solicited {
        request_id: REQUEST.into(),
    };
    verify_response(xml, &trust, &ctx, &solicitation, now)
}

fn verify(xml: &str, now: DateTime<Utc>) -> Result<VerifiedAssertion, SamlError> {
    verify_with(xml, &[&KEY], now)
}

const SHAPES: [Sign; 3] = [Sign::Assertion, Sign::Response, Sign::Both];

#[test]
fn each_signing_shape_verifies_and_reads_the_signed_values() {
    let now = instant();
    for sign in SHAPES {
        let f = forge(now)
            .name_id("bob@example.org")
            .groups(&["g1", " g2", ""]);
        let v = verify(&f.build(sign, &Signer::new(&KEY)), now).unwrap();
        assert_eq!(v.name_id.as_deref(), Some("bob@example.org"), "{sign:?}");
        assert_eq!(v.assertion_id, f.assertion_id, "{sign:?}");
        assert_eq!(v.attributes["groups"], vec!["g1", " g2", ""], "{sign:?}");
        assert_eq!(v.attributes["mail"], vec!["alice@example.org"], "{sign:?}");
    }
}

#[test]
fn a_document_signed_by_another_key_is_refused() {
    let now = instant();
    for sign in SHAPES {
        let xml = forge(now).build(sign, &Signer::new(&OTHER));
        assert_eq!(verify(&xml, now), Err(SamlError::BadSignature), "{sign:?}");
        // Showing the other key's certificate in KeyInfo changes nothing: it is never read.
        let shown = forge(now).build(sign, &Signer::new(&OTHER).with_key_info(&OTHER.cert));
        assert_eq!(
            verify(&shown, now),
            Err(SamlError::BadSignature),
            "{sign:?}"
        );
        // With both pinned (a rollover), the second key verifies it.
        assert!(verify_with(&xml, &[&KEY, &OTHER], now).is_ok(), "{sign:?}");
    }
}

#[test]
fn one_signature_by_another_key_is_enough_to_refuse() {
    let now = instant();
    let f = forge(now);
    let assertion = f.signed_assertion(&Signer::new(&OTHER));
    let xml = f.response_around(&assertion, Some(&Signer::new(&KEY)));
    assert_eq!(verify(&xml, now), Err(SamlError::BadSignature));
}

#[test]
fn content_altered_after_signing_is_refused() {
    let now = instant();
    for sign in SHAPES {
        let xml = forge(now)
            .groups(&["staff"])
            .build(sign, &Signer::new(&KEY));
        let altered = xml.replacen(">staff<", ">aws-admins<", 1);
        assert_ne!(altered, xml);
        assert_eq!(
            verify(&altered, now),
            Err(SamlError::BadSignature),
            "{sign:?}"
        );
    }
}

#[test]
fn wrapped_and_duplicated_assertions_are_refused() {
    let now = instant();
    let f = forge(now);
    let signed = f.signed_assertion(&Signer::new(&KEY));
    let evil = f.clone().fresh_assertion_id().name_id("admin@example.org");
    // A second, unsigned assertion beside the signed one.
    let beside = f.response_around(&format!("{}{signed}", evil.unsigned_assertion()), None);
    assert_eq!(verify(&beside, now), Err(SamlError::AssertionCount(2)));
    // The signed assertion moved into Extensions, an evil one in its place.
    let mut moved = f.clone();
    moved.extensions = Some(format!("<samlp:Extensions>{signed}</samlp:Extensions>"));
    let moved = moved.response_around(&evil.unsigned_assertion(), None);
    assert_eq!(verify(&moved, now), Err(SamlError::AssertionCount(2)));
    // Only the signed assertion, but inside Extensions: nothing a signature covers is read.
    let mut hidden = f.clone();
    hidden.extensions = Some(format!("<samlp:Extensions>{signed}</samlp:Extensions>"));
    let hidden = hidden.response_around("", None);
    assert!(verify(&hidden, now).is_err());
}

#[test]
fn a_signature_over_a_different_element_is_refused() {
    let now = instant();
    let f = forge(now);
    // The Response carries a valid signature whose reference names the (unsigned) Assertion:
    // it verifies, but it does not cover the element it sits in.
    let mut signer = Signer::new(&KEY);
    signer.reference_uri = Some(format!("#{}", f.assertion_id));
    let xml =
        signer.sign(&f.response_xml(&signer.template(&f.response_id), &f.unsigned_assertion()));
    assert_eq!(verify(&xml, now).unwrap_err().code(), "signature_policy");
}

#[test]
fn a_duplicated_id_is_refused() {
    let now = instant();
    let mut f = forge(now);
    f.extensions = Some(format!(
        r#"<samlp:Extensions><x:decoy xmlns:x="urn:x" ID="{}">admin</x:decoy></samlp:Extensions>"#,
        f.assertion_id
    ));
    let xml = f.build(Sign::Assertion, &Signer::new(&KEY));
    assert_eq!(verify(&xml, now), Err(SamlError::BadSignature));
}

#[test]
fn a_comment_in_name_id_keeps_the_full_signed_value() {
    let now = instant();
    for sign in SHAPES {
        let xml = forge(now)
            .name_id("alice@example.org.evil.test")
            .build(sign, &Signer::new(&KEY));
        let xml = xml.replacen(
            ">alice@example.org.evil.test<",
            ">alice@example.org<!---->.evil.test<",
            1,
        );
        let v = verify(&xml, now).unwrap();
        assert_eq!(
            v.name_id.as_deref(),
            Some("alice@example.org.evil.test"),
            "{sign:?}"
        );
    }
}

#[test]
fn cdata_inside_a_signed_value_is_refused() {
    let now = instant();
    for sign in SHAPES {
        let xml = forge(now)
            .groups(&["aws-admins.evil"])
            .build(sign, &Signer::new(&KEY));
        let xml = xml.replacen(">aws-admins.evil<", ">aws-admins<![CDATA[.evil]]><", 1);
        assert_eq!(verify(&xml, now), Err(SamlError::BadSignature), "{sign:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// PinnedKey and register_ids directly
// ---------------------------------------------------------------------------------------------

fn parse(xml: &str) -> libxml::tree::Document {
    Parser::default().parse_string(xml).unwrap()
}

/// The document's first `ds:Signature` element (depth first).
fn first_signature(doc: &libxml::tree::Document) -> libxml::readonly::RoNode {
    let mut stack = vec![doc.get_root_readonly().unwrap()];
    while let Some(n) = stack.pop() {
        if is_dsig_element(n, "Signature") {
            return n;
        }
        stack.extend(n.get_child_elements().into_iter().rev());
    }
    panic!("no signature");
}

fn pinned(key: &ForgeKey) -> PinnedKey {
    PinnedKey::from_certificate_der(key.cert.to_der().unwrap().as_slice()).unwrap()
}

#[test]
fn pinned_key_verifies_only_its_own_signatures() {
    let xml = forge(instant()).signed_assertion(&Signer::new(&KEY));
    let doc = parse(&xml);
    register_ids(&doc).unwrap();
    let sig = first_signature(&doc);
    assert_eq!(pinned(&KEY).verify(&doc, sig), Ok(true));
    assert_eq!(pinned(&OTHER).verify(&doc, sig), Ok(false));
    // Not a signature element.
    let root = doc.get_root_readonly().unwrap();
    assert_eq!(
        pinned(&KEY).verify(&doc, root),
        Err(PinnedError::NotASignature)
    );
    // A node of another document.
    let other = parse(&xml);
    assert_eq!(
        pinned(&KEY).verify(&doc, first_signature(&other)),
        Err(PinnedError::NotASignature)
    );
}

#[test]
fn pinned_key_needs_registered_ids_and_a_same_document_reference() {
    let f = forge(instant());
    // Without the ID table, `#id` resolves to nothing: not verified.
    let doc = parse(&f.signed_assertion(&Signer::new(&KEY)));
    assert_ne!(pinned(&KEY).verify(&doc, first_signature(&doc)), Ok(true));
    // A whole-document reference (URI=""), validly signed, is outside the narrowed context.
    let mut signer = Signer::new(&KEY);
    signer.reference_uri = Some(String::new());
    let doc = parse(&f.signed_assertion(&signer));
    register_ids(&doc).unwrap();
    assert_ne!(pinned(&KEY).verify(&doc, first_signature(&doc)), Ok(true));
}

#[test]
fn pinned_key_refuses_transforms_outside_enveloped_and_exclusive_c14n() {
    let f = forge(instant());
    let signer = Signer::new(&KEY);
    // Inclusive C14N as a reference transform, validly signed by the pinned key.
    let template = signer.template(&f.assertion_id).replacen(
        &format!(r#"<ds:Transform Algorithm="{EXC_C14N}"/>"#),
        r#"<ds:Transform Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315"/>"#,
        1,
    );
    let doc = parse(&signer.sign(&f.assertion_xml(&template)));
    register_ids(&doc).unwrap();
    assert_ne!(pinned(&KEY).verify(&doc, first_signature(&doc)), Ok(true));
}

#[test]
fn register_ids_refuses_duplicates_and_non_ncnames() {
    let dup = parse(r#"<r><a ID="x"/><b><c ID="x"/></b></r>"#);
    assert_eq!(
        register_ids(&dup),
        Err(PinnedError::DuplicateId("x".into()))
    );
    let bad = parse(r#"<r><a ID="element(/1/2)"/></r>"#);
    assert_eq!(
        register_ids(&bad),
        Err(PinnedError::InvalidId("element(/1/2)".into()))
    );
    assert_eq!(
        register_ids(&parse(r#"<r><a ID="x"/><b ID="y"/></r>"#)),
        Ok(())
    );
}

#[test]
fn a_key_is_only_made_from_a_certificate() {
    assert!(PinnedKey::from_certificate_der(b"not a certificate").is_err());
    assert!(IdpTrust::new(IDP.into(), vec![CertificateDer::from(b"junk".to_vec())]).is_err());
}
