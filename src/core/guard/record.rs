//! What a client's object knows of the client's KV record, and the admin API's writes through
//! it (docs/admin-api.md, "One write at a time"): each change is one compare-and-set at the
//! object, which numbers the record's versions, applies the change's commands in the same
//! storage write, and can undo that write when the KV write that follows it fails.

use serde::{Deserialize, Serialize};

use super::objects::{ClientCommand, ClientGuardState};
use crate::core::{admin::AdminError, limit::Limit};

/// What a client's object knows of its record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordMark {
    /// The version of the record's latest write; 0: nothing known (an object stored before
    /// versions existed, or never written through `/record`).
    pub version: u64,
    /// Whether that write left a record (false after a delete).
    pub exists: bool,
}

impl RecordMark {
    /// Whether a write based on the KV record of version `expected` (`None`: a create, which
    /// read no record) conflicts with what the object knows: a create of a client that exists;
    /// any other write based on a version older than the object's, or on the version a delete
    /// ended. An object that knows nothing accepts. A version newer than the object's can
    /// only be one it gave and then undid although its KV write had landed: accepted, so that
    /// KV and the object agree again.
    pub fn conflicts(self, expected: Option<u64>) -> bool {
        match expected {
            None => self.exists,
            Some(_) if self.version == 0 => false,
            Some(read) => read < self.version || (read == self.version && !self.exists),
        }
    }
}

/// `/record`: one admin write, decided against what the object knows of the record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordWrite {
    /// The version of the record the write is based on (read from KV); `None`: a create, the
    /// client must not exist.
    pub expected: Option<u64>,
    /// Whether a record exists after the write (false for a delete).
    pub exists: bool,
    /// What the object applies in the same storage write.
    pub commands: Vec<ClientCommand>,
}

impl RecordWrite {
    /// A new client: served (a deleted client's object stays disabled) and with its limit in
    /// force at once (a deleted client's object may hold another one) until `until_ms`.
    pub fn create(limit: Limit, until_ms: u64) -> Self {
        Self {
            expected: None,
            exists: true,
            commands: vec![
                ClientCommand::Enable,
                ClientCommand::SetLimit { limit, until_ms },
            ],
        }
    }

    /// A change of the record of version `expected` that keeps it: `commands` act at once
    /// (none for a change KV alone carries, such as a rotation).
    pub fn change(expected: u64, commands: Vec<ClientCommand>) -> Self {
        Self {
            expected: Some(expected),
            exists: true,
            commands,
        }
    }

    /// An update from limit `before` to `after`: the new limit in force at once until
    /// `until_ms` when it changed.
    pub fn update(expected: u64, before: Limit, after: Limit, until_ms: u64) -> Self {
        let set = ClientCommand::SetLimit {
            limit: after,
            until_ms,
        };
        Self::change(
            expected,
            (before != after).then_some(set).into_iter().collect(),
        )
    }

    /// The delete of the record of version `expected`: the client refused, and every secret
    /// it had (`hashes`) revoked, so that a client created later with the same id refuses
    /// them even where a stale copy of this record is still read.
    pub fn delete(expected: u64, hashes: impl IntoIterator<Item = String>) -> Self {
        let revoke = hashes
            .into_iter()
            .map(|hash| ClientCommand::RevokeSecret { hash });
        Self {
            expected: Some(expected),
            exists: false,
            commands: std::iter::once(ClientCommand::Disable)
                .chain(revoke)
                .collect(),
        }
    }
}

/// `/record` undo: sets back the write of version `undo`, if it is still the latest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordUndo {
    /// The version the write gave.
    pub undo: u64,
}

/// A `/record` request's body: a write or an undo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RecordRequest {
    /// A write.
    Write(RecordWrite),
    /// An undo.
    Undo(RecordUndo),
}

/// The object's answer to `/record`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordAnswer {
    /// The write or undo was carried out; false: nothing was changed.
    pub done: bool,
    /// The version the object knows after it.
    pub version: u64,
}

