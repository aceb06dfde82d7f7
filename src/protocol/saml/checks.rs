//! The Web Browser SSO profile checks (design.md §5.2), each an exact string comparison, with time
//! from the caller.
//!
//! **Lifetime cap.** An assertion may say how long it stays valid in two places: the Conditions'
//! NotOnOrAfter (optional) and each bearer SubjectConfirmationData's NotOnOrAfter (required).
//! Every one present, on every bearer confirmation and not only the one that is used, must be at
//! most `max_lifetime` after the Assertion's IssueInstant: a valid-looking assertion that stays
//! usable for days is refused even while young, and the replay cache (kept until the later of
//! them) stays bounded. The AuthnStatement's SessionNotOnOrAfter is the IdP session's end, not the
//! assertion's, and is not capped. A bearer SubjectConfirmationData with NotBefore is refused
//! (SAML profiles §4.1.4.2: it MUST NOT carry one).

use super::SamlError;
use super::guard::RawHeader;
use super::verify::{Solicitation, VerifiedAssertion};
use chrono::{DateTime, Duration, Utc};
use samael::schema::Assertion;
use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

const STATUS_SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";

pub struct Expectations<'a> {
    pub idp_entity_id: &'a str,
    pub sp_entity_id: &'a str,
    pub acs_url: &'a str,
    pub solicitation: &'a Solicitation,
    pub skew: Duration,
    pub max_age: Duration,
    /// Longest NotOnOrAfter − IssueInstant accepted (see the module documentation).
    pub max_lifetime: Duration,
    pub now: DateTime<Utc>,
}

/// Refuses a NotOnOrAfter further than `max_lifetime` from the IssueInstant.
fn lifetime(
    expect: &Expectations<'_>,
    issued: DateTime<Utc>,
    not_on_or_after: DateTime<Utc>,
    element: &'static str,
) -> Result<(), SamlError> {
    let lifetime = not_on_or_after.signed_duration_since(issued);
    if lifetime > expect.max_lifetime {
        return Err(SamlError::LifetimeTooLong {
            element,
            seconds: lifetime.num_seconds(),
            max: expect.max_lifetime.num_seconds(),
        });
    }
    Ok(())
}

/// Checks the Response header. `raw` values are unauthenticated: Destination may be absent there;
/// once the Response signature is verified it is required.
pub fn header(
    expect: &Expectations<'_>,
    header: &RawHeader,
    authenticated: bool,
) -> Result<(), SamlError> {
    if header.status_code.as_deref() != Some(STATUS_SUCCESS) {
        return Err(SamlError::StatusNotSuccess(header.status_code.clone()));
    }
    match &header.destination {
        Some(d) if d == expect.acs_url => {}
        None if !authenticated => {}
        other => {
            return Err(SamlError::DestinationMismatch { got: other.clone() });
        }
    }
    if let Some(issuer) = &header.issuer
        && issuer != expect.idp_entity_id
    {
        return Err(SamlError::IssuerMismatch {
            got: Some(issuer.clone()),
        });
    }
    in_response_to(expect.solicitation, header.in_response_to.as_deref())
}

fn in_response_to(solicitation: &Solicitation, got: Option<&str>) -> Result<(), SamlError> {
    match (solicitation, got) {
        (Solicitation::Solicited { request_id }, Some(got)) if got == request_id => Ok(()),
        (Solicitation::Unsolicited { .. }, None) => Ok(()),
        (_, got) => Err(SamlError::InResponseToMismatch {
            got: got.map(str::to_string),
        }),
    }
}

