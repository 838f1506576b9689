//! A deterministic, seeded discrete-event simulation of the guard protocol at internet scale
//! (docs/limits.md, "At scale"): isolates in locations 1–200 ms from the objects, driving the
//! real core code ([`ClientGuardState::lease`], the isolates' `IsolateCache` and
//! `Limiter::admit`) through a simulated [`Backend`] with a simulated clock.
//!
//! `cargo test --test sim` runs the short scenarios and asserts the hard bounds;
//! `npm run sim` runs the full set and prints the table.
//!
//! [`ClientGuardState::lease`]: edge_token::core::guard::ClientGuardState::lease
//! [`Backend`]: edge_token::core::guard::Backend

mod engine;
mod net;
mod report;
mod rng;
mod world;

use edge_token::core::{
    guard::VIEW_TTL_MS,
    limit::{Limit, DEFAULT_LIMIT},
};
use net::{Cut, SERVICE_MS};
use report::Report;
use world::{run, Pattern, Scenario, T0};

/// The limits of the three single-client rates: tokens a minute and a burst of about five
/// seconds' worth (at least 5).
fn limit(per_minute: u64) -> Limit {
    Limit {
        per_minute,
        burst: (per_minute / 12).max(5),
    }
}

/// One client at `per_minute`, offered 80 % of it steadily, on `isolates` isolates.
fn one_client(isolates: usize, per_minute: u64, seconds: u64) -> Scenario {
    Scenario {
        name: format!("1 client, {per_minute}/min, {isolates} isolates"),
        isolates,
        locations: match isolates {
            0..=10 => 5,
            11..=1_000 => 100,
            _ => 250,
        },
        clients: 1,
        limit: limit(per_minute),
        offered_per_min: per_minute as f64 * 0.8,
        pattern: Pattern::Steady,
        hot: 0.0,
        seconds,
        isolate_life_s: 300.0,
        cuts: Vec::new(),
        probes: (seconds / 30).clamp(1, 10) as usize,
        probe_clients: 1,
        seed: 15,
    }
}

/// `clients` quiet clients at one token a minute each, with the default limit.
fn quiet_clients(clients: usize, isolates: usize, seconds: u64) -> Scenario {
    Scenario {
        name: format!("{clients} clients at 1/min, {isolates} isolates"),
        clients,
        limit: DEFAULT_LIMIT,
        offered_per_min: 1.0,
        probe_clients: clients / 100,
        ..one_client(isolates, 1, seconds)
    }
}

/// Location 0 (with 30 % of the traffic) cut off from the objects for 30 s.
fn cut_off(seconds: u64) -> Scenario {
    Scenario {
        name: "location cut off 30 s, 1 000/min, 1 000 isolates".into(),
        hot: 0.3,
        cuts: vec![Cut {
            location: Some(0),
            from: T0 + seconds * 1_000 / 3,
            until: T0 + seconds * 1_000 / 3 + 30_000,
            fast: false,
        }],
        ..one_client(1_000, 1_000, seconds)
    }
}

/// Every object answers "overloaded" for 10 s, to a client limited to 50 000/min that asks
/// twice that, on 10 isolates.
fn overloaded(seconds: u64) -> Scenario {
    Scenario {
        name: "objects overloaded 10 s, client at 2 × its 50 000/min, 10 isolates".into(),
        offered_per_min: 100_000.0,
        cuts: vec![Cut {
            location: None,
            from: T0 + seconds * 1_000 / 2 + 500,
            until: T0 + seconds * 1_000 / 2 + 10_500,
            fast: true,
        }],
        ..one_client(10, 50_000, seconds)
    }
}

