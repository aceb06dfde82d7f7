//! Nested groups from the directory (`[idp.directory]`), the I/O around `protocol::directory`:
//! one LDAP connection per lookup (LDAPS or StartTLS with the pinned CA), a bind with the
//! service account, the person's entry, then their transitive groups (AD: one
//! `LDAP_MATCHING_RULE_IN_CHAIN` search; OpenLDAP: the level-by-level walk). Results are cached
//! per IdP for `cache_seconds` (time from the injected clock). Every failure is an error: the
//! sign-in is refused rather than completed with fewer (or more) groups than the person has.

use crate::configuration::{DirectoryIdentity, DirectoryKind, DirectorySettings};
use crate::domain::FederatedIdentity;
use crate::protocol::directory::{
    ResolvedGroup, Walk, WalkError, in_chain_filter, member_of_any_filter, user_filter,
};
use chrono::{DateTime, Duration, Utc};
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, LdapError, ResultEntry, Scope, SearchEntry};
use secrecy::{ExposeSecret, SecretString};
use std::collections::HashMap;
use std::sync::Mutex;

/// Cached lookups per IdP; past this, expired entries go, then everything.
const MAX_CACHED: usize = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error("directory unreachable: {0}")]
    Unreachable(String),
    #[error("directory did not answer within {0} ms")]
    Timeout(u64),
    #[error("directory refused the service account's bind: {0}")]
    Bind(String),
    #[error("directory search failed: {0}")]
    Search(String),
    #[error("no person in the directory with {attribute}={value:?}")]
    PersonNotFound { attribute: String, value: String },
    #[error("{count} people in the directory with {attribute}={value:?}")]
    PersonAmbiguous {
        attribute: String,
        value: String,
        count: usize,
    },
    #[error("the identity has no single value to look the person up with ({0})")]
    NoLookupValue(String),
    #[error("{0}")]
    Walk(#[from] WalkError),
    #[error("the directory sent an entry that does not parse")]
    BadEntry,
}

impl DirectoryError {
    /// The stable reason code of the refused sign-in (audit row, metrics, log line).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unreachable(_) => "directory_unavailable",
            Self::Timeout(_) => "directory_timeout",
            Self::Bind(_) => "directory_bind_refused",
            Self::Search(_) | Self::BadEntry => "directory_search_failed",
            Self::PersonNotFound { .. } => "directory_person_not_found",
            Self::PersonAmbiguous { .. } => "directory_person_ambiguous",
            Self::NoLookupValue(_) => "directory_no_lookup_value",
            Self::Walk(WalkError::TooDeep(_)) => "directory_nesting_too_deep",
            Self::Walk(WalkError::NotADn(_)) => "directory_search_failed",
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("idp `{idp}` directory: {message}")]
pub struct DirectoryLoadError {
    pub idp: String,
    pub message: String,
}

/// A lookup's groups and until when they may be used.
type Cached = (DateTime<Utc>, Vec<ResolvedGroup>);

pub struct Directory {
    pub idp: String,
    pub settings: DirectorySettings,
    password: SecretString,
    tls: Option<native_tls::TlsConnector>,
    cache: Mutex<HashMap<String, Cached>>,
}

impl std::fmt::Debug for Directory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Directory")
            .field("idp", &self.idp)
            .field("url", &self.settings.url)
            .finish_non_exhaustive()
    }
}

