//! Where a failed authentication comes from, and the shards that count failures per source
//! (docs/limits.md, "Failed-authentication throttling").
//!
//! A source is counted at several prefix lengths at once, wider ones with larger thresholds,
//! so that a whole /24 or /48 gives an attacker one budget per prefix and not one per address.
//! All the prefixes of an address live in the shard of its widest one: one object request per
//! failure.

use std::{collections::HashMap, net::IpAddr};

use serde::{Deserialize, Serialize};

use super::{Failures, SOURCE_BLOCK_MAX_MS, SOURCE_BLOCK_MS, SOURCE_FORGET_MS, SOURCE_SHARDS};

/// The one key shared by every request without a usable `CF-Connecting-IP`.
pub const UNKNOWN_SOURCE: &str = "unknown";
/// Failures within a window that block an address (IPv4 /32, IPv6 /64), or the requests
/// without one.
pub const SOURCE_THRESHOLD: u32 = 10;
/// Failures within a window that block an IPv4 /24 or an IPv6 /56.
pub const NETWORK_THRESHOLD: u32 = 40;
/// Failures within a window that block an IPv6 /48.
pub const SITE_THRESHOLD: u32 = 100;
/// Entries (one per prefix) kept per shard. A blocked entry is never dropped before its block
/// ends: a shard full of blocked entries blocks a newcomer at once instead.
pub const MAX_SOURCES_PER_SHARD: usize = 4_096;

/// A request's source: the prefixes of its address that failures count against, narrowest
/// first, or [`UNKNOWN_SOURCE`] alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    keys: Vec<String>,
}

impl Source {
    /// The source of a request from its `CF-Connecting-IP` value: IPv4 per /32 and /24, IPv6
    /// per /64, /56 and /48 (an IPv4-mapped IPv6 address counts as IPv4). A missing or
    /// unparsable value is the shared [`UNKNOWN_SOURCE`].
    pub fn from_header(value: Option<&str>) -> Self {
        let address = value.and_then(|v| v.trim().parse::<IpAddr>().ok());
        let keys = match address.map(|a| a.to_canonical()) {
            Some(IpAddr::V4(v4)) => ipv4_keys(v4),
            Some(IpAddr::V6(v6)) => {
                let s = v6.segments();
                vec![
                    format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3]),
                    format!("{:x}:{:x}:{:x}:{:x}::/56", s[0], s[1], s[2], s[3] & 0xff00),
                    format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2]),
                ]
            }
            None => vec![UNKNOWN_SOURCE.to_owned()],
        };
        Self { keys }
    }

    /// The narrowest key: what a client's object learns as a known-good source.
    pub fn key(&self) -> &str {
        self.keys.first().map_or(UNKNOWN_SOURCE, String::as_str)
    }

    /// The widest key: the shard of every key of the source, and the prefix a client's object
    /// counts failures against.
    pub fn prefix(&self) -> &str {
        self.keys.last().map_or(UNKNOWN_SOURCE, String::as_str)
    }

    /// Every key, narrowest first.
    pub fn keys(&self) -> &[String] {
        &self.keys
    }

    /// Whether the request named a usable address (else it shares the unknown bucket, and
    /// is never learnt as a known-good source).
    pub fn has_address(&self) -> bool {
        self.key() != UNKNOWN_SOURCE
    }

    /// The shard (`0..SOURCE_SHARDS`) that counts this source's failures.
    pub fn shard(&self) -> u64 {
        source_shard(self.prefix())
    }
}

fn ipv4_keys(v4: std::net::Ipv4Addr) -> Vec<String> {
    let o = v4.octets();
    vec![v4.to_string(), format!("{}.{}.{}.0/24", o[0], o[1], o[2])]
}

/// The narrowest key of an address ([`Source::key`]): the address for IPv4, its /64 for
/// IPv6; `None` when `address` is not one.
pub fn source_key(address: &str) -> Option<String> {
    let source = Source::from_header(Some(address));
    source.has_address().then(|| source.key().to_owned())
}

/// The failures within a window that block the prefix `key` (a key of a [`Source`]).
pub fn threshold(key: &str) -> u32 {
    if key.ends_with("/48") {
        SITE_THRESHOLD
    } else if key.ends_with("/24") || key.ends_with("/56") {
        NETWORK_THRESHOLD
    } else {
        SOURCE_THRESHOLD
    }
}

/// The shard (`0..SOURCE_SHARDS`) of a source key: FNV-1a, stable across builds.
pub fn source_shard(key: &str) -> u64 {
    let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    hash % SOURCE_SHARDS
}

/// One prefix's failures, as a shard stores it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceEntry {
    failures: Failures,
    blocks: u32,
    blocked_until: u64,
    last_failure: u64,
}