/// The message of a write refused because the record changed since the admin API read it.
pub const CONFLICT: &str =
    "the client changed since it was read; nothing was changed: read it again and retry";

impl RecordAnswer {
    /// The new version of a write, or `409 conflict`.
    pub fn written(self) -> Result<u64, AdminError> {
        if self.done {
            Ok(self.version)
        } else {
            Err(AdminError::conflict(CONFLICT))
        }
    }

    /// The refusal of a change whose KV write failed, after the undo at the object answered
    /// `undo` (`None`: it could not be reached): "nothing was changed" only when the undo was
    /// carried out.
    pub fn after_failed_kv(undo: Option<Self>) -> AdminError {
        if undo.is_some_and(|a| a.done) {
            AdminError::unavailable("KV could not be reached; nothing was changed, retry")
        } else {
            AdminError::unavailable(
                "KV could not be reached, and the client's guard object could not be set back: \
                 the change may be in force there although KV does not show it; show the client \
                 and repeat the change",
            )
        }
    }
}

/// What the latest write changed, to undo it: the state it found, and the version it gave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteSnapshot {
    /// The version the write gave.
    pub version: u64,
    /// What the object knew of the record before it.
    pub mark: RecordMark,
    /// Whether the client was disabled before it.
    pub disabled: bool,
    /// The revoked hashes before it.
    pub revoked: Vec<String>,
    /// The operator's limit before it.
    pub limit_set: Option<(Limit, u64)>,
    /// The floor before it ([`crate::core::guard::ClientView::floor`]; absent: 0).
    #[serde(default)]
    pub floor: u64,
    /// The creation time before it (absent: 0).
    #[serde(default)]
    pub created_ms: u64,
    /// When the object carried it out (Unix ms; absent: 0, never taken for lost).
    #[serde(default)]
    pub at: u64,
}

/// How long after a write the object takes it for lost when a later write is based on the
/// record it replaced (docs/admin-api.md, "One write at a time"): KV's propagation (up to
/// 60 s) and a margin. A write whose KV write landed is read everywhere by then, so a write
/// still based on the record before it can only follow a write that never reached KV (its
/// answer lost, or the KV write failed and so did its undo).
pub const LOST_WRITE_MS: u64 = 75_000;

impl ClientGuardState {
    /// Carries out an admin write unless it conflicts ([`RecordMark::conflicts`]): gives the
    /// record its next version (versions only grow, across undos, deletes and re-creates
    /// too), applies the commands and keeps a snapshot to undo them. On a conflict nothing
    /// changes and the answer names the version the object knows.
    ///
    /// A write that conflicts only because of a latest write older than [`LOST_WRITE_MS`],
    /// which KV never showed (the write is based on the record before it), undoes that lost
    /// write first: a client is never held by a lost answer for longer.
    pub fn write_record(&mut self, now: u64, write: RecordWrite) -> RecordAnswer {
        if self.record.conflicts(write.expected) {
            if !self.lost_before(now, write.expected) {
                return RecordAnswer {
                    done: false,
                    version: self.record.version,
                };
            }
            self.undo_record(self.record.version);
        }
        let version = self
            .issued
            .max(self.record.version)
            .max(write.expected.unwrap_or(0))
            + 1;
        self.last_write = Some(WriteSnapshot {
            version,
            mark: self.record,
            disabled: self.disabled,
            revoked: self.revoked.clone(),
            limit_set: self.limit_set,
            floor: self.floor,
            created_ms: self.created_ms,
            at: now,
        });
        for command in write.commands {
            self.command(command);
        }
        if write.expected.is_none() {
            // A creation: copies of the records before it (a deleted client's) are refused,
            // and so are the tokens issued before it.
            self.floor = version;
            self.created_ms = now;
        }
        self.record = RecordMark {
            version,
            exists: write.exists,
        };
        self.issued = version;
        RecordAnswer {
            done: true,
            version,
        }
    }

