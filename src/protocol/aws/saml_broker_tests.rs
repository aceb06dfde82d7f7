//! Tests of the broker Response: signatures checked by samael (libxmlsec1) and by the
//! `xmlsec1` command, tampering, structure, key handling.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use chrono::TimeDelta;
use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::{X509, X509NameBuilder};
use samael::crypto::{
    AllowedSignatureAlgorithm, CertificateDer, Crypto, CryptoProvider, ReduceMode,
};
use samael::schema::{Assertion, Response};

use super::*;
use crate::protocol::aws::broker_request::tests::{now, request};
use crate::protocol::aws::{
    EndpointOverrides, PartitionEndpoints, RoleSessionName, SessionTags, SourceIdentity,
};
use crate::protocol::mapping::Partition;

struct TestKey {
    key: PKey<Private>,
    cert: X509,
}

fn make_key(bits: u32, cn: &str) -> TestKey {
    let key = PKey::from_rsa(Rsa::generate(bits).unwrap()).unwrap();
    let cert = self_signed(&key, cn);
    TestKey { key, cert }
}

fn self_signed(key: &PKey<Private>, cn: &str) -> X509 {
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", cn).unwrap();
    let name = name.build();
    let mut b = X509::builder().unwrap();
    b.set_version(2).unwrap();
    b.set_serial_number(&BigNum::from_u32(1).unwrap().to_asn1_integer().unwrap())
        .unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(&name).unwrap();
    b.set_pubkey(key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::days_from_now(365).unwrap())
        .unwrap();
    b.sign(key, MessageDigest::sha256()).unwrap();
    b.build()
}

/// One key for the whole test run (RSA generation is slow), and a second, unrelated one.
fn keys() -> &'static (TestKey, TestKey) {
    static KEYS: OnceLock<(TestKey, TestKey)> = OnceLock::new();
    KEYS.get_or_init(|| {
        (
            make_key(2048, "roleport-idp"),
            make_key(2048, "someone-else"),
        )
    })
}

fn signing_key() -> BrokerSigningKey {
    let k = &keys().0;
    BrokerSigningKey::from_pem(
        &k.key.private_key_to_pem_pkcs8().unwrap(),
        &k.cert.to_pem().unwrap(),
    )
    .unwrap()
}

fn cert_der(k: &TestKey) -> CertificateDer {
    CertificateDer::from(k.cert.to_der().unwrap())
}

fn samael_verify(xml: &str, k: &TestKey) -> Result<String, String> {
    Crypto::reduce_xml_to_signed_with_allowed_algorithms(
        xml,
        &[cert_der(k)],
        ReduceMode::ValidateAndMarkNoAncestors,
        Some(&[AllowedSignatureAlgorithm::RsaSha256]),
    )
    .map_err(|e| e.to_string())
}

fn scratch_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "roleport-aws-broker-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `xmlsec1 --verify` of the first signature of `xml` (`--id-attr` registers `ID` on
/// `element` in `ns`). `None` when xmlsec1 is not installed.
fn xmlsec1_verify(xml: &str, k: &TestKey, ns: &str, element: &str) -> Option<bool> {
    let dir = scratch_dir();
    let cert = dir.join("cert.pem");
    let file = dir.join("doc.xml");
    std::fs::write(&cert, k.cert.to_pem().unwrap()).unwrap();
    std::fs::write(&file, xml).unwrap();
    let out = Command::new("xmlsec1")
        .arg("--verify")
        .arg("--id-attr:ID")
        .arg(format!("{ns}:{element}"))
        .arg("--pubkey-cert-pem")
        .arg(&cert)
        .arg(&file)
        .output();
    let _ = std::fs::remove_dir_all(&dir);
    let out = out.ok()?;
    Some(out.status.success())
}

const NS_P: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
const NS_A: &str = "urn:oasis:names:tc:SAML:2.0:assertion";

