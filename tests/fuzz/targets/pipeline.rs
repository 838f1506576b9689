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
    /// One tenant that takes the less common branches: subset scopes, a wildcard,
    /// `invalid_client` as 400 without Basic, a token without scope when none is asked for
    /// and the client has no defaults, resource servers and static claims.
    static DEPLOYMENT: Deployment = support::deployment(&json!({ "default": {
        "token_paths": [PATH], "scope_policy": "subset", "scope_wildcard": "*",
        "invalid_client_status": 400, "omitted_scope": "none",
        "claims": { "tenant_id": "t" },
        "resource_servers": [{ "identifier": "https://a", "scopes": ["read"] },
                             { "identifier": "b", "scopes": ["write"] }]
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
    b"&resource=https%3A%2F%2Fa",
    b"&audience=b",
    b"+https://a",
    b"\"audience\":[\"https://a\",\"b\"]",
    b"\"default_audience\":[\"b\"]",
    b"\"claims\":{\"roles\":[\"x\"]}",
    b"\"claims\":{\"aud\":1}",
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
    let mut shaped = record.clone();
    shaped["audience"] = json!(["https://a", "b", "c"]);
    shaped["default_audience"] = json!(["b"]);
    shaped["claims"] = json!({ "roles": ["x"], "tenant_id": "mine" });
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
        case(
            Some(&basic),
            "grant_type=client_credentials&resource=https%3A%2F%2Fa&audience=b+https://a",
            &shaped,
        ),
    ]
}

/// Whether a token's `sub` and `client_id` are the client's, whatever its static claims, and
/// every `aud` value one of its audiences.
fn claims_keep_their_rules(token: &str, stored: &str) -> bool {
    use base64ct::{Base64UrlUnpadded, Encoding};
    let Ok(client) = Client::from_json(ID, stored) else {
        return false;
    };
    let payload = token.split('.').nth(1).unwrap_or_default();
    let Ok(bytes) = Base64UrlUnpadded::decode_vec(payload) else {
        return false;
    };
    let Ok(claims) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        return false;
    };
    let aud: Vec<&str> = match &claims["aud"] {
        serde_json::Value::String(one) => vec![one.as_str()],
        serde_json::Value::Array(many) => many.iter().filter_map(|v| v.as_str()).collect(),
        _ => vec![],
    };
    claims["sub"] == ID
        && claims["client_id"] == ID
        && !aud.is_empty()
        && aud.iter().all(|a| client.audience.iter().any(|c| c == a))
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
            dpop: None,
            url: "",
            certificate: None,
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
                check(
                    claims_keep_their_rules(&token.access_token, &stored),
                    "a token whose sub, client_id or aud is not the client's",
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
