//! The first gates in front of storage (docs/limits.md, "What a failure costs").
//!
//! A failed authentication is first counted, against each prefix of its source, by a counter
//! that costs no storage operation: the Workers Rate Limiting binding, per Cloudflare location,
//! one binding per threshold (an address, a /24 or /56, a /48). Within every budget the failure
//! goes no further: no request to the source's shard. When a prefix goes over its budget, the
//! isolate blocks it at once and reports it to the shard as a trip; the shard blocks it too and
//! keeps the durable, growing blocks. So a source guessing from one place costs a few KV reads
//! and one object request per block, and failures spread over many sources cost no object
//! request at all.

use super::guard::{
    source::{threshold, NETWORK_THRESHOLD, SOURCE_THRESHOLD},
    Unavailable, CLIENT_PREFIX_THRESHOLD, SOURCE_BLOCK_MS,
};

/// The binding that counts failures per address (IPv4, IPv6 /64, or the shared unknown key).
pub const ADDRESS_GATE: &str = "FAILURE_GATE";
/// The binding that counts failures per IPv4 /24 or IPv6 /56.
pub const NETWORK_GATE: &str = "FAILURE_GATE_NETWORK";
/// The binding that counts failures per IPv6 /48.
pub const SITE_GATE: &str = "FAILURE_GATE_SITE";
/// The binding that counts a client's wrong secrets per source prefix, for a client whose
/// secrets were all generated (a client with a guessable secret is counted by its object).
pub const CLIENT_GATE: &str = "CLIENT_FAILURE_GATE";
/// [`CLIENT_GATE`]'s budget (`simple.limit` in wrangler.toml): one short of the prefix's
/// threshold, so that the threshold's failure is the one that guards the prefix.
pub const CLIENT_GATE_BUDGET: u32 = CLIENT_PREFIX_THRESHOLD - 1;
/// The bindings' `simple.period` in wrangler.toml, in seconds.
pub const GATE_PERIOD_SECONDS: u32 = 60;

/// The binding that counts failures against `key` (a key of a source), and its budget: one
/// less than the prefix's threshold, so that the threshold's failure is the one that blocks.
/// The binding's `simple.limit` in wrangler.toml must be this budget.
pub fn gate_for(key: &str) -> (&'static str, u32) {
    let limit = threshold(key);
    let binding = match limit {
        SOURCE_THRESHOLD => ADDRESS_GATE,
        NETWORK_THRESHOLD => NETWORK_GATE,
        _ => SITE_GATE,
    };
    (binding, limit - 1)
}

/// The key of [`CLIENT_GATE`] for wrong secrets of the client `guard` (its object's name)
/// from the source prefix `prefix`.
pub fn client_gate_key(guard: &str, prefix: &str) -> String {
    format!("{guard}|{prefix}")
}

/// What a gate said of one more failure against a prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Within the budget: counted there and nowhere else.
    Within,
    /// Over the budget: the prefix is blocked.
    Over,
    /// No gate is bound, or it failed: the shard counts, as without gates.
    Absent,
}

/// What the source's shard is told of a failure, from its prefixes' gates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    /// Every gate is within its budget: nothing.
    Nothing,
    /// These prefixes went over their gates (`/trip`): the shard blocks them at once.
    Trip(Vec<String>),
    /// A gate is missing: every prefix is counted by the shard (`/failure`), as without gates.
    Count(Vec<String>),
}

impl Report {
    /// The report for a failure whose prefixes' gates said `verdicts`.
    pub fn new(verdicts: &[(String, Gate)]) -> Self {
        if verdicts.iter().any(|(_, gate)| *gate == Gate::Absent) {
            return Self::Count(verdicts.iter().map(|(key, _)| key.clone()).collect());
        }
        let over: Vec<String> = verdicts
            .iter()
            .filter(|(_, gate)| *gate == Gate::Over)
            .map(|(key, _)| key.clone())
            .collect();
        if over.is_empty() {
            Self::Nothing
        } else {
            Self::Trip(over)
        }
    }

    /// The shard's path and the keys to send it, if anything is sent.
    pub fn request(&self) -> Option<(&'static str, &[String])> {
        match self {
            Self::Nothing => None,
            Self::Trip(keys) => Some(("trip", keys)),
            Self::Count(keys) => Some(("failure", keys)),
        }
    }

