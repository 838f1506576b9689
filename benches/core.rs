//! Native microbenchmarks of the core, step by step and as a whole: `cargo bench --bench core`
//! (or `npm run bench:core`). Each step is timed as the token handler runs it; the pipeline
//! runs [`Issuer::issue`] through in-memory fakes of KV and the guard objects, so it measures
//! the core's own work, without the runtime, the JS glue or any I/O. See bench/README.md.

use std::{
    cell::{Cell, RefCell},
    collections::HashMap,
    future::Future,
    hint::black_box,
    pin::{pin, Pin},
    rc::Rc,
    task::{Context, Poll, Waker},
    time::Duration,
};

use base64ct::{Base64, Base64UrlUnpadded, Encoding};
use criterion::{criterion_group, criterion_main, Criterion};
use edge_token::core::{
    client::Client,
    deployment::Deployment,
    guard::{
        Backend, ClientGuardState, ClientView, IsolateCache, LeaseRequest, Limiter, Unavailable,
    },
    request::{HttpRequest, TokenRequest},
    scope::{self, ScopeRules},
    secret::{ClientSecret, Pepper},
    token::{ClientStore, StoreUnavailable, ACCESS_TOKEN_TYP},
};
use serde::Serialize;

/// RFC 8037 Appendix A.1: a fixed Ed25519 key (the benchmarks need no secret of their own).
const KEY: &str = r#"{"kty":"OKP","crv":"Ed25519",
    "d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A",
    "x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;
const PEPPER: &str = "bench-pepper-bench-pepper-bench-";
const ID: &str = "bench-client";
const SECRET: &str = "s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t-x";
const BODY: &str = "grant_type=client_credentials";
const FORM: &str = "application/x-www-form-urlencoded";
const START_MS: u64 = 1_800_000_000_000;

fn basic(id: &str, secret: &str) -> String {
    format!(
        "Basic {}",
        Base64::encode_string(format!("{id}:{secret}").as_bytes())
    )
}

/// The record `npm run bench` seeds: one secret, burst and rate high enough never to refuse.
fn record() -> String {
    let hash = Pepper::new(PEPPER)
        .expect("pepper")
        .hash(&ClientSecret::new(SECRET.into()))
        .encode();
    serde_json::json!({
        "v": 1, "client_id": ID, "secrets": [{ "hash": hash }],
        "grant_types": ["client_credentials"], "scopes": ["read"], "default_scopes": ["read"],
        "token_ttl": 3600, "audience": ["https://api.example.com"], "disabled": false,
        "rate_limit": { "per_minute": 1_000_000, "burst": 1_000_000 }
    })
    .to_string()
}

/// One tenant at `/oauth2/token`, as wrangler.toml ships it.
fn deployment() -> Deployment {
    let keys = format!(r#"{{"keys":[{KEY}]}}"#);
    Deployment::new(
        "https://issuer.bench.test",
        r#"{"default":{"token_paths":["/oauth2/token"]}}"#,
        Pepper::new(PEPPER).expect("pepper"),
        |name| (name == "SIGNING_KEYS").then(|| keys.clone()),
    )
    .expect("deployment")
}

/// KV with one record.
struct Store(String);

impl ClientStore for Store {
    async fn record(
        &self,
        _tenant: &str,
        client_id: &str,
    ) -> Result<Option<String>, StoreUnavailable> {
        Ok((client_id == ID).then(|| self.0.clone()))
    }
}

type Task = Pin<Box<dyn Future<Output = ()>>>;

/// The guard objects in memory; background tasks queue until [`Objects::run_background`].
#[derive(Clone, Default)]
struct Objects {
    clients: Rc<RefCell<HashMap<String, ClientGuardState>>>,
    background: Rc<RefCell<Vec<Task>>>,
    now_ms: Rc<Cell<u64>>,
}

impl Objects {
    fn run_background(&self) {
        let tasks: Vec<Task> = self.background.borrow_mut().drain(..).collect();
        for task in tasks {
            block_on(task);
        }
    }
}

impl Backend for Objects {
    async fn lease(
        &self,
        client_id: &str,
        request: &LeaseRequest,
    ) -> Result<ClientView, Unavailable> {
        let mut clients = self.clients.borrow_mut();
        let state = clients.entry(client_id.into()).or_default();
        Ok(state.lease(self.now_ms.get(), request))
    }

    async fn client_failure(&self, client_id: &str) -> Result<ClientView, Unavailable> {
        let mut clients = self.clients.borrow_mut();
        Ok(clients
            .entry(client_id.into())
            .or_default()
            .failure(self.now_ms.get()))
    }

    async fn source_failure(&self, _shard: u64, _source: &str) -> Result<u64, Unavailable> {
        Ok(0)
    }

    fn spawn(&self, task: impl Future<Output = ()> + 'static) {
        self.background.borrow_mut().push(Box::pin(task));
    }

    fn now_ms(&self) -> u64 {
        self.now_ms.get()
    }
}

/// Runs a future that never waits: the fakes answer at once.
fn block_on<F: Future>(future: F) -> F::Output {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the fakes never wait"),
    }
}

