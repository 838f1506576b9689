//! What this isolate has spent since it started: KV reads, Durable Object requests and calls
//! of the first gate. Every token log line carries the totals, so that an operator (and the
//! black-box tests) can tell what a stretch of traffic cost (docs/limits.md, "What a failure
//! costs"). Per isolate, because background work (failure reports, lease refreshes) ends after
//! its request's line is written.

use std::cell::Cell;

use serde::Serialize;

/// Running totals of one isolate.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Spent {
    /// Reads of the `CLIENTS` namespace.
    pub kv_reads: u64,
    /// Requests to guard objects (client objects and source shards).
    pub object_requests: u64,
    /// Calls of the first gate (the Rate Limiting binding: no storage operation).
    pub gate_calls: u64,
}

thread_local! {
    static SPENT: Cell<Spent> = Cell::default();
}

/// Adds to the isolate's totals.
pub fn add(change: impl FnOnce(&mut Spent)) {
    SPENT.with(|spent| {
        let mut totals = spent.get();
        change(&mut totals);
        spent.set(totals);
    });
}

/// The isolate's totals so far (the token Worker logs them; the admin and guard Workers only
/// count).
#[cfg(not(any(feature = "admin-worker", feature = "guard-worker")))]
pub fn spent() -> Spent {
    SPENT.with(Cell::get)
}
