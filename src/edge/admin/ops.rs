//! The admin API's operations on one tenant's clients and blocks: each reads KV (and the
//! client's guard object), lets [`crate::core::admin`] decide, and carries out a change as
//! one compare-and-set at the client's guard object ([`RecordWrite`]), then KV, undoing the
//! object's write when KV fails.

use serde::{de::DeserializeOwned, Serialize};
use worker::{kv::KvStore, Env};

use super::{guard, reply, Answer, GUARD_CACHE};
use crate::core::{
    admin::{
        AdminError, BlockList, BlockedSource, Cleared, ClientInfo, ClientUpdate, Deleted,
        ListEntry, ListPage, NewClient, NewSecret, QuotaReport, Rotation,
    },
    client::{guard_name, record_key},
    credential::{generate_client_id, generate_secret},
    guard::{
        tenant_guard_name, ClientCommand, ClientUsage, RecordAnswer, RecordUndo, RecordWrite,
        Source, SourceBlock, LIMIT_HOLD_MS, SOURCE_SHARDS,
    },
    record::Record,
    token::Issuer,
};

/// Keys per page of a list.
const LIST_PAGE: u64 = 1_000;
fn random<const N: usize>() -> Result<[u8; N], AdminError> {
    let mut bytes = [0_u8; N];
    getrandom::fill(&mut bytes).map_err(|_| AdminError::fault("no random source"))?;
    Ok(bytes)
}

fn kv_down(_: impl std::fmt::Debug) -> AdminError {
    AdminError::unavailable("KV could not be reached; nothing was changed, retry")
}

/// One admin request's context.
pub(super) struct Admin<'a> {
    pub(super) env: &'a Env,
    pub(super) kv: KvStore,
    pub(super) issuer: &'a Issuer,
    pub(super) tenant: &'a str,
    pub(super) now_ms: u64,
}

