//! Session length: the minimum of every bound that applies, with the winning bound recorded
//! for the audit row. Too-short requests are refused, never silently raised.

use serde::Serialize;

use super::error::AwsRuleError;

/// The shortest session STS issues.
pub const MIN_SESSION_SECONDS: u32 = 900;
/// Used when the person asks for no particular length (STS's own default).
pub const DEFAULT_SESSION_SECONDS: u32 = 3600;
/// The longest AssumeRole* session (12 h); also the SAML `SessionDuration` maximum.
pub const MAX_SESSION_SECONDS: u32 = 43_200;
/// IAM's lower bound for a role's MaxSessionDuration.
pub const MIN_ROLE_MAX_SESSION_SECONDS: u32 = 3600;
/// Role chaining (AssumeRole with temporary credentials) is capped at one hour.
pub const ROLE_CHAINING_MAX_SECONDS: u32 = 3600;
/// GetFederationToken bounds (IAM user credentials). Its own default (12 h) is not used:
/// Roleport's default is the same for every mode.
pub const FEDERATION_TOKEN_MIN_SECONDS: u32 = 900;
pub const FEDERATION_TOKEN_MAX_SECONDS: u32 = 129_600;

/// One bound that took part in the decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DurationBound {
    /// What the person asked for.
    Requested,
    /// No request: the default length.
    Default,
    /// The matching rule's duration cap.
    RuleCap,
    /// The role's MaxSessionDuration.
    RoleMaximum,
    /// The SAML `SessionDuration` attribute.
    SamlSessionDuration,
    /// The one-hour role-chaining limit.
    RoleChaining,
    /// AWS's absolute maximum for the call (12 h, or 36 h for GetFederationToken where the
    /// role and the rule both allow more than 12 h).
    AwsMaximum,
    /// The 12 h that every mode keeps to unless the role and the rule explicitly allow a
    /// longer GetFederationToken session.
    TwelveHourLimit,
}

impl DurationBound {
    pub fn as_str(self) -> &'static str {
        match self {
            DurationBound::Requested => "requested",
            DurationBound::Default => "default",
            DurationBound::RuleCap => "rule cap",
            DurationBound::RoleMaximum => "role maximum",
            DurationBound::SamlSessionDuration => "SAML SessionDuration",
            DurationBound::RoleChaining => "role chaining limit",
            DurationBound::AwsMaximum => "AWS maximum",
            DurationBound::TwelveHourLimit => "12 h limit",
        }
    }
}

/// A checked session length and how it came about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionDuration {
    seconds: u32,
    decided_by: DurationBound,
    /// Every bound considered, in the order they were applied.
    bounds: Vec<(DurationBound, u32)>,
}

impl SessionDuration {
    pub fn seconds(&self) -> u32 {
        self.seconds
    }

    /// The bound that won (the first one, in application order, with the smallest value).
    pub fn decided_by(&self) -> DurationBound {
        self.decided_by
    }

    pub fn bounds(&self) -> &[(DurationBound, u32)] {
        &self.bounds
    }

    /// One line for the audit row, e.g. `3600 s (role maximum; requested 7200, rule cap
    /// 28800, role maximum 3600, AWS maximum 43200)`.
    pub fn explain(&self) -> String {
        let all = self
            .bounds
            .iter()
            .map(|(b, s)| format!("{} {s}", b.as_str()))
            .collect::<Vec<_>>()
            .join(", ");
        format!("{} s ({}; {all})", self.seconds, self.decided_by.as_str())
    }

    fn decide(bounds: Vec<(DurationBound, u32)>) -> Self {
        let mut decided = (DurationBound::AwsMaximum, u32::MAX);
        for &(bound, seconds) in &bounds {
            if seconds < decided.1 {
                decided = (bound, seconds);
            }
        }
        SessionDuration {
            seconds: decided.1,
            decided_by: decided.0,
            bounds,
        }
    }
}

/// The inputs of an AssumeRole* session length.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DurationRequest {
    /// What the person asked for; `None` means [`DEFAULT_SESSION_SECONDS`].
    pub requested: Option<u32>,
    /// The deciding rule's cap, if it has one.
    pub rule_cap: Option<u32>,
    /// The role's MaxSessionDuration (IAM: 3600–43200).
    pub role_maximum: u32,
    /// The SAML `SessionDuration` attribute, when the assertion carries one (900–43200).
    pub saml_session_duration: Option<u32>,
    /// AssumeRole called with temporary credentials (role chaining).
    pub chained: bool,
}

