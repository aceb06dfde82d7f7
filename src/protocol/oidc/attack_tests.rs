//! ID token verification: the good token, and one test per attack class, each building the
//! attack with real keys and showing it fails with the right code.

use super::alg::JwsAlg;
use super::claims::{ClaimPath, GroupSource, StringForm};
use super::id_token::{
    AtHashRule, Expectations, IdTokenError, IdTokenPolicy, VerifiedIdToken, token_hash,
    verify_id_token,
};
use super::jwks::KeySet;
use super::jws::{EmbeddedKeyHeaders, peek_header};
use super::test_support::*;
use chrono::Duration;
use openssl::hash::MessageDigest;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

fn verify(token: &str) -> Result<VerifiedIdToken, IdTokenError> {
    verify_id_token(token, &policy(), &keyset(), &expect(), now())
}

fn code(token: &str) -> &'static str {
    match verify(token) {
        Ok(_) => "ok",
        Err(e) => e.code(),
    }
}

fn code_with(token: &str, policy: &IdTokenPolicy, expect: &Expectations<'_>) -> &'static str {
    match verify_id_token(token, policy, &keyset(), expect, now()) {
        Ok(_) => "ok",
        Err(e) => e.code(),
    }
}

fn rs256_header_with(edit: impl FnOnce(&mut Map<String, Value>)) -> String {
    let mut h = header(JwsAlg::RS256, "rsa-1");
    if let Value::Object(m) = &mut h {
        edit(m);
    }
    token(&h, &claims(JwsAlg::RS256), &RSA_KEY, JwsAlg::RS256)
}

/// Replaces one segment of a compact token.
fn with_segment(token: &str, index: usize, segment: &str) -> String {
    let mut parts: Vec<&str> = token.split('.').collect();
    parts[index] = segment;
    parts.join(".")
}

#[test]
fn valid_tokens_are_accepted_for_every_algorithm() {
    let cases: Vec<(JwsAlg, &str, &openssl::pkey::PKey<openssl::pkey::Private>)> = vec![
        (JwsAlg::RS256, "rsa-1", &RSA_KEY),
        (JwsAlg::RS384, "rsa-1", &RSA_KEY),
        (JwsAlg::RS512, "rsa-1", &RSA_KEY),
        (JwsAlg::PS256, "rsa-1", &RSA_KEY),
        (JwsAlg::PS384, "rsa-1", &RSA_KEY),
        (JwsAlg::PS512, "rsa-1", &RSA_KEY),
        (JwsAlg::ES256, "ec-256", &EC256),
        (JwsAlg::ES384, "ec-384", &EC384),
        (JwsAlg::ES512, "ec-521", &EC521),
    ];
    for (alg, kid, key) in cases {
        let t = token(&header(alg, kid), &claims(alg), key, alg);
        let v = verify(&t).unwrap_or_else(|e| panic!("{alg}: {e}"));
        assert_eq!(v.algorithm, alg);
        assert_eq!(v.key_id.as_deref(), Some(kid));
    }
}

#[test]
fn valid_token_yields_typed_claims() {
    let mut p = policy();
    p.claims.groups = vec![
        GroupSource::new(ClaimPath::parse("groups").unwrap()),
        GroupSource::new(ClaimPath::parse("realm_access.roles").unwrap()),
    ];
    let t = rs256_with(|_| {});
    let v = verify_id_token(&t, &p, &keyset(), &expect(), now()).unwrap();
    assert_eq!(v.issuer, ISS);
    assert_eq!(v.subject, "f1e2d3c4-alice");
    assert_eq!(v.audiences, vec![CLIENT.to_owned()]);
    assert_eq!(v.issued_at.timestamp(), at(-10));
    assert_eq!(v.expires_at.timestamp(), at(300));
    assert_eq!(v.identity.stable_id, "f1e2d3c4-alice");
    assert_eq!(v.identity.verified_email(), Some("alice@corp.example"));
    assert_eq!(v.identity.name.as_deref(), Some("Alice Example"));
    assert_eq!(
        v.identity.groups,
        vec!["aws-admins", "developers", "offline_access", "aws-auditors"]
    );
    assert_eq!(v.claims.get("nonce"), Some(&json!(NONCE)));
    // Space-separated string groups through a configured path.
    p.claims.groups = vec![GroupSource {
        path: ClaimPath::parse("roles").unwrap(),
        string_form: StringForm::SpaceSeparated,
    }];
    let t = rs256_with(|c| {
        c.insert("roles".into(), json!("ops billing"));
    });
    let v = verify_id_token(&t, &p, &keyset(), &expect(), now()).unwrap();
    assert_eq!(v.identity.groups, vec!["ops", "billing"]);
}

#[test]
fn attack_alg_none() {
    let claims = b64(claims(JwsAlg::RS256).to_string().as_bytes());
    for alg in ["none", "None", "NONE", "nOnE"] {
        let h = b64(json!({"alg": alg, "typ": "JWT"}).to_string().as_bytes());
        assert_eq!(code(&format!("{h}.{claims}.")), "jws.alg_none", "{alg}");
        // With a signature segment, and with a valid RS256 signature copied over.
        assert_eq!(code(&format!("{h}.{claims}.AAAA")), "jws.alg_none");
        let good = rs256_with(|_| {});
        let sig = good.rsplit('.').next().unwrap();
        assert_eq!(code(&format!("{h}.{claims}.{sig}")), "jws.alg_none");
    }
    // No alg at all.
    let h = b64(br#"{"typ":"JWT"}"#);
    assert_eq!(code(&format!("{h}.{claims}.AAAA")), "jws.bad_header");
}

#[test]
fn attack_rs256_to_hs256_key_confusion() {
    let rsa = RSA_KEY.rsa().unwrap();
    let public_pem = RSA_KEY.public_key_to_pem().unwrap();
    let public_der = RSA_KEY.public_key_to_der().unwrap();
    let pkcs1_pem = rsa.public_key_to_pem_pkcs1().unwrap();
    let jwk_json = rsa_jwk(&RSA_KEY, "rsa-1").to_string().into_bytes();
    let n = rsa.n().to_vec();
    let secrets: Vec<(&str, Vec<u8>)> = vec![
        ("SPKI PEM", public_pem),
        ("SPKI DER", public_der),
        ("PKCS#1 PEM", pkcs1_pem),
        ("JWK JSON", jwk_json),
        ("modulus bytes", n),
    ];
    let payload = b64(claims(JwsAlg::RS256).to_string().as_bytes());
    for (alg, md) in [
        ("HS256", MessageDigest::sha256()),
        ("HS384", MessageDigest::sha384()),
        ("HS512", MessageDigest::sha512()),
    ] {
        for kid in [Some("rsa-1"), None] {
            let mut h = json!({"alg": alg, "typ": "JWT"});
            if let Some(kid) = kid {
                h["kid"] = json!(kid);
            }
            let input = format!("{}.{payload}", b64(h.to_string().as_bytes()));
            for (name, secret) in &secrets {
                let mac = hmac(md, secret, input.as_bytes());
                let t = format!("{input}.{}", b64(&mac));
                assert_eq!(code(&t), "jws.alg_hmac", "{alg} with {name}");
            }
        }
    }
}

#[test]
fn attack_unknown_kid_then_rotation() {
    // The provider rotated to a key we have not fetched yet: refused, and a refresh is suggested.
    let t = token(
        &header(JwsAlg::RS256, "rsa-2"),
        &claims(JwsAlg::RS256),
        &RSA_KEY_2,
        JwsAlg::RS256,
    );
    let err = verify(&t).unwrap_err();
    assert_eq!(err.code(), "jws.unknown_kid");
    assert!(err.suggests_jwks_refresh());
    // After the refresh the same token verifies.
    let refreshed = KeySet::from_jwks(&jwks_doc(&[
        rsa_jwk(&RSA_KEY, "rsa-1"),
        rsa_jwk(&RSA_KEY_2, "rsa-2"),
    ]))
    .unwrap();
    assert!(verify_id_token(&t, &policy(), &refreshed, &expect(), now()).is_ok());
    // An attacker's kid is just as unknown.
    let t = token(
        &header(JwsAlg::RS256, "evil"),
        &claims(JwsAlg::RS256),
        &EVIL_RSA,
        JwsAlg::RS256,
    );
    assert_eq!(code(&t), "jws.unknown_kid");
    // Other failures do not suggest a refresh.
    assert!(
        !verify(&rs256_with(|c| {
            c.insert("iss".into(), json!("x"));
        }))
        .unwrap_err()
        .suggests_jwks_refresh()
    );
}

/// The attacker signs with their own key and offers it in the header.
fn embedded_key_attacks() -> Vec<(&'static str, Value, bool)> {
    let evil_jwk = rsa_jwk(&EVIL_RSA, "rsa-1");
    let evil_cert_b64 = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        EVIL_RSA.public_key_to_der().unwrap(),
    );
    let with_kid = |extra: (&str, Value), kid: Option<&str>| {
        let mut h = json!({"alg": "RS256", "typ": "JWT"});
        h[extra.0] = extra.1;
        if let Some(kid) = kid {
            h["kid"] = json!(kid);
        }
        h
    };
    let mut out = Vec::new();
    for kid in [Some("rsa-1"), Some("evil"), None] {
        out.push((
            "jwk",
            with_kid(("jwk", evil_jwk.clone()), kid),
            kid == Some("evil"),
        ));
        out.push((
            "x5c",
            with_kid(("x5c", json!([evil_cert_b64.clone()])), kid),
            kid == Some("evil"),
        ));
        out.push((
            "jku",
            with_kid(("jku", json!("https://evil.example/jwks.json")), kid),
            kid == Some("evil"),
        ));
        out.push((
            "x5u",
            with_kid(("x5u", json!("https://evil.example/cert.pem")), kid),
            kid == Some("evil"),
        ));
    }
    out
}

#[test]
fn attack_embedded_keys_are_refused_by_default() {
    for (name, h, _) in embedded_key_attacks() {
        let t = token(&h, &claims(JwsAlg::RS256), &EVIL_RSA, JwsAlg::RS256);
        assert_eq!(code(&t), "jws.embedded_key_header", "{name} {h}");
    }
}

#[test]
fn attack_embedded_keys_are_never_used_when_ignored() {
    let mut p = policy();
    p.jws.embedded_key_headers = EmbeddedKeyHeaders::Ignore;
    for (name, h, unknown_kid) in embedded_key_attacks() {
        let t = token(&h, &claims(JwsAlg::RS256), &EVIL_RSA, JwsAlg::RS256);
        let want = if unknown_kid {
            "jws.unknown_kid"
        } else {
            "jws.bad_signature"
        };
        assert_eq!(code_with(&t, &p, &expect()), want, "{name} {h}");
    }
    // A genuine token that happens to carry x5c still verifies — against the pinned key only.
    let genuine = rs256_header_with(|h| {
        h.insert("x5c".into(), json!(["MIIBIjANBg=="]));
        h.insert("x5t".into(), json!("thumb"));
    });
    assert_eq!(code_with(&genuine, &p, &expect()), "ok");
    assert_eq!(code(&genuine), "jws.embedded_key_header");
}

#[test]
fn attack_forged_signature() {
    // Signed by the attacker, naming the provider's kid.
    let t = token(
        &header(JwsAlg::RS256, "rsa-1"),
        &claims(JwsAlg::RS256),
        &EVIL_RSA,
        JwsAlg::RS256,
    );
    assert_eq!(code(&t), "jws.bad_signature");
    let t = token(
        &header(JwsAlg::ES256, "ec-256"),
        &claims(JwsAlg::ES256),
        &EVIL_EC,
        JwsAlg::ES256,
    );
    assert_eq!(code(&t), "jws.bad_signature");
    // The provider's signature over other claims.
    let good = rs256_with(|_| {});
    let other = rs256_with(|c| {
        c.insert("sub".into(), json!("admin"));
    });
    let spliced = with_segment(&good, 1, other.split('.').nth(1).unwrap());
    assert_eq!(code(&spliced), "jws.bad_signature");
    // The header re-signed under another alg of the same key family.
    let ps = with_segment(
        &good,
        0,
        &b64(header(JwsAlg::PS256, "rsa-1").to_string().as_bytes()),
    );
    assert_eq!(code(&ps), "jws.bad_signature");
    // Truncated or zero signatures.
    let sig = good.rsplit('.').next().unwrap();
    let sig_bytes =
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, sig).unwrap();
    assert_eq!(
        code(&with_segment(&good, 2, &b64(&sig_bytes[..252]))),
        "jws.signature_encoding"
    );
    assert_eq!(
        code(&with_segment(
            &good,
            2,
            &b64(&[&sig_bytes[..], &[0]].concat())
        )),
        "jws.signature_encoding"
    );
    // Non-canonical base64 (trailing bits set) is refused as encoding, not decoded leniently.
    let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let last = alphabet.find(&sig[sig.len() - 1..]).unwrap();
    let non_canonical = format!(
        "{}{}",
        &sig[..sig.len() - 1],
        &alphabet[(last | 1)..=(last | 1)]
    );
    assert_eq!(code(&with_segment(&good, 2, &non_canonical)), "jws.base64");
    assert_eq!(
        code(&with_segment(&good, 2, &b64(&[0; 256]))),
        "jws.bad_signature"
    );
    let es = token(
        &header(JwsAlg::ES256, "ec-256"),
        &claims(JwsAlg::ES256),
        &EC256,
        JwsAlg::ES256,
    );
    assert_eq!(
        code(&with_segment(&es, 2, &b64(&[0; 64]))),
        "jws.bad_signature"
    );
    assert_eq!(
        code(&with_segment(&es, 2, &b64(&[0xff; 64]))),
        "jws.bad_signature"
    );
}

