//! OIDC ID token verification (every check of `verify_id_token`, RS256 with a 2048-bit key and
//! ES256), against the floor: OpenSSL verifying the same signature over the same bytes with the
//! key already parsed. Prints verifications per second per core and Roleport's share of the floor.
//! Target: ≥ 40,000 RS256 verifications/s/core. Run with `cargo bench --bench oidc`.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{TimeZone, Utc};
use criterion::{Criterion, black_box, criterion_group, criterion_main};
use openssl::bn::BigNumContext;
use openssl::ec::{EcGroup, EcKey};
use openssl::ecdsa::EcdsaSig;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::rsa::{Padding, Rsa};
use openssl::sign::{Signer, Verifier};
use roleport::protocol::oidc::{
    Expectations, IdTokenPolicy, JwsAlg, KeySet, token_hash, verify_id_token,
};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const ISS: &str = "https://idp.example.org/realms/corp";
const CLIENT: &str = "roleport";
const NONCE: &str = "n-0S6_WzA2Mj";
const ACCESS_TOKEN: &str = "ya29.access-token-value";

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

struct Case {
    name: &'static str,
    alg: JwsAlg,
    key: PKey<Private>,
    jwk: Value,
}

fn rsa_case() -> Case {
    let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
    let rsa = key.rsa().unwrap();
    let jwk = json!({"kty": "RSA", "use": "sig", "kid": "k1",
        "n": b64(&rsa.n().to_vec()), "e": b64(&rsa.e().to_vec())});
    Case {
        name: "RS256",
        alg: JwsAlg::RS256,
        key,
        jwk,
    }
}

fn ec_case() -> Case {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    let ec = EcKey::generate(&group).unwrap();
    let (mut x, mut y) = (
        openssl::bn::BigNum::new().unwrap(),
        openssl::bn::BigNum::new().unwrap(),
    );
    let mut ctx = BigNumContext::new().unwrap();
    ec.public_key()
        .affine_coordinates(&group, &mut x, &mut y, &mut ctx)
        .unwrap();
    let jwk = json!({"kty": "EC", "crv": "P-256", "kid": "k1",
        "x": b64(&x.to_vec_padded(32).unwrap()), "y": b64(&y.to_vec_padded(32).unwrap())});
    Case {
        name: "ES256",
        alg: JwsAlg::ES256,
        key: PKey::from_ec_key(ec).unwrap(),
        jwk,
    }
}

/// A token as a public provider issues it: groups, e-mail, `at_hash`.
fn token(case: &Case, now: i64) -> (String, Vec<u8>, Vec<u8>) {
    let header = json!({"alg": case.alg.as_str(), "kid": "k1", "typ": "JWT"});
    let claims = json!({
        "iss": ISS, "sub": "f1e2d3c4-alice", "aud": CLIENT, "exp": now + 300, "iat": now - 10,
        "auth_time": now - 20, "nonce": NONCE,
        "at_hash": token_hash(case.alg, ACCESS_TOKEN).unwrap(),
        "email": "alice@corp.example", "email_verified": true, "name": "Alice Example",
        "groups": ["aws-admins", "developers", "platform", "on-call"],
    });
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let mut signer = Signer::new(MessageDigest::sha256(), &case.key).unwrap();
    if case.alg == JwsAlg::RS256 {
        signer.set_rsa_padding(Padding::PKCS1).unwrap();
    }
    signer.update(input.as_bytes()).unwrap();
    let der = signer.sign_to_vec().unwrap();
    let jose = if case.alg == JwsAlg::ES256 {
        let sig = EcdsaSig::from_der(&der).unwrap();
        let mut out = sig.r().to_vec_padded(32).unwrap();
        out.extend(sig.s().to_vec_padded(32).unwrap());
        out
    } else {
        der.clone()
    };
    (format!("{input}.{}", b64(&jose)), input.into_bytes(), der)
}

/// Calls per second of `f` on one thread, over about a second.
fn rate(mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < Duration::from_secs(1) {
        for _ in 0..100 {
            f();
        }
        n += 100;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn oidc(c: &mut Criterion) {
    let now = Utc.with_ymd_and_hms(2026, 5, 1, 12, 0, 0).unwrap();
    let mut policy = IdTokenPolicy::default();
    policy.jws.allowed_algs = vec![JwsAlg::RS256, JwsAlg::ES256];
    let expect = Expectations::new(ISS, CLIENT, NONCE).with_access_token(ACCESS_TOKEN);
    for case in [rsa_case(), ec_case()] {
        let keys =
            KeySet::from_jwks(&serde_json::to_vec(&json!({"keys": [case.jwk]})).unwrap()).unwrap();
        let (token, input, der) = token(&case, now.timestamp());
        verify_id_token(&token, &policy, &keys, &expect, now).unwrap();
        let public = PKey::public_key_from_der(&case.key.public_key_to_der().unwrap()).unwrap();
        let floor = || {
            let mut v = Verifier::new(MessageDigest::sha256(), &public).unwrap();
            v.update(&input).unwrap();
            assert!(v.verify(&der).unwrap());
        };
        let ours = || {
            black_box(verify_id_token(black_box(&token), &policy, &keys, &expect, now).unwrap());
        };
        let mut group = c.benchmark_group(format!("oidc_{}", case.name));
        group.bench_function("verify_id_token", |b| b.iter(ours));
        group.bench_function("openssl_verify_floor", |b| b.iter(floor));
        group.finish();
        // Interleaved so both see the same machine load.
        let (mut r, mut f) = (Vec::new(), Vec::new());
        for _ in 0..3 {
            r.push(rate(ours));
            f.push(rate(floor));
        }
        let median = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let (r, f) = (median(&mut r), median(&mut f));
        println!(
            "oidc {}: verify_id_token {:.0}/s/core, OpenSSL floor {:.0}/s/core, ratio {:.2}",
            case.name,
            r,
            f,
            r / f
        );
    }
}

criterion_group!(benches, oidc);
criterion_main!(benches);
