//! The objects' state machines: what a client's Durable Object and a shard of source
//! addresses keep, and what they decide on each call.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::{
    PerSecond, BUSY_ASKS_PER_SECOND, CLIENT_GUARD_MS, CLIENT_GUARD_THRESHOLD, FAILURE_WINDOW_MS,
    GOOD_SOURCE_MS, MAX_GOOD_SOURCES, MAX_LAST_USED, MAX_REVOKED, MAX_SOURCES_PER_SHARD,
    SOURCE_BLOCK_MAX_MS, SOURCE_BLOCK_MS, SOURCE_FORGET_MS, SOURCE_THRESHOLD,
};
use crate::core::limit::{Bucket, Limit};

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

/// An isolate's request for a lease.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseRequest {
    /// The client's limit, from its record (the object has no other copy).
    pub per_minute: u64,
    /// The client's burst.
    pub burst: u64,
    /// Tokens wanted (capped by the object at [`Limit::lease_cap`]).
    pub want: u64,
    /// Tokens of an earlier lease the isolate gives back unspent (it no longer needs them).
    #[serde(default)]
    pub returned: u64,
    /// The source that just authenticated as the client, if known.
    pub source: Option<String>,
    /// The hash of the secret it used (never the secret).
    pub secret_hash: String,
}

/// A client object's answer: a lease and the revocation and guard state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientView {
    /// Tokens leased to the isolate.
    pub granted: u64,
    /// When nothing was granted: milliseconds until a token is available.
    pub wait_ms: u64,
    /// The client is disabled.
    pub disabled: bool,
    /// Hashes of revoked secrets.
    pub revoked: Vec<String>,
    /// Until when (Unix ms) the client is under guard.
    pub guarded_until: u64,
    /// Sources that authenticated as the client recently.
    pub good_sources: Vec<String>,
    /// The object receives more than [`BUSY_ASKS_PER_SECOND`] lease requests a second:
    /// isolates refresh their views as late as the view allows.
    #[serde(default)]
    pub busy: bool,
    /// The limit an operator just set ([`ClientCommand::SetLimit`]), while it overrides the
    /// isolates' copies of the record; isolates use it instead of their copy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<Limit>,
}

/// An operator's change to a client's object (the admin API; tests).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum ClientCommand {
    /// Refuse the client everywhere, at once.
    Disable,
    /// Serve the client again.
    Enable,
    /// Refuse a secret everywhere, at once.
    RevokeSecret {
        /// Its hash, as stored in the client record.
        hash: String,
    },
    /// Apply a changed limit at once, over the one the isolates' copies of the record carry,
    /// until `until_ms` (Unix ms; [`super::LIMIT_HOLD_MS`] after the change), by when every
    /// isolate reads the new record.
    SetLimit {
        /// The new limit.
        limit: Limit,
        /// Until when the object applies it over the one a lease request carries.
        until_ms: u64,
    },
}

/// What a client's Durable Object keeps.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientGuardState {
    bucket: Option<(u64, u64)>,
    disabled: bool,
    revoked: Vec<String>,
    failures: Failures,
    guarded_until: u64,
    good_sources: Vec<(String, u64)>,
    /// `[secret hash, Unix ms]` of the latest lease asked for on behalf of each secret; absent
    /// in state stored before it existed.
    #[serde(default)]
    last_used: Vec<(String, u64)>,
    /// Lease requests per second: how many isolates share the bucket now.
    #[serde(default)]
    asks: PerSecond,
    /// An operator's limit and until when it overrides the lease requests' (absent in state
    /// stored before it existed).
    #[serde(default)]
    limit_set: Option<(Limit, u64)>,
}

/// What an operator may read of a client's object (`/usage`): never changes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientUsage {
    /// The object refuses the client.
    pub disabled: bool,
    /// Hashes of revoked secrets.
    pub revoked: Vec<String>,
    /// `[secret hash, Unix ms]`: when a lease was last asked for with each secret. Approximate:
    /// an isolate asks at most about once a second per client while it serves it, and a
    /// request served from a lease another secret's request obtained is not seen.
    pub last_used: Vec<(String, u64)>,
}

