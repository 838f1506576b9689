//! Issuance quotas (docs/limits.md, "Quotas"): tokens per clock hour and per clock day (UTC),
//! per client and per tenant, enforced or only monitored.
//!
//! Counted by the same leases as the per-minute bucket: a client's object counts a lease's
//! tokens against its quota when it grants them and takes back the unspent ones an isolate
//! returns within the same hour. A tenant's quota is counted by one object of its own (a
//! `ClientGuard` under the reserved name [`tenant_guard_name`]), from which each client's object
//! takes **blocks** of tokens, the way an isolate takes leases from the client's object: it
//! asks only when its block runs out, and what remains of a block at the hour's end is lost.

use serde::{Deserialize, Serialize};

use crate::core::{error::Error, limit::retry_after_seconds};

/// Milliseconds in a clock hour: the hourly window.
pub const HOUR_MS: u64 = 3_600_000;
/// Milliseconds in a UTC day: the daily window (Unix time has no leap seconds).
pub const DAY_MS: u64 = 24 * HOUR_MS;
/// The largest figure a quota may set.
pub const MAX_QUOTA: u64 = 1_000_000_000;
/// A tenant quota's block is at most this share of its smaller figure (one hundredth): the
/// tenant's count is exact to within one block per active client.
const BLOCK_SHARE: u64 = 100;

/// Whether a quota refuses the tokens over it or only reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", try_from = "String")]
pub enum QuotaMode {
    /// Over quota: `429`.
    #[default]
    Enforce,
    /// Counted and logged, never refused.
    Monitor,
}

/// Reads a [`QuotaMode`] or [`QuotaWindow`] by its name (the same names as written): an
/// enum of names read through serde's general enum reader costs the Worker's wasm ~1.6 KB
/// each, a string and a match a tenth of that.
impl TryFrom<String> for QuotaMode {
    type Error = String;

    fn try_from(name: String) -> Result<Self, Self::Error> {
        match name.as_str() {
            "enforce" => Ok(Self::Enforce),
            "monitor" => Ok(Self::Monitor),
            _ => Err(format!(
                "unknown variant `{name}`, expected `enforce` or `monitor`"
            )),
        }
    }
}

/// A quota as written in a client record, a tenant or an admin request: at least one figure.
/// Unknown members are refused, so a misspelt figure never passes silently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quota {
    /// Tokens per clock hour (UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_hour: Option<u64>,
    /// Tokens per UTC day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_day: Option<u64>,
    /// Enforced (the default) or only monitored.
    #[serde(default)]
    pub mode: QuotaMode,
}

impl Quota {
    /// Whether it sets at least one figure, each from 1 to [`MAX_QUOTA`].
    pub fn is_valid(self) -> bool {
        let figure_ok = |f: Option<u64>| f.is_none_or(|n| (1..=MAX_QUOTA).contains(&n));
        (self.per_hour.is_some() || self.per_day.is_some())
            && figure_ok(self.per_hour)
            && figure_ok(self.per_day)
    }

    /// The block a client's object takes of this (tenant) quota at once: a hundredth of its
    /// smaller figure, at least one token and at least what the lease wants.
    pub fn block(self, want: u64) -> u64 {
        let smallest = self
            .per_hour
            .unwrap_or(MAX_QUOTA)
            .min(self.per_day.unwrap_or(MAX_QUOTA));
        (smallest / BLOCK_SHARE).max(want).max(1)
    }
}

/// The object name of a tenant's quota counter: without a `:`, so never the name of a client's
/// object ([`crate::core::client::guard_name`]).
pub fn tenant_guard_name(tenant: &str) -> String {
    format!("quota/{tenant}")
}

/// The start (Unix ms) of the clock hour holding `now`.
pub fn hour_of(now: u64) -> u64 {
    now - now % HOUR_MS
}

/// The start (Unix ms) of the UTC day holding `now`.
fn day_of(now: u64) -> u64 {
    now - now % DAY_MS
}