/// The `<saml:Assertion>…</saml:Assertion>` element of a signed Response, as text.
fn assertion_text(xml: &str) -> &str {
    let start = xml.find("<saml:Assertion").unwrap();
    let end = xml.find("</saml:Assertion>").unwrap() + "</saml:Assertion>".len();
    &xml[start..end]
}

fn build() -> SignedSamlResponse {
    build_signed_response(&request(), &signing_key()).unwrap()
}

fn attributes(a: &Assertion) -> Vec<(String, Vec<String>)> {
    a.attribute_statements
        .iter()
        .flatten()
        .flat_map(|s| s.attributes.iter())
        .map(|a| {
            (
                a.name.clone().unwrap_or_default(),
                a.values
                    .iter()
                    .map(|v| v.value.clone().unwrap_or_default())
                    .collect(),
            )
        })
        .collect()
}

#[test]
fn samael_verifies_both_signatures() {
    let signed = build();
    assert!(
        signed.xml.starts_with("<samlp:Response "),
        "{}",
        &signed.xml[..80]
    );
    assert_eq!(signed.xml.matches("<?xml").count(), 0);
    assert_eq!(signed.xml.matches("<ds:Signature ").count(), 2);
    assert_eq!(signed.xml.matches(RSA_SHA256).count(), 2);
    assert_eq!(
        signed
            .xml
            .matches(&format!("<ds:DigestMethod Algorithm=\"{SHA256}\"/>"))
            .count(),
        2
    );
    assert!(!signed.xml.contains("rsa-sha1") && !signed.xml.contains("#sha1"));
    assert!(
        signed
            .xml
            .contains(&format!("URI=\"#{}\"", signed.response_id))
    );
    assert!(
        signed
            .xml
            .contains(&format!("URI=\"#{}\"", signed.assertion_id))
    );
    assert!(
        !signed
            .xml
            .contains("<ds:SignatureValue></ds:SignatureValue>")
    );
    assert!(!signed.xml.contains("<ds:DigestValue></ds:DigestValue>"));
    // KeyInfo carries the active certificate in both signatures.
    let cert_b64 =
        base64::engine::general_purpose::STANDARD.encode(keys().0.cert.to_der().unwrap());
    assert_eq!(
        signed
            .xml
            .matches(&format!(
                "<ds:X509Certificate>{cert_b64}</ds:X509Certificate>"
            ))
            .count(),
        2
    );
    if std::env::var_os("ROLEPORT_DUMP_BROKER_XML").is_some() {
        println!("{}", signed.xml);
    }

    let reduced = samael_verify(&signed.xml, &keys().0).unwrap();
    assert!(reduced.contains("https://aws.amazon.com/SAML/Attributes/Role"));
    // The Assertion's own signature, taken out of the Response.
    let reduced = samael_verify(assertion_text(&signed.xml), &keys().0).unwrap();
    assert!(reduced.contains("arn:aws:iam::123456789012:role/Admin"));

    let base64 = base64::engine::general_purpose::STANDARD
        .decode(&signed.saml_response)
        .unwrap();
    assert_eq!(String::from_utf8(base64).unwrap(), signed.xml);
}

#[test]
fn xmlsec1_cli_verifies_both_signatures() {
    let signed = build();
    let Some(ok) = xmlsec1_verify(&signed.xml, &keys().0, NS_P, "Response") else {
        eprintln!("xmlsec1 not installed; skipped");
        return;
    };
    assert!(ok, "xmlsec1 refused the Response signature");
    let assertion = assertion_text(&signed.xml);
    assert_eq!(
        xmlsec1_verify(assertion, &keys().0, NS_A, "Assertion"),
        Some(true)
    );
    // The other key's certificate does not verify it.
    assert_eq!(
        xmlsec1_verify(&signed.xml, &keys().1, NS_P, "Response"),
        Some(false)
    );
}

