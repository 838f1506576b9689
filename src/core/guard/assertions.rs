//! The `jti`s of a `private_key_jwt` client's assertions, kept in its guard object until each
//! assertion's `exp` (RFC 7523 §3: single use). The object is the one place that sees every
//! isolate's requests for the client, so an assertion replayed anywhere is caught there.
//!
//! Each `jti` digest is a storage entry of its own ([`ASSERTION_KEY`] + digest → Unix ms), as
//! the revoked tokens' are ([`super::tokens`]): a spend writes one small entry, and neither a
//! spend nor a lease rewrites the others. The object loads them once, when it first needs them.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::{
    objects::{ClientView, LeaseRequest},
    throttled,
    tokens::TokensUpdate,
};
use crate::core::error::Error;

/// Live `jti`s a client's object keeps. Assertions live at most five minutes and a half
/// ([`crate::core::assertion::MAX_LIFETIME_S`] and the skew), so this allows a fresh assertion
/// about every 160 ms; past it, new ones wait ([`Spent::Full`]) rather than go unchecked.
pub const MAX_SEEN_ASSERTIONS: usize = 2_048;
/// The prefix of a spent `jti`'s storage key in its client's object.
pub const ASSERTION_KEY: &str = "a:";

/// An isolate's request to spend an assertion's `jti`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpendRequest {
    /// The `jti`'s digest ([`crate::core::assertion::Assertion::jti_digest`]).
    pub jti: String,
    /// Unix ms until which it must be remembered.
    pub until_ms: u64,
}

/// An isolate's request to spend the `jti`s of one token request (its assertion's, its DPoP
/// proof's, or both) and, when its view of the client cannot decide without the object, the
/// lease the token will draw from: one round trip where there were two or three. The object
/// spends every `jti` (each durable before it answers), then leases only if all were fresh.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpendBatch {
    /// The `jti`s, in the order the answer gives their outcomes.
    pub spends: Vec<SpendRequest>,
    /// The lease request [`super::Limiter::admit`] would make next, if it would make one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<LeaseRequest>,
}

impl SpendBatch {
    /// The lease to grant once the `jti`s are `spent`: none when one of them was not fresh
    /// (the request is refused, so a lease would only wait unused in the isolate).
    pub fn lease_after(self, spent: &[Spent]) -> Option<LeaseRequest> {
        let fresh = spent.len() == self.spends.len() && spent.iter().all(|s| *s == Spent::Fresh);
        self.lease.filter(|_| fresh)
    }
}

/// The object's answer to a [`SpendBatch`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpendAnswer {
    /// Each `jti`'s outcome, in the request's order.
    pub spent: Vec<Spent>,
    /// The lease and the client's view, when the batch asked for a lease and every `jti` was
    /// fresh.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub view: Option<ClientView>,
}

/// The object's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "spent", rename_all = "snake_case", try_from = "SpentRead")]
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

impl Spent {
    /// The outcome as the request's: `replayed` when the object saw the `jti`, a `429` until
    /// the oldest lapses when it keeps too many.
    pub fn result(self, replayed: Error) -> Result<(), Error> {
        match self {
            Self::Fresh => Ok(()),
            Self::Replayed => Err(replayed),
            Self::Full { retry_after_ms } => Err(throttled(retry_after_ms)),
        }
    }
}

/// [`Spent`] as the isolate reads it: the `spent` tag and the number beside it, the
/// enum's own JSON. A struct with the tag as a string, because serde reads an internally tagged
/// enum by buffering the whole object first, and an enum of names through its general enum
/// reader: code the token Worker would carry for this one answer.
#[derive(Deserialize)]
pub struct SpentRead {
    spent: String,
    retry_after_ms: Option<u64>,
}

impl TryFrom<SpentRead> for Spent {
    type Error = &'static str;

    fn try_from(read: SpentRead) -> Result<Self, Self::Error> {
        match (read.spent.as_str(), read.retry_after_ms) {
            ("fresh", _) => Ok(Self::Fresh),
            ("replayed", _) => Ok(Self::Replayed),
            ("full", Some(retry_after_ms)) => Ok(Self::Full { retry_after_ms }),
            ("full", None) => Err("missing field `retry_after_ms`"),
            _ => Err("unknown variant"),
        }
    }
}

/// The live `jti` digests and until when each is kept (Unix ms).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeenAssertions(HashMap<String, u64>);

impl SeenAssertions {
    /// The state from the object's stored entries (digest, Unix ms).
    pub fn restore(entries: impl IntoIterator<Item = (String, u64)>) -> Self {
        Self(entries.into_iter().collect())
    }