    /// `[key, Unix ms]`: what the isolate blocks, given the shard's answer. A tripped prefix
    /// is blocked for at least a first block even if the shard could not be asked.
    pub fn blocked(
        &self,
        now: u64,
        shard: Result<Vec<(String, u64)>, Unavailable>,
    ) -> Result<Vec<(String, u64)>, Unavailable> {
        let Self::Trip(keys) = self else {
            return match self {
                Self::Nothing => Ok(Vec::new()),
                _ => shard,
            };
        };
        let mut blocked = shard.unwrap_or_default();
        for key in keys {
            let floor = now + SOURCE_BLOCK_MS;
            match blocked.iter_mut().find(|(k, _)| k == key) {
                Some((_, until)) => *until = (*until).max(floor),
                None => blocked.push((key.clone(), floor)),
            }
        }
        Ok(blocked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::guard::source::SITE_THRESHOLD;

    fn verdicts(list: &[(&str, Gate)]) -> Vec<(String, Gate)> {
        list.iter().map(|(k, g)| ((*k).to_owned(), *g)).collect()
    }

    #[test]
    fn within_every_budget_nothing_is_reported_and_nothing_blocked() {
        let report = Report::new(&verdicts(&[
            ("192.0.2.1", Gate::Within),
            ("192.0.2.0/24", Gate::Within),
        ]));
        assert_eq!(report, Report::Nothing);
        assert_eq!(report.request(), None);
        assert_eq!(report.blocked(5, Ok(vec![])), Ok(vec![]));
    }

    #[test]
    fn a_prefix_over_its_gate_is_tripped_and_blocked_even_without_the_shard() {
        let report = Report::new(&verdicts(&[
            ("192.0.2.1", Gate::Over),
            ("192.0.2.0/24", Gate::Within),
        ]));
        assert_eq!(
            report.request(),
            Some(("trip", &["192.0.2.1".to_owned()][..]))
        );
        let now = 1_000;
        let floor = vec![("192.0.2.1".to_owned(), now + SOURCE_BLOCK_MS)];
        assert_eq!(report.blocked(now, Err(Unavailable)), Ok(floor.clone()));
        assert_eq!(report.blocked(now, Ok(vec![])), Ok(floor));
        let longer = vec![("192.0.2.1".to_owned(), now + 10 * SOURCE_BLOCK_MS)];
        assert_eq!(
            report.blocked(now, Ok(longer.clone())),
            Ok(longer),
            "the shard's longer block wins"
        );
    }

    #[test]
    fn without_a_gate_the_shard_counts_every_prefix() {
        let report = Report::new(&verdicts(&[
            ("192.0.2.1", Gate::Absent),
            ("192.0.2.0/24", Gate::Within),
        ]));
        let keys = ["192.0.2.1".to_owned(), "192.0.2.0/24".to_owned()];
        assert_eq!(report.request(), Some(("failure", &keys[..])));
        assert_eq!(report.blocked(5, Err(Unavailable)), Err(Unavailable));
    }

    #[test]
    fn each_prefix_has_the_gate_of_its_threshold_one_short_of_it() {
        assert_eq!(gate_for("192.0.2.1"), (ADDRESS_GATE, SOURCE_THRESHOLD - 1));
        assert_eq!(
            gate_for("2001:db8:1:2::/64"),
            (ADDRESS_GATE, SOURCE_THRESHOLD - 1)
        );
        assert_eq!(
            gate_for("192.0.2.0/24"),
            (NETWORK_GATE, NETWORK_THRESHOLD - 1)
        );
        assert_eq!(
            gate_for("2001:db8:1:200::/56"),
            (NETWORK_GATE, NETWORK_THRESHOLD - 1)
        );
        assert_eq!(gate_for("2001:db8:1::/48"), (SITE_GATE, SITE_THRESHOLD - 1));
        // wrangler.toml's bindings must say the same.
        let config = include_str!("../../wrangler.toml");
        for key in ["192.0.2.1", "192.0.2.0/24", "2001:db8:1::/48"] {
            let (name, budget) = gate_for(key);
            let binding = format!(
                "name = \"{name}\"\nnamespace_id = \"{}\"\nsimple = {{ limit = {budget}, period = {GATE_PERIOD_SECONDS} }}",
                match name { ADDRESS_GATE => 1001, NETWORK_GATE => 1002, _ => 1003 }
            );
            assert!(config.contains(&binding), "wrangler.toml: {binding}");
        }
        let client = format!(
            "name = \"{CLIENT_GATE}\"\nnamespace_id = \"1004\"\nsimple = {{ limit = {CLIENT_GATE_BUDGET}, period = {GATE_PERIOD_SECONDS} }}"
        );
        assert!(config.contains(&client), "wrangler.toml: {client}");
    }
}
