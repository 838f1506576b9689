//! The protections that cannot be turned against the clients they protect (docs/limits.md,
//! issue 9), through the token pipeline with the fakes of `support`.

mod support;

use edge_token::core::{
    error::Error,
    gate::CLIENT_GATE_BUDGET,
    guard::{
        FailureReport, Limiter, Source, CLIENT_GUARD_THRESHOLD, CLIENT_PREFIX_THRESHOLD,
        SOURCE_THRESHOLD,
    },
};
use serde_json::{json, Value};
use support::{basic, deployment, hash, record, FakeObjects, FakeStore, Isolate};

const GRANT: &str = "grant_type=client_credentials";

/// An isolate of one tenant, `main`, at `/oauth2/token`.
fn isolate(objects: &FakeObjects) -> Isolate {
    Isolate::new(
        deployment(&json!({ "main": { "token_paths": ["/oauth2/token"] } })),
        objects,
    )
}

/// A client `svc` whose one secret `s` the admin API generated (and so marked).
fn generated() -> Value {
    let mut r = record("svc", "s");
    r["secrets"] = json!([{ "hash": hash("s"), "generated": true }]);
    r
}

impl Isolate {
    /// A request for `svc` with `secret`, from `source` (an address, or none).
    fn from(&self, store: &FakeStore, source: Option<&str>, secret: &str) -> Result<(), Error> {
        let authorization = basic("svc", secret);
        self.call_at("/oauth2/token", store, source, Some(&authorization), GRANT)
            .result
            .map(|_| ())
    }
}

/// Fifty wrong secrets for `svc` (an imported secret), one from each of fifty /24s (no source
/// gets blocked): the last puts the client under guard, and is answered so already.
fn distributed_guess(isolate: &Isolate, store: &FakeStore) {
    for i in 1..=CLIENT_GUARD_THRESHOLD {
        let source = format!("203.0.{i}.1");
        let answer = isolate.from(store, Some(&source), "guess");
        if i < CLIENT_GUARD_THRESHOLD {
            assert_eq!(answer, Err(Error::WrongSecret));
        } else {
            assert!(matches!(answer, Err(Error::Throttled { .. })), "{answer:?}");
        }
    }
}

#[test]
fn under_guard_a_new_source_gets_the_same_429_for_the_right_and_a_wrong_secret() {
    let store = FakeStore::with("main", &[record("svc", "s")]);
    let objects = FakeObjects::default();
    let isolate = isolate(&objects);
    assert_eq!(isolate.from(&store, Some("192.0.2.1"), "s"), Ok(()));
    distributed_guess(&isolate, &store);
    isolate.advance(5_000);
    let calls = objects.calls.get();
    let fresh = Some("198.51.100.1");
    let wrong = isolate.from(&store, fresh, "guess");
    assert!(matches!(wrong, Err(Error::Throttled { .. })), "{wrong:?}");
    // Decided from the isolate's view, before the secret was checked: nothing reported.
    assert_eq!(objects.calls.get(), calls);
    assert_eq!(isolate.from(&store, fresh, "s"), wrong);
    assert_eq!(isolate.from(&store, Some("192.0.2.1"), "s"), Ok(()));
}

#[test]
fn an_isolate_that_has_not_seen_the_guard_gives_the_same_429_for_both_secrets() {
    let store = FakeStore::with("main", &[record("svc", "s")]);
    let objects = FakeObjects::default();
    distributed_guess(&isolate(&objects), &store);
    for secret in ["guess", "s"] {
        // A new isolate each time: neither learns anything from the other.
        let elsewhere = isolate(&objects);
        let answer = elsewhere.from(&store, Some("198.51.100.1"), secret);
        assert_eq!(
            answer,
            Err(Error::Throttled { retry_after: 60 }),
            "{secret}"
        );
    }
}

