//! The token pipeline through its traits, with the fakes of `support` (KV, the guard
//! objects, `ctx.wait_until`) and one or more isolates sharing the objects.

mod support;

use edge_token::core::{
    assertion::Check,
    client::RECORD_TTL_MS,
    deployment::Deployment,
    error::Error,
    guard::{ClientCommand, VIEW_TTL_MS},
    token::{Outcome, TokenResponse},
    unknown::UNKNOWN_ID_TTL_MS,
};
use jwt_compact::{alg::Ed25519, jwk::JsonWebKey, Algorithm, AlgorithmExt, UntrustedToken};
use serde_json::{json, Value};
use support::{
    assertion_body, basic, deployment, hash, key_record, record, FakeObjects, FakeStore, Isolate,
    KEY, NOW,
};

const MAIN: &str = "/oauth2/token";
const OTHER: &str = "/other/token";
/// The body of a plain request: the grant, no scope.
const GRANT: &str = "grant_type=client_credentials";

/// Two tenants: `main` (strict, at the origin) and `other` (subset policy, `*` wildcard, its
/// own issuer path), sharing the signing keys.
fn two_tenants() -> Deployment {
    deployment(&json!({
        "main": { "token_paths": ["/oauth2/token"] },
        "other": {
            "issuer_path": "/other", "token_paths": ["/other/token"],
            "scope_policy": "subset", "scope_wildcard": "*",
        },
    }))
}

/// A store holding `records` in tenant `main`.
fn store_with(records: &[Value]) -> FakeStore {
    FakeStore::with("main", records)
}

/// An isolate of [`two_tenants`] reaching `objects`.
fn isolate(objects: &FakeObjects) -> Isolate {
    Isolate::new(two_tenants(), objects)
}

impl Isolate {
    /// A request at tenant `main`'s token path.
    fn call_from(
        &self,
        store: &FakeStore,
        source: Option<&str>,
        authorization: Option<&str>,
        body: &str,
    ) -> Outcome {
        self.call_at(MAIN, store, source, authorization, body)
    }

    /// A plain request with Basic credentials at tenant `main`, from a known source.
    fn token(&self, store: &FakeStore, id: &str, secret: &str) -> Result<(), Error> {
        self.call_from(store, Some("192.0.2.1"), Some(&basic(id, secret)), GRANT)
            .result
            .map(|_| ())
    }

    /// A request with Basic credentials at a tenant's token path, from no known source.
    fn basic_at(
        &self,
        path: &str,
        store: &FakeStore,
        (id, secret): (&str, &str),
        body: &str,
    ) -> Result<TokenResponse, Error> {
        self.call_at(path, store, None, Some(&basic(id, secret)), body)
            .result
    }
}

/// One request at tenant `main`, from no known source, in a fresh isolate.
fn call(store: &FakeStore, authorization: Option<&str>, body: &str) -> Outcome {
    isolate(&FakeObjects::default()).call_from(store, None, authorization, body)
}

