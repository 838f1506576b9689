//! The guard objects (docs/limits.md) and the isolate's way of reaching them.
//!
//! Each object only loads its state, lets the core decide, and stores the result; the
//! isolate's [`DoBackend`] only carries JSON to and from them. Only the guard Worker (feature
//! `guard-worker`) compiles the objects' classes and exports them; the token and admin Workers
//! compile only the isolate's side and reach the objects by binding (`script_name`).

#[cfg(feature = "guard-worker")]
use std::cell::RefCell;
#[cfg(not(feature = "guard-worker"))]
use std::rc::Rc;
use std::{cell::Cell, future::Future, pin::pin, task::Poll, time::Duration};

use serde::{de::DeserializeOwned, Serialize};
#[cfg(not(feature = "guard-worker"))]
use wasm_bindgen::JsCast;
use wasm_bindgen::{prelude::wasm_bindgen, JsValue};
use worker::{
    console_error,
    js_sys::{Object, Promise, Reflect},
    wasm_bindgen_futures::JsFuture,
    Date, Delay, Env,
};
#[cfg(feature = "guard-worker")]
use worker::{
    durable_object, js_sys::JSON, DurableObject, ListOptions, Request, Response, Result, State,
};
#[cfg(not(feature = "guard-worker"))]
use worker::{js_sys::Function, Context};

#[cfg(feature = "guard-worker")]
use crate::core::cold::cold;
#[cfg(feature = "guard-worker")]
use crate::core::guard::assertions::{SeenAssertions, ASSERTION_KEY};
#[cfg(not(any(feature = "admin-worker", feature = "guard-worker")))]
use crate::core::guard::tokens::TokenLedger;
#[cfg(feature = "guard-worker")]
use crate::core::guard::tokens::{RevokedTokens, TokensUpdate, MAX_JTI_CHARS, TOKEN_KEY};
#[cfg(not(feature = "admin-worker"))]
use crate::core::guard::tokens::{TokenQuery, TokenStatus};
#[cfg(feature = "guard-worker")]
use crate::core::guard::{
    BlockRequest, ClientCommand, ClientGuardState, ClientUsage, RecordRequest, SourceEntry,
    SourceGuardState, SourceUpdate, Storage, StorageFailed, Stored, Taken,
};
use crate::core::guard::{
    ClientView, FailureReport, LeaseRequest, SpendAnswer, SpendBatch, Unavailable,
};
#[cfg(feature = "guard-worker")]
use crate::core::guard::{SpendRequest, Spent};
#[cfg(not(feature = "guard-worker"))]
use crate::core::{
    gate::{gate_for, Gate, Report, CLIENT_GATE},
    guard::Backend,
};

/// The binding of the per-client objects.
pub const CLIENT_GUARD: &str = "CLIENT_GUARD";
/// The binding of the source-address shards.
pub const SOURCE_GUARD: &str = "SOURCE_GUARD";
/// An object that has not answered within this time is treated as unavailable.
const ANSWER_WITHIN: Duration = Duration::from_millis(1_000);
#[cfg(feature = "guard-worker")]
/// The storage key of an object's whole state.
const STATE: &str = "state";

thread_local! {
    /// Requests to the guard objects that failed in this isolate, so far.
    static OBJECT_ERRORS: Cell<u64> = const { Cell::new(0) };
}

#[cfg(not(feature = "guard-worker"))]
/// The name of the source-address shard `shard`.
pub fn shard_name(shard: u64) -> String {
    format!("shard-{shard}")
}

#[cfg(not(feature = "guard-worker"))]
/// Reaches the guard objects from a request; background work goes to `ctx.wait_until`.
#[derive(Clone)]
pub struct DoBackend {
    env: Env,
    ctx: Rc<Context>,
}

#[cfg(not(feature = "guard-worker"))]
impl DoBackend {
    /// For one request.
    pub fn new(env: Env, ctx: Rc<Context>) -> Self {
        Self { env, ctx }
    }
}