impl Directory {
    /// Reads the bind password and the CA file once, at start-up.
    pub fn load(idp: &str, settings: &DirectorySettings) -> Result<Directory, DirectoryLoadError> {
        let fail = |message: String| DirectoryLoadError {
            idp: idp.to_string(),
            message,
        };
        let raw = std::fs::read_to_string(&settings.bind_password_file).map_err(|e| {
            fail(format!(
                "cannot read bind_password_file {}: {e}",
                settings.bind_password_file.display()
            ))
        })?;
        let password = raw.strip_suffix('\n').unwrap_or(&raw);
        let password = password.strip_suffix('\r').unwrap_or(password);
        if password.is_empty() {
            return Err(fail("bind_password_file is empty".into()));
        }
        let tls = if settings.uses_tls() {
            let mut builder = native_tls::TlsConnector::builder();
            builder.min_protocol_version(Some(native_tls::Protocol::Tlsv12));
            if let Some(path) = &settings.ca_file {
                let pem = std::fs::read(path)
                    .map_err(|e| fail(format!("cannot read ca_file {}: {e}", path.display())))?;
                let certs = openssl::x509::X509::stack_from_pem(&pem)
                    .map_err(|e| fail(format!("ca_file {}: {e}", path.display())))?;
                if certs.is_empty() {
                    return Err(fail(format!(
                        "ca_file {} holds no certificate",
                        path.display()
                    )));
                }
                // Pinned: only these CAs, not the system's.
                builder.disable_built_in_roots(true);
                for cert in certs {
                    let der = cert.to_der().map_err(|e| fail(e.to_string()))?;
                    let cert = native_tls::Certificate::from_der(&der)
                        .map_err(|e| fail(format!("ca_file: {e}")))?;
                    builder.add_root_certificate(cert);
                }
            }
            Some(builder.build().map_err(|e| fail(format!("TLS: {e}")))?)
        } else {
            None
        };
        Ok(Directory {
            idp: idp.to_string(),
            settings: settings.clone(),
            password: SecretString::from(password.to_string()),
            tls,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// The identity value that finds the person, exactly as signed.
    pub fn lookup_value<'a>(
        &self,
        identity: &'a FederatedIdentity,
    ) -> Result<&'a str, DirectoryError> {
        match self.settings.identity() {
            Some(DirectoryIdentity::Subject) | None => Ok(identity.subject.as_str()),
            Some(DirectoryIdentity::Attribute(name)) => {
                match identity.attributes.get(&name).map(Vec::as_slice) {
                    Some([one]) => Ok(one.as_str()),
                    Some(values) => Err(DirectoryError::NoLookupValue(format!(
                        "attribute `{name}` has {} values",
                        values.len()
                    ))),
                    None => Err(DirectoryError::NoLookupValue(format!(
                        "no attribute `{name}`"
                    ))),
                }
            }
        }
    }

    /// The person's transitive groups: from the cache while fresh, else from the directory.
    pub async fn resolve(
        &self,
        value: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<ResolvedGroup>, DirectoryError> {
        if let Some(groups) = self.cached(value, now) {
            return Ok(groups);
        }
        let budget = std::time::Duration::from_millis(self.settings.timeout_ms);
        let groups = tokio::time::timeout(budget, self.lookup(value))
            .await
            .map_err(|_| DirectoryError::Timeout(self.settings.timeout_ms))??;
        self.remember(value, now, &groups);
        Ok(groups)
    }

    fn cached(&self, value: &str, now: DateTime<Utc>) -> Option<Vec<ResolvedGroup>> {
        let cache = self.cache.lock().ok()?;
        cache
            .get(value)
            .filter(|(until, _)| now < *until)
            .map(|(_, groups)| groups.clone())
    }

    fn remember(&self, value: &str, now: DateTime<Utc>, groups: &[ResolvedGroup]) {
        if self.settings.cache_seconds == 0 {
            return;
        }
        let Ok(mut cache) = self.cache.lock() else {
            return;
        };
        if cache.len() >= MAX_CACHED {
            cache.retain(|_, (until, _)| now < *until);
            if cache.len() >= MAX_CACHED {
                cache.clear();
            }
        }
        let until = now + Duration::seconds(self.settings.cache_seconds);
        cache.insert(value.to_string(), (until, groups.to_vec()));
    }

    async fn lookup(&self, value: &str) -> Result<Vec<ResolvedGroup>, DirectoryError> {
        let s = &self.settings;
        let mut conn = LdapConnSettings::new()
            .set_conn_timeout(std::time::Duration::from_millis(s.timeout_ms))
            .set_starttls(s.starttls);
        if let Some(tls) = &self.tls {
            conn = conn.set_connector(tls.clone());
        }
        let timeout = s.timeout_ms;
        let (driver, mut ldap) = LdapConnAsync::with_settings(conn, &s.url)
            .await
            .map_err(|e| failed(e, timeout, DirectoryError::Unreachable))?;
        ldap3::drive!(driver);
        ldap.simple_bind(&s.bind_dn, self.password.expose_secret())
            .await
            .and_then(|r| r.success())
            .map_err(|e| failed(e, timeout, DirectoryError::Bind))?;
        let result = self.groups_of(&mut ldap, value).await;
        let _ = ldap.unbind().await;
        result
    }

    async fn groups_of(
        &self,
        ldap: &mut Ldap,
        value: &str,
    ) -> Result<Vec<ResolvedGroup>, DirectoryError> {
        let s = &self.settings;
        let attribute = s.user_attribute();
        let people = search(
            ldap,
            &s.base_dn,
            &user_filter(s.user_filter(), attribute, value),
            vec!["1.1"],
        )
        .await?;
        let person = match people.as_slice() {
            [one] => one.dn.clone(),
            [] => {
                return Err(DirectoryError::PersonNotFound {
                    attribute: attribute.to_string(),
                    value: value.to_string(),
                });
            }
            many => {
                return Err(DirectoryError::PersonAmbiguous {
                    attribute: attribute.to_string(),
                    value: value.to_string(),
                    count: many.len(),
                });
            }
        };
        let name_attribute = s.group_name_attribute();
        let entries = match s.kind {
            DirectoryKind::Ad => {
                search(
                    ldap,
                    &s.base_dn,
                    &in_chain_filter(s.group_filter(), &person),
                    vec![name_attribute],
                )
                .await?
            }
            DirectoryKind::Openldap => {
                let mut walk = Walk::new(&person, s.max_depth)?;
                let mut all = Vec::new();
                while let Some(level) = walk.next_level() {
                    let found = search(
                        ldap,
                        &s.base_dn,
                        &member_of_any_filter(s.group_filter(), level),
                        vec![name_attribute],
                    )
                    .await?;
                    walk.found(found.iter().map(|e| e.dn.clone()).collect())?;
                    all.extend(found);
                }
                // The walk's answer, in its order, each group once.
                let mut by_dn: HashMap<String, SearchEntry> =
                    all.into_iter().map(|e| (e.dn.clone(), e)).collect();
                walk.groups()
                    .iter()
                    .filter_map(|dn| by_dn.remove(dn))
                    .collect()
            }
        };
        Ok(entries
            .into_iter()
            .map(|e| {
                let name = e
                    .attrs
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name_attribute))
                    .and_then(|(_, v)| match v.as_slice() {
                        [one] => Some(one.clone()),
                        _ => None,
                    });
                ResolvedGroup { dn: e.dn, name }
            })
            .collect())
    }
}

