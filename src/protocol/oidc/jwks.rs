//! A provider's JWKS (RFC 7517) turned into verification keys.
//!
//! The JWKS is the only source of keys: it comes from the provider's pinned `jwks_uri` (or from
//! configuration). Keys that cannot serve to verify an ID token are skipped and reported (not
//! fatal: a provider may publish encryption keys or key types we do not implement next to its
//! signing keys); a document that is not a JWKS at all, is too large, or leaves no usable key is
//! an error, so the caller keeps the key set it had.
//!
//! Rules:
//! - at most [`MAX_JWKS_BYTES`] bytes and [`MAX_JWKS_KEYS`] entries in `keys`; duplicate JSON
//!   member names anywhere are an error;
//! - `use` other than `sig`, or `key_ops` without `verify` → skipped;
//! - `kty` `RSA` (`n`, `e`; 2048 ≤ bits ≤ 8192; odd `e` ≥ 3) and `EC` with `crv` P-256/P-384/P-521
//!   (`x`, `y` of the exact coordinate length, point on the curve); anything else → skipped;
//! - a key that also carries private parameters (`d`, `p`, …) is skipped: it is compromised;
//! - `alg`, when present, must be one of [`JwsAlg`] and fit the key type, and then restricts the
//!   key to that algorithm; `kid` is kept; `x5c`/`x5t` members are ignored (the key is `n`/`e` or
//!   `x`/`y`);
//! - two usable keys of the same family with the same `kid` → error (selection would be ambiguous).
//!
//! Base64url in JWK parameters is decoded padding-indifferent (the document is fetched from the
//! pinned URL over TLS; tolerance there costs nothing), while tokens are decoded strictly.

use super::alg::{EcCurve, JwsAlg, KeyFamily};
use super::json::{StrictJsonError, parse_object};
use super::jws::JwsError;
use base64::Engine as _;
use base64::alphabet::URL_SAFE;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::nid::Nid;
use openssl::pkey::{Id, PKey, Public};
use openssl::rsa::Rsa;
use serde_json::{Map, Value};
use std::fmt;

/// Largest JWKS document accepted.
pub const MAX_JWKS_BYTES: usize = 64 * 1024;
/// Most entries accepted in `keys` (usable or not).
pub const MAX_JWKS_KEYS: usize = 50;
/// Smallest RSA modulus accepted.
pub const MIN_RSA_BITS: u32 = 2048;
/// Largest RSA modulus accepted (bounds the cost of a verification).
pub const MAX_RSA_BITS: u32 = 8192;
const MAX_KID_LEN: usize = 1024;

const JWK_B64: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Why a JWKS document was refused as a whole.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum JwksError {
    #[error("JWKS is {size} bytes; the limit is {limit}")]
    TooLarge { size: usize, limit: usize },
    #[error("JWKS is not a JSON object with a keys array: {0}")]
    Malformed(String),
    #[error("JWKS repeats the member name {0:?}")]
    DuplicateMember(String),
    #[error("JWKS has {0} keys; the limit is {MAX_JWKS_KEYS}")]
    TooManyKeys(usize),
    #[error("JWKS has two usable keys with kid {0:?}")]
    DuplicateKid(String),
    #[error("JWKS has no key usable for ID token signatures")]
    NoUsableKeys,
    #[error("key is not usable: {0}")]
    UnusableKey(SkipReason),
}

impl JwksError {
    /// A stable identifier for logs, audit rows and tests.
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooLarge { .. } => "jwks.too_large",
            Self::Malformed(_) => "jwks.malformed",
            Self::DuplicateMember(_) => "jwks.duplicate_member",
            Self::TooManyKeys(_) => "jwks.too_many_keys",
            Self::DuplicateKid(_) => "jwks.duplicate_kid",
            Self::NoUsableKeys => "jwks.no_usable_keys",
            Self::UnusableKey(_) => "jwks.unusable_key",
        }
    }
}

