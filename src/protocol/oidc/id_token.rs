//! ID token validation: OpenID Connect Core 1.0 §3.1.3.7 in full, plus what the `openidconnect`
//! crate leaves out (design.md §4): `azp`, `iat` and a maximum age, `at_hash`, a bounded clock
//! leeway, duplicate-member rejection and a size limit. Pure: keys and `now` are parameters.
//!
//! Checks, in order (the first failure is returned):
//! 1. policy and expectations are sane (leeway ≤ 5 min, max age 1 s ..= 24 h, non-empty issuer,
//!    client id and nonce);
//! 2. the compact JWS verifies against the pinned key set with a pinned algorithm
//!    ([`super::jws::verify_compact`]: size, encoding, duplicate members, `alg`, `crit`,
//!    embedded keys, `kid`, signature);
//! 3. `iss` equals the expected issuer exactly (3.1.3.7 #2);
//! 4. `aud` (string or non-empty array of strings) contains the client id (#3); every other
//!    audience must be in [`IdTokenPolicy::trusted_audiences`] (default empty: any extra
//!    audience refuses the token);
//! 5. with several audiences `azp` is required (#4, a SHOULD in the spec; required here); when
//!    present it must equal the client id (#5);
//! 6. `exp` is required and `exp + leeway > now` (#9); `iat` is required, `iat ≤ now + leeway` and
//!    `now − iat ≤ max_age + leeway` (#10); `exp` must be after `iat`, and `exp − iat` at most
//!    [`IdTokenPolicy::max_lifetime`] (a token valid for days is refused even while young);
//!    `nbf`, if present, `nbf ≤ now + leeway`;
//! 7. `nonce` is required and equals the expected one, compared in constant time (#11). Making it
//!    single-use is the caller's job: the pending-login row holding it is consumed atomically;
//! 8. `sub` is a string of at most 255 bytes that passes the identity-value rule
//!    ([`crate::protocol::identity_value`]: no surrounding whitespace, control, invisible or bidi
//!    characters, not empty, NFC);
//! 9. `at_hash` (§3.1.3.8 / §3.2.2.9): when an access token was returned and `at_hash` is present
//!    it must equal base64url(left half of SHA-2(access token)), the SHA-2 size following `alg`;
//!    a mismatch is always refused. When it is absent, [`AtHashRule::Required`] (the default —
//!    the issue lists `at_hash` mismatch as an attack, and a token that omits the binding is not
//!    better than one that breaks it) refuses; [`AtHashRule::IfPresent`] accepts, which is what
//!    the spec requires for the code flow (at_hash is only mandatory in implicit/hybrid flows) and
//!    is needed for providers that omit it there. `c_hash` likewise when the code is given;
//! 10. `auth_time`, if present, is a number; it is required when `max_age` was sent in the
//!     authorization request (or `auth_time` was requested), and then
//!     `now − auth_time ≤ max_age + leeway` (#13); it must not be in the future beyond the leeway;
//! 11. `acr` is in the acceptable list when one is given (#12);
//! 12. the identity is extracted with the provider's [`ClaimMapping`].
//!
//! NumericDate values may be integers or finite decimals (RFC 7519 §2), read to the millisecond.

use super::alg::JwsAlg;
use super::claims::{ClaimMapping, ClaimsError, Identity, extract_identity};
use super::jwks::KeySet;
use super::jws::{JwsError, JwsPolicy, verify_compact};
use crate::protocol::identity_value;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value};
use subtle::ConstantTimeEq;

/// Largest accepted clock leeway.
pub const MAX_LEEWAY_SECONDS: i64 = 300;
/// Largest accepted maximum token age.
pub const MAX_TOKEN_AGE_SECONDS: i64 = 24 * 3600;
/// Bounds of [`IdTokenPolicy::max_lifetime`].
pub const MIN_TOKEN_LIFETIME_SECONDS: i64 = 60;
pub const MAX_TOKEN_LIFETIME_SECONDS: i64 = 24 * 3600;
const MAX_SUB_LEN: usize = 255;
/// NumericDate values beyond this many seconds from the epoch (year ~5138) are malformed.
const MAX_NUMERIC_DATE: f64 = 1e11;

/// What to do when an access token was returned but the ID token has no `at_hash`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AtHashRule {
    /// Refuse (`id_token.at_hash_missing`). Default.
    #[default]
    Required,
    /// Accept; a present `at_hash` is still checked.
    IfPresent,
}

