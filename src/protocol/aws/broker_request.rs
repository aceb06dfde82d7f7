//! What Roleport needs to write a SAML Response for AssumeRoleWithSAML in broker mode, and
//! the checks of every AWS rule on it. Nothing is built unless [`SamlBrokerRequest::validate`]
//! passes.

use chrono::{DateTime, TimeDelta, Utc};

use super::endpoints::PartitionEndpoints;
use super::error::AwsRuleError;
use super::names::is_name_char;
use super::session_name::RoleSessionName;
use super::source_identity::SourceIdentity;
use super::tags::SessionTags;
use super::{MAX_SESSION_SECONDS, MIN_SESSION_SECONDS};
use crate::protocol::mapping::{Partition, RoleArn, is_account_id};
use crate::protocol::xml::is_xml_text;

/// AWS refuses an assertion more than five minutes after it was issued.
pub const MAX_ASSERTION_VALIDITY_SECONDS: u32 = 300;
/// `NotBefore` is set this far before `now`, for clocks running slightly behind.
pub const NOT_BEFORE_SKEW_SECONDS: u32 = 60;
/// Random ids must be at least this long (128 bits of randomness needs ≥ 22 base64 or
/// 32 hex characters; 16 is the floor that still rejects obviously weak ids).
const MIN_ID_CHARS: usize = 16;
const MAX_ID_CHARS: usize = 256;
const MAX_ISSUER_CHARS: usize = 1024;
/// SAML core §8.3.7: a persistent NameID is at most 256 characters.
const MAX_NAME_ID_CHARS: usize = 256;
const MAX_PROVIDER_NAME_CHARS: usize = 128;

/// Everything in the SAML Response Roleport signs for one AssumeRoleWithSAML call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SamlBrokerRequest {
    /// Roleport's IdP entity id: equal to the entityID of the metadata registered in IAM.
    pub issuer: String,
    /// Fresh random XML ids (a letter or `_` first), different from each other.
    pub response_id: String,
    pub assertion_id: String,
    pub now: DateTime<Utc>,
    /// When the person signed in upstream; not after `now` (plus the skew).
    pub authn_instant: DateTime<Utc>,
    /// Recipient/Destination and Audience come from here.
    pub endpoints: PartitionEndpoints,
    /// The person's stable id, sent as a persistent NameID.
    pub name_id: String,
    pub role_arn: String,
    /// The IAM SAML provider registered for Roleport in the role's account.
    pub provider_arn: String,
    pub role_session_name: RoleSessionName,
    /// The `SessionDuration` attribute: 900–43200.
    pub session_duration_seconds: u32,
    pub source_identity: SourceIdentity,
    pub session_tags: SessionTags,
    /// How long AWS may redeem the assertion: 1–300 seconds.
    pub valid_for_seconds: u32,
}

impl SamlBrokerRequest {
    /// Every AWS rule that applies to the Response, checked before anything is built.
    pub fn validate(&self) -> Result<(), AwsRuleError> {
        check_id("the Response ID", &self.response_id)?;
        check_id("the Assertion ID", &self.assertion_id)?;
        if self.response_id == self.assertion_id {
            return Err(AwsRuleError::SameResponseAndAssertionId);
        }
        check_text(
            "the Issuer (Roleport's IdP entity id)",
            &self.issuer,
            MAX_ISSUER_CHARS,
        )?;
        check_text("the persistent NameID", &self.name_id, MAX_NAME_ID_CHARS)?;

        self.endpoints.validate()?;
        let role = RoleArn::parse(&self.role_arn).ok_or_else(|| AwsRuleError::BadRoleArn {
            arn: self.role_arn.clone(),
        })?;
        // IAM paths may hold a comma, but the Role attribute is `role-arn,provider-arn`.
        if self.role_arn.contains(',') {
            return Err(AwsRuleError::CommaInRoleArn {
                arn: self.role_arn.clone(),
            });
        }
        let (provider_partition, provider_account) = parse_provider_arn(&self.provider_arn)
            .ok_or_else(|| AwsRuleError::BadProviderArn {
                arn: self.provider_arn.clone(),
            })?;
        if role.partition != provider_partition || role.account_id != provider_account {
            return Err(AwsRuleError::RoleProviderMismatch);
        }
        if role.partition != self.endpoints.partition {
            return Err(AwsRuleError::PartitionMismatch {
                role: role.partition.to_string(),
                endpoints: self.endpoints.partition.to_string(),
            });
        }

        if !(MIN_SESSION_SECONDS..=MAX_SESSION_SECONDS).contains(&self.session_duration_seconds) {
            return Err(AwsRuleError::DurationOutOfRange {
                what: "the SAML SessionDuration attribute",
                seconds: self.session_duration_seconds,
                min: MIN_SESSION_SECONDS,
                max: MAX_SESSION_SECONDS,
            });
        }
        if !(1..=MAX_ASSERTION_VALIDITY_SECONDS).contains(&self.valid_for_seconds) {
            return Err(AwsRuleError::ValidityWindow {
                seconds: self.valid_for_seconds,
                max: MAX_ASSERTION_VALIDITY_SECONDS,
            });
        }
        if self.authn_instant > self.now + TimeDelta::seconds(i64::from(NOT_BEFORE_SKEW_SECONDS)) {
            return Err(AwsRuleError::AuthnInstantInFuture);
        }
        // RoleSessionName, SourceIdentity and SessionTags are checked by their types.
        Ok(())
    }

