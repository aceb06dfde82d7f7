//! Compact JWS (RFC 7515 §7.1) verification against a pinned key set. No JWE, no JSON
//! serialization, no unsecured JWS.
//!
//! Order of work (each step refuses before the next runs):
//! 1. total size ≤ [`JwsPolicy::max_token_bytes`];
//! 2. exactly three segments, each strict base64url (URL-safe alphabet, no padding, no
//!    whitespace, canonical trailing bits);
//! 3. header: one JSON object, no duplicate member names; `alg` must parse as a [`JwsAlg`]
//!    (`none` and `HS*` are refused here, before any key is looked at — an HMAC "signed" with a
//!    public key is the key-confusion attack) and be in the provider's pinned allow-list;
//!    `crit` non-empty → refused; `cty`/`zip`/`enc`, `b64` other than `true` → refused; `typ`, if
//!    present, must be `JWT` or `application/jwt` (any case), which refuses typed tokens of another
//!    kind such as `at+jwt` or `logout+jwt`;
//! 4. `jku`, `x5u`, `jwk`, `x5c` are never used to find a key. By default
//!    ([`EmbeddedKeyHeaders::Reject`]) their mere presence refuses the token: no mainstream
//!    provider puts them in ID tokens, and a token offering its own key is an attack or a
//!    misconfiguration. [`EmbeddedKeyHeaders::Ignore`] lets such tokens through to verification
//!    against the pinned key set only (`x5t`/`x5t#S256` thumbprints are always ignored);
//! 5. the key is chosen by `kid` and `alg` from the [`KeySet`] ([`KeySet::select`]);
//! 6. the signature is verified (RSA: length = modulus length; ECDSA: JOSE `r‖s` of exactly twice
//!    the coordinate length — a DER signature is refused);
//! 7. only then is the payload decoded: one JSON object, no duplicate member names.

use super::alg::{AlgRefusal, JwsAlg};
use super::json::{StrictJsonError, parse_object};
use super::jwks::{KeyMaterial, KeySet, VerificationKey};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openssl::bn::BigNum;
use openssl::ecdsa::EcdsaSig;
use openssl::rsa::Padding;
use openssl::sign::{RsaPssSaltlen, Verifier};
use serde_json::{Map, Value};
use std::fmt;

/// Default limit on the compact serialization, in bytes.
pub const DEFAULT_MAX_TOKEN_BYTES: usize = 16 * 1024;
/// The largest limit a policy may set.
pub const MAX_TOKEN_BYTES_CEILING: usize = 64 * 1024;
const MAX_KID_LEN: usize = 1024;

/// Header members that carry or point at a key.
pub const EMBEDDED_KEY_HEADERS: [&str; 4] = ["jku", "x5u", "jwk", "x5c"];

/// What to do with a token whose header offers a key (`jku`, `x5u`, `jwk`, `x5c`).
/// Either way such a key is never used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EmbeddedKeyHeaders {
    /// Refuse the token (`jws.embedded_key_header`). Default.
    #[default]
    Reject,
    /// Ignore the members and verify against the pinned key set.
    Ignore,
}

/// Per-provider JWS rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwsPolicy {
    /// Pinned algorithms. Default: RS256 only (the OIDC default `id_token_signed_response_alg`).
    pub allowed_algs: Vec<JwsAlg>,
    /// Largest compact serialization accepted. Default [`DEFAULT_MAX_TOKEN_BYTES`].
    pub max_token_bytes: usize,
    pub embedded_key_headers: EmbeddedKeyHeaders,
}

impl Default for JwsPolicy {
    fn default() -> Self {
        Self {
            allowed_algs: vec![JwsAlg::RS256],
            max_token_bytes: DEFAULT_MAX_TOKEN_BYTES,
            embedded_key_headers: EmbeddedKeyHeaders::Reject,
        }
    }
}

