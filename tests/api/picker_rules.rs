//! A rules document with many grants for one person (the demo directory's `aws-admins` group at
//! demo-saml, so alice holds them all), shared
//! by the picker benchmark (benches/picker.rs) and the browser test of the filter at 2,000
//! grants. Accounts carry metadata; every fifth is production.

const ROLES: [(&str, &str, &str); 10] = [
    ("Admin", "Administrator", "Full access"),
    ("PowerUser", "Power user", "Everything but IAM"),
    ("Developer", "Developer", "Deploy and debug services"),
    ("ReadOnly", "Read-only", "Console and API read access"),
    ("Billing", "Billing viewer", "Cost Explorer and invoices"),
    ("OnCall", "On-call engineer", "Restart services, read logs"),
    ("Auditor", "Auditor", "CloudTrail, Config, Security Hub"),
    ("NetworkAdmin", "Network administrator", "VPCs and Route 53"),
    ("DataAnalyst", "Data analyst", "Athena on the curated zone"),
    (
        "SupportEngineer",
        "Support engineer",
        "Support cases and Health",
    ),
];
const ENVIRONMENTS: [&str; 5] = ["production", "staging", "development", "test", "sandbox"];
const TEAMS: [&str; 7] = [
    "Payments",
    "Data platform",
    "Search",
    "Identity",
    "Mobile",
    "Checkout",
    "Logistics",
];

/// `accounts` accounts with `roles_per_account` (at most 10) roles each, all granted to
/// members of `cn=aws-admins,…` signed in at demo-saml.
pub fn many_grants_rules(accounts: usize, roles_per_account: usize) -> String {
    let mut doc = String::from("version: 1\naccounts:\n");
    for i in 0..accounts {
        let team = TEAMS[i % TEAMS.len()];
        doc.push_str(&format!(
            "  - id: \"{:012}\"\n    alias: {}-{i:03}\n    partition: aws\n    environment: {}\n    owner: {team} team\n    description: {team} workloads, shard {i}\n",
            100_000_000_000 + i,
            team.to_lowercase().replace(' ', "-"),
            ENVIRONMENTS[i % ENVIRONMENTS.len()],
        ));
    }
    doc.push_str("roles:\n");
    for i in 0..accounts {
        for (name, display, description) in ROLES.iter().take(roles_per_account) {
            doc.push_str(&format!(
                "  - arn: arn:aws:iam::{:012}:role/{name}\n    display_name: {display}\n    description: {description}\n    max_session_seconds: 7200\n",
                100_000_000_000 + i
            ));
        }
    }
    doc.push_str("rules:\n");
    for i in 0..accounts {
        doc.push_str(&format!(
            "  - id: admins-{i}\n    idp: demo-saml\n    claim: group\n    match: ldap_dn\n    pattern: aws-admins\n    roles:\n"
        ));
        for (name, _, _) in ROLES.iter().take(roles_per_account) {
            doc.push_str(&format!(
                "      - arn:aws:iam::{:012}:role/{name}\n",
                100_000_000_000 + i
            ));
        }
    }
    doc
}