/// Why one JWKS entry was skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    NotAnObject,
    /// `use` is present and not `sig`.
    NotForSignatures(String),
    /// `key_ops` is present and lacks `verify`.
    NoVerifyOp,
    UnsupportedKty(String),
    UnsupportedCurve(String),
    UnsupportedAlg(String),
    /// `alg` names an algorithm of another key type or curve.
    AlgDoesNotFitKey(JwsAlg),
    /// A member is missing, has the wrong JSON type or bad base64url.
    BadParameter(&'static str),
    RsaTooSmall(u32),
    RsaTooLarge(u32),
    BadRsaExponent,
    /// The point is not on the curve (or openssl refused it).
    InvalidEcPoint,
    /// Private key parameters were published: the key is compromised.
    PrivateMaterial,
}

impl SkipReason {
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotAnObject => "not_an_object",
            Self::NotForSignatures(_) => "not_for_signatures",
            Self::NoVerifyOp => "no_verify_op",
            Self::UnsupportedKty(_) => "unsupported_kty",
            Self::UnsupportedCurve(_) => "unsupported_curve",
            Self::UnsupportedAlg(_) => "unsupported_alg",
            Self::AlgDoesNotFitKey(_) => "alg_does_not_fit_key",
            Self::BadParameter(_) => "bad_parameter",
            Self::RsaTooSmall(_) => "rsa_too_small",
            Self::RsaTooLarge(_) => "rsa_too_large",
            Self::BadRsaExponent => "bad_rsa_exponent",
            Self::InvalidEcPoint => "invalid_ec_point",
            Self::PrivateMaterial => "private_material",
        }
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotForSignatures(u) => write!(f, "use {u:?} is not sig"),
            Self::UnsupportedKty(k) => write!(f, "unsupported kty {k:?}"),
            Self::UnsupportedCurve(c) => write!(f, "unsupported crv {c:?}"),
            Self::UnsupportedAlg(a) => write!(f, "unsupported alg {a:?}"),
            Self::AlgDoesNotFitKey(a) => write!(f, "alg {a} does not fit the key"),
            Self::BadParameter(p) => write!(f, "bad parameter {p}"),
            Self::RsaTooSmall(b) => write!(f, "RSA key of {b} bits is below {MIN_RSA_BITS}"),
            Self::RsaTooLarge(b) => write!(f, "RSA key of {b} bits is above {MAX_RSA_BITS}"),
            other => f.write_str(other.code()),
        }
    }
}

/// A JWKS entry that was not turned into a key, for logging.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedKey {
    /// Position in the `keys` array.
    pub index: usize,
    pub kid: Option<String>,
    pub reason: SkipReason,
}

#[derive(Clone)]
pub(super) enum KeyMaterial {
    Rsa { key: PKey<Public>, bits: u32 },
    Ec { curve: EcCurve, key: EcKey<Public> },
}

/// One public key usable to verify ID token signatures.
#[derive(Clone)]
pub struct VerificationKey {
    kid: Option<String>,
    alg: Option<JwsAlg>,
    material: KeyMaterial,
}

impl fmt::Debug for VerificationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.material {
            KeyMaterial::Rsa { bits, .. } => format!("RSA-{bits}"),
            KeyMaterial::Ec { curve, .. } => format!("EC-{}", curve.name()),
        };
        f.debug_struct("VerificationKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("kind", &kind)
            .finish()
    }
}

impl VerificationKey {
    /// An RSA key from its big-endian modulus and exponent.
    pub fn rsa(
        kid: Option<String>,
        alg: Option<JwsAlg>,
        n: &[u8],
        e: &[u8],
    ) -> Result<Self, SkipReason> {
        let material = rsa_material(n, e)?;
        Self::with_alg(kid, alg, material)
    }

    /// An EC key from its affine coordinates (each exactly the curve's coordinate length).
    pub fn ec(
        kid: Option<String>,
        alg: Option<JwsAlg>,
        curve: EcCurve,
        x: &[u8],
        y: &[u8],
    ) -> Result<Self, SkipReason> {
        let material = ec_material(curve, x, y)?;
        Self::with_alg(kid, alg, material)
    }

