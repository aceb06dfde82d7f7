//! Rotating Roleport's IdP signing key for AWS (broker mode). `aws.signing_keys` lists key pairs:
//! the first signs every Response, and all of them are published in `/aws/saml-metadata.xml`, so
//! IAM can be told about a new key before it signs, and an old one can stay trusted until the
//! Responses it signed have expired.
//!
//! Each Response that went to STS (recording_sts → moto) is checked with xmlsec1 against one
//! published certificate at a time. For the "does this key verify it" question the Response's own
//! `<ds:KeyInfo>` is removed first (it is not signed; the enveloped-signature transform drops the
//! whole `<ds:Signature>`), so xmlsec1 can only use the certificate it is given.

use crate::aws_harness::*;
use crate::helpers::*;
use base64::Engine;
use roleport::configuration::KeyPairFiles;

const ADMIN: &str = "123456789012-Admin";
const ADMIN_SESSION_ARN: &str =
    "arn:aws:sts::123456789012:assumed-role/Admin/alice@example.org@demo-saml";

/// A signing key pair on disk, with its certificate as PEM and as metadata carries it (base64 DER).
struct SigningKey {
    name: &'static str,
    files: KeyPairFiles,
    cert_pem: String,
    cert_b64: String,
}

fn signing_key(name: &'static str) -> SigningKey {
    let (key_file, cert_file, cert_pem) = keypair_files(&format!("roleport-aws-idp-{name}"));
    let der = openssl::x509::X509::from_pem(cert_pem.as_bytes())
        .unwrap()
        .to_der()
        .unwrap();
    SigningKey {
        name,
        files: KeyPairFiles {
            key_file,
            cert_file,
        },
        cert_pem,
        cert_b64: base64::engine::general_purpose::STANDARD.encode(der),
    }
}

/// Roleport with `keys` as `aws.signing_keys` (in that order) and STS behind the recorder;
/// `database` reuses an earlier instance's database, as a restart after rotating would.
async fn app_with_keys(keys: &[&SigningKey], database: Option<String>) -> (TestApp, FakeServer) {
    let sts = recording_sts().await;
    let mut aws = aws_settings(&sts.url, None);
    aws.signing_keys = keys.iter().map(|k| k.files.clone()).collect();
    let app = spawn_app_with(Options {
        aws: Some(aws),
        database,
        ..Options::default()
    })
    .await;
    (app, sts)
}

/// The certificates `/aws/saml-metadata.xml` publishes for signing, in document order.
pub(crate) async fn published_certificates(app: &TestApp) -> Vec<String> {
    let resp = app.get("/aws/saml-metadata.xml").await;
    assert_eq!(resp.status(), 200);
    let xml = resp.text().await.unwrap();
    let descriptors =
        regex::Regex::new(r#"(?s)<md:KeyDescriptor use="signing">(.*?)</md:KeyDescriptor>"#)
            .unwrap();
    let cert = regex::Regex::new(r"<ds:X509Certificate>([^<]+)</ds:X509Certificate>").unwrap();
    let certs: Vec<String> = descriptors
        .captures_iter(&xml)
        .map(|d| {
            cert.captures(&d[1])
                .unwrap_or_else(|| panic!("a signing KeyDescriptor without a certificate: {xml}"))
                [1]
            .split_whitespace()
            .collect()
        })
        .collect();
    assert_eq!(
        certs.len(),
        xml.matches("<md:KeyDescriptor").count(),
        "every KeyDescriptor is for signing: {xml}"
    );
    certs
}

/// Signs alice in, takes Admin credentials through the API (they work on moto) and returns the
/// SAML Response Roleport sent to STS for them.
async fn response_sent_to_sts(app: &TestApp, sts: &FakeServer) -> String {
    app.sign_in("alice").await;
    let resp = app.request_credentials(ADMIN, None).await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let body: serde_json::Value = resp.json().await.unwrap();
    let s = |k: &str| body[k].as_str().unwrap().to_string();
    assert_eq!(
        caller_arn(&s("AccessKeyId"), &s("SecretAccessKey"), &s("SessionToken")).await,
        ADMIN_SESSION_ARN
    );
    let calls = sts.seen.lock().unwrap().clone();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].params["Action"], "AssumeRoleWithSAML");
    saml_of(&calls[0])
}

/// Which of the two signatures to check.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Signed {
    Response,
    Assertion,
}

impl Signed {
    fn xpath(self) -> &'static str {
        match self {
            Signed::Response => "/*[local-name()='Response']/*[local-name()='Signature']",
            Signed::Assertion => {
                "/*[local-name()='Response']/*[local-name()='Assertion']/*[local-name()='Signature']"
            }
        }
    }
}