/// Per-provider ID token rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdTokenPolicy {
    /// Algorithms, size limit, embedded-key header handling.
    pub jws: JwsPolicy,
    /// Clock skew tolerated on `exp`, `iat`, `nbf`, `auth_time`. Default 60 s, at most 5 min.
    pub leeway: Duration,
    /// Oldest acceptable `iat`. Default 10 min.
    pub max_age: Duration,
    /// Longest acceptable `exp − iat`. Default 24 h, 1 min ..= 24 h.
    pub max_lifetime: Duration,
    /// Audiences besides the client id that may appear in `aud`. Default none.
    pub trusted_audiences: Vec<String>,
    pub at_hash: AtHashRule,
    pub claims: ClaimMapping,
}

impl Default for IdTokenPolicy {
    fn default() -> Self {
        Self {
            jws: JwsPolicy::default(),
            leeway: Duration::seconds(60),
            max_age: Duration::minutes(10),
            max_lifetime: Duration::seconds(MAX_TOKEN_LIFETIME_SECONDS),
            trusted_audiences: Vec::new(),
            at_hash: AtHashRule::Required,
            claims: ClaimMapping::default(),
        }
    }
}

impl IdTokenPolicy {
    /// Checks the policy itself.
    pub fn validate(&self) -> Result<(), IdTokenError> {
        self.jws.validate()?;
        if self.leeway < Duration::zero() || self.leeway > Duration::seconds(MAX_LEEWAY_SECONDS) {
            return Err(IdTokenError::Policy(format!(
                "leeway must be 0..={MAX_LEEWAY_SECONDS} s"
            )));
        }
        if self.max_age < Duration::seconds(1)
            || self.max_age > Duration::seconds(MAX_TOKEN_AGE_SECONDS)
        {
            return Err(IdTokenError::Policy(format!(
                "max_age must be 1..={MAX_TOKEN_AGE_SECONDS} s"
            )));
        }
        if self.max_lifetime < Duration::seconds(MIN_TOKEN_LIFETIME_SECONDS)
            || self.max_lifetime > Duration::seconds(MAX_TOKEN_LIFETIME_SECONDS)
        {
            return Err(IdTokenError::Policy(format!(
                "max_lifetime must be {MIN_TOKEN_LIFETIME_SECONDS}..={MAX_TOKEN_LIFETIME_SECONDS} s"
            )));
        }
        Ok(())
    }
}

/// What this particular sign-in expects: from the provider's configuration and the pending login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expectations<'a> {
    /// The provider's issuer identifier, exactly as configured/discovered.
    pub issuer: &'a str,
    /// Roleport's client id at this provider.
    pub client_id: &'a str,
    /// The nonce sent in the authorization request of this browser's pending login.
    pub nonce: &'a str,
    /// The access token returned next to the ID token, if any (for `at_hash`).
    pub access_token: Option<&'a str>,
    /// The authorization code, if `c_hash` should be checked when present.
    pub code: Option<&'a str>,
    /// `max_age` as sent in the authorization request.
    pub max_age: Option<Duration>,
    /// `auth_time` was requested as an essential claim.
    pub require_auth_time: bool,
    /// If non-empty, `acr` must be one of these.
    pub acceptable_acr: &'a [String],
}

impl<'a> Expectations<'a> {
    pub fn new(issuer: &'a str, client_id: &'a str, nonce: &'a str) -> Self {
        Self {
            issuer,
            client_id,
            nonce,
            access_token: None,
            code: None,
            max_age: None,
            require_auth_time: false,
            acceptable_acr: &[],
        }
    }

    pub fn with_access_token(mut self, access_token: &'a str) -> Self {
        self.access_token = Some(access_token);
        self
    }
}