impl ClientGuardState {
    /// Grants a lease (none when the client is disabled or the secret revoked), and remembers
    /// the source as good.
    pub fn lease(&mut self, now: u64, request: &LeaseRequest) -> ClientView {
        let known = request
            .source
            .as_ref()
            .is_some_and(|s| self.good_sources.iter().any(|(g, _)| g == s));
        // Under guard, an unknown source is neither served nor learnt as good.
        let guarded = self.guarded_until > now && !known;
        let refused = guarded || self.disabled || self.revoked.contains(&request.secret_hash);
        self.limit_set = self.limit_set.filter(|(_, until)| *until > now);
        let limit = self.limit_set.map_or(
            Limit {
                per_minute: request.per_minute.max(1),
                burst: request.burst.max(1),
            },
            |(limit, _)| limit,
        );
        let mut bucket = self.bucket.map_or(Bucket::full(limit, now), |(milli, at)| {
            Bucket::from_parts(milli, at)
        });
        bucket.give_back(limit, now, request.returned);
        self.asks.add(now);
        let asks = self.asks.recent(now);
        let want = if refused {
            0
        } else {
            request.want.min(limit.lease_cap(asks))
        };
        let granted = bucket.take(limit, now, want);
        let wait_ms = if granted == 0 {
            bucket.wait_ms(limit, now)
        } else {
            0
        };
        self.bucket = Some(bucket.parts());
        if let (Some(source), false) = (&request.source, refused) {
            self.good_sources
                .retain(|(s, at)| s != source && now.saturating_sub(*at) < GOOD_SOURCE_MS);
            self.good_sources.push((source.clone(), now));
            let excess = self.good_sources.len().saturating_sub(MAX_GOOD_SOURCES);
            self.good_sources.drain(..excess);
        }
        if !refused {
            self.last_used.retain(|(h, _)| h != &request.secret_hash);
            self.last_used.push((request.secret_hash.clone(), now));
            let excess = self.last_used.len().saturating_sub(MAX_LAST_USED);
            self.last_used.drain(..excess);
        }
        ClientView {
            busy: asks > BUSY_ASKS_PER_SECOND,
            ..self.view(granted, wait_ms)
        }
    }

    /// Counts a failed authentication; past the threshold the client goes under guard.
    pub fn failure(&mut self, now: u64) -> ClientView {
        if self.failures.add(now) >= CLIENT_GUARD_THRESHOLD {
            self.guarded_until = now + CLIENT_GUARD_MS;
        }
        self.view(0, 0)
    }

    /// Applies an operator's command.
    pub fn apply(&mut self, command: ClientCommand) -> ClientView {
        match command {
            ClientCommand::Disable => self.disabled = true,
            ClientCommand::Enable => self.disabled = false,
            ClientCommand::RevokeSecret { hash } => {
                if !self.revoked.contains(&hash) {
                    self.revoked.push(hash);
                    let excess = self.revoked.len().saturating_sub(MAX_REVOKED);
                    self.revoked.drain(..excess);
                }
            }
            ClientCommand::SetLimit { limit, until_ms } => {
                self.limit_set = Some((limit, until_ms));
            }
        }
        self.view(0, 0)
    }

    /// What the admin API shows of the object.
    pub fn usage(&self) -> ClientUsage {
        ClientUsage {
            disabled: self.disabled,
            revoked: self.revoked.clone(),
            last_used: self.last_used.clone(),
        }
    }

    fn view(&self, granted: u64, wait_ms: u64) -> ClientView {
        ClientView {
            granted,
            wait_ms,
            disabled: self.disabled,
            revoked: self.revoked.clone(),
            guarded_until: self.guarded_until,
            good_sources: self.good_sources.iter().map(|(s, _)| s.clone()).collect(),
            busy: false,
            limit: self.limit_set.map(|(limit, _)| limit),
        }
    }
}

/// One source's failures, as a shard stores it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceEntry {
    failures: Failures,
    blocks: u32,
    blocked_until: u64,
    last_failure: u64,
}

/// A blocked source, as a shard lists it for an operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceBlock {
    /// The source key: an IPv4 address or an IPv6 /64.
    pub source: String,
    /// Until when (Unix ms) it is blocked.
    pub blocked_until: u64,
    /// Its blocks so far: each lasts twice the one before, up to the cap.
    pub blocks: u32,
}

