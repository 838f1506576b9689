//! Issuance limits, failed-authentication throttling and fast revocation (docs/limits.md).
//!
//! Three parts, all pure:
//! - [`ClientGuardState`] and [`SourceGuardState`]: what the Durable Objects keep and decide;
//! - [`CachedView`]: what an isolate remembers of a client's object, and what it decides alone;
//! - [`Limiter`]: the isolate's side, which asks the objects through a [`Backend`] only when it
//!   must, and otherwise refreshes in the background.

use std::{cell::RefCell, collections::HashMap, future::Future, net::IpAddr, rc::Rc};

use serde::{Deserialize, Serialize};

use super::{
    error::Error,
    limit::{retry_after_seconds, Bucket, Limit},
};

/// How long an isolate may use a client's revocation view (and its lease) after the object
/// answered: revocation reaches every location within this time.
pub const VIEW_TTL_MS: u64 = 1_000;
/// An isolate refreshes a view this old in the background, before it goes stale.
pub const REFRESH_AFTER_MS: u64 = 500;
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
    /// Tokens wanted (capped by the object at [`Limit::max_lease`]).
    pub want: u64,
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
        let limit = Limit {
            per_minute: request.per_minute.max(1),
            burst: request.burst.max(1),
        };
        let mut bucket = self.bucket.map_or(Bucket::full(limit, now), |(milli, at)| {
            Bucket::from_parts(milli, at)
        });
        let want = if refused {
            0
        } else {
            request.want.min(limit.max_lease())
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
        self.view(granted, wait_ms)
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

    /// How many sources the shard remembers.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the shard remembers no source.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// What an isolate decides from a cached view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Issue the token; refresh the view in the background first if asked.
    Serve {
        /// Start a background refresh.
        refresh: bool,
    },
    /// Refuse.
    Refuse(Error),
    /// The view is stale or the lease is spent: ask the object before deciding.
    Ask,
}

/// What an isolate remembers of one client's object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedView {
    view: ClientView,
    fetched_ms: u64,
    lease_left: u64,
    refreshing: bool,
    limit: Limit,
    /// Used only while the object cannot be asked and the view is still fresh.
    fallback: Bucket,
}

impl CachedView {
    /// A view just received from the object at `now`.
    pub fn new(view: ClientView, limit: Limit, now: u64) -> Self {
        Self {
            lease_left: view.granted,
            view,
            fetched_ms: now,
            refreshing: false,
            limit,
            fallback: Bucket::full(limit, now),
        }
    }

    /// Takes in a newer answer; tokens left from the previous lease are kept.
    pub fn merge(&mut self, view: ClientView, limit: Limit, now: u64) {
        self.lease_left += view.granted;
        self.view = view;
        self.fetched_ms = now;
        self.refreshing = false;
        self.limit = limit;
    }

    /// Whether the view may still be used for revocation at `now`.
    pub fn is_fresh(&self, now: u64) -> bool {
        now.saturating_sub(self.fetched_ms) < VIEW_TTL_MS
    }

    /// How many tokens to ask for so that the lease is full again.
    pub fn top_up(&self) -> u64 {
        self.limit
            .max_lease()
            .saturating_sub(self.lease_left)
            .max(1)
    }

    /// Marks a background refresh as finished without an answer.
    pub fn refresh_failed(&mut self) {
        self.refreshing = false;
    }

    /// Decides alone if it can: revocation and guard from the view, issuance from the lease.
    pub fn decide(&mut self, now: u64, source: Option<&str>, secret_hash: &str) -> Step {
        if !self.is_fresh(now) {
            return Step::Ask;
        }
        if let Some(refusal) = self.refusal(now, source, secret_hash) {
            return Step::Refuse(refusal);
        }
        if self.lease_left == 0 {
            let asked_ago = now.saturating_sub(self.fetched_ms);
            if self.view.granted == 0 && asked_ago < self.view.wait_ms {
                // The object said "empty" recently: no need to ask again before it refills.
                return Step::Refuse(self.rate_limited(self.view.wait_ms - asked_ago));
            }
            return Step::Ask;
        }
        self.lease_left -= 1;
        let low = self.lease_left * 2 < self.limit.max_lease();
        let old = now.saturating_sub(self.fetched_ms) >= REFRESH_AFTER_MS;
        let refresh = !self.refreshing && (low || old);
        self.refreshing |= refresh;
        Step::Serve { refresh }
    }

