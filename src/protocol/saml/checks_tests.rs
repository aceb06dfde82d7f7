//! The profile checks on parsed (unsigned) assertions: the lifetime cap, bearer NotBefore, and
//! that the parser hands identity values over exactly as written.

use super::SamlError;
use super::attributes::{AttributeMapping, extract_identity};
use super::checks::{Expectations, assertion};
use super::verify::{Solicitation, VerifiedAssertion};
use chrono::{DateTime, Duration, SecondsFormat, TimeZone, Utc};
use samael::schema::Assertion;

const IDP: &str = "https://idp.example/metadata";
const SP: &str = "https://rp.example/saml/metadata";
const ACS: &str = "https://rp.example/saml/acs";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 7, 9, 0, 0).unwrap()
}

fn t(d: Duration) -> String {
    (now() + d).to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// What varies between the test assertions; everything else is a valid answer issued at `now`.
struct Shape {
    conditions_end: Option<Duration>,
    confirmations: Vec<(Option<Duration>, Option<Duration>)>,
    name_id: &'static str,
    attributes: &'static str,
}

impl Default for Shape {
    fn default() -> Self {
        Self {
            conditions_end: Some(Duration::minutes(5)),
            confirmations: vec![(None, Some(Duration::minutes(5)))],
            name_id: "alice@example.org",
            attributes: r#"<saml:Attribute Name="groups"><saml:AttributeValue>aws-admins</saml:AttributeValue></saml:Attribute>"#,
        }
    }
}

fn parse(shape: &Shape) -> Assertion {
    let confirmations: String = shape
        .confirmations
        .iter()
        .map(|(not_before, end)| {
            let nb = not_before
                .map(|d| format!(r#" NotBefore="{}""#, t(d)))
                .unwrap_or_default();
            let end = end
                .map(|d| format!(r#" NotOnOrAfter="{}""#, t(d)))
                .unwrap_or_default();
            format!(
                r#"<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData{nb}{end} Recipient="{ACS}"/></saml:SubjectConfirmation>"#
            )
        })
        .collect();
    let conditions_end = shape
        .conditions_end
        .map(|d| format!(r#" NotOnOrAfter="{}""#, t(d)))
        .unwrap_or_default();
    let xml = format!(
        concat!(
            r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a1" Version="2.0" IssueInstant="{issued}">"#,
            r#"<saml:Issuer>{idp}</saml:Issuer>"#,
            r#"<saml:Subject><saml:NameID>{name_id}</saml:NameID>{confirmations}</saml:Subject>"#,
            r#"<saml:Conditions NotBefore="{nb}"{conditions_end}><saml:AudienceRestriction><saml:Audience>{sp}</saml:Audience></saml:AudienceRestriction></saml:Conditions>"#,
            r#"<saml:AuthnStatement AuthnInstant="{issued}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>"#,
            r#"<saml:AttributeStatement>{attributes}</saml:AttributeStatement>"#,
            r#"</saml:Assertion>"#
        ),
        issued = t(Duration::zero()),
        idp = IDP,
        name_id = shape.name_id,
        confirmations = confirmations,
        nb = t(Duration::seconds(-30)),
        conditions_end = conditions_end,
        sp = SP,
        attributes = shape.attributes,
    );
    super::verify::unsigned_assertion(&xml).unwrap()
}

fn check(shape: &Shape, max_lifetime: Duration) -> Result<VerifiedAssertion, SamlError> {
    let solicitation = Solicitation::Unsolicited { allowed: true };
    let expect = Expectations {
        idp_entity_id: IDP,
        sp_entity_id: SP,
        acs_url: ACS,
        solicitation: &solicitation,
        skew: Duration::seconds(90),
        max_age: Duration::minutes(10),
        max_lifetime,
        now: now(),
    };
    assertion(&expect, parse(shape))
}

fn day() -> Duration {
    Duration::days(1)
}

#[test]
fn a_normal_assertion_passes() {
    let v = check(&Shape::default(), day()).unwrap();
    assert_eq!(v.name_id.as_deref(), Some("alice@example.org"));
    assert_eq!(
        v.replay_until,
        now() + Duration::minutes(5) + Duration::seconds(90)
    );
}

#[test]
fn lifetime_cap_applies_to_conditions_and_every_bearer_confirmation() {
    // Exactly at the cap: accepted.
    let at_cap = Shape {
        conditions_end: Some(day()),
        confirmations: vec![(None, Some(day()))],
        ..Shape::default()
    };
    assert!(check(&at_cap, day()).is_ok());

    let over = day() + Duration::seconds(1);
    let conditions = Shape {
        conditions_end: Some(over),
        ..Shape::default()
    };
    assert_eq!(
        check(&conditions, day()),
        Err(SamlError::LifetimeTooLong {
            element: "Conditions",
            seconds: 86_401,
            max: 86_400
        })
    );
    let confirmation = Shape {
        confirmations: vec![(None, Some(Duration::days(30)))],
        ..Shape::default()
    };
    assert_eq!(
        check(&confirmation, day()).unwrap_err().code(),
        "lifetime_too_long"
    );
    // A second, unused bearer confirmation cannot carry the long lifetime either.
    let second = Shape {
        confirmations: vec![
            (None, Some(Duration::minutes(5))),
            (None, Some(Duration::days(30))),
        ],
        ..Shape::default()
    };
    assert_eq!(
        check(&second, day()),
        Err(SamlError::LifetimeTooLong {
            element: "SubjectConfirmationData",
            seconds: 30 * 86_400,
            max: 86_400
        })
    );
    // A configured lower cap is honoured.
    assert_eq!(
        check(&Shape::default(), Duration::minutes(4))
            .unwrap_err()
            .code(),
        "lifetime_too_long"
    );
    // Without a Conditions NotOnOrAfter, the confirmation's bounds the assertion.
    let no_conditions_end = Shape {
        conditions_end: None,
        ..Shape::default()
    };
    assert!(check(&no_conditions_end, day()).is_ok());
}

#[test]
fn bearer_confirmation_with_not_before_is_refused() {
    for not_before in [
        Duration::seconds(-30),
        Duration::zero(),
        Duration::minutes(1),
    ] {
        let shape = Shape {
            confirmations: vec![(Some(not_before), Some(Duration::minutes(5)))],
            ..Shape::default()
        };
        assert_eq!(
            check(&shape, day()),
            Err(SamlError::ConfirmationNotBefore),
            "{not_before}"
        );
    }
    // Also when another bearer confirmation would have been fine.
    let shape = Shape {
        confirmations: vec![
            (None, Some(Duration::minutes(5))),
            (Some(Duration::zero()), Some(Duration::minutes(5))),
        ],
        ..Shape::default()
    };
    assert_eq!(check(&shape, day()), Err(SamlError::ConfirmationNotBefore));
}

fn mapping() -> AttributeMapping {
    AttributeMapping {
        groups: vec!["groups".into()],
        subject: None,
        email: vec!["mail".into()],
        display_name: vec!["displayName".into()],
    }
}

/// The tree reader (libxml2, as verified by libxmlsec1) must not trim: if it did, `" admins"` would reach the
/// identity rule as `admins` and be accepted. This guards the parser, not only the rule.
#[test]
fn the_parser_keeps_whitespace_and_the_rule_refuses_it() {
    let shape = Shape {
        name_id: " admin@example.com&#10;",
        ..Shape::default()
    };
    let v = check(&shape, day()).unwrap();
    assert_eq!(v.name_id.as_deref(), Some(" admin@example.com\n"));
    assert_eq!(
        extract_identity("x", &v, &mapping())
            .unwrap_err()
            .to_string(),
        "subject (NameID) has leading whitespace (U+0020)"
    );

    let shape = Shape {
        attributes: r#"<saml:Attribute Name="groups"><saml:AttributeValue>Domain Users</saml:AttributeValue><saml:AttributeValue> admins</saml:AttributeValue><saml:AttributeValue>ops&#9;</saml:AttributeValue></saml:Attribute>"#,
        ..Shape::default()
    };
    let v = check(&shape, day()).unwrap();
    assert_eq!(
        v.attributes["groups"],
        vec!["Domain Users", " admins", "ops\t"]
    );
    assert_eq!(
        extract_identity("x", &v, &mapping())
            .unwrap_err()
            .to_string(),
        "group value 2 of attribute \"groups\" has leading whitespace (U+0020)"
    );
}

/// `<AttributeValue/>` is an empty value, not no value: refused as a group.
#[test]
fn an_empty_attribute_value_is_kept_and_refused() {
    let shape = Shape {
        attributes: r#"<saml:Attribute Name="groups"><saml:AttributeValue>aws-readonly</saml:AttributeValue><saml:AttributeValue/></saml:Attribute>"#,
        ..Shape::default()
    };
    let v = check(&shape, day()).unwrap();
    assert_eq!(v.attributes["groups"], vec!["aws-readonly", ""]);
    assert_eq!(
        extract_identity("x", &v, &mapping())
            .unwrap_err()
            .to_string(),
        "group value 2 of attribute \"groups\" is empty"
    );
}

#[test]
fn inner_spaces_are_kept_and_accepted() {
    let shape = Shape {
        attributes: r#"<saml:Attribute Name="groups"><saml:AttributeValue>Domain Users</saml:AttributeValue></saml:Attribute>"#,
        ..Shape::default()
    };
    let v = check(&shape, day()).unwrap();
    let id = extract_identity("x", &v, &mapping()).unwrap();
    assert_eq!(id.groups, vec!["Domain Users"]);
    assert_eq!(id.subject, "alice@example.org");
}