#[test]
fn attack_ec_signature_in_der() {
    for (alg, kid, key) in [
        (JwsAlg::ES256, "ec-256", &*EC256),
        (JwsAlg::ES384, "ec-384", &*EC384),
        (JwsAlg::ES512, "ec-521", &*EC521),
    ] {
        let h = b64(header(alg, kid).to_string().as_bytes());
        let input = format!("{h}.{}", b64(claims(alg).to_string().as_bytes()));
        let der = sign_der(key, alg, input.as_bytes());
        assert_eq!(
            code(&format!("{input}.{}", b64(&der))),
            "jws.signature_encoding",
            "{alg}"
        );
    }
}

#[test]
fn attack_time_window() {
    let cases: Vec<(&str, i64, i64, Option<i64>, &str)> = vec![
        // (name, exp offset, iat offset, nbf offset, code) with leeway 60 s, max age 10 min
        ("fresh", 300, -10, None, "ok"),
        ("expired", -61, -200, None, "id_token.expired"),
        (
            "expired exactly at the leeway",
            -60,
            -200,
            None,
            "id_token.expired",
        ),
        ("expired within leeway", -59, -200, None, "ok"),
        (
            "not yet valid (nbf)",
            600,
            -10,
            Some(120),
            "id_token.not_yet_valid",
        ),
        ("nbf within leeway", 600, -10, Some(60), "ok"),
        ("issued too long ago", 3600, -661, None, "id_token.too_old"),
        ("age at the limit", 3600, -660, None, "ok"),
        ("iat in the future", 600, 61, None, "id_token.iat_in_future"),
        ("iat within leeway", 600, 60, None, "ok"),
        ("exp before iat", 30, 50, None, "id_token.exp_not_after_iat"),
    ];
    for (name, exp, iat, nbf, want) in cases {
        let t = rs256_with(|c| {
            c.insert("exp".into(), json!(at(exp)));
            c.insert("iat".into(), json!(at(iat)));
            c.insert("auth_time".into(), json!(at(iat)));
            if let Some(nbf) = nbf {
                c.insert("nbf".into(), json!(at(nbf)));
            }
        });
        assert_eq!(code(&t), want, "{name}");
    }
    // Leeway and max age are configurable.
    let mut p = policy();
    p.leeway = Duration::zero();
    p.max_age = Duration::minutes(1);
    let t = rs256_with(|c| {
        c.insert("iat".into(), json!(at(-61)));
    });
    assert_eq!(code_with(&t, &p, &expect()), "id_token.too_old");
    let t = rs256_with(|c| {
        c.insert("iat".into(), json!(at(1)));
    });
    assert_eq!(code_with(&t, &p, &expect()), "id_token.iat_in_future");
    // Decimal NumericDates are read to the millisecond.
    let t = rs256_with(|c| {
        c.insert("exp".into(), json!(at(300) as f64 + 0.5));
    });
    assert_eq!(code(&t), "ok");
}