#[test]
fn tampering_breaks_verification() {
    let signed = build();
    let tampered = [
        signed.xml.replace("role/Admin,", "role/Admin2,"),
        signed.xml.replace(
            ">alice@example.org</saml:NameID>",
            ">mallory@example.org</saml:NameID>",
        ),
        signed.xml.replace(
            &instant(signed.not_on_or_after),
            &instant(signed.not_on_or_after + TimeDelta::hours(1)),
        ),
        signed.xml.replace(
            "<samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:Success\"/>",
            "<samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:Requester\"/>",
        ),
        signed.xml.replace(">3600<", ">43200<"),
    ];
    for (i, xml) in tampered.iter().enumerate() {
        assert_ne!(xml, &signed.xml, "case {i} changed nothing");
        assert!(
            samael_verify(xml, &keys().0).is_err(),
            "case {i} still verifies"
        );
        if let Some(ok) = xmlsec1_verify(xml, &keys().0, NS_P, "Response") {
            // The Status edit is outside the Assertion but inside the Response signature.
            assert!(!ok, "xmlsec1: case {i} still verifies");
        }
    }
    // The Assertion taken out alone is still bound by its own signature.
    let assertion = assertion_text(&tampered[0]);
    assert!(samael_verify(assertion, &keys().0).is_err());
    // A different key's certificate never verifies.
    assert!(samael_verify(&signed.xml, &keys().1).is_err());
}

#[test]
fn structure_matches_what_aws_requires() {
    let req = request();
    let signed = build();
    let response: Response = signed.xml.parse().unwrap();
    assert_eq!(response.id, req.response_id);
    assert_eq!(response.version, "2.0");
    assert_eq!(
        response.destination.as_deref(),
        Some("https://signin.aws.amazon.com/saml")
    );
    assert_eq!(
        response.issuer.as_ref().and_then(|i| i.value.as_deref()),
        Some(req.issuer.as_str())
    );
    let status = response.status.as_ref().unwrap();
    assert_eq!(
        status.status_code.value.as_deref(),
        Some("urn:oasis:names:tc:SAML:2.0:status:Success")
    );
    assert!(response.encrypted_assertion.is_none());

    let a = response.assertion.as_ref().unwrap();
    assert_eq!(a.id, req.assertion_id);
    assert_eq!(a.issuer.value.as_deref(), Some(req.issuer.as_str()));
    assert!(a.signature.is_some());

    let subject = a.subject.as_ref().unwrap();
    let name_id = subject.name_id.as_ref().unwrap();
    assert_eq!(name_id.value, "alice@example.org");
    assert_eq!(
        name_id.format.as_deref(),
        Some("urn:oasis:names:tc:SAML:2.0:nameid-format:persistent")
    );
    let confirmations = subject.subject_confirmations.as_ref().unwrap();
    assert_eq!(confirmations.len(), 1);
    assert_eq!(
        confirmations[0].method.as_deref(),
        Some("urn:oasis:names:tc:SAML:2.0:cm:bearer")
    );
    let data = confirmations[0].subject_confirmation_data.as_ref().unwrap();
    assert_eq!(
        data.recipient.as_deref(),
        Some("https://signin.aws.amazon.com/saml")
    );
    let not_after = data.not_on_or_after.unwrap();

    // Inside AWS's five-minute window.
    assert!(not_after > now());
    assert!(not_after <= now() + TimeDelta::minutes(5));
    let conditions = a.conditions.as_ref().unwrap();
    assert_eq!(conditions.not_on_or_after, Some(not_after));
    assert!(conditions.not_before.unwrap() < now());
    assert!(conditions.not_before.unwrap() >= now() - TimeDelta::minutes(5));
    let audiences: Vec<&String> = conditions
        .audience_restrictions
        .iter()
        .flatten()
        .flat_map(|r| r.audience.iter())
        .collect();
    assert_eq!(audiences, vec!["urn:amazon:webservices"]);
    assert_eq!(response.issue_instant, now());
    assert_eq!(a.issue_instant, now());
    assert_eq!(signed.not_on_or_after, not_after);

    let authn = &a.authn_statements.as_ref().unwrap()[0];
    assert_eq!(authn.authn_instant, Some(now() - TimeDelta::minutes(3)));
    assert_eq!(
        authn.session_index.as_deref(),
        Some(req.assertion_id.as_str())
    );

    let attrs = attributes(a);
    let p = "https://aws.amazon.com/SAML/Attributes/";
    let want: Vec<(String, Vec<String>)> = vec![
        (format!("{p}Role"), vec!["arn:aws:iam::123456789012:role/Admin,arn:aws:iam::123456789012:saml-provider/Roleport".into()]),
        (format!("{p}RoleSessionName"), vec!["alice@example.org@corp".into()]),
        (format!("{p}SessionDuration"), vec!["3600".into()]),
        (format!("{p}SourceIdentity"), vec!["alice@example.org@corp".into()]),
        (format!("{p}PrincipalTag:team"), vec!["platform".into()]),
        (format!("{p}PrincipalTag:cost-center"), vec!["4711".into()]),
        (format!("{p}TransitiveTagKeys"), vec!["team".into()]),
    ];
    assert_eq!(attrs, want);
    // Exactly one Role attribute with exactly one value (moto refuses more).
    let roles: Vec<_> = attrs.iter().filter(|(n, _)| n.ends_with("/Role")).collect();
    assert_eq!(roles.len(), 1);
    assert_eq!(roles[0].1.len(), 1);
    assert_eq!(signed.xml.matches("<saml:AttributeValue>arn:").count(), 1);
}