#[test]
fn failures_from_five_sources_do_not_lock_out_a_client_with_a_generated_secret() {
    for (record, locked_out) in [(generated(), false), (record("svc", "s"), true)] {
        let store = FakeStore::with("main", &[record]);
        let objects = FakeObjects::default();
        let isolate = isolate(&objects);
        let mut answers = Vec::new();
        for a in 1..=5 {
            let source = format!("100.64.{a}.1");
            for _ in 0..10 {
                answers.push(isolate.from(&store, Some(&source), "guess"));
            }
        }
        let wrong = answers.iter().filter(|a| **a == Err(Error::WrongSecret));
        // For an imported secret, the fiftieth put the client under guard.
        assert_eq!(wrong.count(), if locked_out { 49 } else { 50 });
        isolate.advance(1_000);
        let sixth = isolate.from(&store, Some("100.64.9.1"), "s");
        assert_eq!(sixth.is_err(), locked_out, "{sixth:?}");
    }
}

#[test]
fn a_source_failing_against_a_client_with_a_generated_secret_is_guarded_for_that_client_only() {
    let store = FakeStore::with("main", &[generated()]);
    let objects = FakeObjects::default();
    let isolate = isolate(&objects);
    // Twenty failures from two addresses of one /24, within each address's threshold: the
    // twentieth puts the pair under guard.
    for i in 1..=20 {
        let source = format!("100.65.1.{}", i % 2);
        let answer = isolate.from(&store, Some(&source), "guess");
        let guarded = matches!(answer, Err(Error::Throttled { .. }));
        assert_eq!(
            (answer.is_err(), guarded),
            (true, i == 20),
            "{i}: {answer:?}"
        );
    }
    assert!(matches!(
        isolate.from(&store, Some("100.65.1.7"), "s"),
        Err(Error::Throttled { .. })
    ));
    assert_eq!(isolate.from(&store, Some("100.65.2.7"), "s"), Ok(()));
}

#[test]
fn with_the_client_gate_only_the_failure_over_it_reaches_the_object_and_guards_that_prefix() {
    let store = FakeStore::with("main", &[generated()]);
    let objects = FakeObjects::default();
    objects.client_gate.set(Some(CLIENT_GATE_BUDGET));
    let isolate = isolate(&objects);
    for i in 1..=CLIENT_PREFIX_THRESHOLD {
        let source = format!("100.65.1.{}", i % 2);
        let answer = isolate.from(&store, Some(&source), "guess");
        let over = i == CLIENT_PREFIX_THRESHOLD;
        let guarded = matches!(answer, Err(Error::Throttled { .. }));
        assert_eq!((answer.is_err(), guarded), (true, over), "{i}: {answer:?}");
        assert_eq!(objects.failure_reports.get(), usize::from(over), "{i}");
    }
    assert!(matches!(
        isolate.from(&store, Some("100.65.1.7"), "s"),
        Err(Error::Throttled { .. })
    ));
    assert_eq!(isolate.from(&store, Some("100.65.2.7"), "s"), Ok(()));
}

#[test]
fn a_client_with_a_guessable_secret_is_counted_by_its_object_gate_or_not() {
    let store = FakeStore::with("main", &[record("svc", "s")]);
    let objects = FakeObjects::default();
    objects.client_gate.set(Some(CLIENT_GATE_BUDGET));
    let isolate = isolate(&objects);
    for i in 1..=3 {
        let source = format!("100.66.{i}.1");
        assert_eq!(
            isolate.from(&store, Some(&source), "guess"),
            Err(Error::WrongSecret)
        );
    }
    assert_eq!(objects.failure_reports.get(), 3, "every failure, precisely");
}

