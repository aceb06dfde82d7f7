//! From a verified assertion to a [`FederatedIdentity`]: which attributes carry groups, the stable
//! id, e-mail and display name is configuration, so AD FS, OpenLDAP-backed IdPs and others fit.
//!
//! Every identity-bearing value is used exactly as signed ([`crate::protocol::identity_value`]):
//! the subject (NameID, or the first value of the subject attribute), the e-mail (the first value
//! of the first e-mail attribute present), every value of every group attribute, and every value
//! of every attribute kept for rules. One refused value refuses the sign-in, named precisely
//! (`group value 3 of attribute "memberOf" has leading whitespace (U+0020)`). Nothing is trimmed.
//!
//! Display-name attributes are shown, never matched: they are not kept for rules and not checked,
//! unless they are also configured as the subject, e-mail or group attribute.

use super::{SamlError, VerifiedAssertion};
use crate::domain::FederatedIdentity;
use crate::protocol::identity_value::{self, Field, Source};
use std::collections::BTreeMap;

#[derive(Debug, Clone)]
pub struct AttributeMapping {
    pub groups: Vec<String>,
    /// The NameID when `None`.
    pub subject: Option<String>,
    pub email: Vec<String>,
    pub display_name: Vec<String>,
}

impl AttributeMapping {
    fn is_identity(&self, name: &str) -> bool {
        self.subject.as_deref() == Some(name)
            || self.email.iter().any(|e| e == name)
            || self.groups.iter().any(|g| g == name)
    }

    fn is_display_only(&self, name: &str) -> bool {
        self.display_name.iter().any(|d| d == name) && !self.is_identity(name)
    }
}