#[test]
fn minimal_request_still_has_two_attributes_and_no_tag_attributes() {
    let mut req = request();
    req.session_tags = SessionTags::empty();
    let signed = build_signed_response(&req, &signing_key()).unwrap();
    let response: Response = signed.xml.parse().unwrap();
    let attrs = attributes(response.assertion.as_ref().unwrap());
    assert!(attrs.len() >= 2, "moto needs at least two attributes");
    assert!(!signed.xml.contains("PrincipalTag") && !signed.xml.contains("TransitiveTagKeys"));
    assert!(samael_verify(&signed.xml, &keys().0).is_ok());
}

#[test]
fn multiple_transitive_keys_are_one_value_each() {
    let mut req = request();
    req.session_tags = SessionTags::new([("a", "1"), ("b", "2"), ("c", "3")], ["a", "c"]).unwrap();
    let signed = build_signed_response(&req, &signing_key()).unwrap();
    let response: Response = signed.xml.parse().unwrap();
    let attrs = attributes(response.assertion.as_ref().unwrap());
    let transitive = attrs
        .iter()
        .find(|(n, _)| n.ends_with("/TransitiveTagKeys"))
        .unwrap();
    assert_eq!(transitive.1, vec!["a".to_owned(), "c".to_owned()]);
}

#[test]
fn text_is_escaped_and_still_verifies() {
    let mut req = request();
    req.issuer = "https://roleport.example.org/idp?a=1&b=\"2\"&c=<3>".into();
    req.name_id = "o'brien & <co> \"x\"".into();
    req.session_tags = SessionTags::new([("k:/=+-@._ é", "v ٣ 値")], Vec::<String>::new()).unwrap();
    let signed = build_signed_response(&req, &signing_key()).unwrap();
    // libxml2 re-serialises (a `"` in text needs no escape), so check the parsed values.
    assert!(signed.xml.contains("a=1&amp;b=") && signed.xml.contains("&lt;3&gt;"));
    let response: Response = signed.xml.parse().unwrap();
    assert_eq!(
        response.issuer.unwrap().value.as_deref(),
        Some(req.issuer.as_str())
    );
    let a = response.assertion.unwrap();
    assert_eq!(a.subject.unwrap().name_id.unwrap().value, req.name_id);
    assert!(samael_verify(&signed.xml, &keys().0).is_ok());
    if let Some(ok) = xmlsec1_verify(&signed.xml, &keys().0, NS_P, "Response") {
        assert!(ok);
    }
}