/// [`call`] with Basic credentials.
fn call_basic(store: &FakeStore, (id, secret): (&str, &str), body: &str) -> Outcome {
    call(store, Some(&basic(id, secret)), body)
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
    let outcome = call_basic(
        &store,
        ("svc", "s3cret"),
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
    let token = call_basic(&store, ("svc", "s"), GRANT).result.unwrap();
    assert_eq!(
        verified_claims(&token.access_token).0["aud"],
        json!(["https://a", "https://b"])
    );
    assert_eq!(token.scope.as_deref(), Some("read"));
}

#[test]
fn a_resource_narrows_aud_and_the_clients_static_claims_are_signed_in() {
    let mut r = record("svc", "s");
    r["audience"] = json!(["https://a", "https://b"]);
    r["claims"] = json!({ "roles": ["x"] });
    let store = store_with(&[r]);
    let body = format!("{GRANT}&resource=https%3A%2F%2Fb");
    let token = call_basic(&store, ("svc", "s"), &body).result.unwrap();
    let (claims, _) = verified_claims(&token.access_token);
    assert_eq!(claims["aud"], "https://b");
    assert_eq!(claims["roles"], json!(["x"]));
    let other = format!("{GRANT}&audience=https://c");
    let refused = call_basic(&store, ("svc", "s"), &other).result.unwrap_err();
    assert_eq!(refused, Error::TargetNotAllowed);
    assert_eq!(refused.wire().code.as_str(), "invalid_target");
}

#[test]
fn an_unknown_client_and_a_wrong_secret_are_answered_alike() {
    let store = store_with(&[record("svc", "s3cret")]);
    let wrong = call_basic(&store, ("svc", "nope"), GRANT);
    let unknown = call_basic(&store, ("ghost", "nope"), GRANT);
    let (wrong, unknown) = (wrong.result.unwrap_err(), unknown.result.unwrap_err());
    assert_eq!((wrong, unknown), (Error::WrongSecret, Error::UnknownClient));
    assert_eq!(wrong.wire(), unknown.wire());
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
    let ok_secret = call_basic(&store, ("svc", "s"), GRANT);
    let bad_secret = call_basic(&store, ("svc", "x"), GRANT);
    assert_eq!(ok_secret.result.unwrap_err(), Error::ClientDisabled);
    assert_eq!(bad_secret.result.unwrap_err(), Error::WrongSecret);
}

#[test]
fn a_client_without_the_grant_is_unauthorized() {
    let mut r = record("svc", "s");
    r["grant_types"] = json!(["authorization_code"]);
    let store = store_with(&[r]);
    let outcome = call_basic(&store, ("svc", "s"), GRANT);
    assert_eq!(outcome.result.unwrap_err(), Error::GrantNotAllowed);
}

#[test]
fn a_scope_outside_the_client_policy_is_invalid_scope() {
    let store = store_with(&[record("svc", "s")]);
    let outcome = call_basic(
        &store,
        ("svc", "s"),
        "grant_type=client_credentials&scope=read+admin",
    );
    assert_eq!(outcome.result.unwrap_err(), Error::ScopeNotAllowed);
}

#[test]
fn an_unreachable_store_is_a_retryable_fault_not_a_client_error() {
    let store = store_with(&[record("svc", "s")]);
    store.down.set(true);
    let error = call_basic(&store, ("svc", "s"), GRANT).result.unwrap_err();
    assert_eq!(error, Error::StoreUnavailable);
    assert_eq!(error.wire().status, 503);
}

#[test]
fn a_corrupt_record_is_a_server_fault() {
    let store = store_with(&[]);
    store
        .records
        .borrow_mut()
        .insert("client:main:svc".into(), "{not json".into());
    let error = call_basic(&store, ("svc", "s"), GRANT).result.unwrap_err();
    assert_eq!((error, error.wire().status), (Error::BadClientRecord, 500));
}

#[test]
fn a_malformed_request_never_reaches_the_store() {
    let store = store_with(&[record("svc", "s")]);
    let outcome = call_basic(
        &store,
        ("svc", "s"),
        "grant_type=client_credentials&grant_type=client_credentials",
    );
    assert_eq!(outcome.result.unwrap_err(), Error::DuplicateParameter);
    assert_eq!(outcome.client_id, None);
    assert_eq!(store.reads.get(), 0);
}

fn limited(per_minute: u64, burst: u64) -> FakeStore {
    let mut r = record("svc", "s");
    r["rate_limit"] = json!({ "per_minute": per_minute, "burst": burst });
    store_with(&[r])
}

#[test]
fn a_burst_is_served_exactly_then_429_with_retry_after() {
    let store = limited(60, 8);
    let objects = FakeObjects::default();
    let isolate = isolate(&objects);
    let results: Vec<_> = (0..12).map(|_| isolate.token(&store, "svc", "s")).collect();
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 8);
    assert_eq!(
        results[8],
        Err(Error::RateLimited {
            retry_after: 1,
            burst: 8,
            window: 8
        })
    );
    isolate.advance(1_000);
    assert_eq!(isolate.token(&store, "svc", "s"), Ok(()));
}

