//! An e-mail address counts only when its IdP vouches for it (OIDC `email_verified`, the SAML
//! IdP's `attributes.email_verified` setting), whichever claim path a rule uses to reach it.
//!
//! Rather than teaching every selector which attribute might hold an address, an unverified
//! address is taken out of the identity before any rule sees it: out of `email`, out of the
//! attributes the IdP is configured to send it in (whole), and out of every other attribute
//! whose value is exactly that address. What is left cannot carry it.

use super::FederatedIdentity;

impl FederatedIdentity {
    /// Drops the e-mail address unless `verified`; `email_attributes` are the attribute (or
    /// top-level claim) names configured to carry it.
    pub fn forget_unverified_email<S: AsRef<str>>(
        &mut self,
        verified: bool,
        email_attributes: &[S],
    ) {
        if verified {
            return;
        }
        let address = self.email.take();
        for name in email_attributes {
            self.attributes.remove(name.as_ref());
        }
        if let Some(address) = address {
            for values in self.attributes.values_mut() {
                values.retain(|v| *v != address);
            }
            self.attributes.retain(|_, values| !values.is_empty());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn identity() -> FederatedIdentity {
        FederatedIdentity {
            idp: "google".into(),
            subject: "1234".into(),
            email: Some("admin@corp.example".into()),
            display_name: None,
            groups: vec![],
            attributes: BTreeMap::from([
                ("email".into(), vec!["admin@corp.example".into()]),
                (
                    "preferred_username".into(),
                    vec!["admin@corp.example".into()],
                ),
                (
                    "aliases".into(),
                    vec!["admin@corp.example".into(), "a".into()],
                ),
                ("locale".into(), vec!["en".into()]),
            ]),
        }
    }

    #[test]
    fn unverified_address_leaves_every_attribute() {
        let mut id = identity();
        id.forget_unverified_email(false, &["email"]);
        assert_eq!(id.email, None);
        assert_eq!(
            id.attributes,
            BTreeMap::from([
                ("aliases".into(), vec!["a".into()]),
                ("locale".into(), vec!["en".into()]),
            ])
        );
    }

    #[test]
    fn configured_attribute_goes_even_without_an_address() {
        let mut id = identity();
        id.email = None;
        id.forget_unverified_email(false, &["email"]);
        assert!(!id.attributes.contains_key("email"));
        assert!(id.attributes.contains_key("preferred_username"));
    }

    #[test]
    fn verified_address_stays() {
        let mut id = identity();
        id.forget_unverified_email(true, &["email"]);
        assert_eq!(id, identity());
    }
}