#[wasm_bindgen(inline_js = r#"
export async function guardPost(env, binding, name, url, body) {
  const response = await env[binding].getByName(name).fetch(url, { method: "POST", body });
  return response.status === 200 ? await response.text() : undefined;
}
"#)]
extern "C" {
    /// `env[binding].getByName(name).fetch(url, {method: "POST", body})`: the answer's text
    /// when its status is 200, else `undefined`; rejected when the binding is missing or the
    /// object cannot be reached. One crossing into the runtime for the whole exchange.
    #[wasm_bindgen(js_name = guardPost)]
    fn guard_post(env: &JsValue, binding: &str, name: &str, url: &str, body: &str) -> Promise;
}

/// POSTs `body` as JSON to `path` of the object `name` of `binding`; its JSON answer, or
/// [`Unavailable`] on any error or after [`ANSWER_WITHIN`].
pub async fn call<T: DeserializeOwned>(
    env: &Env,
    binding: &str,
    name: &str,
    path: &str,
    body: &impl Serialize,
) -> std::result::Result<T, Unavailable> {
    let body = serde_json::to_string(body).map_err(|_| Unavailable)?;
    let answer = post(env, binding, name, path, &body).await?;
    crate::core::json::parse(answer.as_bytes()).map_err(|_| {
        log_object_error(binding, name, path);
        Unavailable
    })
}

/// The exchange of [`call`], apart from its types (one copy for every request and answer
/// type): the answer's text, or [`Unavailable`] (logged) on any error or after
/// [`ANSWER_WITHIN`].
async fn post(
    env: &Env,
    binding: &str,
    name: &str,
    path: &str,
    body: &str,
) -> std::result::Result<String, Unavailable> {
    super::meter::add(|spent| spent.object_requests += 1);
    let url = format!("https://guard/{path}");
    let exchange = JsFuture::from(guard_post(env, binding, name, &url, body));
    let answer = within(ANSWER_WITHIN, exchange).await;
    answer
        .and_then(Result::ok)
        .and_then(|text| text.as_string())
        .ok_or_else(|| {
            log_object_error(binding, name, path);
            Unavailable
        })
}

/// Logs a failed request to a guard object with this isolate's running count of them: one
/// JSON line without an `outcome` (it is not a request's line). A source shard is named; a
/// client's object is not (its name holds the client id).
fn log_object_error(binding: &str, name: &str, path: &str) {
    let errors = OBJECT_ERRORS.with(|count| {
        count.set(count.get() + 1);
        count.get()
    });
    let object = (binding == SOURCE_GUARD).then_some(name);
    let line = serde_json::json!({
        "route": "guard", "event": "object_error", "binding": binding, "object": object,
        "path": path, "errors": errors,
    });
    console_error!("{}", crate::core::json::text(&line));
}

/// `future`'s output, or `None` if it takes longer than `limit`.
async fn within<F: Future>(limit: Duration, future: F) -> Option<F::Output> {
    let (mut future, mut timer) = (pin!(future), pin!(Delay::from(limit)));
    std::future::poll_fn(|cx| {
        if let Poll::Ready(output) = future.as_mut().poll(cx) {
            return Poll::Ready(Some(output));
        }
        timer.as_mut().poll(cx).map(|()| None)
    })
    .await
}

#[cfg(not(feature = "guard-worker"))]
impl Backend for DoBackend {
    async fn lease(
        &self,
        guard: &str,
        request: &LeaseRequest,
    ) -> std::result::Result<ClientView, Unavailable> {
        call(&self.env, CLIENT_GUARD, guard, "lease", request).await
    }

    async fn client_failure(
        &self,
        guard: &str,
        report: &FailureReport,
    ) -> std::result::Result<ClientView, Unavailable> {
        call(&self.env, CLIENT_GUARD, guard, "failure", report).await
    }

    async fn spend(
        &self,
        guard: &str,
        batch: &SpendBatch,
    ) -> std::result::Result<SpendAnswer, Unavailable> {
        call(&self.env, CLIENT_GUARD, guard, "spend", batch).await
    }

    async fn source_failure(
        &self,
        shard: u64,
        keys: &[String],
    ) -> std::result::Result<Vec<(String, u64)>, Unavailable> {
        let mut verdicts = Vec::with_capacity(keys.len());
        for key in keys {
            verdicts.push((
                key.clone(),
                first_gate(&self.env, gate_for(key).0, key).await,
            ));
        }
        let report = Report::new(&verdicts);
        let answer = match report.request() {
            Some((path, keys)) => {
                call(&self.env, SOURCE_GUARD, &shard_name(shard), path, &keys).await
            }
            None => Ok(Vec::new()),
        };
        report.blocked(Date::now().as_millis(), answer)
    }

