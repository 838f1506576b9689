//! The isolate's cached view of each client's object: what it remembers across requests and
//! what it decides alone, without asking the object.

use std::collections::HashMap;

use super::{
    objects::ClientView, quota::hour_of, source::Source, throttled, PerSecond,
    BUSY_REFRESH_AFTER_MS, MAX_SEEN_SOURCES, REFRESH_AFTER_MS, VIEW_TTL_MS,
};
use crate::core::{
    error::Error,
    limit::{retry_after_seconds, Limit},
};

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
    pub(super) view: ClientView,
    fetched_ms: u64,
    lease_left: u64,
    refreshing: bool,
    limit: Limit,
    /// Tokens this isolate spent for the client, per second.
    spent: PerSecond,
    /// When it last spent one (0: never).
    last_spent_ms: u64,
    /// The lease it needs at its recent pace ([`CachedView::pace`]).
    pace: u64,
    /// Sources served that the view does not know as good, for the next lease request.
    seen: Vec<String>,
    /// The hour its oldest leased token was counted in by the quotas ([`super::quota`]).
    lease_hour: u64,
}

impl CachedView {
    /// A view just received from the object at `now`. `limit` is the record's, unless the
    /// object answers with one an operator just set.
    pub fn new(view: ClientView, limit: Limit, now: u64) -> Self {
        let limit = view.limit.unwrap_or(limit);
        Self {
            lease_hour: view.quota.hour,
            lease_left: view.granted,
            view,
            fetched_ms: now,
            refreshing: false,
            limit,
            spent: PerSecond::default(),
            last_spent_ms: 0,
            pace: 0,
            seen: Vec::new(),
        }
    }

    /// Takes in a newer answer; tokens left from the previous lease are kept, unless the
    /// limit changed.
    pub fn merge(&mut self, view: ClientView, limit: Limit, now: u64) {
        self.set_limit(view.limit.unwrap_or(limit));
        if view.quota.hour != self.lease_hour {
            // Tokens counted in another hour (or under no quota) are not spent in this one.
            self.lease_left = 0;
            self.lease_hour = view.quota.hour;
        }
        self.lease_left += view.granted;
        self.view = view;
        self.fetched_ms = now;
        self.refreshing = false;
    }

    /// A changed limit drops what is left of the lease taken under the old one, so a lowered
    /// limit holds at once.
    fn set_limit(&mut self, limit: Limit) {
        if limit != self.limit {
            self.limit = limit;
            self.lease_left = 0;
        }
    }

    /// Whether the view may still be used for revocation at `now`.
    pub fn is_fresh(&self, now: u64) -> bool {
        now.saturating_sub(self.fetched_ms) < VIEW_TTL_MS
    }

    /// The tokens this isolate expects to spend within one view's life, at the pace of its
    /// recent requests (none once it has been idle that long), within the largest lease.
    fn pace(&self, now: u64) -> u64 {
        if now.saturating_sub(self.last_spent_ms) >= VIEW_TTL_MS {
            0
        } else {
            self.pace
        }
    }

    /// What to ask the object for at `now`, `(want, returned)`: a lease for the isolate's
    /// pace, plus the token of a waiting request (always asked for: another request may spend
    /// the lease while this one waits), and back whatever it holds beyond twice its pace.
    /// What is given back leaves the lease at once.
    pub fn lease_amounts(&mut self, now: u64, waiting: bool) -> (u64, u64) {
        let pace = self.pace(now);
        let returned = self.lease_left.saturating_sub(2 * pace);
        self.lease_left -= returned;
        (
            pace.saturating_sub(self.lease_left) + u64::from(waiting),
            returned,
        )
    }

    /// The hour the tokens it gives back were counted in (the oldest it holds).
    pub fn lease_hour(&self) -> u64 {
        self.lease_hour
    }

    /// Whether the lease was counted by a quota in an hour that has ended at `now`: its tokens
    /// are never spent in the next one, whose count never saw them ([`super::quota`]).
    fn lease_from_past_hour(&self, now: u64) -> bool {
        self.lease_hour != 0 && hour_of(now) != self.lease_hour
    }

    /// Drops a lease [counted in a past hour](CachedView::lease_from_past_hour).
    fn drop_past_hour(&mut self, now: u64) {
        if self.lease_from_past_hour(now) {
            self.lease_left = 0;
        }
    }

    /// Whether the latest lease was over a monitored quota: its tokens are logged as such.
    pub fn over_quota(&self) -> bool {
        self.view.quota.over
    }

