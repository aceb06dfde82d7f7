//! Pure helpers for the authorization-code flow: PKCE S256 (RFC 7636), `state` and `nonce`
//! values, and the callback check including RFC 9207 `iss` (mix-up defence).
//!
//! Randomness is a parameter: the caller passes bytes from the OS CSPRNG (`openssl::rand` or
//! `getrandom`), tests pass fixed bytes.
//!
//! The callback check, in order:
//! 1. each of `code`, `state`, `iss`, `error`, `error_description` appears at most once
//!    ([`CallbackParams::from_pairs`]) — a second `iss` or `state` is parameter pollution;
//! 2. `state` is present and equals the value bound to this browser's pending login (constant
//!    time);
//! 3. RFC 9207: `iss`, if present, must equal the issuer of the provider this flow was started
//!    with — a response carrying another provider's issuer is the mix-up attack; if the provider
//!    advertises `authorization_response_iss_parameter_supported`, a missing `iss` is refused.
//!    (For providers that do not advertise it, the defence is the per-provider redirect URI and
//!    the pending-login row naming the provider; both are the caller's.) This runs before an
//!    `error` response is interpreted, as RFC 9207 §2.4 asks;
//! 4. an `error` parameter → [`CallbackError::ProviderError`] with the error code reduced to
//!    safe characters (for the log; never echoed raw to the browser);
//! 5. `code` is present, non-empty, ≤ 4096 bytes of visible ASCII.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openssl::sha::sha256;
use std::fmt;
use subtle::ConstantTimeEq;

/// Random bytes for a PKCE verifier: 32 bytes give 43 characters, 96 give 128.
pub const PKCE_RANDOM_BYTES: std::ops::RangeInclusive<usize> = 32..=96;
/// Random bytes for `state` / `nonce`: at least 128 bits, at most 64 bytes.
pub const TOKEN_RANDOM_BYTES: std::ops::RangeInclusive<usize> = 16..=64;
const MAX_CODE_LEN: usize = 4096;
const MAX_ERROR_LEN: usize = 64;

/// A value could not be generated or is not acceptable.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    #[error("{got} random bytes given; {min}..={max} needed")]
    RandomLength { got: usize, min: usize, max: usize },
    #[error("PKCE verifier must be 43..=128 characters of [A-Za-z0-9-._~]")]
    BadVerifier,
}

impl SecretError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::RandomLength { .. } => "flow.random_length",
            Self::BadVerifier => "flow.pkce_verifier_invalid",
        }
    }
}

/// A PKCE pair. The verifier is kept server-side with the pending login; the challenge is sent
/// in the authorization request with `code_challenge_method=S256`.
#[derive(Clone, PartialEq, Eq)]
pub struct Pkce {
    verifier: String,
    challenge: String,
}

impl fmt::Debug for Pkce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pkce")
            .field("verifier", &"<redacted>")
            .field("challenge", &self.challenge)
            .finish()
    }
}

impl Pkce {
    /// The only method Roleport uses.
    pub const METHOD: &'static str = "S256";

    /// A new pair from 32..=96 random bytes (base64url without padding: 43..=128 characters,
    /// all in the unreserved set).
    pub fn from_random(random: &[u8]) -> Result<Self, SecretError> {
        check_len(random, &PKCE_RANDOM_BYTES)?;
        Self::from_verifier(&URL_SAFE_NO_PAD.encode(random))
    }

    /// Rebuilds the pair from a stored verifier, checking it.
    pub fn from_verifier(verifier: &str) -> Result<Self, SecretError> {
        Ok(Self {
            challenge: pkce_s256_challenge(verifier)?,
            verifier: verifier.to_owned(),
        })
    }

    pub fn verifier(&self) -> &str {
        &self.verifier
    }

    pub fn challenge(&self) -> &str {
        &self.challenge
    }
}

