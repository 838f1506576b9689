//! The token pipeline through its trait, with an in-memory client store that follows the
//! platform's rules that matter here: a read returns the stored JSON or nothing, or fails.

use std::{
    cell::{Cell, RefCell},
    collections::HashMap,
    future::Future,
    pin::pin,
    task::{Context, Poll, Waker},
};

use base64ct::{Base64, Encoding};
use edge_token::core::{
    config::Config,
    error::Error,
    keys::KeySet,
    request::HttpRequest,
    secret::{ClientSecret, Pepper},
    token::{ClientStore, Issuer, Outcome, StoreUnavailable},
};
use jwt_compact::{alg::Ed25519, jwk::JsonWebKey, Algorithm, AlgorithmExt, UntrustedToken};
use serde_json::{json, Value};

/// RFC 8037 Appendix A.1.
const KEY: &str = r#"{"kty":"OKP","crv":"Ed25519",
    "d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A",
    "x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;
const PEPPER: &str = "test-pepper-test-pepper-test-pep";
const NOW: u64 = 1_800_000_000;
const JTI: [u8; 16] = [7; 16];

#[derive(Default)]
struct FakeStore {
    records: RefCell<HashMap<String, String>>,
    down: Cell<bool>,
    reads: Cell<usize>,
}

impl ClientStore for FakeStore {
    async fn record(&self, client_id: &str) -> Result<Option<String>, StoreUnavailable> {
        self.reads.set(self.reads.get() + 1);
        if self.down.get() {
            return Err(StoreUnavailable);
        }
        Ok(self
            .records
            .borrow()
            .get(&format!("client:{client_id}"))
            .cloned())
    }
}

/// Runs a future that never waits: the fake store answers at once.
fn block_on<F: Future>(future: F) -> F::Output {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the fake store never waits"),
    }
}

