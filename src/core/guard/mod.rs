//! Issuance limits, failed-authentication throttling and fast revocation (docs/limits.md).
//!
//! Three layers, all pure, one module each:
//! - [`objects`]: [`ClientGuardState`] and [`SourceGuardState`], what the Durable Objects keep
//!   and decide;
//! - [`view`]: [`CachedView`] and [`IsolateCache`], what an isolate remembers of the objects'
//!   answers and what it decides alone;
//! - [`limiter`]: [`Limiter`], the isolate's side, which asks the objects through a [`Backend`]
//!   only when it must, and otherwise refreshes in the background.
//!
//! This module holds what the layers share: the protections' constants and the source keys.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::{error::Error, limit::retry_after_seconds};

pub mod limiter;
pub mod objects;
pub mod view;

pub use limiter::{Backend, Limiter, Unavailable};
pub use objects::{
    ClientCommand, ClientGuardState, ClientUsage, ClientView, LeaseRequest, SourceBlock,
    SourceEntry, SourceGuardState, SourceUpdate,
};
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
/// Failures within a window, from any source, that put a client under guard.
pub const CLIENT_GUARD_THRESHOLD: u32 = 50;
/// How long a client stays under guard after its latest failure beyond the threshold.
pub const CLIENT_GUARD_MS: u64 = 60_000;
/// How long a source that authenticated as a client stays known to it.
pub const GOOD_SOURCE_MS: u64 = 24 * 3_600_000;
/// Known-good sources kept per client.
pub const MAX_GOOD_SOURCES: usize = 32;
/// Revoked secret hashes kept per client (a client has at most two live secrets).
pub const MAX_REVOKED: usize = 8;
/// Secret hashes whose last use a client's object remembers (the most recent first to stay).
pub const MAX_LAST_USED: usize = 8;
/// Failures within a window that block a source.
pub const SOURCE_THRESHOLD: u32 = 10;
/// The first block of a source; each further block doubles, up to [`SOURCE_BLOCK_MAX_MS`].
pub const SOURCE_BLOCK_MS: u64 = 30_000;
/// The longest block of a source.
pub const SOURCE_BLOCK_MAX_MS: u64 = 15 * 60_000;
/// A source without failures for this long is forgotten.
pub const SOURCE_FORGET_MS: u64 = 15 * 60_000;
/// Sources kept per shard; the least recently failing are dropped first.
pub const MAX_SOURCES_PER_SHARD: usize = 1_024;
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

/// The throttling key of a `CF-Connecting-IP` value: the address, or its /64 for IPv6.
pub fn source_key(address: &str) -> Option<String> {
    match address.trim().parse::<IpAddr>().ok()? {
        IpAddr::V4(v4) => Some(v4.to_string()),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            Some(format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3]))
        }
    }
}

/// The shard (`0..SOURCE_SHARDS`) of a source key: FNV-1a, stable across builds.
pub fn source_shard(key: &str) -> u64 {
    let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    hash % SOURCE_SHARDS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_sources_count_per_slash_64_and_ipv4_per_address() {
        assert_eq!(
            source_key("2001:db8:1:2:aaaa::1"),
            source_key("2001:db8:1:2:bbbb::9")
        );
        assert_ne!(source_key("2001:db8:1:2::1"), source_key("2001:db8:1:3::1"));
        assert_eq!(source_key(" 192.0.2.7 ").as_deref(), Some("192.0.2.7"));
        assert_eq!(source_key("not-an-ip"), None);
    }

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

    #[test]
    fn shards_are_bounded_and_stable() {
        let shards: std::collections::HashSet<u64> = (0..1000)
            .map(|i| source_shard(&format!("10.0.{}.{}", i / 256, i % 256)))
            .collect();
        assert!(shards.iter().all(|s| *s < SOURCE_SHARDS));
        assert_eq!(shards.len() as u64, SOURCE_SHARDS);
        assert_eq!(source_shard("192.0.2.1"), source_shard("192.0.2.1"));
    }
}