/// Which window refused: the name in `RateLimit-Policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", try_from = "String")]
pub enum QuotaWindow {
    /// The client's hourly figure.
    Hour,
    /// The client's daily figure.
    Day,
    /// The tenant's hourly figure.
    TenantHour,
    /// The tenant's daily figure.
    TenantDay,
}

impl QuotaWindow {
    /// The policy's name in the `RateLimit` headers.
    pub fn name(self) -> &'static str {
        match self {
            Self::Hour => "client-hour",
            Self::Day => "client-day",
            Self::TenantHour => "tenant-hour",
            Self::TenantDay => "tenant-day",
        }
    }

    /// The window's length in seconds: the `w` of `RateLimit-Policy`.
    pub fn seconds(self) -> u64 {
        match self {
            Self::Hour | Self::TenantHour => HOUR_MS / 1_000,
            Self::Day | Self::TenantDay => DAY_MS / 1_000,
        }
    }

    /// The same window of the tenant's quota.
    fn of_tenant(self) -> Self {
        match self {
            Self::Hour | Self::TenantHour => Self::TenantHour,
            Self::Day | Self::TenantDay => Self::TenantDay,
        }
    }
}

/// By name, as [`QuotaMode`].
impl TryFrom<String> for QuotaWindow {
    type Error = String;

    fn try_from(name: String) -> Result<Self, Self::Error> {
        match name.as_str() {
            "hour" => Ok(Self::Hour),
            "day" => Ok(Self::Day),
            "tenant_hour" => Ok(Self::TenantHour),
            "tenant_day" => Ok(Self::TenantDay),
            _ => Err(format!(
                "unknown variant `{name}`, expected one of `hour`, `day`, `tenant_hour`, \
                 `tenant_day`"
            )),
        }
    }
}

/// A quota's refusal: which figure, how large, and until when (Unix ms) nothing is granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaRefusal {
    /// The exhausted window.
    pub window: QuotaWindow,
    /// Its figure.
    pub quota: u64,
    /// Its end (Unix ms).
    pub until: u64,
}

impl QuotaRefusal {
    /// The answer at `now`: `429` with `Retry-After` at the window's end.
    pub fn error(self, now: u64) -> Error {
        Error::OverQuota {
            retry_after: retry_after_seconds(self.until.saturating_sub(now)),
            quota: self.quota,
            window: self.window,
        }
    }
}

/// The count of one fixed window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Window {
    start: u64,
    count: u64,
}

impl Window {
    /// The count at `now`, in the window starting at `start`: zero once a new one began.
    fn at(&mut self, start: u64) -> &mut u64 {
        if self.start != start {
            *self = Self { start, count: 0 };
        }
        &mut self.count
    }
}

/// What a quota decided on a request for tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Taken {
    /// Tokens granted (and counted).
    pub granted: u64,
    /// Enforced and exhausted: what refused.
    pub refused: Option<QuotaRefusal>,
    /// Monitored and over: tokens were granted beyond a figure.
    pub over: bool,
}

/// The hourly and daily counts of one quota: kept by a client's object for the client, and by
/// a tenant's object for the tenant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaCounts {
    hour: Window,
    day: Window,
}

/// The counts an operator reads (`client usage`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaUsage {
    /// Tokens counted in the current clock hour.
    pub hour: u64,
    /// Tokens counted in the current UTC day.
    pub day: u64,
    /// When the hour's count starts again (Unix ms).
    pub hour_ends: u64,
    /// When the day's count starts again (Unix ms).
    pub day_ends: u64,
}

