//! DPoP proofs through the token pipeline (`Issuer::issue`), with the fakes of `support`: the
//! binding, the proof's `jti` spent in the client's object (a replay refused in another
//! isolate too, an unreachable object never skipped), and the record that requires DPoP.

mod support;

use base64ct::{Base64UrlUnpadded, Encoding};
use ed25519_compact::{KeyPair, Seed};
use edge_token::core::{
    assertion::Check,
    binding::Binding,
    dpop::{thumbprint, ProofCheck},
    error::Error,
    guard::VIEW_TTL_MS,
    token::TokenResponse,
};
use serde_json::{json, Value};
use support::{
    assertion_body, basic, deployment, key_record, record, FakeObjects, FakeStore, Isolate, NOW,
    ORIGIN,
};

const PATH: &str = "/oauth2/token";

fn b64(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

/// The client's DPoP key.
fn pair() -> KeyPair {
    KeyPair::from_seed(Seed::new([3; 32]))
}

fn public_jwk() -> Value {
    json!({ "kty": "OKP", "crv": "Ed25519", "x": b64(pair().pk.as_ref()) })
}

/// An EdDSA proof for a POST to the token path at `iat`, with `jti`.
fn proof(jti: &str, iat: u64) -> String {
    let header = json!({ "typ": "dpop+jwt", "alg": "EdDSA", "jwk": public_jwk() });
    let claims = json!({ "htm": "POST", "htu": format!("{ORIGIN}{PATH}"), "iat": iat, "jti": jti });
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let signature = pair().sk.sign(input.as_bytes(), None);
    format!("{input}.{}", b64(signature.as_ref()))
}

fn isolate(objects: &FakeObjects) -> Isolate {
    Isolate::new(
        deployment(&json!({ "main": { "token_paths": [PATH] } })),
        objects,
    )
}

/// A request of client `svc` with this `DPoP` header (none: no header).
fn call(
    isolate: &Isolate,
    store: &FakeStore,
    dpop: Option<String>,
) -> Result<TokenResponse, Error> {
    *isolate.dpop.borrow_mut() = dpop;
    let authorization = basic("svc", "s3cret");
    let body = "grant_type=client_credentials";
    isolate
        .call_at(PATH, store, None, Some(&authorization), body)
        .result
}

#[test]
fn a_proof_binds_the_token_and_its_jti_is_spent_once_across_isolates() {
    let objects = FakeObjects::default();
    let store = FakeStore::with("main", &[record("svc", "s3cret")]);
    let (first, second) = (isolate(&objects), isolate(&objects));
    let token = call(&first, &store, Some(proof("j-1", NOW))).unwrap();
    assert_eq!(token.token_type, "DPoP");
    let jkt = thumbprint(public_jwk().as_object().unwrap()).unwrap();
    let claims = token.access_token.split('.').nth(1).unwrap();
    let claims: Value =
        serde_json::from_slice(&Base64UrlUnpadded::decode_vec(claims).unwrap()).unwrap();
    assert_eq!(
        claims["cnf"],
        serde_json::to_value(Binding::Dpop(jkt)).unwrap()
    );
    let spent = objects.assertions.borrow();
    assert_eq!(spent.len(), 1, "the jti is kept in the client's object");
    drop(spent);
    let replayed = call(&second, &store, Some(proof("j-1", NOW)));
    assert_eq!(replayed, Err(Error::Dpop(ProofCheck::Replay)));
    assert!(call(&second, &store, Some(proof("j-2", NOW))).is_ok());
}

#[test]
fn an_unreachable_object_is_a_503_never_a_token_bound_unchecked() {
    let objects = FakeObjects::default();
    let store = FakeStore::with("main", &[record("svc", "s3cret")]);
    let isolate = isolate(&objects);
    assert!(call(&isolate, &store, None).is_ok());
    objects.down.set(true);
    let refused = call(&isolate, &store, Some(proof("j-1", NOW)));
    assert_eq!(refused, Err(Error::GuardUnavailable));
    assert!(objects.assertions.borrow().is_empty());
}

#[test]
fn a_client_that_requires_dpop_is_refused_without_a_proof() {
    let objects = FakeObjects::default();
    let mut required = record("svc", "s3cret");
    required["dpop_bound_access_tokens"] = json!(true);
    let store = FakeStore::with("main", &[required]);
    let isolate = isolate(&objects);
    assert_eq!(
        call(&isolate, &store, None),
        Err(Error::Dpop(ProofCheck::Required))
    );
    let stale = call(&isolate, &store, Some(proof("j-1", NOW - 61)));
    assert_eq!(stale, Err(Error::Dpop(ProofCheck::Iat)));
    assert!(call(&isolate, &store, Some(proof("j-1", NOW))).is_ok());
}

#[test]
fn a_dpop_token_with_a_stale_view_makes_one_object_request_for_its_proof_and_its_lease() {
    let objects = FakeObjects::default();
    let store = FakeStore::with("main", &[record("svc", "s3cret")]);
    let isolate = isolate(&objects);
    for (jti, wait) in [("j-1", 0), ("j-2", VIEW_TTL_MS + 1_000)] {
        isolate.advance(wait);
        let now = isolate.objects.now_ms.get() / 1000;
        assert!(
            call(&isolate, &store, Some(proof(jti, now))).is_ok(),
            "{jti}"
        );
        assert_eq!(isolate.foreground_calls.get(), 1, "{jti}: was 2");
    }
}

#[test]
fn an_assertion_and_a_proof_are_spent_in_one_object_request_each_once() {
    let objects = FakeObjects::default();
    let store = FakeStore::with("main", &[key_record("keyed")]);
    let first = isolate(&objects);
    let jwt = |isolate: &Isolate, assertion: &str, proof_jti: &str| {
        let now = isolate.objects.now_ms.get() / 1000;
        *isolate.dpop.borrow_mut() = Some(proof(proof_jti, now));
        let body = assertion_body("keyed", assertion);
        isolate.call_at(PATH, &store, None, None, &body).result
    };
    for (assertion, wait) in [("a-1", 0), ("a-2", VIEW_TTL_MS + 1_000)] {
        first.advance(wait);
        let token = jwt(&first, assertion, assertion).unwrap();
        assert_eq!(token.token_type, "DPoP");
        assert_eq!(first.foreground_calls.get(), 1, "{assertion}: was 3");
    }
    let other = isolate(&objects);
    assert_eq!(
        jwt(&other, "a-3", "a-2"),
        Err(Error::Dpop(ProofCheck::Replay)),
        "a proof spent with an assertion is spent"
    );
    assert_eq!(
        jwt(&other, "a-2", "a-4"),
        Err(Error::Assertion(Check::Replayed))
    );
}
