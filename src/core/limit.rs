//! Rate-limit arithmetic: the token bucket a client's Durable Object keeps, and the leases it
//! grants isolates. Integer arithmetic in units of 1/60 000 of a token: a rate of `n` tokens
//! per minute adds exactly `n` units per millisecond, so nothing drifts or rounds.
//!
//! A lease is a number of tokens taken out of the bucket at once and spent by one isolate
//! without asking again. Because leased tokens leave the bucket when granted, leases can never
//! make the global count exceed `per_minute × minutes + burst`; tokens an isolate does not need
//! go back into the bucket with its next request ([`Bucket::give_back`]), and what an evicted
//! isolate held is lost (the limit errs on the side of issuing less). Leases are sized so that
//! together they hold at most half the burst ([`Limit::lease_cap`]).

use serde::{Deserialize, Serialize};

/// Units per token: milliseconds per minute.
const UNIT: u64 = 60_000;

/// The largest rate (tokens per minute) and burst a client record or tenant may set.
pub const MAX_RATE: u64 = 1_000_000;

/// The issuance limit of a client whose record sets none, in a tenant that sets none.
pub const DEFAULT_LIMIT: Limit = Limit {
    per_minute: 600,
    burst: 50,
};

/// A client's issuance limit: `per_minute` tokens sustained, `burst` at most at once. The one
/// model of `rate_limit` wherever it is written: a client record, a tenant, an admin request.
/// Unknown members are refused, so a misspelt figure never passes silently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limit {
    /// Tokens added per minute (≥ 1).
    pub per_minute: u64,
    /// Capacity of the bucket (≥ 1).
    pub burst: u64,
}

impl Limit {
    /// Whether both figures are from 1 to [`MAX_RATE`]: the rule for every configured limit
    /// (client records, tenants, admin changes).
    pub fn is_valid(self) -> bool {
        (1..=MAX_RATE).contains(&self.per_minute) && (1..=MAX_RATE).contains(&self.burst)
    }

    /// The largest lease one isolate is granted: a quarter of the burst, at least one token,
    /// so several locations can hold leases at once without starving each other.
    pub fn max_lease(self) -> u64 {
        (self.burst / 4).max(1)
    }

    /// The largest lease granted while `askers` lease requests a second reach the object:
    /// the leases of one second hold at most half the burst together, and one token is
    /// always grantable (the request waiting for it).
    pub fn lease_cap(self, askers: u64) -> u64 {
        (self.burst / (2 * askers.max(1))).clamp(1, self.max_lease())
    }

    /// Seconds an empty bucket takes to fill: the `w` of `RateLimit-Policy`.
    pub fn window_seconds(self) -> u64 {
        (self.burst * 60).div_ceil(self.per_minute.max(1))
    }
}

/// A token bucket at a point in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bucket {
    /// Units (1/60 000 token) available at `updated_ms`.
    units: u64,
    /// When `units` was last brought up to date (Unix ms).
    updated_ms: u64,
}

impl Bucket {
    /// A full bucket at `now_ms`.
    pub fn full(limit: Limit, now_ms: u64) -> Self {
        Self {
            units: limit.burst * UNIT,
            updated_ms: now_ms,
        }
    }

    /// Restores a stored bucket (the Durable Object's storage).
    pub fn from_parts(units: u64, updated_ms: u64) -> Self {
        Self { units, updated_ms }
    }

    /// The stored form: `(units, updated_ms)`.
    pub fn parts(self) -> (u64, u64) {
        (self.units, self.updated_ms)
    }

    /// Whole tokens available at `now_ms`.
    pub fn available(self, limit: Limit, now_ms: u64) -> u64 {
        self.refilled(limit, now_ms).units / UNIT
    }

    /// The bucket at `now_ms`. A clock that goes backwards changes nothing; the bucket never
    /// holds more than `burst`, even when its stored state is from a larger limit.
    fn refilled(self, limit: Limit, now_ms: u64) -> Self {
        let elapsed = now_ms.saturating_sub(self.updated_ms);
        // n tokens per minute = n units per millisecond.
        let added = limit.per_minute.saturating_mul(elapsed);
        Self {
            units: self.units.saturating_add(added).min(limit.burst * UNIT),
            updated_ms: self.updated_ms.max(now_ms),
        }
    }