/// Why an ID token was refused.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum IdTokenError {
    #[error("ID token policy or expectations are invalid: {0}")]
    Policy(String),
    #[error(transparent)]
    Jws(#[from] JwsError),
    #[error(transparent)]
    Claims(#[from] ClaimsError),
    #[error("claim {0} is missing")]
    MissingClaim(&'static str),
    #[error("claim {0} has the wrong type or value")]
    MalformedClaim(&'static str),
    #[error("issuer {got:?} is not the expected issuer")]
    IssuerMismatch { got: String },
    #[error("audience {got:?} does not contain the client id")]
    AudienceMismatch { got: Vec<String> },
    #[error("audience {0:?} is not trusted")]
    UntrustedAudience(String),
    #[error("several audiences and no azp")]
    AzpMissing,
    #[error("azp {0:?} is not the client id")]
    AzpMismatch(String),
    #[error("token has expired")]
    Expired,
    #[error("token is not yet valid (nbf)")]
    NotYetValid,
    #[error("token was issued in the future (iat)")]
    IssuedInFuture,
    #[error("token was issued too long ago (iat)")]
    TooOld,
    #[error("exp is not after iat")]
    ExpNotAfterIat,
    #[error("token lifetime exp − iat is {seconds} s, more than the maximum {max} s")]
    LifetimeTooLong { seconds: i64, max: i64 },
    #[error("nonce is missing")]
    NonceMissing,
    #[error("nonce does not match this sign-in")]
    NonceMismatch,
    #[error("sub is too long or not a string")]
    SubjectInvalid,
    #[error("an access token was returned but the ID token has no at_hash")]
    AtHashMissing,
    #[error("at_hash does not match the access token")]
    AtHashMismatch,
    #[error("c_hash does not match the authorization code")]
    CHashMismatch,
    #[error("auth_time is required and missing")]
    AuthTimeMissing,
    #[error("auth_time is in the future")]
    AuthTimeInFuture,
    #[error("authentication is older than the requested max_age")]
    AuthTooOld,
    #[error("acr {0:?} is not acceptable")]
    AcrNotAccepted(Option<String>),
    #[error("verification could not run: {0}")]
    Internal(String),
}

impl IdTokenError {
    /// A stable identifier for logs, audit rows and tests. JWS and claim-extraction failures
    /// keep their own `jws.*` / `claims.*` codes.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Policy(_) => "id_token.policy",
            Self::Jws(e) => e.code(),
            Self::Claims(e) => e.code(),
            Self::MissingClaim(_) => "id_token.missing_claim",
            Self::MalformedClaim(_) => "id_token.malformed_claim",
            Self::IssuerMismatch { .. } => "id_token.iss_mismatch",
            Self::AudienceMismatch { .. } => "id_token.aud_mismatch",
            Self::UntrustedAudience(_) => "id_token.aud_untrusted",
            Self::AzpMissing => "id_token.azp_missing",
            Self::AzpMismatch(_) => "id_token.azp_mismatch",
            Self::Expired => "id_token.expired",
            Self::NotYetValid => "id_token.not_yet_valid",
            Self::IssuedInFuture => "id_token.iat_in_future",
            Self::TooOld => "id_token.too_old",
            Self::ExpNotAfterIat => "id_token.exp_not_after_iat",
            Self::LifetimeTooLong { .. } => "id_token.lifetime_too_long",
            Self::NonceMissing => "id_token.nonce_missing",
            Self::NonceMismatch => "id_token.nonce_mismatch",
            Self::SubjectInvalid => "id_token.sub_invalid",
            Self::AtHashMissing => "id_token.at_hash_missing",
            Self::AtHashMismatch => "id_token.at_hash_mismatch",
            Self::CHashMismatch => "id_token.c_hash_mismatch",
            Self::AuthTimeMissing => "id_token.auth_time_missing",
            Self::AuthTimeInFuture => "id_token.auth_time_in_future",
            Self::AuthTooOld => "id_token.auth_too_old",
            Self::AcrNotAccepted(_) => "id_token.acr_not_accepted",
            Self::Internal(_) => "id_token.internal",
        }
    }

    /// Whether refreshing the provider's JWKS (once, rate-limited) and retrying might help.
    pub fn suggests_jwks_refresh(&self) -> bool {
        matches!(self, Self::Jws(e) if e.suggests_jwks_refresh())
    }
}

/// A verified ID token.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedIdToken {
    pub issuer: String,
    pub subject: String,
    pub audiences: Vec<String>,
    pub authorized_party: Option<String>,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub not_before: Option<DateTime<Utc>>,
    pub auth_time: Option<DateTime<Utc>>,
    pub acr: Option<String>,
    pub algorithm: JwsAlg,
    pub key_id: Option<String>,
    /// Stable id, e-mail, name, groups, `hd`, taken through the provider's claim paths.
    pub identity: Identity,
    /// Every claim, as verified.
    pub claims: Map<String, Value>,
}

