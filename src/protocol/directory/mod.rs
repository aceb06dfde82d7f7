//! Nested groups from a directory (`[idp.directory]`), the pure part: the LDAP filters Roleport
//! sends (values escaped per RFC 4515), the breadth-first walk over `member` links for OpenLDAP
//! (depth limit, cycle-safe by RFC 4514 DN comparison), and which resolved groups are added to
//! what the assertion carried. The LDAP I/O is in `crate::upstream::directory`.

mod filter;
mod groups;
mod walk;

pub use filter::{
    escape_value, in_chain_filter, is_attribute_name, is_filter, member_of_any_filter, user_filter,
};
pub use groups::{GroupFormat, ResolvedGroup, groups_to_add};
pub use walk::{Walk, WalkError};

/// `LDAP_MATCHING_RULE_IN_CHAIN`: AD evaluates `member` transitively for this matching rule.
pub const IN_CHAIN_RULE: &str = "1.2.840.113556.1.4.1941";
