//! The role picker's page model and its JSON, built from one rules decision: shared by
//! `/roles`, `/api/v1/roles` and the picker benchmark (benches/picker.rs), so what is measured
//! is what is served.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::http::views::{
    AccountLabel, AccountView, DurationOption, EnvironmentBadge, RegionOption, RoleView, RolesPage,
    SessionEnds, human_duration,
};
use crate::protocol::mapping::{AccessMode, Account, Decision, Grant, Partition};

/// How many recently used roles are listed above the rest.
pub const RECENT_SHOWN: i64 = 5;

/// What the picker needs besides the decision.
pub struct PickerInput<'a> {
    pub person: String,
    pub idp: String,
    pub csrf_token: String,
    /// The document's accounts (their metadata), by id.
    pub accounts: &'a [Account],
    /// Grant ids the person starred (stars for grants no longer held are ignored).
    pub favourites: &'a [String],
    /// Grant ids the person used last, newest first.
    pub recent: &'a [String],
    /// `?q=`: the filter of a browser without scripts.
    pub query: &'a str,
    pub can_decode: bool,
    pub can_admin: bool,
    /// Roleport's URL, for the "Use from the terminal" help.
    pub public_url: &'a str,
    /// When the Roleport session ends (shown on the page).
    pub session_ends: SessionEnds,
}

/// Every word of `query` (case-insensitive) appears in what the picker searches of this grant:
/// account alias, id, environment, owner and description, role names and description. The
/// script in static/roleport.js applies the same rule as you type.
fn matches(grant: &Grant, account: Option<&Account>, words: &[String]) -> bool {
    if words.is_empty() {
        return true;
    }
    let mut text = String::with_capacity(160);
    for part in [
        grant.account_alias.as_str(),
        grant.account_id.as_str(),
        grant.display_name.as_str(),
        grant.role_name.as_str(),
        grant.description.as_str(),
    ] {
        text.push_str(part);
        text.push(' ');
    }
    if let Some(a) = account {
        for part in [&a.environment, &a.owner, &a.description]
            .into_iter()
            .flatten()
        {
            text.push_str(part);
            text.push(' ');
        }
    }
    let text = text.to_lowercase();
    words.iter().all(|w| text.contains(w.as_str()))
}

fn role_view(
    grant: &Grant,
    favourite: bool,
    account: Option<AccountLabel>,
    also_above: bool,
) -> RoleView {
    RoleView {
        grant_id: grant.id.clone(),
        role_name: grant.role_name.clone(),
        display_name: grant.display_name.clone(),
        description: grant.description.clone(),
        account_alias: grant.account_alias.clone(),
        max_session: human_duration(grant.max_session_seconds),
        saml_post: grant.access.mode == AccessMode::SamlBroker,
        favourite,
        account,
        also_above,
    }
}

/// The regions the console can open in, per partition.
fn regions(partition: Partition) -> &'static [(&'static str, &'static str)] {
    match partition {
        Partition::Aws => &[
            ("us-east-1", "US East (N. Virginia)"),
            ("us-east-2", "US East (Ohio)"),
            ("us-west-1", "US West (N. California)"),
            ("us-west-2", "US West (Oregon)"),
            ("ca-central-1", "Canada (Central)"),
            ("sa-east-1", "South America (São Paulo)"),
            ("eu-west-1", "Europe (Ireland)"),
            ("eu-west-2", "Europe (London)"),
            ("eu-west-3", "Europe (Paris)"),
            ("eu-central-1", "Europe (Frankfurt)"),
            ("eu-central-2", "Europe (Zurich)"),
            ("eu-north-1", "Europe (Stockholm)"),
            ("eu-south-1", "Europe (Milan)"),
            ("ap-south-1", "Asia Pacific (Mumbai)"),
            ("ap-northeast-1", "Asia Pacific (Tokyo)"),
            ("ap-northeast-2", "Asia Pacific (Seoul)"),
            ("ap-southeast-1", "Asia Pacific (Singapore)"),
            ("ap-southeast-2", "Asia Pacific (Sydney)"),
        ],
        Partition::AwsCn => &[
            ("cn-north-1", "China (Beijing)"),
            ("cn-northwest-1", "China (Ningxia)"),
        ],
        Partition::AwsUsGov => &[
            ("us-gov-west-1", "AWS GovCloud (US-West)"),
            ("us-gov-east-1", "AWS GovCloud (US-East)"),
        ],
    }
}

/// The session lengths offered, up to the longest any grant allows (each grant still cuts a
/// longer choice to its own limit, which its row states).
const DURATIONS: [u32; 7] = [900, 1800, 3600, 7200, 14_400, 28_800, 43_200];