/// Verifies an ID token (see the module documentation for every check).
pub fn verify_id_token(
    token: &str,
    policy: &IdTokenPolicy,
    keys: &KeySet,
    expect: &Expectations<'_>,
    now: DateTime<Utc>,
) -> Result<VerifiedIdToken, IdTokenError> {
    policy.validate()?;
    if expect.issuer.is_empty() || expect.client_id.is_empty() || expect.nonce.is_empty() {
        return Err(IdTokenError::Policy(
            "issuer, client id and nonce must be set".into(),
        ));
    }
    let jws = verify_compact(token, &policy.jws, keys)?;
    let claims = jws.payload;
    let leeway = policy.leeway;

    let issuer = required_str(&claims, "iss")?;
    if issuer != expect.issuer {
        return Err(IdTokenError::IssuerMismatch {
            got: issuer.to_owned(),
        });
    }

    let audiences = audiences(&claims)?;
    if !audiences.iter().any(|a| a == expect.client_id) {
        return Err(IdTokenError::AudienceMismatch { got: audiences });
    }
    let extra: Vec<&String> = audiences
        .iter()
        .filter(|a| a.as_str() != expect.client_id)
        .collect();
    if let Some(untrusted) = extra.iter().find(|a| !policy.trusted_audiences.contains(a)) {
        return Err(IdTokenError::UntrustedAudience((*untrusted).clone()));
    }
    let authorized_party = optional_str(&claims, "azp")?;
    match authorized_party {
        None if !extra.is_empty() => return Err(IdTokenError::AzpMissing),
        Some(azp) if azp != expect.client_id => {
            return Err(IdTokenError::AzpMismatch(azp.to_owned()));
        }
        _ => {}
    }

    let expires_at = numeric_date(&claims, "exp")?.ok_or(IdTokenError::MissingClaim("exp"))?;
    if now.signed_duration_since(expires_at) >= leeway {
        return Err(IdTokenError::Expired);
    }
    let issued_at = numeric_date(&claims, "iat")?.ok_or(IdTokenError::MissingClaim("iat"))?;
    if issued_at.signed_duration_since(now) > leeway {
        return Err(IdTokenError::IssuedInFuture);
    }
    let oldest = policy
        .max_age
        .checked_add(&leeway)
        .ok_or_else(|| IdTokenError::Policy("max_age + leeway overflows".into()))?;
    if now.signed_duration_since(issued_at) > oldest {
        return Err(IdTokenError::TooOld);
    }
    if expires_at <= issued_at {
        return Err(IdTokenError::ExpNotAfterIat);
    }
    let lifetime = expires_at.signed_duration_since(issued_at);
    if lifetime > policy.max_lifetime {
        return Err(IdTokenError::LifetimeTooLong {
            seconds: lifetime.num_seconds(),
            max: policy.max_lifetime.num_seconds(),
        });
    }
    let not_before = numeric_date(&claims, "nbf")?;
    if let Some(nbf) = not_before
        && nbf.signed_duration_since(now) > leeway
    {
        return Err(IdTokenError::NotYetValid);
    }

    let nonce = match claims.get("nonce") {
        None | Some(Value::Null) => return Err(IdTokenError::NonceMissing),
        Some(Value::String(n)) => n,
        Some(_) => return Err(IdTokenError::MalformedClaim("nonce")),
    };
    if !bool::from(nonce.as_bytes().ct_eq(expect.nonce.as_bytes())) {
        return Err(IdTokenError::NonceMismatch);
    }

    let subject = match claims.get("sub") {
        None | Some(Value::Null) => return Err(IdTokenError::MissingClaim("sub")),
        Some(Value::String(sub)) => sub,
        Some(_) => return Err(IdTokenError::SubjectInvalid),
    };
    if subject.len() > MAX_SUB_LEN {
        return Err(IdTokenError::SubjectInvalid);
    }
    identity_value::require(subject, || {
        identity_value::Field::Subject(identity_value::Source::Claim("sub".into()))
    })
    .map_err(ClaimsError::IdentityValue)?;

    let alg = jws.header.alg;
    if let Some(access_token) = expect.access_token {
        match optional_str(&claims, "at_hash")? {
            Some(at_hash) if !hash_matches(alg, access_token, at_hash)? => {
                return Err(IdTokenError::AtHashMismatch);
            }
            Some(_) => {}
            None if policy.at_hash == AtHashRule::Required => {
                return Err(IdTokenError::AtHashMissing);
            }
            None => {}
        }
    }
    if let (Some(code), Some(c_hash)) = (expect.code, optional_str(&claims, "c_hash")?)
        && !hash_matches(alg, code, c_hash)?
    {
        return Err(IdTokenError::CHashMismatch);
    }

    let auth_time = numeric_date(&claims, "auth_time")?;
    if expect.max_age.is_some() || expect.require_auth_time {
        let Some(at) = auth_time else {
            return Err(IdTokenError::AuthTimeMissing);
        };
        if at.signed_duration_since(now) > leeway {
            return Err(IdTokenError::AuthTimeInFuture);
        }
        if let Some(max_age) = expect.max_age {
            let limit = max_age
                .checked_add(&leeway)
                .ok_or_else(|| IdTokenError::Policy("max_age + leeway overflows".into()))?;
            if now.signed_duration_since(at) > limit {
                return Err(IdTokenError::AuthTooOld);
            }
        }
    } else if let Some(at) = auth_time
        && at.signed_duration_since(now) > leeway
    {
        return Err(IdTokenError::AuthTimeInFuture);
    }

    let acr = optional_str(&claims, "acr")?.map(str::to_owned);
    if !expect.acceptable_acr.is_empty()
        && !acr
            .as_ref()
            .is_some_and(|a| expect.acceptable_acr.contains(a))
    {
        return Err(IdTokenError::AcrNotAccepted(acr));
    }

    let identity = extract_identity(&claims, &policy.claims)?;
    Ok(VerifiedIdToken {
        issuer: issuer.to_owned(),
        subject: subject.clone(),
        audiences,
        authorized_party: authorized_party.map(str::to_owned),
        issued_at,
        expires_at,
        not_before,
        auth_time,
        acr,
        algorithm: alg,
        key_id: jws.header.kid,
        identity,
        claims,
    })
}