#[test]
fn several_isolates_never_issue_more_than_the_bucket_allows() {
    let store = limited(120, 12);
    let objects = FakeObjects::default();
    let isolates: Vec<Isolate> = (0..5).map(|_| isolate(&objects)).collect();
    let mut issued = 0;
    for round in 0..40 {
        for isolate in &isolates {
            issued += usize::from(isolate.token(&store, "svc", "s").is_ok());
        }
        if round % 4 == 3 {
            objects.now_ms.set(objects.now_ms.get() + 250);
        }
    }
    // 2.5 s have passed: at most 12 + 2 × 2.5 = 17 tokens.
    assert!(issued <= 17, "{issued}");
    assert!(issued >= 12, "{issued}");
}

#[test]
fn an_active_client_within_its_limit_does_not_wait_for_the_object() {
    let store = limited(6_000, 100);
    let objects = FakeObjects::default();
    let isolate = isolate(&objects);
    let mut waited = Vec::new();
    for i in 0..200 {
        assert_eq!(isolate.token(&store, "svc", "s"), Ok(()));
        if isolate.foreground_calls.get() > 0 {
            waited.push(i);
        }
        isolate.advance(20);
    }
    // Only the first request, which found no lease, and the second, which showed the isolate
    // the client's pace, waited for the object: an isolate leases nothing ahead for a client
    // it has seen once (docs/limits.md, "Leases that adapt").
    assert_eq!(waited, [0, 1]);
    assert!(
        objects.calls.get() > 10,
        "the view was refreshed in the background"
    );
}

#[test]
fn a_disabled_client_is_refused_within_a_second_although_its_record_says_enabled() {
    let store = store_with(&[record("svc", "s")]);
    let objects = FakeObjects::default();
    let isolate = isolate(&objects);
    assert_eq!(isolate.token(&store, "svc", "s"), Ok(()));
    objects.command("main:svc", ClientCommand::Disable);
    isolate.advance(1_000);
    assert_eq!(
        isolate.token(&store, "svc", "s"),
        Err(Error::ClientDisabled)
    );
    objects.command("main:svc", ClientCommand::Enable);
    isolate.advance(1_000);
    assert_eq!(isolate.token(&store, "svc", "s"), Ok(()));
}

#[test]
fn a_revoked_secret_is_refused_like_a_wrong_one() {
    let mut r = record("svc", "old");
    r["secrets"] = json!([{ "hash": hash("old") }, { "hash": hash("new") }]);
    let store = store_with(&[r]);
    let objects = FakeObjects::default();
    let isolate = isolate(&objects);
    objects.command(
        "main:svc",
        ClientCommand::RevokeSecret { hash: hash("old") },
    );
    assert_eq!(isolate.token(&store, "svc", "old"), Err(Error::WrongSecret));
    assert_eq!(isolate.token(&store, "svc", "new"), Ok(()));
}

#[test]
fn when_the_object_is_down_revocation_fails_closed() {
    let store = store_with(&[record("svc", "s")]);
    let objects = FakeObjects::default();
    let isolate = isolate(&objects);
    objects.down.set(true);
    let error = isolate.token(&store, "svc", "s").unwrap_err();
    assert_eq!((error, error.wire().status), (Error::GuardUnavailable, 503));
}

