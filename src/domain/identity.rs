//! One normalised identity for every upstream kind (the dex `connector.Identity` shape).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FederatedIdentity {
    pub idp: String,
    /// Stable id of the person at that IdP.
    pub subject: String,
    pub email: Option<String>,
    pub display_name: Option<String>,
    pub groups: Vec<String>,
    /// Every attribute/claim a rule can read (`attribute:<name>`), each value exactly as signed
    /// and checked by `protocol::identity_value`; display names are not among them.
    pub attributes: BTreeMap<String, Vec<String>>,
}

impl FederatedIdentity {
    /// The person as every page's header names them: display name, else e-mail, else subject.
    pub fn name_to_show(&self) -> String {
        self.display_name
            .clone()
            .or_else(|| self.email.clone())
            .unwrap_or_else(|| self.subject.clone())
    }
}