/// ldap3's own timeouts (connect) are this lookup's timeout; anything else is `other`.
fn failed(e: LdapError, timeout_ms: u64, other: fn(String) -> DirectoryError) -> DirectoryError {
    match e {
        LdapError::Timeout { .. } => DirectoryError::Timeout(timeout_ms),
        e => other(e.to_string()),
    }
}

/// A subtree search; referrals (AD returns some for its other partitions) are not followed.
async fn search(
    ldap: &mut Ldap,
    base: &str,
    filter: &str,
    attrs: Vec<&str>,
) -> Result<Vec<SearchEntry>, DirectoryError> {
    let (entries, _) = ldap
        .search(base, Scope::Subtree, filter, attrs)
        .await
        .and_then(|r| r.success())
        .map_err(|e| DirectoryError::Search(e.to_string()))?;
    entries
        .into_iter()
        .filter(|e: &ResultEntry| !e.is_ref() && !e.is_intermediate())
        .map(entry)
        .collect()
}

/// `SearchEntry::construct` panics on BER it cannot parse: contain that to this lookup.
fn entry(raw: ResultEntry) -> Result<SearchEntry, DirectoryError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| SearchEntry::construct(raw)))
        .map_err(|_| DirectoryError::BadEntry)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::configuration::GroupFormatSetting;

    /// A directory nobody listens for (127.0.0.1:1): every real lookup fails at once.
    fn unreachable(cache_seconds: i64) -> Directory {
        let password = std::env::temp_dir().join(format!(
            "roleport-dir-test-{}",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::write(&password, "secret\n").unwrap();
        let settings = DirectorySettings {
            kind: DirectoryKind::Ad,
            url: "ldap://127.0.0.1:1".into(),
            starttls: false,
            ca_file: None,
            base_dn: "DC=example,DC=test".into(),
            bind_dn: "CN=svc,DC=example,DC=test".into(),
            bind_password_file: password,
            identity: "subject".into(),
            user_attribute: None,
            user_filter: None,
            group_filter: None,
            group_name_attribute: None,
            group_format: GroupFormatSetting::Dn,
            netbios_domain: None,
            timeout_ms: 2000,
            cache_seconds,
            max_depth: 8,
        };
        Directory::load("corp", &settings).unwrap()
    }

    fn groups() -> Vec<ResolvedGroup> {
        vec![ResolvedGroup {
            dn: "CN=aws-admins,DC=example,DC=test".into(),
            name: Some("aws-admins".into()),
        }]
    }

    #[tokio::test]
    async fn cached_lookups_last_their_ttl_by_the_clock_given() {
        let directory = unreachable(60);
        let t0 = DateTime::parse_from_rfc3339("2026-12-07T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        directory.remember("bob", t0, &groups());
        // Within the TTL the directory is not asked (it could not answer).
        let cached = directory.resolve("bob", t0 + Duration::seconds(59)).await;
        assert_eq!(cached.unwrap(), groups());
        // Exactly as signed: another spelling is another lookup.
        assert!(directory.resolve("BOB", t0).await.is_err());
        // Past it, the directory is asked again, and its failure is the answer.
        let expired = directory.resolve("bob", t0 + Duration::seconds(60)).await;
        assert!(
            matches!(expired, Err(DirectoryError::Unreachable(_))),
            "{expired:?}"
        );
    }

    #[tokio::test]
    async fn no_cache_when_the_ttl_is_zero() {
        let directory = unreachable(0);
        let t0 = DateTime::parse_from_rfc3339("2026-12-07T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        directory.remember("bob", t0, &groups());
        assert!(directory.resolve("bob", t0).await.is_err());
    }

    #[test]
    fn the_bind_password_file_loses_only_its_line_end() {
        let directory = unreachable(0);
        assert_eq!(directory.password.expose_secret(), "secret");
        assert!(!format!("{directory:?}").contains("secret"));
    }
}