/// `at_hash` / `c_hash` of `value` for a token signed with `alg`: base64url of the left-most
/// half of the SHA-2 hash whose size matches `alg` (OIDC Core §3.1.3.6, §3.3.2.11).
pub fn token_hash(alg: JwsAlg, value: &str) -> Result<String, IdTokenError> {
    let digest = openssl::hash::hash(alg.sha().digest(), value.as_bytes())
        .map_err(|e| IdTokenError::Internal(e.to_string()))?;
    let half = digest.len() / 2;
    let left = digest
        .get(..half)
        .ok_or_else(|| IdTokenError::Internal("digest too short".into()))?;
    Ok(URL_SAFE_NO_PAD.encode(left))
}

fn hash_matches(alg: JwsAlg, value: &str, claimed: &str) -> Result<bool, IdTokenError> {
    let expected = token_hash(alg, value)?;
    Ok(bool::from(expected.as_bytes().ct_eq(claimed.as_bytes())))
}

fn required_str<'a>(
    claims: &'a Map<String, Value>,
    name: &'static str,
) -> Result<&'a str, IdTokenError> {
    optional_str(claims, name)?.ok_or(IdTokenError::MissingClaim(name))
}

fn optional_str<'a>(
    claims: &'a Map<String, Value>,
    name: &'static str,
) -> Result<Option<&'a str>, IdTokenError> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(IdTokenError::MalformedClaim(name)),
    }
}

fn audiences(claims: &Map<String, Value>) -> Result<Vec<String>, IdTokenError> {
    match claims.get("aud") {
        None | Some(Value::Null) => Err(IdTokenError::MissingClaim("aud")),
        Some(Value::String(aud)) => Ok(vec![aud.clone()]),
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(str::to_owned)
                    .ok_or(IdTokenError::MalformedClaim("aud"))
            })
            .collect(),
        Some(_) => Err(IdTokenError::MalformedClaim("aud")),
    }
}

fn numeric_date(
    claims: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<DateTime<Utc>>, IdTokenError> {
    let number = match claims.get(name) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n,
        Some(_) => return Err(IdTokenError::MalformedClaim(name)),
    };
    let parsed = if let Some(secs) = number.as_i64() {
        DateTime::from_timestamp(secs, 0)
    } else {
        match number.as_f64() {
            Some(secs) if secs.is_finite() && secs.abs() < MAX_NUMERIC_DATE => {
                // In range by the check above, so the cast is exact enough and cannot saturate.
                #[allow(clippy::cast_possible_truncation)]
                let millis = (secs * 1000.0).floor() as i64;
                DateTime::from_timestamp_millis(millis)
            }
            _ => None,
        }
    };
    parsed.map(Some).ok_or(IdTokenError::MalformedClaim(name))
}