    /// Marks a background refresh as finished without an answer.
    pub fn refresh_failed(&mut self) {
        self.refreshing = false;
    }

    /// Takes in the guard state of a failure report's answer; the lease and the revocation
    /// view are kept.
    pub fn take_guard(&mut self, view: &ClientView) {
        self.view.guarded_until = view.guarded_until;
        self.view
            .guarded_prefixes
            .clone_from(&view.guarded_prefixes);
        self.view.good_sources.clone_from(&view.good_sources);
    }

    /// The sources served since the last lease request, for the next one to carry.
    pub fn take_seen(&mut self) -> Vec<String> {
        std::mem::take(&mut self.seen)
    }

    /// Until when a request from `source` is under guard, if it is at `now`: from a view of
    /// any age, since a guard only ends by expiring, and a source this isolate served is
    /// known-good.
    pub fn guarded(&self, now: u64, source: &Source) -> Option<u64> {
        let key = source.has_address().then(|| source.key());
        if key.is_some_and(|k| self.seen.iter().any(|s| s == k)) {
            return None;
        }
        let until = self.view.guarded_until(key, source.prefix());
        (until > now).then_some(until)
    }

    /// Whether [`CachedView::decide`] would ask the object at `now`: the view is stale, or
    /// the lease is spent (or was counted in an hour that has ended).
    pub fn would_ask(&self, now: u64) -> bool {
        !self.is_fresh(now) || self.lease_left == 0 || self.lease_from_past_hour(now)
    }

    /// Decides alone if it can: revocation and guard from the view, issuance from the lease.
    /// `secret_hash` names the credential the request used, `version` the client record it
    /// was checked against.
    pub fn decide(&mut self, now: u64, source: &Source, secret_hash: &str, version: u64) -> Step {
        if !self.is_fresh(now) {
            return Step::Ask;
        }
        if let Some(refusal) = self.refusal(now, source, secret_hash, version) {
            return Step::Refuse(refusal);
        }
        self.drop_past_hour(now);
        if self.lease_left == 0 {
            let asked_ago = now.saturating_sub(self.fetched_ms);
            if self.view.granted == 0 && asked_ago < self.view.wait_ms {
                // The object said "empty" recently: no need to ask again before it refills.
                return Step::Refuse(self.rate_limited(self.view.wait_ms - asked_ago));
            }
            return Step::Ask;
        }
        self.lease_left -= 1;
        let pace = self.spend(now);
        // An isolate that expects no other request before the view expires refreshes
        // nothing: its next request asks, and no token waits idle in it meanwhile; but a new
        // source it served is reported at once, in the background.
        let low = self.lease_left * 2 < pace;
        let refresh_after = if self.view.busy {
            BUSY_REFRESH_AFTER_MS
        } else {
            REFRESH_AFTER_MS
        };
        let old = pace > 0 && now.saturating_sub(self.fetched_ms) >= refresh_after;
        let new_source = self.note_served(source);
        let refresh = !self.refreshing && (low || old || new_source);
        self.refreshing |= refresh;
        Step::Serve { refresh }
    }

    /// Counts a token spent at `now`; the isolate's pace: tokens it expects to spend within
    /// a view's life, from the gap since the previous one and the count of the last second.
    fn spend(&mut self, now: u64) -> u64 {
        let gap = now.saturating_sub(self.last_spent_ms).max(1);
        let by_gap = if self.last_spent_ms == 0 {
            0
        } else {
            VIEW_TTL_MS / gap
        };
        self.spent.add(now);
        self.last_spent_ms = now;
        let by_count = self.spent.recent(now).saturating_sub(1);
        self.pace = by_gap.max(by_count).min(self.limit.max_lease());
        self.pace
    }

    /// The object cannot be asked. Revocation fails closed (a stale view refuses with a
    /// retryable fault); issuance spends only what is already leased, which has left the
    /// bucket, so it never overshoots.
    pub fn decide_without_object(
        &mut self,
        now: u64,
        source: &Source,
        secret_hash: &str,
        version: u64,
    ) -> Result<(), Error> {
        if !self.is_fresh(now) {
            return Err(Error::GuardUnavailable);
        }
        if let Some(refusal) = self.refusal(now, source, secret_hash, version) {
            return Err(refusal);
        }
        self.drop_past_hour(now);
        if self.lease_left == 0 {
            return Err(Error::GuardUnavailable);
        }
        self.lease_left -= 1;
        self.spend(now);
        Ok(())
    }

