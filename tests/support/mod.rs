//! Test support shared by `tests/pipeline.rs`, `tests/fuzz/` and `benches/core.rs` (included
//! there with `#[path]`): a signing key, fakes of KV and of the guard objects that follow the platform's
//! rules that matter here, and an isolate that runs one request as the edge does.
//!
//! A KV read returns the stored JSON or nothing, or fails; a Durable Object handles one
//! request at a time, keeps its state, and may be unreachable; background work
//! (`ctx.wait_until`) runs after the answer.

// Each target that includes this module uses only part of it.
#![allow(dead_code)]

use std::{
    cell::{Cell, RefCell},
    collections::HashMap,
    future::Future,
    pin::{pin, Pin},
    rc::Rc,
    task::{Context, Poll, Waker},
};

use base64ct::{Base64, Encoding};
use edge_token::core::{
    deployment::Deployment,
    gate::Gate,
    guard::{
        assertions::SeenAssertions,
        tokens::{RevokedTokens, TokenLedger, TokenQuery, TokenStatus},
        Backend, ClientCommand, ClientGuardState, ClientView, FailureReport, IsolateCache,
        LeaseRequest, Limiter, Source, SourceGuardState, SpendAnswer, SpendBatch, Spent,
        Unavailable,
    },
    request::HttpRequest,
    secret::{ClientSecret, Pepper},
    sign::NativeSigner,
    token::{ClientStore, Outcome, StoreUnavailable},
};
use serde_json::{json, Value};

/// RFC 8037 Appendix A.1: a fixed Ed25519 key (the tests need no secret of their own).
pub const KEY: &str = r#"{"kty":"OKP","crv":"Ed25519",
    "d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A",
    "x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;
/// The pepper of every fake deployment and record.
pub const PEPPER: &str = "test-pepper-test-pepper-test-pep";
/// The origin of every fake deployment.
pub const ORIGIN: &str = "https://auth.example.com";
/// When the fakes start (Unix seconds).
pub const NOW: u64 = 1_800_000_000;
/// When the fakes start (Unix ms).
pub const NOW_MS: u64 = NOW * 1000;
/// The random bytes every token's `jti` is made of.
pub const JTI: [u8; 16] = [7; 16];

/// KV in memory: records by key (`client:{tenant}:{client_id}`), possibly unreachable.
#[derive(Default)]
pub struct FakeStore {
    /// The stored JSON by key.
    pub records: RefCell<HashMap<String, String>>,
    /// Every read fails while set.
    pub down: Cell<bool>,
    /// Reads so far.
    pub reads: Cell<usize>,
}

impl FakeStore {
    /// A store holding `records` in `tenant`.
    pub fn with(tenant: &str, records: &[Value]) -> Self {
        let store = Self::default();
        for record in records {
            store.put(tenant, record);
        }
        store
    }

    /// Stores `record` (which names its `client_id`) in `tenant`, replacing any.
    pub fn put(&self, tenant: &str, record: &Value) {
        let id = record["client_id"].as_str().expect("a client_id");
        self.records
            .borrow_mut()
            .insert(format!("client:{tenant}:{id}"), record.to_string());
    }
}

impl ClientStore for FakeStore {
    async fn record(
        &self,
        tenant: &str,
        client_id: &str,
    ) -> Result<Option<String>, StoreUnavailable> {
        self.reads.set(self.reads.get() + 1);
        if self.down.get() {
            return Err(StoreUnavailable);
        }
        Ok(self
            .records
            .borrow()
            .get(&format!("client:{tenant}:{client_id}"))
            .cloned())
    }
}

/// A background task, queued until [`FakeObjects::run_background`].
type Task = Pin<Box<dyn Future<Output = ()>>>;

/// The guard objects in memory, and the queue of background tasks (`ctx.wait_until`).
#[derive(Clone, Default)]
pub struct FakeObjects {
    /// The client objects by guard name (`{tenant}:{client_id}`).
    pub clients: Rc<RefCell<HashMap<String, ClientGuardState>>>,
    /// The source shards by number.
    pub sources: Rc<RefCell<HashMap<u64, SourceGuardState>>>,
    /// Every call fails while set.
    pub down: Rc<Cell<bool>>,
    /// Calls so far, answered or not.
    pub calls: Rc<Cell<usize>>,
    /// Tasks queued by `spawn`.
    background: Rc<RefCell<Vec<Task>>>,
    /// The objects' clock (Unix ms).
    pub now_ms: Rc<Cell<u64>>,
    /// The client gate's budget per key, when there is one (as `CLIENT_FAILURE_GATE` in
    /// wrangler.toml); none: no gate, the objects count every failure.
    pub client_gate: Rc<Cell<Option<u32>>>,
    /// The client gate's counts by key (never reset: tests run within its period).
    gate_counts: Rc<RefCell<HashMap<String, u32>>>,
    /// Wrong secrets reported to client objects so far.
    pub failure_reports: Rc<Cell<usize>>,
    /// The tokens each client object revoked, by guard name (the object's `t:` entries).
    pub tokens: Rc<RefCell<HashMap<String, RevokedTokens>>>,
    /// The assertions' `jti`s each client object spent, by guard name (its `a:` entries).
    pub assertions: Rc<RefCell<HashMap<String, SeenAssertions>>>,
}

