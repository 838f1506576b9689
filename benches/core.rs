//! Native microbenchmarks of the core, step by step and as a whole: `cargo bench --bench core`
//! (or `npm run bench:core`). Each step is timed as the token handler runs it; the pipeline
//! runs [`Issuer::issue`] through the in-memory fakes of KV and the guard objects that
//! `tests/pipeline.rs` uses (`tests/support`), so it measures
//! the core's own work, without the runtime, the JS glue or any I/O. See bench/README.md.

#[path = "../tests/support/mod.rs"]
mod support;

use std::{hint::black_box, time::Duration};

use base64ct::{Base64UrlUnpadded, Encoding};
use criterion::{criterion_group, criterion_main, Criterion};
use edge_token::core::{
    client::Client,
    deployment::Deployment,
    request::{HttpRequest, TokenRequest},
    scope::{self, ScopeRules},
    sign::NativeSigner,
    token::ACCESS_TOKEN_TYP,
};
use serde::Serialize;
use support::{basic, block_on, FakeObjects, FakeStore, Isolate};

const ID: &str = "bench-client";
const SECRET: &str = "s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t-x";
const BODY: &str = "grant_type=client_credentials";
const FORM: &str = "application/x-www-form-urlencoded";
const PATH: &str = "/oauth2/token";

/// The record `npm run bench` seeds: one secret, burst and rate high enough never to refuse.
fn record() -> serde_json::Value {
    let mut record = support::record(ID, SECRET);
    record["scopes"] = serde_json::json!(["read"]);
    record["token_ttl"] = 3600.into();
    record["rate_limit"] = serde_json::json!({ "per_minute": 1_000_000, "burst": 1_000_000 });
    record
}

/// One tenant at `/oauth2/token`, as wrangler.toml ships it.
fn deployment() -> Deployment {
    support::deployment(&serde_json::json!({ "default": { "token_paths": [PATH] } }))
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
    let (issuer, _) = deployment.route(PATH).expect("the token path");
    let authorization = basic(ID, SECRET);
    let http = HttpRequest {
        query: None,
        content_type: Some(FORM),
        authorization: Some(&authorization),
        body: BODY.as_bytes(),
        dpop: None,
        url: "",
        certificate: None,
    };
    let mut group = c.benchmark_group("step");

    group.bench_function("parse (Basic header + form body)", |b| {
        b.iter(|| TokenRequest::parse(black_box(&http)))
    });

    let request = TokenRequest::parse(&http).expect("a valid request");
    let client = Client::from_json(ID, &record().to_string()).expect("a valid record");
    group.bench_function("authenticate (HMAC-SHA-256 + compare)", |b| {
        b.iter(|| {
            client.authenticate(
                &issuer.pepper,
                black_box(request.secret().unwrap()),
                support::NOW,
            )
        })
    });
    let json = record().to_string();
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
                iat: support::NOW,
                exp: support::NOW + 3600,
                jti: Base64UrlUnpadded::encode_string(&[7_u8; 16]),
            };
            block_on(
                issuer
                    .keys
                    .sign(&NativeSigner, ACCESS_TOKEN_TYP, black_box(claims)),
            )
        })
    });
    group.finish();
}

fn pipeline(c: &mut Criterion) {
    let store = FakeStore::with("default", &[record()]);
    let isolate = Isolate::new(deployment(), &FakeObjects::default());
    // One call as the edge makes it: a request from one source, the background work after it.
    let call = |authorization: &str, source: Option<&str>| {
        // 1 ms per call: a lease refresh every 500 calls and a record re-read every 10 000
        // (RECORD_TTL_MS), as in a long run; the bucket (10^6 per minute) never runs dry.
        isolate.advance(1);
        isolate.call_at(PATH, &store, source, Some(authorization), BODY)
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
