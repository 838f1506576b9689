//! Issuance limits, failed-authentication throttling and fast revocation (docs/limits.md).
//!
//! All pure, one module per idea:
//! - [`objects`]: [`ClientGuardState`], what a client's Durable Object keeps and decides;
//! - [`assertions`]: the `jti`s of a client's assertions, kept in its object (single use);
//! - [`quota`]: hourly and daily quotas per client and per tenant, counted through the leases;
//! - [`record`]: [`RecordWrite`], the admin API's compare-and-set writes through a client's
//!   object, numbered by record version, and their undo;
//! - [`source`]: [`Source`], the prefixes a request's failures count against, and
//!   [`SourceGuardState`], what a shard of them keeps and decides;
//! - [`stored`]: [`Stored`], an object's state kept in agreement with its storage;
//! - [`tokens`]: the access tokens a client revoked, kept in its object in their own entries;
//! - [`view`]: [`CachedView`] and [`IsolateCache`], what an isolate remembers of the objects'
//!   answers and what it decides alone;
//! - [`limiter`]: [`Limiter`], the isolate's side, which asks the objects through a [`Backend`]
//!   only when it must, and otherwise refreshes in the background.
//!
//! This module holds what the layers share: the protections' constants and the counters.

use serde::{Deserialize, Serialize};

use super::{error::Error, limit::retry_after_seconds};

pub mod assertions;
pub mod limiter;
pub mod objects;
pub mod quota;
pub mod record;
pub mod source;
pub mod stored;
pub mod tokens;
pub mod view;

pub use assertions::{SpendAnswer, SpendBatch, SpendRequest, Spent};
pub use limiter::{Admission, Backend, Limiter, Unavailable};
pub use objects::{
    ClientCommand, ClientGuardState, ClientUsage, ClientView, FailureReport, LeaseRequest,
};
pub use quota::{
    tenant_guard_name, BlockRequest, Quota, QuotaMode, QuotaRequest, QuotaUsage, QuotaWindow, Taken,
};
pub use record::{RecordAnswer, RecordMark, RecordRequest, RecordUndo, RecordWrite};
pub use source::{
    source_key, source_shard, Source, SourceBlock, SourceEntry, SourceGuardState, SourceUpdate,
    MAX_SOURCES_PER_SHARD, SOURCE_THRESHOLD,
};
pub use stored::{Storage, StorageFailed, Stored};
pub use view::{CachedView, IsolateCache, Step};

/// How long an isolate may use a client's revocation view (and its lease) after the object
/// answered: revocation reaches every location within this time.
pub const VIEW_TTL_MS: u64 = 1_000;
/// An isolate refreshes a view this old in the background, before it goes stale.
pub const REFRESH_AFTER_MS: u64 = 500;
/// While its object is busy, an isolate refreshes a view only this old: late enough to halve
/// its refreshes, early enough for the answer to come back (round trips are under 250 ms).
pub const BUSY_REFRESH_AFTER_MS: u64 = VIEW_TTL_MS - 250;
/// Lease requests a second past which a client's object calls itself busy (a quarter of the
/// soft limit of about 1 000 requests a second of a Durable Object).
pub const BUSY_ASKS_PER_SECOND: u64 = 250;
/// How long a client's object applies a limit an operator changed over the isolates' copies
/// of the record: KV's propagation (up to 60 s) plus an isolate's record cache
/// ([`crate::core::client::RECORD_TTL_MS`]), and a margin.
pub const LIMIT_HOLD_MS: u64 = 60_000 + crate::core::client::RECORD_TTL_MS + 5_000;
/// Failures are counted in fixed windows of this length.
pub const FAILURE_WINDOW_MS: u64 = 60_000;
/// Failures within a window, from any source, that put a client with an imported secret
/// under guard.
pub const CLIENT_GUARD_THRESHOLD: u32 = 50;
/// Failures within a window against one client from one source prefix
/// ([`Source::prefix`]) that put that pair under guard.
pub const CLIENT_PREFIX_THRESHOLD: u32 = 20;
/// How long a client (or a client and prefix) stays under guard after its latest failure
/// beyond the threshold.
pub const CLIENT_GUARD_MS: u64 = 60_000;
/// Source prefixes whose failures a client's object counts; when all are in use, a new one
/// takes the place of one that is not under guard, or is not counted.
pub const MAX_CLIENT_PREFIXES: usize = 64;
/// How long a source that authenticated as a client stays known to it.
pub const GOOD_SOURCE_MS: u64 = 24 * 3_600_000;
/// Known-good sources kept per client.
pub const MAX_GOOD_SOURCES: usize = 32;
/// New sources an isolate notes as served for a client until its next lease request carries
/// them to the object (further ones wait for a later request).
pub const MAX_SEEN_SOURCES: usize = 8;
/// Revoked secret hashes kept per client (a client has at most two live secrets).
pub const MAX_REVOKED: usize = 8;
/// Secret hashes whose last use a client's object remembers (the most recent first to stay).
pub const MAX_LAST_USED: usize = 8;
/// The first block of a source; each further block doubles, up to [`SOURCE_BLOCK_MAX_MS`].
pub const SOURCE_BLOCK_MS: u64 = 30_000;
/// The longest block of a source.
pub const SOURCE_BLOCK_MAX_MS: u64 = 15 * 60_000;
/// A source without failures for this long is forgotten.
pub const SOURCE_FORGET_MS: u64 = 15 * 60_000;
/// Source addresses are spread over this many objects.
pub const SOURCE_SHARDS: u64 = 16;

/// Events counted per second of the clock: the current second and the one before. An object
/// counts the lease requests it receives (how many isolates share the bucket); an isolate
/// counts the tokens it spends for a client (how large a lease it needs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PerSecond {
    second: u64,
    this: u64,
    last: u64,
}

impl PerSecond {
    /// The count of the current second and the previous one, at `now` (Unix ms).
    fn roll(&mut self, now: u64) {
        let second = now / 1_000;
        if second != self.second {
            self.last = if second == self.second + 1 {
                self.this
            } else {
                0
            };
            self.this = 0;
            self.second = second;
        }
    }

    /// Counts one event at `now`.
    pub fn add(&mut self, now: u64) {
        self.roll(now);
        self.this += 1;
    }

    /// The recent rate at `now`: the larger count of this second and the last.
    pub fn recent(&mut self, now: u64) -> u64 {
        self.roll(now);
        self.this.max(self.last)
    }
}

/// What a caller is answered when a protection refuses it.
fn throttled(wait_ms: u64) -> Error {
    Error::Throttled {
        retry_after: retry_after_seconds(wait_ms),
    }
}

/// A fixed-window failure counter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Failures {
    count: u32,
    window_start: u64,
}

impl Failures {
    /// Counts one failure at `now`; returns the count in the current window.
    fn add(&mut self, now: u64) -> u32 {
        if now.saturating_sub(self.window_start) >= FAILURE_WINDOW_MS {
            *self = Self {
                count: 0,
                window_start: now,
            };
        }
        self.count += 1;
        self.count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_per_second_count_remembers_this_second_and_the_last_only() {
        let mut count = PerSecond::default();
        for at in [10_000, 10_500, 10_999, 11_200] {
            count.add(at);
        }
        assert_eq!(count.recent(11_300), 3);
        count.add(11_400);
        count.add(11_500);
        assert_eq!(count.recent(11_999), 3);
        assert_eq!(count.recent(12_000), 3);
        assert_eq!(count.recent(13_000), 0);
    }
}
