//! The access tokens a client revoked (RFC 7009), kept by its guard object until each token's
//! `exp`, and what the object answers an introspection about one of its tokens (RFC 7662).
//!
//! The object is the one place every isolate asks, so a revocation (or the client's disabling)
//! is seen by the next introspection anywhere. Each revoked token is its own storage entry
//! ([`TOKEN_KEY`] + `jti` → Unix ms), so a revocation writes one small entry and never the
//! object's whole state; the object loads them all once, when it starts.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::limiter::Unavailable;

/// Revoked tokens a client's object keeps that have not expired yet; past it, a revocation
/// is refused ([`TokenStatus::Full`]) and the token stays valid until its `exp`.
pub const MAX_REVOKED_TOKENS: usize = 1_024;
/// The prefix of a revoked token's storage key in its client's object.
pub const TOKEN_KEY: &str = "t:";
/// The longest `jti` an object takes (ours are 22 characters).
pub const MAX_JTI_CHARS: usize = 64;

/// An isolate's question to a client's object about one of its tokens: `/token`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenQuery {
    /// The token's `jti`.
    pub jti: String,
    /// The token's `exp`, in Unix ms: until when a revocation is kept.
    pub until_ms: u64,
    /// Revoke it (RFC 7009), rather than only ask (RFC 7662).
    #[serde(default)]
    pub revoke: bool,
    /// The token's `iat`, in Unix ms: a token issued before its client's latest creation
    /// belongs to a deleted client of the same id ([`super::ClientGuardState::refuses_token`]).
    #[serde(default)]
    pub issued_ms: u64,
}

/// The object's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "status",
    rename_all = "snake_case",
    try_from = "TokenStatusRead"
)]
pub enum TokenStatus {
    /// Neither revoked nor its client disabled.
    Live,
    /// Revoked (now, or before).
    Revoked,
    /// Its client is disabled, or deleted (the token was issued before the client of its id
    /// was created again).
    Disabled,
    /// A revocation refused: the client holds [`MAX_REVOKED_TOKENS`] revoked live tokens.
    Full {
        /// Milliseconds until the soonest of them expires.
        retry_after_ms: u64,
    },
}

/// [`TokenStatus`] as the isolate reads it: the `status` tag and the number beside it, the
/// enum's own JSON. A struct with the tag as a string, because serde reads an internally tagged
/// enum by buffering the whole object first, and an enum of names through its general enum
/// reader: code the token Worker would carry for this one answer.
#[derive(Deserialize)]
pub struct TokenStatusRead {
    status: String,
    retry_after_ms: Option<u64>,
}

impl TryFrom<TokenStatusRead> for TokenStatus {
    type Error = &'static str;

    fn try_from(read: TokenStatusRead) -> Result<Self, Self::Error> {
        match (read.status.as_str(), read.retry_after_ms) {
            ("live", _) => Ok(Self::Live),
            ("revoked", _) => Ok(Self::Revoked),
            ("disabled", _) => Ok(Self::Disabled),
            ("full", Some(retry_after_ms)) => Ok(Self::Full { retry_after_ms }),
            ("full", None) => Err("missing field `retry_after_ms`"),
            _ => Err("unknown variant"),
        }
    }
}

/// What a question changed, for the object's storage: the entry written, the ones deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokensUpdate {
    /// A new revoked token: its `jti` and until when it is kept.
    pub added: Option<(String, u64)>,
    /// The `jti`s of expired tokens, forgotten.
    pub forgotten: Vec<String>,
}

/// A client's revoked tokens that have not expired: `jti` → Unix ms.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RevokedTokens(HashMap<String, u64>);

impl RevokedTokens {
    /// The state from the object's stored entries (`jti`, Unix ms).
    pub fn restore(entries: impl IntoIterator<Item = (String, u64)>) -> Self {
        Self(entries.into_iter().collect())
    }

    /// Answers `query` at `now` (Unix ms) for a client that is `disabled` or not. Only a
    /// revocation changes anything: it first forgets the expired tokens, then keeps this one
    /// (a token already expired needs no keeping: it is inactive anyway).
    pub fn query(
        &mut self,
        now: u64,
        disabled: bool,
        query: &TokenQuery,
    ) -> (TokenStatus, TokensUpdate) {
        let mut update = TokensUpdate::default();
        let revoked = self.0.get(&query.jti).is_some_and(|until| *until > now);
        if !query.revoke {
            let status = match (disabled, revoked) {
                (true, _) => TokenStatus::Disabled,
                (false, true) => TokenStatus::Revoked,
                (false, false) => TokenStatus::Live,
            };
            return (status, update);
        }
        self.0.retain(|jti, until| {
            let live = *until > now;
            if !live {
                update.forgotten.push(jti.clone());
            }
            live
        });
        if revoked || query.until_ms <= now {
            return (TokenStatus::Revoked, update);
        }
        if self.0.len() >= MAX_REVOKED_TOKENS {
            let soonest = self.0.values().min().copied().unwrap_or(now);
            let full = TokenStatus::Full {
                retry_after_ms: soonest.saturating_sub(now),
            };
            return (full, update);
        }
        self.0.insert(query.jti.clone(), query.until_ms);
        update.added = Some((query.jti.clone(), query.until_ms));
        (TokenStatus::Revoked, update)
    }