    /// The object cannot be asked. Revocation fails closed (a stale view refuses with a
    /// retryable fault); issuance fails open to the isolate's own bucket.
    pub fn decide_without_object(
        &mut self,
        now: u64,
        source: Option<&str>,
        secret_hash: &str,
    ) -> Result<(), Error> {
        if !self.is_fresh(now) {
            return Err(Error::GuardUnavailable);
        }
        if let Some(refusal) = self.refusal(now, source, secret_hash) {
            return Err(refusal);
        }
        if self.fallback.take(self.limit, now, 1) == 1 {
            Ok(())
        } else {
            Err(self.rate_limited(self.fallback.wait_ms(self.limit, now)))
        }
    }

    fn refusal(&self, now: u64, source: Option<&str>, secret_hash: &str) -> Option<Error> {
        if self.view.disabled {
            return Some(Error::ClientDisabled);
        }
        if self.view.revoked.iter().any(|h| h == secret_hash) {
            return Some(Error::WrongSecret);
        }
        let known = source.is_some_and(|s| self.view.good_sources.iter().any(|g| g == s));
        if self.view.guarded_until > now && !known {
            return Some(throttled(self.view.guarded_until - now));
        }
        None
    }

    fn rate_limited(&self, wait_ms: u64) -> Error {
        Error::RateLimited {
            retry_after: retry_after_seconds(wait_ms),
            burst: self.limit.burst,
            window: self.limit.window_seconds(),
        }
    }
}

/// The object could not be asked (error, overload, or no answer in time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unavailable;

/// How the isolate reaches the objects and runs background work. The edge implements it over
/// Durable Object stubs and `ctx.wait_until`; tests over fakes.
#[allow(async_fn_in_trait)] // Workers are single-threaded: no `Send` bound wanted.
pub trait Backend: Clone + 'static {
    /// Asks a client's object (named `guard`: [`crate::core::client::guard_name`]) for a lease.
    async fn lease(&self, guard: &str, request: &LeaseRequest) -> Result<ClientView, Unavailable>;
    /// Reports a failed authentication to a client's object (named `guard`).
    async fn client_failure(&self, guard: &str) -> Result<ClientView, Unavailable>;
    /// Reports a failure from a source to its shard; answers until when it is blocked.
    async fn source_failure(&self, shard: u64, source: &str) -> Result<u64, Unavailable>;
    /// Runs `task` after the response, within the request's lifetime.
    fn spawn(&self, task: impl Future<Output = ()> + 'static);
    /// Unix ms now (background tasks finish later than they start).
    fn now_ms(&self) -> u64;
}

/// What an isolate remembers across requests. Bounded: entries past their use are dropped
/// when the maps grow.
#[derive(Debug, Default)]
pub struct IsolateCache {
    /// By guard name (`{tenant}:{client_id}`).
    clients: HashMap<String, CachedView>,
    blocked_sources: HashMap<String, u64>,
}

/// Entries an isolate keeps per map before it drops stale ones.
const MAX_CACHED: usize = 10_000;

impl IsolateCache {
    /// Takes in the revocation state an operator's command just set in a client's object, so
    /// that this isolate applies it at once (others within [`VIEW_TTL_MS`]). A lease is kept.
    pub fn apply_command(&mut self, guard: &str, view: &ClientView) {
        if let Some(cached) = self.clients.get_mut(guard) {
            cached.view.disabled = view.disabled;
            cached.view.revoked.clone_from(&view.revoked);
        }
    }

    fn prune(&mut self, now: u64) {
        if self.clients.len() > MAX_CACHED {
            self.clients.retain(|_, v| v.is_fresh(now));
        }
        if self.blocked_sources.len() > MAX_CACHED {
            self.blocked_sources.retain(|_, until| *until > now);
        }
    }
}

/// The isolate's side of the protections, for one request.
pub struct Limiter<B: Backend> {
    /// The isolate's shared memory of the objects' answers.
    pub cache: Rc<RefCell<IsolateCache>>,
    /// How to reach the objects.
    pub backend: B,
    /// The request's source key ([`source_key`]), if known.
    pub source: Option<String>,
}

impl<B: Backend> Limiter<B> {
    /// Before any credential is checked: a source this isolate knows to be blocked is refused.
    pub fn check_source(&self, now: u64) -> Result<(), Error> {
        let Some(source) = &self.source else {
            return Ok(());
        };
        match self.cache.borrow().blocked_sources.get(source) {
            Some(&until) if until > now => Err(throttled(until - now)),
            _ => Ok(()),
        }
    }