/// xmlsec1's verdict on one signature of `xml` with the public key of `cert_pem` only:
/// `Ok(())` if it verifies, `Err(what xmlsec1 said)` if not.
pub(crate) fn xmlsec_verify(xml: &str, which: Signed, cert_pem: &str) -> Result<(), String> {
    let dir = std::env::temp_dir().join(format!(
        "roleport-keys-check-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let cert = dir.join("cert.pem");
    let doc = dir.join("response.xml");
    std::fs::write(&cert, cert_pem).unwrap();
    std::fs::write(&doc, xml).unwrap();
    let out = std::process::Command::new("xmlsec1")
        .args([
            "--verify",
            "--id-attr:ID",
            "urn:oasis:names:tc:SAML:2.0:protocol:Response",
            "--id-attr:ID",
            "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
            "--node-xpath",
            which.xpath(),
            "--pubkey-cert-pem",
        ])
        .arg(&cert)
        .arg(&doc)
        .output()
        .expect("xmlsec1");
    std::fs::remove_dir_all(&dir).ok();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        assert!(said.contains("OK"), "xmlsec1 succeeded without OK: {said}");
        Ok(())
    } else {
        Err(said)
    }
}

/// `xml` without the `<ds:KeyInfo>` of the `which` signature. Only that one may go: the
/// Assertion's signature, KeyInfo included, is part of what the Response's signature covers.
pub(crate) fn without_key_info(xml: &str, which: Signed) -> String {
    let re = regex::Regex::new(r"(?s)<ds:KeyInfo>.*?</ds:KeyInfo>").unwrap();
    let start = xml.find("<saml:Assertion").expect("an Assertion");
    let end = xml.find("</saml:Assertion>").expect("an Assertion end");
    let in_assertion = |m: &regex::Match| m.start() > start && m.end() < end;
    let all: Vec<regex::Match> = re.find_iter(xml).collect();
    assert_eq!(all.len(), 2, "two signatures, each with KeyInfo: {xml}");
    let mine: Vec<&regex::Match> = all
        .iter()
        .filter(|m| in_assertion(m) == matches!(which, Signed::Assertion))
        .collect();
    assert_eq!(
        mine.len(),
        1,
        "one KeyInfo for the {which:?} signature: {xml}"
    );
    format!("{}{}", &xml[..mine[0].start()], &xml[mine[0].end()..])
}

/// The Response was signed by `signer` (both signatures, and each KeyInfo names it) and by
/// nothing else that is published: `other`'s key verifies neither signature.
fn assert_signed_by(xml: &str, signer: &SigningKey, other: &SigningKey) {
    let key_info: Vec<String> =
        regex::Regex::new(r"(?s)<ds:KeyInfo>.*?<ds:X509Certificate>([^<]+)</ds:X509Certificate>")
            .unwrap()
            .captures_iter(xml)
            .map(|c| c[1].split_whitespace().collect())
            .collect();
    assert_eq!(
        key_info,
        vec![signer.cert_b64.clone(), signer.cert_b64.clone()],
        "KeyInfo names the {} key in both signatures",
        signer.name
    );
    for which in [Signed::Response, Signed::Assertion] {
        let bare = without_key_info(xml, which);
        // As sent, the way SamlCheck (and IAM, with the registered certificate) checks it.
        if let Err(e) = xmlsec_verify(xml, which, &signer.cert_pem) {
            panic!(
                "the {which:?} signature as sent does not verify with the {} key: {e}",
                signer.name
            );
        }
        if let Err(e) = xmlsec_verify(&bare, which, &signer.cert_pem) {
            panic!(
                "the {which:?} signature does not verify with the {} key alone: {e}",
                signer.name
            );
        }
        assert!(
            xmlsec_verify(xml, which, &other.cert_pem).is_err(),
            "the {which:?} signature as sent verifies with the {} key",
            other.name
        );
        match xmlsec_verify(&bare, which, &other.cert_pem) {
            Ok(()) => panic!(
                "the {which:?} signature verifies with the {} key, but the {} key signs",
                other.name, signer.name
            ),
            // The signed content is intact (its digest matches); only the key is wrong.
            Err(e) => assert!(
                e.contains("SignedInfo References (ok/all): 1/1") && e.contains("FAIL"),
                "the {which:?} signature against the {} key: unexpected xmlsec1 answer: {e}",
                other.name
            ),
        }
        // And the check bites: a changed signed byte fails even with the right key.
        let tampered = bare.replacen("alice@example.org", "mallory@example.org", 1);
        assert_ne!(tampered, bare);
        assert!(
            xmlsec_verify(&tampered, which, &signer.cert_pem).is_err(),
            "the {which:?} signature still verifies after tampering"
        );
    }
}

#[tokio::test]
async fn the_first_signing_key_signs_and_every_key_is_published() {
    let new = signing_key("new");
    let old = signing_key("old");
    let (app, sts) = app_with_keys(&[&new, &old], None).await;

    assert_eq!(
        published_certificates(&app).await,
        vec![new.cert_b64.clone(), old.cert_b64.clone()],
        "both certificates are published, in the configured order"
    );
    let xml = response_sent_to_sts(&app, &sts).await;
    assert_signed_by(&xml, &new, &old);
}

#[tokio::test]
async fn rotating_the_signing_keys_switches_the_signer_and_keeps_both_published() {
    let a = signing_key("a");
    let b = signing_key("b");

    // Before: a signs, b is published (say, newly registered in IAM ahead of the switch).
    let (before, sts_before) = app_with_keys(&[&a, &b], None).await;
    let published_before = published_certificates(&before).await;
    assert_eq!(
        published_before,
        vec![a.cert_b64.clone(), b.cert_b64.clone()]
    );
    let signed_before = response_sent_to_sts(&before, &sts_before).await;
    assert_signed_by(&signed_before, &a, &b);

    // The same deployment restarted with the order swapped: b signs, a stays published.
    let (after, sts_after) = app_with_keys(&[&b, &a], Some(before.db_name.clone())).await;
    let mut published_after = published_certificates(&after).await;
    assert_eq!(
        published_after,
        vec![b.cert_b64.clone(), a.cert_b64.clone()]
    );
    let signed_after = response_sent_to_sts(&after, &sts_after).await;
    assert_signed_by(&signed_after, &b, &a);

    // Nothing IAM trusts changed: the same two certificates before and after.
    let mut published_before = published_before;
    published_before.sort();
    published_after.sort();
    assert_eq!(published_before, published_after);
    // And a Response signed before the switch still verifies against a published key.
    for which in [Signed::Response, Signed::Assertion] {
        let bare = without_key_info(&signed_before, which);
        assert!(
            xmlsec_verify(&bare, which, &a.cert_pem).is_ok(),
            "{which:?}"
        );
    }
}
