//! Role mapping: which AWS roles a signed-in identity may assume, decided by rules.
//!
//! Pure: no I/O. Rules come from a YAML document ([`parse_document`]) or from stored rows
//! (a [`RuleSet`]); [`CompiledRules::compile`] checks them and builds every pattern once, and
//! [`CompiledRules::evaluate`] maps verified [`Claims`] to a [`Decision`].
//!
//! Semantics, in one place:
//! - Deny by default: a role is granted only when an applying allow rule names it.
//! - Every rule names its IdPs (`idp: corp`, `idp: [corp, partner]`, or `idp: "*"` for every
//!   IdP). A rule applies when its `idp` admits the claims' IdP and any value of its claim
//!   matches its pattern. `email` and `email_domain` only see a verified address. A stored
//!   rule without `idp` (imported before it was mandatory) applies to no IdP.
//! - `exact`, `glob` and `regex` are case-sensitive; `ldap_dn`, `email_domain` and `ad_group`
//!   (AD group names, see `ad_group.rs`) compare without regard to case by their definition.
//!   Claim values themselves are never changed.
//! - An applying deny rule removes its roles whatever the priorities. A deny rule for `*`
//!   removes every role and every capability.
//! - Among applying allow rules naming one role, the highest priority decides (ties: smallest
//!   id); it alone supplies the duration cap, session tags and transitive keys.
//! - Capabilities are the union over applying allow rules.
//! - Rule order in the input never matters.
//! - How AWS is reached (`access`) is configured per account and overridden per role, field by
//!   field; a grant carries the result ([`GrantAccess`]). The default is `saml_broker`.

mod ad_group;
mod document;
mod dry_run;
mod engine;
mod error;
mod explain;
mod index;
mod ldap_dn;
mod matcher;
mod model;
mod render;
mod session_limits;
mod spans;
mod validate;

#[cfg(test)]
mod tests;

pub use document::{
    DOCUMENT_VERSION, DocumentError, DocumentErrorKind, DocumentWarning, document_warnings,
    parse_document, parse_document_with_warnings, retired_mode_message,
};
pub use dry_run::{DryRun, GrantName, PersonChange, dry_run};
pub use engine::CompiledRules;
pub use error::{ErrorKind, Part, RuleError, Section, Site};
pub use explain::{Explanation, RuleTrace, TraceReason, explain};
pub use ldap_dn::{Dn, DnError};
pub use model::{
    ALL_ROLES, ANY_IDP, Access, AccessMode, Account, ClaimSelector, Claims,
    DEFAULT_ROLE_SESSION_SECONDS, Decision, Effect, Grant, GrantAccess, IdpScope,
    MAX_SESSION_SECONDS, MIN_RULE_SESSION_SECONDS, MatchKind, Partition, Role, RoleArn, Rule,
    RuleSet, SessionPolicy, UnknownName, is_account_id, is_idp_id,
};
pub use render::render_document;