impl JwsPolicy {
    /// Checks the policy itself: at least one algorithm, a size limit in 1 KiB ..= 64 KiB.
    pub fn validate(&self) -> Result<(), JwsError> {
        if self.allowed_algs.is_empty() {
            return Err(JwsError::Policy("no allowed algorithms".into()));
        }
        if !(1024..=MAX_TOKEN_BYTES_CEILING).contains(&self.max_token_bytes) {
            return Err(JwsError::Policy(format!(
                "max_token_bytes {} outside 1024..={MAX_TOKEN_BYTES_CEILING}",
                self.max_token_bytes
            )));
        }
        Ok(())
    }
}

/// The three parts of a compact JWS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Header,
    Payload,
    Signature,
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Header => "header",
            Self::Payload => "payload",
            Self::Signature => "signature",
        })
    }
}

/// Why a compact JWS was refused.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum JwsError {
    #[error("JWS policy is invalid: {0}")]
    Policy(String),
    #[error("token is {size} bytes; the limit is {limit}")]
    TooLarge { size: usize, limit: usize },
    #[error("token has {0} segments; a compact JWS has exactly 3")]
    SegmentCount(usize),
    #[error("{0} is not unpadded base64url")]
    Base64(Part),
    #[error("{part} is not a JSON object: {detail}")]
    Json { part: Part, detail: String },
    #[error("{part} repeats the member name {name:?}")]
    DuplicateMember { part: Part, name: String },
    #[error("header member {0} is missing or malformed")]
    BadHeader(&'static str),
    #[error("alg none is never accepted")]
    AlgNone,
    #[error("HMAC alg {0:?} is never accepted (key confusion)")]
    AlgHmac(String),
    #[error("alg {0:?} is not supported")]
    AlgUnsupported(String),
    #[error("alg {0} is not allowed for this provider")]
    AlgNotAllowed(JwsAlg),
    #[error("critical header extensions are not supported: {0:?}")]
    Crit(Vec<String>),
    #[error("header offers a key in {0:?}; keys come from the pinned JWKS only")]
    EmbeddedKeyHeader(&'static str),
    #[error("typ {0:?} is not an ID token type")]
    Typ(String),
    #[error("header member {0:?} is not supported")]
    UnsupportedHeader(String),
    #[error("no key with kid {0:?}")]
    UnknownKid(String),
    #[error("the key named by kid does not fit alg {0}")]
    KeyAlgMismatch(JwsAlg),
    #[error("no key fits alg {0}")]
    NoKeyForAlg(JwsAlg),
    #[error("token has no kid and several keys fit alg {0}")]
    AmbiguousKey(JwsAlg),
    #[error("signature has the wrong length or encoding for its alg")]
    SignatureEncoding,
    #[error("signature does not verify")]
    BadSignature,
}

impl JwsError {
    /// A stable identifier for logs, audit rows and tests.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Policy(_) => "jws.policy",
            Self::TooLarge { .. } => "jws.too_large",
            Self::SegmentCount(_) => "jws.segments",
            Self::Base64(_) => "jws.base64",
            Self::Json { .. } => "jws.json",
            Self::DuplicateMember { .. } => "jws.duplicate_member",
            Self::BadHeader(_) => "jws.bad_header",
            Self::AlgNone => "jws.alg_none",
            Self::AlgHmac(_) => "jws.alg_hmac",
            Self::AlgUnsupported(_) => "jws.alg_unsupported",
            Self::AlgNotAllowed(_) => "jws.alg_not_allowed",
            Self::Crit(_) => "jws.crit",
            Self::EmbeddedKeyHeader(_) => "jws.embedded_key_header",
            Self::Typ(_) => "jws.typ",
            Self::UnsupportedHeader(_) => "jws.unsupported_header",
            Self::UnknownKid(_) => "jws.unknown_kid",
            Self::KeyAlgMismatch(_) => "jws.key_alg_mismatch",
            Self::NoKeyForAlg(_) => "jws.no_key_for_alg",
            Self::AmbiguousKey(_) => "jws.ambiguous_key",
            Self::SignatureEncoding => "jws.signature_encoding",
            Self::BadSignature => "jws.bad_signature",
        }
    }

    /// Whether fetching the provider's JWKS again (once, rate-limited) might help: the token
    /// names a key we do not have, or (without `kid`) no key fits its algorithm.
    pub fn suggests_jwks_refresh(&self) -> bool {
        matches!(self, Self::UnknownKid(_) | Self::NoKeyForAlg(_))
    }
}