impl QuotaCounts {
    /// Takes up to `want` tokens at `now`: within what remains of both figures when enforced
    /// (a refusal names the exhausted window whose end is the latest), all of them when
    /// monitored (saying whether any is over). `tenant` names the windows as the tenant's.
    pub fn take(&mut self, quota: Quota, now: u64, want: u64, tenant: bool) -> Taken {
        let figures = [
            (QuotaWindow::Hour, quota.per_hour, hour_of(now), HOUR_MS),
            (QuotaWindow::Day, quota.per_day, day_of(now), DAY_MS),
        ];
        let mut taken = Taken {
            granted: want,
            ..Taken::default()
        };
        for (window, figure, start, length) in figures {
            let Some(figure) = figure else { continue };
            let count = *self.window(window).at(start);
            let left = figure.saturating_sub(count);
            taken.over |= count + want > figure;
            if quota.mode == QuotaMode::Enforce && left < taken.granted {
                taken.granted = left;
                if left == 0 {
                    let window = if tenant { window.of_tenant() } else { window };
                    let until = start + length;
                    if taken.refused.is_none_or(|r| r.until < until) {
                        taken.refused = Some(QuotaRefusal {
                            window,
                            quota: figure,
                            until,
                        });
                    }
                }
            }
        }
        taken.over &= quota.mode == QuotaMode::Monitor;
        if taken.granted > 0 {
            taken.refused = None;
        }
        self.add(now, taken.granted);
        taken
    }

    /// Takes back `tokens` counted in the hour starting at `hour` and not spent: only within
    /// that hour, since a later window never counted them.
    pub fn give_back(&mut self, now: u64, hour: u64, tokens: u64) {
        if hour == hour_of(now) {
            for window in [QuotaWindow::Hour, QuotaWindow::Day] {
                let start = if window == QuotaWindow::Hour {
                    hour
                } else {
                    day_of(now)
                };
                let count = self.window(window).at(start);
                *count = count.saturating_sub(tokens);
            }
        }
    }

    /// Counts `tokens` at `now`.
    fn add(&mut self, now: u64, tokens: u64) {
        *self.hour.at(hour_of(now)) += tokens;
        *self.day.at(day_of(now)) += tokens;
    }

    fn window(&mut self, window: QuotaWindow) -> &mut Window {
        match window {
            QuotaWindow::Hour | QuotaWindow::TenantHour => &mut self.hour,
            QuotaWindow::Day | QuotaWindow::TenantDay => &mut self.day,
        }
    }

    /// The counts at `now`.
    pub fn usage(&self, now: u64) -> QuotaUsage {
        let count = |w: Window, start: u64| if w.start == start { w.count } else { 0 };
        QuotaUsage {
            hour: count(self.hour, hour_of(now)),
            day: count(self.day, day_of(now)),
            hour_ends: hour_of(now) + HOUR_MS,
            day_ends: day_of(now) + DAY_MS,
        }
    }
}

/// The quotas a lease request carries (from the client's record and its tenant), and the hour
/// the tokens it gives back were counted in.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaRequest {
    /// The client's quota, if its record sets one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<Quota>,
    /// The tenant's quota and its object's name ([`tenant_guard_name`]), if it sets one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<(String, Quota)>,
    /// The hour (its start, Unix ms) in which the oldest token given back was granted.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub returned_hour: u64,
}

/// Whether an hour is unknown (0): not written.
fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl QuotaRequest {
    /// Whether no quota applies.
    pub fn is_empty(&self) -> bool {
        self.client.is_none() && self.tenant.is_none()
    }
}

/// What a client's object tells an isolate of the quotas with a lease.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaView {
    /// The hour (its start, Unix ms) the lease's tokens were counted in (0: no quota applies):
    /// an isolate spends them only within it.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub hour: u64,
    /// Nothing granted: a quota is exhausted until its window's end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<QuotaRefusal>,
    /// A monitored quota (the client's or the tenant's) is over: the tokens of this lease are
    /// logged as over quota.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub over: bool,
}

/// The block a client's object holds of its tenant's quota: what is left of it, in which
/// hour, and whether the tenant was over its monitored quota when it was granted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    /// The hour it was granted in (its start, Unix ms); it lapses with it.
    pub hour: u64,
    /// Tokens left.
    pub left: u64,
    /// The tenant's monitored quota was over.
    #[serde(default)]
    pub over: bool,
    /// The tenant's quota refused (nothing left until then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<QuotaRefusal>,
}

