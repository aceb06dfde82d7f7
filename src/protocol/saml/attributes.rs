//! From a verified assertion to a [`FederatedIdentity`]: which attributes carry groups, the stable
//! id, e-mail and display name is configuration, so AD FS, OpenLDAP-backed IdPs and others fit.

use super::{SamlError, VerifiedAssertion};
use crate::domain::FederatedIdentity;

#[derive(Debug, Clone)]
pub struct AttributeMapping {
    pub groups: Vec<String>,
    /// The NameID when `None`.
    pub subject: Option<String>,
    pub email: Vec<String>,
    pub display_name: Vec<String>,
}

pub fn extract_identity(
    idp: &str,
    assertion: &VerifiedAssertion,
    mapping: &AttributeMapping,
) -> Result<FederatedIdentity, SamlError> {
    let single = |names: &[String]| -> Option<String> {
        names
            .iter()
            .filter_map(|n| assertion.attributes.get(n))
            .flat_map(|values| values.iter())
            .map(|v| v.trim())
            .find(|v| !v.is_empty())
            .map(str::to_string)
    };
    let subject = match &mapping.subject {
        Some(attr) => single(std::slice::from_ref(attr)),
        None => assertion.name_id.as_ref().map(|n| n.trim().to_string()),
    }
    .filter(|s| !s.is_empty())
    .ok_or(SamlError::NoSubject)?;

    let mut groups: Vec<String> = Vec::new();
    for name in &mapping.groups {
        for value in assertion.attributes.get(name).into_iter().flatten() {
            let value = value.trim();
            if !value.is_empty() && !groups.iter().any(|g| g == value) {
                groups.push(value.to_string());
            }
        }
    }
    Ok(FederatedIdentity {
        idp: idp.to_string(),
        subject,
        email: single(&mapping.email),
        display_name: single(&mapping.display_name),
        groups,
        attributes: assertion.attributes.clone(),
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
                ("groups", &["AWS-Admins", " "]),
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
        let a = assertion(&[], Some("  "));
        assert_eq!(
            extract_identity("x", &a, &mapping(None)),
            Err(SamlError::NoSubject)
        );
    }

    proptest! {
        #[test]
        fn groups_are_unique_and_come_only_from_group_attributes(
            groups in prop::collection::vec("[a-zA-Z0-9=, -]{1,20}", 0..8),
            other in prop::collection::vec("[a-z]{1,8}", 0..4),
        ) {
            let g: Vec<&str> = groups.iter().map(String::as_str).collect();
            let o: Vec<&str> = other.iter().map(String::as_str).collect();
            let a = assertion(&[("memberOf", &g), ("department", &o)], Some("u"));
            let id = extract_identity("x", &a, &mapping(None)).unwrap();
            let mut seen = std::collections::BTreeSet::new();
            for group in &id.groups {
                prop_assert!(seen.insert(group.clone()));
                prop_assert!(groups.iter().any(|x| x.trim() == group));
            }
        }
    }
}
