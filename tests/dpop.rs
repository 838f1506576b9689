//! DPoP proofs through the token pipeline (`Issuer::issue`), with the fakes of `support`: the
//! binding, the proof's `jti` spent in the client's object (a replay refused in another
//! isolate too, an unreachable object never skipped), and the record that requires DPoP.

mod support;

use base64ct::{Base64UrlUnpadded, Encoding};
use ed25519_compact::{KeyPair, Seed};
use edge_token::core::{
    binding::Binding,
    dpop::{thumbprint, ProofCheck},
    error::Error,
    token::TokenResponse,
};
use serde_json::{json, Value};
use support::{basic, deployment, record, FakeObjects, FakeStore, Isolate, NOW, ORIGIN};

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