    fn refusal(&self, now: u64, source: &Source, secret_hash: &str, version: u64) -> Option<Error> {
        if self.view.disabled {
            return Some(Error::ClientDisabled);
        }
        if version < self.view.floor {
            return Some(Error::StaleRecord);
        }
        if self.view.revoked.iter().any(|h| h == secret_hash) {
            return Some(Error::WrongSecret);
        }
        self.guarded(now, source)
            .map(|until| throttled(until - now))
    }

    /// Notes a source just served, unless the view knows it as good already (or it has no
    /// address); whether it was new.
    fn note_served(&mut self, source: &Source) -> bool {
        let key = source.key();
        let known = !source.has_address()
            || self.view.good_sources.iter().any(|g| g == key)
            || self.seen.iter().any(|s| s == key);
        let new = !known && self.seen.len() < MAX_SEEN_SOURCES;
        if new {
            self.seen.push(key.to_owned());
        }
        new
    }

    /// The refusal of a client over its limit, which may ask again in `wait_ms`.
    pub(super) fn rate_limited(&self, wait_ms: u64) -> Error {
        if let Some(refusal) = self.view.quota.refused {
            return Error::OverQuota {
                retry_after: retry_after_seconds(wait_ms),
                quota: refusal.quota,
                window: refusal.window,
            };
        }
        Error::RateLimited {
            retry_after: retry_after_seconds(wait_ms),
            burst: self.limit.burst,
            window: self.limit.window_seconds(),
        }
    }
}

/// What an isolate remembers across requests. Bounded: entries past their use are dropped
/// when the maps grow.
#[derive(Debug, Default)]
pub struct IsolateCache {
    /// By guard name (`{tenant}:{client_id}`).
    pub(super) clients: HashMap<String, CachedView>,
    /// Until when (Unix ms) each source key is blocked, as its shard last answered.
    pub(super) blocked_sources: HashMap<String, u64>,
}

/// Entries an isolate keeps per map before it drops stale ones.
const MAX_CACHED: usize = 10_000;

impl IsolateCache {
    /// Forgets what this isolate learnt of `source`'s block (of every source's when `None`),
    /// after an operator cleared it in its shard.
    pub fn forget_blocks(&mut self, source: Option<&Source>) {
        match source {
            Some(source) => {
                for key in source.keys() {
                    self.blocked_sources.remove(key);
                }
            }
            None => self.blocked_sources.clear(),
        }
    }

    /// Until when `source` is blocked at any of its prefixes, as their shard last answered,
    /// if it is at `now`.
    pub(super) fn blocked_until(&self, source: &Source, now: u64) -> Option<u64> {
        let keys = source.keys().iter();
        let until = *keys.filter_map(|k| self.blocked_sources.get(k)).max()?;
        (until > now).then_some(until)
    }

