//! Sessions longer than 12 hours. Every mode follows one rule (default 3600 s, lowered to the
//! rule's cap, the role's cap and 12 h); GetFederationToken alone may go further, to its own
//! 129,600 s, and only where both the role and the rule say so explicitly: the role's mode is
//! `federation_token` with `max_session_seconds` above 43,200, and the deciding rule's
//! `max_session_seconds` is above 43,200 too. A longer value anywhere else is refused here, so
//! a document cannot suggest a length that would never be granted.

use std::collections::{BTreeMap, BTreeSet};

use super::error::{ErrorKind, Part, RuleError, Section, Site};
use super::model::{
    ALL_ROLES, AccessMode, Effect, GrantAccess, MAX_SESSION_SECONDS, RoleArn, RuleSet,
};

pub(crate) fn check_long_sessions(set: &RuleSet, errors: &mut Vec<RuleError>) {
    let accounts: BTreeMap<&str, _> = set.accounts.iter().map(|a| (a.id.as_str(), a)).collect();
    // Roles that may run past 12 h: federation_token with a longer maximum.
    let mut long_roles = BTreeSet::new();
    for (i, role) in set.roles.iter().enumerate() {
        let account = RoleArn::parse(&role.arn).and_then(|a| accounts.get(a.account_id));
        let mode = GrantAccess::resolve(
            account.and_then(|a| a.access.as_ref()),
            role.access.as_ref(),
        )
        .mode;
        if role.max_session_seconds <= MAX_SESSION_SECONDS {
            continue;
        }
        if mode == AccessMode::FederationToken {
            long_roles.insert(role.arn.as_str());
        } else {
            errors.push(RuleError::new(
                Site::new(Section::Roles, i, Part::Field("max_session_seconds")),
                ErrorKind::SessionDurationOutOfRange,
                format!(
                    "a role's max_session_seconds above {MAX_SESSION_SECONDS} (12 h) is only \
                     for federation_token roles (GetFederationToken's own maximum); this role's \
                     mode is {mode}, got {}",
                    role.max_session_seconds
                ),
            ));
        }
    }
    for (i, rule) in set.rules.iter().enumerate() {
        let Some(cap) = rule.max_session_seconds else {
            continue;
        };
        if rule.effect != Effect::Allow || cap <= MAX_SESSION_SECONDS {
            continue;
        }
        let short = rule
            .roles
            .iter()
            .filter(|arn| arn.as_str() != ALL_ROLES)
            .find(|arn| !long_roles.contains(arn.as_str()));
        if let Some(arn) = short {
            errors.push(RuleError::new(
                Site::new(Section::Rules, i, Part::Field("max_session_seconds")),
                ErrorKind::SessionDurationOutOfRange,
                format!(
                    "a rule's max_session_seconds above {MAX_SESSION_SECONDS} (12 h) is only for \
                     rules whose every role is a federation_token role with max_session_seconds \
                     above {MAX_SESSION_SECONDS}; {arn} is not, got {cap}"
                ),
            ));
        }
    }
}