impl SourceEntry {
    fn is_blocked(&self, now: u64) -> bool {
        self.blocked_until > now
    }
}

/// A blocked prefix, as a shard lists it for an operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceBlock {
    /// The prefix key ([`Source::keys`]): an IPv4 address or /24, an IPv6 /64, /56 or /48,
    /// or `unknown`.
    pub source: String,
    /// Until when (Unix ms) it is blocked.
    pub blocked_until: u64,
    /// Its blocks so far: each lasts twice the one before, up to the cap.
    pub blocks: u32,
}

/// What a failure changed in a shard, so that only that is written to storage.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceUpdate {
    /// `[key, Unix ms]`: the source's prefixes that are blocked, and until when.
    pub blocked: Vec<(String, u64)>,
    /// The entries the failure changed.
    pub changed: Vec<(String, SourceEntry)>,
    /// Entries dropped (quiet too long, or the least recently failing unblocked entry of a
    /// full shard).
    pub forgotten: Vec<String>,
}

/// What a shard of sources keeps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceGuardState {
    entries: HashMap<String, SourceEntry>,
}

impl SourceGuardState {
    /// A shard's state from its stored entries.
    pub fn restore(entries: impl IntoIterator<Item = (String, SourceEntry)>) -> Self {
        Self {
            entries: entries.into_iter().collect(),
        }
    }

    /// Counts a failure against each of a source's prefixes ([`Source::keys`]).
    pub fn failure(&mut self, now: u64, keys: &[String]) -> SourceUpdate {
        self.count_all(now, keys, false)
    }

    /// A failure that took these prefixes over their first gates ([`crate::core::gate`]): their
    /// thresholds' failures were counted there, so they are blocked now, unless they already
    /// are (another isolate's report of the same trip doubles nothing).
    pub fn tripped(&mut self, now: u64, keys: &[String]) -> SourceUpdate {
        self.count_all(now, keys, true)
    }

    fn count_all(&mut self, now: u64, keys: &[String], tripped: bool) -> SourceUpdate {
        let mut update = SourceUpdate {
            forgotten: self.forget_quiet(now),
            ..SourceUpdate::default()
        };
        for key in keys {
            self.count(now, key, tripped, &mut update);
        }
        update
    }

    fn forget_quiet(&mut self, now: u64) -> Vec<String> {
        let quiet: Vec<String> = self
            .entries
            .iter()
            .filter(|(_, e)| {
                !e.is_blocked(now) && now.saturating_sub(e.last_failure) >= SOURCE_FORGET_MS
            })
            .map(|(k, _)| k.clone())
            .collect();
        for key in &quiet {
            self.entries.remove(key);
        }
        quiet
    }

    /// Counts one failure against `key`. A new key in a full shard takes the place of the
    /// least recently failing unblocked entry; when every entry is blocked, it is blocked for
    /// [`SOURCE_BLOCK_MS`] without an entry.
    fn count(&mut self, now: u64, key: &str, tripped: bool, update: &mut SourceUpdate) {
        if !self.entries.contains_key(key) && self.entries.len() >= MAX_SOURCES_PER_SHARD {
            let oldest = self
                .entries
                .iter()
                .filter(|(_, e)| !e.is_blocked(now))
                .min_by_key(|(_, e)| e.last_failure)
                .map(|(k, _)| k.clone());
            let Some(oldest) = oldest else {
                update.blocked.push((key.to_owned(), now + SOURCE_BLOCK_MS));
                return;
            };
            self.entries.remove(&oldest);
            update.forgotten.push(oldest);
        }
        let entry = self.entries.entry(key.to_owned()).or_default();
        entry.last_failure = now;
        let reached = if tripped {
            !entry.is_blocked(now)
        } else {
            entry.failures.add(now) >= threshold(key)
        };
        if reached {
            entry.blocks += 1;
            let factor = 1_u64 << (entry.blocks - 1).min(10);
            entry.blocked_until = now + (SOURCE_BLOCK_MS * factor).min(SOURCE_BLOCK_MAX_MS);
            entry.failures = Failures::default();
        }
        if entry.is_blocked(now) {
            update.blocked.push((key.to_owned(), entry.blocked_until));
        }
        update.changed.push((key.to_owned(), *entry));
    }

    /// The prefixes blocked at `now`, for an operator.
    pub fn blocked(&self, now: u64) -> Vec<SourceBlock> {
        self.entries
            .iter()
            .filter(|(_, e)| e.is_blocked(now))
            .map(|(key, e)| SourceBlock {
                source: key.clone(),
                blocked_until: e.blocked_until,
                blocks: e.blocks,
            })
            .collect()
    }

