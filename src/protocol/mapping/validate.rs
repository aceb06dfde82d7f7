//! The constraints a rule set must meet before it may decide anything. Every broken constraint
//! is reported, not only the first, so an operator fixes a document in one round.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use regex::Regex;

use super::ad_group;
use super::error::{ErrorKind, Part, RuleError, Section, Site};
use super::model::{
    ALL_ROLES, ANY_IDP, Access, AccessMode, Account, ClaimSelector, DEFAULT_ROLE_SESSION_SECONDS,
    Effect, GrantAccess, IdpScope, MAX_SESSION_SECONDS, MIN_RULE_SESSION_SECONDS, MatchKind,
    Partition, Role, RoleArn, Rule, RuleSet, SessionPolicy, is_account_id, is_idp_id,
};
use crate::protocol::aws::{
    FEDERATION_TOKEN_MAX_SECONDS, MAX_MANAGED_POLICY_ARNS, check_federation_policies,
    check_policy_arns, pack_inline_policy,
};

/// STS limits on session tags.
const MAX_SESSION_TAGS: usize = 50;
const MAX_TAG_KEY_CHARS: usize = 128;
const MAX_TAG_VALUE_CHARS: usize = 256;
const MAX_RULE_ID_CHARS: usize = 64;
const MAX_LABEL_CHARS: usize = 128;
const MAX_TOKEN_CHARS: usize = 64;
/// IAM's limit on a SAML provider name (`[\w._-]+`).
const MAX_SAML_PROVIDER_CHARS: usize = 128;
/// STS's limits on AssumeRole's ExternalId (`[\w+=,.@:/-]`).
const MIN_EXTERNAL_ID_CHARS: usize = 2;
const MAX_EXTERNAL_ID_CHARS: usize = 1224;

/// The character set STS accepts in tag keys and values.
static TAG_CHARS: LazyLock<Result<Regex, regex::Error>> =
    LazyLock::new(|| Regex::new(r"^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$"));

pub(crate) fn validate(set: &RuleSet) -> Vec<RuleError> {
    let mut errors = Vec::new();
    let accounts = check_accounts(&set.accounts, &mut errors);
    let roles = check_roles(&set.roles, &accounts, &mut errors);
    check_rules(&set.rules, &roles, &mut errors);
    super::session_limits::check_long_sessions(set, &mut errors);
    errors
}

/// Reports `value` as already seen at `first`, or records it.
fn first_seen(seen: &mut BTreeMap<String, usize>, value: &str, index: usize) -> Option<usize> {
    match seen.get(value) {
        Some(first) => Some(*first),
        None => {
            seen.insert(value.to_owned(), index);
            None
        }
    }
}

fn is_label(text: &str, max_chars: usize) -> bool {
    !text.is_empty()
        && text.chars().count() <= max_chars
        && text.trim() == text
        && !text.chars().any(char::is_control)
}

fn check_accounts<'a>(
    accounts: &'a [Account],
    errors: &mut Vec<RuleError>,
) -> BTreeMap<&'a str, &'a Account> {
    let mut by_id = BTreeMap::new();
    let mut ids = BTreeMap::new();
    let mut aliases = BTreeMap::new();
    for (i, account) in accounts.iter().enumerate() {
        let at = |field| Site::new(Section::Accounts, i, Part::Field(field));
        if !is_account_id(&account.id) {
            errors.push(RuleError::new(
                at("id"),
                ErrorKind::InvalidAccountId,
                format!("account id must be exactly 12 digits, got {:?}", account.id),
            ));
        } else if let Some(first) = first_seen(&mut ids, &account.id, i) {
            errors.push(RuleError::new(
                at("id"),
                ErrorKind::DuplicateAccountId,
                format!(
                    "account ids must be unique: {} is already declared by accounts[{first}]",
                    account.id
                ),
            ));
        } else {
            by_id.insert(account.id.as_str(), account);
        }
        if !is_label(&account.alias, MAX_LABEL_CHARS) {
            errors.push(RuleError::new(
                at("alias"),
                ErrorKind::InvalidAlias,
                format!(
                    "account alias must be 1-{MAX_LABEL_CHARS} characters, without control \
                     characters or surrounding spaces, got {:?}",
                    account.alias
                ),
            ));
        } else if let Some(first) = first_seen(&mut aliases, &account.alias, i) {
            errors.push(RuleError::new(
                at("alias"),
                ErrorKind::DuplicateAlias,
                format!(
                    "account aliases must be unique (users pick accounts by alias): {:?} is \
                     already used by accounts[{first}]",
                    account.alias
                ),
            ));
        }
        if let Some(access) = &account.access {
            check_account_access(access, &|field| at(field), errors);
        }
        check_account_info(account, &|field| at(field), errors);
    }
    by_id
}

