//! JWKS parsing and key selection.

use super::alg::{EcCurve, JwsAlg, KeyFamily};
use super::jwks::{KeySet, MAX_JWKS_BYTES, MAX_JWKS_KEYS, SkipReason, VerificationKey};
use super::test_support::*;
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use serde_json::{Value, json};

fn one_skip(jwk: Value) -> SkipReason {
    let doc = jwks_doc(&[rsa_jwk(&RSA_KEY, "good"), jwk]);
    let set = KeySet::from_jwks(&doc).unwrap();
    assert_eq!(set.len(), 1);
    assert_eq!(set.skipped().len(), 1);
    set.skipped()[0].reason.clone()
}

fn with(mut jwk: Value, edit: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Value {
    if let Value::Object(m) = &mut jwk {
        edit(m);
    }
    jwk
}

#[test]
fn parses_rsa_and_ec_keys() {
    let set = keyset();
    assert_eq!(set.len(), 4);
    assert!(set.skipped().is_empty());
    let families: Vec<KeyFamily> = set.keys().iter().map(VerificationKey::family).collect();
    assert_eq!(
        families,
        vec![
            KeyFamily::Rsa,
            KeyFamily::Ec(EcCurve::P256),
            KeyFamily::Ec(EcCurve::P384),
            KeyFamily::Ec(EcCurve::P521)
        ]
    );
    assert!(set.contains_kid("ec-384"));
    assert!(!set.contains_kid("nope"));
}

#[test]
fn skipped_entries_table() {
    let small = PKey::from_rsa(Rsa::generate(1024).unwrap()).unwrap();
    let rsa = || rsa_jwk(&RSA_KEY_2, "k");
    let ec = || ec_jwk(&EC256, "k");
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "use enc",
            with(rsa(), |m| {
                m.insert("use".into(), json!("enc"));
            }),
            "not_for_signatures",
        ),
        (
            "use not a string",
            with(rsa(), |m| {
                m.insert("use".into(), json!(1));
            }),
            "bad_parameter",
        ),
        (
            "key_ops without verify",
            with(rsa(), |m| {
                m.insert("key_ops".into(), json!(["encrypt"]));
            }),
            "no_verify_op",
        ),
        (
            "symmetric key",
            json!({"kty": "oct", "k": "c2VjcmV0", "kid": "k"}),
            "unsupported_kty",
        ),
        (
            "OKP",
            json!({"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}),
            "unsupported_kty",
        ),
        ("no kty", json!({"n": "AQAB", "e": "AQAB"}), "bad_parameter"),
        ("not an object", json!("RSA"), "not_an_object"),
        ("RSA 1024", rsa_jwk(&small, "small"), "rsa_too_small"),
        (
            "RSA with private d",
            with(rsa(), |m| {
                m.insert("d".into(), json!("AQAB"));
            }),
            "private_material",
        ),
        (
            "EC with private d",
            with(ec(), |m| {
                m.insert("d".into(), json!("AQAB"));
            }),
            "private_material",
        ),
        (
            "e even",
            with(rsa(), |m| {
                m.insert("e".into(), json!("AQAA"));
            }),
            "bad_rsa_exponent",
        ),
        (
            "e = 1",
            with(rsa(), |m| {
                m.insert("e".into(), json!("AQ"));
            }),
            "bad_rsa_exponent",
        ),
        (
            "n bad base64",
            with(rsa(), |m| {
                m.insert("n".into(), json!("***"));
            }),
            "bad_parameter",
        ),
        (
            "n missing",
            with(rsa(), |m| {
                m.remove("n");
            }),
            "bad_parameter",
        ),
        (
            "alg HS256",
            with(rsa(), |m| {
                m.insert("alg".into(), json!("HS256"));
            }),
            "unsupported_alg",
        ),
        (
            "alg none",
            with(rsa(), |m| {
                m.insert("alg".into(), json!("none"));
            }),
            "unsupported_alg",
        ),
        (
            "alg RSA-OAEP",
            with(rsa(), |m| {
                m.insert("alg".into(), json!("RSA-OAEP"));
            }),
            "unsupported_alg",
        ),
        (
            "alg of another key type",
            with(rsa(), |m| {
                m.insert("alg".into(), json!("ES256"));
            }),
            "alg_does_not_fit_key",
        ),
        (
            "alg of another curve",
            with(ec(), |m| {
                m.insert("alg".into(), json!("ES384"));
            }),
            "alg_does_not_fit_key",
        ),
        (
            "secp256k1",
            with(ec(), |m| {
                m.insert("crv".into(), json!("secp256k1"));
            }),
            "unsupported_curve",
        ),
        (
            "x too short",
            with(ec(), |m| {
                m.insert("x".into(), json!(b64(&[1; 31])));
            }),
            "bad_parameter",
        ),
        (
            "point not on curve",
            with(ec(), |m| {
                m.insert("y".into(), json!(b64(&[7; 32])));
            }),
            "invalid_ec_point",
        ),
        (
            "P-256 coordinates as P-384",
            with(ec(), |m| {
                m.insert("crv".into(), json!("P-384"));
            }),
            "bad_parameter",
        ),
        (
            "kid not a string",
            with(rsa(), |m| {
                m.insert("kid".into(), json!(7));
            }),
            "bad_parameter",
        ),
    ];
    for (name, jwk, want) in cases {
        assert_eq!(one_skip(jwk).code(), want, "{name}");
    }
}

#[test]
fn jwk_alg_restricts_the_key() {
    let jwk = with(rsa_jwk(&RSA_KEY, "r"), |m| {
        m.insert("alg".into(), json!("RS256"));
    });
    let set = KeySet::from_jwks(&jwks_doc(&[jwk])).unwrap();
    let key = &set.keys()[0];
    assert_eq!(key.alg(), Some(JwsAlg::RS256));
    assert!(key.fits(JwsAlg::RS256));
    assert!(!key.fits(JwsAlg::PS256));
    assert_eq!(
        set.select(Some("r"), JwsAlg::PS256).unwrap_err().code(),
        "jws.key_alg_mismatch"
    );
}

#[test]
fn padded_base64_in_jwks_is_tolerated() {
    let jwk = with(rsa_jwk(&RSA_KEY, "r"), |m| {
        m.insert("e".into(), json!("AQAB"));
        let n = m["n"].as_str().unwrap().to_owned();
        let padded = format!("{n}{}", "=".repeat((4 - n.len() % 4) % 4));
        m.insert("n".into(), json!(padded));
    });
    assert_eq!(KeySet::from_jwks(&jwks_doc(&[jwk])).unwrap().len(), 1);
}

#[test]
fn document_errors() {
    let too_big = {
        let mut doc = jwks_doc(&[rsa_jwk(&RSA_KEY, "r")]);
        doc.extend(std::iter::repeat_n(b' ', MAX_JWKS_BYTES));
        doc
    };
    let too_many = jwks_doc(&vec![json!({"kty": "oct"}); MAX_JWKS_KEYS + 1]);
    let rsa = rsa_jwk(&RSA_KEY, "same").to_string();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("too large", too_big, "jwks.too_large"),
        ("too many keys", too_many, "jwks.too_many_keys"),
        ("not JSON", b"<html>".to_vec(), "jwks.malformed"),
        ("no keys member", b"{}".to_vec(), "jwks.malformed"),
        (
            "keys not an array",
            br#"{"keys":{}}"#.to_vec(),
            "jwks.malformed",
        ),
        ("array at top", b"[]".to_vec(), "jwks.malformed"),
        (
            "duplicate keys member",
            br#"{"keys":[],"keys":[]}"#.to_vec(),
            "jwks.duplicate_member",
        ),
        (
            "duplicate n in a key",
            format!(r#"{{"keys":[{{"kty":"RSA","n":"AQAB",{}}}]}}"#, &rsa[1..]).into_bytes(),
            "jwks.duplicate_member",
        ),
        (
            "no usable key",
            jwks_doc(&[json!({"kty": "oct", "k": "AA"})]),
            "jwks.no_usable_keys",
        ),
        ("empty", jwks_doc(&[]), "jwks.no_usable_keys"),
        (
            "duplicate kid",
            format!(r#"{{"keys":[{rsa},{rsa}]}}"#).into_bytes(),
            "jwks.duplicate_kid",
        ),
    ];
    for (name, doc, want) in cases {
        assert_eq!(KeySet::from_jwks(&doc).unwrap_err().code(), want, "{name}");
    }
    // The same kid on keys of different families is not ambiguous.
    let doc = jwks_doc(&[rsa_jwk(&RSA_KEY, "same"), ec_jwk(&EC256, "same")]);
    let set = KeySet::from_jwks(&doc).unwrap();
    assert_eq!(
        set.select(Some("same"), JwsAlg::ES256).unwrap().family(),
        KeyFamily::Ec(EcCurve::P256)
    );
    assert_eq!(
        set.select(Some("same"), JwsAlg::RS256).unwrap().family(),
        KeyFamily::Rsa
    );
}

#[test]
fn selection_rules() {
    let set = keyset();
    assert_eq!(
        set.select(Some("rsa-1"), JwsAlg::RS256).unwrap().kid(),
        Some("rsa-1")
    );
    assert_eq!(
        set.select(Some("ec-384"), JwsAlg::ES384).unwrap().kid(),
        Some("ec-384")
    );
    let err = set.select(Some("rotated"), JwsAlg::RS256).unwrap_err();
    assert_eq!(err.code(), "jws.unknown_kid");
    assert!(err.suggests_jwks_refresh());
    assert_eq!(
        set.select(Some("ec-256"), JwsAlg::RS256)
            .unwrap_err()
            .code(),
        "jws.key_alg_mismatch"
    );
    assert_eq!(
        set.select(Some("ec-256"), JwsAlg::ES384)
            .unwrap_err()
            .code(),
        "jws.key_alg_mismatch"
    );
    // Without kid: exactly one key of the alg's family.
    assert_eq!(
        set.select(None, JwsAlg::PS512).unwrap().kid(),
        Some("rsa-1")
    );
    assert_eq!(
        set.select(None, JwsAlg::ES256).unwrap().kid(),
        Some("ec-256")
    );
    let two_rsa = KeySet::from_jwks(&jwks_doc(&[
        rsa_jwk(&RSA_KEY, "a"),
        rsa_jwk(&RSA_KEY_2, "b"),
    ]))
    .unwrap();
    assert_eq!(
        two_rsa.select(None, JwsAlg::RS256).unwrap_err().code(),
        "jws.ambiguous_key"
    );
    let err = two_rsa.select(None, JwsAlg::ES256).unwrap_err();
    assert_eq!(err.code(), "jws.no_key_for_alg");
    assert!(err.suggests_jwks_refresh());
}

#[test]
fn pinned_pem_keys() {
    let pem = RSA_KEY.public_key_to_pem().unwrap();
    let key = VerificationKey::from_public_pem(Some("pem".into()), None, &pem).unwrap();
    assert_eq!(key.family(), KeyFamily::Rsa);
    let pem = EC521.public_key_to_pem().unwrap();
    let key = VerificationKey::from_public_pem(None, Some(JwsAlg::ES512), &pem).unwrap();
    assert_eq!(key.family(), KeyFamily::Ec(EcCurve::P521));
    assert!(VerificationKey::from_public_pem(None, Some(JwsAlg::RS256), &pem).is_err());
    assert!(VerificationKey::from_public_pem(None, None, b"not pem").is_err());
    let set = KeySet::from_keys(vec![key]).unwrap();
    assert_eq!(set.len(), 1);
    assert_eq!(
        KeySet::from_keys(vec![]).unwrap_err().code(),
        "jwks.no_usable_keys"
    );
    // Raw SEC1 point bytes round-trip into a key.
    let point = ec_point(&EC256);
    let key = VerificationKey::ec(None, None, EcCurve::P256, &point[1..33], &point[33..]).unwrap();
    assert!(key.fits(JwsAlg::ES256));
}

proptest::proptest! {
    #[test]
    fn arbitrary_documents_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
        let _ = KeySet::from_jwks(&bytes);
    }

    #[test]
    fn arbitrary_jwk_members_never_panic(
        kty in "(RSA|EC|oct|OKP|x)",
        crv in "(P-256|P-384|P-521|x)",
        n in "[A-Za-z0-9_=-]{0,400}",
        e in "[A-Za-z0-9_=-]{0,8}",
        x in "[A-Za-z0-9_-]{0,90}",
        y in "[A-Za-z0-9_-]{0,90}",
    ) {
        let doc = jwks_doc(&[json!({"kty": kty, "crv": crv, "n": n, "e": e, "x": x, "y": y})]);
        let _ = KeySet::from_jwks(&doc);
    }
}

#[test]
fn shared_types_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<KeySet>();
    assert_send_sync::<super::id_token::IdTokenError>();
    assert_send_sync::<super::id_token::VerifiedIdToken>();
    assert_send_sync::<super::id_token::IdTokenPolicy>();
}