    /// Forgets the failures and blocks of these prefixes (of every one when `None`), for an
    /// operator; answers the keys forgotten.
    pub fn clear(&mut self, keys: Option<&[String]>) -> Vec<String> {
        match keys {
            Some(keys) => keys
                .iter()
                .filter_map(|k| self.entries.remove_entry(k).map(|(k, _)| k))
                .collect(),
            None => self.entries.drain().map(|(k, _)| k).collect(),
        }
    }

    /// How many prefixes the shard remembers.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the shard remembers no prefix.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(address: &str) -> Vec<String> {
        Source::from_header(Some(address)).keys().to_vec()
    }

    #[test]
    fn ipv4_counts_per_address_and_per_24_and_ipv6_per_64_56_and_48() {
        assert_eq!(keys(" 192.0.2.7 "), ["192.0.2.7", "192.0.2.0/24"]);
        assert_eq!(keys("::ffff:192.0.2.7"), ["192.0.2.7", "192.0.2.0/24"]);
        assert_eq!(
            keys("2001:db8:1:2a3:aaaa::1"),
            [
                "2001:db8:1:2a3::/64",
                "2001:db8:1:200::/56",
                "2001:db8:1::/48"
            ]
        );
        assert_eq!(
            Source::from_header(Some("2001:db8:1:2:aaaa::1")).key(),
            Source::from_header(Some("2001:db8:1:2:bbbb::9")).key()
        );
        let thresholds: Vec<u32> = keys("2001:db8::1").iter().map(|k| threshold(k)).collect();
        assert_eq!(thresholds, [10, 40, 100]);
        assert_eq!(threshold("192.0.2.0/24"), 40);
    }

    #[test]
    fn a_prefix_over_its_gate_is_blocked_at_once_and_a_second_report_doubles_nothing() {
        let mut shard = SourceGuardState::default();
        let address = vec!["192.0.2.7".to_owned()];
        let until = |update: SourceUpdate| update.blocked[0].1;
        assert_eq!(
            until(shard.tripped(1_000, &address)),
            1_000 + SOURCE_BLOCK_MS
        );
        assert_eq!(
            until(shard.tripped(2_000, &address)),
            1_000 + SOURCE_BLOCK_MS
        );
        let later = 1_000 + SOURCE_BLOCK_MS;
        assert_eq!(
            until(shard.tripped(later, &address)),
            later + 2 * SOURCE_BLOCK_MS
        );
        assert_eq!(shard.blocked(later)[0].blocks, 2, "an operator sees it");
    }

    #[test]
    fn a_request_without_a_usable_address_shares_the_unknown_bucket() {
        for value in [
            None,
            Some(""),
            Some("not-an-ip"),
            Some("192.0.2.7, 10.0.0.1"),
        ] {
            let source = Source::from_header(value);
            assert_eq!(source.keys(), [UNKNOWN_SOURCE]);
            assert!(!source.has_address());
            assert_eq!(threshold(source.key()), SOURCE_THRESHOLD);
        }
        assert!(Source::from_header(Some("192.0.2.7")).has_address());
    }

    #[test]
    fn every_prefix_of_an_address_is_in_the_shard_of_the_widest() {
        let source = Source::from_header(Some("2001:db8:1:2::1"));
        assert_eq!(source.prefix(), "2001:db8:1::/48");
        assert_eq!(source.shard(), source_shard("2001:db8:1::/48"));
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

    #[test]
    fn a_source_is_blocked_for_growing_intervals_up_to_the_cap() {
        let mut state = SourceGuardState::default();
        let (mut blocks, mut now, mut last) = (Vec::new(), 0, 0);
        let s = ["s".to_owned()];
        for _ in 0..8 * SOURCE_THRESHOLD {
            now += 10;
            let until = state.failure(now, &s).blocked.first().map_or(0, |b| b.1);
            if until != last && until != 0 {
                blocks.push(until - now);
                last = until;
            }
        }
        let doubling = [30_000, 60_000, 120_000, 240_000, 480_000];
        assert_eq!(blocks[..5], doubling);
        assert_eq!(blocks[5..], [SOURCE_BLOCK_MAX_MS; 3]);
    }

    #[test]
    fn failures_spread_over_a_network_block_the_network_and_not_its_addresses() {
        let mut state = SourceGuardState::default();
        let mut last = SourceUpdate::default();
        for i in 0..NETWORK_THRESHOLD {
            last = state.failure(1_000, &keys(&format!("192.0.2.{}", i % 8)));
        }
        assert_eq!(last.blocked, [("192.0.2.0/24".to_owned(), 31_000)]);
        let other = state.failure(1_000, &keys("192.0.3.1"));
        assert!(other.blocked.is_empty());
    }

    #[test]
    fn a_quiet_source_is_forgotten_and_shards_are_bounded() {
        let mut state = SourceGuardState::default();
        for i in 0..(MAX_SOURCES_PER_SHARD + 10) {
            let update = state.failure(i as u64, &[format!("s{i}")]);
            let dropped = i
                .checked_sub(MAX_SOURCES_PER_SHARD)
                .map(|n| format!("s{n}"));
            assert_eq!(update.forgotten, dropped.into_iter().collect::<Vec<_>>());
        }
        assert_eq!(state.len(), MAX_SOURCES_PER_SHARD);
        let late = ["late".to_owned()];
        let update = state.failure(10 * SOURCE_FORGET_MS, &late);
        assert_eq!(update.forgotten.len(), MAX_SOURCES_PER_SHARD);
        assert_eq!(state.len(), 1);
        let restored = SourceGuardState::restore(update.changed);
        assert_eq!(restored, state);
    }

    /// A shard holding `n` entries blocked until `until`, besides the ones given.
    fn blocked_shard(n: usize, until: u64) -> SourceGuardState {
        let entry = SourceEntry {
            blocked_until: until,
            blocks: 1,
            ..SourceEntry::default()
        };
        SourceGuardState::restore((0..n).map(|i| (format!("b{i}"), entry)))
    }

    #[test]
    fn a_blocked_source_is_never_evicted_before_its_block_ends_whatever_the_flood() {
        let mut state = blocked_shard(MAX_SOURCES_PER_SHARD / 2, 0);
        let attacker = ["attacker".to_owned()];
        for _ in 0..SOURCE_THRESHOLD {
            state.failure(1, &attacker);
        }
        // A flood of new sources, more than the shard holds, within the block.
        for i in 0..MAX_SOURCES_PER_SHARD {
            let update = state.failure(2 + i as u64, &[format!("flood-{i}")]);
            assert!(!update.forgotten.contains(&attacker[0]), "evicted at {i}");
        }
        assert_eq!(state.len(), MAX_SOURCES_PER_SHARD);
        let again = state.failure(20_000, &attacker);
        assert_eq!(
            again.blocked.first().map(|b| b.0.as_str()),
            Some("attacker")
        );
    }

    #[test]
    fn a_shard_full_of_blocked_sources_blocks_a_newcomer_instead_of_forgetting_one() {
        let mut state = blocked_shard(MAX_SOURCES_PER_SHARD, 60_000);
        let update = state.failure(5, &["newcomer".to_owned()]);
        assert_eq!(
            update.blocked,
            [("newcomer".to_owned(), 5 + SOURCE_BLOCK_MS)]
        );
        assert!(update.forgotten.is_empty() && update.changed.is_empty());
        assert_eq!(state.len(), MAX_SOURCES_PER_SHARD);
        // Once the blocks end, the least recently failing entry makes room.
        let later = state.failure(60_000, &["newcomer".to_owned()]);
        assert_eq!(later.forgotten.len(), 1);
        assert_eq!(later.changed.len(), 1);
    }

    #[test]
    fn an_operator_sees_blocked_prefixes_and_clearing_an_address_forgets_its_doubling() {
        let mut shard = SourceGuardState::default();
        for address in ["192.0.2.1", "192.0.2.2"] {
            for _ in 0..SOURCE_THRESHOLD {
                shard.failure(0, &keys(address));
            }
        }
        shard.failure(0, &keys("192.0.2.3"));
        let mut blocked = shard.blocked(1);
        blocked.sort_by(|a, b| a.source.cmp(&b.source));
        let sources: Vec<&str> = blocked.iter().map(|b| b.source.as_str()).collect();
        assert_eq!(sources, ["192.0.2.1", "192.0.2.2"]);
        assert_eq!(
            (blocked[0].blocked_until, blocked[0].blocks),
            (SOURCE_BLOCK_MS, 1)
        );
        let cleared = shard.clear(Some(&keys("192.0.2.1")));
        assert_eq!(
            cleared,
            ["192.0.2.1", "192.0.2.0/24"],
            "every prefix of the address"
        );
        assert!(shard.clear(Some(&keys("192.0.2.1"))).is_empty());
        // Blocked again: the first block's length, not twice it.
        let mut last = 0;
        for _ in 0..SOURCE_THRESHOLD {
            last = shard
                .failure(1, &keys("192.0.2.1"))
                .blocked
                .first()
                .map_or(0, |b| b.1);
        }
        assert_eq!(last, 1 + SOURCE_BLOCK_MS);
        assert_eq!(shard.clear(None).len(), 4);
        assert!(shard.is_empty());
    }
}