    /// How many are kept (expired ones not yet forgotten included).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether none is kept.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// How the isolate asks a client's object about a token. The edge implements it over the
/// object's `/token` route; tests over fakes.
#[allow(async_fn_in_trait)] // Workers are single-threaded: no `Send` bound wanted.
pub trait TokenLedger {
    /// Asks (or, with `query.revoke`, tells) the object named `guard` about a token.
    async fn token_status(
        &self,
        guard: &str,
        query: &TokenQuery,
    ) -> Result<TokenStatus, Unavailable>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(jti: &str, until_ms: u64) -> TokenQuery {
        TokenQuery {
            jti: jti.into(),
            until_ms,
            revoke: false,
            issued_ms: 0,
        }
    }

    fn revoke(jti: &str, until_ms: u64) -> TokenQuery {
        TokenQuery {
            revoke: true,
            ..ask(jti, until_ms)
        }
    }

    #[test]
    fn a_revoked_token_is_revoked_until_its_expiry_and_then_forgotten() {
        let mut tokens = RevokedTokens::default();
        assert_eq!(
            tokens.query(0, false, &ask("a", 1_000)).0,
            TokenStatus::Live
        );
        let (status, update) = tokens.query(0, false, &revoke("a", 1_000));
        assert_eq!(status, TokenStatus::Revoked);
        assert_eq!(update.added, Some(("a".into(), 1_000)));
        assert_eq!(
            tokens.query(999, false, &ask("a", 1_000)).0,
            TokenStatus::Revoked
        );
        assert_eq!(
            tokens.query(999, false, &ask("b", 1_000)).0,
            TokenStatus::Live
        );
        // Revoking again changes nothing.
        assert_eq!(tokens.query(5, false, &revoke("a", 1_000)).1.added, None);
        let (_, update) = tokens.query(1_000, false, &revoke("b", 2_000));
        assert_eq!(update.forgotten, ["a".to_owned()]);
        assert_eq!(tokens.len(), 1);
    }

    #[test]
    fn a_disabled_client_s_tokens_are_disabled_whatever_else() {
        let mut tokens = RevokedTokens::default();
        tokens.query(0, false, &revoke("a", 1_000));
        for jti in ["a", "b"] {
            assert_eq!(
                tokens.query(1, true, &ask(jti, 1_000)).0,
                TokenStatus::Disabled
            );
        }
    }

    #[test]
    fn an_expired_token_is_not_kept() {
        let mut tokens = RevokedTokens::default();
        let (status, update) = tokens.query(1_000, false, &revoke("a", 1_000));
        assert_eq!(status, TokenStatus::Revoked);
        assert_eq!(update, TokensUpdate::default());
        assert!(tokens.is_empty());
    }

    #[test]
    fn past_the_bound_a_revocation_waits_for_the_soonest_expiry_and_keeps_nothing() {
        let mut tokens = RevokedTokens::restore(
            (0..MAX_REVOKED_TOKENS as u64).map(|i| (i.to_string(), 10_000 + i)),
        );
        let (status, update) = tokens.query(100, false, &revoke("new", 90_000));
        assert_eq!(
            status,
            TokenStatus::Full {
                retry_after_ms: 9_900
            }
        );
        assert_eq!(update, TokensUpdate::default());
        assert_eq!(
            tokens.query(100, false, &ask("new", 90_000)).0,
            TokenStatus::Live
        );
        // Once the soonest expired, it is forgotten and the new one kept.
        let (status, update) = tokens.query(10_001, false, &revoke("new", 90_000));
        assert_eq!(status, TokenStatus::Revoked);
        assert_eq!(update.forgotten.len(), 2);
        assert_eq!(tokens.len(), MAX_REVOKED_TOKENS - 1);
    }

    #[test]
    fn questions_and_answers_travel_as_json() {
        let full = TokenStatus::Full { retry_after_ms: 7 };
        let json = serde_json::to_string(&full).unwrap();
        assert_eq!(json, r#"{"status":"full","retry_after_ms":7}"#);
        assert_eq!(serde_json::from_str::<TokenStatus>(&json).unwrap(), full);
        let query: TokenQuery = serde_json::from_str(r#"{"jti":"a","until_ms":5}"#).unwrap();
        assert!(!query.revoke);
    }

    #[test]
    fn every_status_reads_back_and_a_full_one_needs_its_number() {
        let read = |json: &str| crate::core::json::parse::<TokenStatus>(json.as_bytes()).ok();
        for answer in [
            TokenStatus::Live,
            TokenStatus::Revoked,
            TokenStatus::Disabled,
            TokenStatus::Full { retry_after_ms: 3 },
        ] {
            assert_eq!(read(&serde_json::to_string(&answer).unwrap()), Some(answer));
        }
        assert_eq!(read(r#"{"status":"live"}"#), Some(TokenStatus::Live));
        assert_eq!(read(r#"{"status":"revoked"}"#), Some(TokenStatus::Revoked));
        assert_eq!(
            read(r#"{"status":"disabled"}"#),
            Some(TokenStatus::Disabled)
        );
        assert_eq!(
            read(r#"{"retry_after_ms":5,"x":[1],"status":"full"}"#),
            Some(TokenStatus::Full { retry_after_ms: 5 })
        );
        assert_eq!(read(r#"{"status":"full"}"#), None);
        assert_eq!(read(r#"{"status":"other"}"#), None);
        assert_eq!(read(r#"{"retry_after_ms":5}"#), None);
    }
}