#[test]
fn attack_issuer_and_audience() {
    let set = |name: &'static str, v: Value| {
        move |c: &mut Map<String, Value>| {
            c.insert(name.into(), v);
        }
    };
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "wrong iss",
            rs256_with(set("iss", json!("https://evil.example"))),
            "id_token.iss_mismatch",
        ),
        (
            "iss with trailing slash",
            rs256_with(set("iss", json!(format!("{ISS}/")))),
            "id_token.iss_mismatch",
        ),
        (
            "iss other case",
            rs256_with(set("iss", json!(ISS.to_uppercase()))),
            "id_token.iss_mismatch",
        ),
        (
            "iss missing",
            rs256_with(|c| {
                c.remove("iss");
            }),
            "id_token.missing_claim",
        ),
        (
            "iss not a string",
            rs256_with(set("iss", json!([ISS]))),
            "id_token.malformed_claim",
        ),
        (
            "wrong aud",
            rs256_with(set("aud", json!("other-client"))),
            "id_token.aud_mismatch",
        ),
        (
            "aud missing",
            rs256_with(|c| {
                c.remove("aud");
            }),
            "id_token.missing_claim",
        ),
        (
            "aud empty array",
            rs256_with(set("aud", json!([]))),
            "id_token.malformed_claim",
        ),
        (
            "aud array with a number",
            rs256_with(set("aud", json!([CLIENT, 1]))),
            "id_token.malformed_claim",
        ),
        (
            "extra untrusted audience",
            rs256_with(|c| {
                c.insert("aud".into(), json!([CLIENT, "https://other-api.example"]));
                c.insert("azp".into(), json!(CLIENT));
            }),
            "id_token.aud_untrusted",
        ),
        (
            "azp mismatch",
            rs256_with(set("azp", json!("other-client"))),
            "id_token.azp_mismatch",
        ),
        (
            "minted for another client",
            rs256_with(|c| {
                c.insert("aud".into(), json!("other-client"));
                c.insert("azp".into(), json!("other-client"));
            }),
            "id_token.aud_mismatch",
        ),
        ("azp matches", rs256_with(set("azp", json!(CLIENT))), "ok"),
        (
            "aud array of one",
            rs256_with(set("aud", json!([CLIENT]))),
            "ok",
        ),
    ];
    for (name, t, want) in cases {
        assert_eq!(code(&t), want, "{name}");
    }
    // Trusted extra audiences still need azp = client id.
    let mut p = policy();
    p.trusted_audiences = vec!["https://api.corp.example".into()];
    let both = |azp: Option<&str>| {
        rs256_with(|c| {
            c.insert("aud".into(), json!([CLIENT, "https://api.corp.example"]));
            if let Some(azp) = azp {
                c.insert("azp".into(), json!(azp));
            }
        })
    };
    assert_eq!(code_with(&both(Some(CLIENT)), &p, &expect()), "ok");
    assert_eq!(
        code_with(&both(None), &p, &expect()),
        "id_token.azp_missing"
    );
    assert_eq!(
        code_with(&both(Some("https://api.corp.example")), &p, &expect()),
        "id_token.azp_mismatch"
    );
    // A token minted for a trusted sibling client, naming us as an extra audience.
    let sibling = rs256_with(|c| {
        c.insert("aud".into(), json!(["https://api.corp.example", CLIENT]));
        c.insert("azp".into(), json!("https://api.corp.example"));
    });
    assert_eq!(code_with(&sibling, &p, &expect()), "id_token.azp_mismatch");
}

