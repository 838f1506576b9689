//! The `jti`s of a `private_key_jwt` client's assertions, kept in its guard object until each
//! assertion's `exp` (RFC 7523 §3: single use). The object is the one place that sees every
//! isolate's requests for the client, so an assertion replayed anywhere is caught there.
//!
//! Not yet done (issue 11's notes): the digests live inside the whole client state, which the
//! object writes back on every spend and every lease, up to [`MAX_SEEN_ASSERTIONS`] entries
//! of ~30 bytes each. One storage key per digest (SQLite rows keyed by digest, with their
//! expiry) would make a spend one small write and a lease not carry them; it touches the
//! object's storage layout (`guard::stored`, `edge::guard`), so it waits for a change of its
//! own.

use serde::{Deserialize, Serialize};

/// Live `jti`s a client's object keeps. Assertions live at most five minutes and a half
/// ([`crate::core::assertion::MAX_LIFETIME_S`] and the skew), so this allows a fresh assertion
/// about every 160 ms; past it, new ones wait ([`Spent::Full`]) rather than go unchecked.
pub const MAX_SEEN_ASSERTIONS: usize = 2_048;

/// An isolate's request to spend an assertion's `jti`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpendRequest {
    /// The `jti`'s digest ([`crate::core::assertion::Assertion::jti_digest`]).
    pub jti: String,
    /// Unix ms until which it must be remembered.
    pub until_ms: u64,
}

/// The object's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "spent", rename_all = "snake_case")]
pub enum Spent {
    /// First use: the `jti` is now remembered.
    Fresh,
    /// Seen before, and not forgotten yet.
    Replayed,
    /// Too many live `jti`s: retry after this many ms, when the oldest lapses.
    Full {
        /// Milliseconds until a slot frees.
        retry_after_ms: u64,
    },
}

/// The live `jti` digests and until when each is kept.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeenAssertions(Vec<(String, u64)>);

impl SeenAssertions {
    /// Whether nothing is kept (then the object's state does not store the member).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Spends `request.jti` at `now` (Unix ms), forgetting the lapsed ones first.
    pub fn spend(&mut self, now: u64, request: &SpendRequest) -> Spent {
        self.0.retain(|(_, until)| *until > now);
        if self.0.iter().any(|(jti, _)| *jti == request.jti) {
            return Spent::Replayed;
        }
        if self.0.len() >= MAX_SEEN_ASSERTIONS {
            let soonest = self.0.iter().map(|(_, until)| *until).min().unwrap_or(now);
            return Spent::Full {
                retry_after_ms: soonest.saturating_sub(now),
            };
        }
        self.0.push((request.jti.clone(), request.until_ms));
        Spent::Fresh
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spend(jti: &str, until_ms: u64) -> SpendRequest {
        SpendRequest {
            jti: jti.into(),
            until_ms,
        }
    }

    #[test]
    fn a_jti_is_spent_once_until_it_lapses() {
        let mut seen = SeenAssertions::default();
        assert_eq!(seen.spend(0, &spend("a", 1_000)), Spent::Fresh);
        assert_eq!(seen.spend(999, &spend("a", 1_000)), Spent::Replayed);
        assert_eq!(seen.spend(999, &spend("b", 1_000)), Spent::Fresh);
        assert_eq!(seen.spend(1_000, &spend("a", 2_000)), Spent::Fresh);
        assert_eq!(seen.0.len(), 1, "the lapsed ones are forgotten");
    }

    #[test]
    fn when_full_a_new_jti_waits_for_the_oldest_to_lapse_and_is_never_taken_unchecked() {
        let mut seen = SeenAssertions::default();
        for i in 0..MAX_SEEN_ASSERTIONS as u64 {
            assert_eq!(
                seen.spend(0, &spend(&i.to_string(), 5_000 + i)),
                Spent::Fresh
            );
        }
        assert_eq!(
            seen.spend(100, &spend("new", 9_000)),
            Spent::Full {
                retry_after_ms: 4_900
            }
        );
        assert_eq!(seen.spend(100, &spend("0", 9_000)), Spent::Replayed);
        assert_eq!(seen.spend(5_001, &spend("new", 9_000)), Spent::Fresh);
    }

    #[test]
    fn the_answer_travels_as_tagged_json() {
        let full = Spent::Full { retry_after_ms: 7 };
        let json = serde_json::to_string(&full).unwrap();
        assert_eq!(json, r#"{"spent":"full","retry_after_ms":7}"#);
        assert_eq!(serde_json::from_str::<Spent>(&json).unwrap(), full);
    }
}