impl FakeObjects {
    /// Counts a call; fails it while the objects are down.
    fn up(&self) -> Result<(), Unavailable> {
        self.calls.set(self.calls.get() + 1);
        if self.down.get() {
            Err(Unavailable)
        } else {
            Ok(())
        }
    }

    /// Sends an operator's command to the client object named `guard`.
    pub fn command(&self, guard: &str, command: ClientCommand) {
        self.clients
            .borrow_mut()
            .entry(guard.to_owned())
            .or_default()
            .apply(command);
    }

    /// Runs the background tasks queued so far, as the runtime does after the answer.
    pub fn run_background(&self) {
        let tasks: Vec<Task> = self.background.borrow_mut().drain(..).collect();
        for task in tasks {
            block_on(task);
        }
    }
}

impl Backend for FakeObjects {
    async fn lease(&self, guard: &str, request: &LeaseRequest) -> Result<ClientView, Unavailable> {
        self.up()?;
        let mut clients = self.clients.borrow_mut();
        let state = clients.entry(guard.into()).or_default();
        Ok(state.lease(self.now_ms.get(), request))
    }

    async fn client_failure(
        &self,
        guard: &str,
        report: &FailureReport,
    ) -> Result<ClientView, Unavailable> {
        self.up()?;
        self.failure_reports.set(self.failure_reports.get() + 1);
        let mut clients = self.clients.borrow_mut();
        Ok(clients
            .entry(guard.into())
            .or_default()
            .failure(self.now_ms.get(), report))
    }

    async fn client_gate(&self, key: &str) -> Gate {
        let Some(budget) = self.client_gate.get() else {
            return Gate::Absent;
        };
        let mut counts = self.gate_counts.borrow_mut();
        let count = counts.entry(key.to_owned()).or_default();
        *count += 1;
        if *count <= budget {
            Gate::Within
        } else {
            Gate::Over
        }
    }

    async fn spend(&self, guard: &str, batch: &SpendBatch) -> Result<SpendAnswer, Unavailable> {
        self.up()?;
        let now = self.now_ms.get();
        let spent: Vec<Spent> = {
            let mut assertions = self.assertions.borrow_mut();
            let seen = assertions.entry(guard.into()).or_default();
            batch.spends.iter().map(|s| seen.spend(now, s).0).collect()
        };
        let view = batch.clone().lease_after(&spent).map(|lease| {
            let mut clients = self.clients.borrow_mut();
            clients.entry(guard.into()).or_default().lease(now, &lease)
        });
        Ok(SpendAnswer { spent, view })
    }

    async fn source_failure(
        &self,
        shard: u64,
        keys: &[String],
    ) -> Result<Vec<(String, u64)>, Unavailable> {
        self.up()?;
        let mut sources = self.sources.borrow_mut();
        let update = sources
            .entry(shard)
            .or_default()
            .failure(self.now_ms.get(), keys);
        Ok(update.blocked)
    }

    fn spawn(&self, task: impl Future<Output = ()> + 'static) {
        self.background.borrow_mut().push(Box::pin(task));
    }

    fn now_ms(&self) -> u64 {
        self.now_ms.get()
    }
}

impl TokenLedger for FakeObjects {
    async fn token_status(
        &self,
        guard: &str,
        query: &TokenQuery,
    ) -> Result<TokenStatus, Unavailable> {
        self.up()?;
        let disabled = self
            .clients
            .borrow()
            .get(guard)
            .is_some_and(|c| c.refuses_token(query.issued_ms));
        let mut tokens = self.tokens.borrow_mut();
        let ledger = tokens.entry(guard.to_owned()).or_default();
        Ok(ledger.query(self.now_ms.get(), disabled, query).0)
    }
}

/// Runs a future that never waits: the fakes answer at once.
pub fn block_on<F: Future>(future: F) -> F::Output {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the fakes never wait"),
    }
}

