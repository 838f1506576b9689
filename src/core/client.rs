//! The client as the token path sees it ([`Client`], made from a stored
//! [`Record`]), its authentication, and the isolate's cache of clients.

use std::{cell::RefCell, collections::HashMap, rc::Rc};

use super::{
    error::Error,
    limit::Limit,
    record::Record,
    scope::Scopes,
    secret::{ClientSecret, Pepper, SecretHash},
};

/// The longest client id we look up.
pub const MAX_CLIENT_ID_CHARS: usize = 256;

/// How long an isolate reuses a client record it read from KV. KV itself may serve a record
/// 60 s old or more, and changes that must take effect at once go through the client's guard
/// object, so this adds little staleness and saves a KV read on most requests.
pub const RECORD_TTL_MS: u64 = 10_000;
/// Records an isolate keeps before it drops expired ones.
const MAX_CACHED_RECORDS: usize = 10_000;

/// Client records read recently by this isolate. Only valid records are kept: an unknown id
/// or a broken record is read again every time.
#[derive(Debug, Default)]
pub struct RecordCache {
    entries: RefCell<HashMap<String, (Rc<Client>, u64)>>,
}

impl RecordCache {
    /// The record of `id` if it was read less than [`RECORD_TTL_MS`] before `now_ms`.
    pub fn get(&self, id: &str, now_ms: u64) -> Option<Rc<Client>> {
        let entries = self.entries.borrow();
        let (client, read_at) = entries.get(id)?;
        (now_ms.saturating_sub(*read_at) < RECORD_TTL_MS).then(|| client.clone())
    }

    /// Drops the record of `id`, changed by an operator through this isolate.
    pub fn forget(&self, id: &str) {
        self.entries.borrow_mut().remove(id);
    }

    /// Remembers a record read at `now_ms`.
    pub fn insert(&self, client: Rc<Client>, now_ms: u64) {
        let mut entries = self.entries.borrow_mut();
        if entries.len() >= MAX_CACHED_RECORDS {
            entries.retain(|_, (_, read_at)| now_ms.saturating_sub(*read_at) < RECORD_TTL_MS);
        }
        if entries.len() < MAX_CACHED_RECORDS {
            entries.insert(client.id.clone(), (client, now_ms));
        }
    }
}

/// The KV key of a client's record: its tenant, then its id. A tenant name has no `:`, so
/// the key names one (tenant, id) pair.
pub fn record_key(tenant: &str, client_id: &str) -> String {
    format!("client:{tenant}:{client_id}")
}

/// The name of a client's guard object (and of its entry in an isolate's guard cache).
pub fn guard_name(tenant: &str, client_id: &str) -> String {
    format!("{tenant}:{client_id}")
}

/// Whether a presented id could name a client: 1–256 `VSCHAR`s (RFC 6749 App. A.1). Other ids
/// are refused without a lookup.
pub fn is_valid_client_id(id: &str) -> bool {
    (1..=MAX_CLIENT_ID_CHARS).contains(&id.len()) && id.bytes().all(|b| (0x20..=0x7E).contains(&b))
}

/// A stored secret: its keyed hash and optional expiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSecret {
    /// `HMAC-SHA-256(pepper, secret)`.
    pub hash: SecretHash,
    /// Unix seconds from which the secret is refused.
    pub expires_at: Option<u64>,
}

/// A validated client record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    /// The client id.
    pub id: String,
    /// One or two live secrets.
    pub secrets: Vec<StoredSecret>,
    /// Whether the client may use the client-credentials grant.
    pub client_credentials_allowed: bool,
    /// What the client may be granted.
    pub scopes: Scopes,
    /// What it gets when it asks for nothing.
    pub default_scopes: Scopes,
    /// Seconds a token lives.
    pub token_ttl: u64,
    /// The `aud` of its tokens.
    pub audience: Vec<String>,
    /// Whether the client is refused.
    pub disabled: bool,
    /// Its issuance limit, if its record sets one (else its tenant's default applies).
    pub limit: Option<Limit>,
}

impl Client {
    /// Parses and validates a stored record for `expected_id` (one JSON parse, one
    /// conversion: [`Record::into_client`]). Any breach of the schema is
    /// [`Error::BadClientRecord`]: an operator's fault, answered with a 5xx.
    pub fn from_json(expected_id: &str, json: &str) -> Result<Self, Error> {
        Record::parse(json)
            .and_then(|record| record.into_client(expected_id))
            .ok_or(Error::BadClientRecord)
    }

    /// The hash of `secret` if it matches a live secret at `now` (Unix seconds). Every stored
    /// hash is compared, in constant time, whatever the outcome of the others.
    pub fn authenticate(
        &self,
        pepper: &Pepper,
        secret: &ClientSecret,
        now: u64,
    ) -> Option<SecretHash> {
        let presented = pepper.hash(secret);
        let found = self.secrets.iter().fold(false, |found, stored| {
            let live = stored.expires_at.is_none_or(|expiry| now < expiry);
            found | (presented.matches(&stored.hash) & live)
        });
        found.then_some(presented)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::record::tests::{pepper, record};

    #[test]
    fn both_secrets_work_during_a_rotation_until_the_old_one_expires() {
        let client = Client::from_json("svc", &record().to_string()).unwrap();
        let check = |s: &str, now| {
            client
                .authenticate(&pepper(), &ClientSecret::new(s.into()), now)
                .is_some()
        };
        assert!(check("old", 999) && check("new", 999));
        assert!(!check("old", 1000) && check("new", 1000));
        assert!(!check("wrong", 0));
    }

    #[test]
    fn client_ids_are_vschars_of_bounded_length() {
        assert!(is_valid_client_id("svc:a+b %x~"));
        assert!(!is_valid_client_id(""));
        assert!(!is_valid_client_id("tab\there"));
        assert!(!is_valid_client_id("é"));
        assert!(is_valid_client_id(&"x".repeat(256)));
        assert!(!is_valid_client_id(&"x".repeat(257)));
    }
}