/// Consumes the assertion: the identity values move into the result instead of being copied.
pub fn assertion(
    expect: &Expectations<'_>,
    assertion: Assertion,
) -> Result<VerifiedAssertion, SamlError> {
    let now = expect.now;
    let skew = expect.skew;
    if assertion.version != "2.0" {
        return Err(SamlError::Malformed("Assertion version is not 2.0".into()));
    }
    if assertion.issuer.value.as_deref() != Some(expect.idp_entity_id) {
        return Err(SamlError::IssuerMismatch {
            got: assertion.issuer.value.clone(),
        });
    }
    if assertion.issue_instant > now + skew {
        return Err(SamlError::NotYetValid);
    }
    if assertion.issue_instant + expect.max_age + skew < now {
        return Err(SamlError::TooOld);
    }

    let conditions = assertion
        .conditions
        .as_ref()
        .ok_or_else(|| SamlError::Malformed("assertion has no Conditions".into()))?;
    if let Some(nb) = conditions.not_before
        && now + skew < nb
    {
        return Err(SamlError::NotYetValid);
    }
    let conditions_end = conditions.not_on_or_after;
    if let Some(noa) = conditions_end {
        lifetime(expect, assertion.issue_instant, noa, "Conditions")?;
    }
    if let Some(noa) = conditions_end
        && noa + skew <= now
    {
        return Err(SamlError::Expired);
    }
    // Every AudienceRestriction must name us; at least one must be present.
    let restrictions = conditions
        .audience_restrictions
        .as_deref()
        .unwrap_or_default();
    if restrictions.is_empty()
        || !restrictions
            .iter()
            .all(|r| r.audience.iter().any(|a| a == expect.sp_entity_id))
    {
        let audiences = restrictions
            .iter()
            .flat_map(|r| r.audience.iter().cloned())
            .collect();
        return Err(SamlError::AudienceMismatch { got: audiences });
    }

    let subject = assertion.subject.as_ref().ok_or(SamlError::NoSubject)?;
    let confirmation_end = bearer_confirmation(expect, subject, assertion.issue_instant)?;

    if let Some(statements) = &assertion.authn_statements {
        for s in statements {
            if let Some(end) = s.session_not_on_or_after
                && end + skew <= now
            {
                return Err(SamlError::Expired);
            }
        }
    }
    let session_index = assertion
        .authn_statements
        .as_ref()
        .and_then(|s| s.first())
        .and_then(|s| s.session_index.clone());
    if assertion
        .authn_statements
        .as_ref()
        .is_none_or(Vec::is_empty)
    {
        return Err(SamlError::Malformed(
            "assertion has no AuthnStatement".into(),
        ));
    }

    let replay_until = [Some(confirmation_end), conditions_end]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(confirmation_end)
        + skew;
    let (name_id, name_id_format) = match subject.name_id.as_ref() {
        Some(n) => (Some(n.value.clone()), n.format.clone()),
        None => (None, None),
    };

    let mut attributes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for statement in assertion.attribute_statements.into_iter().flatten() {
        for attribute in statement.attributes {
            let Some(name) = attribute.name else {
                continue;
            };
            // An empty `<AttributeValue/>` stays an (empty) value: dropping it silently could
            // hide a group from a deny rule; the identity rule refuses it where it matters.
            let values: Vec<String> = attribute
                .values
                .into_iter()
                .map(|v| v.value.unwrap_or_default())
                .collect();
            match attributes.entry(name) {
                Entry::Vacant(entry) => {
                    entry.insert(values);
                }
                Entry::Occupied(mut entry) => entry.get_mut().extend(values),
            }
        }
    }

    Ok(VerifiedAssertion {
        assertion_id: assertion.id,
        issuer: expect.idp_entity_id.to_string(),
        name_id,
        name_id_format,
        session_index,
        replay_until,
        issue_instant: assertion.issue_instant,
        attributes,
    })
}

/// At least one bearer confirmation must satisfy every rule; returns its NotOnOrAfter. No bearer
/// confirmation may carry NotBefore or outlive the lifetime cap.
fn bearer_confirmation(
    expect: &Expectations<'_>,
    subject: &samael::schema::Subject,
    issued: DateTime<Utc>,
) -> Result<DateTime<Utc>, SamlError> {
    let bearers: Vec<_> = subject
        .subject_confirmations
        .iter()
        .flatten()
        .filter(|c| c.method.as_deref() == Some(BEARER))
        .collect();
    if bearers.is_empty() {
        return Err(SamlError::NoBearerConfirmation);
    }
    for data in bearers
        .iter()
        .filter_map(|c| c.subject_confirmation_data.as_ref())
    {
        if data.not_before.is_some() {
            return Err(SamlError::ConfirmationNotBefore);
        }
        if let Some(noa) = data.not_on_or_after {
            lifetime(expect, issued, noa, "SubjectConfirmationData")?;
        }
    }
    let mut first_error = None;
    for c in bearers {
        let Some(data) = &c.subject_confirmation_data else {
            first_error.get_or_insert(SamlError::NoBearerConfirmation);
            continue;
        };
        let result = (|| {
            if data.recipient.as_deref() != Some(expect.acs_url) {
                return Err(SamlError::RecipientMismatch {
                    got: data.recipient.clone(),
                });
            }
            let Some(noa) = data.not_on_or_after else {
                return Err(SamlError::NoBearerConfirmation);
            };
            if noa + expect.skew <= expect.now {
                return Err(SamlError::Expired);
            }
            in_response_to(expect.solicitation, data.in_response_to.as_deref())?;
            Ok(noa)
        })();
        match result {
            Ok(noa) => return Ok(noa),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(first_error.unwrap_or(SamlError::NoBearerConfirmation))
}