#[test]
fn attack_nonce() {
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "missing",
            rs256_with(|c| {
                c.remove("nonce");
            }),
            "id_token.nonce_missing",
        ),
        (
            "null",
            rs256_with(|c| {
                c.insert("nonce".into(), Value::Null);
            }),
            "id_token.nonce_missing",
        ),
        (
            "wrong",
            rs256_with(|c| {
                c.insert("nonce".into(), json!("n-other"));
            }),
            "id_token.nonce_mismatch",
        ),
        (
            "prefix",
            rs256_with(|c| {
                c.insert("nonce".into(), json!(&NONCE[..5]));
            }),
            "id_token.nonce_mismatch",
        ),
        (
            "number",
            rs256_with(|c| {
                c.insert("nonce".into(), json!(1));
            }),
            "id_token.malformed_claim",
        ),
    ];
    for (name, t, want) in cases {
        assert_eq!(code(&t), want, "{name}");
    }
    // A replayed token carries the nonce of an earlier sign-in, not this browser's.
    let earlier = rs256_with(|_| {});
    let this_login =
        Expectations::new(ISS, CLIENT, "n-fresh-for-this-login").with_access_token(ACCESS_TOKEN);
    assert_eq!(
        code_with(&earlier, &policy(), &this_login),
        "id_token.nonce_mismatch"
    );
    // An empty expected nonce is a caller bug, never a match.
    let empty = Expectations::new(ISS, CLIENT, "");
    assert_eq!(code_with(&earlier, &policy(), &empty), "id_token.policy");
}