#[test]
fn when_the_object_goes_down_a_fresh_view_spends_only_its_lease() {
    let store = limited(600, 40);
    let objects = FakeObjects::default();
    let isolate = isolate(&objects);
    for _ in 0..5 {
        assert_eq!(isolate.token(&store, "svc", "s"), Ok(()));
        isolate.advance(10);
    }
    objects.down.set(true);
    let results: Vec<_> = (0..30).map(|_| isolate.token(&store, "svc", "s")).collect();
    let served = results.iter().take_while(|r| r.is_ok()).count();
    // The tokens already leased (out of the bucket), then 503: never a token the bucket
    // did not grant.
    assert!((1..=10).contains(&served), "{served}");
    assert!(results[served..]
        .iter()
        .all(|r| *r == Err(Error::GuardUnavailable)));
}

#[test]
fn repeated_failures_block_the_source_before_any_credential_is_checked() {
    let store = store_with(&[record("svc", "s")]);
    let objects = FakeObjects::default();
    let isolate = isolate(&objects);
    let attacker = Some("198.51.100.7");
    let attempt = |secret: &str| {
        isolate
            .call_from(&store, attacker, Some(&basic("svc", secret)), GRANT)
            .result
            .map(|_| ())
    };
    for _ in 0..10 {
        assert_eq!(attempt("guess"), Err(Error::WrongSecret));
    }
    assert_eq!(attempt("s"), Err(Error::Throttled { retry_after: 30 }));
    // Another source is not affected.
    assert_eq!(isolate.token(&store, "svc", "s"), Ok(()));
    isolate.advance(30_000);
    assert_eq!(attempt("s"), Ok(()));
}

#[test]
fn a_client_under_guard_still_works_from_where_it_usually_works() {
    let store = store_with(&[record("svc", "s")]);
    let objects = FakeObjects::default();
    let isolate = isolate(&objects);
    assert_eq!(isolate.token(&store, "svc", "s"), Ok(()));
    // A distributed guess: 50 failures from 50 networks, none of them blocked; the fiftieth
    // puts the client under guard and is answered so already.
    for i in 1..=50 {
        let source = format!("203.0.{i}.1");
        let outcome = isolate.call_from(&store, Some(&source), Some(&basic("svc", "guess")), GRANT);
        let error = outcome.result.unwrap_err();
        assert_eq!(
            matches!(error, Error::Throttled { .. }),
            i == 50,
            "{i}: {error:?}"
        );
    }
    isolate.advance(1_000);
    let fresh = Some("203.0.113.200");
    let outcome = isolate.call_from(&store, fresh, Some(&basic("svc", "s")), GRANT);
    assert!(matches!(outcome.result, Err(Error::Throttled { .. })));
    assert_eq!(isolate.token(&store, "svc", "s"), Ok(()));
}

#[test]
fn spraying_unknown_client_ids_creates_no_client_object() {
    let store = store_with(&[record("svc", "s")]);
    let objects = FakeObjects::default();
    let isolate = isolate(&objects);
    for i in 0..100 {
        let source = format!("10.1.{}.{}", i / 200, i % 200);
        isolate.call_from(
            &store,
            Some(&source),
            Some(&basic(&format!("ghost-{i}"), "x")),
            GRANT,
        );
    }
    assert!(objects.clients.borrow().is_empty());
    assert!(objects.sources.borrow().len() <= 16);
}

#[test]
fn an_isolate_reuses_a_record_for_a_short_time_then_reads_it_again() {
    let store = store_with(&[record("svc", "s")]);
    let isolate = isolate(&FakeObjects::default());
    let call = |secret| {
        isolate
            .basic_at(MAIN, &store, ("svc", secret), GRANT)
            .map(|_| ())
    };
    assert_eq!(call("s"), Ok(()));
    assert_eq!(store.reads.get(), 1);
    store.put("main", &record("svc", "rotated"));
    assert_eq!(call("s"), Ok(()), "the cached record is used");
    assert_eq!(store.reads.get(), 1);
    isolate.advance(RECORD_TTL_MS);
    assert_eq!(call("s"), Err(Error::WrongSecret), "then KV is read again");
    assert_eq!(call("rotated"), Ok(()));
    assert_eq!(store.reads.get(), 2);
}