impl Admin<'_> {
    fn now(&self) -> u64 {
        self.now_ms / 1000
    }

    async fn load(&self, id: &str) -> Result<Record, AdminError> {
        let text = self
            .kv
            .get(&record_key(self.tenant, id))
            .text()
            .await
            .map_err(kv_down)?
            .ok_or_else(|| {
                AdminError::not_found(format!("no client {id:?} in tenant {:?}", self.tenant))
            })?;
        Record::read_stored(id, &text)
    }

    async fn store(&self, record: &Record) -> Result<(), AdminError> {
        self.kv
            .put(
                &record_key(self.tenant, &record.client_id),
                record.to_json(),
            )
            .and_then(|put| put.metadata(record.metadata()))
            .map_err(kv_down)?
            .execute()
            .await
            .map_err(kv_down)?;
        Ok(())
    }

    async fn guard<T: DeserializeOwned>(
        &self,
        id: &str,
        path: &str,
        body: &impl serde::Serialize,
    ) -> Result<T, AdminError> {
        let name = guard_name(self.tenant, id);
        guard::call(self.env, guard::CLIENT_GUARD, &name, path, body)
            .await
            .map_err(|_| {
                AdminError::unavailable(
                    "the client's guard object could not be reached; nothing was changed, retry",
                )
            })
    }

    /// A `/record` request to the client's object; `None` when it did not answer.
    async fn record_call(&self, id: &str, body: &impl Serialize) -> Option<RecordAnswer> {
        let name = guard_name(self.tenant, id);
        guard::call(self.env, guard::CLIENT_GUARD, &name, "record", body)
            .await
            .ok()
    }

    /// Carries out a change: first at the client's object, a compare-and-set on the record's
    /// version whose commands the token Worker's isolates take in within a second
    /// (docs/limits.md); then in KV, `record` with the version the object gave, or (`None`)
    /// the record deleted. When KV fails, the object's write is undone.
    async fn commit(
        &self,
        id: &str,
        write: &RecordWrite,
        record: Option<&mut Record>,
    ) -> Result<(), AdminError> {
        let answer = self.record_call(id, write).await.ok_or_else(|| {
            AdminError::unavailable(
                "the client's guard object did not answer: the change may be in force there, \
                 KV was not changed; show the client and repeat the change",
            )
        })?;
        let version = answer.written()?;
        let stored = match record {
            Some(record) => {
                record.version = version;
                self.store(record).await
            }
            None => self
                .kv
                .delete(&record_key(self.tenant, id))
                .await
                .map_err(kv_down),
        };
        if stored.is_err() {
            let undo = self.record_call(id, &RecordUndo { undo: version }).await;
            return Err(RecordAnswer::after_failed_kv(undo));
        }
        Ok(())
    }

    /// Until when a limit set now overrides the isolates' copies of the record.
    fn limit_until(&self) -> u64 {
        self.now_ms + LIMIT_HOLD_MS
    }

    async fn usage(&self, id: &str) -> Option<ClientUsage> {
        self.guard(id, "usage", &()).await.ok()
    }

    /// `GET …/usage`: the client's quota counts from its object and, when the tenant has a
    /// quota, the tenant's from the tenant's object.
    pub(super) async fn quota_report(&self, id: &str) -> Answer {
        let record = self.load(id).await?;
        let client = match record.quota {
            Some(_) => self.usage(id).await.map(|u| Some(u.quota)),
            None => Some(None),
        };
        let tenant_quota = self.issuer.tenant.quota;
        let tenant = match tenant_quota {
            Some(_) => {
                let name = tenant_guard_name(self.tenant);
                let usage = guard::call(self.env, guard::CLIENT_GUARD, &name, "usage", &()).await;
                usage.ok().map(|u: ClientUsage| Some(u.quota))
            }
            None => Some(None),
        };
        reply(
            200,
            &QuotaReport {
                client_id: record.client_id,
                quota: record.quota,
                quota_usage: client.flatten(),
                tenant: self.tenant.to_owned(),
                tenant_quota,
                tenant_usage: tenant.flatten(),
                usage_unavailable: client.is_none() || tenant.is_none(),
            },
        )
    }

    fn info(&self, record: &Record, usage: Option<&ClientUsage>) -> ClientInfo {
        record.info(self.tenant, usage, self.now())
    }

    /// The client as it is now, with its usage if the guard object answers.
    async fn shown(&self, record: &Record) -> Answer {
        let usage = self.usage(&record.client_id).await;
        reply(200, &self.info(record, usage.as_ref()))
    }

    pub(super) async fn list(&self, cursor: Option<String>) -> Answer {
        let prefix = record_key(self.tenant, "");
        let mut list = self.kv.list().prefix(prefix.clone()).limit(LIST_PAGE);
        if let Some(cursor) = cursor.filter(|c| !c.is_empty()) {
            list = list.cursor(cursor);
        }
        let page = list.execute().await.map_err(kv_down)?;
        let clients = page
            .keys
            .iter()
            .map(|key| ListEntry::from_metadata(&key.name[prefix.len()..], key.metadata.as_ref()))
            .collect();
        let cursor = (!page.list_complete).then_some(page.cursor).flatten();
        let tenant = self.tenant.to_owned();
        reply(
            200,
            &ListPage {
                clients,
                cursor,
                tenant,
            },
        )
    }

    pub(super) async fn create(&self, input: NewClient) -> Answer {
        let secret = generate_secret(random()?);
        let mut record = Record::create(
            input,
            generate_client_id(random()?),
            &self.issuer.pepper.hash(&secret),
            self.now(),
        )?;
        let id = record.client_id.clone();
        let existing = self
            .kv
            .get(&record_key(self.tenant, &id))
            .text()
            .await
            .map_err(kv_down)?;
        let exists = || {
            AdminError::conflict(format!(
                "client {id:?} already exists in tenant {:?}",
                self.tenant
            ))
        };
        // KV first: a record written before versions is unknown to its object.
        if existing.is_some() {
            return Err(exists());
        }
        let limit = record.rate_limit.unwrap_or(self.issuer.tenant.rate_limit);
        let write = RecordWrite::create(limit, self.limit_until());
        self.commit(&id, &write, Some(&mut record))
            .await
            .map_err(|e| if e.status == 409 { exists() } else { e })?;
        let body = NewSecret {
            client: self.info(&record, Some(&ClientUsage::default())),
            client_secret: (!record.secrets.is_empty()).then(|| secret.expose().to_owned()),
            secret_id: None,
            token_path: self.issuer.tenant.token_paths[0].clone(),
            token_endpoint: self.issuer.tenant.token_endpoint.clone(),
            try_scope: self.try_scope(&record),
        };
        reply(201, &body)
    }

    /// The `scope` the "try it" request of a new secret must name, if any.
    fn try_scope(&self, record: &Record) -> Option<String> {
        let client = record.clone().into_client(&record.client_id)?;
        self.issuer.try_scope(&client)
    }

    pub(super) async fn show(&self, id: &str) -> Answer {
        self.shown(&self.load(id).await?).await
    }

    pub(super) async fn update(&self, id: &str, update: ClientUpdate) -> Answer {
        let before = self.load(id).await?;
        let mut record = before.updated(update)?;
        let limit = |r: &Record| r.rate_limit.unwrap_or(self.issuer.tenant.rate_limit);
        // A changed limit is in force at once, over the isolates' copies of the record.
        let write = RecordWrite::update(
            before.version,
            limit(&before),
            limit(&record),
            self.limit_until(),
        );
        self.commit(id, &write, Some(&mut record)).await?;
        self.shown(&record).await
    }

    pub(super) async fn delete(&self, id: &str) -> Answer {
        let record = self.load(id).await?;
        // Every secret revoked in the object, which a client re-created with this id keeps.
        let hashes = record.secrets.iter().map(|s| s.hash.clone());
        self.commit(id, &RecordWrite::delete(record.version, hashes), None)
            .await?;
        let deleted = Deleted {
            client_id: id.to_owned(),
            deleted: true,
            tenant: self.tenant.to_owned(),
        };
        reply(200, &deleted)
    }

    pub(super) async fn set_disabled(&self, id: &str, disabled: bool) -> Answer {
        let mut record = self.load(id).await?;
        let expected = record.version;
        record.disabled = disabled;
        let command = if disabled {
            ClientCommand::Disable
        } else {
            ClientCommand::Enable
        };
        let write = RecordWrite::change(expected, vec![command]);
        self.commit(id, &write, Some(&mut record)).await?;
        self.shown(&record).await
    }

    pub(super) async fn rotate(&self, id: &str, rotation: Rotation) -> Answer {
        let secret = generate_secret(random()?);
        let hash = self.issuer.pepper.hash(&secret);
        let before = self.load(id).await?;
        let mut record = before.rotate(&hash, rotation, self.now())?;
        let write = RecordWrite::change(before.version, Vec::new());
        self.commit(id, &write, Some(&mut record)).await?;
        let usage = self.usage(id).await;
        let body = NewSecret {
            client: self.info(&record, usage.as_ref()),
            client_secret: Some(secret.expose().to_owned()),
            secret_id: record.secrets.last().map(|s| s.id()),
            token_path: self.issuer.tenant.token_paths[0].clone(),
            token_endpoint: self.issuer.tenant.token_endpoint.clone(),
            try_scope: self.try_scope(&record),
        };
        reply(201, &body)
    }

    /// Asks a source shard (`path`: `blocks` or `clear`).
    async fn shard<T: DeserializeOwned>(
        &self,
        shard: u64,
        path: &str,
        body: &impl Serialize,
    ) -> Result<T, AdminError> {
        guard::call(
            self.env,
            guard::SOURCE_GUARD,
            &guard::shard_name(shard),
            path,
            body,
        )
        .await
        .map_err(|_| AdminError::unavailable("a source-address shard could not be reached; retry"))
    }

    /// Every shard's blocked sources, the soonest released first.
    pub(super) async fn blocks(&self) -> Answer {
        let mut blocks = Vec::new();
        for shard in 0..SOURCE_SHARDS {
            let listed: Vec<SourceBlock> = self.shard(shard, "blocks", &()).await?;
            blocks.extend(listed.into_iter().map(|b| BlockedSource {
                blocked_until: b.blocked_until.div_ceil(1000),
                blocks: b.blocks,
                source: b.source,
            }));
        }
        blocks.sort_by_key(|b| b.blocked_until);
        reply(200, &BlockList { blocks })
    }

    /// Forgets one source's block and failures (in its shard), or every source's. A token
    /// isolate keeps a block it already learnt until it ends (docs/limits.md).
    pub(super) async fn clear_blocks(&self, source: Option<&str>) -> Answer {
        // An address's every prefix (its /24, /56, /48 too) is in the shard of its widest.
        let source = source.map(|s| Source::from_header(Some(s.strip_suffix("/64").unwrap_or(s))));
        let shards: Vec<u64> = match &source {
            Some(source) => vec![source.shard()],
            None => (0..SOURCE_SHARDS).collect(),
        };
        let keys = source.as_ref().map(Source::keys);
        let mut cleared = 0;
        for shard in shards {
            cleared += self.shard::<u64>(shard, "clear", &keys).await?;
        }
        GUARD_CACHE.with(|cache| cache.borrow_mut().forget_blocks(source.as_ref()));
        reply(200, &Cleared { cleared })
    }

    pub(super) async fn retire(&self, id: &str, secret_id: &str) -> Answer {
        let before = self.load(id).await?;
        let (mut record, hash) = before.retire(secret_id, self.now())?;
        let write = RecordWrite::change(before.version, vec![ClientCommand::RevokeSecret { hash }]);
        self.commit(id, &write, Some(&mut record)).await?;
        self.shown(&record).await
    }
}