    async fn client_gate(&self, key: &str) -> Gate {
        first_gate(&self.env, CLIENT_GATE, key).await
    }

    fn spawn(&self, task: impl Future<Output = ()> + 'static) {
        self.ctx.wait_until(task);
    }

    fn now_ms(&self) -> u64 {
        Date::now().as_millis()
    }
}

#[cfg(not(any(feature = "admin-worker", feature = "guard-worker")))]
impl TokenLedger for DoBackend {
    async fn token_status(
        &self,
        guard: &str,
        query: &TokenQuery,
    ) -> std::result::Result<TokenStatus, Unavailable> {
        call(&self.env, CLIENT_GUARD, guard, "token", query).await
    }
}

#[cfg(not(feature = "guard-worker"))]
/// Counts one more failure against `key` at the Rate Limiting binding `binding`
/// (wrangler.toml `[[ratelimits]]`); [`Gate::Absent`] when the binding is missing or fails,
/// so that the objects then count as they would without gates.
async fn first_gate(env: &Env, binding: &str, key: &str) -> Gate {
    let Ok(gate) = env.rate_limiter(binding) else {
        return Gate::Absent;
    };
    super::meter::add(|spent| spent.gate_calls += 1);
    match gate_limit(gate.as_ref(), key).await {
        Ok(true) => Gate::Within,
        Ok(false) => Gate::Over,
        Err(_) => Gate::Absent,
    }
}

#[cfg(not(feature = "guard-worker"))]
/// `gate.limit({key})`'s `success`, called directly: workers-rs's `RateLimiter::limit` goes
/// through serde-wasm-bindgen, which would be the token Worker's only use of it.
async fn gate_limit(gate: &JsValue, key: &str) -> std::result::Result<bool, JsValue> {
    let options = Object::new();
    Reflect::set(&options, &JsValue::from_str("key"), &JsValue::from_str(key))?;
    let limit: Function = Reflect::get(gate, &JsValue::from_str("limit"))?.dyn_into()?;
    let promise: Promise = limit.call1(gate, &options)?.dyn_into()?;
    let outcome = JsFuture::from(promise).await?;
    Ok(Reflect::get(&outcome, &JsValue::from_str("success"))?.as_bool() == Some(true))
}

#[cfg(feature = "guard-worker")]
/// An object's storage of its whole state under one key.
struct DoStorage(State);

#[cfg(feature = "guard-worker")]
impl Storage for DoStorage {
    async fn load<T: DeserializeOwned>(&self) -> std::result::Result<Option<T>, StorageFailed> {
        let found = self.0.storage().get_multiple(vec![STATE]).await;
        let value = found
            .map_err(|_| StorageFailed)?
            .get(&JsValue::from_str(STATE));
        if value.is_undefined() {
            return Ok(None);
        }
        // JSON text; state stored before it was text is a structured object of the same shape.
        let json = value
            .as_string()
            .or_else(|| JSON::stringify(&value).ok().and_then(|s| s.as_string()))
            .ok_or(StorageFailed)?;
        crate::core::json::parse(json.as_bytes())
            .map(Some)
            .map_err(|_| StorageFailed)
    }

    async fn save<T: Serialize>(&self, value: &T) -> std::result::Result<(), StorageFailed> {
        let json = serde_json::to_string(value).map_err(|_| StorageFailed)?;
        self.0
            .storage()
            .put_raw(STATE, JsValue::from_str(&json))
            .await
            .map_err(|_| StorageFailed)
    }
}

#[cfg(feature = "guard-worker")]
/// A storage failure as the object's answer: an error, which the isolate takes as unavailable.
fn storage_error(StorageFailed: StorageFailed) -> worker::Error {
    worker::Error::RustError("guard storage failed".into())
}

#[cfg(feature = "guard-worker")]
async fn json_body<T: DeserializeOwned>(mut req: Request) -> Result<T> {
    Ok(crate::core::json::parse(req.text().await?.as_bytes())?)
}

