//! Askama models of the security team's pages (`templates/admin_*.html`).

use askama::Template;

/// One entry of the admin menu.
pub struct AreaLink {
    pub href: &'static str,
    pub title: &'static str,
    pub current: bool,
}

/// The header and menu every admin page shows.
pub struct AdminNav {
    pub person: String,
    pub idp: String,
    pub csrf_token: String,
    pub areas: Vec<AreaLink>,
}

#[derive(Template)]
#[template(path = "admin_index.html")]
pub struct AdminIndexPage {
    pub nav: AdminNav,
}

/// One row of the audit list.
pub struct AuditRowView {
    pub seq: i64,
    pub at: String,
    pub kind: String,
    pub outcome: String,
    pub person: String,
    pub idp: String,
    pub role: String,
    pub reason: String,
    pub reference: String,
}

/// The search form, filled with what was asked.
#[derive(Default)]
pub struct AuditFormView {
    pub person: String,
    pub idp: String,
    pub account: String,
    pub role: String,
    pub kind: String,
    pub outcome: String,
    pub reason: String,
    pub from: String,
    pub to: String,
}

#[derive(Template)]
#[template(path = "admin_audit.html")]
pub struct AdminAuditPage {
    pub nav: AdminNav,
    pub form: AuditFormView,
    pub outcomes: Vec<(&'static str, &'static str)>,
    /// Why the search could not run (a bad field), safe to show.
    pub problem: Option<String>,
    pub rows: Vec<AuditRowView>,
    /// The filter as a query string (for export links).
    pub query: String,
    /// The next (older) page, when there is one.
    pub next_href: Option<String>,
    pub first_page: bool,
    /// Where the keyed chain stands (cheap: unsealed rows and the newest checkpoint).
    pub chain: String,
}

/// A label and value of the event detail page.
pub struct FieldView {
    pub label: &'static str,
    pub value: String,
}

#[derive(Template)]
#[template(path = "admin_event.html")]
pub struct AdminEventPage {
    pub nav: AdminNav,
    pub seq: i64,
    pub fields: Vec<FieldView>,
    pub details_json: String,
    /// The rule the event names as deciding (credential and console events).
    pub deciding_rule: Option<String>,
    /// That rule as the current rules hold it (YAML-ish lines), when it still exists.
    pub deciding_rule_now: Option<String>,
    /// For sign-ins: what the current rules make of the recorded claims.
    pub explanation: Option<ExplainView>,
    pub chain: String,
    pub back_href: String,
}

#[derive(Template)]
#[template(path = "admin_chain.html")]
pub struct AdminChainPage {
    pub nav: AdminNav,
    pub intact: bool,
    pub summary: String,
    pub reference: String,
}

pub struct SessionView {
    pub handle: String,
    pub person: String,
    pub subject: String,
    pub idp: String,
    pub since: String,
    pub expires: String,
    pub source: String,
    pub reference: String,
    /// The audit search for this person.
    pub audit_href: String,
    pub yours: bool,
}

#[derive(Template)]
#[template(path = "admin_sessions.html")]
pub struct AdminSessionsPage {
    pub nav: AdminNav,
    pub sessions: Vec<SessionView>,
    /// The session just ended, by whom it belonged to.
    pub ended: Option<String>,
    /// Unexpired sessions in all (this page shows at most `page_size` of them).
    pub total: i64,
    pub page_size: i64,
    pub first_page: bool,
    /// The next, older page, if there is one.
    pub older_href: Option<String>,
}

/// One rule line of an explanation.
pub struct TraceView {
    pub rule_id: String,
    pub effect: String,
    pub applied: bool,
    pub why: String,
    pub roles: String,
}

pub struct ExplainView {
    pub traces: Vec<TraceView>,
    pub grants: Vec<String>,
    pub denied: Vec<String>,
    pub capabilities: Vec<String>,
}

#[derive(Default)]
pub struct ExplainFormView {
    pub idp: String,
    pub subject: String,
    pub groups: String,
    pub email: String,
}

pub struct GrantChangeView {
    pub role_arn: String,
    pub account: String,
    pub rule_id: String,
}

pub struct PersonChangeView {
    pub person: String,
    pub added: Vec<GrantChangeView>,
    pub removed: Vec<GrantChangeView>,
    pub redecided: Vec<GrantChangeView>,
    pub capabilities_added: Vec<String>,
    pub capabilities_removed: Vec<String>,
}

pub struct DryRunView {
    pub people: usize,
    pub days: i64,
    pub changes: Vec<PersonChangeView>,
    pub accounts: usize,
    pub roles: usize,
    pub rules: usize,
}

#[derive(Template)]
#[template(path = "admin_rules.html")]
pub struct AdminRulesPage {
    pub nav: AdminNav,
    pub generation: i64,
    pub updated_at: String,
    pub imported_by: String,
    pub imported_via: String,
    pub document: String,
    pub counts: String,
    pub idps: Vec<String>,
    pub explain_form: ExplainFormView,
    pub explanation: Option<ExplainView>,
    /// The document pasted for a dry run or import, shown again.
    pub proposed: String,
    pub problems: Vec<String>,
    pub dry_run: Option<DryRunView>,
    /// "Imported generation 7" after an import.
    pub notice: Option<String>,
    pub reference: Option<String>,
}

pub struct CertView {
    pub subject: String,
    pub not_after: String,
    pub status: String,
    pub warn: bool,
    pub remaining: String,
}

pub struct IdpView {
    pub id: String,
    pub display_name: String,
    pub kind: &'static str,
    pub source: String,
    pub age: String,
    pub certs: Vec<CertView>,
    pub last_accepted: String,
    pub last_refused: String,
    pub refused_recently: i64,
    pub warn: bool,
}

#[derive(Template)]
#[template(path = "admin_idps.html")]
pub struct AdminIdpsPage {
    pub nav: AdminNav,
    pub idps: Vec<IdpView>,
    pub warn_days: i64,
}
