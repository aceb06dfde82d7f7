//! Test-only: real keys (openssl-generated), JWKS documents and signed tokens, good and bad.

use super::alg::JwsAlg;
use super::id_token::{Expectations, IdTokenPolicy, token_hash};
use super::jwks::KeySet;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, TimeZone, Utc};
use openssl::bn::BigNumContext;
use openssl::ec::{EcGroup, EcKey, PointConversionForm};
use openssl::ecdsa::EcdsaSig;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::rsa::{Padding, Rsa};
use openssl::sign::{RsaPssSaltlen, Signer};
use serde_json::{Value, json};
use std::sync::LazyLock;

pub const ISS: &str = "https://idp.example.org/realms/corp";
pub const CLIENT: &str = "roleport";
pub const NONCE: &str = "n-0S6_WzA2Mj";
pub const ACCESS_TOKEN: &str = "ya29.access-token-value";

/// The provider's keys (published in its JWKS).
pub static RSA_KEY: LazyLock<PKey<Private>> = LazyLock::new(|| rsa(2048));
pub static RSA_KEY_2: LazyLock<PKey<Private>> = LazyLock::new(|| rsa(3072));
pub static EC256: LazyLock<PKey<Private>> = LazyLock::new(|| ec(Nid::X9_62_PRIME256V1));
pub static EC384: LazyLock<PKey<Private>> = LazyLock::new(|| ec(Nid::SECP384R1));
pub static EC521: LazyLock<PKey<Private>> = LazyLock::new(|| ec(Nid::SECP521R1));
/// The attacker's keys (never in the provider's JWKS).
pub static EVIL_RSA: LazyLock<PKey<Private>> = LazyLock::new(|| rsa(2048));
pub static EVIL_EC: LazyLock<PKey<Private>> = LazyLock::new(|| ec(Nid::X9_62_PRIME256V1));

fn rsa(bits: u32) -> PKey<Private> {
    PKey::from_rsa(Rsa::generate(bits).unwrap()).unwrap()
}

fn ec(nid: Nid) -> PKey<Private> {
    let group = EcGroup::from_curve_name(nid).unwrap();
    PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap()
}

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 1, 12, 0, 0).unwrap()
}

pub fn at(offset_secs: i64) -> i64 {
    (now() + Duration::seconds(offset_secs)).timestamp()
}

pub fn rsa_jwk(key: &PKey<Private>, kid: &str) -> Value {
    let rsa = key.rsa().unwrap();
    json!({"kty": "RSA", "use": "sig", "kid": kid, "n": b64(&rsa.n().to_vec()), "e": b64(&rsa.e().to_vec())})
}

pub fn ec_jwk(key: &PKey<Private>, kid: &str) -> Value {
    let ec = key.ec_key().unwrap();
    let (crv, len) = match ec.group().curve_name().unwrap() {
        Nid::X9_62_PRIME256V1 => ("P-256", 32),
        Nid::SECP384R1 => ("P-384", 48),
        _ => ("P-521", 66),
    };
    let mut ctx = BigNumContext::new().unwrap();
    let mut x = openssl::bn::BigNum::new().unwrap();
    let mut y = openssl::bn::BigNum::new().unwrap();
    ec.public_key()
        .affine_coordinates(ec.group(), &mut x, &mut y, &mut ctx)
        .unwrap();
    json!({"kty": "EC", "crv": crv, "kid": kid,
           "x": b64(&x.to_vec_padded(len).unwrap()), "y": b64(&y.to_vec_padded(len).unwrap())})
}

/// Uncompressed SEC1 point, for tests that need raw EC public bytes.
pub fn ec_point(key: &PKey<Private>) -> Vec<u8> {
    let ec = key.ec_key().unwrap();
    let mut ctx = BigNumContext::new().unwrap();
    ec.public_key()
        .to_bytes(ec.group(), PointConversionForm::UNCOMPRESSED, &mut ctx)
        .unwrap()
}

pub fn jwks_doc(keys: &[Value]) -> Vec<u8> {
    serde_json::to_vec(&json!({ "keys": keys })).unwrap()
}

/// The provider's key set: RSA `rsa-1`, EC `ec-256`, `ec-384`, `ec-521`.
pub fn keyset() -> KeySet {
    KeySet::from_jwks(&jwks_doc(&[
        rsa_jwk(&RSA_KEY, "rsa-1"),
        ec_jwk(&EC256, "ec-256"),
        ec_jwk(&EC384, "ec-384"),
        ec_jwk(&EC521, "ec-521"),
    ]))
    .unwrap()
}