    /// A key pinned in configuration as a PEM `PUBLIC KEY` (SubjectPublicKeyInfo).
    pub fn from_public_pem(
        kid: Option<String>,
        alg: Option<JwsAlg>,
        pem: &[u8],
    ) -> Result<Self, SkipReason> {
        let pkey = PKey::public_key_from_pem(pem).map_err(|_| SkipReason::BadParameter("pem"))?;
        let material = match pkey.id() {
            Id::RSA => {
                let rsa = pkey.rsa().map_err(|_| SkipReason::BadParameter("pem"))?;
                rsa_material(&rsa.n().to_vec(), &rsa.e().to_vec())?
            }
            Id::EC => {
                let ec = pkey.ec_key().map_err(|_| SkipReason::BadParameter("pem"))?;
                let curve = match ec.group().curve_name() {
                    Some(Nid::X9_62_PRIME256V1) => EcCurve::P256,
                    Some(Nid::SECP384R1) => EcCurve::P384,
                    Some(Nid::SECP521R1) => EcCurve::P521,
                    _ => return Err(SkipReason::UnsupportedCurve("pem".into())),
                };
                ec.check_key().map_err(|_| SkipReason::InvalidEcPoint)?;
                KeyMaterial::Ec { curve, key: ec }
            }
            _ => return Err(SkipReason::UnsupportedKty("pem".into())),
        };
        Self::with_alg(kid, alg, material)
    }

    fn with_alg(
        kid: Option<String>,
        alg: Option<JwsAlg>,
        material: KeyMaterial,
    ) -> Result<Self, SkipReason> {
        let key = Self { kid, alg, material };
        if let Some(alg) = alg
            && alg.family() != key.family()
        {
            return Err(SkipReason::AlgDoesNotFitKey(alg));
        }
        Ok(key)
    }

    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The JWK `alg`, if the key is restricted to one algorithm.
    pub fn alg(&self) -> Option<JwsAlg> {
        self.alg
    }

    pub fn family(&self) -> KeyFamily {
        match &self.material {
            KeyMaterial::Rsa { .. } => KeyFamily::Rsa,
            KeyMaterial::Ec { curve, .. } => KeyFamily::Ec(*curve),
        }
    }

    /// Whether a signature made with `alg` may be checked against this key.
    pub fn fits(&self, alg: JwsAlg) -> bool {
        alg.family() == self.family() && self.alg.is_none_or(|pinned| pinned == alg)
    }

    pub(super) fn material(&self) -> &KeyMaterial {
        &self.material
    }
}

fn rsa_material(n: &[u8], e: &[u8]) -> Result<KeyMaterial, SkipReason> {
    let n = BigNum::from_slice(n).map_err(|_| SkipReason::BadParameter("n"))?;
    let bits = u32::try_from(n.num_bits()).map_err(|_| SkipReason::BadParameter("n"))?;
    if bits < MIN_RSA_BITS {
        return Err(SkipReason::RsaTooSmall(bits));
    }
    if bits > MAX_RSA_BITS {
        return Err(SkipReason::RsaTooLarge(bits));
    }
    let e = BigNum::from_slice(e).map_err(|_| SkipReason::BadParameter("e"))?;
    if e.num_bits() < 2 || e.num_bits() > 64 || !e.is_bit_set(0) {
        return Err(SkipReason::BadRsaExponent);
    }
    let rsa = Rsa::from_public_components(n, e).map_err(|_| SkipReason::BadParameter("n"))?;
    let key = PKey::from_rsa(rsa).map_err(|_| SkipReason::BadParameter("n"))?;
    Ok(KeyMaterial::Rsa { key, bits })
}