    /// Takes up to `wanted` whole tokens at `now_ms`; returns how many were taken.
    pub fn take(&mut self, limit: Limit, now_ms: u64, wanted: u64) -> u64 {
        let mut now = self.refilled(limit, now_ms);
        let taken = (now.units / UNIT).min(wanted);
        now.units -= taken * UNIT;
        *self = now;
        taken
    }

    /// Puts back `tokens` that were taken and not spent (an isolate's unneeded lease), at
    /// `now_ms`; the bucket still never holds more than the burst.
    pub fn give_back(&mut self, limit: Limit, now_ms: u64, tokens: u64) {
        let mut now = self.refilled(limit, now_ms);
        now.units = (now.units.saturating_add(tokens.saturating_mul(UNIT))).min(limit.burst * UNIT);
        *self = now;
    }

    /// Milliseconds from `now_ms` until one whole token is available (0 if one is).
    pub fn wait_ms(self, limit: Limit, now_ms: u64) -> u64 {
        let now = self.refilled(limit, now_ms);
        let missing = UNIT.saturating_sub(now.units);
        missing.div_ceil(limit.per_minute.max(1))
    }
}

/// Seconds to put in `Retry-After` for a wait of `ms` (rounded up, at least 1).
pub fn retry_after_seconds(ms: u64) -> u64 {
    ms.div_ceil(1000).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const LIMIT: Limit = Limit {
        per_minute: 120,
        burst: 10,
    };

    #[test]
    fn a_full_bucket_grants_the_burst_then_nothing() {
        let mut bucket = Bucket::full(LIMIT, 0);
        assert_eq!(bucket.take(LIMIT, 0, 7), 7);
        assert_eq!(bucket.take(LIMIT, 0, 7), 3);
        assert_eq!(bucket.take(LIMIT, 0, 1), 0);
        assert_eq!(bucket.wait_ms(LIMIT, 0), 500);
    }

    #[test]
    fn time_refills_at_the_rate_up_to_the_burst() {
        let mut bucket = Bucket::full(LIMIT, 0);
        bucket.take(LIMIT, 0, 10);
        assert_eq!(bucket.available(LIMIT, 1_000), 2);
        assert_eq!(bucket.available(LIMIT, 1_250), 2);
        assert_eq!(bucket.available(LIMIT, 1_500), 3);
        assert_eq!(bucket.available(LIMIT, 60_000), 10);
    }

    #[test]
    fn a_clock_going_backwards_changes_nothing() {
        let mut bucket = Bucket::full(LIMIT, 10_000);
        bucket.take(LIMIT, 10_000, 10);
        assert_eq!(bucket.take(LIMIT, 5_000, 1), 0);
        assert_eq!(bucket.available(LIMIT, 10_500), 1);
    }

    #[test]
    fn a_smaller_limit_caps_a_stored_bucket() {
        let bucket = Bucket::full(LIMIT, 0);
        assert_eq!(
            bucket.available(
                Limit {
                    per_minute: 1,
                    burst: 3,
                },
                0
            ),
            3
        );
    }

    #[test]
    fn leases_are_a_quarter_of_the_burst_and_at_least_one() {
        assert_eq!(LIMIT.max_lease(), 2);
        assert_eq!(
            Limit {
                per_minute: 1,
                burst: 1
            }
            .max_lease(),
            1
        );
        assert_eq!(
            Limit {
                per_minute: 1,
                burst: 100
            }
            .max_lease(),
            25
        );
    }

    #[test]
    fn the_leases_of_one_second_share_half_the_burst() {
        let limit = Limit {
            per_minute: 600,
            burst: 100,
        };
        assert_eq!(
            [0, 1, 2, 5, 50, 1_000].map(|n| limit.lease_cap(n)),
            [25, 25, 25, 10, 1, 1]
        );
    }

    #[test]
    fn tokens_given_back_return_to_the_bucket_up_to_the_burst() {
        let mut bucket = Bucket::full(LIMIT, 0);
        assert_eq!(bucket.take(LIMIT, 0, 6), 6);
        bucket.give_back(LIMIT, 0, 4);
        assert_eq!(bucket.available(LIMIT, 0), 8);
        bucket.give_back(LIMIT, 0, 40);
        assert_eq!(bucket.available(LIMIT, 0), LIMIT.burst);
    }

    #[test]
    fn slow_rates_refill_exactly() {
        let hourly = Limit {
            per_minute: 1,
            burst: 2,
        };
        let mut bucket = Bucket::full(hourly, 0);
        assert_eq!(bucket.take(hourly, 0, 5), 2);
        assert_eq!(bucket.wait_ms(hourly, 0), 60_000);
        assert_eq!(bucket.take(hourly, 59_999, 1), 0);
        assert_eq!(bucket.take(hourly, 60_000, 1), 1);
        assert_eq!(hourly.window_seconds(), 120);
    }

    #[test]
    fn a_written_limit_needs_both_figures_and_nothing_else() {
        let parse = |json: &str| serde_json::from_str::<Limit>(json).ok();
        assert_eq!(
            parse(r#"{"per_minute":5,"burst":2}"#),
            Some(Limit {
                per_minute: 5,
                burst: 2
            })
        );
        assert_eq!(parse(r#"{"per_minute":5}"#), None);
        assert_eq!(parse(r#"{"per_minute":5,"burst":2,"brust":3}"#), None);
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(
            [0, 1, 999, 1000, 1001].map(retry_after_seconds),
            [1, 1, 1, 1, 2]
        );
    }

    proptest! {
        /// Whatever the sequence of requests and clock readings: the bucket never holds more
        /// than the burst, and everything granted up to any instant is at most
        /// per_minute × (elapsed minutes) + burst.
        #[test]
        fn grants_never_exceed_rate_times_time_plus_burst(
            per_minute in 1_u64..3_000,
            burst in 1_u64..100,
            steps in proptest::collection::vec((0_u64..3_000, 0_u64..40), 1..60),
        ) {
            let limit = Limit { per_minute, burst };
            let start = 1_000_000;
            let mut bucket = Bucket::full(limit, start);
            let (mut now, mut granted) = (start, 0);
            for (advance, wanted) in steps {
                now += advance;
                let before = bucket.available(limit, now);
                let taken = bucket.take(limit, now, wanted);
                granted += taken;
                prop_assert!(taken <= wanted && taken <= before);
                prop_assert!(bucket.available(limit, now) <= burst);
                prop_assert!(granted * 60_000 <= per_minute * (now - start) + burst * 60_000);
            }
        }

        /// Leases taken, partly spent and partly given back: what is spent up to any instant
        /// is still at most per_minute × (elapsed minutes) + burst.
        #[test]
        fn tokens_given_back_never_let_spending_exceed_the_bound(
            per_minute in 1_u64..3_000,
            burst in 1_u64..100,
            steps in proptest::collection::vec((0_u64..3_000, 0_u64..40, 0_u64..40, 0_u64..40), 1..60),
        ) {
            let limit = Limit { per_minute, burst };
            let start = 1_000_000;
            let mut bucket = Bucket::full(limit, start);
            let (mut now, mut held, mut spent) = (start, 0, 0);
            for (advance, wanted, spend, back) in steps {
                now += advance;
                held += bucket.take(limit, now, wanted);
                let spend = spend.min(held);
                held -= spend;
                spent += spend;
                let back = back.min(held);
                held -= back;
                bucket.give_back(limit, now, back);
                prop_assert!(bucket.available(limit, now) <= burst);
                prop_assert!(spent * 60_000 <= per_minute * (now - start) + burst * 60_000);
            }
        }

        /// Waiting never removes tokens.
        #[test]
        fn time_passing_never_removes_tokens(
            taken in 0_u64..20, t1 in 0_u64..100_000, dt in 0_u64..100_000,
        ) {
            let mut bucket = Bucket::full(LIMIT, 0);
            bucket.take(LIMIT, 0, taken);
            prop_assert!(bucket.available(LIMIT, t1 + dt) >= bucket.available(LIMIT, t1));
        }
    }
}