#[test]
fn an_unknown_id_named_again_soon_costs_no_store_read_and_a_created_one_is_found_later() {
    let store = store_with(&[]);
    let isolate = isolate(&FakeObjects::default());
    // Each request from a network of its own, so that the source throttling stays out of it.
    let sent = std::cell::Cell::new(0);
    let ghost = || {
        sent.set(sent.get() + 1);
        let source = format!("10.9.{}.1", sent.get());
        let auth = basic("ghost", "s");
        isolate
            .call_from(&store, Some(&source), Some(&auth), GRANT)
            .result
            .map(|_| ())
    };
    for _ in 0..50 {
        assert_eq!(ghost(), Err(Error::UnknownClient));
        isolate.advance(100);
    }
    assert_eq!(store.reads.get(), 1, "one read for fifty requests");
    // Created meanwhile: found once the isolate's memory of its absence has lapsed.
    store.put("main", &record("ghost", "s"));
    assert_eq!(ghost(), Err(Error::UnknownClient));
    isolate.advance(UNKNOWN_ID_TTL_MS);
    assert_eq!(ghost(), Ok(()));
    assert_eq!(store.reads.get(), 2);
}

#[test]
fn a_client_of_one_tenant_is_unknown_at_another() {
    let store = store_with(&[record("svc", "s")]);
    let isolate = isolate(&FakeObjects::default());
    let at = |path| isolate.basic_at(path, &store, ("svc", "s"), GRANT);
    assert!(at(MAIN).is_ok());
    assert_eq!(at(OTHER).unwrap_err(), Error::UnknownClient);
    // The same id registered in the other tenant is another client, with its own secret.
    store.put("other", &record("svc", "other-secret"));
    isolate.advance(UNKNOWN_ID_TTL_MS); // this isolate remembered it as unknown there
    assert_eq!(at(OTHER).unwrap_err(), Error::WrongSecret);
    let token = isolate
        .basic_at(OTHER, &store, ("svc", "other-secret"), GRANT)
        .unwrap();
    let (claims, _) = verified_claims(&token.access_token);
    assert_eq!(claims["iss"], "https://auth.example.com/other");
}

#[test]
fn each_tenant_applies_its_own_scope_policy() {
    let store = store_with(&[record("svc", "s")]);
    store.put("other", &record("svc", "s"));
    let isolate = isolate(&FakeObjects::default());
    let ask = |path, scope: &str| {
        let body = format!("grant_type=client_credentials&scope={scope}");
        isolate.basic_at(path, &store, ("svc", "s"), &body)
    };
    assert_eq!(ask(MAIN, "read+admin").unwrap_err(), Error::ScopeNotAllowed);
    assert_eq!(ask(MAIN, "*").unwrap_err(), Error::ScopeNotAllowed);
    let narrowed = ask(OTHER, "read+admin").unwrap();
    assert_eq!(narrowed.scope.as_deref(), Some("read"));
    let all = ask(OTHER, "*").unwrap();
    assert_eq!(all.scope.as_deref(), Some("read write"));
}

#[test]
fn a_tenant_may_answer_body_credential_failures_with_400_but_basic_always_with_401() {
    let deployment =
        deployment(&json!({ "a": { "token_paths": ["/t"], "invalid_client_status": 400 } }));
    let (issuer, _) = deployment.route("/t").unwrap();
    let body = issuer.wire(Error::WrongSecret, None);
    assert_eq!(body.status, 400);
    assert!(body
        .headers
        .iter()
        .all(|(name, _)| *name != "WWW-Authenticate"));
    let basic = issuer.wire(Error::WrongSecret, Some("Basic eDp5"));
    assert_eq!(basic.status, 401);
    assert!(basic
        .headers
        .iter()
        .any(|(name, _)| *name == "WWW-Authenticate"));
    // Other errors keep their status.
    assert_eq!(issuer.wire(Error::ScopeNotAllowed, None).status, 400);
    assert_eq!(issuer.wire(Error::StoreUnavailable, None).status, 503);
}