    /// After a failed authentication: reported in the background, never delaying the answer.
    /// `guard` (the client's guard name) is set only when the client exists.
    pub fn report_failure(&self, guard: Option<&str>) {
        if let Some(source) = self.source.clone() {
            let (backend, cache) = (self.backend.clone(), self.cache.clone());
            self.backend.spawn(async move {
                if let Ok(until) = backend.source_failure(source_shard(&source), &source).await {
                    let mut cache = cache.borrow_mut();
                    cache.prune(backend.now_ms());
                    if until > 0 {
                        cache.blocked_sources.insert(source, until);
                    }
                }
            });
        }
        if let Some(guard) = guard.map(str::to_owned) {
            let (backend, cache) = (self.backend.clone(), self.cache.clone());
            self.backend.spawn(async move {
                if let Ok(view) = backend.client_failure(&guard).await {
                    // Keep any lease; take in the new guard state.
                    if let Some(cached) = cache.borrow_mut().clients.get_mut(&guard) {
                        cached.view.guarded_until = view.guarded_until;
                    }
                }
            });
        }
    }

    /// For an authenticated client: revocation, guard and issuance limit.
    pub async fn admit(
        &self,
        guard: &str,
        limit: Limit,
        secret_hash: &str,
        now: u64,
    ) -> Result<(), Error> {
        let source = self.source.as_deref();
        let step = match self.cache.borrow_mut().clients.get_mut(guard) {
            Some(cached) => cached.decide(now, source, secret_hash),
            None => Step::Ask,
        };
        match step {
            Step::Serve { refresh } => {
                if refresh {
                    self.refresh_in_background(guard, limit, secret_hash);
                }
                Ok(())
            }
            Step::Refuse(error) => Err(error),
            Step::Ask => self.ask(guard, limit, secret_hash, now).await,
        }
    }

    fn request(&self, limit: Limit, want: u64, secret_hash: &str) -> LeaseRequest {
        LeaseRequest {
            per_minute: limit.per_minute,
            burst: limit.burst,
            want,
            source: self.source.clone(),
            secret_hash: secret_hash.to_owned(),
        }
    }

    async fn ask(
        &self,
        guard: &str,
        limit: Limit,
        secret_hash: &str,
        now: u64,
    ) -> Result<(), Error> {
        let want = self
            .cache
            .borrow()
            .clients
            .get(guard)
            .map_or(limit.max_lease(), CachedView::top_up);
        let answer = self
            .backend
            .lease(guard, &self.request(limit, want, secret_hash))
            .await;
        let now = now.max(self.backend.now_ms());
        let source = self.source.as_deref();
        let mut cache = self.cache.borrow_mut();
        cache.prune(now);
        match answer {
            Ok(view) => {
                let cached = cache
                    .clients
                    .entry(guard.to_owned())
                    .and_modify(|c| c.merge(view.clone(), limit, now))
                    .or_insert_with(|| CachedView::new(view, limit, now));
                let step = cached.decide(now, source, secret_hash);
                let empty = cached.rate_limited(cached.view.wait_ms);
                drop(cache);
                match step {
                    Step::Serve { refresh } => {
                        if refresh {
                            self.refresh_in_background(guard, limit, secret_hash);
                        }
                        Ok(())
                    }
                    Step::Refuse(error) => Err(error),
                    // A fresh answer with nothing granted.
                    Step::Ask => Err(empty),
                }
            }
            Err(Unavailable) => match cache.clients.get_mut(guard) {
                Some(cached) => cached.decide_without_object(now, source, secret_hash),
                None => Err(Error::GuardUnavailable),
            },
        }
    }