    /// Spends `request.jti` at `now` (Unix ms), forgetting the lapsed ones first; the update
    /// names the entry to write and the ones to delete.
    pub fn spend(&mut self, now: u64, request: &SpendRequest) -> (Spent, TokensUpdate) {
        let mut update = TokensUpdate::default();
        self.0.retain(|jti, until| {
            let live = *until > now;
            if !live {
                update.forgotten.push(jti.clone());
            }
            live
        });
        if self.0.contains_key(&request.jti) {
            return (Spent::Replayed, update);
        }
        if self.0.len() >= MAX_SEEN_ASSERTIONS {
            let soonest = self.0.values().min().copied().unwrap_or(now);
            let full = Spent::Full {
                retry_after_ms: soonest.saturating_sub(now),
            };
            return (full, update);
        }
        self.0.insert(request.jti.clone(), request.until_ms);
        update.added = Some((request.jti.clone(), request.until_ms));
        (Spent::Fresh, update)
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
    fn a_jti_is_spent_once_until_it_lapses_and_each_spend_writes_one_entry() {
        let mut seen = SeenAssertions::default();
        let (fresh, update) = seen.spend(0, &spend("a", 1_000));
        assert_eq!(fresh, Spent::Fresh);
        assert_eq!(update.added, Some(("a".to_owned(), 1_000)));
        let (again, update) = seen.spend(999, &spend("a", 1_000));
        assert_eq!(again, Spent::Replayed);
        assert_eq!(update, TokensUpdate::default(), "a replay writes nothing");
        assert_eq!(seen.spend(999, &spend("b", 1_000)).0, Spent::Fresh);
        let (later, update) = seen.spend(1_000, &spend("a", 2_000));
        assert_eq!(later, Spent::Fresh);
        let mut forgotten = update.forgotten;
        forgotten.sort();
        assert_eq!(forgotten, ["a", "b"], "the lapsed entries are deleted");
        assert_eq!(seen.0.len(), 1);
    }

    #[test]
    fn a_batch_is_leased_only_when_every_jti_was_fresh() {
        let lease = LeaseRequest::one_token("private_key_jwt");
        let batch = SpendBatch {
            spends: vec![spend("a", 1_000), spend("p", 1_000)],
            lease: Some(lease.clone()),
        };
        let fresh = [Spent::Fresh, Spent::Fresh];
        assert_eq!(batch.clone().lease_after(&fresh), Some(lease));
        let replayed = [Spent::Fresh, Spent::Replayed];
        assert_eq!(batch.clone().lease_after(&replayed), None);
        assert_eq!(batch.lease_after(&fresh[..1]), None, "every jti answered");
        let json = r#"{"spent":[{"spent":"fresh"},{"spent":"replayed"}]}"#;
        let answer: SpendAnswer = crate::core::json::parse(json.as_bytes()).unwrap();
        assert_eq!(answer.spent, replayed);
        assert_eq!(answer.view, None);
    }

    #[test]
    fn restored_entries_are_spent_already() {
        let mut seen = SeenAssertions::restore([("a".to_owned(), 1_000)]);
        assert_eq!(seen.spend(10, &spend("a", 1_000)).0, Spent::Replayed);
    }

    #[test]
    fn when_full_a_new_jti_waits_for_the_oldest_to_lapse_and_is_never_taken_unchecked() {
        let mut seen = SeenAssertions::default();
        for i in 0..MAX_SEEN_ASSERTIONS as u64 {
            assert_eq!(
                seen.spend(0, &spend(&i.to_string(), 5_000 + i)).0,
                Spent::Fresh
            );
        }
        assert_eq!(
            seen.spend(100, &spend("new", 9_000)).0,
            Spent::Full {
                retry_after_ms: 4_900
            }
        );
        assert_eq!(seen.spend(100, &spend("0", 9_000)).0, Spent::Replayed);
        assert_eq!(seen.spend(5_001, &spend("new", 9_000)).0, Spent::Fresh);
    }

    #[test]
    fn the_answer_travels_as_tagged_json() {
        let full = Spent::Full { retry_after_ms: 7 };
        let json = serde_json::to_string(&full).unwrap();
        assert_eq!(json, r#"{"spent":"full","retry_after_ms":7}"#);
        assert_eq!(serde_json::from_str::<Spent>(&json).unwrap(), full);
    }

    #[test]
    fn every_spent_reads_back_and_a_full_one_needs_its_number() {
        let read = |json: &str| crate::core::json::parse::<Spent>(json.as_bytes()).ok();
        for answer in [
            Spent::Fresh,
            Spent::Replayed,
            Spent::Full { retry_after_ms: 3 },
        ] {
            assert_eq!(read(&serde_json::to_string(&answer).unwrap()), Some(answer));
        }
        assert_eq!(read(r#"{"spent":"fresh"}"#), Some(Spent::Fresh));
        assert_eq!(read(r#"{"spent":"replayed"}"#), Some(Spent::Replayed));
        assert_eq!(
            read(r#"{"retry_after_ms":5,"x":[1],"spent":"full"}"#),
            Some(Spent::Full { retry_after_ms: 5 })
        );
        assert_eq!(read(r#"{"spent":"full"}"#), None);
        assert_eq!(read(r#"{"spent":"other"}"#), None);
        assert_eq!(read(r#"{"retry_after_ms":5}"#), None);
    }
}