    /// The `Role` attribute value: `role-arn,provider-arn`.
    pub fn role_attribute_value(&self) -> String {
        format!("{},{}", self.role_arn, self.provider_arn)
    }
}

/// An XML `ID` (NCName) of ASCII: a letter or `_`, then letters, digits, `_ . -`.
fn check_id(what: &'static str, id: &str) -> Result<(), AwsRuleError> {
    let mut bytes = id.bytes();
    let ok = (MIN_ID_CHARS..=MAX_ID_CHARS).contains(&id.len())
        && bytes
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if !ok {
        return Err(AwsRuleError::BadXmlId {
            what,
            min: MIN_ID_CHARS,
            max: MAX_ID_CHARS,
        });
    }
    Ok(())
}

/// 1–`max` characters, all allowed in XML, no control characters, not blank.
fn check_text(what: &'static str, value: &str, max: usize) -> Result<(), AwsRuleError> {
    let ok = (1..=max).contains(&value.chars().count())
        && is_xml_text(value)
        && !value.chars().any(char::is_control)
        && value.trim() == value;
    if !ok {
        return Err(AwsRuleError::BadText { what, max });
    }
    Ok(())
}

/// `arn:<partition>:iam::<account>:saml-provider/<name>` with a name of 1–128 `[\w.-]`.
fn parse_provider_arn(arn: &str) -> Option<(Partition, &str)> {
    let crate::protocol::arn::IamArn {
        partition,
        account,
        resource,
    } = crate::protocol::arn::IamArn::split(arn)?;
    let partition: Partition = partition.parse().ok()?;
    let name = resource.strip_prefix("saml-provider/")?;
    let name_ok = (1..=MAX_PROVIDER_NAME_CHARS).contains(&name.len())
        && name
            .chars()
            .all(|c| is_name_char(c) && !matches!(c, '+' | '=' | ',' | '@'));
    (is_account_id(account) && name_ok).then_some((partition, account))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use chrono::TimeZone;

    pub(crate) fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2030, 5, 6, 7, 8, 9)
            .single()
            .unwrap_or_default()
    }

    pub(crate) fn request() -> SamlBrokerRequest {
        SamlBrokerRequest {
            issuer: "https://roleport.example.org/aws/saml-metadata.xml".into(),
            response_id: "_r0123456789abcdef0123456789abcdef".into(),
            assertion_id: "_a0123456789abcdef0123456789abcdef".into(),
            now: now(),
            authn_instant: now() - TimeDelta::minutes(3),
            endpoints: PartitionEndpoints::defaults(Partition::Aws),
            name_id: "alice@example.org".into(),
            role_arn: "arn:aws:iam::123456789012:role/Admin".into(),
            provider_arn: "arn:aws:iam::123456789012:saml-provider/Roleport".into(),
            role_session_name: RoleSessionName::fit("alice@example.org@corp"),
            session_duration_seconds: 3600,
            source_identity: SourceIdentity::fit("alice@example.org@corp"),
            session_tags: SessionTags::new(
                [("team", "platform"), ("cost-center", "4711")],
                ["team"],
            )
            .unwrap_or_default(),
            valid_for_seconds: 300,
        }
    }

    #[test]
    fn the_fixture_is_valid() {
        assert_eq!(request().validate(), Ok(()));
        assert_eq!(
            request().role_attribute_value(),
            "arn:aws:iam::123456789012:role/Admin,arn:aws:iam::123456789012:saml-provider/Roleport"
        );
    }

    #[test]
    fn refusals_table() {
        type Edit = fn(&mut SamlBrokerRequest);
        let table: Vec<(Edit, AwsRuleError)> = vec![
            (
                |r| r.response_id = "-r0123456789abcdef".into(),
                AwsRuleError::BadXmlId {
                    what: "the Response ID",
                    min: 16,
                    max: 256,
                },
            ),
            (
                |r| r.response_id = "_short".into(),
                AwsRuleError::BadXmlId {
                    what: "the Response ID",
                    min: 16,
                    max: 256,
                },
            ),
            (
                |r| r.response_id = "1abcdefghijklmnopq".into(),
                AwsRuleError::BadXmlId {
                    what: "the Response ID",
                    min: 16,
                    max: 256,
                },
            ),
            (
                |r| r.assertion_id = "_abc\"def<ghijklmnop".into(),
                AwsRuleError::BadXmlId {
                    what: "the Assertion ID",
                    min: 16,
                    max: 256,
                },
            ),
            (
                |r| r.assertion_id = r.response_id.clone(),
                AwsRuleError::SameResponseAndAssertionId,
            ),
            (
                |r| r.issuer = String::new(),
                AwsRuleError::BadText {
                    what: "the Issuer (Roleport's IdP entity id)",
                    max: 1024,
                },
            ),
            (
                |r| r.issuer = "a\u{0}b".into(),
                AwsRuleError::BadText {
                    what: "the Issuer (Roleport's IdP entity id)",
                    max: 1024,
                },
            ),
            (
                |r| r.name_id = " alice".into(),
                AwsRuleError::BadText {
                    what: "the persistent NameID",
                    max: 256,
                },
            ),
            (
                |r| r.name_id = "x".repeat(257),
                AwsRuleError::BadText {
                    what: "the persistent NameID",
                    max: 256,
                },
            ),
            (
                |r| r.role_arn = "arn:aws:iam::123456789012:user/Admin".into(),
                AwsRuleError::BadRoleArn {
                    arn: "arn:aws:iam::123456789012:user/Admin".into(),
                },
            ),
            (
                |r| r.role_arn = "arn:aws:iam::123456789012:role/a,b/Admin".into(),
                AwsRuleError::CommaInRoleArn {
                    arn: "arn:aws:iam::123456789012:role/a,b/Admin".into(),
                },
            ),
            (
                |r| r.provider_arn = "arn:aws:iam::123456789012:oidc-provider/x".into(),
                AwsRuleError::BadProviderArn {
                    arn: "arn:aws:iam::123456789012:oidc-provider/x".into(),
                },
            ),
            (
                |r| r.provider_arn = "arn:aws:iam::123456789012:saml-provider/a,b".into(),
                AwsRuleError::BadProviderArn {
                    arn: "arn:aws:iam::123456789012:saml-provider/a,b".into(),
                },
            ),
            (
                |r| r.provider_arn = "arn:aws:iam::210987654321:saml-provider/Roleport".into(),
                AwsRuleError::RoleProviderMismatch,
            ),
            (
                |r| r.provider_arn = "arn:aws-cn:iam::123456789012:saml-provider/Roleport".into(),
                AwsRuleError::RoleProviderMismatch,
            ),
            (
                |r| r.endpoints = PartitionEndpoints::defaults(Partition::AwsUsGov),
                AwsRuleError::PartitionMismatch {
                    role: "aws".into(),
                    endpoints: "aws-us-gov".into(),
                },
            ),
            (
                |r| r.endpoints.saml_audience = "urn:amazon:webservices:govcloud".into(),
                AwsRuleError::WrongAudience {
                    expected: "urn:amazon:webservices".into(),
                    got: "urn:amazon:webservices:govcloud".into(),
                },
            ),
            (
                |r| r.session_duration_seconds = 899,
                AwsRuleError::DurationOutOfRange {
                    what: "the SAML SessionDuration attribute",
                    seconds: 899,
                    min: 900,
                    max: 43_200,
                },
            ),
            (
                |r| r.session_duration_seconds = 43_201,
                AwsRuleError::DurationOutOfRange {
                    what: "the SAML SessionDuration attribute",
                    seconds: 43_201,
                    min: 900,
                    max: 43_200,
                },
            ),
            (
                |r| r.valid_for_seconds = 301,
                AwsRuleError::ValidityWindow {
                    seconds: 301,
                    max: 300,
                },
            ),
            (
                |r| r.valid_for_seconds = 0,
                AwsRuleError::ValidityWindow {
                    seconds: 0,
                    max: 300,
                },
            ),
            (
                |r| r.authn_instant = r.now + TimeDelta::minutes(2),
                AwsRuleError::AuthnInstantInFuture,
            ),
        ];
        for (i, (edit, want)) in table.into_iter().enumerate() {
            let mut r = request();
            edit(&mut r);
            assert_eq!(r.validate(), Err(want), "case {i}");
        }
    }

    #[test]
    fn partitions_table() {
        for (p, role, provider) in [
            (
                Partition::AwsCn,
                "arn:aws-cn:iam::123456789012:role/R",
                "arn:aws-cn:iam::123456789012:saml-provider/P",
            ),
            (
                Partition::AwsUsGov,
                "arn:aws-us-gov:iam::123456789012:role/a/b/R",
                "arn:aws-us-gov:iam::123456789012:saml-provider/P_x.y-z",
            ),
        ] {
            let mut r = request();
            r.endpoints = PartitionEndpoints::defaults(p);
            r.role_arn = role.into();
            r.provider_arn = provider.into();
            assert_eq!(r.validate(), Ok(()), "{p}");
        }
    }
}