fn ec_material(curve: EcCurve, x: &[u8], y: &[u8]) -> Result<KeyMaterial, SkipReason> {
    if x.len() != curve.coordinate_len() {
        return Err(SkipReason::BadParameter("x"));
    }
    if y.len() != curve.coordinate_len() {
        return Err(SkipReason::BadParameter("y"));
    }
    let nid = match curve {
        EcCurve::P256 => Nid::X9_62_PRIME256V1,
        EcCurve::P384 => Nid::SECP384R1,
        EcCurve::P521 => Nid::SECP521R1,
    };
    let group = EcGroup::from_curve_name(nid).map_err(|_| SkipReason::InvalidEcPoint)?;
    let x = BigNum::from_slice(x).map_err(|_| SkipReason::BadParameter("x"))?;
    let y = BigNum::from_slice(y).map_err(|_| SkipReason::BadParameter("y"))?;
    let key = EcKey::from_public_key_affine_coordinates(&group, &x, &y)
        .map_err(|_| SkipReason::InvalidEcPoint)?;
    key.check_key().map_err(|_| SkipReason::InvalidEcPoint)?;
    Ok(KeyMaterial::Ec { curve, key })
}

/// The verification keys of one provider.
#[derive(Clone, Debug, Default)]
pub struct KeySet {
    keys: Vec<VerificationKey>,
    skipped: Vec<SkippedKey>,
}

impl KeySet {
    /// Parses a JWKS document (see the module documentation for the rules).
    pub fn from_jwks(document: &[u8]) -> Result<Self, JwksError> {
        if document.len() > MAX_JWKS_BYTES {
            return Err(JwksError::TooLarge {
                size: document.len(),
                limit: MAX_JWKS_BYTES,
            });
        }
        let root = parse_object(document).map_err(|e| match e {
            StrictJsonError::DuplicateMember(name) => JwksError::DuplicateMember(name),
            StrictJsonError::NotObject => JwksError::Malformed("not an object".into()),
            StrictJsonError::Syntax(s) => JwksError::Malformed(s),
        })?;
        let Some(Value::Array(entries)) = root.get("keys") else {
            return Err(JwksError::Malformed("no keys array".into()));
        };
        if entries.len() > MAX_JWKS_KEYS {
            return Err(JwksError::TooManyKeys(entries.len()));
        }
        let mut keys = Vec::new();
        let mut skipped = Vec::new();
        for (index, entry) in entries.iter().enumerate() {
            let kid = entry
                .get("kid")
                .and_then(Value::as_str)
                .map(|s| s.chars().take(MAX_KID_LEN).collect());
            match parse_jwk(entry) {
                Ok(key) => keys.push(key),
                Err(reason) => skipped.push(SkippedKey { index, kid, reason }),
            }
        }
        let mut set = Self::from_keys(keys)?;
        set.skipped = skipped;
        Ok(set)
    }

    /// A key set from keys built elsewhere (e.g. PEM keys pinned in configuration).
    pub fn from_keys(keys: Vec<VerificationKey>) -> Result<Self, JwksError> {
        if keys.is_empty() {
            return Err(JwksError::NoUsableKeys);
        }
        for (i, a) in keys.iter().enumerate() {
            let Some(kid) = a.kid() else { continue };
            let clash = keys
                .iter()
                .skip(i.saturating_add(1))
                .any(|b| b.kid() == Some(kid) && b.family() == a.family());
            if clash {
                return Err(JwksError::DuplicateKid(kid.to_owned()));
            }
        }
        Ok(Self {
            keys,
            skipped: Vec::new(),
        })
    }

    pub fn keys(&self) -> &[VerificationKey] {
        &self.keys
    }

    /// JWKS entries that were not usable, for logging when a JWKS is (re)loaded.
    pub fn skipped(&self) -> &[SkippedKey] {
        &self.skipped
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Whether any key carries this `kid` (used to decide on a JWKS refresh).
    pub fn contains_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid() == Some(kid))
    }

    /// The one key that may verify a token signed with `alg` and carrying `kid`.
    ///
    /// - With a `kid`: the key with that `kid` that fits `alg`. No key with that `kid` at all →
    ///   [`JwsError::UnknownKid`] (the caller may refresh the JWKS once, rate-limited, and retry);
    ///   keys with that `kid` exist but none fits `alg` → [`JwsError::KeyAlgMismatch`].
    /// - Without a `kid`: allowed only if exactly one key fits `alg`; none →
    ///   [`JwsError::NoKeyForAlg`], several → [`JwsError::AmbiguousKey`].
    pub fn select(&self, kid: Option<&str>, alg: JwsAlg) -> Result<&VerificationKey, JwsError> {
        match kid {
            Some(kid) => {
                let mut named = self.keys.iter().filter(|k| k.kid() == Some(kid)).peekable();
                if named.peek().is_none() {
                    return Err(JwsError::UnknownKid(kid.to_owned()));
                }
                named
                    .find(|k| k.fits(alg))
                    .ok_or(JwsError::KeyAlgMismatch(alg))
            }
            None => {
                let mut fitting = self.keys.iter().filter(|k| k.fits(alg));
                match (fitting.next(), fitting.next()) {
                    (Some(key), None) => Ok(key),
                    (None, _) => Err(JwsError::NoKeyForAlg(alg)),
                    (Some(_), Some(_)) => Err(JwsError::AmbiguousKey(alg)),
                }
            }
        }
    }
}

