//! The JWS algorithms Roleport accepts for ID tokens: asymmetric only.
//!
//! There is deliberately no `none` and no `HS*` variant: an allow-list of [`JwsAlg`] cannot
//! express them, so no configuration can re-open the `alg: none` or the RS256→HS256
//! key-confusion attack.

use openssl::hash::MessageDigest;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// An asymmetric JWS signature algorithm (RFC 7518 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum JwsAlg {
    RS256,
    RS384,
    RS512,
    PS256,
    PS384,
    PS512,
    ES256,
    ES384,
    ES512,
}

/// The elliptic curves of the `ES*` algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EcCurve {
    P256,
    P384,
    P521,
}

impl EcCurve {
    /// The JWK `crv` name.
    pub fn name(self) -> &'static str {
        match self {
            Self::P256 => "P-256",
            Self::P384 => "P-384",
            Self::P521 => "P-521",
        }
    }

    /// Bytes in one coordinate, and in each of `r` and `s` of a JOSE signature.
    pub fn coordinate_len(self) -> usize {
        match self {
            Self::P256 => 32,
            Self::P384 => 48,
            Self::P521 => 66,
        }
    }
}

/// The kind of key an algorithm needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyFamily {
    Rsa,
    Ec(EcCurve),
}

/// The SHA-2 function of an algorithm (also the hash of `at_hash` / `c_hash`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ShaBits {
    Sha256,
    Sha384,
    Sha512,
}

impl ShaBits {
    pub fn digest(self) -> MessageDigest {
        match self {
            Self::Sha256 => MessageDigest::sha256(),
            Self::Sha384 => MessageDigest::sha384(),
            Self::Sha512 => MessageDigest::sha512(),
        }
    }
}

/// How an `alg` header value was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlgRefusal {
    /// `none` (any letter case): an unsecured JWS.
    None,
    /// `HS256`/`HS384`/`HS512` (any letter case): an HMAC with a public key is the key-confusion attack.
    Hmac(String),
    /// Anything else we do not implement.
    Unsupported(String),
}

impl JwsAlg {
    pub const ALL: [JwsAlg; 9] = [
        Self::RS256,
        Self::RS384,
        Self::RS512,
        Self::PS256,
        Self::PS384,
        Self::PS512,
        Self::ES256,
        Self::ES384,
        Self::ES512,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::RS256 => "RS256",
            Self::RS384 => "RS384",
            Self::RS512 => "RS512",
            Self::PS256 => "PS256",
            Self::PS384 => "PS384",
            Self::PS512 => "PS512",
            Self::ES256 => "ES256",
            Self::ES384 => "ES384",
            Self::ES512 => "ES512",
        }
    }

    pub fn family(self) -> KeyFamily {
        match self {
            Self::RS256 | Self::RS384 | Self::RS512 | Self::PS256 | Self::PS384 | Self::PS512 => {
                KeyFamily::Rsa
            }
            Self::ES256 => KeyFamily::Ec(EcCurve::P256),
            Self::ES384 => KeyFamily::Ec(EcCurve::P384),
            Self::ES512 => KeyFamily::Ec(EcCurve::P521),
        }
    }

    pub fn sha(self) -> ShaBits {
        match self {
            Self::RS256 | Self::PS256 | Self::ES256 => ShaBits::Sha256,
            Self::RS384 | Self::PS384 | Self::ES384 => ShaBits::Sha384,
            Self::RS512 | Self::PS512 | Self::ES512 => ShaBits::Sha512,
        }
    }

    /// Parses a header or JWK `alg` value. Names are case-sensitive (RFC 7515 §4.1.1), but the
    /// refusal of `none`/`HS*` is case-insensitive so that `"None"` or `"hs256"` are reported as
    /// the attack they are rather than as "unsupported".
    pub fn parse(value: &str) -> Result<Self, AlgRefusal> {
        if let Some(alg) = Self::ALL.iter().copied().find(|a| a.as_str() == value) {
            return Ok(alg);
        }
        let upper = value.to_ascii_uppercase();
        if upper == "NONE" {
            Err(AlgRefusal::None)
        } else if upper.starts_with("HS") {
            Err(AlgRefusal::Hmac(value.to_owned()))
        } else {
            Err(AlgRefusal::Unsupported(value.to_owned()))
        }
    }
}

impl fmt::Display for JwsAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JwsAlg {
    type Err = AlgRefusal;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_table() {
        for alg in JwsAlg::ALL {
            assert_eq!(JwsAlg::parse(alg.as_str()), Ok(alg));
        }
        assert_eq!(JwsAlg::parse("none"), Err(AlgRefusal::None));
        assert_eq!(JwsAlg::parse("NoNe"), Err(AlgRefusal::None));
        assert_eq!(
            JwsAlg::parse("HS256"),
            Err(AlgRefusal::Hmac("HS256".into()))
        );
        assert_eq!(
            JwsAlg::parse("hs512"),
            Err(AlgRefusal::Hmac("hs512".into()))
        );
        assert_eq!(
            JwsAlg::parse("rs256"),
            Err(AlgRefusal::Unsupported("rs256".into()))
        );
        assert_eq!(
            JwsAlg::parse("EdDSA"),
            Err(AlgRefusal::Unsupported("EdDSA".into()))
        );
        assert_eq!(JwsAlg::parse(""), Err(AlgRefusal::Unsupported("".into())));
    }

    #[test]
    fn families_and_hashes() {
        assert_eq!(JwsAlg::PS384.family(), KeyFamily::Rsa);
        assert_eq!(JwsAlg::ES512.family(), KeyFamily::Ec(EcCurve::P521));
        assert_eq!(JwsAlg::ES384.sha(), ShaBits::Sha384);
        assert_eq!(EcCurve::P521.coordinate_len(), 66);
    }
}
