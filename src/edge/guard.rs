//! The guard objects (docs/limits.md) and the isolate's way of reaching them.
//!
//! Each object only loads its state, lets the core decide, and stores the result; the
//! isolate's [`DoBackend`] only carries JSON to and from them. Only the token Worker exports
//! the objects' classes; the admin Worker (feature `admin-worker`) reaches them by binding.

#[cfg(not(feature = "admin-worker"))]
use std::cell::RefCell;
use std::{future::Future, pin::pin, rc::Rc, task::Poll, time::Duration};

use serde::{de::DeserializeOwned, Serialize};
use wasm_bindgen::JsValue;
#[cfg(not(feature = "admin-worker"))]
use worker::{durable_object, DurableObject, ListOptions, Response, Result, State};
use worker::{Context, Date, Delay, Env, Method, Request, RequestInit};

use crate::core::guard::{Backend, ClientView, LeaseRequest, Unavailable};
#[cfg(not(feature = "admin-worker"))]
use crate::core::guard::{ClientCommand, ClientGuardState, SourceEntry, SourceGuardState};

/// The binding of the per-client objects.
pub const CLIENT_GUARD: &str = "CLIENT_GUARD";
/// The binding of the source-address shards.
pub const SOURCE_GUARD: &str = "SOURCE_GUARD";
/// An object that has not answered within this time is treated as unavailable.
const ANSWER_WITHIN: Duration = Duration::from_millis(1_000);
#[cfg(not(feature = "admin-worker"))]
/// The storage key of an object's whole state.
const STATE: &str = "state";

/// The name of the source-address shard `shard`.
pub fn shard_name(shard: u64) -> String {
    format!("shard-{shard}")
}

/// Reaches the guard objects from a request; background work goes to `ctx.wait_until`.
#[derive(Clone)]
pub struct DoBackend {
    env: Env,
    ctx: Rc<Context>,
}

impl DoBackend {
    /// For one request.
    pub fn new(env: Env, ctx: Rc<Context>) -> Self {
        Self { env, ctx }
    }
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
    let exchange = async {
        let stub = env.durable_object(binding)?.get_by_name(name)?;
        let body = serde_json::to_string(body)?;
        let mut init = RequestInit::new();
        init.with_method(Method::Post)
            .with_body(Some(JsValue::from_str(&body)));
        let request = Request::new_with_init(&format!("https://guard/{path}"), &init)?;
        let mut response = stub.fetch_with_request(request).await?;
        if response.status_code() != 200 {
            return Err(worker::Error::RustError(format!(
                "guard answered {}",
                response.status_code()
            )));
        }
        response.json::<T>().await
    };
    match within(ANSWER_WITHIN, exchange).await {
        Some(Ok(answer)) => Ok(answer),
        _ => Err(Unavailable),
    }
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

impl Backend for DoBackend {
    async fn lease(
        &self,
        guard: &str,
        request: &LeaseRequest,
    ) -> std::result::Result<ClientView, Unavailable> {
        call(&self.env, CLIENT_GUARD, guard, "lease", request).await
    }

    async fn client_failure(&self, guard: &str) -> std::result::Result<ClientView, Unavailable> {
        call(&self.env, CLIENT_GUARD, guard, "failure", &()).await
    }

    async fn source_failure(
        &self,
        shard: u64,
        source: &str,
    ) -> std::result::Result<u64, Unavailable> {
        call(
            &self.env,
            SOURCE_GUARD,
            &shard_name(shard),
            "failure",
            &source,
        )
        .await
    }

    fn spawn(&self, task: impl Future<Output = ()> + 'static) {
        self.ctx.wait_until(task);
    }

    fn now_ms(&self) -> u64 {
        Date::now().as_millis()
    }
}

#[cfg(not(feature = "admin-worker"))]
/// Loads an object's state on first use, and writes it back after each change.
struct Stored<T> {
    state: State,
    value: RefCell<Option<T>>,
}

#[cfg(not(feature = "admin-worker"))]
impl<T: Default + Serialize + DeserializeOwned> Stored<T> {
    fn new(state: State) -> Self {
        Self {
            state,
            value: RefCell::new(None),
        }
    }

    /// The state, from memory or else from storage (empty when there is none); the caller
    /// puts it back.
    async fn take(&self) -> Result<T> {
        let cached = self.value.borrow_mut().take();
        match cached {
            Some(value) => Ok(value),
            None => Ok(self
                .state
                .storage()
                .get::<T>(STATE)
                .await?
                .unwrap_or_default()),
        }
    }