#[cfg(feature = "guard-worker")]
/// One per client: its issuance bucket, revocation state and failure counter, the tokens it
/// revoked and the assertions' `jti`s it spent (each its own storage entry: [`TOKEN_KEY`],
/// [`ASSERTION_KEY`]); and, under a tenant's
/// reserved name (`core::guard::tenant_guard_name`), one per tenant with a quota.
#[durable_object(fetch)]
pub struct ClientGuard {
    stored: Stored<ClientGuardState, DoStorage>,
    env: Env,
    storage: worker::Storage,
    tokens: RefCell<Option<RevokedTokens>>,
    assertions: RefCell<Option<SeenAssertions>>,
}

#[cfg(feature = "guard-worker")]
impl ClientGuard {
    /// A lease: first, when the client's block of its tenant's quota cannot cover it, a new
    /// block from the tenant's object (unreachable: the lease fails, as the object would).
    async fn lease(&self, now: u64, request: LeaseRequest) -> Result<ClientView> {
        let stored = &self.stored;
        let wanted = stored.read(|s| s.block_wanted(now, &request)).await;
        if let Some((tenant, block)) = wanted.map_err(storage_error)? {
            let taken: Taken = call(&self.env, CLIENT_GUARD, &tenant, "block", &block)
                .await
                .map_err(|Unavailable| worker::Error::RustError("tenant quota".into()))?;
            stored
                .update(|s| s.add_block(now, taken))
                .await
                .map_err(storage_error)?;
        }
        let view = stored.update(|s| s.lease(now, &request)).await;
        view.map_err(storage_error)
    }
}

#[cfg(feature = "guard-worker")]
impl DurableObject for ClientGuard {
    fn new(state: State, env: Env) -> Self {
        Self {
            storage: state.storage(),
            stored: Stored::new(DoStorage(state)),
            env,
            tokens: RefCell::new(None),
            assertions: RefCell::new(None),
        }
    }

    /// A lease (the request every token makes) here; every other request out of line
    /// ([`cold`]), so that a new isolate's first lease compiles only its own code.
    async fn fetch(&self, req: Request) -> Result<Response> {
        let now = Date::now().as_millis();
        if req.path() == "/lease" {
            let request: LeaseRequest = json_body(req).await?;
            return Response::from_json(&self.lease(now, request).await?);
        }
        cold(self.route(req, now)).await
    }
}

#[cfg(feature = "guard-worker")]
impl ClientGuard {
    /// Every request but a lease, at `now` (ms).
    async fn route(&self, req: Request, now: u64) -> Result<Response> {
        let stored = &self.stored;
        let view = match req.path().as_str() {
            // A tenant's object: a block of the tenant's quota for a client's object.
            "/block" => {
                let request: BlockRequest = json_body(req).await?;
                let taken = stored.update(|s| s.grant_block(now, request)).await;
                return Response::from_json(&taken.map_err(storage_error)?);
            }
            "/failure" => {
                let report: FailureReport = json_body(req).await?;
                stored.update(|s| s.failure(now, &report)).await
            }
            // A token request's jtis (assertion, DPoP proof), each spent once, and the lease
            // the token will draw from (core::guard::assertions::SpendBatch).
            "/spend" => {
                let batch: SpendBatch = json_body(req).await?;
                return Response::from_json(&self.spend_batch(now, batch).await?);
            }
            // One jti, as a token Worker older than "/spend" asks while both deploy.
            "/assertion" => {
                let spend: SpendRequest = json_body(req).await?;
                return Response::from_json(&self.spend(now, &spend).await?);
            }
            // Introspection and revocation of one of its tokens (core::guard::tokens).
            "/token" => {
                let query: TokenQuery = json_body(req).await?;
                let refused = |s: &ClientGuardState| s.refuses_token(query.issued_ms);
                let refused = stored.read(refused).await.map_err(storage_error)?;
                let status = self.token(now, refused, &query).await?;
                return Response::from_json(&status);
            }
            // Read-only, for the admin API: revocation state and each secret's last use.
            "/usage" => {
                let usage = |s: &ClientGuardState| ClientUsage {
                    quota: s.quota_usage(now),
                    ..s.usage()
                };
                let usage = stored.read(usage).await.map_err(storage_error)?;
                return Response::from_json(&usage);
            }
            // For tests: one command, as the admin API's writes apply them.
            "/command" => {
                let command: ClientCommand = json_body(req).await?;
                stored.update(|s| s.apply(command)).await
            }
            // The admin API's writes: a compare-and-set on the record's version, or its undo;
            // in force only once stored.
            "/record" => {
                let request: RecordRequest = json_body(req).await?;
                let answer = stored.update(|s| s.record_request(now, request)).await;
                return Response::from_json(&answer.map_err(storage_error)?);
            }
            _ => return Response::error("not found", 404),
        };
        Response::from_json(&view.map_err(storage_error)?)
    }
}

