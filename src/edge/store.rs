//! The client store over Workers KV (namespace `CLIENTS`, docs/storage-schema.md).

use worker::{kv::KvStore, Env};

use crate::core::{
    client::record_key,
    token::{ClientStore, StoreUnavailable},
};

/// Reads client records from the `CLIENTS` namespace.
pub struct KvClientStore(KvStore);

impl KvClientStore {
    /// Binds to `CLIENTS`; fails only when the binding is missing.
    pub fn new(env: &Env) -> worker::Result<Self> {
        env.kv("CLIENTS").map(Self)
    }
}

impl ClientStore for KvClientStore {
    async fn record(&self, client_id: &str) -> Result<Option<String>, StoreUnavailable> {
        self.0
            .get(&record_key("default", client_id))
            .text()
            .await
            .map_err(|_| StoreUnavailable)
    }
}