#[test]
fn an_assertion_is_spent_in_the_clients_object_so_another_isolate_refuses_its_replay() {
    let store = store_with(&[key_record("keyed")]);
    let objects = FakeObjects::default();
    let body = assertion_body("keyed", "once");
    let first = isolate(&objects).call_from(&store, None, None, &body);
    assert!(first.result.is_ok(), "{:?}", first.result);
    assert_eq!(first.client_id.as_deref(), Some("keyed"));
    let again = isolate(&objects).call_from(&store, None, None, &body);
    assert_eq!(again.result, Err(Error::Assertion(Check::Replayed)));
    let fresh = assertion_body("keyed", "twice");
    assert!(isolate(&objects)
        .call_from(&store, None, None, &fresh)
        .result
        .is_ok());
}

#[test]
fn a_jwt_token_with_a_stale_view_makes_one_object_request_for_its_jti_and_its_lease() {
    let store = store_with(&[key_record("keyed")]);
    let objects = FakeObjects::default();
    let isolate = isolate(&objects);
    // No view yet, then one older than its life (every real client's case): the jti's spend
    // brings the lease back, where the spend and the lease were two requests.
    for (jti, wait) in [("j-1", 0), ("j-2", VIEW_TTL_MS + 1_000)] {
        isolate.advance(wait);
        let outcome = isolate.call_from(&store, None, None, &assertion_body("keyed", jti));
        assert!(outcome.result.is_ok(), "{:?}", outcome.result);
        assert_eq!(isolate.foreground_calls.get(), 1, "{jti}");
    }
    let replayed = isolate.call_from(&store, None, None, &assertion_body("keyed", "j-2"));
    assert_eq!(replayed.result, Err(Error::Assertion(Check::Replayed)));
}

#[test]
fn a_lease_granted_with_a_spend_to_a_request_refused_later_serves_the_next_one() {
    let mut keyed = key_record("keyed");
    keyed["rate_limit"] = json!({ "per_minute": 1, "burst": 1 });
    let store = store_with(&[keyed]);
    let objects = FakeObjects::default();
    let first = isolate(&objects);
    let body = |jti| format!("{}&scope=not-allowed", assertion_body("keyed", jti));
    let refused = first.call_from(&store, None, None, &body("j-1"));
    assert_eq!(refused.result, Err(Error::ScopeNotAllowed));
    // The bucket's one token went to the isolate's lease with the spend; the next request of
    // the isolate draws it, its jti spent alone: no token more than the limit allows.
    let served = first.call_from(&store, None, None, &assertion_body("keyed", "j-2"));
    assert!(served.result.is_ok(), "{:?}", served.result);
    assert_eq!(first.foreground_calls.get(), 1);
    let elsewhere = isolate(&objects);
    let over = elsewhere.call_from(&store, None, None, &assertion_body("keyed", "j-3"));
    assert!(
        matches!(over.result, Err(Error::RateLimited { .. })),
        "{:?}",
        over.result
    );
}

#[test]
fn without_the_clients_object_a_valid_assertion_is_never_accepted() {
    let store = store_with(&[key_record("keyed")]);
    let objects = FakeObjects::default();
    objects.down.set(true);
    let outcome = isolate(&objects).call_from(&store, None, None, &assertion_body("keyed", "j"));
    assert_eq!(outcome.result, Err(Error::GuardUnavailable));
}

#[test]
fn a_secret_for_a_key_client_is_refused_as_a_method_mismatch() {
    let store = store_with(&[key_record("keyed")]);
    let outcome = call(&store, Some(&basic("keyed", "unused")), GRANT);
    assert_eq!(outcome.result, Err(Error::Assertion(Check::MethodMismatch)));
}