/// What a failure changed in a shard, so that only that is written to storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceUpdate {
    /// Until when (Unix ms) the source is blocked, 0 if it is not.
    pub blocked_until: u64,
    /// The source's entry after the failure.
    pub entry: SourceEntry,
    /// Sources dropped (quiet too long, or the oldest of a full shard).
    pub forgotten: Vec<String>,
}

/// What a shard of source addresses keeps.
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

    /// Counts a failure from `source`.
    pub fn failure(&mut self, now: u64, source: &str) -> SourceUpdate {
        let mut forgotten: Vec<String> = self
            .entries
            .iter()
            .filter(|(_, e)| now.saturating_sub(e.last_failure) >= SOURCE_FORGET_MS)
            .map(|(k, _)| k.clone())
            .collect();
        for key in &forgotten {
            self.entries.remove(key);
        }
        if self.entries.len() >= MAX_SOURCES_PER_SHARD && !self.entries.contains_key(source) {
            if let Some(oldest) = self
                .entries
                .iter()
                .min_by_key(|(_, e)| e.last_failure)
                .map(|(k, _)| k.clone())
            {
                self.entries.remove(&oldest);
                forgotten.push(oldest);
            }
        }
        let entry = self.entries.entry(source.to_owned()).or_default();
        entry.last_failure = now;
        if entry.failures.add(now) >= SOURCE_THRESHOLD {
            entry.blocks += 1;
            let factor = 1_u64 << (entry.blocks - 1).min(10);
            entry.blocked_until = now + (SOURCE_BLOCK_MS * factor).min(SOURCE_BLOCK_MAX_MS);
            entry.failures = Failures::default();
        }
        SourceUpdate {
            blocked_until: entry.blocked_until,
            entry: *entry,
            forgotten,
        }
    }

    /// The sources blocked at `now`, the soonest released first.
    pub fn blocked(&self, now: u64) -> Vec<SourceBlock> {
        let mut blocked: Vec<SourceBlock> = self
            .entries
            .iter()
            .filter(|(_, e)| e.blocked_until > now)
            .map(|(source, e)| SourceBlock {
                source: source.clone(),
                blocked_until: e.blocked_until,
                blocks: e.blocks,
            })
            .collect();
        blocked.sort_by(|a, b| (a.blocked_until, &a.source).cmp(&(b.blocked_until, &b.source)));
        blocked
    }

    /// Forgets `source`, or every source when `None`: failures, block and the count that
    /// doubles the next block. Returns the sources forgotten, to delete from storage.
    pub fn clear(&mut self, source: Option<&str>) -> Vec<String> {
        let forgotten: Vec<String> = match source {
            Some(source) => self
                .entries
                .remove_entry(source)
                .map(|(k, _)| k)
                .into_iter()
                .collect(),
            None => self.entries.drain().map(|(k, _)| k).collect(),
        };
        forgotten
    }

    /// How many sources the shard remembers.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the shard remembers no source.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: Limit = Limit {
        per_minute: 60,
        burst: 8,
    };

    fn lease_request(want: u64) -> LeaseRequest {
        LeaseRequest {
            per_minute: LIMIT.per_minute,
            burst: LIMIT.burst,
            want,
            returned: 0,
            source: Some("192.0.2.1".into()),
            secret_hash: "h1".into(),
        }
    }

    #[test]
    fn leases_shrink_as_more_isolates_ask_and_come_out_of_the_bucket() {
        let mut state = ClientGuardState::default();
        let granted: Vec<u64> = (0..8)
            .map(|_| state.lease(0, &lease_request(10)).granted)
            .collect();
        // A quarter of the burst, then half the burst shared among the askers of the second.
        assert_eq!(granted, [2, 2, 1, 1, 1, 1, 0, 0]);
        assert_eq!(state.lease(0, &lease_request(1)).wait_ms, 1_000);
    }

    #[test]
    fn tokens_given_back_can_be_leased_again() {
        let mut state = ClientGuardState::default();
        for _ in 0..6 {
            state.lease(0, &lease_request(10));
        }
        let mut giving_back = lease_request(0);
        giving_back.returned = 3;
        assert_eq!(state.lease(0, &giving_back).granted, 0);
        let again: u64 = (0..5)
            .map(|_| state.lease(0, &lease_request(1)).granted)
            .sum();
        assert_eq!(again, 3);
    }

    #[test]
    fn an_object_asked_more_than_its_busy_rate_says_so() {
        let mut state = ClientGuardState::default();
        let busy: Vec<bool> = (0..=BUSY_ASKS_PER_SECOND)
            .map(|i| state.lease(i, &lease_request(0)).busy)
            .collect();
        assert!(!busy[..BUSY_ASKS_PER_SECOND as usize].iter().any(|b| *b));
        assert!(busy[BUSY_ASKS_PER_SECOND as usize]);
        // Two seconds later, the rush is forgotten.
        assert!(!state.lease(3_000, &lease_request(0)).busy);
    }

    #[test]
    fn an_operator_sees_blocked_sources_and_clearing_one_forgets_its_doubling() {
        let mut shard = SourceGuardState::default();
        for source in ["192.0.2.1", "192.0.2.2"] {
            for _ in 0..SOURCE_THRESHOLD {
                shard.failure(0, source);
            }
        }
        shard.failure(0, "192.0.2.3");
        let blocked = shard.blocked(1);
        let sources: Vec<&str> = blocked.iter().map(|b| b.source.as_str()).collect();
        assert_eq!(sources, ["192.0.2.1", "192.0.2.2"]);
        assert_eq!(
            (blocked[0].blocked_until, blocked[0].blocks),
            (SOURCE_BLOCK_MS, 1)
        );
        assert_eq!(shard.clear(Some("192.0.2.1")), ["192.0.2.1"]);
        assert_eq!(shard.clear(Some("192.0.2.1")), Vec::<String>::new());
        // Blocked again: the first block's length, not twice it.
        let mut last = 0;
        for _ in 0..SOURCE_THRESHOLD {
            last = shard.failure(1, "192.0.2.1").blocked_until;
        }
        assert_eq!(last, 1 + SOURCE_BLOCK_MS);
        assert_eq!(shard.clear(None).len(), 3);
        assert!(shard.is_empty());
    }

    #[test]
    fn a_limit_set_by_the_operator_overrides_the_lease_requests_until_it_lapses() {
        let mut state = ClientGuardState::default();
        assert_eq!(state.lease(0, &lease_request(2)).granted, 2);
        let lowered = Limit {
            per_minute: 5,
            burst: 2,
        };
        let set = state.apply(ClientCommand::SetLimit {
            limit: lowered,
            until_ms: 70_000,
        });
        assert_eq!(set.limit, Some(lowered));
        // The request still carries the old limit (a stale record); the bucket holds 2.
        let granted: u64 = (0..8)
            .map(|_| state.lease(0, &lease_request(10)).granted)
            .sum();
        assert_eq!(granted, 2);
        assert_eq!(state.lease(0, &lease_request(1)).limit, Some(lowered));
        // Lapsed: the request's limit (by then the new record everywhere) applies again.
        let later = state.lease(80_000, &lease_request(1));
        assert_eq!((later.limit, later.granted), (None, 1));
    }

    #[test]
    fn a_disabled_client_or_revoked_secret_gets_no_lease_and_is_not_remembered() {
        let mut state = ClientGuardState::default();
        state.apply(ClientCommand::RevokeSecret { hash: "h1".into() });
        let view = state.lease(0, &lease_request(2));
        assert_eq!(
            (view.granted, view.revoked.clone()),
            (0, vec!["h1".to_owned()])
        );
        assert!(view.good_sources.is_empty());
        state.apply(ClientCommand::Disable);
        let mut other = lease_request(2);
        other.secret_hash = "h2".into();
        assert!(state.lease(0, &other).disabled);
        assert_eq!(state.lease(0, &other).granted, 0);
    }

    #[test]
    fn under_guard_an_unknown_source_gets_no_lease_and_is_not_learnt() {
        let mut state = ClientGuardState::default();
        state.lease(0, &lease_request(1));
        for _ in 0..CLIENT_GUARD_THRESHOLD {
            state.failure(0);
        }
        let mut stranger = lease_request(1);
        stranger.source = Some("203.0.113.9".into());
        let view = state.lease(10, &stranger);
        assert_eq!(view.granted, 0);
        assert_eq!(view.good_sources, ["192.0.2.1"]);
        assert_eq!(state.lease(10, &lease_request(1)).granted, 1);
    }

    #[test]
    fn the_last_use_of_each_secret_is_remembered_bounded_and_not_for_refusals() {
        let mut state = ClientGuardState::default();
        state.lease(5, &lease_request(1));
        let mut other = lease_request(1);
        other.secret_hash = "h2".into();
        state.lease(7, &other);
        state.lease(9, &lease_request(1));
        assert_eq!(
            state.usage().last_used,
            [("h2".to_owned(), 7), ("h1".to_owned(), 9)]
        );
        state.apply(ClientCommand::RevokeSecret { hash: "h2".into() });
        state.lease(20, &other);
        assert!(state.usage().last_used.contains(&("h2".to_owned(), 7)));
        for i in 0..20 {
            let mut r = lease_request(0);
            r.secret_hash = format!("x{i}");
            state.lease(100 + i, &r);
        }
        let used = state.usage().last_used;
        assert_eq!(used.len(), MAX_LAST_USED);
        assert_eq!(used.last(), Some(&("x19".to_owned(), 119)));
    }

    #[test]
    fn state_stored_before_last_use_was_kept_still_loads() {
        let old = r#"{"bucket":null,"disabled":true,"revoked":["h"],
            "failures":{"count":0,"window_start":0},"guarded_until":0,"good_sources":[]}"#;
        let state: ClientGuardState = serde_json::from_str(old).unwrap();
        assert!(state.usage().disabled && state.usage().last_used.is_empty());
    }

    #[test]
    fn good_sources_are_bounded() {
        let mut state = ClientGuardState::default();
        for i in 0..100 {
            let mut r = lease_request(0);
            r.source = Some(format!("10.0.0.{i}"));
            state.lease(0, &r);
        }
        let view = state.lease(0, &lease_request(0));
        assert_eq!(view.good_sources.len(), MAX_GOOD_SOURCES);
        assert_eq!(
            view.good_sources.last().map(String::as_str),
            Some("192.0.2.1")
        );
    }

    #[test]
    fn a_client_goes_under_guard_after_the_threshold_and_out_of_it_later() {
        let mut state = ClientGuardState::default();
        for _ in 1..CLIENT_GUARD_THRESHOLD {
            assert_eq!(state.failure(1_000).guarded_until, 0);
        }
        assert_eq!(state.failure(1_000).guarded_until, 1_000 + CLIENT_GUARD_MS);
        // A new window starts the count again.
        assert_eq!(
            state.failure(1_000 + FAILURE_WINDOW_MS).guarded_until,
            1_000 + CLIENT_GUARD_MS
        );
    }

    #[test]
    fn a_source_is_blocked_for_growing_intervals_up_to_the_cap() {
        let mut state = SourceGuardState::default();
        let (mut blocks, mut now, mut last) = (Vec::new(), 0, 0);
        for _ in 0..8 * SOURCE_THRESHOLD {
            now += 10;
            let until = state.failure(now, "s").blocked_until;
            if until != last {
                blocks.push(until - now);
                last = until;
            }
        }
        assert_eq!(
            blocks,
            [
                30_000,
                60_000,
                120_000,
                240_000,
                480_000,
                SOURCE_BLOCK_MAX_MS,
                SOURCE_BLOCK_MAX_MS,
                SOURCE_BLOCK_MAX_MS
            ]
        );
    }

    #[test]
    fn a_quiet_source_is_forgotten_and_shards_are_bounded() {
        let mut state = SourceGuardState::default();
        for i in 0..(MAX_SOURCES_PER_SHARD + 10) {
            let update = state.failure(i as u64, &format!("s{i}"));
            let dropped = i
                .checked_sub(MAX_SOURCES_PER_SHARD)
                .map(|n| format!("s{n}"));
            assert_eq!(update.forgotten, dropped.into_iter().collect::<Vec<_>>());
        }
        assert_eq!(state.len(), MAX_SOURCES_PER_SHARD);
        let update = state.failure(10 * SOURCE_FORGET_MS, "late");
        assert_eq!(update.forgotten.len(), MAX_SOURCES_PER_SHARD);
        assert_eq!(state.len(), 1);
        let restored = SourceGuardState::restore([("late".to_owned(), update.entry)]);
        assert_eq!(restored, state);
    }
}