/// `BASE64URL(SHA256(ASCII(verifier)))` after checking the verifier (RFC 7636 §4.1, §4.2).
pub fn pkce_s256_challenge(verifier: &str) -> Result<String, SecretError> {
    let unreserved = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~');
    if !(43..=128).contains(&verifier.len()) || !verifier.bytes().all(unreserved) {
        return Err(SecretError::BadVerifier);
    }
    Ok(URL_SAFE_NO_PAD.encode(sha256(verifier.as_bytes())))
}

/// A `state` value from 16..=64 random bytes (base64url, no padding).
pub fn new_state(random: &[u8]) -> Result<String, SecretError> {
    random_token(random)
}

/// A `nonce` value from 16..=64 random bytes (base64url, no padding).
pub fn new_nonce(random: &[u8]) -> Result<String, SecretError> {
    random_token(random)
}

fn random_token(random: &[u8]) -> Result<String, SecretError> {
    check_len(random, &TOKEN_RANDOM_BYTES)?;
    Ok(URL_SAFE_NO_PAD.encode(random))
}

fn check_len(random: &[u8], range: &std::ops::RangeInclusive<usize>) -> Result<(), SecretError> {
    if range.contains(&random.len()) {
        Ok(())
    } else {
        Err(SecretError::RandomLength {
            got: random.len(),
            min: *range.start(),
            max: *range.end(),
        })
    }
}

/// Constant-time equality for secrets such as `state` (the length is not secret).
pub fn secrets_match(a: &str, b: &str) -> bool {
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// Why an authorization response was refused.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum CallbackError {
    #[error("parameter {0} appears more than once")]
    DuplicateParameter(&'static str),
    #[error("state is missing")]
    StateMissing,
    #[error("state does not match this browser's sign-in")]
    StateMismatch,
    #[error("iss is missing but the provider sends it")]
    IssuerMissing,
    #[error("iss {got:?} is not the issuer this sign-in was started with")]
    IssuerMismatch { got: String },
    #[error("the provider returned error {error:?}")]
    ProviderError { error: String },
    #[error("code is missing")]
    CodeMissing,
    #[error("code is malformed")]
    CodeMalformed,
}

impl CallbackError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::DuplicateParameter(_) => "callback.duplicate_parameter",
            Self::StateMissing => "callback.state_missing",
            Self::StateMismatch => "callback.state_mismatch",
            Self::IssuerMissing => "callback.iss_missing",
            Self::IssuerMismatch { .. } => "callback.iss_mismatch",
            Self::ProviderError { .. } => "callback.provider_error",
            Self::CodeMissing => "callback.code_missing",
            Self::CodeMalformed => "callback.code_malformed",
        }
    }
}

/// The parameters of an authorization response (query of the redirect to the callback).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallbackParams {
    pub code: Option<String>,
    pub state: Option<String>,
    pub iss: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

impl CallbackParams {
    /// Collects the five parameters from decoded query pairs, refusing repeats of any of them.
    /// Other parameters (`session_state`, `scope`, `authuser`, `hd`, `prompt`, …) are ignored.
    pub fn from_pairs<I, K, V>(pairs: I) -> Result<Self, CallbackError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: Into<String>,
    {
        let mut params = Self::default();
        for (key, value) in pairs {
            let (slot, name) = match key.as_ref() {
                "code" => (&mut params.code, "code"),
                "state" => (&mut params.state, "state"),
                "iss" => (&mut params.iss, "iss"),
                "error" => (&mut params.error, "error"),
                "error_description" => (&mut params.error_description, "error_description"),
                _ => continue,
            };
            if slot.is_some() {
                return Err(CallbackError::DuplicateParameter(name));
            }
            *slot = Some(value.into());
        }
        Ok(params)
    }
}

/// What the pending login of this browser says about the flow it started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowBinding<'a> {
    /// The `state` stored with the pending login.
    pub expected_state: &'a str,
    /// Issuer of the provider the flow was started with.
    pub issuer: &'a str,
    /// The provider's discovery document has `authorization_response_iss_parameter_supported: true`.
    pub iss_parameter_supported: bool,
}