/// min(requested or 3600, rule cap, role maximum, SAML SessionDuration, 12 h), and 1 h when
/// chained. A request or a bound below 900 s is an error naming it.
pub fn session_duration(req: &DurationRequest) -> Result<SessionDuration, AwsRuleError> {
    let mut bounds = Vec::with_capacity(6);
    match req.requested {
        Some(seconds) => {
            at_least(
                "the requested session duration",
                seconds,
                MIN_SESSION_SECONDS,
            )?;
            bounds.push((DurationBound::Requested, seconds));
        }
        None => bounds.push((DurationBound::Default, DEFAULT_SESSION_SECONDS)),
    }
    if let Some(cap) = req.rule_cap {
        at_least("the rule's session duration cap", cap, MIN_SESSION_SECONDS)?;
        bounds.push((DurationBound::RuleCap, cap));
    }
    in_range(
        "the role's MaxSessionDuration",
        req.role_maximum,
        MIN_ROLE_MAX_SESSION_SECONDS,
        MAX_SESSION_SECONDS,
    )?;
    bounds.push((DurationBound::RoleMaximum, req.role_maximum));
    if let Some(saml) = req.saml_session_duration {
        in_range(
            "the SAML SessionDuration attribute",
            saml,
            MIN_SESSION_SECONDS,
            MAX_SESSION_SECONDS,
        )?;
        bounds.push((DurationBound::SamlSessionDuration, saml));
    }
    if req.chained {
        bounds.push((DurationBound::RoleChaining, ROLE_CHAINING_MAX_SECONDS));
    }
    bounds.push((DurationBound::AwsMaximum, MAX_SESSION_SECONDS));
    Ok(SessionDuration::decide(bounds))
}

/// The inputs of a GetFederationToken session length.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FederationDurationRequest {
    /// What the person asked for; `None` means [`DEFAULT_SESSION_SECONDS`].
    pub requested: Option<u32>,
    /// The deciding rule's cap, if it has one.
    pub rule_cap: Option<u32>,
    /// The role's `max_session_seconds` (3600–129600 for a federation_token role).
    pub role_maximum: u32,
}

/// GetFederationToken follows the rule of every mode: min(requested or 3600, rule cap, role
/// maximum, 12 h), a request or cap below 900 s refused. Its own maximum, 129,600 s, takes the
/// place of the 12 h only where the role's maximum and the rule's cap are both explicitly above
/// 12 h.
pub fn federation_token_duration(
    req: &FederationDurationRequest,
) -> Result<SessionDuration, AwsRuleError> {
    let mut bounds = Vec::with_capacity(4);
    match req.requested {
        Some(seconds) => {
            at_least(
                "the requested session duration",
                seconds,
                FEDERATION_TOKEN_MIN_SECONDS,
            )?;
            bounds.push((DurationBound::Requested, seconds));
        }
        None => bounds.push((DurationBound::Default, DEFAULT_SESSION_SECONDS)),
    }
    if let Some(cap) = req.rule_cap {
        at_least(
            "the rule's session duration cap",
            cap,
            FEDERATION_TOKEN_MIN_SECONDS,
        )?;
        bounds.push((DurationBound::RuleCap, cap));
    }
    in_range(
        "the role's max_session_seconds",
        req.role_maximum,
        MIN_ROLE_MAX_SESSION_SECONDS,
        FEDERATION_TOKEN_MAX_SECONDS,
    )?;
    bounds.push((DurationBound::RoleMaximum, req.role_maximum));
    let longer_allowed = req.role_maximum > MAX_SESSION_SECONDS
        && req.rule_cap.is_some_and(|cap| cap > MAX_SESSION_SECONDS);
    if longer_allowed {
        bounds.push((DurationBound::AwsMaximum, FEDERATION_TOKEN_MAX_SECONDS));
    } else {
        bounds.push((DurationBound::TwelveHourLimit, MAX_SESSION_SECONDS));
    }
    Ok(SessionDuration::decide(bounds))
}

fn at_least(what: &'static str, seconds: u32, minimum: u32) -> Result<(), AwsRuleError> {
    if seconds < minimum {
        return Err(AwsRuleError::DurationBelowMinimum {
            what,
            seconds,
            minimum,
        });
    }
    Ok(())
}