/// A deployment at [`ORIGIN`] with these tenants (`TENANTS` as JSON), every one signing with
/// [`KEY`] (the secret `SIGNING_KEYS`).
pub fn deployment(tenants: &Value) -> Deployment {
    let keys = format!(r#"{{"keys":[{KEY}]}}"#);
    Deployment::new(
        ORIGIN,
        &tenants.to_string(),
        Pepper::new(PEPPER).expect("a pepper"),
        |name| (name == "SIGNING_KEYS").then(|| keys.clone()),
    )
    .expect("a deployment")
}

/// The stored hash of `secret` under [`PEPPER`].
pub fn hash(secret: &str) -> String {
    Pepper::new(PEPPER)
        .expect("a pepper")
        .hash(&ClientSecret::new(secret.into()))
        .encode()
}

/// A valid client record with one secret: scopes `read write`, default `read`, 900 s tokens.
pub fn record(id: &str, secret: &str) -> Value {
    json!({
        "v": 1, "client_id": id, "secrets": [{ "hash": hash(secret) }],
        "grant_types": ["client_credentials"], "scopes": ["read", "write"],
        "default_scopes": ["read"], "token_ttl": 900,
        "audience": ["https://api.example.com"], "disabled": false
    })
}

/// An `Authorization` header with Basic credentials.
pub fn basic(id: &str, secret: &str) -> String {
    format!(
        "Basic {}",
        Base64::encode_string(format!("{id}:{secret}").as_bytes())
    )
}

/// One isolate: its cache outlives requests, as a Worker isolate's memory does.
pub struct Isolate {
    /// The tenants, built once.
    pub deployment: Deployment,
    /// The isolate's memory of the objects' answers.
    pub cache: Rc<RefCell<IsolateCache>>,
    /// The objects it reaches.
    pub objects: FakeObjects,
    /// Object calls the last request waited for (made before its answer).
    pub foreground_calls: Cell<usize>,
    /// The `DPoP` header of the next requests, if any (their URL is [`ORIGIN`] + the path).
    pub dpop: RefCell<Option<String>>,
}

impl Isolate {
    /// An isolate of `deployment`; sets the objects' clock to [`NOW_MS`].
    pub fn new(deployment: Deployment, objects: &FakeObjects) -> Self {
        objects.now_ms.set(NOW_MS);
        Self {
            deployment,
            cache: Rc::default(),
            objects: objects.clone(),
            foreground_calls: Cell::new(0),
            dpop: RefCell::default(),
        }
    }

    /// One form POST to the token path `path`, as the edge makes it, then the background work.
    pub fn call_at(
        &self,
        path: &str,
        store: &FakeStore,
        source: Option<&str>,
        authorization: Option<&str>,
        body: &str,
    ) -> Outcome {
        let (issuer, _) = self.deployment.route(path).expect("a token path");
        let limiter = Limiter {
            cache: self.cache.clone(),
            backend: self.objects.clone(),
            source: Source::from_header(source),
        };
        let before = self.objects.calls.get();
        let dpop = self.dpop.borrow();
        let url = format!("{ORIGIN}{path}");
        let outcome = block_on(issuer.issue(
            store,
            &limiter,
            &NativeSigner,
            &HttpRequest {
                query: None,
                content_type: Some("application/x-www-form-urlencoded"),
                authorization,
                body: body.as_bytes(),
                dpop: dpop.as_deref(),
                url: &url,
                certificate: None,
            },
            self.objects.now_ms.get(),
            JTI,
        ));
        self.foreground_calls.set(self.objects.calls.get() - before);
        self.objects.run_background();
        outcome
    }

    /// Moves the objects' clock (and so the requests') on by `ms`.
    pub fn advance(&self, ms: u64) {
        self.objects.now_ms.set(self.objects.now_ms.get() + ms);
    }
}

/// A `private_key_jwt` record of `id` with [`KEY`]'s public half, pinned to EdDSA.
pub fn key_record(id: &str) -> Value {
    let mut r = record(id, "unused");
    r["secrets"] = json!([]);
    r["token_endpoint_auth_method"] = json!("private_key_jwt");
    r["jwks"] = json!({ "keys": [{ "kty": "OKP", "crv": "Ed25519", "kid": "k1",
        "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo" }] });
    r
}

/// A form body with an assertion for `id` signed by [`KEY`], with `jti`, to tenant `main`.
pub fn assertion_body(id: &str, jti: &str) -> String {
    use base64ct::{Base64UrlUnpadded, Encoding};
    use jwt_compact::{alg::Ed25519, AlgorithmExt, Claims, Header};
    let d = Base64UrlUnpadded::decode_vec("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A").unwrap();
    let seed = ed25519_compact::Seed::from_slice(&d).unwrap();
    let key = ed25519_compact::KeyPair::from_seed(seed).sk;
    let claims = json!({ "iss": id, "sub": id, "aud": ORIGIN, "iat": NOW,
        "exp": NOW + 60, "jti": jti });
    let jwt = Ed25519
        .token(
            &Header::empty().with_key_id("k1"),
            &Claims::new(claims),
            &key,
        )
        .unwrap();
    format!(
        "grant_type=client_credentials&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion={jwt}"
    )
}