/// The claims the minting step signs (RFC 9068 §2.2), as `Issuer` builds them.
#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    client_id: &'a str,
    scope: String,
    iat: u64,
    exp: u64,
    jti: String,
}

fn steps(c: &mut Criterion) {
    let deployment = deployment();
    let (issuer, _) = deployment.route("/oauth2/token").expect("the token path");
    let authorization = basic(ID, SECRET);
    let http = HttpRequest {
        content_type: Some(FORM),
        authorization: Some(&authorization),
        body: BODY.as_bytes(),
    };
    let mut group = c.benchmark_group("step");

    group.bench_function("parse (Basic header + form body)", |b| {
        b.iter(|| TokenRequest::parse(black_box(&http)))
    });

    let request = TokenRequest::parse(&http).expect("a valid request");
    let client = Client::from_json(ID, &record()).expect("a valid record");
    group.bench_function("authenticate (HMAC-SHA-256 + compare)", |b| {
        b.iter(|| client.authenticate(&issuer.pepper, black_box(&request.secret), START_MS / 1000))
    });
    let json = record();
    group.bench_function(
        "client record JSON -> Client (every 10 s per isolate)",
        |b| b.iter(|| Client::from_json(ID, black_box(&json))),
    );
    group.bench_function("scope decision (defaults)", |b| {
        b.iter(|| {
            scope::decide(
                black_box(None),
                &client.scopes,
                &client.default_scopes,
                &ScopeRules::STRICT,
            )
        })
    });

    group.bench_function("mint (claims JSON + Ed25519 sign)", |b| {
        b.iter(|| {
            let claims = Claims {
                iss: &issuer.tenant.issuer,
                sub: ID,
                aud: "https://api.example.com",
                client_id: ID,
                scope: "read".into(),
                iat: START_MS / 1000,
                exp: START_MS / 1000 + 3600,
                jti: Base64UrlUnpadded::encode_string(&[7_u8; 16]),
            };
            issuer.keys.sign(ACCESS_TOKEN_TYP, black_box(claims))
        })
    });
    group.finish();
}

fn pipeline(c: &mut Criterion) {
    let deployment = deployment();
    let (issuer, _) = deployment.route("/oauth2/token").expect("the token path");
    let store = Store(record());
    let objects = Objects::default();
    let cache: Rc<RefCell<IsolateCache>> = Rc::default();
    let now = Cell::new(START_MS);
    // One call as the edge makes it: a request from one source, the background work after it.
    let call = |authorization: &str, source: Option<&str>| {
        // 1 ms per call: a lease refresh every 500 calls and a record re-read every 10 000
        // (RECORD_TTL_MS), as in a long run; the bucket (10^6 per minute) never runs dry.
        now.set(now.get() + 1);
        objects.now_ms.set(now.get());
        let limiter = Limiter {
            cache: cache.clone(),
            backend: objects.clone(),
            source: source.map(str::to_owned),
        };
        let http = HttpRequest {
            content_type: Some(FORM),
            authorization: Some(authorization),
            body: BODY.as_bytes(),
        };
        let outcome = block_on(issuer.issue(&store, &limiter, &http, now.get(), [7; 16]));
        objects.run_background();
        outcome
    };
    let valid = basic(ID, SECRET);
    assert!(
        call(&valid, Some("10.0.0.1")).result.is_ok(),
        "the seeded client gets a token"
    );
    let wrong = basic(ID, "not-the-secret");
    let unknown = basic("unknown-client", SECRET);
    assert!(call(&wrong, None).result.is_err() && call(&unknown, None).result.is_err());

    let mut group = c.benchmark_group("pipeline");
    group.bench_function(
        "token, valid client (parse..mint, isolate caches warm)",
        |b| b.iter(|| call(black_box(&valid), Some("10.0.0.1"))),
    );
    group.bench_function("refused, wrong secret", |b| {
        b.iter(|| call(black_box(&wrong), None))
    });
    group.bench_function("refused, unknown client", |b| {
        b.iter(|| call(black_box(&unknown), None))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    // 1 s of warm-up and 3 s of samples per benchmark: the set takes ~40 s in `npm run bench`.
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = steps, pipeline
}
criterion_main!(benches);
