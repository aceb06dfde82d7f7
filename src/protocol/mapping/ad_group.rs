//! `match: ad_group`: Active Directory group names, compared the way AD compares them.
//!
//! AD FS sends a group as a bare name (`aws-admins`, "Token-Groups - Unqualified Names") or
//! qualified by its NetBIOS domain (`EXAMPLE\aws-admins`, "Token-Groups - Qualified by Domain
//! Name"). AD compares sAMAccountName case-insensitively, so `AWS-Admins` is the same group.
//!
//! - The name is compared under Unicode *simple* case folding (each character folded on its own,
//!   one character to one, as in Unicode's CaseFolding.txt statuses C and S), and nothing else:
//!   no trimming, no Unicode normalisation, no full folding (`ß` is not `ss`). Windows compares
//!   names with a per-character upper-case table, so a one-to-one folding is the closest
//!   standard relation; full folding would join names AD keeps apart. The folding is the
//!   `regex` crate's case-insensitive literal match, which is documented as simple case folding;
//!   the claim value itself is never changed.
//! - The domain (before the one `\`) is a NetBIOS name: ASCII, compared ASCII case-insensitively.
//! - `domains` names the NetBIOS domains a rule means. A qualified value matches only if its
//!   domain is one of them; a rule without `domains` matches bare names only, so a qualified
//!   value from any domain never matches it.
//! - A bare name carries no domain, so with `domains` set it matches only when the rule says
//!   `allow_unqualified: true` (default false: the rule's author named domains, and a bare name
//!   cannot prove it comes from one).

use std::fmt;

use regex::{Regex, RegexBuilder};

/// Longest group sAMAccountName AD accepts.
pub(crate) const MAX_NAME_CHARS: usize = 256;
/// Longest NetBIOS domain name (16 bytes, the last one reserved for the service type).
pub(crate) const MAX_DOMAIN_CHARS: usize = 15;
/// Characters AD refuses in a sAMAccountName; `*` and `?` also make plain that a pattern is a
/// name, not a glob.
const NAME_FORBIDDEN: &str = "\"/\\[]:;|=,+*?<>";
/// Beyond ASCII letters and digits, what a NetBIOS name may hold (Microsoft's list, less `.`,
/// which would make a DNS domain look like a NetBIOS one).
const DOMAIN_SPECIALS: &str = "!@#$%^&'()-_{}~";

/// A compiled `ad_group` rule pattern.
#[derive(Debug, Clone)]
pub(crate) struct AdGroup {
    name: String,
    folded: Regex,
    domains: Vec<String>,
    allow_unqualified: bool,
}

/// Why one claim value matched an `ad_group` rule or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// `domain` is `None` for a bare name.
    Matched {
        domain: Option<String>,
    },
    NameDiffers,
    OtherDomain(String),
    /// A bare name, and the rule names domains without `allow_unqualified: true`.
    UnqualifiedRefused,
    /// A qualified value, and the rule names no domains.
    QualifiedRefused(String),
    /// Not `name` or `DOMAIN\name`: several backslashes, or an empty side.
    NotAGroupName,
}

impl AdGroup {
    /// `allow_unqualified` as written; absent means "only when no domains are named".
    pub(crate) fn compile(
        name: &str,
        domains: &[String],
        allow_unqualified: Option<bool>,
    ) -> Result<AdGroup, String> {
        let folded = RegexBuilder::new(&format!("^{}$", regex::escape(name)))
            .case_insensitive(true)
            .build()
            .map_err(|e| format!("invalid group name: {e}"))?;
        Ok(AdGroup {
            name: name.to_owned(),
            folded,
            domains: domains.to_vec(),
            allow_unqualified: allow_unqualified.unwrap_or(domains.is_empty()),
        })
    }

    pub(crate) fn matches(&self, value: &str) -> bool {
        matches!(self.assess(value), Verdict::Matched { .. })
    }