#[test]
fn attack_duplicate_member_names() {
    let payload = claims(JwsAlg::RS256).to_string();
    let body = &payload[1..];
    let h = header(JwsAlg::RS256, "rsa-1").to_string();
    let hb = &h[1..];
    let cases: Vec<(&str, String, String, &str)> = vec![
        (
            "sub twice in payload",
            h.clone(),
            format!(r#"{{"sub":"admin",{body}"#),
            "jws.duplicate_member",
        ),
        (
            "aud twice in payload",
            h.clone(),
            format!(r#"{{"aud":"other",{body}"#),
            "jws.duplicate_member",
        ),
        (
            "nested duplicate in payload",
            h.clone(),
            format!(r#"{{"x":{{"role":"a","role":"b"}},{body}"#),
            "jws.duplicate_member",
        ),
        (
            "escaped duplicate",
            h.clone(),
            format!(r#"{{"s\u0075b":"admin",{body}"#),
            "jws.duplicate_member",
        ),
        (
            "alg twice in header",
            format!(r#"{{"alg":"none",{hb}"#),
            payload.clone(),
            "jws.duplicate_member",
        ),
        (
            "kid twice in header",
            format!(r#"{{"kid":"evil",{hb}"#),
            payload.clone(),
            "jws.duplicate_member",
        ),
    ];
    for (name, header_text, payload_text, want) in cases {
        let t = token_text(&header_text, &payload_text, &RSA_KEY, JwsAlg::RS256);
        assert_eq!(code(&t), want, "{name}");
    }
}

#[test]
fn attack_oversized_token() {
    let big = rs256_with(|c| {
        c.insert("padding".into(), json!("x".repeat(20 * 1024)));
    });
    assert_eq!(code(&big), "jws.too_large");
    // The limit is per provider.
    let mut p = policy();
    p.jws.max_token_bytes = 32 * 1024;
    assert_eq!(code_with(&big, &p, &expect()), "ok");
    p.jws.max_token_bytes = 2048;
    let medium = rs256_with(|c| {
        c.insert("padding".into(), json!("x".repeat(1500)));
    });
    assert_eq!(code_with(&medium, &p, &expect()), "jws.too_large");
    assert_eq!(code(&medium), "ok");
    // Garbage beyond the limit is refused before any decoding.
    assert_eq!(code(&"A".repeat(1 << 20)), "jws.too_large");
}

#[test]
fn attack_at_hash() {
    let cases: Vec<(&str, String, AtHashRule, Option<&str>, &str)> = vec![
        (
            "mismatch",
            rs256_with(|c| {
                c.insert(
                    "at_hash".into(),
                    json!(token_hash(JwsAlg::RS256, "other").unwrap()),
                );
            }),
            AtHashRule::Required,
            Some(ACCESS_TOKEN),
            "id_token.at_hash_mismatch",
        ),
        (
            "mismatch even if optional",
            rs256_with(|c| {
                c.insert("at_hash".into(), json!("AAAAAAAAAAAAAAAAAAAAAA"));
            }),
            AtHashRule::IfPresent,
            Some(ACCESS_TOKEN),
            "id_token.at_hash_mismatch",
        ),
        (
            "swapped access token",
            rs256_with(|_| {}),
            AtHashRule::Required,
            Some("ya29.stolen"),
            "id_token.at_hash_mismatch",
        ),
        (
            "missing, required",
            rs256_with(|c| {
                c.remove("at_hash");
            }),
            AtHashRule::Required,
            Some(ACCESS_TOKEN),
            "id_token.at_hash_missing",
        ),
        (
            "missing, optional",
            rs256_with(|c| {
                c.remove("at_hash");
            }),
            AtHashRule::IfPresent,
            Some(ACCESS_TOKEN),
            "ok",
        ),
        (
            "no access token returned",
            rs256_with(|c| {
                c.remove("at_hash");
            }),
            AtHashRule::Required,
            None,
            "ok",
        ),
        (
            "padded at_hash",
            rs256_with(|c| {
                c.insert(
                    "at_hash".into(),
                    json!(format!(
                        "{}==",
                        token_hash(JwsAlg::RS256, ACCESS_TOKEN).unwrap()
                    )),
                );
            }),
            AtHashRule::Required,
            Some(ACCESS_TOKEN),
            "id_token.at_hash_mismatch",
        ),
        (
            "at_hash not a string",
            rs256_with(|c| {
                c.insert("at_hash".into(), json!(1));
            }),
            AtHashRule::Required,
            Some(ACCESS_TOKEN),
            "id_token.malformed_claim",
        ),
    ];
    for (name, t, rule, access_token, want) in cases {
        let mut p = policy();
        p.at_hash = rule;
        let mut e = Expectations::new(ISS, CLIENT, NONCE);
        e.access_token = access_token;
        assert_eq!(code_with(&t, &p, &e), want, "{name}");
    }
    // The hash follows alg: an ES384 token with a SHA-256 at_hash is a mismatch.
    let mut c = claims(JwsAlg::ES384);
    c["at_hash"] = json!(token_hash(JwsAlg::RS256, ACCESS_TOKEN).unwrap());
    let t = token(&header(JwsAlg::ES384, "ec-384"), &c, &EC384, JwsAlg::ES384);
    assert_eq!(code(&t), "id_token.at_hash_mismatch");
    // Known answer (OIDC Core §A.3 access token "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y").
    assert_eq!(
        token_hash(JwsAlg::RS256, "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y").unwrap(),
        "77QmUPtjPfzWtF2AnpK9RQ"
    );
    // c_hash, when the code is given.
    let mut e = expect();
    e.code = Some("Qcb0Orv1zh30vL1MPRsbm-diHiMwcLyZvn1arpZv-Jxf_11jnpEX3Tgfvk");
    let c_hash = token_hash(
        JwsAlg::RS256,
        "Qcb0Orv1zh30vL1MPRsbm-diHiMwcLyZvn1arpZv-Jxf_11jnpEX3Tgfvk",
    )
    .unwrap();
    assert_eq!(c_hash, "LDktKdoQak3Pk0cnXxCltA");
    let ok = rs256_with(|c| {
        c.insert("c_hash".into(), json!(c_hash));
    });
    assert_eq!(code_with(&ok, &policy(), &e), "ok");
    let bad = rs256_with(|c| {
        c.insert("c_hash".into(), json!("AAAA"));
    });
    assert_eq!(code_with(&bad, &policy(), &e), "id_token.c_hash_mismatch");
}

#[test]
fn attack_header_rules() {
    let edit = |name: &'static str, v: Value| {
        rs256_header_with(move |h| {
            h.insert(name.into(), v);
        })
    };
    let cases: Vec<(&str, String, &str)> = vec![
        ("crit with a name", edit("crit", json!(["exp"])), "jws.crit"),
        (
            "crit with b64",
            rs256_header_with(|h| {
                h.insert("crit".into(), json!(["b64"]));
                h.insert("b64".into(), json!(false));
            }),
            "jws.crit",
        ),
        (
            "crit not an array",
            edit("crit", json!("exp")),
            "jws.bad_header",
        ),
        ("crit empty", edit("crit", json!([])), "ok"),
        (
            "b64 false",
            edit("b64", json!(false)),
            "jws.unsupported_header",
        ),
        (
            "cty nested JWT",
            edit("cty", json!("JWT")),
            "jws.unsupported_header",
        ),
        ("zip", edit("zip", json!("DEF")), "jws.unsupported_header"),
        (
            "enc",
            edit("enc", json!("A256GCM")),
            "jws.unsupported_header",
        ),
        ("typ at+jwt", edit("typ", json!("at+jwt")), "jws.typ"),
        (
            "typ logout+jwt",
            edit("typ", json!("logout+jwt")),
            "jws.typ",
        ),
        ("typ lower-case jwt", edit("typ", json!("jwt")), "ok"),
        (
            "typ application/jwt",
            edit("typ", json!("application/jwt")),
            "ok",
        ),
        (
            "no typ",
            rs256_header_with(|h| {
                h.remove("typ");
            }),
            "ok",
        ),
        ("kid not a string", edit("kid", json!(1)), "jws.bad_header"),
        ("kid empty", edit("kid", json!("")), "jws.bad_header"),
        (
            "alg not a string",
            edit("alg", json!(["RS256"])),
            "jws.bad_header",
        ),
        (
            "alg lower-case",
            edit("alg", json!("rs256")),
            "jws.alg_unsupported",
        ),
        (
            "alg EdDSA",
            edit("alg", json!("EdDSA")),
            "jws.alg_unsupported",
        ),
    ];
    for (name, t, want) in cases {
        assert_eq!(code(&t), want, "{name}");
    }
    // Algorithms outside the provider's pin are refused before any key is looked at.
    let es = token(
        &header(JwsAlg::ES256, "ec-256"),
        &claims(JwsAlg::ES256),
        &EC256,
        JwsAlg::ES256,
    );
    let rs_only = IdTokenPolicy::default();
    assert_eq!(code_with(&es, &rs_only, &expect()), "jws.alg_not_allowed");
    // An RS256 token naming an EC key.
    let t = token(
        &header(JwsAlg::RS256, "ec-256"),
        &claims(JwsAlg::RS256),
        &RSA_KEY,
        JwsAlg::RS256,
    );
    assert_eq!(code(&t), "jws.key_alg_mismatch");
    // peek_header applies the same rules without verifying.
    assert_eq!(
        peek_header(&es, &rs_only.jws).unwrap_err().code(),
        "jws.alg_not_allowed"
    );
    assert_eq!(
        peek_header(&es, &policy().jws).unwrap().kid.as_deref(),
        Some("ec-256")
    );
}

#[test]
fn attack_malformed_encoding_and_json() {
    let good = rs256_with(|_| {});
    let parts: Vec<&str> = good.split('.').collect();
    let (h, p, s) = (parts[0], parts[1], parts[2]);
    // Payloads that are validly signed but not a JSON object.
    let signed = |payload: &[u8]| {
        let input = format!("{h}.{}", b64(payload));
        format!(
            "{input}.{}",
            b64(&sign(&RSA_KEY, JwsAlg::RS256, input.as_bytes()))
        )
    };
    // A payload segment that is not base64url, validly signed as text.
    let signed_text = |payload_segment: &str| {
        let input = format!("{h}.{payload_segment}");
        format!(
            "{input}.{}",
            b64(&sign(&RSA_KEY, JwsAlg::RS256, input.as_bytes()))
        )
    };
    let cases: Vec<(&str, String, &str)> = vec![
        ("empty", String::new(), "jws.segments"),
        ("two segments", format!("{h}.{p}"), "jws.segments"),
        ("four segments", format!("{h}.{p}.{s}.x"), "jws.segments"),
        (
            "JWE (five segments)",
            format!("{h}..{p}.{s}.tag"),
            "jws.segments",
        ),
        ("padding in header", format!("{h}=.{p}.{s}"), "jws.base64"),
        (
            "standard alphabet",
            format!("{}.{p}.{s}", h.replace('-', "+").replace('_', "/") + "+"),
            "jws.base64",
        ),
        ("whitespace", format!("{h} .{p}.{s}"), "jws.base64"),
        ("leading newline", format!("\n{good}"), "jws.base64"),
        ("empty header", format!(".{p}.{s}"), "jws.base64"),
        ("empty signature", format!("{h}.{p}."), "jws.base64"),
        (
            "signature not base64",
            format!("{h}.{p}.{s}!"),
            "jws.base64",
        ),
        (
            "header not JSON",
            format!("{}.{p}.{s}", b64(b"alg=RS256")),
            "jws.json",
        ),
        (
            "header JSON array",
            format!("{}.{p}.{s}", b64(br#"["RS256"]"#)),
            "jws.json",
        ),
        (
            "header trailing data",
            format!("{}.{p}.{s}", b64(br#"{"alg":"RS256","kid":"rsa-1"}x"#)),
            "jws.json",
        ),
        (
            "header not UTF-8",
            format!("{}.{p}.{s}", b64(b"{\"alg\":\"RS256\",\"x\":\"\xff\"}")),
            "jws.json",
        ),
        (
            "payload not base64 (signed)",
            signed_text("e30*"),
            "jws.base64",
        ),
        (
            "payload not JSON (signed)",
            signed(b"sub=admin"),
            "jws.json",
        ),
        ("payload JSON array (signed)", signed(b"[]"), "jws.json"),
        (
            "payload JSON string (signed)",
            signed(br#""{}""#),
            "jws.json",
        ),
        (
            "payload with BOM (signed)",
            signed(b"\xef\xbb\xbf{}"),
            "jws.json",
        ),
        (
            "payload trailing JSON (signed)",
            signed(b"{}{}"),
            "jws.json",
        ),
        (
            "claims missing (signed)",
            signed(b"{}"),
            "id_token.missing_claim",
        ),
    ];
    for (name, t, want) in cases {
        assert_eq!(code(&t), want, "{name}");
    }
}

#[test]
fn claim_types_and_subject() {
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "sub missing",
            rs256_with(|c| {
                c.remove("sub");
            }),
            "id_token.missing_claim",
        ),
        (
            "sub empty",
            rs256_with(|c| {
                c.insert("sub".into(), json!(""));
            }),
            "identity_value_refused",
        ),
        (
            "sub padded",
            rs256_with(|c| {
                c.insert("sub".into(), json!(" admin@example.com\n"));
            }),
            "identity_value_refused",
        ),
        (
            "sub with a bidi override",
            rs256_with(|c| {
                c.insert("sub".into(), json!("alice\u{202E}"));
            }),
            "identity_value_refused",
        ),
        (
            "sub 256 bytes",
            rs256_with(|c| {
                c.insert("sub".into(), json!("a".repeat(256)));
            }),
            "id_token.sub_invalid",
        ),
        (
            "sub 255 bytes",
            rs256_with(|c| {
                c.insert("sub".into(), json!("a".repeat(255)));
            }),
            "ok",
        ),
        (
            "sub with newline",
            rs256_with(|c| {
                c.insert("sub".into(), json!("alice\nadmin"));
            }),
            "identity_value_refused",
        ),
        (
            "sub a number",
            rs256_with(|c| {
                c.insert("sub".into(), json!(42));
            }),
            "id_token.sub_invalid",
        ),
        (
            "exp missing",
            rs256_with(|c| {
                c.remove("exp");
            }),
            "id_token.missing_claim",
        ),
        (
            "iat missing",
            rs256_with(|c| {
                c.remove("iat");
            }),
            "id_token.missing_claim",
        ),
        (
            "exp a string",
            rs256_with(|c| {
                c.insert("exp".into(), json!(at(300).to_string()));
            }),
            "id_token.malformed_claim",
        ),
        (
            "exp absurd",
            rs256_with(|c| {
                c.insert("exp".into(), json!(1e300));
            }),
            "id_token.malformed_claim",
        ),
        (
            "iat bool",
            rs256_with(|c| {
                c.insert("iat".into(), json!(true));
            }),
            "id_token.malformed_claim",
        ),
        (
            "azp a number",
            rs256_with(|c| {
                c.insert("azp".into(), json!(1));
            }),
            "id_token.malformed_claim",
        ),
        (
            "groups malformed",
            rs256_with(|c| {
                c.insert("groups".into(), json!([1, 2]));
            }),
            "claims.malformed",
        ),
        (
            "email_verified odd",
            rs256_with(|c| {
                c.insert("email_verified".into(), json!("yes"));
            }),
            "claims.malformed",
        ),
    ];
    for (name, t, want) in cases {
        assert_eq!(code(&t), want, "{name}");
    }
}

#[test]
fn auth_time_and_acr_when_requested() {
    let mut e = expect();
    e.max_age = Some(Duration::minutes(5));
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "recent",
            rs256_with(|c| {
                c.insert("auth_time".into(), json!(at(-120)));
            }),
            "ok",
        ),
        (
            "too old",
            rs256_with(|c| {
                c.insert("auth_time".into(), json!(at(-361)));
            }),
            "id_token.auth_too_old",
        ),
        (
            "missing",
            rs256_with(|c| {
                c.remove("auth_time");
            }),
            "id_token.auth_time_missing",
        ),
        (
            "future",
            rs256_with(|c| {
                c.insert("auth_time".into(), json!(at(120)));
            }),
            "id_token.auth_time_in_future",
        ),
    ];
    for (name, t, want) in cases {
        assert_eq!(code_with(&t, &policy(), &e), want, "{name}");
    }
    // Not requested: absent is fine, malformed is not.
    assert_eq!(
        code(&rs256_with(|c| {
            c.remove("auth_time");
        })),
        "ok"
    );
    assert_eq!(
        code(&rs256_with(|c| {
            c.insert("auth_time".into(), json!("x"));
        })),
        "id_token.malformed_claim"
    );
    let acr = vec!["urn:mfa".to_owned()];
    let mut e = expect();
    e.acceptable_acr = &acr;
    assert_eq!(
        code_with(
            &rs256_with(|c| {
                c.insert("acr".into(), json!("urn:mfa"));
            }),
            &policy(),
            &e
        ),
        "ok"
    );
    assert_eq!(
        code_with(
            &rs256_with(|c| {
                c.insert("acr".into(), json!("0"));
            }),
            &policy(),
            &e
        ),
        "id_token.acr_not_accepted"
    );
    assert_eq!(
        code_with(&rs256_with(|_| {}), &policy(), &e),
        "id_token.acr_not_accepted"
    );
}

/// A token that stays valid for days is refused even while young: `exp − iat` is capped.
#[test]
fn attack_overlong_lifetime() {
    let with_lifetime = |seconds: i64| {
        rs256_with(|c| {
            c.insert("iat".into(), json!(at(0)));
            c.insert("exp".into(), json!(at(seconds)));
        })
    };
    assert_eq!(code(&with_lifetime(86_400)), "ok");
    assert_eq!(code(&with_lifetime(86_401)), "id_token.lifetime_too_long");
    assert_eq!(
        code(&with_lifetime(10 * 365 * 86_400)),
        "id_token.lifetime_too_long"
    );
    let err = verify(&with_lifetime(90_000)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "token lifetime exp − iat is 90000 s, more than the maximum 86400 s"
    );
    // A provider configured for shorter tokens.
    let mut p = policy();
    p.max_lifetime = Duration::minutes(5);
    assert_eq!(code_with(&with_lifetime(300), &p, &expect()), "ok");
    assert_eq!(
        code_with(&with_lifetime(301), &p, &expect()),
        "id_token.lifetime_too_long"
    );
}

#[test]
fn policy_is_validated() {
    let t = rs256_with(|_| {});
    let mut p = policy();
    p.leeway = Duration::minutes(10);
    assert_eq!(code_with(&t, &p, &expect()), "id_token.policy");
    let mut p = policy();
    p.leeway = Duration::seconds(-1);
    assert_eq!(code_with(&t, &p, &expect()), "id_token.policy");
    let mut p = policy();
    p.max_age = Duration::days(2);
    assert_eq!(code_with(&t, &p, &expect()), "id_token.policy");
    for bad in [
        Duration::seconds(59),
        Duration::seconds(86_401),
        Duration::zero(),
    ] {
        let mut p = policy();
        p.max_lifetime = bad;
        assert_eq!(code_with(&t, &p, &expect()), "id_token.policy", "{bad}");
    }
    let mut p = policy();
    p.jws.allowed_algs.clear();
    assert_eq!(code_with(&t, &p, &expect()), "jws.policy");
    let mut p = policy();
    p.jws.max_token_bytes = 1 << 20;
    assert_eq!(code_with(&t, &p, &expect()), "jws.policy");
    assert_eq!(
        code_with(&t, &policy(), &Expectations::new("", CLIENT, NONCE)),
        "id_token.policy"
    );
    assert_eq!(
        code_with(&t, &policy(), &Expectations::new(ISS, "", NONCE)),
        "id_token.policy"
    );
}

#[test]
fn every_code_is_distinct_and_namespaced() {
    let samples: Vec<IdTokenError> = vec![
        IdTokenError::Expired,
        IdTokenError::NotYetValid,
        IdTokenError::TooOld,
        IdTokenError::IssuedInFuture,
        IdTokenError::AzpMissing,
        IdTokenError::NonceMissing,
        IdTokenError::NonceMismatch,
        IdTokenError::AtHashMissing,
        IdTokenError::AtHashMismatch,
        IdTokenError::LifetimeTooLong { seconds: 2, max: 1 },
    ];
    let mut codes: Vec<&str> = samples.iter().map(IdTokenError::code).collect();
    assert!(codes.iter().all(|c| c.starts_with("id_token.")));
    codes.sort_unstable();
    codes.dedup();
    assert_eq!(codes.len(), samples.len());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Changing any one character of a good token makes it fail (strict, canonical base64url
    /// means no two encodings of the same bytes; the signature covers header and payload).
    #[test]
    fn any_single_character_change_is_refused(seed in any::<prop::sample::Index>(), replacement in "[A-Za-z0-9_.=+/ -]") {
        let good = rs256_with(|_| {});
        let pos = seed.index(good.len());
        let original = &good[pos..pos + 1];
        prop_assume!(original != replacement);
        let forged = format!("{}{}{}", &good[..pos], replacement, &good[pos + 1..]);
        prop_assert!(verify(&forged).is_err());
    }

    /// Arbitrary input never panics and never verifies.
    #[test]
    fn arbitrary_input_is_refused(text in "[A-Za-z0-9_.=-]{0,600}") {
        prop_assert!(verify(&text).is_err());
    }

    /// The time rules, as a model.
    #[test]
    fn time_rules_match_the_model(exp in -1000i64..1000, iat in -1000i64..1000, nbf in proptest::option::of(-1000i64..1000)) {
        let t = rs256_with(|c| {
            c.insert("exp".into(), json!(at(exp)));
            c.insert("iat".into(), json!(at(iat)));
            c.remove("auth_time");
            if let Some(nbf) = nbf {
                c.insert("nbf".into(), json!(at(nbf)));
            }
        });
        let want = if exp <= -60 {
            "id_token.expired"
        } else if iat > 60 {
            "id_token.iat_in_future"
        } else if -iat > 660 {
            "id_token.too_old"
        } else if exp <= iat {
            "id_token.exp_not_after_iat"
        } else if nbf.is_some_and(|n| n > 60) {
            "id_token.not_yet_valid"
        } else {
            "ok"
        };
        prop_assert_eq!(code(&t), want);
    }
}
