//! Introspection and revocation through their traits, with the fakes of `support` (KV, the
//! guard objects with their revoked tokens, `ctx.wait_until`): what the objects are asked, and
//! when (docs/introspection.md).

mod support;

use edge_token::core::{
    error::Error,
    guard::{ClientCommand, Limiter, Source},
    introspect::{Inactive, TokenOutcome},
    request::HttpRequest,
    sign::NativeSigner,
};
use serde_json::{json, Value};
use support::{basic, block_on, deployment, record, FakeObjects, FakeStore, Isolate};

const TOKEN: &str = "/oauth2/token";
const INTROSPECT: &str = "/oauth2/introspect";
const REVOKE: &str = "/oauth2/revoke";
const SOURCE: Option<&str> = Some("192.0.2.1");

/// Tenant `main` at the origin; its store holds `svc` (no permission) and `rs` (may
/// introspect, `rs_limit` as its rate limit if given).
fn setup(rs_limit: Option<Value>) -> (Isolate, FakeStore) {
    let mut rs = record("rs", "rs-secret");
    rs["introspect"] = json!(true);
    if let Some(limit) = rs_limit {
        rs["rate_limit"] = limit;
    }
    let store = FakeStore::with("main", &[record("svc", "s3cret"), rs]);
    let deployment = deployment(&json!({ "main": { "token_paths": [TOKEN] } }));
    (Isolate::new(deployment, &FakeObjects::default()), store)
}

/// One request to the introspection or revocation `path` as `(id, secret)`, then the
/// background work.
fn post(
    isolate: &Isolate,
    store: &FakeStore,
    path: &str,
    who: (&str, &str),
    body: &str,
) -> TokenOutcome {
    let (issuer, endpoint) = isolate.deployment.route(path).expect("a path");
    let limiter = Limiter {
        cache: isolate.cache.clone(),
        backend: isolate.objects.clone(),
        source: Source::from_header(SOURCE),
    };
    let authorization = basic(who.0, who.1);
    let http = HttpRequest {
        query: None,
        content_type: Some("application/x-www-form-urlencoded"),
        authorization: Some(&authorization),
        body: body.as_bytes(),
        dpop: None,
        url: "",
        certificate: None,
    };
    let now = isolate.objects.now_ms.get();
    let outcome =
        block_on(issuer.introspect_or_revoke(endpoint, store, &limiter, &NativeSigner, &http, now));
    isolate.objects.run_background();
    outcome
}

/// A token of `svc`.
fn token(isolate: &Isolate, store: &FakeStore) -> String {
    let outcome = isolate.call_at(
        TOKEN,
        store,
        SOURCE,
        Some(&basic("svc", "s3cret")),
        "grant_type=client_credentials",
    );
    outcome.result.expect("a token").access_token
}

/// `rs` introspects `token`: the answer's body, or the error.
fn introspect(isolate: &Isolate, store: &FakeStore, token: &str) -> Result<Value, Error> {
    let outcome = post(
        isolate,
        store,
        INTROSPECT,
        ("rs", "rs-secret"),
        &format!("token={token}"),
    );
    outcome
        .result
        .map(|answer| serde_json::from_str(&answer.body).unwrap())
}

#[test]
fn introspection_asks_the_token_s_object_every_time_so_a_disable_shows_at_the_next_one() {
    let (isolate, store) = setup(None);
    let token = token(&isolate, &store);
    assert_eq!(
        introspect(&isolate, &store, &token).unwrap()["active"],
        true
    );
    assert_eq!(
        introspect(&isolate, &store, &token).unwrap()["client_id"],
        "svc"
    );
    // No time passes: only a question to svc's object can tell the disable.
    isolate.objects.command("main:svc", ClientCommand::Disable);
    assert_eq!(
        introspect(&isolate, &store, &token).unwrap(),
        json!({ "active": false })
    );
    isolate.objects.command("main:svc", ClientCommand::Enable);
    assert_eq!(
        introspect(&isolate, &store, &token).unwrap()["active"],
        true
    );
}