#[cfg(feature = "guard-worker")]
impl ClientGuard {
    /// Answers a question about one of the client's tokens; a revocation is in force (and in
    /// memory) only once stored: after a failed write the entries are loaded again.
    async fn token(&self, now: u64, disabled: bool, query: &TokenQuery) -> Result<TokenStatus> {
        if query.jti.is_empty() || query.jti.len() > MAX_JTI_CHARS {
            return Err(worker::Error::RustError("bad jti".into()));
        }
        let cached = self.tokens.borrow_mut().take();
        let mut tokens = match cached {
            Some(tokens) => tokens,
            None => self.load_tokens().await?,
        };
        let (status, update) = tokens.query(now, disabled, query);
        self.store_tokens(&update).await?;
        *self.tokens.borrow_mut() = Some(tokens);
        Ok(status)
    }

    /// Spends a batch's `jti`s, each stored before the next, then, when every one was fresh
    /// and the batch asks for it, grants its lease.
    async fn spend_batch(&self, now: u64, batch: SpendBatch) -> Result<SpendAnswer> {
        let mut spent = Vec::with_capacity(batch.spends.len());
        for spend in &batch.spends {
            spent.push(self.spend(now, spend).await?);
        }
        let view = match batch.lease_after(&spent) {
            Some(lease) => Some(self.lease(now, lease).await?),
            None => None,
        };
        Ok(SpendAnswer { spent, view })
    }

    /// Spends an assertion's `jti`; in force (and in memory) only once stored, like a
    /// revocation. The first spend after the object starts loads the entries, and moves there
    /// the `jti`s an older version kept in the state.
    async fn spend(&self, now: u64, spend: &SpendRequest) -> Result<Spent> {
        let cached = self.assertions.borrow_mut().take();
        let mut seen = match cached {
            Some(seen) => seen,
            None => {
                let legacy = self.stored.read(|s| s.legacy_assertions().to_vec()).await;
                let legacy = legacy.map_err(storage_error)?;
                if !legacy.is_empty() {
                    // Their entries first: the state forgets them only once they are stored.
                    for added in legacy {
                        let added = TokensUpdate {
                            added: Some(added),
                            forgotten: Vec::new(),
                        };
                        self.store_entries(ASSERTION_KEY, &added).await?;
                    }
                    let taken = self.stored.update(|s| s.take_legacy_assertions()).await;
                    taken.map_err(storage_error)?;
                }
                SeenAssertions::restore(self.load_entries(ASSERTION_KEY).await?)
            }
        };
        let (spent, update) = seen.spend(now, spend);
        self.store_entries(ASSERTION_KEY, &update).await?;
        *self.assertions.borrow_mut() = Some(seen);
        Ok(spent)
    }

    /// Every revoked token's entry (`t:{jti}` → Unix ms).
    async fn load_tokens(&self) -> Result<RevokedTokens> {
        Ok(RevokedTokens::restore(self.load_entries(TOKEN_KEY).await?))
    }

    /// Writes the new revoked token's entry, then deletes the expired ones.
    async fn store_tokens(&self, update: &TokensUpdate) -> Result<()> {
        self.store_entries(TOKEN_KEY, update).await
    }

    /// The entries under `prefix` (`{prefix}{jti}` → Unix ms): revoked tokens, spent `jti`s.
    async fn load_entries(&self, prefix: &str) -> Result<Vec<(String, u64)>> {
        let stored = self
            .storage
            .list_with_options(ListOptions::new().prefix(prefix))
            .await?;
        let mut entries = Vec::new();
        stored.for_each(&mut |value, key| {
            if let (Some(key), Some(until)) = (key.as_string(), value.as_f64()) {
                entries.push((key[prefix.len()..].to_owned(), until as u64));
            }
        });
        Ok(entries)
    }

