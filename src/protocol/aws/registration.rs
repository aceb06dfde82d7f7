//! `roleport aws status` / `register`: what each account in the rules must hold so that AWS
//! trusts Roleport, compared with what its IAM holds. Pure: the IAM calls live in
//! `crate::aws::registration`, which hands this module what it read and carries out the fixes
//! this module decides on.
//!
//! An account needs its IAM SAML provider (each name its `saml_broker` roles use) to hold exactly
//! Roleport's published signing certificates and entity id: a missing certificate breaks sign-ins
//! once that key signs, an extra one is a key Roleport no longer vouches for that AWS still
//! trusts. It needs Roleport's IAM OIDC provider (`oidc_broker` roles) for the issuer, with every
//! audience its roles mint and the configured thumbprints.

use crate::protocol::arn::IamArn;
use crate::protocol::mapping::{GrantAccess, Partition, RuleSet};
use crate::protocol::saml::metadata::parse_idp_metadata;
use std::collections::{BTreeMap, BTreeSet};

/// What one account must hold, from the rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountNeeds {
    pub account_id: String,
    pub partition: Partition,
    /// IAM SAML provider names (`saml_broker` roles).
    pub saml_providers: BTreeSet<String>,
    /// Client ids the IAM OIDC provider must list (`oidc_broker` roles); empty: no provider.
    pub oidc_audiences: BTreeSet<String>,
}

/// Every account of the rules with what its roles need; an account without roles needs what its
/// own `access` block names. Retired modes and modes that use no IAM provider need nothing.
pub fn account_needs(set: &RuleSet, default_provider: &str) -> Vec<AccountNeeds> {
    set.accounts
        .iter()
        .map(|account| {
            let roles: Vec<_> = set
                .roles
                .iter()
                .filter(|r| IamArn::split(&r.arn).is_some_and(|a| a.account == account.id))
                .collect();
            let accesses: Vec<GrantAccess> = if roles.is_empty() {
                vec![GrantAccess::resolve(account.access.as_ref(), None)]
            } else {
                roles
                    .iter()
                    .map(|r| GrantAccess::resolve(account.access.as_ref(), r.access.as_ref()))
                    .collect()
            };
            let mut needs = AccountNeeds {
                account_id: account.id.clone(),
                partition: account.partition,
                saml_providers: BTreeSet::new(),
                oidc_audiences: BTreeSet::new(),
            };
            for access in accesses.iter().filter(|a| !a.mode.is_retired()) {
                if access.mode.uses_saml_provider() {
                    needs.saml_providers.insert(
                        access
                            .saml_provider
                            .clone()
                            .unwrap_or_else(|| default_provider.to_string()),
                    );
                }
                if access.mode.uses_web_identity() {
                    needs
                        .oidc_audiences
                        .insert(access.oidc_audience().to_string());
                }
            }
            needs
        })
        .collect()
}

pub fn saml_provider_arn(partition: Partition, account: &str, name: &str) -> String {
    format!("arn:{partition}:iam::{account}:saml-provider/{name}")
}

/// IAM names an OIDC provider by its URL without the scheme.
pub fn oidc_provider_arn(partition: Partition, account: &str, issuer: &str) -> String {
    format!(
        "arn:{partition}:iam::{account}:oidc-provider/{}",
        issuer_host_path(issuer)
    )
}

fn issuer_host_path(issuer: &str) -> &str {
    issuer
        .strip_prefix("https://")
        .or_else(|| issuer.strip_prefix("http://"))
        .unwrap_or(issuer)
}

/// The registration role Roleport assumes in `account`: `pattern` with `{partition}` and
/// `{account}` filled in.
pub fn registration_role_arn(pattern: &str, partition: Partition, account: &str) -> String {
    pattern
        .replace("{partition}", partition.as_str())
        .replace("{account}", account)
}

/// Why a registration role pattern is refused at start.
pub fn check_role_arn_pattern(pattern: &str) -> Result<(), String> {
    if !pattern.contains("{account}") {
        return Err(format!(
            "{pattern:?} has no {{account}}: every account would be reached through one role"
        ));
    }
    let sample = registration_role_arn(pattern, Partition::Aws, "123456789012");
    match IamArn::split(&sample) {
        Some(arn) if arn.resource.starts_with("role/") && arn.account == "123456789012" => Ok(()),
        _ => Err(format!(
            "{pattern:?} does not make an IAM role ARN (arn:{{partition}}:iam::{{account}}:role/NAME)"
        )),
    }
}

/// What Roleport publishes as the SAML IdP AWS trusts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedSaml {
    pub entity_id: String,
    /// DER certificates, as `/aws/saml-metadata.xml` lists them.
    pub certificates: Vec<Vec<u8>>,
}

/// What Roleport is as the OpenID provider AWS trusts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedOidc {
    pub issuer: String,
    pub audiences: BTreeSet<String>,
    /// Lower-case hex SHA-1 thumbprints; empty: not checked (IAM trusts well-known CAs itself).
    pub thumbprints: BTreeSet<String>,
}

/// An IAM OIDC provider as GetOpenIDConnectProvider returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedOidc {
    /// Without the scheme, as IAM keeps it.
    pub url: String,
    pub client_ids: Vec<String>,
    pub thumbprints: Vec<String>,
}