    fn refresh_in_background(&self, guard: &str, limit: Limit, secret_hash: &str) {
        let want = self
            .cache
            .borrow()
            .clients
            .get(guard)
            .map_or(limit.max_lease(), CachedView::top_up);
        let request = self.request(limit, want, secret_hash);
        let (backend, cache, id) = (self.backend.clone(), self.cache.clone(), guard.to_owned());
        self.backend.spawn(async move {
            let answer = backend.lease(&id, &request).await;
            let now = backend.now_ms();
            if let Some(cached) = cache.borrow_mut().clients.get_mut(&id) {
                match answer {
                    Ok(view) => cached.merge(view, limit, now),
                    Err(Unavailable) => cached.refresh_failed(),
                }
            }
        });
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
            source: Some("192.0.2.1".into()),
            secret_hash: "h1".into(),
        }
    }

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
    fn shards_are_bounded_and_stable() {
        let shards: std::collections::HashSet<u64> = (0..1000)
            .map(|i| source_shard(&format!("10.0.{}.{}", i / 256, i % 256)))
            .collect();
        assert!(shards.iter().all(|s| *s < SOURCE_SHARDS));
        assert_eq!(shards.len() as u64, SOURCE_SHARDS);
        assert_eq!(source_shard("192.0.2.1"), source_shard("192.0.2.1"));
    }

    #[test]
    fn a_lease_is_capped_at_a_quarter_of_the_burst_and_comes_out_of_the_bucket() {
        let mut state = ClientGuardState::default();
        let granted: Vec<u64> = (0..5)
            .map(|_| state.lease(0, &lease_request(10)).granted)
            .collect();
        assert_eq!(granted, [2, 2, 2, 2, 0]);
        assert_eq!(state.lease(0, &lease_request(1)).wait_ms, 1_000);
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
    fn a_command_reaches_the_isolates_cached_view_at_once() {
        let mut cache = IsolateCache::default();
        cache.clients.insert(
            "svc".into(),
            CachedView::new(
                ClientView {
                    granted: 3,
                    ..ClientView::default()
                },
                LIMIT,
                10_000,
            ),
        );
        let mut state = ClientGuardState::default();
        cache.apply_command("svc", &state.apply(ClientCommand::Disable));
        cache.apply_command("unknown", &state.apply(ClientCommand::Disable));
        let cached = cache.clients.get_mut("svc").unwrap();
        assert_eq!(
            cached.decide(10_001, None, "h"),
            Step::Refuse(Error::ClientDisabled)
        );
        assert!(!cache.clients.contains_key("unknown"));
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

    fn cached(view: ClientView) -> CachedView {
        CachedView::new(view, LIMIT, 10_000)
    }

    #[test]
    fn a_fresh_lease_is_spent_locally_and_refreshed_in_the_background_when_low() {
        let mut c = cached(ClientView {
            granted: 2,
            ..ClientView::default()
        });
        assert_eq!(c.decide(10_000, None, "h"), Step::Serve { refresh: false });
        assert_eq!(c.decide(10_001, None, "h"), Step::Serve { refresh: true });
        assert_eq!(c.decide(10_002, None, "h"), Step::Ask);
    }

    #[test]
    fn an_old_view_is_refreshed_in_the_background_then_must_be_asked() {
        let mut c = cached(ClientView {
            granted: 2,
            ..ClientView::default()
        });
        assert_eq!(
            c.decide(10_000 + REFRESH_AFTER_MS, None, "h"),
            Step::Serve { refresh: true }
        );
        assert_eq!(c.decide(10_000 + VIEW_TTL_MS, None, "h"), Step::Ask);
    }

    #[test]
    fn revocation_in_the_view_refuses_at_once() {
        let mut disabled = cached(ClientView {
            granted: 2,
            disabled: true,
            ..ClientView::default()
        });
        assert_eq!(
            disabled.decide(10_000, None, "h"),
            Step::Refuse(Error::ClientDisabled)
        );
        let mut revoked = cached(ClientView {
            granted: 2,
            revoked: vec!["h".into()],
            ..ClientView::default()
        });
        assert_eq!(
            revoked.decide(10_000, None, "h"),
            Step::Refuse(Error::WrongSecret)
        );
        assert_eq!(
            revoked.decide(10_000, None, "other"),
            Step::Serve { refresh: false }
        );
    }

    #[test]
    fn under_guard_only_known_sources_are_served() {
        let mut c = cached(ClientView {
            granted: 2,
            guarded_until: 12_000,
            good_sources: vec!["good".into()],
            ..ClientView::default()
        });
        assert_eq!(
            c.decide(10_000, Some("bad"), "h"),
            Step::Refuse(Error::Throttled { retry_after: 2 })
        );
        assert_eq!(
            c.decide(10_000, None, "h"),
            Step::Refuse(Error::Throttled { retry_after: 2 })
        );
        assert_eq!(
            c.decide(10_000, Some("good"), "h"),
            Step::Serve { refresh: false }
        );
    }

    #[test]
    fn an_empty_answer_is_trusted_until_the_bucket_refills() {
        let mut c = cached(ClientView {
            granted: 0,
            wait_ms: 700,
            ..ClientView::default()
        });
        assert_eq!(
            c.decide(10_100, None, "h"),
            Step::Refuse(Error::RateLimited {
                retry_after: 1,
                burst: 8,
                window: 8
            })
        );
        assert_eq!(c.decide(10_700, None, "h"), Step::Ask);
    }

    #[test]
    fn without_the_object_revocation_fails_closed_and_issuance_fails_open() {
        let mut c = cached(ClientView::default());
        assert_eq!(c.decide_without_object(10_500, None, "h"), Ok(()));
        assert_eq!(
            c.decide_without_object(10_000 + VIEW_TTL_MS, None, "h"),
            Err(Error::GuardUnavailable)
        );
        let mut disabled = cached(ClientView {
            disabled: true,
            ..ClientView::default()
        });
        assert_eq!(
            disabled.decide_without_object(10_000, None, "h"),
            Err(Error::ClientDisabled)
        );
    }

    #[test]
    fn the_fallback_bucket_has_the_clients_limit() {
        let mut c = cached(ClientView::default());
        let served = (0..20)
            .filter(|_| c.decide_without_object(10_000, None, "h").is_ok())
            .count();
        assert_eq!(served as u64, LIMIT.burst);
    }
}