    pub(crate) fn assess(&self, value: &str) -> Verdict {
        let (domain, name) = match value.split_once('\\') {
            None => (None, value),
            Some((domain, name)) if !domain.is_empty() && !name.is_empty() => {
                if name.contains('\\') {
                    return Verdict::NotAGroupName;
                }
                (Some(domain), name)
            }
            Some(_) => return Verdict::NotAGroupName,
        };
        if !self.folded.is_match(name) {
            return Verdict::NameDiffers;
        }
        match domain {
            None if self.allow_unqualified => Verdict::Matched { domain: None },
            None => Verdict::UnqualifiedRefused,
            Some(domain) if self.domains.is_empty() => Verdict::QualifiedRefused(domain.to_owned()),
            Some(domain) => match self.domains.iter().find(|d| d.eq_ignore_ascii_case(domain)) {
                Some(named) => Verdict::Matched {
                    domain: Some(named.clone()),
                },
                None => Verdict::OtherDomain(domain.to_owned()),
            },
        }
    }

    /// One line for `rules explain`: the value, and why it matched or not.
    pub(crate) fn explain(&self, value: &str) -> String {
        let shown = Shown(value);
        let name = &self.name;
        let domains = self.domains.join(", ");
        match self.assess(value) {
            Verdict::Matched { domain: Some(d) } => {
                format!("{shown} matches {name} in domain {d} (case-insensitive)")
            }
            Verdict::Matched { domain: None } if self.domains.is_empty() => {
                format!("{shown} matches {name} (case-insensitive, unqualified)")
            }
            Verdict::Matched { domain: None } => format!(
                "{shown} matches {name} (case-insensitive, unqualified, allowed by \
                 allow_unqualified)"
            ),
            Verdict::NameDiffers => {
                format!("{shown}: the name is not {name} (case-insensitive)")
            }
            Verdict::OtherDomain(d) => {
                format!("{shown}: domain {} is not one of {domains}", Shown(&d))
            }
            Verdict::UnqualifiedRefused => format!(
                "{shown}: an unqualified name, and the rule names domains ({domains}) without \
                 allow_unqualified: true"
            ),
            Verdict::QualifiedRefused(d) => format!(
                "{shown}: qualified by domain {}, and the rule names no domains (it matches \
                 unqualified names only)",
                Shown(&d)
            ),
            Verdict::NotAGroupName => {
                format!("{shown}: not a group name (expected name or DOMAIN\\name)")
            }
        }
    }
}

/// A value as text, with control characters escaped so one value stays on one line.
struct Shown<'a>(&'a str);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            if c.is_control() {
                write!(f, "{}", c.escape_default())?;
            } else {
                fmt::Write::write_char(f, c)?;
            }
        }
        Ok(())
    }
}

/// Why a pattern is not a group name; `None` when it is one. Emptiness is reported by the
/// check every kind shares.
pub(crate) fn pattern_problem(pattern: &str) -> Option<String> {
    if pattern.contains('\\') {
        return Some(format!(
            "an ad_group pattern is the bare group name: put the domain of {pattern:?} in \
             domains: [..] instead"
        ));
    }
    if pattern.chars().count() > MAX_NAME_CHARS {
        return Some(format!(
            "a group name has at most {MAX_NAME_CHARS} characters"
        ));
    }
    if let Some(c) = pattern
        .chars()
        .find(|c| NAME_FORBIDDEN.contains(*c) || c.is_control())
    {
        return Some(format!(
            "an ad_group pattern is a group name, not a glob: {c:?} cannot appear in one \
             (AD refuses {NAME_FORBIDDEN} and control characters)"
        ));
    }
    if pattern.starts_with(char::is_whitespace) || pattern.ends_with(char::is_whitespace) {
        return Some(
            "a group name does not begin or end with whitespace (values never do either)"
                .to_owned(),
        );
    }
    None
}

/// A NetBIOS domain name as a rule may name it.
pub(crate) fn is_netbios_domain(domain: &str) -> bool {
    (1..=MAX_DOMAIN_CHARS).contains(&domain.len())
        && domain
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || DOMAIN_SPECIALS.as_bytes().contains(&b))
}

/// What a NetBIOS domain may hold, for error messages.
pub(crate) fn domain_rule() -> String {
    format!("1-{MAX_DOMAIN_CHARS} of ASCII letters, digits and {DOMAIN_SPECIALS}")
}