    /// Writes the new entry under `prefix`, then deletes the expired ones.
    async fn store_entries(&self, prefix: &str, update: &TokensUpdate) -> Result<()> {
        if let Some((jti, until)) = &update.added {
            let value = JsValue::from_f64(*until as f64);
            self.storage
                .put_raw(&format!("{prefix}{jti}"), value)
                .await?;
        }
        if !update.forgotten.is_empty() {
            let keys: Vec<String> = update
                .forgotten
                .iter()
                .map(|jti| format!("{prefix}{jti}"))
                .collect();
            self.storage.delete_multiple(keys).await?;
        }
        Ok(())
    }
}

#[cfg(feature = "guard-worker")]
/// The storage key prefix of a source's entry in a shard.
const SOURCE_KEY: &str = "s:";

#[cfg(feature = "guard-worker")]
/// One per shard of source addresses: their failure counters and blocks. Each source is its
/// own storage key, so a failure writes one small entry, not the shard.
#[durable_object(fetch)]
pub struct SourceGuard {
    state: State,
    shard: RefCell<Option<SourceGuardState>>,
}

#[cfg(feature = "guard-worker")]
impl SourceGuard {
    async fn load(&self) -> Result<SourceGuardState> {
        let stored = self
            .state
            .storage()
            .list_with_options(ListOptions::new().prefix(SOURCE_KEY))
            .await?;
        let mut entries = Vec::new();
        stored.for_each(&mut |value, key| {
            let key = key.as_string();
            let entry = value
                .as_string()
                .and_then(|v| crate::core::json::parse::<SourceEntry>(v.as_bytes()).ok());
            if let (Some(key), Some(entry)) = (key, entry) {
                entries.push((key[SOURCE_KEY.len()..].to_owned(), entry));
            }
        });
        Ok(SourceGuardState::restore(entries))
    }
}

#[cfg(feature = "guard-worker")]
impl DurableObject for SourceGuard {
    fn new(state: State, _env: Env) -> Self {
        Self {
            state,
            shard: RefCell::new(None),
        }
    }

    async fn fetch(&self, req: Request) -> Result<Response> {
        let now = Date::now().as_millis();
        let path = req.path();
        let cached = self.shard.borrow_mut().take();
        let mut shard = match cached {
            Some(shard) => shard,
            None => self.load().await?,
        };
        let (answer, update) = match path.as_str() {
            "/failure" | "/trip" => {
                let keys: Vec<String> = json_body(req).await?;
                let update = if path == "/trip" {
                    shard.tripped(now, &keys)
                } else {
                    shard.failure(now, &keys)
                };
                (serde_json::json!(update.blocked), update)
            }
            // The operator's (admin API): read the blocks, or forget one source's prefixes or
            // every one.
            "/blocks" => (
                serde_json::json!(shard.blocked(now)),
                SourceUpdate::default(),
            ),
            "/clear" => {
                let keys: Option<Vec<String>> = json_body(req).await?;
                let forgotten = shard.clear(keys.as_deref());
                let count = forgotten.len();
                let update = SourceUpdate {
                    forgotten,
                    ..SourceUpdate::default()
                };
                (serde_json::json!(count), update)
            }
            _ => {
                *self.shard.borrow_mut() = Some(shard);
                return Response::error("not found", 404);
            }
        };
        // In memory only once stored: after a failed write the shard is loaded again.
        self.store(&update).await?;
        *self.shard.borrow_mut() = Some(shard);
        Response::from_json(&answer)
    }
}

#[cfg(feature = "guard-worker")]
impl SourceGuard {
    /// Writes what a request changed, in one write of one small entry per prefix, then the
    /// deletions.
    async fn store(&self, update: &SourceUpdate) -> Result<()> {
        let storage = self.state.storage();
        if !update.changed.is_empty() {
            let entries = Object::new();
            for (key, entry) in &update.changed {
                let name = JsValue::from_str(&format!("{SOURCE_KEY}{key}"));
                let value = JsValue::from_str(&serde_json::to_string(entry)?);
                Reflect::set(&entries, &name, &value)?;
            }
            storage.put_multiple_raw(entries).await?;
        }
        if !update.forgotten.is_empty() {
            let keys: Vec<String> = update
                .forgotten
                .iter()
                .map(|s| format!("{SOURCE_KEY}{s}"))
                .collect();
            storage.delete_multiple(keys).await?;
        }
        Ok(())
    }
}