/// Checks an authorization response (see the module documentation) and returns the code.
pub fn check_callback<'p>(
    params: &'p CallbackParams,
    flow: &FlowBinding<'_>,
) -> Result<&'p str, CallbackError> {
    let state = params.state.as_deref().ok_or(CallbackError::StateMissing)?;
    if flow.expected_state.is_empty() || !secrets_match(state, flow.expected_state) {
        return Err(CallbackError::StateMismatch);
    }
    match params.iss.as_deref() {
        Some(iss) if iss != flow.issuer => {
            return Err(CallbackError::IssuerMismatch {
                got: iss.to_owned(),
            });
        }
        Some(_) => {}
        None if flow.iss_parameter_supported => return Err(CallbackError::IssuerMissing),
        None => {}
    }
    if let Some(error) = params.error.as_deref() {
        // RFC 6749 §4.1.2.1: error is %x20-21 / %x23-5B / %x5D-7E; keep it log-safe.
        let error = error
            .chars()
            .filter(|c| matches!(*c, '\x20'..='\x21' | '\x23'..='\x5b' | '\x5d'..='\x7e'))
            .take(MAX_ERROR_LEN)
            .collect();
        return Err(CallbackError::ProviderError { error });
    }
    let code = params.code.as_deref().ok_or(CallbackError::CodeMissing)?;
    if code.is_empty() {
        return Err(CallbackError::CodeMissing);
    }
    if code.len() > MAX_CODE_LEN || !code.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        return Err(CallbackError::CodeMalformed);
    }
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc7636_appendix_b() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert_eq!(
            pkce_s256_challenge(verifier).unwrap(),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn verifier_rules() {
        assert_eq!(
            pkce_s256_challenge(&"a".repeat(42)).unwrap_err().code(),
            "flow.pkce_verifier_invalid"
        );
        assert!(pkce_s256_challenge(&"a".repeat(129)).is_err());
        assert!(pkce_s256_challenge(&format!("{}+", "a".repeat(50))).is_err());
        assert!(pkce_s256_challenge(&"a~._-".repeat(10)).is_ok());
        assert_eq!(
            Pkce::from_random(&[0; 31]).unwrap_err().code(),
            "flow.random_length"
        );
        assert!(Pkce::from_random(&[0; 97]).is_err());
        assert!(new_state(&[1; 15]).is_err());
        assert!(new_nonce(&[1; 65]).is_err());
        assert_eq!(new_state(&[0; 32]).unwrap().len(), 43);
        assert!(
            !format!("{:?}", Pkce::from_random(&[7; 32]).unwrap())
                .contains(Pkce::from_random(&[7; 32]).unwrap().verifier())
        );
    }

    proptest! {
        #[test]
        fn pkce_from_any_random(random in proptest::collection::vec(any::<u8>(), 32..=96)) {
            let pkce = Pkce::from_random(&random).unwrap();
            prop_assert!((43..=128).contains(&pkce.verifier().len()));
            prop_assert!(pkce.verifier().bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
            prop_assert_eq!(pkce.challenge().len(), 43);
            prop_assert_eq!(Pkce::from_verifier(pkce.verifier()).unwrap(), pkce);
        }

        #[test]
        fn distinct_random_distinct_state(a in proptest::collection::vec(any::<u8>(), 16..=64),
                                          b in proptest::collection::vec(any::<u8>(), 16..=64)) {
            prop_assert_eq!(new_state(&a).unwrap() == new_state(&b).unwrap(), a == b);
        }
    }

    const A: &str = "https://idp-a.example";
    const B: &str = "https://idp-b.example";

    fn params(pairs: &[(&str, &str)]) -> Result<CallbackParams, CallbackError> {
        CallbackParams::from_pairs(pairs.iter().map(|(k, v)| (*k, *v)))
    }

    #[test]
    fn callback_table() {
        let flow = |supported| FlowBinding {
            expected_state: "st4te",
            issuer: A,
            iss_parameter_supported: supported,
        };
        type Case<'a> = (
            &'a str,
            &'a [(&'a str, &'a str)],
            bool,
            Result<&'a str, &'a str>,
        );
        let cases: &[Case<'_>] = &[
            (
                "ok with iss",
                &[("code", "c0de"), ("state", "st4te"), ("iss", A)],
                true,
                Ok("c0de"),
            ),
            (
                "ok, iss not supported",
                &[("code", "c0de"), ("state", "st4te")],
                false,
                Ok("c0de"),
            ),
            (
                "extra params ignored",
                &[
                    ("code", "c"),
                    ("state", "st4te"),
                    ("session_state", "x"),
                    ("scope", "openid"),
                ],
                false,
                Ok("c"),
            ),
            (
                "mix-up: B's iss on A's flow",
                &[("code", "c"), ("state", "st4te"), ("iss", B)],
                true,
                Err("callback.iss_mismatch"),
            ),
            (
                "mix-up even if A does not advertise",
                &[("code", "c"), ("state", "st4te"), ("iss", B)],
                false,
                Err("callback.iss_mismatch"),
            ),
            (
                "iss differs by a slash",
                &[
                    ("code", "c"),
                    ("state", "st4te"),
                    ("iss", "https://idp-a.example/"),
                ],
                true,
                Err("callback.iss_mismatch"),
            ),
            (
                "iss missing though advertised",
                &[("code", "c"), ("state", "st4te")],
                true,
                Err("callback.iss_missing"),
            ),
            (
                "state missing",
                &[("code", "c"), ("iss", A)],
                true,
                Err("callback.state_missing"),
            ),
            (
                "state wrong",
                &[("code", "c"), ("state", "other"), ("iss", A)],
                true,
                Err("callback.state_mismatch"),
            ),
            (
                "state empty",
                &[("code", "c"), ("state", ""), ("iss", A)],
                true,
                Err("callback.state_mismatch"),
            ),
            (
                "code missing",
                &[("state", "st4te"), ("iss", A)],
                true,
                Err("callback.code_missing"),
            ),
            (
                "code empty",
                &[("code", ""), ("state", "st4te"), ("iss", A)],
                true,
                Err("callback.code_missing"),
            ),
            (
                "code with space",
                &[("code", "a b"), ("state", "st4te"), ("iss", A)],
                true,
                Err("callback.code_malformed"),
            ),
            (
                "provider error",
                &[("error", "access_denied"), ("state", "st4te"), ("iss", A)],
                true,
                Err("callback.provider_error"),
            ),
            (
                "error from B is a mix-up first",
                &[("error", "access_denied"), ("state", "st4te"), ("iss", B)],
                true,
                Err("callback.iss_mismatch"),
            ),
        ];
        for (name, pairs, supported, want) in cases {
            let p = params(pairs).unwrap();
            let got = check_callback(&p, &flow(*supported)).map_err(|e| e.code());
            assert_eq!(got, *want, "{name}");
        }
        let empty_expected = FlowBinding {
            expected_state: "",
            issuer: A,
            iss_parameter_supported: false,
        };
        let p = params(&[("code", "c"), ("state", "")]).unwrap();
        assert_eq!(
            check_callback(&p, &empty_expected).unwrap_err().code(),
            "callback.state_mismatch"
        );
    }

    #[test]
    fn duplicate_parameters_refused() {
        for dup in ["code", "state", "iss", "error", "error_description"] {
            let err = params(&[(dup, "1"), ("state", "x"), (dup, "2")]).unwrap_err();
            assert_eq!(err.code(), "callback.duplicate_parameter");
        }
    }

    #[test]
    fn provider_error_is_sanitised() {
        let p = params(&[("error", "bad\"\\<x>\n"), ("state", "s"), ("iss", A)]).unwrap();
        let flow = FlowBinding {
            expected_state: "s",
            issuer: A,
            iss_parameter_supported: true,
        };
        assert_eq!(
            check_callback(&p, &flow),
            Err(CallbackError::ProviderError {
                error: "bad<x>".into()
            })
        );
    }
}