fn parse_jwk(entry: &Value) -> Result<VerificationKey, SkipReason> {
    let Value::Object(jwk) = entry else {
        return Err(SkipReason::NotAnObject);
    };
    if let Some(usage) = jwk.get("use") {
        match usage.as_str() {
            Some("sig") => {}
            Some(other) => return Err(SkipReason::NotForSignatures(other.to_owned())),
            None => return Err(SkipReason::BadParameter("use")),
        }
    }
    if let Some(ops) = jwk.get("key_ops") {
        let Value::Array(ops) = ops else {
            return Err(SkipReason::BadParameter("key_ops"));
        };
        if !ops.iter().any(|op| op.as_str() == Some("verify")) {
            return Err(SkipReason::NoVerifyOp);
        }
    }
    let kid = match jwk.get("kid") {
        None => None,
        Some(Value::String(kid)) if !kid.is_empty() && kid.len() <= MAX_KID_LEN => {
            Some(kid.clone())
        }
        Some(_) => return Err(SkipReason::BadParameter("kid")),
    };
    let alg = match jwk.get("alg") {
        None => None,
        Some(Value::String(alg)) => {
            Some(JwsAlg::parse(alg).map_err(|_| SkipReason::UnsupportedAlg(alg.clone()))?)
        }
        Some(_) => return Err(SkipReason::BadParameter("alg")),
    };
    let kty = jwk
        .get("kty")
        .and_then(Value::as_str)
        .ok_or(SkipReason::BadParameter("kty"))?;
    match kty {
        "RSA" => {
            let private = ["d", "p", "q", "dp", "dq", "qi", "oth"];
            if private.iter().any(|p| jwk.contains_key(*p)) {
                return Err(SkipReason::PrivateMaterial);
            }
            let n = b64_member(jwk, "n")?;
            let e = b64_member(jwk, "e")?;
            VerificationKey::rsa(kid, alg, &n, &e)
        }
        "EC" => {
            if jwk.contains_key("d") {
                return Err(SkipReason::PrivateMaterial);
            }
            let crv = jwk
                .get("crv")
                .and_then(Value::as_str)
                .ok_or(SkipReason::BadParameter("crv"))?;
            let curve = match crv {
                "P-256" => EcCurve::P256,
                "P-384" => EcCurve::P384,
                "P-521" => EcCurve::P521,
                other => return Err(SkipReason::UnsupportedCurve(other.to_owned())),
            };
            let x = b64_member(jwk, "x")?;
            let y = b64_member(jwk, "y")?;
            VerificationKey::ec(kid, alg, curve, &x, &y)
        }
        other => Err(SkipReason::UnsupportedKty(other.to_owned())),
    }
}

fn b64_member(jwk: &Map<String, Value>, name: &'static str) -> Result<Vec<u8>, SkipReason> {
    let text = jwk
        .get(name)
        .and_then(Value::as_str)
        .ok_or(SkipReason::BadParameter(name))?;
    let bytes = JWK_B64
        .decode(text)
        .map_err(|_| SkipReason::BadParameter(name))?;
    if bytes.is_empty() {
        return Err(SkipReason::BadParameter(name));
    }
    Ok(bytes)
}
