//! Attacks on the ACS, one test per class, each built with the forge (a real signing IdP) and each
//! shown to be refused WITHOUT granting anything: a 403 "Sign-in failed" page with a reference id,
//! no session, and the refusal recorded under the precise code: a counter plus the log line with
//! the reference when nothing verified, an audit row when a verified identity was refused.
//!
//! Where an attack is not refused but neutralised (comment injection), the test shows the identity
//! Roleport uses is the full signed value and that no role is granted through the trick.

use crate::forge::*;
use crate::helpers::*;
use crate::refusals::assert_recorded;
use chrono::Duration;
use serde_json::Value;

// ---------------------------------------------------------------------------------------------
// What a refusal must look like
// ---------------------------------------------------------------------------------------------

/// Asserts `resp` is the refusal page for `code`, that `client` holds no session and that the
/// number of sessions is still `sessions`, and that the refusal is recorded under exactly `code`
/// (an audit row for a verified identity, else a counter and the log line). Returns the record
/// in the audit row's shape.
async fn refused_with(
    app: &TestApp,
    client: &reqwest::Client,
    resp: reqwest::Response,
    code: &str,
    sessions: i64,
) -> Value {
    let status = resp.status();
    let html = resp.text().await.expect("body");
    assert_eq!(
        status, 403,
        "expected a refusal ({code}), got {status}:\n{html}"
    );
    assert!(html.contains("Sign-in failed"), "{html}");
    let reference = reference_in(&html);
    assert_eq!(app.session_count().await, sessions, "{code}: session count");
    let roles = client
        .get(format!("{}/api/v1/roles", app.address))
        .send()
        .await
        .expect("GET roles");
    assert_eq!(
        roles.status(),
        401,
        "{code}: this browser must not be signed in"
    );
    let row = assert_recorded(app, &reference, code).await;
    // The page never says which check failed.
    assert!(!html.contains(code), "the page leaks the reason {code}");
    row
}

/// The common case: the app's own browser, no session anywhere.
async fn refused(app: &TestApp, resp: reqwest::Response, code: &str) -> Value {
    refused_with(app, &app.client, resp, code, 0).await
}

/// Starts an SP-initiated login in the app's browser and returns it with a valid answer to it.
pub(crate) async fn sp_initiated(app: &TestApp) -> (Login, Forge) {
    let login = start_login(app, &app.client).await;
    let forge = forge_for(app).in_response_to(&login.request_id);
    (login, forge)
}

/// Posts `xml` as the answer to `login` from the app's browser.
pub(crate) async fn answer(app: &TestApp, login: &Login, xml: &str) -> reqwest::Response {
    post_acs_as(app, &app.client, xml, Some(&login.relay_state)).await
}

/// Starts a login, lets `attack` turn a valid answer into a malicious response, posts it and
/// expects refusal with `code`.
pub(crate) async fn sp_attack(
    app: &TestApp,
    code: &str,
    attack: impl FnOnce(Forge) -> String,
) -> Value {
    let (login, forge) = sp_initiated(app).await;
    let xml = attack(forge);
    refused(app, answer(app, &login, &xml).await, code).await
}

fn replace_once(xml: &str, from: &str, to: &str) -> String {
    assert_eq!(
        xml.matches(from).count(),
        1,
        "`{from}` must occur once in:\n{xml}"
    );
    xml.replacen(from, to, 1)
}

// ---------------------------------------------------------------------------------------------
// Signatures
// ---------------------------------------------------------------------------------------------

/// The attacker writes the whole response himself and signs nothing.
#[tokio::test]
async fn unsigned_response_is_refused() {
    let app = spawn_forge_app().await;
    sp_attack(&app, "unsigned", |f| f.build(Sign::Nothing, &signer())).await;
}

/// The attacker takes a response the IdP signed for a harmless user and edits it: a group, or the
/// NameID, whichever parts were signed.
#[tokio::test]
async fn tampered_assertion_is_refused() {
    let app = spawn_forge_app().await;
    for sign in [Sign::Assertion, Sign::Response, Sign::Both] {
        // A group, after signing.
        sp_attack(&app, "bad_signature", |f| {
            let xml = f.groups(&["aws-developers"]).build(sign, &signer());
            replace_once(&xml, ">aws-developers<", ">aws-admins<")
        })
        .await;
        // The NameID, after signing.
        sp_attack(&app, "bad_signature", |f| {
            let xml = f.name_id("mallory@example.org").build(sign, &signer());
            replace_once(
                &xml,
                ">mallory@example.org</saml:NameID>",
                ">alice@example.org</saml:NameID>",
            )
        })
        .await;
    }
}

/// The attacker signs a perfect response with a key of his own.
#[tokio::test]
async fn signature_by_an_unknown_key_is_refused() {
    let app = spawn_forge_app().await;
    let attacker = ForgeKey::generate("idp.forge.test");
    for sign in [Sign::Assertion, Sign::Response, Sign::Both] {
        sp_attack(&app, "bad_signature", |f| {
            f.build(sign, &Signer::new(&attacker))
        })
        .await;
    }
}