    /// Runs `change` on the state and persists it. An object handles one event at a time
    /// and storage writes are ordered, so no other request interleaves.
    async fn update<R>(&self, change: impl FnOnce(&mut T) -> R) -> Result<R> {
        let mut value = self.take().await?;
        let result = change(&mut value);
        let saved = self.state.storage().put(STATE, &value).await;
        *self.value.borrow_mut() = Some(value);
        saved.map(|()| result)
    }

    /// Reads the state without changing or writing it.
    async fn read<R>(&self, look: impl FnOnce(&T) -> R) -> Result<R> {
        let value = self.take().await?;
        let result = look(&value);
        *self.value.borrow_mut() = Some(value);
        Ok(result)
    }
}

#[cfg(not(feature = "admin-worker"))]
async fn json_body<T: DeserializeOwned>(mut req: Request) -> Result<T> {
    req.json().await
}

#[cfg(not(feature = "admin-worker"))]
/// One per client: its issuance bucket, revocation state and failure counter.
#[durable_object(fetch)]
pub struct ClientGuard {
    stored: Stored<ClientGuardState>,
}

#[cfg(not(feature = "admin-worker"))]
impl DurableObject for ClientGuard {
    fn new(state: State, _env: Env) -> Self {
        Self {
            stored: Stored::new(state),
        }
    }

    async fn fetch(&self, req: Request) -> Result<Response> {
        let now = Date::now().as_millis();
        let view = match req.path().as_str() {
            "/lease" => {
                let request: LeaseRequest = json_body(req).await?;
                self.stored.update(|s| s.lease(now, &request)).await?
            }
            "/failure" => self.stored.update(|s| s.failure(now)).await?,
            // Read-only, for the admin API: revocation state and each secret's last use.
            "/usage" => return Response::from_json(&self.stored.read(|s| s.usage()).await?),
            "/command" => {
                let command: ClientCommand = json_body(req).await?;
                self.stored.update(|s| s.apply(command)).await?
            }
            _ => return Response::error("not found", 404),
        };
        Response::from_json(&view)
    }
}

#[cfg(not(feature = "admin-worker"))]
/// The storage key prefix of a source's entry in a shard.
const SOURCE_KEY: &str = "s:";

#[cfg(not(feature = "admin-worker"))]
/// One per shard of source addresses: their failure counters and blocks. Each source is its
/// own storage key, so a failure writes one small entry, not the shard.
#[durable_object(fetch)]
pub struct SourceGuard {
    state: State,
    shard: RefCell<Option<SourceGuardState>>,
}

#[cfg(not(feature = "admin-worker"))]
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
                .and_then(|v| serde_json::from_str::<SourceEntry>(&v).ok());
            if let (Some(key), Some(entry)) = (key, entry) {
                entries.push((key[SOURCE_KEY.len()..].to_owned(), entry));
            }
        });
        Ok(SourceGuardState::restore(entries))
    }
}

#[cfg(not(feature = "admin-worker"))]
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
        let (answer, put, forgotten) = match path.as_str() {
            "/failure" => {
                let source: String = json_body(req).await?;
                let update = shard.failure(now, &source);
                let put = Some((source, serde_json::to_string(&update.entry)?));
                (
                    serde_json::json!(update.blocked_until),
                    put,
                    update.forgotten,
                )
            }
            // The operator's (admin API): read the blocks, or forget one source or all.
            "/blocks" => (serde_json::json!(shard.blocked(now)), None, vec![]),
            "/clear" => {
                let source: Option<String> = json_body(req).await?;
                let forgotten = shard.clear(source.as_deref());
                (serde_json::json!(forgotten.len()), None, forgotten)
            }
            _ => {
                *self.shard.borrow_mut() = Some(shard);
                return Response::error("not found", 404);
            }
        };
        *self.shard.borrow_mut() = Some(shard);
        let storage = self.state.storage();
        if let Some((source, entry)) = put {
            storage.put(&format!("{SOURCE_KEY}{source}"), entry).await?;
        }
        if !forgotten.is_empty() {
            let keys: Vec<String> = forgotten
                .iter()
                .map(|s| format!("{SOURCE_KEY}{s}"))
                .collect();
            storage.delete_multiple(keys).await?;
        }
        Response::from_json(&answer)
    }
}
