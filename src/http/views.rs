//! Askama page models. Templates live in `templates/`.

use askama::Template;
use askama_web::WebTemplate;

pub struct IdpLink {
    pub id: String,
    pub display_name: String,
    pub href: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "login.html")]
pub struct LoginPage {
    pub idps: Vec<IdpLink>,
}

/// One role on the picker. The same grant may appear twice: once under Favourites or Recently
/// used, and once in its account's list (`also_above`), which a filter then hides.
#[derive(Clone)]
pub struct RoleView {
    pub grant_id: String,
    pub role_name: String,
    pub display_name: String,
    pub description: String,
    /// Names the role's star for a screen reader ("Favourite: Administrator (Admin) in demo-prod").
    pub account_alias: String,
    /// "1 h", "2 h": the longest session this grant allows.
    pub max_session: String,
    /// Whether AWS trusts Roleport's own SAML identity for this role (console via AWS's page).
    pub saml_post: bool,
    pub favourite: bool,
    /// Shown in the Favourites and Recently used lists, where no account heading says it.
    pub account: Option<AccountLabel>,
    /// Listed above as a favourite or recently used: hidden from its account's list while
    /// filtering, so a result appears once.
    pub also_above: bool,
}

#[derive(Clone)]
pub struct AccountLabel {
    pub alias: String,
    pub id: String,
    pub environment: Option<EnvironmentBadge>,
}

/// An account's environment as a badge: its word, and the colour class it gets.
#[derive(Clone)]
pub struct EnvironmentBadge {
    pub name: String,
    /// `prod`, `stage`, `dev`, `test` or `other` (the stylesheet's `env-*` classes).
    pub tone: &'static str,
}

impl EnvironmentBadge {
    pub fn new(name: &str) -> Self {
        let tone = match name {
            "production" | "prod" | "live" => "prod",
            "staging" | "stage" | "preprod" | "pre-production" | "uat" => "stage",
            "development" | "dev" => "dev",
            "test" | "testing" | "qa" | "sandbox" => "test",
            _ => "other",
        };
        Self {
            name: name.to_owned(),
            tone,
        }
    }
}

pub struct AccountView {
    pub alias: String,
    pub id: String,
    pub environment: Option<EnvironmentBadge>,
    pub owner: Option<String>,
    pub description: Option<String>,
    pub roles: Vec<RoleView>,
}

pub struct RegionOption {
    pub code: &'static str,
    pub name: &'static str,
}

pub struct DurationOption {
    pub seconds: u32,
    pub label: String,
}

/// When the Roleport session ends: RFC 3339 for the page's script (local time), and in words
/// (UTC) for a browser without scripts.
#[derive(Clone)]
pub struct SessionEnds {
    pub rfc3339: String,
    pub utc: String,
}

impl SessionEnds {
    pub fn at(t: chrono::DateTime<chrono::Utc>) -> Self {
        Self {
            rfc3339: t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            utc: t.format("%-d %b %Y, %H:%M UTC").to_string(),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "roles.html")]
pub struct RolesPage {
    pub session_ends: SessionEnds,
    pub person: String,
    pub idp: String,
    pub csrf_token: String,
    /// The server-side filter (`?q=`), for browsers without scripts.
    pub query: String,
    /// How many roles the person holds, and how many the filter left.
    pub total: usize,
    pub shown: usize,
    pub favourites: Vec<RoleView>,
    pub recent: Vec<RoleView>,
    pub accounts: Vec<AccountView>,
    pub regions: Vec<RegionOption>,
    pub durations: Vec<DurationOption>,
    /// The longest session any listed role allows, in words.
    pub longest: String,
    /// The rules grant the `decode-authorization-message` capability: link the support page.
    pub can_decode: bool,
    /// The rules open at least one admin area: link `/admin` in the header.
    pub can_admin: bool,
    /// For the "Use from the terminal" help: Roleport's URL and one of the person's grants.
    pub public_url: String,
    pub example_grant: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "no_roles.html")]
pub struct NoRolesPage {
    pub session_ends: SessionEnds,
    pub person: String,
    pub idp: String,
    pub csrf_token: String,
    pub reference: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "credentials.html")]
pub struct CredentialsPage {
    pub person: String,
    pub idp: String,
    pub role_name: String,
    pub account_alias: String,
    pub account_id: String,
    pub assumed_role_arn: String,
    /// RFC 3339; the page shows it in the browser's local time.
    pub expiration: String,
    pub shell: String,
    pub credentials_file: String,
    pub powershell: String,
    pub credential_process: String,
    /// The partition's default region, written into each block; empty when none is known.
    pub region: String,
    pub reference: String,
    pub csrf_token: String,
}

/// A credentials page asked for again: credentials are shown once, so it offers to issue new
/// ones (a POST) instead.
#[derive(Template)]
#[template(path = "credentials_gone.html")]
pub struct CredentialsGonePage {
    pub person: String,
    pub idp: String,
    /// `None` when the person no longer holds the grant: no button then.
    pub grant_id: Option<String>,
    pub role_name: String,
    pub shown_once_minutes: i64,
    pub reference: String,
    pub csrf_token: String,
}

/// The console-only SAML POST: a form that posts the signed Response to AWS. It works without
/// JavaScript (a button); roleport.js submits it right away where scripts run.
#[derive(Template)]
#[template(path = "saml_post.html")]
pub struct SamlPostPage {
    pub role_name: String,
    pub account_alias: String,
    pub recipient: String,
    pub saml_response: String,
    pub reference: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "console_confirm.html")]
