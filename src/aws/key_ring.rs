//! The AWS signing keys this process uses now: the first signs, all are published (SAML metadata
//! and JWKS). Files (`aws.signing_keys`) give the starting set; with `[aws.rotation]` the set is
//! re-read from Postgres and replaced whole, so a reader holds one consistent set.

use crate::protocol::aws::{BrokerSigningKey, rsa_jwk};
use openssl::pkey::{PKey, Private};
use std::sync::{Arc, RwLock};

/// One key as both the SAML IdP and the OpenID provider use it.
#[derive(Clone)]
pub struct RingKey {
    /// The rotation's id for a key from Postgres; `file:<certificate label>` for a file key.
    pub id: String,
    pub saml: BrokerSigningKey,
    /// `None` when the key is not RSA (ID tokens for AWS here are RS256).
    pub oidc: Option<PKey<Private>>,
}

impl RingKey {
    pub fn new(id: String, saml: BrokerSigningKey, private: Option<PKey<Private>>) -> Self {
        let oidc = private.filter(|k| rsa_jwk(k).is_ok());
        Self { id, saml, oidc }
    }
}

/// The keys in force: `keys[0]` signs.
#[derive(Clone, Default)]
pub struct KeySet {
    pub keys: Vec<RingKey>,
}

impl KeySet {
    pub fn signer(&self) -> Option<&RingKey> {
        self.keys.first()
    }

    /// The SAML signer: the first key.
    pub fn saml_signer(&self) -> Option<&BrokerSigningKey> {
        self.keys.first().map(|k| &k.saml)
    }

    /// The OIDC signer: the first RSA key (the same as the SAML signer unless that is not RSA;
    /// rotated keys always are).
    pub fn oidc_signer(&self) -> Option<&PKey<Private>> {
        self.keys.iter().find_map(|k| k.oidc.as_ref())
    }

    /// Every published certificate (DER), in order.
    pub fn certificates(&self) -> Vec<Vec<u8>> {
        self.keys
            .iter()
            .map(|k| k.saml.certificate_der().to_vec())
            .collect()
    }

    /// Every key the JWKS publishes.
    pub fn oidc_keys(&self) -> Vec<PKey<Private>> {
        self.keys.iter().filter_map(|k| k.oidc.clone()).collect()
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// Shared by every request of this process; replaced whole.
#[derive(Default)]
pub struct KeyRing {
    current: RwLock<Arc<KeySet>>,
}

impl KeyRing {
    pub fn new(set: KeySet) -> Self {
        Self {
            current: RwLock::new(Arc::new(set)),
        }
    }

    /// The set in force; a poisoned lock (a panic elsewhere while replacing) still reads the
    /// last complete set.
    pub fn current(&self) -> Arc<KeySet> {
        match self.current.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn replace(&self, set: KeySet) {
        match self.current.write() {
            Ok(mut g) => *g = Arc::new(set),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(set),
        }
    }
}