pub fn roles_page(decision: &Decision, input: PickerInput<'_>) -> RolesPage {
    let accounts: BTreeMap<&str, &Account> =
        input.accounts.iter().map(|a| (a.id.as_str(), a)).collect();
    let words: Vec<String> = input
        .query
        .split_whitespace()
        .map(str::to_lowercase)
        .collect();
    let held: BTreeMap<&str, &Grant> = decision.grants.iter().map(|g| (g.id.as_str(), g)).collect();
    let starred: BTreeSet<&str> = input.favourites.iter().map(String::as_str).collect();
    let label = |g: &Grant| AccountLabel {
        alias: g.account_alias.clone(),
        id: g.account_id.clone(),
        environment: accounts
            .get(g.account_id.as_str())
            .and_then(|a| a.environment.as_deref())
            .map(EnvironmentBadge::new),
    };
    let shown = |g: &Grant| matches(g, accounts.get(g.account_id.as_str()).copied(), &words);
    let mut above: BTreeSet<&str> = BTreeSet::new();
    let favourites: Vec<RoleView> = input
        .favourites
        .iter()
        .filter_map(|id| held.get(id.as_str()))
        .filter(|g| shown(g))
        .map(|g| {
            above.insert(g.id.as_str());
            role_view(g, true, Some(label(g)), false)
        })
        .collect();
    let recent: Vec<RoleView> = input
        .recent
        .iter()
        .filter(|id| !starred.contains(id.as_str()))
        .filter_map(|id| held.get(id.as_str()))
        .filter(|g| shown(g))
        .map(|g| {
            above.insert(g.id.as_str());
            role_view(g, false, Some(label(g)), false)
        })
        .collect();
    let mut groups: Vec<AccountView> = Vec::new();
    let mut count = 0;
    let mut partitions = BTreeSet::new();
    let mut longest = 0;
    for grant in &decision.grants {
        partitions.insert(grant.partition);
        longest = longest.max(grant.max_session_seconds);
        if !shown(grant) {
            continue;
        }
        count += 1;
        let view = role_view(
            grant,
            starred.contains(grant.id.as_str()),
            None,
            above.contains(grant.id.as_str()),
        );
        match groups.last_mut() {
            Some(a) if a.id == grant.account_id => a.roles.push(view),
            _ => {
                let account = accounts.get(grant.account_id.as_str());
                groups.push(AccountView {
                    alias: grant.account_alias.clone(),
                    id: grant.account_id.clone(),
                    environment: account
                        .and_then(|a| a.environment.as_deref())
                        .map(EnvironmentBadge::new),
                    owner: account.and_then(|a| a.owner.clone()),
                    description: account.and_then(|a| a.description.clone()),
                    roles: vec![view],
                })
            }
        }
    }
    let regions = partitions
        .into_iter()
        .flat_map(regions)
        .map(|&(code, name)| RegionOption { code, name })
        .collect();
    let durations = DURATIONS
        .iter()
        .filter(|&&s| s <= longest.max(900))
        .map(|&seconds| DurationOption {
            seconds,
            label: human_duration(seconds),
        })
        .collect();
    RolesPage {
        session_ends: input.session_ends,
        person: input.person,
        idp: input.idp,
        csrf_token: input.csrf_token,
        query: input.query.to_owned(),
        total: decision.grants.len(),
        shown: count,
        favourites,
        recent,
        accounts: groups,
        regions,
        durations,
        longest: human_duration(longest),
        can_decode: input.can_decode,
        can_admin: input.can_admin,
        public_url: input.public_url.to_owned(),
        example_grant: decision
            .grants
            .first()
            .map(|g| g.id.clone())
            .unwrap_or_default(),
    }
}

/// About what one role takes in the page, to size the output once (growing a half-megabyte
/// string step by step was a tenth of the page's time).
const BYTES_PER_ROLE: usize = 1200;

/// The picker's HTML, rendered into a buffer sized for it.
pub fn render_roles_page(page: &RolesPage) -> Result<String, askama::Error> {
    use askama::Template;
    let roles = page.favourites.len()
        + page.recent.len()
        + page.accounts.iter().map(|a| a.roles.len()).sum::<usize>();
    let mut html = String::with_capacity(8 * 1024 + roles * BYTES_PER_ROLE);
    page.render_into(&mut html)?;
    Ok(html)
}

#[derive(Serialize)]
struct GrantJson<'a> {
    id: &'a str,
    account_id: &'a str,
    account_alias: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    account_environment: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    account_owner: Option<&'a str>,
    role_arn: &'a str,
    role_name: &'a str,
    display_name: &'a str,
    description: &'a str,
    max_session_seconds: u32,
    favourite: bool,
}

#[derive(Serialize)]
struct GrantsJson<'a> {
    grants: Vec<GrantJson<'a>>,
}

/// `/api/v1/roles`: serialized straight from borrowed structs (building a `serde_json::Value`
/// first was most of this endpoint's time).
pub fn grants_json(
    decision: &Decision,
    accounts: &[Account],
    favourites: &[String],
) -> Result<Vec<u8>, serde_json::Error> {
    let by_id: BTreeMap<&str, &Account> = accounts.iter().map(|a| (a.id.as_str(), a)).collect();
    let starred: BTreeSet<&str> = favourites.iter().map(String::as_str).collect();
    let grants = decision
        .grants
        .iter()
        .map(|g| {
            let account = by_id.get(g.account_id.as_str());
            GrantJson {
                id: &g.id,
                account_id: &g.account_id,
                account_alias: &g.account_alias,
                account_environment: account.and_then(|a| a.environment.as_deref()),
                account_owner: account.and_then(|a| a.owner.as_deref()),
                role_arn: &g.role_arn,
                role_name: &g.role_name,
                display_name: &g.display_name,
                description: &g.description,
                max_session_seconds: g.max_session_seconds,
                favourite: starred.contains(g.id.as_str()),
            }
        })
        .collect();
    serde_json::to_vec(&GrantsJson { grants })
}
