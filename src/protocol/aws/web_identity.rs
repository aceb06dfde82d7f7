//! Roleport as the OpenID provider AWS trusts (`oidc_broker`): the RS256 ID token it mints for
//! AssumeRoleWithWebIdentity, and its signing keys as a JWKS. Pure: the key and `now` are
//! parameters.
//!
//! AWS reads the session tags from `https://aws.amazon.com/tags` (`principal_tags`, each value
//! a one-element list, and `transitive_tag_keys`) and the source identity from
//! `https://aws.amazon.com/source_identity`; the token lives at most five minutes.

use super::{AwsRuleError, SessionTags, SourceIdentity, check_web_identity_token};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::sign::Signer;
use serde_json::{Map, Value, json};

/// The longest a minted ID token is valid: AWS only needs it for the one call.
pub const MAX_MINTED_TOKEN_SECONDS: i64 = 300;
/// AWS's claim for session tags in a web identity token.
pub const AWS_TAGS_CLAIM: &str = "https://aws.amazon.com/tags";
/// AWS's claim for the source identity in a web identity token.
pub const AWS_SOURCE_IDENTITY_CLAIM: &str = "https://aws.amazon.com/source_identity";

/// Why no token could be minted.
#[derive(Debug, thiserror::Error)]
pub enum MintError {
    #[error("the OIDC signing key is not an RSA key of at least 2048 bits")]
    NotRsa,
    #[error("signing the ID token failed: {0}")]
    Signing(String),
    #[error(transparent)]
    Rule(#[from] AwsRuleError),
}

/// An RSA public key as a JWK, with its RFC 7638 thumbprint as `kid`.
pub fn rsa_jwk(key: &PKey<Private>) -> Result<(String, Value), MintError> {
    let rsa = key.rsa().map_err(|_| MintError::NotRsa)?;
    if rsa.size() < 256 {
        return Err(MintError::NotRsa);
    }
    let n = URL_SAFE_NO_PAD.encode(rsa.n().to_vec());
    let e = URL_SAFE_NO_PAD.encode(rsa.e().to_vec());
    // RFC 7638 §3.2: the required members, lexicographic order, no whitespace.
    let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
    let digest = openssl::sha::sha256(canonical.as_bytes());
    let kid = URL_SAFE_NO_PAD.encode(digest);
    let jwk = json!({"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": n, "e": e});
    Ok((kid, jwk))
}

/// The JWKS document publishing every key (the first signs; the others stay for rotation).
pub fn jwks_document(keys: &[PKey<Private>]) -> Result<Value, MintError> {
    let keys = keys
        .iter()
        .map(|k| rsa_jwk(k).map(|(_, jwk)| jwk))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(json!({ "keys": keys }))
}

/// What goes into a minted ID token.
#[derive(Debug, Clone)]
pub struct WebIdentityClaims<'a> {
    pub issuer: &'a str,
    pub audience: &'a str,
    /// The person's stable id at the upstream IdP.
    pub subject: &'a str,
    pub source_identity: &'a SourceIdentity,
    pub tags: &'a SessionTags,
    /// A unique token id (the caller makes it random).
    pub jti: &'a str,
    pub now: DateTime<Utc>,
    /// Clamped to [`MAX_MINTED_TOKEN_SECONDS`].
    pub valid_for_seconds: i64,
}

