//! Shared application state: settings, pool, clock, IdP trust, compiled rules, the blocking pool.

use super::cookies::CookiePolicy;
use crate::clock::Clock;
use crate::configuration::Settings;
use crate::metrics::Metrics;
use crate::protocol::mapping::CompiledRules;
use crate::upstream::oidc_provider::OidcProvider;
use crate::upstream::saml_idp::SamlIdp;
use openssl::pkey::{PKey, Private};
use sqlx::PgPool;
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use tokio::sync::Semaphore;

/// Roleport as a SAML service provider.
pub struct ServiceProvider {
    pub entity_id: String,
    pub acs_url: String,
    pub key: Option<PKey<Private>>,
    pub cert_der: Option<Vec<u8>>,
}

/// The compiled rules and the generation they were loaded at.
pub struct RulesSnapshot {
    pub generation: i64,
    pub rules: Arc<CompiledRules>,
}

pub struct AppState {
    pub settings: Settings,
    pub public_url: String,
    pub pool: PgPool,
    pub clock: Clock,
    pub metrics: Metrics,
    pub cookies: CookiePolicy,
    pub sp: ServiceProvider,
    /// Replaced whole on metadata refresh; readers clone the `Arc` and never hold the lock.
    pub idps: RwLock<BTreeMap<String, Arc<SamlIdp>>>,
    /// OpenID providers, discovered at start; each refreshes its own JWKS.
    pub oidc: BTreeMap<String, Arc<OidcProvider>>,
    /// Roleport's one OIDC redirect URI: `<public_url>/oidc/callback`.
    pub oidc_redirect_uri: String,
    pub rules: RwLock<RulesSnapshot>,
    /// Bounds concurrent blocking C calls (xmlsec) so a flood queues instead of growing threads.
    pub blocking: Arc<Semaphore>,
    /// Bounds the expensive requests worked on at once; past that, 503 at once.
    pub admission: super::admission::Admission,
    pub aws: crate::aws::broker::AwsRuntime,
    /// Links committed audit rows into the keyed chain (one process at a time, cluster-wide).
    pub audit: Arc<crate::audit::sealer::Sealer>,
    /// Seals the upstream ID tokens kept for `oidc_passthrough`.
    pub sealing: crate::sealing::keys::SealingKeys,
    /// Nested-group lookups, per IdP that has `[idp.directory]`.
    pub directories: BTreeMap<String, Arc<crate::upstream::directory::Directory>>,
}

impl AppState {
    pub fn idp(&self, id: &str) -> Option<Arc<SamlIdp>> {
        self.idps.read().ok().and_then(|m| m.get(id).cloned())
    }

    pub fn idp_by_entity_id(&self, entity_id: &str) -> Option<Arc<SamlIdp>> {
        self.idps
            .read()
            .ok()
            .and_then(|m| m.values().find(|i| i.trust.entity_id == entity_id).cloned())
    }

    pub fn all_idps(&self) -> Vec<Arc<SamlIdp>> {
        self.idps
            .read()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }

    pub fn directory(&self, idp: &str) -> Option<Arc<crate::upstream::directory::Directory>> {
        self.directories.get(idp).cloned()
    }

    pub fn oidc_provider(&self, id: &str) -> Option<Arc<OidcProvider>> {
        self.oidc.get(id).cloned()
    }

    pub fn rules(&self) -> Arc<CompiledRules> {
        match self.rules.read() {
            Ok(s) => s.rules.clone(),
            Err(poisoned) => poisoned.into_inner().rules.clone(),
        }
    }

    pub fn rules_generation(&self) -> i64 {
        self.rules.read().map(|s| s.generation).unwrap_or(-1)
    }

    pub fn replace_rules(&self, generation: i64, rules: CompiledRules) {
        if let Ok(mut s) = self.rules.write() {
            *s = RulesSnapshot {
                generation,
                rules: Arc::new(rules),
            };
        }
    }

    pub fn replace_idp(&self, idp: SamlIdp) {
        if let Ok(mut m) = self.idps.write() {
            m.insert(idp.id.clone(), Arc::new(idp));
        }
    }
}