/// The state of one provider in one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderCheck {
    Ok,
    Missing,
    /// Exists, but holds something else; each entry says what.
    Stale(Vec<String>),
}

impl ProviderCheck {
    pub fn label(&self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Missing => "missing",
            Self::Stale(_) => "stale",
        }
    }
}

/// A short, stable name for a certificate in reports and audit rows: its SHA-256, first 16 hex.
pub fn certificate_label(der: &[u8]) -> String {
    let digest = openssl::sha::sha256(der);
    hex::encode(digest).chars().take(16).collect()
}

/// Compares the metadata document IAM holds (`None`: no such provider) with what Roleport
/// publishes. A document Roleport cannot read is stale, never "ok".
pub fn check_saml(expected: &ExpectedSaml, held: Option<&str>) -> ProviderCheck {
    let Some(document) = held else {
        return ProviderCheck::Missing;
    };
    let held = match parse_idp_metadata(document) {
        Ok(m) => m,
        Err(e) => return ProviderCheck::Stale(vec![format!("its metadata does not read: {e}")]),
    };
    let mut why = Vec::new();
    if held.entity_id != expected.entity_id {
        why.push(format!(
            "entityID is {:?}, Roleport signs as {:?}",
            held.entity_id, expected.entity_id
        ));
    }
    let held_certs: BTreeSet<Vec<u8>> = held
        .signing_certificates
        .iter()
        .map(|c| c.der_data().to_vec())
        .collect();
    let wanted: BTreeSet<Vec<u8>> = expected.certificates.iter().cloned().collect();
    for missing in wanted.difference(&held_certs) {
        why.push(format!(
            "lacks Roleport's key {}",
            certificate_label(missing)
        ));
    }
    for extra in held_certs.difference(&wanted) {
        why.push(format!(
            "still trusts key {}, which Roleport no longer publishes",
            certificate_label(extra)
        ));
    }
    if why.is_empty() {
        ProviderCheck::Ok
    } else {
        ProviderCheck::Stale(why)
    }
}

/// What an OIDC provider needs changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OidcFix {
    pub add_client_ids: Vec<String>,
    /// The full list to set, when it differs.
    pub set_thumbprints: Option<Vec<String>>,
}

/// Compares an IAM OIDC provider (`None`: none for the issuer) with what Roleport mints.
/// Client ids IAM lists beyond Roleport's audiences are left alone: other tokens may use them.
pub fn check_oidc(
    expected: &ExpectedOidc,
    held: Option<&ObservedOidc>,
) -> (ProviderCheck, OidcFix) {
    let Some(held) = held else {
        return (ProviderCheck::Missing, OidcFix::default());
    };
    let mut why = Vec::new();
    let mut fix = OidcFix::default();
    let url = issuer_host_path(&expected.issuer);
    if held.url != url {
        why.push(format!("its URL is {:?}, not {url:?}", held.url));
    }
    for audience in &expected.audiences {
        if !held.client_ids.contains(audience) {
            why.push(format!("lacks client id {audience:?}"));
            fix.add_client_ids.push(audience.clone());
        }
    }
    let held_thumbprints: BTreeSet<String> = held
        .thumbprints
        .iter()
        .map(|t| t.to_ascii_lowercase())
        .collect();
    if !expected.thumbprints.is_empty() && held_thumbprints != expected.thumbprints {
        why.push(format!(
            "thumbprints are {:?}, configured {:?}",
            held_thumbprints, expected.thumbprints
        ));
        fix.set_thumbprints = Some(expected.thumbprints.iter().cloned().collect());
    }
    if why.is_empty() {
        (ProviderCheck::Ok, fix)
    } else {
        (ProviderCheck::Stale(why), fix)
    }
}

/// One line of the report: an account's provider, or the account itself when it could not be
/// reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportLine {
    pub account_id: String,
    pub partition: Partition,
    /// `saml-provider/<name>`, `oidc-provider/<url>`, or `-` for the account itself.
    pub provider: String,
    pub state: LineState,
    /// What was done (register --apply) or would be done.
    pub action: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineState {
    Checked(ProviderCheck),
    CannotAssume(String),
    /// IAM answered an error other than "no such provider".
    Failed(String),
}

impl ReportLine {
    pub fn label(&self) -> &'static str {
        match &self.state {
            LineState::Checked(c) => c.label(),
            LineState::CannotAssume(_) => "cannot-assume",
            LineState::Failed(_) => "failed",
        }
    }

    pub fn detail(&self) -> String {
        match &self.state {
            LineState::Checked(ProviderCheck::Stale(why)) => why.join("; "),
            LineState::Checked(_) => String::new(),
            LineState::CannotAssume(e) | LineState::Failed(e) => e.clone(),
        }
    }

    pub fn is_ok(&self) -> bool {
        matches!(self.state, LineState::Checked(ProviderCheck::Ok))
    }
}

/// Counts per label, for the summary line.
pub fn summary(lines: &[ReportLine]) -> BTreeMap<&'static str, usize> {
    let mut out = BTreeMap::new();
    for line in lines {
        *out.entry(line.label()).or_insert(0) += 1;
    }
    out
}

#[cfg(test)]
#[path = "registration_tests.rs"]
mod tests;
