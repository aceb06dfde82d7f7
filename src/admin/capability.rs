//! Capabilities an allow rule grants for the admin pages, in the rules document's own words
//! (`capabilities: [security-team]`), like `decode-authorization-message` for the support page.
//!
//! One capability per area, so a rules document can grant only what a person needs (an
//! auditor gets `audit-read`, an on-call engineer `sessions-admin`); `security-team` grants
//! every area at once.

use std::collections::BTreeSet;

/// Every admin area.
pub const SECURITY_TEAM: &str = "security-team";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Area {
    /// Search, read and export the audit log; see the chain's state.
    Audit,
    /// See who is signed in; end sessions.
    Sessions,
    /// See, explain, dry-run and import the rules.
    Rules,
    /// See the identity providers' trust and activity.
    Idps,
}

impl Area {
    pub const ALL: [Area; 4] = [Area::Audit, Area::Sessions, Area::Rules, Area::Idps];

    /// The capability that opens this area on its own.
    pub fn capability(self) -> &'static str {
        match self {
            Area::Audit => "audit-read",
            Area::Sessions => "sessions-admin",
            Area::Rules => "rules-admin",
            Area::Idps => "idp-read",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Area::Audit => "Audit log",
            Area::Sessions => "Sessions",
            Area::Rules => "Rules",
            Area::Idps => "Identity providers",
        }
    }

    pub fn href(self) -> &'static str {
        match self {
            Area::Audit => "/admin/audit",
            Area::Sessions => "/admin/sessions",
            Area::Rules => "/admin/rules",
            Area::Idps => "/admin/idps",
        }
    }
}

/// Whether a person with these capabilities may use `area`.
pub fn allows(capabilities: &BTreeSet<String>, area: Area) -> bool {
    capabilities.contains(SECURITY_TEAM) || capabilities.contains(area.capability())
}

/// The areas these capabilities open, in menu order.
pub fn areas(capabilities: &BTreeSet<String>) -> Vec<Area> {
    Area::ALL
        .into_iter()
        .filter(|a| allows(capabilities, *a))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(list: &[&str]) -> BTreeSet<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn security_team_opens_everything_and_each_area_only_itself() {
        assert_eq!(areas(&caps(&[SECURITY_TEAM])), Area::ALL.to_vec());
        assert_eq!(areas(&caps(&["audit-read"])), vec![Area::Audit]);
        assert_eq!(
            areas(&caps(&["sessions-admin", "idp-read"])),
            vec![Area::Sessions, Area::Idps]
        );
        assert!(areas(&caps(&["decode-authorization-message"])).is_empty());
        assert!(areas(&caps(&[])).is_empty());
    }

    #[test]
    fn near_misses_open_nothing() {
        // Capabilities are compared exactly, as the rules wrote them.
        for wrong in [
            "Security-Team",
            "security-team ",
            "securityteam",
            "audit_read",
        ] {
            assert!(areas(&caps(&[wrong])).is_empty(), "{wrong}");
        }
    }
}