pub struct ConsoleConfirmPage {
    pub person: String,
    pub idp: String,
    pub grant_id: String,
    pub role_name: String,
    pub account_alias: String,
    pub account_id: String,
    pub destination: String,
    pub service: String,
    pub region: String,
    pub destination_url: String,
    pub csrf_token: String,
}

/// One partition in the support page's choice.
pub struct PartitionOption {
    pub value: String,
    pub selected: bool,
}

pub struct ConditionView {
    pub key: String,
    pub values: String,
}

/// A decoded authorization message: the key facts, then the whole JSON.
pub struct DecodedView {
    /// "Allowed", "Denied" or "Not stated".
    pub verdict: String,
    /// "Yes", "No" or "Not stated".
    pub explicit_deny: String,
    pub action: Option<String>,
    pub resource: Option<String>,
    pub principal: Option<String>,
    pub conditions: Vec<ConditionView>,
    pub pretty_json: String,
    pub sts_request_id: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "support_decode.html")]
pub struct SupportDecodePage {
    pub person: String,
    pub idp: String,
    pub csrf_token: String,
    pub partitions: Vec<PartitionOption>,
    /// What was submitted, shown again in the form.
    pub encoded: String,
    /// Why the submission could not be decoded (safe to show).
    pub problem: Option<String>,
    pub decoded: Option<DecodedView>,
    /// The audit reference of the submission, if there was one.
    pub reference: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "support_check.html")]
pub struct CredentialsCheckPage {
    pub person: String,
    pub idp: String,
    pub role_name: String,
    pub account_alias: String,
    pub account_id: String,
    /// What GetCallerIdentity said.
    pub arn: String,
    pub account: String,
    pub user_id: String,
    /// What AssumeRole* said when issuing; the check passes when both name one principal.
    pub assumed_role_arn: String,
    pub matches: bool,
    pub access_key_id: String,
    pub reference: String,
    pub csrf_token: String,
}

/// `GET /logout`: the confirm button (a form posting the CSRF token).
#[derive(Template, WebTemplate)]
#[template(path = "logout.html")]
pub struct SignOutPage {
    pub person: String,
    pub idp: String,
    pub csrf_token: String,
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage<'a> {
    pub title: &'a str,
    pub message: &'a str,
    /// What was asked for, in words ("You have no role ReadOnly in demo-prod"), when known.
    pub asked_for: Option<&'a str>,
    pub reference: &'a str,
    pub show_login: bool,
    /// The header's person and Sign out form, when the request carries a live session.
    pub nav: Option<&'a NavView>,
    pub back_href: &'a str,
    pub back_label: &'a str,
}

/// The signed-in person as every page's header shows them.
#[derive(Debug, Clone)]
pub struct NavView {
    pub person: String,
    pub idp: String,
    pub csrf_token: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "signed_out.html")]
pub struct SignedOutPage {
    pub reference: String,
}

/// "1 h", "1 h 30 min", "15 min".
/// A role as every page names it: the display name, then the IAM name when it differs
/// ("Administrator (Admin)"), as the picker shows them side by side.
pub fn role_label(display_name: &str, role_name: &str) -> String {
    if display_name == role_name {
        role_name.to_owned()
    } else {
        format!("{display_name} ({role_name})")
    }
}

pub fn human_duration(seconds: u32) -> String {
    let h = seconds / 3600;
    let m = (seconds % 3600) / 60;
    match (h, m) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}

/// One row of "My access".
pub struct ActivityView {
    /// RFC 3339 (UTC); roleport.js shows it in local time.
    pub at: String,
    pub what: &'static str,
    /// The role as the picker names it, when the row is about one.
    pub role: Option<String>,
    pub account: Option<String>,
    pub ok: bool,
    pub outcome: &'static str,
    pub source_ip: String,
    pub access_key_id: Option<String>,
    pub duration: Option<String>,
    pub reference: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "access.html")]
pub struct AccessPage {
    pub session_ends: SessionEnds,
    pub person: String,
    pub idp: String,
    pub csrf_token: String,
    pub rows: Vec<ActivityView>,
    /// `?before=` of the next (older) page, if there is one.
    pub older: Option<i64>,
    /// Not the first page: offer the newest again.
    pub paged: bool,
}

/// `GET /oauth/authorize`: one click to let the CLI on this computer act as the person.
#[derive(Template, WebTemplate)]
#[template(path = "cli_authorize.html")]
pub struct CliAuthorizePage {
    pub person: String,
    pub idp: String,
    pub csrf_token: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub state: String,
}

pub struct PendingDeviceView {
    pub user_code: String,
    pub source_ip: String,
    pub user_agent: String,
    pub requested_at: String,
}

/// `GET /device`: the code form, or the code's details with Approve/Deny.
#[derive(Template, WebTemplate)]
#[template(path = "cli_device.html")]
pub struct CliDevicePage {
    pub person: String,
    pub idp: String,
    pub csrf_token: String,
    pub pending: Option<PendingDeviceView>,
    pub message: String,
}

/// `POST /device`: the decision was recorded.
#[derive(Template, WebTemplate)]
#[template(path = "cli_device_done.html")]
pub struct CliDeviceDonePage {
    pub person: String,
    pub idp: String,
    pub csrf_token: String,
    pub approved: bool,
    pub reference: String,
}