/// Longest account `description` the picker shows.
const MAX_ACCOUNT_DESCRIPTION_CHARS: usize = 512;
/// Longest `environment` word.
const MAX_ENVIRONMENT_CHARS: usize = 32;

/// `environment` is one lowercase word (it names a badge and its colour); `owner` is a label;
/// `description` a longer label. None of them is decided on.
fn check_account_info(
    account: &Account,
    at: &dyn Fn(&'static str) -> Site,
    errors: &mut Vec<RuleError>,
) {
    if let Some(env) = &account.environment {
        let word = env.len() <= MAX_ENVIRONMENT_CHARS
            && env.starts_with(|c: char| c.is_ascii_lowercase())
            && env
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !word {
            errors.push(RuleError::new(
                at("environment"),
                ErrorKind::InvalidAccountInfo,
                format!(
                    "environment must be one lowercase word of 1-{MAX_ENVIRONMENT_CHARS} \
                     characters (a-z, 0-9, -), such as production, staging or development; \
                     got {env:?}"
                ),
            ));
        }
    }
    if let Some(owner) = &account.owner
        && !is_label(owner, MAX_LABEL_CHARS)
    {
        errors.push(RuleError::new(
            at("owner"),
            ErrorKind::InvalidAccountInfo,
            format!(
                "owner must be 1-{MAX_LABEL_CHARS} characters, without control characters or \
                 surrounding spaces, got {owner:?}"
            ),
        ));
    }
    if let Some(description) = &account.description
        && !is_label(description, MAX_ACCOUNT_DESCRIPTION_CHARS)
    {
        errors.push(RuleError::new(
            at("description"),
            ErrorKind::InvalidAccountInfo,
            format!(
                "description must be 1-{MAX_ACCOUNT_DESCRIPTION_CHARS} characters, without \
                 control characters or surrounding spaces"
            ),
        ));
    }
}

/// An account's `access`: field syntax, and fields that its own mode uses. A role may still
/// override the mode; what the role then inherits but does not use is harmless.
fn check_account_access(
    access: &Access,
    at: &dyn Fn(&'static str) -> Site,
    errors: &mut Vec<RuleError>,
) {
    check_access_syntax(access, at, errors);
    check_fields_for_mode(access, access.mode.unwrap_or_default(), at, errors);
    if access.session_policy.is_some() {
        errors.push(RuleError::new(
            at("access.session_policy"),
            ErrorKind::InvalidSessionPolicy,
            "session_policy is set per role (roles[].access.session_policy), not per account",
        ));
    }
}

/// A role's `access`, checked against the mode in force for it (its own or its account's).
fn check_role_access(
    access: &Access,
    account: Option<&Account>,
    partition: Option<Partition>,
    at: &dyn Fn(Part) -> Site,
    errors: &mut Vec<RuleError>,
) {
    let field = |name: &'static str| at(Part::Field(name));
    check_access_syntax(access, &field, errors);
    let mode = GrantAccess::resolve(account.and_then(|a| a.access.as_ref()), Some(access)).mode;
    check_fields_for_mode(access, mode, &field, errors);
    if let Some(policy) = &access.session_policy {
        if mode != AccessMode::FederationToken {
            errors.push(RuleError::new(
                field("access.session_policy"),
                ErrorKind::AccessFieldNotForMode,
                format!(
                    "session_policy applies to federation_token only (GetFederationToken's \
                     session policy); the mode here is {mode}"
                ),
            ));
        }
        check_session_policy(policy, partition, at, errors);
    }
}

fn check_access_syntax(
    access: &Access,
    at: &dyn Fn(&'static str) -> Site,
    errors: &mut Vec<RuleError>,
) {
    if let Some(name) = &access.saml_provider {
        let ok = (1..=MAX_SAML_PROVIDER_CHARS).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
        if !ok {
            errors.push(RuleError::new(
                at("access.saml_provider"),
                ErrorKind::InvalidSamlProvider,
                format!(
                    "saml_provider is an IAM SAML provider name: 1-{MAX_SAML_PROVIDER_CHARS} of \
                     A-Z a-z 0-9 _ . -, got {name:?}"
                ),
            ));
        }
    }
    if let Some(aud) = &access.oidc_audience {
        let ok = (1..=255).contains(&aud.len()) && aud.bytes().all(|b| (0x21..=0x7e).contains(&b));
        if !ok {
            errors.push(RuleError::new(
                at("access.oidc_audience"),
                ErrorKind::InvalidOidcAudience,
                format!(
                    "oidc_audience is an IAM OIDC provider client id: 1-255 printable ASCII \
                     characters without spaces, got {aud:?}"
                ),
            ));
        }
    }
    if let Some(id) = &access.external_id {
        let ok = (MIN_EXTERNAL_ID_CHARS..=MAX_EXTERNAL_ID_CHARS).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_+=,.@:/-".contains(&b));
        if !ok {
            errors.push(RuleError::new(
                at("access.external_id"),
                ErrorKind::InvalidExternalId,
                format!(
                    "external_id must be {MIN_EXTERNAL_ID_CHARS}-{MAX_EXTERNAL_ID_CHARS} of \
                     A-Z a-z 0-9 _ + = , . @ : / - (STS's ExternalId), got {} characters",
                    id.chars().count()
                ),
            ));
        }
    }
}

fn check_fields_for_mode(
    access: &Access,
    mode: AccessMode,
    at: &dyn Fn(&'static str) -> Site,
    errors: &mut Vec<RuleError>,
) {
    if access.saml_provider.is_some() && !mode.uses_saml_provider() {
        errors.push(RuleError::new(
            at("access.saml_provider"),
            ErrorKind::AccessFieldNotForMode,
            format!(
                "saml_provider applies to saml_broker and saml_passthrough only; the mode here \
                 is {mode}"
            ),
        ));
    }
    if access.oidc_audience.is_some() && mode != AccessMode::OidcBroker {
        errors.push(RuleError::new(
            at("access.oidc_audience"),
            ErrorKind::AccessFieldNotForMode,
            format!(
                "oidc_audience applies to oidc_broker only (the audience of the ID token \
                 Roleport mints); the mode here is {mode}"
            ),
        ));
    }
    if access.external_id.is_some() && mode != AccessMode::AssumeRole {
        errors.push(RuleError::new(
            at("access.external_id"),
            ErrorKind::AccessFieldNotForMode,
            format!(
                "external_id applies to assume_role only (AssumeRole's ExternalId); the mode \
                 here is {mode}"
            ),
        ));
    }
}

/// What GetFederationToken would refuse, reported where it is written.
fn check_session_policy(
    policy: &SessionPolicy,
    partition: Option<Partition>,
    at: &dyn Fn(Part) -> Site,
    errors: &mut Vec<RuleError>,
) {
    let before = errors.len();
    let push = |errors: &mut Vec<RuleError>, part: Part, message: String| {
        errors.push(RuleError::new(
            at(part),
            ErrorKind::InvalidSessionPolicy,
            message,
        ));
    };
    if policy.inline.is_none() && policy.managed_arns.is_empty() {
        push(
            errors,
            Part::Field("access.session_policy"),
            "session_policy must name an inline policy, managed_arns, or both".into(),
        );
        return;
    }
    if let Some(inline) = &policy.inline
        && let Err(e) = pack_inline_policy(inline)
    {
        push(
            errors,
            Part::Field("access.session_policy.inline"),
            e.to_string(),
        );
    }
    if policy.managed_arns.len() > MAX_MANAGED_POLICY_ARNS {
        push(
            errors,
            Part::Field("access.session_policy.managed_arns"),
            format!(
                "at most {MAX_MANAGED_POLICY_ARNS} managed session policy ARNs are allowed; got {}",
                policy.managed_arns.len()
            ),
        );
    }
    let mut seen = BTreeMap::new();
    for (j, arn) in policy.managed_arns.iter().enumerate() {
        let here = Part::Element("access.session_policy.managed_arns", j);
        if let Some(first) = first_seen(&mut seen, arn, j) {
            push(
                errors,
                here,
                format!("a managed policy ARN is listed once: {arn} is also managed_arns[{first}]"),
            );
        } else if let Some(partition) = partition
            && let Err(e) = check_policy_arns(partition, std::slice::from_ref(arn))
        {
            push(errors, here, e.to_string());
        }
    }
    if errors.len() == before
        && let Some(partition) = partition
        && let Err(e) =
            check_federation_policies(partition, policy.inline.as_deref(), &policy.managed_arns)
    {
        push(errors, Part::Field("access.session_policy"), e.to_string());
    }
}

fn check_roles<'a>(
    roles: &'a [Role],
    accounts: &BTreeMap<&str, &Account>,
    errors: &mut Vec<RuleError>,
) -> BTreeSet<&'a str> {
    let mut declared = BTreeSet::new();
    let mut arns = BTreeMap::new();
    let mut names = BTreeMap::new();
    for (i, role) in roles.iter().enumerate() {
        let at = |field| Site::new(Section::Roles, i, Part::Field(field));
        match RoleArn::parse(&role.arn) {
            None => errors.push(RuleError::new(
                at("arn"),
                ErrorKind::InvalidRoleArn,
                format!(
                    "a role ARN must read arn:<aws|aws-cn|aws-us-gov>:iam::<12 digits>:role/\
                     [path/]<name>, the name 1-64 of A-Z a-z 0-9 _ + = , . @ -; got {:?}",
                    role.arn
                ),
            )),
            Some(arn) => {
                match accounts.get(arn.account_id) {
                    None => errors.push(RuleError::new(
                        at("arn"),
                        ErrorKind::UnknownAccount,
                        format!(
                            "a role's account must be declared under accounts: {} is not",
                            arn.account_id
                        ),
                    )),
                    Some(account) if account.partition != arn.partition => {
                        errors.push(RuleError::new(
                            at("arn"),
                            ErrorKind::PartitionMismatch,
                            format!(
                                "a role ARN's partition must be its account's: the ARN says {}, \
                                 account {} is in {}",
                                arn.partition, account.id, account.partition
                            ),
                        ))
                    }
                    Some(_) => {}
                }
                // IAM role names are unique per account regardless of case and path.
                let name_key = format!("{}/{}", arn.account_id, arn.name.to_lowercase());
                if let Some(first) = first_seen(&mut arns, &role.arn, i) {
                    errors.push(RuleError::new(
                        at("arn"),
                        ErrorKind::DuplicateRoleArn,
                        format!(
                            "role ARNs must be unique: {} is already declared by roles[{first}]",
                            role.arn
                        ),
                    ));
                } else if let Some(first) = first_seen(&mut names, &name_key, i) {
                    errors.push(RuleError::new(
                        at("arn"),
                        ErrorKind::DuplicateRoleName,
                        format!(
                            "role names must be unique within an account, whatever the path or \
                             case: roles[{first}] is already named {}",
                            arn.name
                        ),
                    ));
                } else {
                    declared.insert(role.arn.as_str());
                }
            }
        }
        if let Some(access) = &role.access {
            let arn = RoleArn::parse(&role.arn);
            let account = arn.and_then(|a| accounts.get(a.account_id).copied());
            let at = |part| Site::new(Section::Roles, i, part);
            check_role_access(access, account, arn.map(|a| a.partition), &at, errors);
        }
        if !is_label(&role.display_name, MAX_LABEL_CHARS) {
            errors.push(RuleError::new(
                at("display_name"),
                ErrorKind::InvalidDisplayName,
                format!(
                    "display_name must be 1-{MAX_LABEL_CHARS} characters, without control \
                     characters or surrounding spaces, got {:?}",
                    role.display_name
                ),
            ));
        }
        // Above 12 h only for federation_token roles: see session_limits.
        if !(DEFAULT_ROLE_SESSION_SECONDS..=FEDERATION_TOKEN_MAX_SECONDS)
            .contains(&role.max_session_seconds)
        {
            errors.push(RuleError::new(
                at("max_session_seconds"),
                ErrorKind::SessionDurationOutOfRange,
                format!(
                    "a role's max_session_seconds must be {DEFAULT_ROLE_SESSION_SECONDS}-\
                     {MAX_SESSION_SECONDS} (IAM's range; up to {FEDERATION_TOKEN_MAX_SECONDS} \
                     for federation_token roles), got {}",
                    role.max_session_seconds
                ),
            ));
        }
    }
    declared
}

fn check_rules(rules: &[Rule], roles: &BTreeSet<&str>, errors: &mut Vec<RuleError>) {
    let mut ids = BTreeMap::new();
    for (i, rule) in rules.iter().enumerate() {
        let at = |part| Site::new(Section::Rules, i, part);
        let valid_id = (1..=MAX_RULE_ID_CHARS).contains(&rule.id.len())
            && rule
                .id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(&b));
        if !valid_id {
            errors.push(RuleError::new(
                at(Part::Field("id")),
                ErrorKind::InvalidRuleId,
                format!(
                    "a rule id must be 1-{MAX_RULE_ID_CHARS} of a-z 0-9 _ . -, got {:?}",
                    rule.id
                ),
            ));
        } else if let Some(first) = first_seen(&mut ids, &rule.id, i) {
            errors.push(RuleError::new(
                at(Part::Field("id")),
                ErrorKind::DuplicateRuleId,
                format!(
                    "rule ids must be unique: {:?} is already used by rules[{first}]",
                    rule.id
                ),
            ));
        }
        if let Some(scope) = &rule.idp {
            check_idp_scope(scope, &at, errors);
        }
        if let ClaimSelector::Attribute(name) = &rule.claim
            && !is_label(name, MAX_LABEL_CHARS)
        {
            errors.push(RuleError::new(
                at(Part::Field("claim")),
                ErrorKind::InvalidClaim,
                format!("attribute:<name> needs a 1-{MAX_LABEL_CHARS} character name"),
            ));
        }
        if rule.match_kind == MatchKind::LdapDn
            && matches!(
                rule.claim,
                ClaimSelector::Email | ClaimSelector::EmailDomain
            )
        {
            errors.push(RuleError::new(
                at(Part::Field("match")),
                ErrorKind::InvalidMatchKind,
                "ldap_dn applies to group, subject and attribute claims; an email is not a DN",
            ));
        }
        if rule.pattern.is_empty() {
            errors.push(RuleError::new(
                at(Part::Field("pattern")),
                ErrorKind::InvalidPattern,
                "pattern must not be empty",
            ));
        }
        check_ad_group(rule, &at, errors);
        check_rule_roles(rule, roles, &at, errors);
        check_grant_fields(rule, &at, errors);
    }
}

/// `match: ad_group` and its own fields, which no other kind takes.
fn check_ad_group(rule: &Rule, at: &dyn Fn(Part) -> Site, errors: &mut Vec<RuleError>) {
    if rule.match_kind != MatchKind::AdGroup {
        let misused = [
            ("domains", !rule.domains.is_empty()),
            ("allow_unqualified", rule.allow_unqualified.is_some()),
        ];
        for (field, set) in misused {
            if set {
                errors.push(RuleError::new(
                    at(Part::Field(field)),
                    ErrorKind::MisusedAdGroupField,
                    format!(
                        "{field} belongs to match: ad_group, not match: {}",
                        rule.match_kind
                    ),
                ));
            }
        }
        return;
    }
    if matches!(
        rule.claim,
        ClaimSelector::Email | ClaimSelector::EmailDomain
    ) {
        errors.push(RuleError::new(
            at(Part::Field("match")),
            ErrorKind::InvalidMatchKind,
            "ad_group applies to group, subject and attribute claims; an email is not a group",
        ));
    }
    if let Some(problem) = ad_group::pattern_problem(&rule.pattern) {
        errors.push(RuleError::new(
            at(Part::Field("pattern")),
            ErrorKind::InvalidPattern,
            problem,
        ));
    }
    let mut seen: Vec<&str> = Vec::new();
    for (j, domain) in rule.domains.iter().enumerate() {
        if !ad_group::is_netbios_domain(domain) {
            errors.push(RuleError::new(
                at(Part::Element("domains", j)),
                ErrorKind::InvalidAdDomain,
                format!(
                    "a domain is a NetBIOS domain name ({}), got {domain:?}",
                    ad_group::domain_rule()
                ),
            ));
        } else if seen.iter().any(|d| d.eq_ignore_ascii_case(domain)) {
            errors.push(RuleError::new(
                at(Part::Element("domains", j)),
                ErrorKind::InvalidAdDomain,
                format!("each domain once: {domain:?} repeats (domains ignore case)"),
            ));
        } else {
            seen.push(domain);
        }
    }
    if rule.domains.is_empty() && rule.allow_unqualified == Some(false) {
        errors.push(RuleError::new(
            at(Part::Field("allow_unqualified")),
            ErrorKind::MisusedAdGroupField,
            "without domains the rule matches unqualified names only, so allow_unqualified: \
             false leaves it nothing to match; name the domains it means",
        ));
    }
}

/// A rule's `idp`: IdP ids as configuration writes them, each once, or `*` alone. A rule
/// without `idp` is refused where it is written (the document), not here: stored rules from
/// before `idp` was mandatory still compile, and apply to no IdP.
fn check_idp_scope(scope: &IdpScope, at: &dyn Fn(Part) -> Site, errors: &mut Vec<RuleError>) {
    let IdpScope::Only(ids) = scope else {
        return;
    };
    if ids.is_empty() {
        errors.push(RuleError::new(
            at(Part::Field("idp")),
            ErrorKind::InvalidIdp,
            format!(
                "idp lists no identity provider: name one or more IdP ids (or idp: \"{ANY_IDP}\" \
                 to apply the rule to every IdP)"
            ),
        ));
    }
    let mut seen = BTreeMap::new();
    for (j, id) in ids.iter().enumerate() {
        let message = if id == ANY_IDP {
            format!(
                "\"{ANY_IDP}\" already means every IdP, so it must be idp's only value: write \
                 idp: \"{ANY_IDP}\""
            )
        } else if !is_idp_id(id) {
            format!(
                "an idp is an identity provider id ([[idp]] id: 1-64 of a-z 0-9 - _), got {id:?}"
            )
        } else if let Some(first) = first_seen(&mut seen, id, j) {
            format!("an idp is listed once: {id} is also idp[{first}]")
        } else {
            continue;
        };
        let part = if ids.len() == 1 {
            Part::Field("idp")
        } else {
            Part::Element("idp", j)
        };
        errors.push(RuleError::new(at(part), ErrorKind::InvalidIdp, message));
    }
}

fn check_rule_roles(
    rule: &Rule,
    roles: &BTreeSet<&str>,
    at: &dyn Fn(Part) -> Site,
    errors: &mut Vec<RuleError>,
) {
    if rule.roles.is_empty() {
        errors.push(RuleError::new(
            at(Part::Field("roles")),
            ErrorKind::NoRoles,
            "a rule must name at least one role",
        ));
    }
    let mut seen = BTreeMap::new();
    for (j, arn) in rule.roles.iter().enumerate() {
        let here = at(Part::Element("roles", j));
        if arn == ALL_ROLES {
            if rule.effect == Effect::Allow {
                errors.push(RuleError::new(
                    here,
                    ErrorKind::MisusedWildcard,
                    "`*` (every role) may only be used by a deny rule; list the roles to allow",
                ));
            } else if rule.roles.len() > 1 {
                errors.push(RuleError::new(
                    here,
                    ErrorKind::MisusedWildcard,
                    "`*` already means every role, so it must be the only entry of roles",
                ));
            }
        } else if let Some(first) = first_seen(&mut seen, arn, j) {
            errors.push(RuleError::new(
                here,
                ErrorKind::DuplicateRoleReference,
                format!("a rule lists each role once: {arn} is also roles[{first}]"),
            ));
        } else if !roles.contains(arn.as_str()) {
            errors.push(RuleError::new(
                here,
                ErrorKind::UnknownRole,
                format!("a rule's roles must be declared under roles: {arn} is not"),
            ));
        }
    }
}

fn check_grant_fields(rule: &Rule, at: &dyn Fn(Part) -> Site, errors: &mut Vec<RuleError>) {
    if rule.effect == Effect::Deny {
        let present = [
            ("max_session_seconds", rule.max_session_seconds.is_some()),
            ("session_tags", !rule.session_tags.is_empty()),
            ("transitive_tag_keys", !rule.transitive_tag_keys.is_empty()),
            ("capabilities", !rule.capabilities.is_empty()),
        ];
        for (field, _) in present.into_iter().filter(|(_, present)| *present) {
            errors.push(RuleError::new(
                at(Part::Field(field)),
                ErrorKind::GrantFieldOnDenyRule,
                format!("a deny rule grants nothing, so it cannot carry {field}"),
            ));
        }
        return;
    }
    // Above 12 h only for federation_token roles: see session_limits.
    if let Some(seconds) = rule.max_session_seconds
        && !(MIN_RULE_SESSION_SECONDS..=FEDERATION_TOKEN_MAX_SECONDS).contains(&seconds)
    {
        errors.push(RuleError::new(
            at(Part::Field("max_session_seconds")),
            ErrorKind::SessionDurationOutOfRange,
            format!(
                "a rule's max_session_seconds must be {MIN_RULE_SESSION_SECONDS}-\
                 {MAX_SESSION_SECONDS} (up to {FEDERATION_TOKEN_MAX_SECONDS} for \
                 federation_token roles), got {seconds}"
            ),
        ));
    }
    check_tags(rule, at, errors);
    let mut seen = BTreeMap::new();
    for (j, capability) in rule.capabilities.iter().enumerate() {
        let token = (1..=MAX_TOKEN_CHARS).contains(&capability.len())
            && capability.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && capability
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.:".contains(&b));
        let message = if !token {
            format!(
                "a capability is a lower-case token (a-z 0-9 - _ . :, at most \
                 {MAX_TOKEN_CHARS}), got {capability:?}"
            )
        } else if let Some(first) = first_seen(&mut seen, capability, j) {
            format!("a capability is listed once: {capability} is also capabilities[{first}]")
        } else {
            continue;
        };
        errors.push(RuleError::new(
            at(Part::Element("capabilities", j)),
            ErrorKind::InvalidCapability,
            message,
        ));
    }
}

fn check_tags(rule: &Rule, at: &dyn Fn(Part) -> Site, errors: &mut Vec<RuleError>) {
    if rule.session_tags.len() > MAX_SESSION_TAGS {
        errors.push(RuleError::new(
            at(Part::Field("session_tags")),
            ErrorKind::TooManySessionTags,
            format!(
                "STS accepts at most {MAX_SESSION_TAGS} session tags, this rule has {}",
                rule.session_tags.len()
            ),
        ));
    }
    let tag_chars = |s: &str| TAG_CHARS.as_ref().is_ok_and(|re| re.is_match(s));
    // STS treats tag keys case-insensitively, so `Team` and `team` would collide there.
    let mut folded = BTreeMap::new();
    for (i, (key, value)) in rule.session_tags.iter().enumerate() {
        let problem = if !(1..=MAX_TAG_KEY_CHARS).contains(&key.chars().count()) || !tag_chars(key)
        {
            Some(format!(
                "a session tag key must be 1-{MAX_TAG_KEY_CHARS} letters, digits, spaces or \
                 _ . : / = + - @, got {key:?}"
            ))
        } else if key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("aws:")) {
            Some(format!(
                "session tag keys starting with aws: are reserved, got {key:?}"
            ))
        } else if value.chars().count() > MAX_TAG_VALUE_CHARS || !tag_chars(value) {
            Some(format!(
                "a session tag value must be at most {MAX_TAG_VALUE_CHARS} letters, digits, \
                 spaces or _ . : / = + - @; the value of {key:?} is not"
            ))
        } else {
            first_seen(&mut folded, &key.to_lowercase(), i).map(|_| {
                format!("session tag keys are case-insensitive in STS: {key:?} repeats another key")
            })
        };
        if let Some(message) = problem {
            errors.push(RuleError::new(
                at(Part::Key("session_tags", key.clone())),
                ErrorKind::InvalidSessionTag,
                message,
            ));
        }
    }
    let mut seen = BTreeMap::new();
    for (j, key) in rule.transitive_tag_keys.iter().enumerate() {
        let message = if !rule.session_tags.contains_key(key) {
            format!("each transitive tag key must be a key of session_tags: {key:?} is not")
        } else if let Some(first) = first_seen(&mut seen, key, j) {
            format!(
                "a transitive tag key is listed once: {key:?} is also transitive_tag_keys[{first}]"
            )
        } else {
            continue;
        };
        errors.push(RuleError::new(
            at(Part::Element("transitive_tag_keys", j)),
            ErrorKind::InvalidTransitiveTagKey,
            message,
        ));
    }
}
