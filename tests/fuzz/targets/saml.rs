//! SAML: the ACS entry (pre-scan, signature policy, libxmlsec1 verification against the pinned
//! certificate, decryption, profile checks) and IdP metadata.

use super::fixtures::{
    ACS_URL, IDP_CERT, IDP_ENTITY_ID, REQUEST_ID, SP_ENTITY_ID, SP_KEY, assertion_fingerprint, now,
};
use super::{Outcome, text};
use chrono::Duration;
use roleport::protocol::saml::guard::{self, Limits, RootKind};
use roleport::protocol::saml::metadata::parse_idp_metadata;
use roleport::protocol::saml::{self, IdpTrust, Solicitation, SpContext, verify_scanned};

/// The XML the ACS decoded from `SAMLResponse`, through everything the route runs before the
/// database. Invariants:
/// - the pre-scan's comment-free output scans again to the same document and header (what is
///   verified is what was scanned);
/// - an accepted assertion comes from the pinned IdP, and its identity is the one the IdP
///   signed (its ID is the fingerprint of its NameID and attributes, see the seed generator).
pub fn saml_response(data: &[u8]) -> Outcome {
    let Some(xml) = text(data) else {
        return Outcome::NotText;
    };
    let limits = Limits::default();
    let Ok(scan) = guard::prescan(xml, &limits, RootKind::Response) else {
        return Outcome::Refused;
    };
    let again = guard::prescan(&scan.xml, &limits, RootKind::Response)
        .unwrap_or_else(|e| panic!("the comment-free document no longer scans: {e}"));
    assert_eq!(again.xml, scan.xml, "comment removal is not idempotent");
    assert_eq!(again.header.id, scan.header.id);
    assert_eq!(again.header.issuer, scan.header.issuer);
    assert_eq!(again.header.in_response_to, scan.header.in_response_to);
    assert_eq!(again.header.destination, scan.header.destination);
    assert_eq!(again.header.status_code, scan.header.status_code);
    assert_eq!(again.assertions, scan.assertions);
    assert_eq!(again.encrypted_assertions, scan.encrypted_assertions);
    assert_eq!(again.signatures.len(), scan.signatures.len());

    // The ACS scans once: the header it picks the login by and the document it verifies are
    // the same scan's.
    let Ok(scanned) = saml::scan(xml.to_owned(), &limits) else {
        panic!("scan refused what the pre-scan accepted");
    };
    let header = scanned.header();
    // As the ACS does: an InResponseTo must name this browser's pending login; without one the
    // response is unsolicited (allowed here, so the checks behind that gate run too).
    let solicitation = match header.in_response_to.as_deref() {
        Some(REQUEST_ID) => Solicitation::Solicited {
            request_id: REQUEST_ID.to_owned(),
        },
        Some(_) => return Outcome::Refused,
        None => Solicitation::Unsolicited { allowed: true },
    };
    let Ok(trust) = IdpTrust::new(IDP_ENTITY_ID.to_owned(), vec![IDP_CERT.clone()]) else {
        panic!("the fuzz IdP's certificate must load");
    };
    let sp = SpContext {
        entity_id: SP_ENTITY_ID,
        acs_url: ACS_URL,
        decryption_key: Some(&SP_KEY),
        skew: Duration::seconds(90),
        max_assertion_age: Duration::seconds(600),
        max_assertion_lifetime: Duration::seconds(86_400),
        limits,
    };
    match verify_scanned(&scanned, &trust, &sp, &solicitation, now()) {
        Ok(verified) => {
            assert_eq!(verified.issuer, IDP_ENTITY_ID);
            assert_eq!(
                verified.assertion_id,
                assertion_fingerprint(verified.name_id.as_deref(), &verified.attributes),
                "accepted identity {:?} {:?} is not what the IdP signed",
                verified.name_id,
                verified.attributes,
            );
            assert!(verified.replay_until >= now() - Duration::seconds(90));
            Outcome::Accepted
        }
        Err(e) => {
            let _ = e.code();
            Outcome::Refused
        }
    }
}

/// An IdP's metadata document (fetched from `metadata_url` or read from `metadata_file`).
/// Invariants: an accepted document names an entity and yields distinct X.509 certificates.
pub fn saml_metadata(data: &[u8]) -> Outcome {
    let Some(xml) = text(data) else {
        return Outcome::NotText;
    };
    match parse_idp_metadata(xml) {
        Ok(metadata) => {
            assert!(!metadata.entity_id.is_empty());
            for (i, cert) in metadata.signing_certificates.iter().enumerate() {
                assert!(openssl::x509::X509::from_der(cert.der_data()).is_ok());
                assert!(
                    !metadata.signing_certificates[..i].contains(cert),
                    "duplicate certificate"
                );
            }
            Outcome::Accepted
        }
        Err(e) => {
            let _ = e.code();
            Outcome::Refused
        }
    }
}
