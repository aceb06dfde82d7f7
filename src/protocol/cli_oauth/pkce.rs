//! PKCE (RFC 7636), S256 only: `plain` would hand the verifier to anyone who saw the request.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use subtle::ConstantTimeEq;

/// A checked `code_challenge`: 43 characters of base64url, the SHA-256 of a verifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeChallenge(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PkceError {
    #[error("code_challenge is missing: PKCE is required")]
    MissingChallenge,
    #[error("code_challenge_method must be S256")]
    WrongMethod,
    #[error("code_challenge is not a base64url SHA-256 value")]
    BadChallenge,
    #[error("code_verifier is missing")]
    MissingVerifier,
    #[error("code_verifier must be 43 to 128 unreserved characters")]
    BadVerifier,
    #[error("code_verifier does not match the code_challenge")]
    Mismatch,
}

impl CodeChallenge {
    pub fn parse(challenge: Option<&str>, method: Option<&str>) -> Result<Self, PkceError> {
        let challenge = challenge
            .filter(|c| !c.is_empty())
            .ok_or(PkceError::MissingChallenge)?;
        if method != Some("S256") {
            return Err(PkceError::WrongMethod);
        }
        let decoded = URL_SAFE_NO_PAD
            .decode(challenge)
            .map_err(|_| PkceError::BadChallenge)?;
        if challenge.len() != 43 || decoded.len() != 32 {
            return Err(PkceError::BadChallenge);
        }
        Ok(Self(challenge.to_string()))
    }

    /// A challenge read back from storage, where only checked values are written.
    pub fn stored(challenge: String) -> Self {
        Self(challenge)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The challenge for `verifier` (what the client sends).
pub fn challenge_of(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(openssl::sha::sha256(verifier.as_bytes()))
}

/// Checks `verifier` against the stored challenge, in constant time.
pub fn verify_pkce(challenge: &CodeChallenge, verifier: Option<&str>) -> Result<(), PkceError> {
    let verifier = verifier.ok_or(PkceError::MissingVerifier)?;
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    if !well_formed {
        return Err(PkceError::BadVerifier);
    }
    let computed = challenge_of(verifier);
    if bool::from(computed.as_bytes().ct_eq(challenge.0.as_bytes())) {
        Ok(())
    } else {
        Err(PkceError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // RFC 7636 Appendix B.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn the_rfc_example_verifies() {
        assert_eq!(challenge_of(VERIFIER), CHALLENGE);
        let c = CodeChallenge::parse(Some(CHALLENGE), Some("S256")).unwrap();
        assert_eq!(verify_pkce(&c, Some(VERIFIER)), Ok(()));
    }

    #[test]
    fn missing_plain_or_malformed_challenges_are_refused() {
        use PkceError::*;
        assert_eq!(
            CodeChallenge::parse(None, Some("S256")),
            Err(MissingChallenge)
        );
        assert_eq!(
            CodeChallenge::parse(Some(""), Some("S256")),
            Err(MissingChallenge)
        );
        assert_eq!(
            CodeChallenge::parse(Some(CHALLENGE), None),
            Err(WrongMethod)
        );
        assert_eq!(
            CodeChallenge::parse(Some(CHALLENGE), Some("plain")),
            Err(WrongMethod)
        );
        assert_eq!(
            CodeChallenge::parse(Some(CHALLENGE), Some("s256")),
            Err(WrongMethod)
        );
        assert_eq!(
            CodeChallenge::parse(Some("abc"), Some("S256")),
            Err(BadChallenge)
        );
        assert_eq!(
            CodeChallenge::parse(Some(&format!("{CHALLENGE}=")), Some("S256")),
            Err(BadChallenge)
        );
    }

    #[test]
    fn missing_short_or_wrong_verifiers_are_refused() {
        let c = CodeChallenge::parse(Some(CHALLENGE), Some("S256")).unwrap();
        assert_eq!(verify_pkce(&c, None), Err(PkceError::MissingVerifier));
        assert_eq!(verify_pkce(&c, Some("short")), Err(PkceError::BadVerifier));
        assert_eq!(
            verify_pkce(&c, Some(&format!("{VERIFIER} "))),
            Err(PkceError::BadVerifier)
        );
        let mut other = VERIFIER.to_string();
        other.replace_range(0..1, "e");
        assert_eq!(verify_pkce(&c, Some(&other)), Err(PkceError::Mismatch));
        // The challenge itself is not a verifier for itself.
        assert_eq!(verify_pkce(&c, Some(CHALLENGE)), Err(PkceError::Mismatch));
    }

    proptest! {
        #[test]
        fn a_verifier_matches_only_its_own_challenge(a in "[A-Za-z0-9._~-]{43,128}", b in "[A-Za-z0-9._~-]{43,128}") {
            let c = CodeChallenge::parse(Some(&challenge_of(&a)), Some("S256")).unwrap();
            prop_assert_eq!(verify_pkce(&c, Some(&a)), Ok(()));
            if a != b {
                prop_assert_eq!(verify_pkce(&c, Some(&b)), Err(PkceError::Mismatch));
            }
        }
    }
}