    /// Whether the latest write was lost, as seen from a write based on `expected`: it is
    /// older than [`LOST_WRITE_MS`] and `expected` is what it replaced.
    fn lost_before(&self, now: u64, expected: Option<u64>) -> bool {
        self.last_write.as_ref().is_some_and(|before| {
            before.version == self.record.version
                && before.at > 0
                && now.saturating_sub(before.at) >= LOST_WRITE_MS
                && !before.mark.conflicts(expected)
        })
    }

    /// Sets back the write of `version` if it is still the latest; otherwise changes nothing.
    pub fn undo_record(&mut self, version: u64) -> RecordAnswer {
        let latest = self.record.version == version;
        match self.last_write.take() {
            Some(before) if latest && before.version == version => {
                self.record = before.mark;
                self.disabled = before.disabled;
                self.revoked = before.revoked;
                self.limit_set = before.limit_set;
                self.floor = before.floor;
                self.created_ms = before.created_ms;
                RecordAnswer {
                    done: true,
                    version: self.record.version,
                }
            }
            kept => {
                self.last_write = kept;
                RecordAnswer {
                    done: false,
                    version: self.record.version,
                }
            }
        }
    }

    /// A `/record` request.
    pub fn record_request(&mut self, now: u64, request: RecordRequest) -> RecordAnswer {
        match request {
            RecordRequest::Write(write) => self.write_record(now, write),
            RecordRequest::Undo(RecordUndo { undo }) => self.undo_record(undo),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::guard::LeaseRequest;

    const LIMIT: Limit = Limit {
        per_minute: 60,
        burst: 8,
    };

    fn lease(state: &mut ClientGuardState, hash: &str) -> u64 {
        state.lease(0, &LeaseRequest::one_token(hash)).granted
    }

    fn created() -> ClientGuardState {
        let mut state = ClientGuardState::default();
        assert_eq!(
            state
                .write_record(0, RecordWrite::create(LIMIT, 75_000))
                .written(),
            Ok(1)
        );
        state
    }

    #[test]
    fn a_second_create_of_one_client_conflicts_and_changes_nothing() {
        let mut state = created();
        let before = state.clone();
        let again = state.write_record(0, RecordWrite::create(LIMIT, 75_000));
        assert_eq!(again.version, 1);
        assert_eq!(again.written().unwrap_err().status, 409);
        assert_eq!(state, before);
    }

    #[test]
    fn a_write_based_on_a_stale_version_conflicts_and_changes_nothing() {
        let mut state = created();
        assert_eq!(
            state
                .write_record(0, RecordWrite::change(1, vec![]))
                .written(),
            Ok(2)
        );
        let before = state.clone();
        let stale = RecordWrite::change(1, vec![ClientCommand::Disable]);
        let answer = state.write_record(0, stale);
        assert_eq!((answer.done, answer.version), (false, 2));
        assert_eq!(state, before);
        assert_eq!(lease(&mut state, "h"), 1, "not disabled");
        assert_eq!(
            state
                .write_record(0, RecordWrite::change(2, vec![]))
                .written(),
            Ok(3)
        );
    }

    #[test]
    fn an_object_that_knows_no_version_accepts_the_version_kv_holds() {
        // State stored before versions existed, and a record written before them (version 0)
        // or after (any version).
        for read in [0, 5] {
            let mut state = ClientGuardState::default();
            let write = RecordWrite::change(read, vec![ClientCommand::Disable]);
            assert_eq!(state.write_record(0, write).written(), Ok(read + 1));
            assert_eq!(lease(&mut state, "h"), 0, "the command is in force");
        }
    }

    #[test]
    fn versions_grow_across_delete_and_re_create_and_old_secrets_stay_revoked() {
        let mut state = created();
        let delete = RecordWrite::delete(1, ["h1".to_owned(), "h2".to_owned()]);
        assert_eq!(state.write_record(0, delete).written(), Ok(2));
        // A stale read of the deleted record: a conflict.
        let stale = state.write_record(0, RecordWrite::change(2, vec![]));
        assert!(!stale.done);
        assert_eq!(
            state
                .write_record(0, RecordWrite::create(LIMIT, 1))
                .written(),
            Ok(3)
        );
        assert_eq!(lease(&mut state, "h1"), 0, "the deleted client's secret");
        assert_eq!(lease(&mut state, "h3"), 1, "the new client's secret");
    }

    #[test]
    fn an_undo_restores_only_the_latest_write_of_its_version() {
        let mut state = created();
        let before = state.clone();
        let write = RecordWrite::delete(1, ["h1".to_owned()]);
        assert_eq!(state.write_record(0, write).written(), Ok(2));
        assert!(!state.undo_record(1).done, "not that write's version");
        assert!(state.undo_record(2).done);
        assert_eq!(state.record, before.record);
        assert_eq!(
            state.usage(),
            before.usage(),
            "enabled, nothing revoked again"
        );
        assert_eq!(lease(&mut state, "h1"), 1);
        assert!(!state.undo_record(2).done, "undone once");
        // The next write gets a version never given before.
        assert_eq!(
            state
                .write_record(0, RecordWrite::change(1, vec![]))
                .written(),
            Ok(3)
        );
        // A write after the one to undo: the undo changes nothing.
        state.write_record(0, RecordWrite::change(3, vec![]));
        let later = state.clone();
        assert!(!state.undo_record(3).done);
        assert_eq!(state, later);
    }

    #[test]
    fn a_version_the_object_gave_and_undid_is_accepted_when_kv_holds_it() {
        let mut state = created();
        state.write_record(0, RecordWrite::change(1, vec![]));
        assert!(state.undo_record(2).done);
        // KV's write had landed after all: it holds version 2.
        assert_eq!(
            state
                .write_record(0, RecordWrite::change(2, vec![]))
                .written(),
            Ok(3)
        );
    }

    #[test]
    fn a_creation_raises_the_floor_below_which_records_are_refused_and_its_undo_lowers_it() {
        let mut state = created();
        assert_eq!(state.lease(0, &LeaseRequest::one_token("h")).floor, 1);
        let delete = RecordWrite::delete(1, Vec::new());
        assert_eq!(state.write_record(0, delete).written(), Ok(2));
        assert_eq!(
            state.lease(0, &LeaseRequest::one_token("h")).floor,
            1,
            "a delete keeps it"
        );
        let again = state.write_record(0, RecordWrite::create(LIMIT, 1));
        assert_eq!(again.written(), Ok(3));
        assert_eq!(state.lease(0, &LeaseRequest::one_token("h")).floor, 3);
        assert!(state.undo_record(3).done);
        assert_eq!(state.lease(0, &LeaseRequest::one_token("h")).floor, 1);
    }

    #[test]
    fn tokens_issued_before_a_re_creation_are_refused_and_later_ones_are_not() {
        let mut state = ClientGuardState::default();
        let t = 1_000_000;
        state.write_record(t, RecordWrite::create(LIMIT, t));
        assert!(
            !state.refuses_token(t),
            "the first creation refuses no token of its own"
        );
        state.write_record(t + 10_000, RecordWrite::delete(1, Vec::new()));
        let again = t + 20_500;
        state.write_record(again, RecordWrite::create(LIMIT, again));
        assert!(state.refuses_token(t + 5_000), "the deleted client's token");
        assert!(
            state.refuses_token(19_000 + t),
            "a second before the creation's"
        );
        assert!(
            !state.refuses_token(20_000 + t),
            "the creation's second: iat is in seconds"
        );
        assert!(
            !state.refuses_token(again + 60_000),
            "the new client's token"
        );
        assert!(state.undo_record(3).done);
        assert!(
            state.refuses_token(t + 5_000),
            "the undo leaves the delete: disabled"
        );
    }

    #[test]
    fn a_lost_write_holds_later_writes_only_until_it_is_taken_for_lost_and_undone() {
        let mut state = ClientGuardState::default();
        let t = 1_000_000;
        let create = RecordWrite::create(LIMIT, t + 75_000);
        assert_eq!(state.write_record(t, create).written(), Ok(1));
        // A disable whose answer was lost: KV still holds version 1.
        let lost = RecordWrite::change(1, vec![ClientCommand::Disable]);
        assert_eq!(state.write_record(t + 1_000, lost).written(), Ok(2));
        let retry =
            || RecordWrite::change(1, vec![ClientCommand::RevokeSecret { hash: "h1".into() }]);
        let early = state.write_record(t + 1_000 + LOST_WRITE_MS - 1, retry());
        assert_eq!(
            (early.done, early.version),
            (false, 2),
            "KV may still be catching up"
        );
        let late = state.write_record(t + 1_000 + LOST_WRITE_MS, retry());
        assert_eq!(late.written(), Ok(3));
        assert_eq!(lease(&mut state, "h2"), 1, "the lost disable is undone");
        assert_eq!(lease(&mut state, "h1"), 0, "the new write is in force");
    }

    #[test]
    fn only_a_write_based_on_what_the_lost_write_replaced_undoes_it() {
        let mut state = ClientGuardState::default();
        let t = 1_000_000;
        state.write_record(t, RecordWrite::create(LIMIT, t));
        assert_eq!(
            state
                .write_record(t, RecordWrite::change(1, vec![]))
                .written(),
            Ok(2)
        );
        let lost = RecordWrite::change(2, vec![ClientCommand::Disable]);
        assert_eq!(state.write_record(t, lost).written(), Ok(3));
        let later = t + LOST_WRITE_MS;
        let older = state.write_record(later, RecordWrite::change(1, vec![]));
        assert!(
            !older.done,
            "based on a record two writes back: a stale read"
        );
        let twice = state.write_record(later, RecordWrite::create(LIMIT, later));
        assert!(!twice.done, "the client existed before the lost write too");
        assert_eq!(
            state
                .write_record(later, RecordWrite::change(2, vec![]))
                .written(),
            Ok(4)
        );
        assert_eq!(lease(&mut state, "h"), 1, "the lost disable is undone");
    }

    #[test]
    fn an_update_sets_the_limit_only_when_it_changed() {
        let other = Limit {
            per_minute: 1,
            burst: 1,
        };
        assert!(RecordWrite::update(4, LIMIT, LIMIT, 9).commands.is_empty());
        let changed = RecordWrite::update(4, LIMIT, other, 9);
        assert_eq!(
            changed.commands,
            [ClientCommand::SetLimit {
                limit: other,
                until_ms: 9
            }]
        );
    }

    #[test]
    fn a_failed_kv_write_says_nothing_changed_only_after_an_undo() {
        let undone = RecordAnswer {
            done: true,
            version: 1,
        };
        let refused = RecordAnswer {
            done: false,
            version: 2,
        };
        let nothing = RecordAnswer::after_failed_kv(Some(undone));
        assert!(nothing.message.contains("nothing was changed"));
        for unsure in [
            RecordAnswer::after_failed_kv(Some(refused)),
            RecordAnswer::after_failed_kv(None),
        ] {
            assert_eq!(unsure.status, 503);
            assert!(unsure.message.contains("may be in force"));
            assert!(!unsure.message.contains("nothing was changed"));
        }
    }

    #[test]
    fn request_bodies_read_as_a_write_or_an_undo_and_old_state_still_loads() {
        let write: RecordRequest =
            serde_json::from_str(r#"{"expected":null,"exists":true,"commands":[{"op":"enable"}]}"#)
                .unwrap();
        assert!(matches!(write, RecordRequest::Write(w) if w.expected.is_none()));
        let undo: RecordRequest = serde_json::from_str(r#"{"undo":7}"#).unwrap();
        assert_eq!(undo, RecordRequest::Undo(RecordUndo { undo: 7 }));
        let old = r#"{"bucket":null,"disabled":true,"revoked":["h"],
            "failures":{"count":0,"window_start":0},"guarded_until":0,"good_sources":[]}"#;
        let state: ClientGuardState = serde_json::from_str(old).unwrap();
        assert_eq!(state.record, RecordMark::default());
        assert!(state.last_write.is_none());
    }
}