impl Block {
    /// Tokens usable at `now` (none once its hour ended).
    pub fn left(&self, now: u64) -> u64 {
        if self.hour == hour_of(now) {
            self.left
        } else {
            0
        }
    }
}

/// A client object's request to its tenant's object for a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockRequest {
    /// The tenant's quota.
    pub quota: Quota,
    /// Tokens wanted.
    pub want: u64,
}

/// The quota state of a client's object: the client's counts and its block of the tenant's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientQuota {
    /// The client's own counts (also the tenant's, in a tenant's object).
    #[serde(default)]
    pub counts: QuotaCounts,
    /// Its block of the tenant's quota.
    #[serde(default)]
    pub block: Block,
}

impl ClientQuota {
    /// The tenant's block size to ask for before granting `want` tokens at `now`, when the
    /// tenant sets a quota and the block held cannot cover them.
    pub fn block_wanted(&self, now: u64, request: &QuotaRequest, want: u64) -> Option<u64> {
        let (_, quota) = request.tenant.as_ref()?;
        (want > 0 && self.block.left(now) < want).then(|| quota.block(want))
    }

    /// Takes in a block granted at `now` by the tenant's object; what was left of the old one
    /// in the same hour is kept.
    pub fn add_block(&mut self, now: u64, taken: Taken) {
        let left = self.block.left(now) + taken.granted;
        self.block = Block {
            hour: hour_of(now),
            left,
            over: taken.over,
            refused: taken.refused,
        };
    }

    /// Grants up to `want` tokens at `now` under the client's and the tenant's quotas (the
    /// bucket's `take` decides how many of those it has: `bucket_take`), after taking back
    /// what the request returns.
    pub fn lease(
        &mut self,
        now: u64,
        request: &QuotaRequest,
        (want, returned): (u64, u64),
        bucket_take: impl FnOnce(u64) -> u64,
    ) -> (u64, QuotaView) {
        let returned_hour = match request.returned_hour {
            0 => hour_of(now),
            hour => hour,
        };
        self.give_back(now, request, returned_hour, returned);
        let mut view = QuotaView {
            hour: if request.is_empty() { 0 } else { hour_of(now) },
            ..QuotaView::default()
        };
        let mut allowed = want;
        if request.tenant.is_some() {
            let left = self.block.left(now);
            allowed = allowed.min(left);
            view.over |= self.block.over && left > 0;
            if left == 0 {
                view.refused = self.block.refused;
            }
        }
        let taken = match request.client {
            Some(quota) => self.counts.take(quota, now, allowed, false),
            None => Taken {
                granted: allowed,
                ..Taken::default()
            },
        };
        view.over |= taken.over;
        view.refused = view.refused.or(taken.refused);
        let granted = bucket_take(taken.granted);
        // What the bucket lacked was not granted: not counted either.
        if request.client.is_some() {
            let lacked = taken.granted - granted;
            self.counts.give_back(now, hour_of(now), lacked);
        }
        if request.tenant.is_some() {
            self.block.left -= granted.min(self.block.left(now));
        }
        if granted > 0 || want == 0 {
            view.refused = None;
        }
        (granted, view)
    }

    /// Takes back `tokens` granted in the hour starting at `hour` and not spent, within that
    /// hour only: into the client's counts and into its block of the tenant's quota.
    fn give_back(&mut self, now: u64, request: &QuotaRequest, hour: u64, tokens: u64) {
        if tokens == 0 || hour != hour_of(now) {
            return;
        }
        if request.client.is_some() {
            self.counts.give_back(now, hour, tokens);
        }
        if request.tenant.is_some() && self.block.hour == hour {
            self.block.left += tokens;
        }
    }