/// The attacker signs with his own key and ships his certificate in `ds:KeyInfo`, hoping the SP
/// trusts the key the message names. Keys are pinned: KeyInfo is ignored both ways, so the same
/// bogus KeyInfo on a signature by the real key is accepted.
#[tokio::test]
async fn certificate_in_key_info_is_ignored() {
    let app = spawn_forge_app().await;
    let attacker = ForgeKey::generate("idp.forge.test");
    // His own certificate, and the IdP's real certificate next to his signature.
    for cert in [&attacker.cert, &FORGE_KEY.cert] {
        let evil = Signer::new(&attacker).with_key_info(cert);
        sp_attack(&app, "bad_signature", |f| {
            let xml = f.build(Sign::Both, &evil);
            assert!(xml.contains("<ds:X509Certificate>"), "KeyInfo is in place");
            xml
        })
        .await;
    }
    // Control: the real key with the attacker's certificate in KeyInfo still verifies.
    let (login, forge) = sp_initiated(&app).await;
    let honest = signer().with_key_info(&attacker.cert);
    let resp = answer(&app, &login, &forge.build(Sign::Both, &honest)).await;
    assert_eq!(resp.status(), 303);
}

/// SHA-1 signatures (and a SHA-256 signature over SHA-1 digests) are collision-prone: refused
/// even though they verify.
#[tokio::test]
async fn sha1_signature_is_refused() {
    let app = spawn_forge_app().await;
    let sha256_over_sha1 = Alg {
        signature: RSA_SHA256.signature,
        digest: RSA_SHA1.digest,
    };
    for (alg, sign) in [
        (RSA_SHA1, Sign::Assertion),
        (RSA_SHA1, Sign::Response),
        (RSA_SHA1, Sign::Both),
        (sha256_over_sha1, Sign::Assertion),
    ] {
        let row = sp_attack(&app, "weak_algorithm", |f| {
            f.build(sign, &signer().alg(alg))
        })
        .await;
        assert!(row["reason"].as_str().unwrap().contains("sha1"), "{row}");
    }
}

/// MD5 signatures: refused. (libxmlsec1 1.2.37 with OpenSSL 3 still produces them.)
#[tokio::test]
async fn md5_signature_is_refused() {
    let app = spawn_forge_app().await;
    for sign in [Sign::Assertion, Sign::Both] {
        let row = sp_attack(&app, "weak_algorithm", |f| {
            let xml = f.build(sign, &signer().alg(RSA_MD5));
            assert!(xml.contains("xmldsig-more#rsa-md5"));
            xml
        })
        .await;
        assert!(row["reason"].as_str().unwrap().contains("md5"), "{row}");
    }
}

/// Key confusion: the attacker re-signs with HMAC-SHA256 keyed with the IdP's PUBLIC certificate
/// (which he has), hoping the verifier feeds the pinned "key" to whatever algorithm the message
/// names. Refused by the algorithm allow-list before any key is used.
#[tokio::test]
async fn hmac_keyed_with_the_public_certificate_is_refused() {
    let app = spawn_forge_app().await;
    let row = sp_attack(&app, "weak_algorithm", |f| {
        // Any RSA key makes xmlsec compute the DigestValue of the attacker's assertion (anyone
        // can); the RSA SignatureValue is then replaced by the HMAC.
        let scratch = ForgeKey::generate("scratch");
        let signed = f.build(Sign::Assertion, &Signer::new(&scratch));
        hmac_resign(&signed, &FORGE_KEY.cert.to_der().unwrap())
    })
    .await;
    assert!(
        row["reason"].as_str().unwrap().contains("hmac-sha256"),
        "{row}"
    );
}

const HMAC_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#hmac-sha256";

/// Replaces the (only) signature's method by HMAC-SHA256 and its value by a real HMAC over the
/// exclusive-C14N form of its SignedInfo. The forge's templates are written so that this form is
/// the serialized text with `xmlns:ds` on SignedInfo and empty elements expanded.
fn hmac_resign(xml: &str, hmac_key: &[u8]) -> String {
    let rsa_method = format!(
        r#"<ds:SignatureMethod Algorithm="{}"/>"#,
        RSA_SHA256.signature
    );
    let xml = replace_once(
        xml,
        &rsa_method,
        &format!(r#"<ds:SignatureMethod Algorithm="{HMAC_SHA256}"/>"#),
    );
    let start = xml.find("<ds:SignedInfo>").expect("SignedInfo");
    let end = xml.find("</ds:SignedInfo>").expect("SignedInfo end") + "</ds:SignedInfo>".len();
    let canonical = regex::Regex::new(r#"<(ds:[A-Za-z]+)((?: [A-Za-z]+="[^"]*")*)/>"#)
        .unwrap()
        .replace_all(&xml[start..end], "<$1$2></$1>")
        .replacen(
            "<ds:SignedInfo>",
            &format!(r#"<ds:SignedInfo xmlns:ds="{NS_DSIG}">"#),
            1,
        );
    let key = openssl::pkey::PKey::hmac(hmac_key).unwrap();
    let mut mac = openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), &key).unwrap();
    mac.update(canonical.as_bytes()).unwrap();
    let value = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        mac.sign_to_vec().unwrap(),
    );
    let v_start = xml.find("<ds:SignatureValue>").unwrap() + "<ds:SignatureValue>".len();
    let v_end = xml.find("</ds:SignatureValue>").unwrap();
    format!("{}{value}{}", &xml[..v_start], &xml[v_end..])
}

