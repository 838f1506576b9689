//! The token endpoint end to end: a fuzzed request against a fuzzed stored record, through
//! the whole checklist (parse, authenticate, allow, scope, limit, mint) with the fakes of KV
//! and of the guard objects that `tests/pipeline.rs` uses.

use std::rc::Rc;

use edge_token::core::{
    client::Client,
    deployment::Deployment,
    error::Error,
    guard::{Limiter, Source},
    record::TOKEN_TTL_RANGE,
    request::{HttpRequest, MAX_BODY_BYTES},
    sign::NativeSigner,
};
use serde_json::json;

use super::{budget, bytes, check, text, Target, Verdict};
use crate::{
    mutate::Input,
    support::{self, block_on, FakeObjects, FakeStore},
};

/// The tenant's token path.
const PATH: &str = "/oauth2/token";
/// The one stored client and its secret.
const ID: &str = "svc";
const SECRET: &str = "s3cret";

/// This surface's targets.
pub fn targets() -> Vec<Target> {
    vec![Target {
        name: "token endpoint end to end (Authorization, body, stored record)",
        seeds,
        dictionary: WORDS,
        max_len: 2 * MAX_BODY_BYTES,
        run: token_endpoint,
        budget: budget(64, 128),
    }]
}

thread_local! {
    /// One tenant that takes the less common branches: subset scopes, a wildcard, and
    /// `invalid_client` as 400 without Basic.
    static DEPLOYMENT: Deployment = support::deployment(&json!({ "default": {
        "token_paths": [PATH], "scope_policy": "subset", "scope_wildcard": "*",
        "invalid_client_status": 400
    }}));
}

const WORDS: &[&[u8]] = &[
    b"grant_type=client_credentials",
    b"&scope=read",
    b"+write",
    b"&scope=*",
    b"&client_id=svc",
    b"&client_secret=s3cret",
    b"Basic c3ZjOnMzY3JldA==",
    b"\"scopes\":[\"read\",\"write\",\"*\"]",
    b"\"default_scopes\":[]",
    b"\"rate_limit\":{\"per_minute\":1,\"burst\":1}",
    b"\"disabled\":true",
    b"\"grant_types\":[]",
    b"\"token_ttl\":60",
    b"\"expires_at\":1",
];

/// Fields: `Authorization`, the body, the record stored for [`ID`].
fn seeds() -> Vec<Input> {
    let record = support::record(ID, SECRET);
    let mut limited = record.clone();
    limited["rate_limit"] = json!({ "per_minute": 60, "burst": 2 });
    limited["audience"] = json!(["a", "b"]);
    let mut rotated = record.clone();
    rotated["secrets"] = json!([
        { "hash": support::hash("old"), "expires_at": support::NOW + 60 },
        { "hash": support::hash(SECRET) }
    ]);
    let basic = support::basic(ID, SECRET).into_bytes();
    let case = |auth: Option<&[u8]>, body: &str, record: &serde_json::Value| {
        vec![
            auth.map(<[u8]>::to_vec),
            Some(body.as_bytes().to_vec()),
            Some(record.to_string().into_bytes()),
        ]
    };
    vec![
        case(Some(&basic), "grant_type=client_credentials", &record),
        case(
            Some(&basic),
            "grant_type=client_credentials&scope=write+read+x",
            &limited,
        ),
        case(
            None,
            "grant_type=client_credentials&client_id=svc&client_secret=s3cret&scope=*",
            &rotated,
        ),
    ]
}

fn token_endpoint(input: &Input) -> Verdict {
    let authorization = text(&input[0]);
    let body = bytes(&input[1]);
    let stored = text(&input[2]).unwrap_or_default();
    let store = FakeStore::default();
    store
        .records
        .borrow_mut()
        .insert(format!("client:default:{ID}"), stored.clone());
    let objects = FakeObjects::default();
    objects.now_ms.set(support::NOW_MS);
    let limiter = Limiter {
        cache: Rc::default(),
        backend: objects.clone(),
        source: Source::from_header(None),
    };
    DEPLOYMENT.with(|deployment| {
        let (issuer, _) = deployment.route(PATH).expect("the token path");
        // Each case its own isolate as far as the client goes: no record cached by another.
        issuer.records.forget(ID);
        issuer.unknown.forget(ID);
        let http = HttpRequest {
            query: None,
            content_type: Some("application/x-www-form-urlencoded"),
            authorization: authorization.as_deref(),
            body,
        };
        let outcome = block_on(issuer.issue(
            &store,
            &limiter,
            &NativeSigner,
            &http,
            support::NOW_MS,
            support::JTI,
        ));
        objects.run_background();
        match outcome.result {
            Ok(token) => {
                check(
                    outcome.client_id.as_deref() == Some(ID),
                    "a token for another id",
                )?;
                check(
                    Client::from_json(ID, &stored).is_ok(),
                    "a token from a broken record",
                )?;
                check(
                    TOKEN_TTL_RANGE.contains(&token.expires_in)
                        && token.access_token.split('.').count() == 3,
                    "a malformed token response",
                )?;
                Ok(true)
            }
            Err(error) => {
                let status = issuer.wire(error, authorization.as_deref()).status;
                let fault = error == Error::BadClientRecord;
                check(
                    status < 500 || fault,
                    &format!("a {status} with everything up: {error:?}"),
                )?;
                check(
                    !fault || Client::from_json(ID, &stored).is_err(),
                    "a valid record called broken",
                )?;
                Ok(false)
            }
        }
    })
}