/// The checked JOSE header.
#[derive(Debug, Clone, PartialEq)]
pub struct JoseHeader {
    pub alg: JwsAlg,
    pub kid: Option<String>,
    pub typ: Option<String>,
    /// Every member, as sent.
    pub raw: Map<String, Value>,
}

/// A verified compact JWS.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedJws {
    pub header: JoseHeader,
    /// The payload object (no duplicate member names at any depth).
    pub payload: Map<String, Value>,
}

struct Segments<'a> {
    header: &'a str,
    payload: &'a str,
    signature: &'a str,
    signing_input: &'a str,
}

fn split(token: &str, max_bytes: usize) -> Result<Segments<'_>, JwsError> {
    if token.len() > max_bytes {
        return Err(JwsError::TooLarge {
            size: token.len(),
            limit: max_bytes,
        });
    }
    let segment_count = token.matches('.').count().saturating_add(1);
    let Some((signing_input, signature)) = token.rsplit_once('.') else {
        return Err(JwsError::SegmentCount(segment_count));
    };
    let Some((header, payload)) = signing_input.split_once('.') else {
        return Err(JwsError::SegmentCount(segment_count));
    };
    if payload.contains('.') {
        return Err(JwsError::SegmentCount(segment_count));
    }
    Ok(Segments {
        header,
        payload,
        signature,
        signing_input,
    })
}

fn b64(segment: &str, part: Part) -> Result<Vec<u8>, JwsError> {
    if segment.is_empty() {
        return Err(JwsError::Base64(part));
    }
    URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| JwsError::Base64(part))
}

fn json_object(bytes: &[u8], part: Part) -> Result<Map<String, Value>, JwsError> {
    parse_object(bytes).map_err(|e| match e {
        StrictJsonError::DuplicateMember(name) => JwsError::DuplicateMember { part, name },
        StrictJsonError::NotObject => JwsError::Json {
            part,
            detail: "not an object".into(),
        },
        StrictJsonError::Syntax(detail) => JwsError::Json { part, detail },
    })
}

fn check_header(raw: Map<String, Value>, policy: &JwsPolicy) -> Result<JoseHeader, JwsError> {
    let alg = match raw.get("alg") {
        Some(Value::String(alg)) => JwsAlg::parse(alg).map_err(|refusal| match refusal {
            AlgRefusal::None => JwsError::AlgNone,
            AlgRefusal::Hmac(a) => JwsError::AlgHmac(a),
            AlgRefusal::Unsupported(a) => JwsError::AlgUnsupported(a),
        })?,
        _ => return Err(JwsError::BadHeader("alg")),
    };
    if !policy.allowed_algs.contains(&alg) {
        return Err(JwsError::AlgNotAllowed(alg));
    }
    match raw.get("crit") {
        None => {}
        Some(Value::Array(names)) if names.is_empty() => {}
        Some(Value::Array(names)) => {
            let names = names
                .iter()
                .map(|n| n.as_str().unwrap_or("<not a string>").to_owned())
                .collect();
            return Err(JwsError::Crit(names));
        }
        Some(_) => return Err(JwsError::BadHeader("crit")),
    }
    if policy.embedded_key_headers == EmbeddedKeyHeaders::Reject
        && let Some(name) = EMBEDDED_KEY_HEADERS
            .iter()
            .find(|name| raw.contains_key(**name))
    {
        return Err(JwsError::EmbeddedKeyHeader(name));
    }
    for name in ["cty", "zip", "enc"] {
        if raw.contains_key(name) {
            return Err(JwsError::UnsupportedHeader(name.to_owned()));
        }
    }
    if let Some(b64) = raw.get("b64")
        && b64 != &Value::Bool(true)
    {
        return Err(JwsError::UnsupportedHeader("b64".to_owned()));
    }
    let typ = match raw.get("typ") {
        None => None,
        Some(Value::String(typ)) => {
            if !(typ.eq_ignore_ascii_case("JWT") || typ.eq_ignore_ascii_case("application/jwt")) {
                return Err(JwsError::Typ(typ.clone()));
            }
            Some(typ.clone())
        }
        Some(_) => return Err(JwsError::BadHeader("typ")),
    };
    let kid = match raw.get("kid") {
        None => None,
        Some(Value::String(kid)) if !kid.is_empty() && kid.len() <= MAX_KID_LEN => {
            Some(kid.clone())
        }
        Some(_) => return Err(JwsError::BadHeader("kid")),
    };
    Ok(JoseHeader { alg, kid, typ, raw })
}