/// Signatures that verify but reach beyond the element they sit on or keep comments: refused by
/// the signature policy before libxmlsec1 runs.
#[tokio::test]
async fn signature_outside_the_policy_is_refused() {
    let app = spawn_forge_app().await;
    // Canonicalization with comments: only exclusive C14N without comments is allowed.
    sp_attack(&app, "signature_policy", |f| {
        let mut s = signer();
        s.c14n = EXC_C14N_WITH_COMMENTS;
        f.build(Sign::Assertion, &s)
    })
    .await;
    // A Reference to the whole document (URI="") from the Response's signature.
    sp_attack(&app, "signature_policy", |f| {
        let mut s = signer();
        s.reference_uri = Some(String::new());
        f.build(Sign::Response, &s)
    })
    .await;
    // The Response's signature pointing at the Assertion instead of its own element.
    sp_attack(&app, "signature_policy", |f| {
        let mut s = signer();
        s.reference_uri = Some(format!("#{}", f.assertion_id));
        let assertion = f.unsigned_assertion();
        s.sign(&f.response_xml(&s.template(&f.response_id), &assertion))
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// Signature wrapping (XSW)
// ---------------------------------------------------------------------------------------------

/// The "evil" twin of a forge: same answer, but the attacker's identity and groups, unsigned.
fn evil_assertion(f: &Forge) -> Forge {
    f.clone()
        .fresh_assertion_id()
        .name_id("mallory@example.org")
        .groups(&["aws-admins"])
}

/// (a) An unsigned evil assertion next to the signed one, before or after it, hoping the SP
/// verifies one and reads the other.
#[tokio::test]
async fn wrapping_evil_assertion_beside_the_signed_one_is_refused() {
    let app = spawn_forge_app().await;
    for evil_first in [true, false] {
        sp_attack(&app, "assertion_count", |f| {
            let signed = f.clone().groups(&["staff"]).signed_assertion(&signer());
            let evil = evil_assertion(&f).unsigned_assertion();
            let inner = if evil_first {
                format!("{evil}{signed}")
            } else {
                format!("{signed}{evil}")
            };
            f.response_around(&inner, None)
        })
        .await;
    }
    // Same, but the evil assertion reuses the signed one's ID.
    sp_attack(&app, "assertion_count", |f| {
        let signed = f.clone().groups(&["staff"]).signed_assertion(&signer());
        let mut evil = evil_assertion(&f);
        evil.assertion_id = f.assertion_id.clone();
        f.response_around(&format!("{}{signed}", evil.unsigned_assertion()), None)
    })
    .await;
}

/// (b) The signed assertion is moved out of the way (into `samlp:Extensions`, or into the
/// `saml:Advice` of the evil assertion) so a signature check that searches by ID still finds it.
#[tokio::test]
async fn wrapping_signed_assertion_moved_into_extensions_or_advice_is_refused() {
    let app = spawn_forge_app().await;
    // Into Extensions, evil assertion in its place.
    sp_attack(&app, "assertion_count", |mut f| {
        let signed = f.clone().groups(&["staff"]).signed_assertion(&signer());
        f.extensions = Some(format!("<samlp:Extensions>{signed}</samlp:Extensions>"));
        let evil = evil_assertion(&f).unsigned_assertion();
        f.response_around(&evil, None)
    })
    .await;
    // Into the Advice of the evil assertion.
    sp_attack(&app, "assertion_count", |f| {
        let signed = f.clone().groups(&["staff"]).signed_assertion(&signer());
        let mut evil = evil_assertion(&f);
        evil.assertion_extra = Some(format!("<saml:Advice>{signed}</saml:Advice>"));
        f.response_around(&evil.unsigned_assertion(), None)
    })
    .await;
    // Into Extensions alone: its signature is then not on a direct child of the Response.
    sp_attack(&app, "signature_policy", |mut f| {
        let signed = f.signed_assertion(&signer());
        f.extensions = Some(format!("<samlp:Extensions>{signed}</samlp:Extensions>"));
        f.response_around("", None)
    })
    .await;
    // The legitimate signature copied onto the evil assertion (which keeps its own ID).
    sp_attack(&app, "signature_policy", |f| {
        let signed = f.clone().groups(&["staff"]).signed_assertion(&signer());
        let start = signed.find("<ds:Signature ").unwrap();
        let end = signed.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
        let evil = evil_assertion(&f).assertion_xml(&signed[start..end]);
        f.response_around(&evil, None)
    })
    .await;
}

/// (c) An evil Response wrapping a signed one (in Extensions, or in the Advice of its evil
/// assertion), so the outer, unsigned header and assertion are read.
#[tokio::test]
async fn wrapping_evil_response_around_a_signed_one_is_refused() {
    let app = spawn_forge_app().await;
    sp_attack(&app, "wrapped_response", |f| {
        let signed = f.clone().groups(&["staff"]).build(Sign::Both, &signer());
        let mut outer = evil_assertion(&f);
        outer.response_id = new_id();
        outer.extensions = Some(format!("<samlp:Extensions>{signed}</samlp:Extensions>"));
        outer.response_around(&outer.unsigned_assertion(), None)
    })
    .await;
    sp_attack(&app, "wrapped_response", |f| {
        let signed = f
            .clone()
            .groups(&["staff"])
            .build(Sign::Response, &signer());
        let mut outer = evil_assertion(&f);
        outer.response_id = new_id();
        outer.assertion_extra = Some(format!("<saml:Advice>{signed}</saml:Advice>"));
        outer.response_around(&outer.unsigned_assertion(), None)
    })
    .await;
}

/// Two assertions, each properly signed by the IdP, in one (signed) Response: refused, as the
/// profile requires exactly one.
#[tokio::test]
async fn two_assertions_are_refused() {
    let app = spawn_forge_app().await;
    sp_attack(&app, "assertion_count", |f| {
        let first = f.clone().groups(&["staff"]).signed_assertion(&signer());
        let second = f.clone().fresh_assertion_id().signed_assertion(&signer());
        f.response_around(&format!("{first}{second}"), Some(&signer()))
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// Comment injection: neutralised, not refused
// ---------------------------------------------------------------------------------------------

/// The IdP signs the NameID `alice@example.org.evil.test` (a user the attacker registered); the
/// attacker inserts `<!---->` after `alice@example.org`. Exclusive C14N ignores comments, so the
/// signature still verifies; a parser that reads only the first text node would see
/// `alice@example.org`, who is Admin by subject. Roleport must see the full signed value.
#[tokio::test]
async fn comment_injection_in_name_id_keeps_the_full_signed_value() {
    let app = spawn_app_with(Options {
        rules_yaml: forge_rules_with_subject_rule(),
        ..forge_options(false)
    })
    .await;
    for sign in [Sign::Assertion, Sign::Response, Sign::Both] {
        let (login, forge) = sp_initiated(&app).await;
        let xml = forge
            .name_id("alice@example.org.evil.test")
            .groups(&[])
            .build(sign, &signer());
        let xml = replace_once(
            &xml,
            ">alice@example.org.evil.test</saml:NameID>",
            ">alice@example.org<!---->.evil.test</saml:NameID>",
        );
        let resp = answer(&app, &login, &xml).await;
        assert_eq!(resp.status(), 303, "{sign:?}: the signature still verifies");
        assert!(role_names(&app).await.is_empty(), "{sign:?}: no Admin");
        let row = last_sign_in(&app).await;
        assert_eq!(row["outcome"], "no_roles");
        assert_eq!(row["subject"], "alice@example.org.evil.test", "{sign:?}");
    }
}

/// The same trick on a group: the IdP signs `aws-admins.evil`, the attacker makes it
/// `aws-admins<!---->.evil`. The group Roleport sees, audits and maps is the full value.
#[tokio::test]
async fn comment_injection_in_group_keeps_the_full_signed_value() {
    let app = spawn_forge_app().await;
    for sign in [Sign::Assertion, Sign::Response, Sign::Both] {
        let (login, forge) = sp_initiated(&app).await;
        let xml = forge.groups(&["aws-admins.evil"]).build(sign, &signer());
        let xml = replace_once(&xml, ">aws-admins.evil<", ">aws-admins<!---->.evil<");
        let resp = answer(&app, &login, &xml).await;
        assert_eq!(resp.status(), 303, "{sign:?}: the signature still verifies");
        assert!(role_names(&app).await.is_empty(), "{sign:?}: no Admin");
        let row = last_sign_in(&app).await;
        assert_eq!(row["outcome"], "no_roles");
        assert_eq!(
            row["groups"],
            serde_json::json!(["aws-admins.evil"]),
            "{sign:?}"
        );
    }
}

/// A variant: splitting the signed text with CDATA (`aws-admins<![CDATA[.evil]]>`) also
/// canonicalizes to the signed value, so the digest still matches. The verified tree's reader
/// (src/protocol/saml/tree_reader.rs) refuses a CDATA section inside any value it reads: a text
/// node plus a CDATA section is not the one text node that was signed, so it fails closed rather
/// than risk reading `aws-admins`.
#[tokio::test]
async fn cdata_split_group_is_refused() {
    let app = spawn_forge_app().await;
    for sign in [Sign::Assertion, Sign::Response, Sign::Both] {
        sp_attack(&app, "bad_signature", |f| {
            let xml = f.groups(&["aws-admins.evil"]).build(sign, &signer());
            replace_once(&xml, ">aws-admins.evil<", ">aws-admins<![CDATA[.evil]]><")
        })
        .await;
    }
}

// ---------------------------------------------------------------------------------------------
// DTDs and entities
// ---------------------------------------------------------------------------------------------

/// A DOCTYPE declaring an internal entity whose text is the signed value (so the signature still
/// verifies after expansion), an external SYSTEM entity (XXE), and an entity reference without
/// any DTD: all refused before any parser that would expand them.
#[tokio::test]
async fn dtd_and_entities_are_refused() {
    let app = spawn_forge_app().await;
    // Internal entity used in a text node.
    sp_attack(&app, "dtd_present", |f| {
        let xml = f.build(Sign::Both, &signer());
        let xml = replace_once(&xml, ">aws-admins<", ">&grp;<");
        format!("<!DOCTYPE samlp:Response [<!ENTITY grp \"aws-admins\">]>{xml}")
    })
    .await;
    // External SYSTEM entity.
    sp_attack(&app, "dtd_present", |f| {
        let xml = f.build(Sign::Assertion, &signer());
        let xml = replace_once(&xml, "</saml:NameID>", "&xxe;</saml:NameID>");
        format!(
            "<?xml version=\"1.0\"?><!DOCTYPE samlp:Response [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>{xml}"
        )
    })
    .await;
    // A reference to an entity nobody declared.
    sp_attack(&app, "entity_reference", |f| {
        let xml = f.build(Sign::Assertion, &signer());
        replace_once(&xml, ">aws-admins<", ">&grp;<")
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// Replay
// ---------------------------------------------------------------------------------------------

/// The attacker captures an accepted SP-initiated response and posts it again, from the same
/// browser and from his own: the pending login it answered is gone.
#[tokio::test]
async fn replayed_sp_initiated_response_is_refused() {
    let app = spawn_forge_app().await;
    let (login, forge) = sp_initiated(&app).await;
    let xml = forge.build(Sign::Both, &signer());
    assert_eq!(answer(&app, &login, &xml).await.status(), 303);
    assert_eq!(app.session_count().await, 1);

    let attacker = browser();
    let resp = post_acs_as(&app, &attacker, &xml, Some(&login.relay_state)).await;
    refused_with(&app, &attacker, resp, "in_response_to_unknown", 1).await;
    // Even once the victim's own browser no longer has a session.
    let victim_again = answer(&app, &login, &xml).await;
    assert_eq!(victim_again.status(), 403);
    assert_eq!(app.session_count().await, 1);
}

/// IdP-initiated (allowed for the forge): the second post of the same assertion is a replay.
#[tokio::test]
async fn replayed_idp_initiated_response_is_refused() {
    let app = spawn_app_with(forge_options(true)).await;
    let xml = forge_for(&app).build(Sign::Both, &signer());
    assert_eq!(app.post_acs(&encode(&xml), None).await.status(), 303);

    let attacker = browser();
    let resp = post_acs_as(&app, &attacker, &xml, None).await;
    refused_with(&app, &attacker, resp, "replay", 1).await;
}

/// The replay cache is shared by replicas: a response accepted by instance A is a replay at
/// instance B on the same database.
///
/// Test instances listen on different ports, so they are not one public URL as real replicas
/// are. The IdP therefore names both (two Audiences, two bearer confirmations, one per ACS URL);
/// the signed assertion is byte for byte the one A accepted, and the attacker only re-addresses
/// the unsigned Response envelope to B.
#[tokio::test]
async fn replay_to_a_second_instance_is_refused() {
    let a = spawn_app_with(forge_options(true)).await;
    let b = spawn_app_with(Options {
        database: Some(a.db_name.clone()),
        ..forge_options(true)
    })
    .await;
    let mut f = forge_for(&a);
    f.audiences.push(b.sp_entity_id.clone());
    f.extra_recipients.push(sp_target(&b).acs_url);
    let assertion = f.signed_assertion(&signer());
    let to_a = f.response_around(&assertion, None);
    assert_eq!(a.post_acs(&encode(&to_a), None).await.status(), 303);

    f.destination = Some(sp_target(&b).acs_url);
    let to_b = f.response_around(&assertion, None);
    let resp = b.post_acs(&encode(&to_b), None).await;
    refused_with(&b, &b.client, resp, "replay", 1).await;

    // Control: a fresh assertion of the same shape is accepted by B.
    let mut fresh = forge_for(&b);
    fresh.audiences.push(a.sp_entity_id.clone());
    fresh.extra_recipients.push(sp_target(&a).acs_url);
    let xml = fresh.build(Sign::Assertion, &signer());
    assert_eq!(b.post_acs(&encode(&xml), None).await.status(), 303);
}

// ---------------------------------------------------------------------------------------------
// Profile checks: who it is for, who it is from
// ---------------------------------------------------------------------------------------------

/// A response the IdP really signed, but for another SP or endpoint (or claiming another
/// issuer). Every comparison is exact: a trailing slash or a change of case is a mismatch.
#[tokio::test]
async fn misaddressed_responses_are_refused() {
    let app = spawn_forge_app().await;
    let other_acs = "https://other-sp.example/saml/acs";
    let acs = format!("{}/saml/acs", app.address);
    type Edit = Box<dyn Fn(&mut Forge)>;
    let cases: Vec<(&str, &str, Edit)> = vec![
        (
            "another SP's audience",
            "audience_mismatch",
            Box::new(|f| {
                f.audiences = vec!["https://other-sp.example/saml/metadata".into()];
            }),
        ),
        ("audience with a trailing slash", "audience_mismatch", {
            let ours = app.sp_entity_id.clone();
            Box::new(move |f| f.audiences = vec![format!("{ours}/")])
        }),
        (
            "no audience restriction",
            "audience_mismatch",
            Box::new(|f| f.audiences.clear()),
        ),
        (
            "another SP's recipient",
            "recipient_mismatch",
            Box::new(move |f| {
                f.recipient = Some(other_acs.into());
            }),
        ),
        (
            "another SP's destination",
            "destination_mismatch",
            Box::new(move |f| {
                f.destination = Some(other_acs.into());
            }),
        ),
        ("destination differing in case", "destination_mismatch", {
            let upper = acs.replace("/saml/acs", "/SAML/acs");
            Box::new(move |f| f.destination = Some(upper.clone()))
        }),
        (
            "signed response without destination",
            "destination_mismatch",
            Box::new(|f| {
                f.destination = None;
            }),
        ),
        (
            "another issuer, signed by the forge key",
            "issuer_mismatch",
            Box::new(|f| {
                *f = f.clone().issuer("https://idp.evil.test/metadata");
            }),
        ),
        (
            "assertion issuer differs from the response issuer",
            "issuer_mismatch",
            Box::new(|f| {
                f.assertion_issuer = "https://idp.evil.test/metadata".into();
            }),
        ),
    ];
    for (what, code, edit) in cases {
        let row = sp_attack(&app, code, |mut f| {
            edit(&mut f);
            f.build(Sign::Both, &signer())
        })
        .await;
        assert_eq!(row["idp"], FORGE_ID, "{what}");
    }
}

/// An IdP-initiated response from an issuer Roleport does not know, signed by the forge key.
#[tokio::test]
async fn unknown_issuer_is_refused() {
    let app = spawn_app_with(forge_options(true)).await;
    let xml = forge_for(&app)
        .issuer("https://idp.evil.test/metadata")
        .build(Sign::Both, &signer());
    refused(
        &app,
        app.post_acs(&encode(&xml), None).await,
        "unknown_issuer",
    )
    .await;
    // And one with no Issuer at all on the Response.
    let mut f = forge_for(&app);
    f.response_issuer = None;
    let xml = f.build(Sign::Assertion, &signer());
    refused(
        &app,
        app.post_acs(&encode(&xml), None).await,
        "unknown_issuer",
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// Time, by moving the app's clock
// ---------------------------------------------------------------------------------------------

/// A response held back until after its conditions end (the app's clock moves 8 minutes on; the
/// forge issued it with 5 minutes of validity and Roleport allows 90 s of skew).
#[tokio::test]
async fn expired_response_is_refused() {
    let app = spawn_forge_app().await;
    let (login, forge) = sp_initiated(&app).await;
    let xml = forge.build(Sign::Both, &signer());
    app.clock.advance(Duration::minutes(8));
    refused(&app, answer(&app, &login, &xml).await, "expired").await;
}

/// Held back for 30 minutes (IdP-initiated, so no pending login expires first): older than the
/// 10-minute assertion age limit.
#[tokio::test]
async fn long_held_response_is_refused() {
    let app = spawn_app_with(forge_options(true)).await;
    let xml = forge_for(&app).build(Sign::Both, &signer());
    app.clock.advance(Duration::minutes(30));
    refused(&app, app.post_acs(&encode(&xml), None).await, "too_old").await;
    // Its conditions alone would have refused it too, once the age limit is out of the way.
    let mut f = forge_for(&app);
    f.assertion_issue_instant = app.clock.now();
    f.not_on_or_after = Some(app.clock.now() - Duration::minutes(10));
    let xml = f.build(Sign::Both, &signer());
    refused(&app, app.post_acs(&encode(&xml), None).await, "expired").await;
}

/// A response from the future: the app's clock is 10 minutes behind the IdP's.
#[tokio::test]
async fn not_yet_valid_response_is_refused() {
    let app = spawn_forge_app().await;
    let (login, forge) = sp_initiated(&app).await;
    let xml = forge.build(Sign::Both, &signer());
    app.clock.advance(Duration::minutes(-10));
    refused(&app, answer(&app, &login, &xml).await, "not_yet_valid").await;
}

// ---------------------------------------------------------------------------------------------
// InResponseTo and RelayState: bound to the browser that started the login
// ---------------------------------------------------------------------------------------------

/// An InResponseTo that names no login Roleport started.
#[tokio::test]
async fn in_response_to_unknown_is_refused() {
    let app = spawn_forge_app().await;
    let (login, _) = sp_initiated(&app).await;
    let xml = forge_for(&app)
        .in_response_to(&new_id())
        .build(Sign::Both, &signer());
    refused(
        &app,
        answer(&app, &login, &xml).await,
        "in_response_to_unknown",
    )
    .await;
}

/// Login CSRF / session fixation: the attacker starts a login in his browser (A) and gets the
/// victim's browser (B) to post the answer. The pending login is bound to browser A.
#[tokio::test]
async fn in_response_to_from_another_browser_is_refused() {
    let app = spawn_forge_app().await;
    let browser_a = browser();
    let login = start_login(&app, &browser_a).await;
    let xml = forge_for(&app)
        .in_response_to(&login.request_id)
        .build(Sign::Both, &signer());
    let browser_b = browser();
    let resp = post_acs_as(&app, &browser_b, &xml, Some(&login.relay_state)).await;
    refused_with(&app, &browser_b, resp, "in_response_to_other_browser", 0).await;
    let roles = browser_a
        .get(format!("{}/api/v1/roles", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(roles.status(), 401);
    // The refused post did not use up the login: browser A can still finish it.
    let resp = post_acs_as(&app, &browser_a, &xml, Some(&login.relay_state)).await;
    assert_eq!(resp.status(), 303);
}

/// The browser started a login but the response answers nothing (no InResponseTo anywhere):
/// an unsolicited response, refused because the forge does not allow IdP-initiated sign-in. And
/// one whose signed SubjectConfirmationData disagrees with the Response's InResponseTo.
#[tokio::test]
async fn in_response_to_missing_or_mismatched_is_refused() {
    let app = spawn_forge_app().await;
    sp_attack(&app, "unsolicited_refused", |mut f| {
        f.in_response_to = None;
        f.confirmation_in_response_to = None;
        f.build(Sign::Both, &signer())
    })
    .await;
    sp_attack(&app, "in_response_to_mismatch", |mut f| {
        f.confirmation_in_response_to = Some(new_id());
        f.build(Sign::Both, &signer())
    })
    .await;
    sp_attack(&app, "in_response_to_mismatch", |mut f| {
        f.confirmation_in_response_to = None;
        f.build(Sign::Both, &signer())
    })
    .await;
}

/// The RelayState that comes back is not the opaque handle the login was started with.
#[tokio::test]
async fn relay_state_mismatch_is_refused() {
    let app = spawn_forge_app().await;
    for relay in [Some("tampered"), Some("/admin"), None] {
        let (login, forge) = sp_initiated(&app).await;
        let xml = forge.build(Sign::Both, &signer());
        let resp = post_acs_as(&app, &app.client, &xml, relay).await;
        assert_ne!(relay, Some(login.relay_state.as_str()));
        refused(&app, resp, "relay_state_mismatch").await;
    }
}

// ---------------------------------------------------------------------------------------------
// Status and size
// ---------------------------------------------------------------------------------------------

/// The IdP says no (an unsigned Responder/AuthnFailed answer, as real IdPs send); also a
/// non-success status around a validly signed assertion.
#[tokio::test]
async fn non_success_status_is_refused() {
    let app = spawn_forge_app().await;
    let row = sp_attack(&app, "status_not_success", |f| {
        f.failure(
            STATUS_RESPONDER,
            Some(STATUS_AUTHN_FAILED),
            Some("Authentication failed"),
        )
    })
    .await;
    assert!(row["reason"].as_str().unwrap().contains(":Responder"));
    sp_attack(&app, "status_not_success", |mut f| {
        f.status_code = STATUS_RESPONDER.into();
        f.build(Sign::Assertion, &signer())
    })
    .await;
}

/// Oversized messages: an XML document over 256 KiB (refused before any XML parser), too deep, too
/// many elements; and an HTTP body far over the form limit, which must still be a clean 4xx.
#[tokio::test]
async fn oversized_responses_are_refused() {
    let app = spawn_forge_app().await;
    // 256 KiB + 1000 bytes of XML: passes the base64 pre-check, refused by the pre-scan.
    sp_attack(&app, "too_large", |mut f| {
        f.attributes.push(("padding".into(), vec![String::new()]));
        let xml = f.build(Sign::Nothing, &signer());
        let pad = 256 * 1024 + 1000 - xml.len();
        let xml = replace_once(
            &xml,
            "<saml:AttributeValue xsi:type=\"xs:string\"></saml:AttributeValue>",
            &format!(
                "<saml:AttributeValue xsi:type=\"xs:string\">{}</saml:AttributeValue>",
                "A".repeat(pad)
            ),
        );
        assert_eq!(xml.len(), 256 * 1024 + 1000);
        xml
    })
    .await;
    // 40 levels of nesting.
    sp_attack(&app, "too_deep", |mut f| {
        f.assertion_extra = Some(format!(
            "<saml:Advice>{}{}</saml:Advice>",
            "<x>".repeat(40),
            "</x>".repeat(40)
        ));
        f.build(Sign::Nothing, &signer())
    })
    .await;
    // 6000 elements.
    sp_attack(&app, "too_large", |mut f| {
        f.extensions = Some(format!(
            "<samlp:Extensions>{}</samlp:Extensions>",
            "<x/>".repeat(6000)
        ));
        f.build(Sign::Nothing, &signer())
    })
    .await;

    // A 2 MiB form body: refused with a page, not a reset connection or a 500.
    let (login, _) = sp_initiated(&app).await;
    let huge = "A".repeat(2 * 1024 * 1024);
    let resp = app
        .client
        .post(format!("{}/saml/acs", app.address))
        .form(&[
            ("SAMLResponse", huge.as_str()),
            ("RelayState", login.relay_state.as_str()),
        ])
        .send()
        .await
        .expect("a response, not a reset connection");
    let status = resp.status();
    let html = resp.text().await.unwrap();
    assert!(status.is_client_error(), "{status}: {html}");
    assert!(html.contains("<html"), "an HTML page: {html}");
    let reference = reference_in(&html);
    assert_eq!(app.session_count().await, 0);
    assert_recorded(&app, &reference, "too_large").await;
}

// ---------------------------------------------------------------------------------------------
// Encrypted assertions
// ---------------------------------------------------------------------------------------------

struct EncryptedApp {
    app: TestApp,
    sp_key: ForgeKey,
}

async fn spawn_encrypted_app() -> EncryptedApp {
    let sp_key = ForgeKey::generate("roleport-sp.test");
    let key_path = sp_key.write_key_pem();
    let cert_path = sp_key.write_cert_pem();
    let app = spawn_app_with(Options {
        sp_key: Some((key_path.clone(), cert_path.clone())),
        ..forge_options(false)
    })
    .await;
    // Read once at start-up: no need to keep a private key lying around.
    let _ = std::fs::remove_file(key_path);
    let _ = std::fs::remove_file(cert_path);
    EncryptedApp { app, sp_key }
}

/// Accepted shapes: AES-256-GCM in an unsigned Response carrying a signed assertion, and
/// AES-128-CBC (with XML Encryption's random padding, as Santuario, .NET and xmlsec write it)
/// inside a signed Response.
#[tokio::test]
async fn encrypted_assertions_are_accepted() {
    let EncryptedApp { app, sp_key } = spawn_encrypted_app().await;
    // GCM, Response unsigned, assertion signed.
    let (login, forge) = sp_initiated(&app).await;
    let encrypted = Encryption::new(ContentCipher::Aes256Gcm, &sp_key.cert)
        .encrypt(&forge.signed_assertion(&signer()));
    let xml = forge.response_around(&encrypted, None);
    let resp = answer(&app, &login, &xml).await;
    assert_eq!(
        resp.status(),
        303,
        "{}",
        resp.text().await.unwrap_or_default()
    );
    assert_eq!(role_names(&app).await, vec!["Admin"]);

    // CBC, Response signed (the assertion inside it signed too, and not).
    for sign_assertion in [true, false] {
        let (login, forge) = sp_initiated(&app).await;
        let assertion = if sign_assertion {
            forge.signed_assertion(&signer())
        } else {
            forge.unsigned_assertion()
        };
        let encrypted = Encryption::new(ContentCipher::Aes128Cbc, &sp_key.cert).encrypt(&assertion);
        let xml = forge.response_around(&encrypted, Some(&signer()));
        let resp = answer(&app, &login, &xml).await;
        assert_eq!(
            resp.status(),
            303,
            "CBC in a signed Response (assertion signed: {sign_assertion}): {}",
            resp.text().await.unwrap_or_default()
        );
        assert_eq!(role_names(&app).await, vec!["Admin"]);
    }
}

/// CBC is malleable: in an unsigned Response the attacker could flip ciphertext bits and watch
/// the answers (a padding oracle). Refused before decrypting anything.
#[tokio::test]
async fn cbc_outside_a_signed_response_is_refused() {
    let EncryptedApp { app, sp_key } = spawn_encrypted_app().await;
    sp_attack(&app, "cbc_outside_signed_response", |f| {
        let encrypted = Encryption::new(ContentCipher::Aes128Cbc, &sp_key.cert)
            .encrypt(&f.signed_assertion(&signer()));
        f.response_around(&encrypted, None)
    })
    .await;
}

/// Every way decryption can fail ends in the one `decryption_failed`, so failures tell the
/// attacker nothing: a flipped ciphertext bit (GCM tag), a content key for someone else's key,
/// bad CBC padding, a truncated CipherValue, and RSA PKCS#1 v1.5 key transport.
#[tokio::test]
async fn decryption_failures_are_uniform() {
    let EncryptedApp { app, sp_key } = spawn_encrypted_app().await;
    let stranger = ForgeKey::generate("someone-else.test");
    let pkcs1 = |c: ContentCipher| {
        let mut e = Encryption::new(c, &sp_key.cert);
        e.key_transport = KeyTransport::RsaPkcs1v15;
        e
    };
    // (what, encryption, sign the Response)
    let cases: Vec<(&str, Encryption<'_>, bool)> = vec![
        (
            "flipped GCM ciphertext bit",
            Encryption::new(ContentCipher::Aes256Gcm, &sp_key.cert)
                .tamper(Tamper::FlipCiphertextBit),
            false,
        ),
        (
            "content key encrypted to another key",
            Encryption::new(ContentCipher::Aes256Gcm, &stranger.cert),
            false,
        ),
        (
            "bad CBC padding (inside a signed Response)",
            Encryption::new(ContentCipher::Aes128Cbc, &sp_key.cert).tamper(Tamper::BadPadding),
            true,
        ),
        (
            "flipped CBC ciphertext bit (inside a signed Response)",
            Encryption::new(ContentCipher::Aes256Cbc, &sp_key.cert)
                .tamper(Tamper::FlipCiphertextBit),
            true,
        ),
        (
            "truncated CipherValue",
            Encryption::new(ContentCipher::Aes128Gcm, &sp_key.cert).tamper(Tamper::Truncate),
            false,
        ),
        (
            "RSA PKCS#1 v1.5 key transport",
            pkcs1(ContentCipher::Aes256Gcm),
            false,
        ),
    ];
    for (what, encryption, sign_response) in cases {
        let row = sp_attack(&app, "decryption_failed", |f| {
            let encrypted = encryption.encrypt(&f.signed_assertion(&signer()));
            f.response_around(&encrypted, sign_response.then(signer).as_ref())
        })
        .await;
        assert_eq!(
            row["reason"], "decryption_failed: assertion could not be decrypted",
            "{what}"
        );
    }
}

/// An encrypted assertion that nobody signed, in an unsigned Response: encryption is not
/// authentication (anyone can encrypt to the SP's public key).
#[tokio::test]
async fn encrypted_but_unsigned_assertion_is_refused() {
    let EncryptedApp { app, sp_key } = spawn_encrypted_app().await;
    sp_attack(&app, "unsigned", |f| {
        let encrypted = Encryption::new(ContentCipher::Aes256Gcm, &sp_key.cert)
            .encrypt(&f.unsigned_assertion());
        f.response_around(&encrypted, None)
    })
    .await;
}