    /// Drops the entries past their use, once a map has grown beyond [`MAX_CACHED`].
    pub(super) fn prune(&mut self, now: u64) {
        if self.clients.len() > MAX_CACHED {
            self.clients.retain(|_, v| v.is_fresh(now));
        }
        if self.blocked_sources.len() > MAX_CACHED {
            self.blocked_sources.retain(|_, until| *until > now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: Limit = Limit {
        per_minute: 60,
        burst: 8,
    };
    use crate::core::guard::objects::{ClientCommand, ClientGuardState, LeaseRequest};

    fn cached(view: ClientView) -> CachedView {
        CachedView::new(view, LIMIT, 10_000)
    }

    /// A request without a usable address.
    fn nowhere() -> Source {
        Source::from_header(None)
    }

    /// A request from `address`.
    fn from(address: &str) -> Source {
        Source::from_header(Some(address))
    }

    #[test]
    fn a_new_source_served_is_noted_once_and_starts_a_background_refresh() {
        let mut c = cached(ClientView {
            granted: 8,
            good_sources: vec!["192.0.2.1".into()],
            ..ClientView::default()
        });
        let quiet = Step::Serve { refresh: false };
        assert_eq!(c.decide(10_000, &from("192.0.2.1"), "h", 1), quiet);
        assert_eq!(
            c.decide(10_000, &from("192.0.2.2"), "h", 1),
            Step::Serve { refresh: true }
        );
        c.refresh_failed();
        assert_eq!(c.decide(10_000, &from("192.0.2.2"), "h", 1), quiet);
        assert_eq!(c.decide(10_000, &nowhere(), "h", 1), quiet);
        assert_eq!(c.take_seen(), ["192.0.2.2"]);
        assert!(c.take_seen().is_empty());
    }

    #[test]
    fn the_guard_in_a_view_applies_whatever_its_age_to_its_prefix_and_not_to_known_sources() {
        let c = cached(ClientView {
            guarded_prefixes: vec![("203.0.113.0/24".into(), 70_000)],
            good_sources: vec!["203.0.113.1".into()],
            ..ClientView::default()
        });
        let stale = 10_000 + 5 * VIEW_TTL_MS;
        assert_eq!(c.guarded(stale, &from("203.0.113.9")), Some(70_000));
        assert_eq!(c.guarded(stale, &from("203.0.113.1")), None);
        assert_eq!(c.guarded(stale, &from("203.0.114.9")), None);
        assert_eq!(c.guarded(70_000, &from("203.0.113.9")), None);
    }

    #[test]
    fn a_changed_limit_drops_the_lease_taken_under_the_old_one() {
        let lowered = Limit {
            per_minute: 5,
            burst: 2,
        };
        let mut other = cached(ClientView {
            granted: 2,
            ..ClientView::default()
        });
        let mut state = ClientGuardState::default();
        state.apply(ClientCommand::SetLimit {
            limit: lowered,
            until_ms: 80_000,
        });
        // The isolate hears of it from its next answer, whatever its copy of the record says.
        let stale = LeaseRequest {
            per_minute: LIMIT.per_minute,
            burst: LIMIT.burst,
            want: 2,
            returned: 0,
            source: None,
            prefix: None,
            seen: Vec::new(),
            secret_hash: "h".into(),
            quota: Default::default(),
        };
        other.merge(state.lease(10_002, &stale), LIMIT, 10_002);
        assert_eq!(other.limit, lowered);
        // Its two old tokens are gone; the one granted under the new limit is all it has.
        assert!(matches!(
            other.decide(10_003, &nowhere(), "h", 1),
            Step::Serve { .. }
        ));
        assert_eq!(other.decide(10_004, &nowhere(), "h", 1), Step::Ask);
    }

    #[test]
    fn a_fresh_lease_is_spent_locally_and_refreshed_in_the_background_when_low() {
        let mut c = cached(ClientView {
            granted: 2,
            ..ClientView::default()
        });
        assert_eq!(
            c.decide(10_000, &nowhere(), "h", 1),
            Step::Serve { refresh: false }
        );
        assert_eq!(
            c.decide(10_001, &nowhere(), "h", 1),
            Step::Serve { refresh: true }
        );
        assert_eq!(c.decide(10_002, &nowhere(), "h", 1), Step::Ask);
    }

    #[test]
    fn an_old_view_is_refreshed_in_the_background_only_when_more_requests_are_expected() {
        let mut c = cached(ClientView {
            granted: 3,
            ..ClientView::default()
        });
        assert_eq!(
            c.decide(10_000, &nowhere(), "h", 1),
            Step::Serve { refresh: false }
        );
        assert_eq!(
            c.decide(10_000 + REFRESH_AFTER_MS, &nowhere(), "h", 1),
            Step::Serve { refresh: true }
        );
        assert_eq!(
            c.decide(10_000 + VIEW_TTL_MS, &nowhere(), "h", 1),
            Step::Ask
        );
        // One request in a view's life: its next request asks anyway.
        let mut once = cached(ClientView {
            granted: 3,
            ..ClientView::default()
        });
        assert_eq!(
            once.decide(10_000 + REFRESH_AFTER_MS, &nowhere(), "h", 1),
            Step::Serve { refresh: false }
        );
    }

    #[test]
    fn while_the_object_is_busy_views_are_refreshed_later() {
        let mut c = cached(ClientView {
            granted: 6,
            busy: true,
            ..ClientView::default()
        });
        assert_eq!(
            c.decide(10_000, &nowhere(), "h", 1),
            Step::Serve { refresh: false }
        );
        assert_eq!(
            c.decide(10_000 + REFRESH_AFTER_MS, &nowhere(), "h", 1),
            Step::Serve { refresh: false }
        );
        assert_eq!(
            c.decide(10_000 + BUSY_REFRESH_AFTER_MS, &nowhere(), "h", 1),
            Step::Serve { refresh: true }
        );
    }

    #[test]
    fn a_lease_follows_the_isolates_pace_and_goes_back_when_idle() {
        let mut c = cached(ClientView {
            granted: 2,
            ..ClientView::default()
        });
        // Two requests 10 ms apart: more than a lease a second, so a whole lease is wanted.
        assert_eq!(
            c.decide(10_000, &nowhere(), "h", 1),
            Step::Serve { refresh: false }
        );
        assert_eq!(
            c.decide(10_010, &nowhere(), "h", 1),
            Step::Serve { refresh: true }
        );
        assert_eq!(c.lease_amounts(10_010, false), (LIMIT.max_lease(), 0));
        c.merge(
            ClientView {
                granted: 2,
                ..ClientView::default()
            },
            LIMIT,
            10_020,
        );
        // Idle for a view's life: the lease goes back, the waiting request asks for its own.
        assert_eq!(c.lease_amounts(10_010 + VIEW_TTL_MS, true), (1, 2));
        assert_eq!(c.lease_amounts(10_010 + VIEW_TTL_MS, false), (0, 0));
    }

    #[test]
    fn a_waiting_request_asks_for_its_token_even_when_the_isolate_holds_one() {
        // Another request of the isolate may spend the held token while this one waits.
        let mut c = cached(ClientView {
            granted: 1,
            ..ClientView::default()
        });
        c.decide(10_000, &nowhere(), "h", 1);
        c.merge(
            ClientView {
                granted: 1,
                ..ClientView::default()
            },
            LIMIT,
            10_010,
        );
        assert_eq!(c.lease_amounts(10_500, true).0, 1);
    }

    #[test]
    fn a_record_older_than_the_floor_is_refused_however_fresh_the_lease() {
        let mut c = cached(ClientView {
            granted: 5,
            floor: 7,
            ..ClientView::default()
        });
        for version in [0, 6] {
            assert_eq!(
                c.decide(10_000, &nowhere(), "h", version),
                Step::Refuse(Error::StaleRecord)
            );
            assert_eq!(
                c.decide_without_object(10_000, &nowhere(), "h", version),
                Err(Error::StaleRecord)
            );
        }
        assert!(matches!(
            c.decide(10_000, &nowhere(), "h", 7),
            Step::Serve { .. }
        ));
    }

    #[test]
    fn revocation_in_the_view_refuses_at_once() {
        let mut disabled = cached(ClientView {
            granted: 2,
            disabled: true,
            ..ClientView::default()
        });
        assert_eq!(
            disabled.decide(10_000, &nowhere(), "h", 1),
            Step::Refuse(Error::ClientDisabled)
        );
        let mut revoked = cached(ClientView {
            granted: 2,
            revoked: vec!["h".into()],
            ..ClientView::default()
        });
        assert_eq!(
            revoked.decide(10_000, &nowhere(), "h", 1),
            Step::Refuse(Error::WrongSecret)
        );
        assert_eq!(
            revoked.decide(10_000, &nowhere(), "other", 1),
            Step::Serve { refresh: false }
        );
    }

    #[test]
    fn under_guard_only_known_sources_are_served() {
        let mut c = cached(ClientView {
            granted: 2,
            guarded_until: 12_000,
            good_sources: vec!["192.0.2.1".into()],
            ..ClientView::default()
        });
        assert_eq!(
            c.decide(10_000, &from("203.0.113.9"), "h", 1),
            Step::Refuse(Error::Throttled { retry_after: 2 })
        );
        assert_eq!(
            c.decide(10_000, &nowhere(), "h", 1),
            Step::Refuse(Error::Throttled { retry_after: 2 })
        );
        assert_eq!(
            c.decide(10_000, &from("192.0.2.1"), "h", 1),
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
            c.decide(10_100, &nowhere(), "h", 1),
            Step::Refuse(Error::RateLimited {
                retry_after: 1,
                burst: 8,
                window: 8
            })
        );
        assert_eq!(c.decide(10_700, &nowhere(), "h", 1), Step::Ask);
    }

    #[test]
    fn without_the_object_revocation_fails_closed_and_only_the_lease_is_spent() {
        let mut c = cached(ClientView {
            granted: 1,
            ..ClientView::default()
        });
        assert_eq!(c.decide_without_object(10_500, &nowhere(), "h", 1), Ok(()));
        assert_eq!(
            c.decide_without_object(10_600, &nowhere(), "h", 1),
            Err(Error::GuardUnavailable)
        );
        let mut stale = cached(ClientView {
            granted: 1,
            ..ClientView::default()
        });
        assert_eq!(
            stale.decide_without_object(10_000 + VIEW_TTL_MS, &nowhere(), "h", 1),
            Err(Error::GuardUnavailable)
        );
        let mut disabled = cached(ClientView {
            granted: 1,
            disabled: true,
            ..ClientView::default()
        });
        assert_eq!(
            disabled.decide_without_object(10_000, &nowhere(), "h", 1),
            Err(Error::ClientDisabled)
        );
    }
}