#[test]
fn partitions_and_loopback_recipient() {
    for (p, audience) in [
        (Partition::AwsCn, "urn:amazon:webservices:cn-north-1"),
        (Partition::AwsUsGov, "urn:amazon:webservices:govcloud"),
    ] {
        let mut req = request();
        req.endpoints = PartitionEndpoints::defaults(p);
        req.role_arn = format!("arn:{p}:iam::123456789012:role/Admin");
        req.provider_arn = format!("arn:{p}:iam::123456789012:saml-provider/Roleport");
        let signed = build_signed_response(&req, &signing_key()).unwrap();
        assert!(
            signed
                .xml
                .contains(&format!("<saml:Audience>{audience}</saml:Audience>"))
        );
        let recipient = PartitionEndpoints::defaults(p).saml_recipient;
        assert!(signed.xml.contains(&format!("Destination=\"{recipient}\"")));
        assert!(signed.xml.contains(&format!("Recipient=\"{recipient}\"")));
    }
    let mut req = request();
    let overrides = EndpointOverrides {
        saml_recipient: url::Url::parse("http://127.0.0.1:4566/saml").ok(),
        ..Default::default()
    };
    req.endpoints = PartitionEndpoints::with_overrides(Partition::Aws, &overrides).unwrap();
    let signed = build_signed_response(&req, &signing_key()).unwrap();
    assert!(
        signed
            .xml
            .contains("Destination=\"http://127.0.0.1:4566/saml\"")
    );
    assert!(
        signed
            .xml
            .contains("Recipient=\"http://127.0.0.1:4566/saml\"")
    );
    assert!(
        signed
            .xml
            .contains("<saml:Audience>urn:amazon:webservices</saml:Audience>")
    );
}

#[test]
fn subsecond_now_never_extends_the_window() {
    let mut req = request();
    req.now = now() + TimeDelta::milliseconds(999);
    req.valid_for_seconds = 300;
    let signed = build_signed_response(&req, &signing_key()).unwrap();
    assert!(signed.not_on_or_after <= req.now + TimeDelta::minutes(5));
    assert!(signed.not_before < req.now);
}

#[test]
fn nothing_is_built_on_a_rule_violation() {
    let mut req = request();
    req.valid_for_seconds = 600;
    assert_eq!(
        build_signed_response(&req, &signing_key()),
        Err(BrokerError::Rule(AwsRuleError::ValidityWindow {
            seconds: 600,
            max: 300
        }))
    );
    let mut req = request();
    req.role_arn =
        "arn:aws:iam::123456789012:role/Admin,arn:aws:iam::123456789012:role/Other".into();
    assert!(matches!(
        build_signed_response(&req, &signing_key()),
        Err(BrokerError::Rule(AwsRuleError::CommaInRoleArn { .. }))
    ));
    let msg = build_signed_response(&req, &signing_key())
        .err()
        .unwrap()
        .to_string();
    assert!(
        msg.starts_with("Role ARN") && msg.contains("role-arn,provider-arn"),
        "{msg}"
    );
}

#[test]
fn keys_in_every_encoding_sign() {
    let k = &keys().0;
    let rsa = k.key.rsa().unwrap();
    let loaded = [
        BrokerSigningKey::from_pem(
            &k.key.private_key_to_pem_pkcs8().unwrap(),
            &k.cert.to_pem().unwrap(),
        ),
        BrokerSigningKey::from_pem(
            &rsa.private_key_to_pem().unwrap(),
            &k.cert.to_pem().unwrap(),
        ),
        BrokerSigningKey::from_der(
            &k.key.private_key_to_der().unwrap(),
            &k.cert.to_der().unwrap(),
        ),
        BrokerSigningKey::from_der(
            &k.key.private_key_to_pkcs8().unwrap(),
            &k.cert.to_der().unwrap(),
        ),
    ];
    for (i, key) in loaded.into_iter().enumerate() {
        let key = key.unwrap_or_else(|e| panic!("case {i}: {e}"));
        assert_eq!(key.certificate_der(), k.cert.to_der().unwrap().as_slice());
        let signed = build_signed_response(&request(), &key).unwrap();
        assert!(samael_verify(&signed.xml, k).is_ok(), "case {i}");
    }
    let shown = format!("{:?}", signing_key());
    assert!(shown.contains("<redacted>"));
}