/// Decodes and checks the header only — steps 1–4 — WITHOUT verifying anything. For logging
/// and for deciding on a JWKS refresh; never a basis for trust.
pub fn peek_header(token: &str, policy: &JwsPolicy) -> Result<JoseHeader, JwsError> {
    policy.validate()?;
    let segments = split(token, policy.max_token_bytes)?;
    let raw = json_object(&b64(segments.header, Part::Header)?, Part::Header)?;
    check_header(raw, policy)
}

/// Verifies a compact JWS against the pinned key set (steps 1–7 of the module documentation).
pub fn verify_compact(
    token: &str,
    policy: &JwsPolicy,
    keys: &KeySet,
) -> Result<VerifiedJws, JwsError> {
    policy.validate()?;
    let segments = split(token, policy.max_token_bytes)?;
    let header_bytes = b64(segments.header, Part::Header)?;
    let header = check_header(json_object(&header_bytes, Part::Header)?, policy)?;
    let signature = b64(segments.signature, Part::Signature)?;
    let key = keys.select(header.kid.as_deref(), header.alg)?;
    verify_signature(
        key,
        header.alg,
        segments.signing_input.as_bytes(),
        &signature,
    )?;
    let payload = json_object(&b64(segments.payload, Part::Payload)?, Part::Payload)?;
    Ok(VerifiedJws { header, payload })
}

fn verify_signature(
    key: &VerificationKey,
    alg: JwsAlg,
    signing_input: &[u8],
    signature: &[u8],
) -> Result<(), JwsError> {
    if !key.fits(alg) {
        return Err(JwsError::KeyAlgMismatch(alg));
    }
    let digest = alg.sha().digest();
    let valid = match key.material() {
        KeyMaterial::Rsa { key, bits } => {
            let modulus_len =
                usize::try_from(bits.div_ceil(8)).map_err(|_| JwsError::BadSignature)?;
            if signature.len() != modulus_len {
                return Err(JwsError::SignatureEncoding);
            }
            let pss = matches!(alg, JwsAlg::PS256 | JwsAlg::PS384 | JwsAlg::PS512);
            let run = || -> Result<bool, openssl::error::ErrorStack> {
                let mut verifier = Verifier::new(digest, key)?;
                if pss {
                    verifier.set_rsa_padding(Padding::PKCS1_PSS)?;
                    verifier.set_rsa_pss_saltlen(RsaPssSaltlen::DIGEST_LENGTH)?;
                    verifier.set_rsa_mgf1_md(digest)?;
                } else {
                    verifier.set_rsa_padding(Padding::PKCS1)?;
                }
                verifier.update(signing_input)?;
                verifier.verify(signature)
            };
            run()
        }
        KeyMaterial::Ec { curve, key } => {
            let half = curve.coordinate_len();
            if signature.len() != half.saturating_mul(2) {
                return Err(JwsError::SignatureEncoding);
            }
            let Some((r, s)) = signature.split_at_checked(half) else {
                return Err(JwsError::SignatureEncoding);
            };
            let run = || -> Result<bool, openssl::error::ErrorStack> {
                let sig = EcdsaSig::from_private_components(
                    BigNum::from_slice(r)?,
                    BigNum::from_slice(s)?,
                )?;
                let hash = openssl::hash::hash(digest, signing_input)?;
                sig.verify(&hash, key)
            };
            run()
        }
    };
    match valid {
        Ok(true) => Ok(()),
        // A false result and an openssl error (e.g. r or s out of range) are both "does not verify".
        Ok(false) | Err(_) => Err(JwsError::BadSignature),
    }
}