/// Mints and signs (RS256) an ID token, then checks it with AWS's web identity token rules.
pub fn mint_web_identity_token(
    key: &PKey<Private>,
    claims: &WebIdentityClaims<'_>,
) -> Result<String, MintError> {
    let (kid, _) = rsa_jwk(key)?;
    let iat = claims.now.timestamp();
    let exp = iat + claims.valid_for_seconds.clamp(1, MAX_MINTED_TOKEN_SECONDS);
    let principal_tags: Map<String, Value> = claims
        .tags
        .tags()
        .iter()
        .map(|(k, v)| (k.clone(), json!([v])))
        .collect();
    let mut payload = json!({
        "iss": claims.issuer,
        "aud": claims.audience,
        "sub": claims.subject,
        "iat": iat,
        "nbf": iat,
        "exp": exp,
        "jti": claims.jti,
        AWS_SOURCE_IDENTITY_CLAIM: claims.source_identity.as_str(),
    });
    if let (false, Some(obj)) = (claims.tags.is_empty(), payload.as_object_mut()) {
        obj.insert(
            AWS_TAGS_CLAIM.into(),
            json!({
                "principal_tags": principal_tags,
                "transitive_tag_keys": claims.tags.transitive_keys(),
            }),
        );
    }
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": kid});
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(payload.to_string())
    );
    let sign = || -> Result<Vec<u8>, openssl::error::ErrorStack> {
        let mut signer = Signer::new(MessageDigest::sha256(), key)?;
        signer.update(signing_input.as_bytes())?;
        signer.sign_to_vec()
    };
    let signature = sign().map_err(|e| MintError::Signing(e.to_string()))?;
    let token = format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature));
    check_web_identity_token(&token)?;
    Ok(token)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use openssl::rsa::Rsa;
    use std::collections::BTreeMap;

    fn key() -> PKey<Private> {
        PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap()
    }

    fn part(token: &str, i: usize) -> Value {
        let p = token.split('.').nth(i).unwrap();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).unwrap()).unwrap()
    }

    #[test]
    fn minted_tokens_carry_the_aws_claims_and_verify() {
        let key = key();
        let mut tags = BTreeMap::new();
        tags.insert("team".to_string(), "platform".to_string());
        let tags = SessionTags::from_map(&tags, &["team".to_string()]).unwrap();
        let si = SourceIdentity::fit("uid-1@corp");
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let token = mint_web_identity_token(
            &key,
            &WebIdentityClaims {
                issuer: "https://roleport.example",
                audience: "sts.amazonaws.com",
                subject: "uid-1",
                source_identity: &si,
                tags: &tags,
                jti: "j1",
                now,
                valid_for_seconds: 3600,
            },
        )
        .unwrap();
        let header = part(&token, 0);
        let (kid, jwk) = rsa_jwk(&key).unwrap();
        assert_eq!(header["alg"], "RS256");
        assert_eq!(header["kid"], kid.as_str());
        let claims = part(&token, 1);
        assert_eq!(
            claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
            300
        );
        assert_eq!(claims["sub"], "uid-1");
        assert_eq!(
            claims[AWS_TAGS_CLAIM]["principal_tags"]["team"],
            json!(["platform"])
        );
        assert_eq!(
            claims[AWS_TAGS_CLAIM]["transitive_tag_keys"],
            json!(["team"])
        );
        assert_eq!(claims[AWS_SOURCE_IDENTITY_CLAIM], si.as_str());
        // The signature verifies with the published key.
        let (input, sig) = token.rsplit_once('.').unwrap();
        let mut v = openssl::sign::Verifier::new(MessageDigest::sha256(), &key).unwrap();
        v.update(input.as_bytes()).unwrap();
        assert!(v.verify(&URL_SAFE_NO_PAD.decode(sig).unwrap()).unwrap());
        assert_eq!(jwk["kid"], kid.as_str());
        let doc = jwks_document(&[key.clone(), self::key()]).unwrap();
        assert_eq!(doc["keys"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn the_thumbprint_is_rfc_7638() {
        // RFC 7638 §3.1's example key.
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        let e = "AQAB";
        let rsa = Rsa::from_public_components(
            openssl::bn::BigNum::from_slice(&URL_SAFE_NO_PAD.decode(n).unwrap()).unwrap(),
            openssl::bn::BigNum::from_slice(&URL_SAFE_NO_PAD.decode(e).unwrap()).unwrap(),
        )
        .unwrap();
        let canonical = format!(
            r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
            URL_SAFE_NO_PAD.encode(rsa.e().to_vec()),
            URL_SAFE_NO_PAD.encode(rsa.n().to_vec())
        );
        assert_eq!(
            URL_SAFE_NO_PAD.encode(openssl::sha::sha256(canonical.as_bytes())),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn an_oversized_token_is_refused_before_sending() {
        let big = format!("eyJhbGciOiJSUzI1NiJ9.{}.c2ln", "A".repeat(20_001));
        assert!(matches!(
            check_web_identity_token(&big),
            Err(AwsRuleError::WebIdentityTokenTooLong { .. })
        ));
    }
}
