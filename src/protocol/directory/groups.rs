//! Which groups resolved from the directory are added to those the assertion carried, and in
//! which spelling, so that the rules written for the assertion's format match them too.

use crate::protocol::mapping::Dn;

/// How a resolved group is written into the identity's groups (`group_format`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupFormat {
    /// The group's DN as the directory spells it (for `ldap_dn` rules; OpenLDAP `memberOf`).
    Dn,
    /// The group's name attribute (`sAMAccountName`, `cn`): AD FS "Unqualified Names".
    Name,
    /// `DOMAIN\name`: AD FS "Qualified by Domain Name", with the configured NetBIOS domain.
    Qualified { netbios_domain: String },
}

/// A group the directory says the person is in (directly or through nesting).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedGroup {
    pub dn: String,
    /// The name attribute's value, when the entry had exactly one.
    pub name: Option<String>,
}

impl ResolvedGroup {
    fn spelled(&self, format: &GroupFormat) -> Option<String> {
        match format {
            GroupFormat::Dn => Some(self.dn.clone()),
            GroupFormat::Name => self.name.clone(),
            GroupFormat::Qualified { netbios_domain } => {
                self.name.as_ref().map(|n| format!("{netbios_domain}\\{n}"))
            }
        }
    }
}

/// The resolved groups, spelled per `format`, that the assertion did not already carry. A value
/// the assertion carried is recognised exactly, or as an equal DN (RFC 4514) in the DN format;
/// nothing else is folded. A group whose name is unknown cannot be spelled as a name and is
/// left out of the name formats (its DN still shows in the audit row's directory lookups).
pub fn groups_to_add(
    from_assertion: &[String],
    resolved: &[ResolvedGroup],
    format: &GroupFormat,
) -> Vec<String> {
    let assertion_dns: Vec<Dn> = match format {
        GroupFormat::Dn => from_assertion
            .iter()
            .filter_map(|g| Dn::parse(g).ok())
            .collect(),
        _ => Vec::new(),
    };
    let mut out: Vec<String> = Vec::new();
    let mut added_dns: Vec<Dn> = Vec::new();
    for group in resolved {
        let Some(value) = group.spelled(format) else {
            continue;
        };
        if from_assertion.contains(&value) || out.contains(&value) {
            continue;
        }
        if *format == GroupFormat::Dn
            && let Ok(dn) = Dn::parse(&value)
        {
            if assertion_dns.contains(&dn) || added_dns.contains(&dn) {
                continue;
            }
            added_dns.push(dn);
        }
        out.push(value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(dn: &str, name: &str) -> ResolvedGroup {
        ResolvedGroup {
            dn: dn.into(),
            name: Some(name.into()),
        }
    }

    #[test]
    fn only_what_the_assertion_lacks() {
        let resolved = [
            g("CN=aws-admins,CN=Users,DC=example,DC=test", "aws-admins"),
            g("CN=oncall,CN=Users,DC=example,DC=test", "oncall"),
        ];
        let assertion = vec!["cn=ONCALL, cn=users,dc=example,dc=test".to_string()];
        assert_eq!(
            groups_to_add(&assertion, &resolved, &GroupFormat::Dn),
            vec!["CN=aws-admins,CN=Users,DC=example,DC=test"]
        );
        assert_eq!(
            groups_to_add(&["oncall".into()], &resolved, &GroupFormat::Name),
            vec!["aws-admins"]
        );
        assert_eq!(
            groups_to_add(
                &["EXAMPLE\\oncall".into()],
                &resolved,
                &GroupFormat::Qualified {
                    netbios_domain: "EXAMPLE".into()
                }
            ),
            vec!["EXAMPLE\\aws-admins"]
        );
    }

    #[test]
    fn names_are_not_folded() {
        // `AWS-Admins` from the assertion and `aws-admins` from the directory are both kept:
        // which of them a rule matches is the rule's business (ad_group folds, exact does not).
        let resolved = [g("CN=aws-admins,DC=x", "aws-admins")];
        assert_eq!(
            groups_to_add(&["AWS-Admins".into()], &resolved, &GroupFormat::Name),
            vec!["aws-admins"]
        );
    }

    #[test]
    fn unnamed_groups_are_left_out_of_name_formats() {
        let resolved = [ResolvedGroup {
            dn: "CN=x,DC=y".into(),
            name: None,
        }];
        assert!(groups_to_add(&[], &resolved, &GroupFormat::Name).is_empty());
        assert_eq!(
            groups_to_add(&[], &resolved, &GroupFormat::Dn),
            vec!["CN=x,DC=y"]
        );
    }
}