/// What samael's `sign_xml` accepts (`XmlSecKeyFormat::Der`): both PKCS#8 and PKCS#1 DER
/// load with the OpenSSL backend. Roleport hands it PKCS#8.
#[test]
fn samael_der_formats() {
    let k = &keys().0;
    let template = format!(
        "<r xmlns=\"urn:x\" ID=\"_0123456789abcdef\">{}</r>",
        signature_template("_0123456789abcdef", "")
    );
    for der in [
        k.key.private_key_to_pkcs8().unwrap(),
        k.key.rsa().unwrap().private_key_to_der().unwrap(),
    ] {
        let signed = Crypto::sign_xml(&template, &der).map_err(|e| e.to_string());
        let signed = signed.unwrap();
        assert!(samael_verify(&signed, k).is_ok());
    }
    assert!(Crypto::sign_xml(&template, b"not a key").is_err());
}

#[test]
fn bad_keys_are_refused() {
    let (mine, other) = keys();
    // Certificate of another key.
    let r = BrokerSigningKey::from_pem(
        &mine.key.private_key_to_pem_pkcs8().unwrap(),
        &other.cert.to_pem().unwrap(),
    );
    assert!(matches!(r, Err(BrokerError::Key(m)) if m.contains("not for this private key")));
    // Too short.
    let small = make_key(1024, "small");
    let r = BrokerSigningKey::from_pem(
        &small.key.private_key_to_pem_pkcs8().unwrap(),
        &small.cert.to_pem().unwrap(),
    );
    assert!(matches!(r, Err(BrokerError::Key(m)) if m.contains("2048")));
    // Not RSA.
    let ec = PKey::from_ec_key(
        EcKey::generate(&EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap()).unwrap(),
    )
    .unwrap();
    let ec_cert = self_signed(&ec, "ec");
    let r = BrokerSigningKey::from_pem(
        &ec.private_key_to_pem_pkcs8().unwrap(),
        &ec_cert.to_pem().unwrap(),
    );
    assert!(matches!(r, Err(BrokerError::Key(m)) if m.contains("RSA")));
    // Garbage.
    assert!(BrokerSigningKey::from_pem(b"nope", b"nope").is_err());
    assert!(BrokerSigningKey::from_der(b"nope", b"nope").is_err());
}

#[test]
fn debug_hides_the_response() {
    let signed = build();
    let shown = format!("{signed:?}");
    assert!(!shown.contains("Assertion") && !shown.contains(&signed.saml_response[..20]));
    assert!(shown.contains(&signed.response_id));
}

#[test]
fn fitted_names_flow_through() {
    let mut req = request();
    req.role_session_name =
        RoleSessionName::of_person("CN=Doe\\, Jane,OU=Staff,DC=corp,DC=example", "corp");
    req.source_identity = SourceIdentity::of_person("jane.doe@corp.example", "corp");
    let signed = build_signed_response(&req, &signing_key()).unwrap();
    let session = req.role_session_name.as_str();
    assert!(
        session.starts_with("CN=Doe-,-Jane,OU=Staff,DC=corp,DC=example@corp="),
        "{session}"
    );
    assert!(signed.xml.contains(&format!(">{session}<")));
    assert!(signed.xml.contains(">jane.doe@corp.example@corp<"));
    assert!(samael_verify(&signed.xml, &keys().0).is_ok());
}

#[test]
fn strip_declaration_table() {
    for (v, want) in [
        ("<?xml version=\"1.0\"?>\n<a/>", "<a/>"),
        ("<?xml version=\"1.0\" encoding=\"UTF-8\"?><a/>", "<a/>"),
        ("<a/>", "<a/>"),
        ("\n<a/>", "<a/>"),
    ] {
        assert_eq!(strip_xml_declaration(v), want);
    }
}