#[test]
fn a_revocation_shows_at_the_next_introspection_and_the_object_forgets_it_once_the_token_expired() {
    let (isolate, store) = setup(None);
    let token = token(&isolate, &store);
    let revoked = post(
        &isolate,
        &store,
        REVOKE,
        ("svc", "s3cret"),
        &format!("token={token}"),
    );
    let answer = revoked.result.unwrap();
    assert_eq!((answer.body.as_str(), answer.outcome), ("{}", "revoked"));
    let outcome = post(
        &isolate,
        &store,
        INTROSPECT,
        ("rs", "rs-secret"),
        &format!("token={token}"),
    );
    assert_eq!(outcome.result.unwrap().inactive, Some(Inactive::Revoked));
    isolate.advance(900_000); // the token's lifetime
    let outcome = post(
        &isolate,
        &store,
        INTROSPECT,
        ("rs", "rs-secret"),
        &format!("token={token}"),
    );
    assert_eq!(outcome.result.unwrap().inactive, Some(Inactive::Expired));
    // The next revocation (of anything) forgets the expired entry.
    post(&isolate, &store, REVOKE, ("svc", "s3cret"), "token=x");
    let fresh = self::token(&isolate, &store);
    post(
        &isolate,
        &store,
        REVOKE,
        ("svc", "s3cret"),
        &format!("token={fresh}"),
    );
    assert_eq!(isolate.objects.tokens.borrow()["main:svc"].len(), 1);
}

#[test]
fn another_client_s_revocation_leaves_the_token_alone() {
    let (isolate, store) = setup(None);
    let token = token(&isolate, &store);
    let outcome = post(
        &isolate,
        &store,
        REVOKE,
        ("rs", "rs-secret"),
        &format!("token={token}"),
    );
    let answer = outcome.result.unwrap();
    assert_eq!(
        (answer.body.as_str(), answer.inactive),
        ("{}", Some(Inactive::OtherClient))
    );
    assert_eq!(
        introspect(&isolate, &store, &token).unwrap()["active"],
        true
    );
}

#[test]
fn an_unreachable_object_makes_introspection_a_503_never_an_active_token() {
    let (isolate, store) = setup(None);
    let token = token(&isolate, &store);
    assert_eq!(
        introspect(&isolate, &store, &token).unwrap()["active"],
        true
    );
    isolate.objects.down.set(true);
    // rs's own lease still serves it (within a second), but svc's object cannot be asked.
    assert_eq!(
        introspect(&isolate, &store, &token),
        Err(Error::GuardUnavailable)
    );
    let revoked = post(
        &isolate,
        &store,
        REVOKE,
        ("svc", "s3cret"),
        &format!("token={token}"),
    );
    assert_eq!(revoked.result.unwrap_err(), Error::GuardUnavailable);
}

#[test]
fn the_caller_authenticates_as_at_the_token_endpoint_and_needs_the_permission() {
    let (isolate, store) = setup(None);
    let token = token(&isolate, &store);
    let wrong = post(
        &isolate,
        &store,
        INTROSPECT,
        ("rs", "wrong"),
        &format!("token={token}"),
    );
    assert_eq!(wrong.result.unwrap_err(), Error::WrongSecret);
    assert_eq!(
        isolate.objects.failure_reports.get(),
        1,
        "counted as at the token endpoint"
    );
    let unknown = post(
        &isolate,
        &store,
        INTROSPECT,
        ("nobody", "x"),
        &format!("token={token}"),
    );
    assert_eq!(unknown.result.unwrap_err(), Error::UnknownClient);
    let svc = post(
        &isolate,
        &store,
        INTROSPECT,
        ("svc", "s3cret"),
        &format!("token={token}"),
    );
    assert_eq!(svc.result.unwrap_err(), Error::IntrospectNotAllowed);
    isolate.objects.command("main:rs", ClientCommand::Disable);
    isolate.advance(1_001); // past rs's view
    assert_eq!(
        introspect(&isolate, &store, &token),
        Err(Error::ClientDisabled)
    );
}

#[test]
fn introspection_spends_the_caller_s_issuance_bucket() {
    let (isolate, store) = setup(Some(json!({ "per_minute": 1, "burst": 2 })));
    let token = token(&isolate, &store);
    let answers: Vec<_> = (0..5)
        .map(|_| introspect(&isolate, &store, &token))
        .collect();
    assert_eq!(
        answers.iter().filter(|a| a.is_ok()).count(),
        2,
        "{answers:?}"
    );
    assert!(answers[2..]
        .iter()
        .all(|a| matches!(a, Err(Error::RateLimited { .. }))));
}
