//! A deployment: every tenant's [`Issuer`], built once per isolate from the configuration and
//! the secrets, and the routing table from exact paths to them.

use std::{collections::HashMap, rc::Rc};

use super::{
    client::RecordCache,
    config::{ConfigError, Endpoint, Tenants},
    keys::KeySet,
    secret::Pepper,
    token::Issuer,
    unknown::UnknownIds,
};

/// Every tenant's issuer and the paths that lead to them.
#[derive(Debug)]
pub struct Deployment {
    issuers: Vec<Issuer>,
    routes: HashMap<String, (usize, Endpoint)>,
}

impl Deployment {
    /// Validates the origin and `TENANTS` (JSON text), and parses each signing-key secret the tenants name
    /// once (tenants naming the same secret share the parsed keys). `secret` reads a Worker
    /// secret by name. Errors name the secret or setting, never a value.
    pub fn new(
        origin: &str,
        tenants: &str,
        pepper: Pepper,
        secret: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let (tenants, routes) = Tenants::new(origin, tenants)?.into_tenants();
        let pepper = Rc::new(pepper);
        let mut key_sets: HashMap<String, Rc<KeySet>> = HashMap::new();
        let mut issuers = Vec::with_capacity(tenants.len());
        for tenant in tenants {
            let keys = match key_sets.get(&tenant.signing_keys) {
                Some(keys) => keys.clone(),
                None => {
                    let name = &tenant.signing_keys;
                    let json = secret(name).ok_or_else(|| {
                        ConfigError(format!(
                            "{name} (signing keys of tenant {}) is not set",
                            tenant.name
                        ))
                    })?;
                    let keys = Rc::new(
                        KeySet::from_jwk_set(&json)
                            .map_err(|e| ConfigError(format!("{name}: {e}")))?,
                    );
                    key_sets.insert(name.clone(), keys.clone());
                    keys
                }
            };
            issuers.push(Issuer {
                tenant,
                keys,
                pepper: pepper.clone(),
                records: RecordCache::default(),
                unknown: UnknownIds::default(),
                jwks: Default::default(),
            });
        }
        Ok(Self { issuers, routes })
    }

    /// The issuer and endpoint at exactly this path.
    pub fn route(&self, path: &str) -> Option<(&Issuer, Endpoint)> {
        let (index, endpoint) = self.routes.get(path)?;
        Some((&self.issuers[*index], *endpoint))
    }

    /// The issuer of the tenant named `name`.
    pub fn tenant(&self, name: &str) -> Option<&Issuer> {
        self.issuers
            .iter()
            .find(|issuer| issuer.tenant.name == name)
    }
}