/// A policy that pins every algorithm the tests use.
pub fn policy() -> IdTokenPolicy {
    let mut policy = IdTokenPolicy::default();
    policy.jws.allowed_algs = vec![
        JwsAlg::RS256,
        JwsAlg::RS384,
        JwsAlg::RS512,
        JwsAlg::PS256,
        JwsAlg::PS384,
        JwsAlg::PS512,
        JwsAlg::ES256,
        JwsAlg::ES384,
        JwsAlg::ES512,
    ];
    policy
}

pub fn expect() -> Expectations<'static> {
    Expectations::new(ISS, CLIENT, NONCE).with_access_token(ACCESS_TOKEN)
}

pub fn header(alg: JwsAlg, kid: &str) -> Value {
    json!({"alg": alg.as_str(), "kid": kid, "typ": "JWT"})
}

pub fn claims(alg: JwsAlg) -> Value {
    json!({
        "iss": ISS,
        "sub": "f1e2d3c4-alice",
        "aud": CLIENT,
        "exp": at(300),
        "iat": at(-10),
        "auth_time": at(-20),
        "nonce": NONCE,
        "at_hash": token_hash(alg, ACCESS_TOKEN).unwrap(),
        "email": "alice@corp.example",
        "email_verified": true,
        "name": "Alice Example",
        "groups": ["aws-admins", "developers"],
        "realm_access": {"roles": ["offline_access", "aws-auditors"]}
    })
}

/// Raw signature bytes in JOSE form (ECDSA: r‖s).
pub fn sign(key: &PKey<Private>, alg: JwsAlg, input: &[u8]) -> Vec<u8> {
    let der = sign_der(key, alg, input);
    match alg {
        JwsAlg::ES256 | JwsAlg::ES384 | JwsAlg::ES512 => {
            let len = match alg {
                JwsAlg::ES256 => 32,
                JwsAlg::ES384 => 48,
                _ => 66,
            };
            let sig = EcdsaSig::from_der(&der).unwrap();
            let mut out = sig.r().to_vec_padded(len).unwrap();
            out.extend(sig.s().to_vec_padded(len).unwrap());
            out
        }
        _ => der,
    }
}

/// What openssl produces: for ECDSA a DER SEQUENCE (the wrong encoding for JWS).
pub fn sign_der(key: &PKey<Private>, alg: JwsAlg, input: &[u8]) -> Vec<u8> {
    let md = alg.sha().digest();
    let mut signer = Signer::new(md, key).unwrap();
    if matches!(alg, JwsAlg::PS256 | JwsAlg::PS384 | JwsAlg::PS512) {
        signer.set_rsa_padding(Padding::PKCS1_PSS).unwrap();
        signer
            .set_rsa_pss_saltlen(RsaPssSaltlen::DIGEST_LENGTH)
            .unwrap();
        signer.set_rsa_mgf1_md(md).unwrap();
    }
    signer.update(input).unwrap();
    signer.sign_to_vec().unwrap()
}

/// A compact JWS from raw header and payload text (so tests can write duplicate members).
pub fn token_text(header: &str, payload: &str, key: &PKey<Private>, alg: JwsAlg) -> String {
    let input = format!("{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()));
    let sig = sign(key, alg, input.as_bytes());
    format!("{input}.{}", b64(&sig))
}

pub fn token(header: &Value, claims: &Value, key: &PKey<Private>, alg: JwsAlg) -> String {
    token_text(&header.to_string(), &claims.to_string(), key, alg)
}

/// The provider's good RS256 token, with claims changed by `edit`.
pub fn rs256_with(edit: impl FnOnce(&mut serde_json::Map<String, Value>)) -> String {
    let mut c = claims(JwsAlg::RS256);
    if let Value::Object(map) = &mut c {
        edit(map);
    }
    token(&header(JwsAlg::RS256, "rsa-1"), &c, &RSA_KEY, JwsAlg::RS256)
}

/// An HMAC-SHA "signature" with `secret` as the key.
pub fn hmac(md: MessageDigest, secret: &[u8], input: &[u8]) -> Vec<u8> {
    let key = PKey::hmac(secret).unwrap();
    let mut signer = Signer::new(md, &key).unwrap();
    signer.update(input).unwrap();
    signer.sign_to_vec().unwrap()
}
