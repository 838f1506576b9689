//! The client store over Workers KV (namespace `CLIENTS`, docs/storage-schema.md).

use worker::Env;

use crate::core::{
    client::record_key,
    token::{ClientStore, StoreUnavailable},
};

/// Reads client records from the `CLIENTS` namespace. The binding is looked up on a read, not
/// before: binding a `KvStore` costs six property reads across the wasm boundary, and most
/// tokens are served from the isolate's record cache without any read.
pub struct KvClientStore<'a>(&'a Env);

impl<'a> KvClientStore<'a> {
    /// Over this request's `env`.
    pub fn new(env: &'a Env) -> Self {
        Self(env)
    }
}

impl ClientStore for KvClientStore<'_> {
    async fn record(
        &self,
        tenant: &str,
        client_id: &str,
    ) -> Result<Option<String>, StoreUnavailable> {
        super::meter::add(|spent| spent.kv_reads += 1);
        // A missing binding is a deployment fault that `wrangler deploy` already refuses.
        let kv = self.0.kv("CLIENTS").map_err(|_| StoreUnavailable)?;
        kv.get(&record_key(tenant, client_id))
            .text()
            .await
            .map_err(|_| StoreUnavailable)
    }
}
