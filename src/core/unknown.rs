//! Client ids this isolate recently found absent from the store (docs/limits.md, "What a
//! failure costs"): a request naming one again is refused without another KV read.
//!
//! Bounded in time and size. The time is shorter than KV's own caching of a missing key
//! (60 s), so a client created meanwhile is found about as soon as KV itself would find it.
//! The size is held by two generations: when the current one is full it becomes the previous
//! one and the older is dropped whole, so an insertion never scans.

use std::{cell::RefCell, collections::HashMap};

/// How long an unknown id is remembered.
pub const UNKNOWN_ID_TTL_MS: u64 = 30_000;
/// Unknown ids remembered at most (both generations together).
pub const MAX_UNKNOWN_IDS: usize = 4_096;

/// One generation: id → when the store said it was absent (Unix ms).
type Generation = HashMap<String, u64>;

/// The ids of one tenant that the store recently said do not exist.
#[derive(Debug, Default)]
pub struct UnknownIds {
    /// `[current, previous]`.
    generations: RefCell<[Generation; 2]>,
}

impl UnknownIds {
    /// Whether the store said `id` is absent less than [`UNKNOWN_ID_TTL_MS`] before `now_ms`.
    pub fn contains(&self, id: &str, now_ms: u64) -> bool {
        self.generations.borrow().iter().any(|generation| {
            generation
                .get(id)
                .is_some_and(|at| now_ms.saturating_sub(*at) < UNKNOWN_ID_TTL_MS)
        })
    }

    /// Remembers that the store said `id` is absent at `now_ms`.
    pub fn insert(&self, id: &str, now_ms: u64) {
        let mut generations = self.generations.borrow_mut();
        if generations[0].len() >= MAX_UNKNOWN_IDS / 2 {
            generations[1] = std::mem::take(&mut generations[0]);
        }
        generations[0].insert(id.to_owned(), now_ms);
    }

    /// Forgets `id` (a client just created through this isolate).
    pub fn forget(&self, id: &str) {
        for generation in self.generations.borrow_mut().iter_mut() {
            generation.remove(id);
        }
    }

    /// How many ids are remembered, expired ones included.
    pub fn len(&self) -> usize {
        self.generations.borrow().iter().map(HashMap::len).sum()
    }

    /// Whether no id is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_id_is_remembered_until_its_time_is_up() {
        let ids = UnknownIds::default();
        ids.insert("ghost", 1_000);
        assert!(ids.contains("ghost", 1_000));
        assert!(ids.contains("ghost", 1_000 + UNKNOWN_ID_TTL_MS - 1));
        assert!(!ids.contains("ghost", 1_000 + UNKNOWN_ID_TTL_MS));
        assert!(!ids.contains("other", 1_000));
        ids.forget("ghost");
        assert!(!ids.contains("ghost", 1_001));
    }

    #[test]
    fn a_flood_of_ids_stays_within_the_bound_and_keeps_the_latest() {
        let ids = UnknownIds::default();
        let flood = 10 * MAX_UNKNOWN_IDS;
        for n in 0..flood {
            ids.insert(&format!("id-{n}"), 0);
            assert!(ids.len() <= MAX_UNKNOWN_IDS);
        }
        // At least the latest half of the bound is always kept; the oldest are gone.
        for n in flood - MAX_UNKNOWN_IDS / 2..flood {
            assert!(ids.contains(&format!("id-{n}"), 0), "id-{n}");
        }
        assert!(!ids.contains("id-0", 0));
    }
}
