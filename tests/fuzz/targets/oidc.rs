//! OpenID Connect: the JOSE header, the whole ID token check against a pinned key set, and the
//! strict JSON reader under both.

use super::fixtures::{
    OIDC_ACCESS_TOKEN, OIDC_CLIENT, OIDC_ISSUER, OIDC_KEYS, OIDC_NONCE, OIDC_TRUSTED_AUDIENCE,
    claims_fingerprint, now,
};
use super::{Outcome, text};
use roleport::protocol::oidc::json::{StrictJsonError, parse_value};
use roleport::protocol::oidc::jwks::MAX_JWKS_KEYS;
use roleport::protocol::oidc::jws::EMBEDDED_KEY_HEADERS;
use roleport::protocol::oidc::{
    AtHashRule, EmbeddedKeyHeaders, Expectations, IdTokenPolicy, JwsAlg, JwsPolicy, KeySet,
    peek_header, verify_id_token,
};
use serde_json::Value;

fn jws_policy(embedded: EmbeddedKeyHeaders) -> JwsPolicy {
    JwsPolicy {
        allowed_algs: vec![JwsAlg::RS256, JwsAlg::PS256, JwsAlg::ES256],
        embedded_key_headers: embedded,
        ..JwsPolicy::default()
    }
}

/// The unverified header read (`peek_header`, used to log and to decide on a JWKS refresh).
/// Invariants: an accepted header names a pinned algorithm, no critical extension, no
/// embedded key (under the default policy), an ID-token `typ`, a sane `kid`; and the
/// lenient policy accepts whatever the strict one does.
pub fn jws_header(data: &[u8]) -> Outcome {
    let Some(token) = text(data) else {
        return Outcome::NotText;
    };
    let strict = jws_policy(EmbeddedKeyHeaders::Reject);
    let lenient = jws_policy(EmbeddedKeyHeaders::Ignore);
    match peek_header(token, &strict) {
        Ok(header) => {
            assert!(strict.allowed_algs.contains(&header.alg));
            assert_eq!(
                header.raw.get("alg").and_then(Value::as_str),
                Some(header.alg.as_str())
            );
            for name in EMBEDDED_KEY_HEADERS {
                assert!(!header.raw.contains_key(name), "embedded key {name}");
            }
            match header.raw.get("crit") {
                None => {}
                Some(Value::Array(names)) => assert!(names.is_empty()),
                Some(other) => panic!("crit {other} accepted"),
            }
            if let Some(typ) = &header.typ {
                assert!(
                    typ.eq_ignore_ascii_case("jwt") || typ.eq_ignore_ascii_case("application/jwt")
                );
            }
            if let Some(kid) = &header.kid {
                assert!(!kid.is_empty() && kid.len() <= 1024);
            }
            assert_eq!(peek_header(token, &lenient), Ok(header));
            Outcome::Accepted
        }
        Err(e) => {
            let _ = e.code();
            Outcome::Refused
        }
    }
}

/// The whole ID token check (`verify_id_token`): JWS against the pinned key set, every OIDC
/// Core 3.1.3.7 check, `at_hash`, the identity. Invariants: an accepted token was signed as
/// it stands (its `jti` is the fingerprint of its other claims, see the seed generator), and
/// it meets the expectations it was checked against.
pub fn id_token(data: &[u8]) -> Outcome {
    let Some(token) = text(data) else {
        return Outcome::NotText;
    };
    let policy = IdTokenPolicy {
        jws: jws_policy(EmbeddedKeyHeaders::Reject),
        trusted_audiences: vec![OIDC_TRUSTED_AUDIENCE.to_owned()],
        at_hash: AtHashRule::IfPresent,
        ..IdTokenPolicy::default()
    };
    let expect = Expectations::new(OIDC_ISSUER, OIDC_CLIENT, OIDC_NONCE)
        .with_access_token(OIDC_ACCESS_TOKEN);
    match verify_id_token(token, &policy, &OIDC_KEYS, &expect, now()) {
        Ok(verified) => {
            let claims = &verified.claims;
            assert_eq!(
                claims.get("jti").and_then(Value::as_str),
                Some(claims_fingerprint(claims).as_str()),
                "accepted claims {claims:?} are not what the provider signed"
            );
            assert_eq!(verified.issuer, OIDC_ISSUER);
            assert!(verified.audiences.iter().any(|a| a == OIDC_CLIENT));
            assert_eq!(
                claims.get("sub").and_then(Value::as_str),
                Some(verified.subject.as_str())
            );
            assert_eq!(
                claims.get("nonce").and_then(Value::as_str),
                Some(OIDC_NONCE)
            );
            assert!(verified.expires_at + policy.leeway > now());
            assert!(verified.issued_at <= now() + policy.leeway);
            Outcome::Accepted
        }
        Err(e) => {
            let _ = e.code();
            Outcome::Refused
        }
    }
}

/// The strict JSON reader of JOSE headers and claims. Invariants (a differential check against
/// `serde_json`): what it accepts, serde_json reads to the same value; what it refuses as
/// syntax, serde_json refuses too; a reported duplicate name is in the input twice.
pub fn strict_json(data: &[u8]) -> Outcome {
    let lax: Result<Value, _> = serde_json::from_slice(data);
    match parse_value(data) {
        Ok(value) => {
            assert_eq!(lax.ok(), Some(value));
            Outcome::Accepted
        }
        Err(StrictJsonError::DuplicateMember(name)) => {
            // Reported as soon as it is seen, so the rest may not be JSON at all; but the name
            // was there twice.
            let quoted = serde_json::to_string(&name).unwrap_or_default();
            // (Only where no escape can spell the name another way.)
            if !quoted.contains('\\') && !data.contains(&b'\\') {
                let count = data
                    .windows(quoted.len())
                    .filter(|w| *w == quoted.as_bytes())
                    .count();
                assert!(count >= 2, "duplicate {name:?} reported but not repeated");
            }
            Outcome::Refused
        }
        Err(StrictJsonError::Syntax(detail)) => {
            assert!(
                lax.is_err(),
                "refused as syntax ({detail}) but serde_json reads it"
            );
            Outcome::Refused
        }
        Err(StrictJsonError::NotObject) => panic!("parse_value refused a non-object"),
    }
}

/// A provider's JWKS document (fetched at start, on schedule and on an unknown `kid`).
/// Invariants: an accepted set is non-empty and within the key limit, never holds two keys of
/// one family under one `kid`, and key selection by `kid` finds each key for every algorithm
/// it fits.
pub fn jwks(data: &[u8]) -> Outcome {
    match KeySet::from_jwks(data) {
        Ok(set) => {
            assert!(!set.is_empty());
            assert!(set.len() + set.skipped().len() <= MAX_JWKS_KEYS);
            for (i, key) in set.keys().iter().enumerate() {
                let Some(kid) = key.kid() else { continue };
                assert!(set.contains_kid(kid));
                assert!(
                    !set.keys()[..i]
                        .iter()
                        .any(|k| k.kid() == Some(kid) && k.family() == key.family()),
                    "two {:?} keys named {kid:?}",
                    key.family()
                );
                for alg in JwsAlg::ALL.into_iter().filter(|a| key.fits(*a)) {
                    let chosen = set
                        .select(Some(kid), alg)
                        .unwrap_or_else(|e| panic!("{kid:?} fits {alg} but is not chosen: {e}"));
                    assert!(chosen.fits(alg) && chosen.kid() == Some(kid));
                }
            }
            Outcome::Accepted
        }
        Err(e) => {
            let _ = e.code();
            Outcome::Refused
        }
    }
}