fn in_range(what: &'static str, seconds: u32, min: u32, max: u32) -> Result<(), AwsRuleError> {
    if !(min..=max).contains(&seconds) {
        return Err(AwsRuleError::DurationOutOfRange {
            what,
            seconds,
            min,
            max,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::DurationBound as B;
    use super::*;
    use proptest::prelude::*;

    fn req(
        requested: Option<u32>,
        rule_cap: Option<u32>,
        role_maximum: u32,
        saml: Option<u32>,
        chained: bool,
    ) -> DurationRequest {
        DurationRequest {
            requested,
            rule_cap,
            role_maximum,
            saml_session_duration: saml,
            chained,
        }
    }

    #[test]
    fn clamping_table() {
        let table = [
            (req(None, None, 3600, None, false), 3600, B::Default),
            (req(None, None, 43_200, None, false), 3600, B::Default),
            (
                req(Some(7200), None, 43_200, None, false),
                7200,
                B::Requested,
            ),
            (
                req(Some(7200), None, 3600, None, false),
                3600,
                B::RoleMaximum,
            ),
            (
                req(Some(7200), Some(1800), 43_200, None, false),
                1800,
                B::RuleCap,
            ),
            (
                req(Some(40_000), None, 43_200, Some(20_000), false),
                20_000,
                B::SamlSessionDuration,
            ),
            (
                req(Some(99_999), None, 43_200, None, false),
                43_200,
                B::RoleMaximum,
            ),
            (
                req(Some(7200), None, 43_200, None, true),
                3600,
                B::RoleChaining,
            ),
            (req(Some(900), None, 43_200, None, true), 900, B::Requested),
            (
                req(Some(3600), Some(3600), 3600, None, false),
                3600,
                B::Requested,
            ),
            (
                req(None, Some(900), 3600, Some(900), false),
                900,
                B::RuleCap,
            ),
        ];
        for (r, seconds, by) in table {
            let d = session_duration(&r);
            assert_eq!(
                d.as_ref().map(|d| (d.seconds(), d.decided_by())),
                Ok((seconds, by)),
                "{r:?}"
            );
        }
    }

    #[test]
    fn refusals_table() {
        let table = [
            (
                req(Some(899), None, 3600, None, false),
                AwsRuleError::DurationBelowMinimum {
                    what: "the requested session duration",
                    seconds: 899,
                    minimum: 900,
                },
            ),
            (
                req(Some(0), None, 3600, None, true),
                AwsRuleError::DurationBelowMinimum {
                    what: "the requested session duration",
                    seconds: 0,
                    minimum: 900,
                },
            ),
            (
                req(None, Some(600), 3600, None, false),
                AwsRuleError::DurationBelowMinimum {
                    what: "the rule's session duration cap",
                    seconds: 600,
                    minimum: 900,
                },
            ),
            (
                req(None, None, 1800, None, false),
                AwsRuleError::DurationOutOfRange {
                    what: "the role's MaxSessionDuration",
                    seconds: 1800,
                    min: 3600,
                    max: 43_200,
                },
            ),
            (
                req(None, None, 50_000, None, false),
                AwsRuleError::DurationOutOfRange {
                    what: "the role's MaxSessionDuration",
                    seconds: 50_000,
                    min: 3600,
                    max: 43_200,
                },
            ),
            (
                req(None, None, 3600, Some(43_201), false),
                AwsRuleError::DurationOutOfRange {
                    what: "the SAML SessionDuration attribute",
                    seconds: 43_201,
                    min: 900,
                    max: 43_200,
                },
            ),
            (
                req(None, None, 3600, Some(899), false),
                AwsRuleError::DurationOutOfRange {
                    what: "the SAML SessionDuration attribute",
                    seconds: 899,
                    min: 900,
                    max: 43_200,
                },
            ),
        ];
        for (r, want) in table {
            assert_eq!(session_duration(&r), Err(want), "{r:?}");
        }
        let msg = session_duration(&req(Some(60), None, 3600, None, false))
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            msg.as_deref(),
            Some("the requested session duration must be at least 900 seconds; got 60")
        );
    }

    fn fed(requested: Option<u32>, rule_cap: Option<u32>, role: u32) -> FederationDurationRequest {
        FederationDurationRequest {
            requested,
            rule_cap,
            role_maximum: role,
        }
    }

    #[test]
    fn federation_token_follows_the_rule_of_every_mode() {
        let ok = [
            // The default is 3600, as for every mode, not GetFederationToken's own 12 h.
            (fed(None, None, 3600), 3600, B::Default),
            (fed(None, None, 129_600), 3600, B::Default),
            // The role's cap lowers a request (the 3600-role asking for 50,000).
            (fed(Some(50_000), None, 3600), 3600, B::RoleMaximum),
            (fed(Some(7200), Some(1800), 43_200), 1800, B::RuleCap),
            (fed(Some(900), None, 3600), 900, B::Requested),
            // Past 12 h only where both the role and the rule allow it explicitly.
            (
                fed(Some(200_000), None, 129_600),
                43_200,
                B::TwelveHourLimit,
            ),
            (
                fed(Some(200_000), Some(43_200), 129_600),
                43_200,
                B::RuleCap,
            ),
            (
                fed(Some(200_000), Some(129_600), 43_200),
                43_200,
                B::RoleMaximum,
            ),
            (
                fed(Some(100_000), Some(129_600), 129_600),
                100_000,
                B::Requested,
            ),
            (
                fed(Some(200_000), Some(129_600), 129_600),
                129_600,
                B::RuleCap,
            ),
            (
                fed(Some(200_000), Some(129_600), 90_000),
                90_000,
                B::RoleMaximum,
            ),
        ];
        for (r, seconds, by) in ok {
            let d = federation_token_duration(&r);
            assert_eq!(
                d.as_ref().map(|d| (d.seconds(), d.decided_by())),
                Ok((seconds, by)),
                "{r:?}"
            );
        }
        assert!(matches!(
            federation_token_duration(&fed(Some(899), None, 3600)),
            Err(AwsRuleError::DurationBelowMinimum { minimum: 900, .. })
        ));
        assert!(federation_token_duration(&fed(None, Some(100), 3600)).is_err());
        assert!(matches!(
            federation_token_duration(&fed(None, None, 129_601)),
            Err(AwsRuleError::DurationOutOfRange { max: 129_600, .. })
        ));
    }

    #[test]
    fn explanation_names_every_bound() {
        let d = session_duration(&req(Some(7200), Some(28_800), 3600, None, false));
        assert_eq!(
            d.map(|d| d.explain()).ok().as_deref(),
            Some(
                "3600 s (role maximum; requested 7200, rule cap 28800, role maximum 3600, AWS maximum 43200)"
            )
        );
    }

    #[test]
    fn serializes_for_the_audit_row() {
        let d = session_duration(&req(None, None, 3600, None, true));
        let json = d.ok().and_then(|d| serde_json::to_value(d).ok());
        assert_eq!(
            json.as_ref().and_then(|j| j["decided_by"].as_str()),
            Some("default")
        );
        assert_eq!(
            json.as_ref().and_then(|j| j["seconds"].as_u64()),
            Some(3600)
        );
    }

    proptest! {
        #[test]
        fn result_is_within_every_bound(
            requested in proptest::option::of(900u32..200_000),
            cap in proptest::option::of(900u32..200_000),
            role in 3600u32..=43_200,
            saml in proptest::option::of(900u32..=43_200),
            chained in any::<bool>(),
        ) {
            let r = req(requested, cap, role, saml, chained);
            let d = session_duration(&r);
            prop_assert!(d.is_ok());
            let Ok(d) = d else { return Ok(()) };
            let s = d.seconds();
            prop_assert!((MIN_SESSION_SECONDS..=MAX_SESSION_SECONDS).contains(&s));
            prop_assert!(s <= requested.unwrap_or(DEFAULT_SESSION_SECONDS));
            prop_assert!(s <= role);
            prop_assert!(cap.is_none_or(|c| s <= c));
            prop_assert!(saml.is_none_or(|c| s <= c));
            prop_assert!(!chained || s <= ROLE_CHAINING_MAX_SECONDS);
            prop_assert!(d.bounds().iter().any(|&(b, v)| b == d.decided_by() && v == s));
        }

        #[test]
        fn federation_within_bounds(
            requested in proptest::option::of(900u32..1_000_000),
            cap in proptest::option::of(900u32..1_000_000),
            role in 3600u32..=129_600,
        ) {
            let d = federation_token_duration(&fed(requested, cap, role));
            prop_assert!(d.is_ok());
            let Ok(d) = d else { return Ok(()) };
            let s = d.seconds();
            prop_assert!((900..=129_600).contains(&s));
            prop_assert!(s <= requested.unwrap_or(DEFAULT_SESSION_SECONDS));
            prop_assert!(s <= role && cap.is_none_or(|c| s <= c));
            let explicit = role > MAX_SESSION_SECONDS && cap.is_some_and(|c| c > MAX_SESSION_SECONDS);
            prop_assert!(explicit || s <= MAX_SESSION_SECONDS);
        }
    }
}
