//! The first gate in front of storage (docs/limits.md, "What a failure costs").
//!
//! A failed authentication is first counted by a per-source counter that costs no storage
//! operation (the Workers Rate Limiting binding, per Cloudflare location). Within its budget
//! the failure goes no further: no request to the source's shard. Over it, the isolate blocks
//! the source at once and reports it to the shard, which keeps the durable, growing blocks.
//! So a source guessing from one place costs a few KV reads and one object request per block,
//! and failures spread over many sources cost no object request at all.

use super::guard::{Unavailable, SOURCE_BLOCK_MS, SOURCE_THRESHOLD};

/// Failures per source and minute the gate lets through before the next one blocks the
/// source: one less than [`SOURCE_THRESHOLD`], so that the threshold's failure is the one that
/// blocks. The binding's `simple.limit` in wrangler.toml must be this number.
pub const GATE_BUDGET: u32 = SOURCE_THRESHOLD - 1;
/// The binding's `simple.period` in wrangler.toml, in seconds.
pub const GATE_PERIOD_SECONDS: u32 = 60;

/// What the gate said of one more failure from a source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Within the budget: the failure is counted there and nowhere else.
    Within,
    /// Over the budget: the source is blocked.
    Over,
    /// No gate is bound, or it failed: every failure goes to the shard, as without a gate.
    Absent,
}

impl Gate {
    /// Where the failure is reported in the source's shard, if at all: over the gate as a trip
    /// (the shard blocks the source at once), without a gate as a failure to count.
    pub fn report_path(self) -> Option<&'static str> {
        match self {
            Self::Within => None,
            Self::Over => Some("trip"),
            Self::Absent => Some("failure"),
        }
    }

    /// Until when (Unix ms) the isolate blocks the source, given the shard's answer to the
    /// report (when [`Gate::report_path`] names one): over the gate, at least a first block even if the
    /// shard could not be asked or counts fewer failures than the gate did.
    pub fn blocked_until(
        self,
        now: u64,
        shard: Result<u64, Unavailable>,
    ) -> Result<u64, Unavailable> {
        match self {
            Self::Within => Ok(0),
            Self::Over => Ok(shard.unwrap_or(0).max(now + SOURCE_BLOCK_MS)),
            Self::Absent => shard,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn within_the_budget_nothing_is_reported_and_nothing_blocked() {
        assert_eq!(Gate::Within.report_path(), None);
        assert_eq!(Gate::Within.blocked_until(5, Ok(99)), Ok(0));
    }

    #[test]
    fn over_the_budget_the_source_is_blocked_even_without_the_shard() {
        assert_eq!(Gate::Over.report_path(), Some("trip"));
        let now = 1_000;
        assert_eq!(
            Gate::Over.blocked_until(now, Ok(0)),
            Ok(now + SOURCE_BLOCK_MS)
        );
        assert_eq!(
            Gate::Over.blocked_until(now, Err(Unavailable)),
            Ok(now + SOURCE_BLOCK_MS)
        );
        let longer = now + 10 * SOURCE_BLOCK_MS;
        assert_eq!(
            Gate::Over.blocked_until(now, Ok(longer)),
            Ok(longer),
            "the shard's longer block wins"
        );
    }

    #[test]
    fn without_a_gate_the_shard_decides_alone() {
        assert_eq!(Gate::Absent.report_path(), Some("failure"));
        assert_eq!(Gate::Absent.blocked_until(5, Ok(0)), Ok(0));
        assert_eq!(
            Gate::Absent.blocked_until(5, Err(Unavailable)),
            Err(Unavailable)
        );
    }

    #[test]
    fn the_budget_leaves_the_threshold_failure_to_block() {
        assert_eq!(GATE_BUDGET + 1, SOURCE_THRESHOLD);
        // wrangler.toml's binding must say the same.
        let config = include_str!("../../wrangler.toml");
        let expected =
            format!("simple = {{ limit = {GATE_BUDGET}, period = {GATE_PERIOD_SECONDS} }}");
        assert!(config.contains(&expected), "wrangler.toml: {expected}");
    }
}