/// Every scenario of the table in docs/limits.md.
fn full() -> Vec<Scenario> {
    let mut all = Vec::new();
    for per_minute in [10, 1_000, 50_000] {
        let seconds = match per_minute {
            10 => 1_200,
            1_000 => 300,
            _ => 120,
        };
        for isolates in [10, 1_000, 10_000] {
            all.push(one_client(isolates, per_minute, seconds));
        }
    }
    all.push(Scenario {
        name: "bursty, 1 000/min, 1 000 isolates".into(),
        pattern: Pattern::Bursty,
        ..one_client(1_000, 1_000, 300)
    });
    all.push(Scenario {
        name: "diurnal, 1 000/min, 1 000 isolates".into(),
        pattern: Pattern::Diurnal,
        offered_per_min: 500.0,
        ..one_client(1_000, 1_000, 600)
    });
    all.push(Scenario {
        name: "hot location (80 %), 1 000/min, 1 000 isolates".into(),
        hot: 0.8,
        ..one_client(1_000, 1_000, 300)
    });
    all.push(Scenario {
        name: "objects down 10 s, 1 000/min, 1 000 isolates".into(),
        cuts: vec![Cut {
            location: None,
            from: T0 + 100_000,
            until: T0 + 110_000,
            fast: false,
        }],
        ..one_client(1_000, 1_000, 300)
    });
    all.push(overloaded(120));
    all.push(cut_off(300));
    all.push(quiet_clients(100_000, 1_000, 180));
    all
}

/// The hard bounds every scenario must keep: no overshoot, and revocation within a second
/// plus one round trip.
fn assert_bounds(report: &Report) {
    assert_eq!(report.overshoot, 0, "overshoot: {}", report.row());
    // The last view taken before a disable is used for at most VIEW_TTL_MS after it arrived,
    // half a round trip (plus the object's own time) after the object answered.
    let bound = VIEW_TTL_MS + report.max_rtt + 10 * SERVICE_MS;
    assert!(
        report.revocation.2 <= bound,
        "revocation over {bound} ms: {}",
        report.row()
    );
}

/// The busiest second of any object stays under `share` of its soft limit (1 000 a second).
fn assert_object_rate(report: &Report, share: f64) {
    assert!(
        f64::from(report.object_peak) < share * 1_000.0,
        "object over {share} of its soft limit: {}",
        report.row()
    );
}

#[test]
fn a_busy_client_on_a_thousand_isolates_never_overshoots_and_is_revoked_within_a_second() {
    let report = run(one_client(1_000, 50_000, 20));
    println!("{}\n{}", Report::header(), report.row());
    assert!(report.tokens > 10_000, "{}", report.row());
    assert_bounds(&report);
    // With less than one request per isolate per second, nearly every request needs a view
    // younger than a second: the object sees about one request per token, under its limit.
    assert_object_rate(&report, 1.0);
    assert!(report.false_429 < 0.01, "{}", report.row());
}

#[test]
fn a_client_on_ten_isolates_keeps_its_bounds() {
    let report = run(one_client(10, 1_000, 60));
    println!("{}\n{}", Report::header(), report.row());
    assert_bounds(&report);
    assert_object_rate(&report, 0.1);
    assert!(report.false_429 < 0.01, "{}", report.row());
}

#[test]
fn a_location_cut_off_for_thirty_seconds_keeps_the_bounds() {
    let report = run(cut_off(60));
    println!("{}\n{}", Report::header(), report.row());
    assert!(
        report.unavailable > 0.0,
        "the cut was felt: {}",
        report.row()
    );
    assert_bounds(&report);
    assert_object_rate(&report, 0.1);
}

#[test]
fn an_overloaded_object_never_lets_isolates_overshoot() {
    let report = run(overloaded(30));
    println!("{}\n{}", Report::header(), report.row());
    assert!(
        report.unavailable > 0.0,
        "the overload was felt: {}",
        report.row()
    );
    assert_bounds(&report);
}

#[test]
fn ten_thousand_quiet_clients_keep_their_objects_idle() {
    let report = run(quiet_clients(10_000, 100, 60));
    println!("{}\n{}", Report::header(), report.row());
    assert!(report.object_rate < 0.1, "{}", report.row());
    assert_bounds(&report);
    assert_object_rate(&report, 0.1);
}

/// The full run (`npm run sim`): prints the table of docs/limits.md (only the scenarios whose
/// name contains `SIM_ONLY`, if set).
#[test]
#[ignore = "the full simulation: npm run sim"]
fn the_full_simulation_prints_its_table() {
    let only = std::env::var("SIM_ONLY").unwrap_or_default();
    println!("{}", Report::header());
    for scenario in full().into_iter().filter(|s| s.name.contains(&only)) {
        let report = run(scenario);
        println!("{}", report.row());
    }
}