    /// A tenant's object: a block for a client's object, out of the tenant's counts.
    pub fn grant_block(&mut self, now: u64, request: BlockRequest) -> Taken {
        self.counts.take(request.quota, now, request.want, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-12-02 09:00 UTC.
    const NINE: u64 = 1_796_202_000_000;

    fn quota(per_hour: Option<u64>, per_day: Option<u64>, mode: QuotaMode) -> Quota {
        Quota {
            per_hour,
            per_day,
            mode,
        }
    }

    fn client_only(q: Quota) -> QuotaRequest {
        QuotaRequest {
            client: Some(q),
            ..QuotaRequest::default()
        }
    }

    #[test]
    fn the_windows_are_clock_hours_and_utc_days() {
        assert_eq!(NINE % HOUR_MS, 0);
        assert_eq!(hour_of(NINE + HOUR_MS - 1), NINE);
        assert_eq!(hour_of(NINE + HOUR_MS), NINE + HOUR_MS);
        assert_eq!(day_of(NINE), NINE - 9 * HOUR_MS);
    }

    #[test]
    fn an_enforced_quota_grants_what_remains_then_refuses_until_the_hour_ends() {
        let q = quota(Some(5), None, QuotaMode::Enforce);
        let mut counts = QuotaCounts::default();
        assert_eq!(counts.take(q, NINE, 3, false).granted, 3);
        assert_eq!(counts.take(q, NINE + 10, 3, false).granted, 2);
        let refused = counts.take(q, NINE + HOUR_MS - 1, 1, false);
        assert_eq!(refused.granted, 0);
        let refusal = refused.refused.unwrap();
        assert_eq!(
            (refusal.window, refusal.until),
            (QuotaWindow::Hour, NINE + HOUR_MS)
        );
        assert_eq!(
            refusal.error(NINE + HOUR_MS - 1_500),
            Error::OverQuota {
                retry_after: 2,
                quota: 5,
                window: QuotaWindow::Hour
            }
        );
        // The next hour counts from zero.
        assert_eq!(counts.take(q, NINE + HOUR_MS, 4, false).granted, 4);
        assert_eq!(counts.usage(NINE + HOUR_MS).hour, 4);
        assert_eq!(counts.usage(NINE + HOUR_MS).day, 9);
    }

    #[test]
    fn an_exhausted_day_refuses_until_midnight_utc_whatever_the_hour() {
        let q = quota(Some(10), Some(3), QuotaMode::Enforce);
        let mut counts = QuotaCounts::default();
        assert_eq!(counts.take(q, NINE, 5, false).granted, 3);
        let refusal = counts
            .take(q, NINE + 2 * HOUR_MS, 1, false)
            .refused
            .unwrap();
        assert_eq!(refusal.window, QuotaWindow::Day);
        assert_eq!(refusal.until, day_of(NINE) + DAY_MS);
        assert_eq!(counts.take(q, day_of(NINE) + DAY_MS, 1, false).granted, 1);
    }

    #[test]
    fn a_monitored_quota_grants_everything_and_says_when_it_is_over() {
        let q = quota(Some(2), None, QuotaMode::Monitor);
        let mut counts = QuotaCounts::default();
        let first = counts.take(q, NINE, 2, false);
        assert_eq!((first.granted, first.over, first.refused), (2, false, None));
        let over = counts.take(q, NINE, 3, false);
        assert_eq!((over.granted, over.over, over.refused), (3, true, None));
        assert_eq!(counts.usage(NINE).hour, 5);
    }

    #[test]
    fn tokens_given_back_in_their_hour_count_again_and_later_ones_do_not() {
        let request = client_only(quota(Some(4), None, QuotaMode::Enforce));
        let mut state = ClientQuota::default();
        let all = |n| n;
        assert_eq!(state.lease(NINE, &request, (4, 0), all).0, 4);
        let back = QuotaRequest {
            returned_hour: NINE,
            ..request.clone()
        };
        assert_eq!(state.lease(NINE + 5, &back, (1, 3), all).0, 1);
        assert_eq!(state.counts.usage(NINE + 5).hour, 2);
        // Given back in the next hour: that hour never counted them.
        let late = QuotaRequest {
            returned_hour: NINE,
            ..request
        };
        state.lease(NINE + HOUR_MS, &late, (1, 2), all);
        assert_eq!(state.counts.usage(NINE + HOUR_MS).hour, 1);
    }

    #[test]
    fn tokens_the_bucket_lacks_are_not_counted() {
        let request = client_only(quota(Some(10), None, QuotaMode::Enforce));
        let mut state = ClientQuota::default();
        let (granted, view) = state.lease(NINE, &request, (5, 0), |n| n.min(2));
        assert_eq!((granted, view.refused), (2, None));
        assert_eq!(state.counts.usage(NINE).hour, 2);
    }

    #[test]
    fn a_client_takes_blocks_of_its_tenants_quota_and_spends_them_first() {
        let tenant_quota = quota(Some(3), None, QuotaMode::Enforce);
        let request = QuotaRequest {
            tenant: Some((tenant_guard_name("t"), tenant_quota)),
            ..QuotaRequest::default()
        };
        let (mut tenant, mut a, mut b) = (
            ClientQuota::default(),
            ClientQuota::default(),
            ClientQuota::default(),
        );
        let mut lease = |client: &mut ClientQuota, want| {
            if let Some(size) = client.block_wanted(NINE, &request, want) {
                let taken = tenant.grant_block(
                    NINE,
                    BlockRequest {
                        quota: tenant_quota,
                        want: size,
                    },
                );
                client.add_block(NINE, taken);
            }
            client.lease(NINE, &request, (want, 0), |n| n)
        };
        assert_eq!(lease(&mut a, 2).0, 2);
        assert_eq!(lease(&mut b, 2).0, 1);
        let (granted, view) = lease(&mut a, 1);
        assert_eq!(granted, 0);
        let refusal = view.refused.unwrap();
        assert_eq!(
            (refusal.window, refusal.quota),
            (QuotaWindow::TenantHour, 3)
        );
    }

    #[test]
    fn the_clients_object_refuses_until_the_windows_end_and_the_isolate_answers_over_quota() {
        use crate::core::{
            guard::{CachedView, ClientGuardState, LeaseRequest, Source, Step},
            limit::DEFAULT_LIMIT,
        };
        let mut state = ClientGuardState::default();
        let request = LeaseRequest {
            per_minute: DEFAULT_LIMIT.per_minute,
            burst: DEFAULT_LIMIT.burst,
            want: 5,
            returned: 0,
            source: None,
            prefix: None,
            seen: Vec::new(),
            secret_hash: "h".into(),
            quota: client_only(quota(Some(2), None, QuotaMode::Enforce)),
        };
        let first = state.lease(NINE, &request);
        assert_eq!((first.granted, first.quota.hour), (2, NINE));
        let refused = state.lease(NINE + 1_000, &request);
        assert_eq!(refused.granted, 0);
        assert_eq!(refused.wait_ms, HOUR_MS - 1_000, "until the hour's end");
        assert_eq!(state.quota_usage(NINE + 1_000).hour, 2);
        // An isolate told so refuses on its own while its view is fresh, naming the window.
        let mut cached = CachedView::new(refused, DEFAULT_LIMIT, NINE + 1_000);
        let step = cached.decide(NINE + 1_500, &Source::from_header(None), "h", 0);
        let expected = Error::OverQuota {
            retry_after: (HOUR_MS - 1_500).div_ceil(1_000),
            quota: 2,
            window: QuotaWindow::Hour,
        };
        assert_eq!(step, Step::Refuse(expected));
    }

    #[test]
    fn an_isolate_never_spends_in_one_hour_what_was_counted_in_the_last() {
        use crate::core::{
            guard::{CachedView, ClientGuardState, LeaseRequest, Source, Step},
            limit::DEFAULT_LIMIT,
        };
        let mut state = ClientGuardState::default();
        let mut request = LeaseRequest {
            per_minute: DEFAULT_LIMIT.per_minute,
            burst: DEFAULT_LIMIT.burst,
            want: 3,
            returned: 0,
            source: None,
            prefix: None,
            seen: Vec::new(),
            secret_hash: "h".into(),
            quota: client_only(quota(Some(3), None, QuotaMode::Enforce)),
        };
        let late = NINE + HOUR_MS - 600;
        let view = state.lease(late, &request);
        let mut cached = CachedView::new(view, DEFAULT_LIMIT, late);
        let nowhere = Source::from_header(None);
        assert!(matches!(
            cached.decide(late + 100, &nowhere, "h", 0),
            Step::Serve { .. }
        ));
        // Past the hour, within the view's life: the two tokens left are not spent.
        assert_eq!(cached.decide(NINE + HOUR_MS, &nowhere, "h", 0), Step::Ask);
        // The next hour's lease is its own; a give-back of the old hour is not credited.
        request.returned = 2;
        request.quota.returned_hour = NINE;
        let next = state.lease(NINE + HOUR_MS + 1, &request);
        assert_eq!((next.granted, next.quota.hour), (3, NINE + HOUR_MS));
        assert_eq!(state.quota_usage(NINE + HOUR_MS + 1).hour, 3);
    }

    #[test]
    fn a_block_lapses_with_its_hour() {
        let mut state = ClientQuota::default();
        state.add_block(
            NINE,
            Taken {
                granted: 5,
                ..Taken::default()
            },
        );
        assert_eq!(state.block.left(NINE + 1), 5);
        assert_eq!(state.block.left(NINE + HOUR_MS), 0);
    }

    #[test]
    fn a_tenant_block_is_a_hundredth_of_its_smaller_figure_at_least_the_lease() {
        let q = quota(Some(10_000), Some(50_000), QuotaMode::Enforce);
        assert_eq!([q.block(1), q.block(300)], [100, 300]);
        assert_eq!(quota(None, Some(5), QuotaMode::Enforce).block(1), 1);
    }

    #[test]
    fn a_written_quota_needs_a_figure_and_nothing_unknown() {
        let parse = |json: &str| {
            serde_json::from_str::<Quota>(json)
                .ok()
                .filter(|q| q.is_valid())
        };
        assert_eq!(
            parse(r#"{"per_hour":5,"mode":"monitor"}"#),
            Some(quota(Some(5), None, QuotaMode::Monitor))
        );
        assert_eq!(
            parse(r#"{"per_day":7}"#),
            Some(quota(None, Some(7), QuotaMode::Enforce))
        );
        assert_eq!(parse(r#"{"mode":"monitor"}"#), None);
        assert_eq!(parse(r#"{"per_hour":0}"#), None);
        assert_eq!(parse(r#"{"per_hour":5,"per_dya":2}"#), None);
        assert_eq!(parse(r#"{"per_hour":5,"mode":"warn"}"#), None);
        let error = serde_json::from_str::<Quota>(r#"{"per_hour":5,"mode":"warn"}"#).unwrap_err();
        assert!(error
            .to_string()
            .starts_with("unknown variant `warn`, expected `enforce` or `monitor`"));
        for window in [
            QuotaWindow::Hour,
            QuotaWindow::Day,
            QuotaWindow::TenantHour,
            QuotaWindow::TenantDay,
        ] {
            let json = serde_json::to_string(&window).unwrap();
            assert_eq!(
                crate::core::json::parse::<QuotaWindow>(json.as_bytes()).ok(),
                Some(window)
            );
        }
        assert!(crate::core::json::parse::<QuotaWindow>(br#""week""#).is_err());
    }

    #[test]
    fn a_tenant_object_name_is_never_a_client_object_name() {
        assert!(!tenant_guard_name("default").contains(':'));
    }
}