fn issuer() -> Issuer {
    Issuer {
        config: Config::new("https://auth.example.com", "/oauth2/token").unwrap(),
        keys: KeySet::from_jwk_set(&format!(r#"{{"keys":[{KEY}]}}"#)).unwrap(),
        pepper: Pepper::new(PEPPER).unwrap(),
    }
}

fn hash(secret: &str) -> String {
    Pepper::new(PEPPER)
        .unwrap()
        .hash(&ClientSecret::new(secret.into()))
        .encode()
}

fn record(id: &str, secret: &str) -> Value {
    json!({
        "v": 1, "client_id": id, "secrets": [{ "hash": hash(secret) }],
        "grant_types": ["client_credentials"], "scopes": ["read", "write"],
        "default_scopes": ["read"], "token_ttl": 900,
        "audience": ["https://api.example.com"], "disabled": false
    })
}

fn store_with(records: &[Value]) -> FakeStore {
    let store = FakeStore::default();
    for r in records {
        let id = r["client_id"].as_str().unwrap();
        store
            .records
            .borrow_mut()
            .insert(format!("client:{id}"), r.to_string());
    }
    store
}

fn basic(id: &str, secret: &str) -> String {
    format!(
        "Basic {}",
        Base64::encode_string(format!("{id}:{secret}").as_bytes())
    )
}

fn call(store: &FakeStore, authorization: Option<&str>, body: &str) -> Outcome {
    block_on(issuer().issue(
        store,
        &HttpRequest {
            content_type: Some("application/x-www-form-urlencoded"),
            authorization,
            body: body.as_bytes(),
        },
        NOW,
        JTI,
    ))
}

/// Verifies with the public half of the key and returns every claim (jwt-compact keeps `exp`
/// and `iat` apart from the custom ones; they are put back here) and the header.
fn verified_claims(token: &str) -> (Value, jwt_compact::Header) {
    let jwk: JsonWebKey<'_> = serde_json::from_str(KEY).unwrap();
    let public = <Ed25519 as Algorithm>::VerifyingKey::try_from(&jwk.to_verifying_key()).unwrap();
    let untrusted = UntrustedToken::new(token).unwrap();
    let verified = Ed25519
        .validator::<Value>(&public)
        .validate(&untrusted)
        .unwrap();
    let claims = verified.claims();
    let mut all = claims.custom.clone();
    all["iat"] = json!(claims.issued_at.map(|t| t.timestamp()));
    all["exp"] = json!(claims.expiration.map(|t| t.timestamp()));
    (all, verified.header().clone())
}

#[test]
fn a_token_carries_every_rfc_9068_claim() {
    let store = store_with(&[record("svc", "s3cret")]);
    let outcome = call(
        &store,
        Some(&basic("svc", "s3cret")),
        "grant_type=client_credentials&scope=write",
    );
    assert_eq!(outcome.client_id.as_deref(), Some("svc"));
    let response = outcome.result.unwrap();
    assert_eq!(
        (response.token_type, response.expires_in, response.scope),
        ("Bearer", 900, None)
    );
    let (claims, header) = verified_claims(&response.access_token);
    assert_eq!(header.token_type.as_deref(), Some("at+jwt"));
    assert_eq!(
        header.key_id.as_deref(),
        Some("kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k")
    );
    assert_eq!(
        claims,
        json!({
            "iss": "https://auth.example.com", "sub": "svc", "client_id": "svc",
            "aud": "https://api.example.com", "scope": "write",
            "iat": NOW, "exp": NOW + 900, "jti": "BwcHBwcHBwcHBwcHBwcHBw"
        })
    );
}

#[test]
fn several_audiences_become_an_array() {
    let mut r = record("svc", "s");
    r["audience"] = json!(["https://a", "https://b"]);
    let store = store_with(&[r]);
    let token = call(
        &store,
        Some(&basic("svc", "s")),
        "grant_type=client_credentials",
    )
    .result
    .unwrap();
    assert_eq!(
        verified_claims(&token.access_token).0["aud"],
        json!(["https://a", "https://b"])
    );
    assert_eq!(token.scope.as_deref(), Some("read"));
}

#[test]
fn an_unknown_client_and_a_wrong_secret_are_answered_alike() {
    let store = store_with(&[record("svc", "s3cret")]);
    let wrong = call(
        &store,
        Some(&basic("svc", "nope")),
        "grant_type=client_credentials",
    );
    let unknown = call(
        &store,
        Some(&basic("ghost", "nope")),
        "grant_type=client_credentials",
    );
    let (wrong, unknown) = (wrong.result.unwrap_err(), unknown.result.unwrap_err());
    assert_eq!((wrong, unknown), (Error::WrongSecret, Error::UnknownClient));
    assert_eq!(wrong.wire(), unknown.wire());
    assert_eq!(wrong.body(), unknown.body());
}

#[test]
fn an_invalid_client_id_is_refused_without_a_store_read() {
    let store = store_with(&[]);
    let long = "x".repeat(300);
    for id in ["tab\tid", long.as_str()] {
        let body = format!(
            "grant_type=client_credentials&client_id={}&client_secret=s",
            id.replace('\t', "%09")
        );
        assert_eq!(
            call(&store, None, &body).result.unwrap_err(),
            Error::UnknownClient
        );
    }
    assert_eq!(store.reads.get(), 0);
}

#[test]
fn a_disabled_client_is_refused_only_after_it_authenticates() {
    let mut r = record("svc", "s");
    r["disabled"] = json!(true);
    let store = store_with(&[r]);
    let ok_secret = call(
        &store,
        Some(&basic("svc", "s")),
        "grant_type=client_credentials",
    );
    let bad_secret = call(
        &store,
        Some(&basic("svc", "x")),
        "grant_type=client_credentials",
    );
    assert_eq!(ok_secret.result.unwrap_err(), Error::ClientDisabled);
    assert_eq!(bad_secret.result.unwrap_err(), Error::WrongSecret);
}

#[test]
fn a_client_without_the_grant_is_unauthorized() {
    let mut r = record("svc", "s");
    r["grant_types"] = json!(["authorization_code"]);
    let store = store_with(&[r]);
    let outcome = call(
        &store,
        Some(&basic("svc", "s")),
        "grant_type=client_credentials",
    );
    assert_eq!(outcome.result.unwrap_err(), Error::GrantNotAllowed);
}

#[test]
fn a_scope_outside_the_client_policy_is_invalid_scope() {
    let store = store_with(&[record("svc", "s")]);
    let outcome = call(
        &store,
        Some(&basic("svc", "s")),
        "grant_type=client_credentials&scope=read+admin",
    );
    assert_eq!(outcome.result.unwrap_err(), Error::ScopeNotAllowed);
}

#[test]
fn an_unreachable_store_is_a_retryable_fault_not_a_client_error() {
    let store = store_with(&[record("svc", "s")]);
    store.down.set(true);
    let error = call(
        &store,
        Some(&basic("svc", "s")),
        "grant_type=client_credentials",
    )
    .result
    .unwrap_err();
    assert_eq!(error, Error::StoreUnavailable);
    assert_eq!(error.wire().status, 503);
}

#[test]
fn a_corrupt_record_is_a_server_fault() {
    let store = store_with(&[]);
    store
        .records
        .borrow_mut()
        .insert("client:svc".into(), "{not json".into());
    let error = call(
        &store,
        Some(&basic("svc", "s")),
        "grant_type=client_credentials",
    )
    .result
    .unwrap_err();
    assert_eq!((error, error.wire().status), (Error::BadClientRecord, 500));
}

#[test]
fn a_malformed_request_never_reaches_the_store() {
    let store = store_with(&[record("svc", "s")]);
    let outcome = call(
        &store,
        Some(&basic("svc", "s")),
        "grant_type=client_credentials&grant_type=client_credentials",
    );
    assert_eq!(outcome.result.unwrap_err(), Error::DuplicateParameter);
    assert_eq!(outcome.client_id, None);
    assert_eq!(store.reads.get(), 0);
}