pub fn extract_identity(
    idp: &str,
    assertion: &VerifiedAssertion,
    mapping: &AttributeMapping,
) -> Result<FederatedIdentity, SamlError> {
    let first_of = |name: &str| {
        assertion
            .attributes
            .get(name)
            .and_then(|values| values.first())
    };
    let subject = match &mapping.subject {
        Some(attr) => {
            let value = first_of(attr).ok_or(SamlError::NoSubject)?;
            identity_value::require(value, || Field::Subject(Source::Attribute(attr.clone())))?
        }
        None => {
            let value = assertion.name_id.as_deref().ok_or(SamlError::NoSubject)?;
            identity_value::require(value, || Field::Subject(Source::NameId))?
        }
    }
    .to_owned();

    let email = match mapping
        .email
        .iter()
        .find_map(|name| first_of(name).map(|value| (name, value)))
    {
        Some((name, value)) => Some(
            identity_value::require(value, || Field::Email(Source::Attribute(name.clone())))?
                .to_owned(),
        ),
        None => None,
    };

    let mut groups: Vec<String> = Vec::new();
    for name in &mapping.groups {
        for (index, value) in assertion
            .attributes
            .get(name)
            .into_iter()
            .flatten()
            .enumerate()
        {
            identity_value::require(value, || Field::Group {
                source: Source::Attribute(name.clone()),
                position: index.saturating_add(1),
            })?;
            if !groups.contains(value) {
                groups.push(value.clone());
            }
        }
    }

    let attributes: BTreeMap<String, Vec<String>> = assertion
        .attributes
        .iter()
        .filter(|(name, _)| !mapping.is_display_only(name))
        .map(|(name, values)| (name.clone(), values.clone()))
        .collect();
    identity_value::require_all(&attributes, |name| Source::Attribute(name.to_owned()))?;

    // Shown as text (escaped where rendered), never matched: the first value with something in it.
    let display_name = mapping
        .display_name
        .iter()
        .filter_map(|name| assertion.attributes.get(name))
        .flatten()
        .find(|v| !v.trim().is_empty())
        .cloned();

    Ok(FederatedIdentity {
        idp: idp.to_string(),
        subject,
        email,
        display_name,
        groups,
        attributes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn assertion(attrs: &[(&str, &[&str])], name_id: Option<&str>) -> VerifiedAssertion {
        VerifiedAssertion {
            assertion_id: "_a".into(),
            issuer: "idp".into(),
            name_id: name_id.map(str::to_string),
            name_id_format: None,
            session_index: None,
            replay_until: Utc.timestamp_opt(0, 0).unwrap(),
            issue_instant: Utc.timestamp_opt(0, 0).unwrap(),
            attributes: attrs
                .iter()
                .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect()))
                .collect::<BTreeMap<_, _>>(),
        }
    }

    fn mapping(subject: Option<&str>) -> AttributeMapping {
        AttributeMapping {
            groups: vec![
                "http://schemas.xmlsoap.org/claims/Group".into(),
                "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups".into(),
                "memberOf".into(),
                "groups".into(),
            ],
            subject: subject.map(str::to_string),
            email: vec!["mail".into(), "email".into()],
            display_name: vec!["displayName".into()],
        }
    }

    #[test]
    fn adfs_ldap_and_plain_group_shapes() {
        let a = assertion(
            &[
                (
                    "http://schemas.xmlsoap.org/claims/Group",
                    &["Domain Users", "AWS-Admins"],
                ),
                ("memberOf", &["cn=aws-readonly,ou=groups,dc=example,dc=org"]),
                ("groups", &["AWS-Admins"]),
                ("mail", &["alice@example.org"]),
                ("displayName", &["Alice Example"]),
            ],
            Some("alice"),
        );
        let id = extract_identity("corp", &a, &mapping(None)).unwrap();
        assert_eq!(id.subject, "alice");
        assert_eq!(
            id.groups,
            vec![
                "Domain Users",
                "AWS-Admins",
                "cn=aws-readonly,ou=groups,dc=example,dc=org"
            ]
        );
        assert_eq!(id.email.as_deref(), Some("alice@example.org"));
        assert_eq!(id.display_name.as_deref(), Some("Alice Example"));
        // Display names are not rule inputs; everything else is kept as signed.
        assert!(!id.attributes.contains_key("displayName"));
        assert_eq!(id.attributes["groups"], vec!["AWS-Admins"]);
        assert_eq!(id.attributes["mail"], vec!["alice@example.org"]);
    }

    #[test]
    fn subject_from_attribute_or_refused() {
        let a = assertion(&[("uid", &["alice"])], Some("transient-123"));
        assert_eq!(
            extract_identity("x", &a, &mapping(Some("uid")))
                .unwrap()
                .subject,
            "alice"
        );
        let a = assertion(&[], Some("transient-123"));
        assert_eq!(
            extract_identity("x", &a, &mapping(Some("uid"))),
            Err(SamlError::NoSubject)
        );
        let a = assertion(&[], None);
        assert_eq!(
            extract_identity("x", &a, &mapping(None)),
            Err(SamlError::NoSubject)
        );
    }

    fn refusal(attrs: &[(&str, &[&str])], name_id: &str, subject: Option<&str>) -> String {
        let a = assertion(attrs, Some(name_id));
        match extract_identity("x", &a, &mapping(subject)) {
            Err(e) => format!("{}: {e}", e.code()),
            Ok(id) => panic!("accepted: {id:?}"),
        }
    }

    #[test]
    fn identity_values_are_used_exactly_as_signed_or_refused() {
        let ok = [("groups", &["aws-admins"][..]), ("mail", &["a@x.org"][..])];
        let cases: Vec<(String, &str)> = vec![
            (
                refusal(&ok, " admin@example.com\n", None),
                "identity_value_refused: subject (NameID) has leading whitespace (U+0020)",
            ),
            (
                refusal(&ok, "admin@example.com\n", None),
                "identity_value_refused: subject (NameID) has trailing whitespace (U+000A)",
            ),
            (
                refusal(&ok, "", None),
                "identity_value_refused: subject (NameID) is empty",
            ),
            (
                refusal(&[("uid", &["alice\u{200B}"])], "t-1", Some("uid")),
                "identity_value_refused: subject (attribute \"uid\") contains invisible character U+200B at character 6",
            ),
            (
                refusal(
                    &[("groups", &["aws-readonly", "Domain Users", " admins"])],
                    "alice",
                    None,
                ),
                "identity_value_refused: group value 3 of attribute \"groups\" has leading whitespace (U+0020)",
            ),
            (
                refusal(&[("memberOf", &[""])], "alice", None),
                "identity_value_refused: group value 1 of attribute \"memberOf\" is empty",
            ),
            (
                refusal(&[("groups", &["admins\u{202E}"])], "alice", None),
                "identity_value_refused: group value 1 of attribute \"groups\" contains bidirectional control U+202E at character 7",
            ),
            (
                refusal(&[("groups", &["adm\u{7F}ins"])], "alice", None),
                "identity_value_refused: group value 1 of attribute \"groups\" contains control character U+007F at character 4",
            ),
            (
                refusal(&[("mail", &["alice@example.org\u{200D}"])], "alice", None),
                "identity_value_refused: e-mail (attribute \"mail\") contains invisible character U+200D at character 18",
            ),
            (
                refusal(&[("department", &["Ops", "Sec "])], "alice", None),
                "identity_value_refused: value 2 of attribute \"department\" has trailing whitespace (U+0020)",
            ),
        ];
        for (got, want) in cases {
            assert_eq!(got, want);
        }
    }

    #[test]
    fn display_names_are_never_refused_or_matched() {
        let a = assertion(
            &[
                ("displayName", &[" Alice \u{202E}Example\n"]),
                ("groups", &["aws-admins"]),
            ],
            Some("alice"),
        );
        let id = extract_identity("x", &a, &mapping(None)).unwrap();
        assert_eq!(id.display_name.as_deref(), Some(" Alice \u{202E}Example\n"));
        assert!(!id.attributes.contains_key("displayName"));
        // An attribute that is display name and group at once is a group: checked.
        let mut m = mapping(None);
        m.display_name.push("groups".into());
        let a = assertion(&[("groups", &[" admins"])], Some("alice"));
        assert_eq!(
            extract_identity("x", &a, &m).unwrap_err().code(),
            "identity_value_refused"
        );
    }

    proptest! {
        #[test]
        fn groups_are_exact_unique_and_come_only_from_group_attributes(
            groups in prop::collection::vec("[a-zA-Z0-9=, \u{A0}\u{200B}-]{0,20}", 0..8),
            other in prop::collection::vec("[a-z]{1,8}", 0..4),
        ) {
            let g: Vec<&str> = groups.iter().map(String::as_str).collect();
            let o: Vec<&str> = other.iter().map(String::as_str).collect();
            let a = assertion(&[("memberOf", &g), ("department", &o)], Some("u"));
            let all_exact = groups.iter().all(|v| identity_value::exact(v).is_ok());
            match extract_identity("x", &a, &mapping(None)) {
                Ok(id) => {
                    prop_assert!(all_exact);
                    let mut want: Vec<String> = Vec::new();
                    for v in &groups {
                        if !want.contains(v) {
                            want.push(v.clone());
                        }
                    }
                    prop_assert_eq!(id.groups, want);
                }
                Err(e) => {
                    prop_assert!(!all_exact);
                    prop_assert_eq!(e.code(), "identity_value_refused");
                }
            }
        }
    }
}