#[test]
fn every_source_that_authenticates_is_recorded_not_only_those_that_ask_the_object() {
    let store = FakeStore::with("main", &[record("svc", "s")]);
    let objects = FakeObjects::default();
    let isolate = isolate(&objects);
    let fleet: Vec<String> = (1..=5).map(|i| format!("192.0.2.{i}")).collect();
    for source in &fleet {
        assert_eq!(isolate.from(&store, Some(source), "s"), Ok(()));
    }
    let elsewhere = self::isolate(&objects);
    distributed_guess(&elsewhere, &store);
    for source in &fleet {
        assert_eq!(
            elsewhere.from(&store, Some(source), "s"),
            Ok(()),
            "{source}"
        );
    }
    let stranger = elsewhere.from(&store, Some("192.0.2.99"), "s");
    assert!(matches!(stranger, Err(Error::Throttled { .. })));
}

#[test]
fn a_success_from_a_new_source_costs_no_more_waits_than_one_from_a_known_source() {
    // Two twin isolates serve the same pattern of requests, one from new sources each time.
    let waits = |new_sources: bool| {
        let store = FakeStore::with("main", &[record("svc", "s")]);
        let isolate = isolate(&FakeObjects::default());
        let mut waits = 0;
        for i in 1..=20 {
            let source = format!("192.0.2.{}", if new_sources { i } else { 1 });
            assert_eq!(isolate.from(&store, Some(&source), "s"), Ok(()));
            waits += isolate.foreground_calls.get();
            isolate.advance(10);
        }
        waits
    };
    assert_eq!(waits(true), waits(false));
}

#[test]
fn failures_from_a_source_known_to_be_blocked_are_not_reported_again() {
    let objects = FakeObjects::default();
    let isolate = isolate(&objects);
    let limiter = Limiter {
        cache: isolate.cache.clone(),
        backend: objects.clone(),
        source: Source::from_header(Some("198.51.100.7")),
    };
    let now = objects.now_ms.get();
    // Twenty failures answered before any report went: the reports go one after the other.
    for _ in 0..2 * SOURCE_THRESHOLD {
        limiter.report_failure(now);
    }
    objects.run_background();
    assert_eq!(objects.calls.get(), SOURCE_THRESHOLD as usize);
    assert!(limiter.check_source(now).is_err());
    limiter.report_failure(now);
    objects.run_background();
    assert_eq!(objects.calls.get(), SOURCE_THRESHOLD as usize);
}

#[test]
fn requests_without_an_address_share_one_bucket() {
    let store = FakeStore::with("main", &[record("svc", "s")]);
    let isolate = isolate(&FakeObjects::default());
    for _ in 0..SOURCE_THRESHOLD {
        let ghost = basic("ghost", "x");
        let outcome = isolate.call_at("/oauth2/token", &store, None, Some(&ghost), GRANT);
        assert_eq!(outcome.result.unwrap_err(), Error::UnknownClient);
    }
    for source in [None, Some(""), Some("not-an-address")] {
        let answer = isolate.from(&store, source, "s");
        assert!(matches!(answer, Err(Error::Throttled { .. })), "{source:?}");
    }
    assert_eq!(isolate.from(&store, Some("192.0.2.1"), "s"), Ok(()));
}

#[test]
fn a_failure_report_names_the_prefix_and_whether_the_secret_may_be_guessed() {
    let objects = FakeObjects::default();
    let store = FakeStore::with("main", &[generated()]);
    let isolate = isolate(&objects);
    let _ = isolate.from(&store, Some("2001:db8:1:2::1"), "guess");
    let mut state = objects.clients.borrow().get("main:svc").cloned().unwrap();
    // Nineteen more from that /48 put it under guard: the first one was counted there.
    let report = FailureReport {
        prefix: "2001:db8:1::/48".into(),
        guessable: false,
        tripped: false,
    };
    for _ in 1..19 {
        state.failure(objects.now_ms.get(), &report);
    }
    let view = state.failure(objects.now_ms.get(), &report);
    assert_eq!(view.guarded_prefixes.len(), 1);
    assert_eq!(
        view.guarded_until, 0,
        "a generated secret: no client-wide guard"
    );
}
