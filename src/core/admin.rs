//! The admin API's decisions (docs/admin-api.md): who may call it, what a path means, and
//! every change to a client record, validated before anything is written.
//!
//! Pure like the rest of the core: the edge passes in the clock, random bytes, the stored
//! record and the guard object's answers, and carries out the writes this module prepares.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{
    client::{is_valid_client_id, Client, MAX_SECRETS, SCHEMA_VERSION, TOKEN_TTL_RANGE},
    config::is_tenant_name,
    guard::ClientUsage,
    limit::{Limit, DEFAULT_LIMIT, MAX_RATE},
    scope::ScopeToken,
    secret::SecretHash,
};

/// Every admin path starts with this; the Worker routes it here before anything else.
pub const ADMIN_PREFIX: &str = "/admin/";
/// The versioned root of the admin API.
pub const API_ROOT: &str = "/admin/v1/tenants/";
/// The shortest `ADMIN_TOKEN` that switches the API on: 256 bits of base64url, rounded down.
pub const MIN_ADMIN_TOKEN_BYTES: usize = 32;
/// The largest admin request body.
pub const MAX_ADMIN_BODY_BYTES: usize = 16 * 1024;
/// Bytes of a secret's hash that name it (`secrets[].id`, in hex: never mistaken for a
/// command-line option, as a base64url `-` at the start would be): 72 bits.
pub const SECRET_ID_BYTES: usize = 9;
/// The longest overlap a rotation may give the old secret: a year.
pub const MAX_OVERLAP_SECONDS: u64 = 366 * 86_400;
/// The overlap of a rotation that names none: a day.
pub const DEFAULT_OVERLAP_SECONDS: u64 = 86_400;
/// Token lifetime of a new client that names none.
pub const DEFAULT_TOKEN_TTL: u64 = 3_600;
/// The longest audience value.
const MAX_AUDIENCE_CHARS: usize = 512;
/// At most this many scopes, audiences or grant types per record.
const MAX_LIST: usize = 256;

/// A refusal of the admin API: status, a stable code and a message for the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminError {
    /// HTTP status.
    pub status: u16,
    /// Machine-readable code.
    pub code: &'static str,
    /// What was wrong, for a human. Never carries a secret.
    pub message: String,
}

impl AdminError {
    fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    /// `400 invalid_request`.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(400, "invalid_request", message)
    }

    /// `404 not_found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, "not_found", message)
    }

    /// `409 conflict`.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(409, "conflict", message)
    }

    /// `503 unavailable`: storage or the guard object could not be reached; retry.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(503, "unavailable", message)
    }

    /// `500 server_error`: a stored record that breaks the schema, and the like.
    pub fn fault(message: impl Into<String>) -> Self {
        Self::new(500, "server_error", message)
    }

    /// The JSON body `{"error", "message"}`.
    pub fn body(&self) -> String {
        serde_json::json!({ "error": self.code, "message": self.message }).to_string()
    }
}

impl fmt::Display for AdminError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.status, self.code, self.message)
    }
}

/// Whether a request may use the admin API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminAccess {
    /// No usable `ADMIN_TOKEN`: the API does not exist (every admin path is a 404).
    Off,
    /// The bearer token is missing or wrong: 401.
    Denied,
    /// The bearer token is the admin token.
    Allowed,
}

/// Checks `Authorization: Bearer <token>` against the configured `ADMIN_TOKEN`. Both are
/// hashed first and the digests compared in constant time, so neither the content nor the
/// length of the configured token shows in the timing. Surrounding whitespace (a newline
/// piped into `wrangler secret put`) is not part of either. A token shorter than
/// [`MIN_ADMIN_TOKEN_BYTES`] leaves the API off.
pub fn check_admin_token(configured: Option<&str>, authorization: Option<&str>) -> AdminAccess {
    let Some(configured) = configured
        .map(str::trim)
        .filter(|t| t.len() >= MIN_ADMIN_TOKEN_BYTES)
    else {
        return AdminAccess::Off;
    };
    let presented = authorization.and_then(|h| {
        let (scheme, token) = h.trim().split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
    });
    let Some(presented) = presented else {
        return AdminAccess::Denied;
    };
    let expected = Sha256::digest(configured.as_bytes());
    let given = Sha256::digest(presented.as_bytes());
    if bool::from(expected.ct_eq(&given)) {
        AdminAccess::Allowed
    } else {
        AdminAccess::Denied
    }
}

/// What an admin request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `GET …/clients`
    List,
    /// `POST …/clients`
    Create,
    /// `GET …/clients/{id}`
    Show(String),
    /// `PATCH …/clients/{id}`
    Update(String),
    /// `DELETE …/clients/{id}`
    Delete(String),
    /// `POST …/clients/{id}/disable`
    Disable(String),
    /// `POST …/clients/{id}/enable`
    Enable(String),
    /// `POST …/clients/{id}/secrets`: a new secret, the old one kept until an expiry.
    Rotate(String),
    /// `DELETE …/clients/{id}/secrets/{secret_id}`: the secret is refused at once.
    Retire(String, String),
}

impl Route {
    /// A short name for the log line.
    pub fn op(&self) -> &'static str {
        match self {
            Self::List => "list",
            Self::Create => "create",
            Self::Show(_) => "show",
            Self::Update(_) => "update",
            Self::Delete(_) => "delete",
            Self::Disable(_) => "disable",
            Self::Enable(_) => "enable",
            Self::Rotate(_) => "rotate_secret",
            Self::Retire(..) => "retire_secret",
        }
    }

    /// The client the request is about, if one.
    pub fn client_id(&self) -> Option<&str> {
        match self {
            Self::List | Self::Create => None,
            Self::Show(id)
            | Self::Update(id)
            | Self::Delete(id)
            | Self::Disable(id)
            | Self::Enable(id)
            | Self::Rotate(id)
            | Self::Retire(id, _) => Some(id),
        }
    }
}

/// A parsed admin request line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminRequest {
    /// The tenant named in the path.
    pub tenant: String,
    /// What is asked.
    pub route: Route,
}

/// Decodes `%XX` escapes of one path segment; `None` when malformed or not UTF-8.
fn percent_decode(segment: &str) -> Option<String> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = segment.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Maps a method and path to a [`Route`]. Unknown paths are 404; a known path with another
/// method is 405 (the `Allow` value is in the message's place: see [`method_not_allowed`]).
pub fn parse_route(method: &str, path: &str) -> Result<AdminRequest, AdminError> {
    let not_found = || AdminError::not_found("no such admin route");
    let rest = path.strip_prefix(API_ROOT).ok_or_else(not_found)?;
    let segments: Vec<&str> = rest.split('/').collect();
    let tenant = segments[0];
    if !is_tenant_name(tenant) {
        return Err(AdminError::invalid(
            "the tenant must match ^[a-z0-9][a-z0-9-]{0,31}$",
        ));
    }
    let id = |segment: &str| -> Result<String, AdminError> {
        percent_decode(segment)
            .filter(|id| is_valid_client_id(id))
            .ok_or_else(|| {
                AdminError::invalid("the client id must be 1-256 printable ASCII characters")
            })
    };
    let allow = |allowed: &'static str| method_not_allowed(allowed);
    let route = match (segments.get(1..).unwrap_or(&[]), method) {
        (["clients"], "GET") => Route::List,
        (["clients"], "POST") => Route::Create,
        (["clients"], _) => return Err(allow("GET, POST")),
        (["clients", c], "GET") => Route::Show(id(c)?),
        (["clients", c], "PATCH") => Route::Update(id(c)?),
        (["clients", c], "DELETE") => Route::Delete(id(c)?),
        (["clients", _], _) => return Err(allow("GET, PATCH, DELETE")),
        (["clients", c, "disable"], "POST") => Route::Disable(id(c)?),
        (["clients", c, "enable"], "POST") => Route::Enable(id(c)?),
        (["clients", c, "secrets"], "POST") => Route::Rotate(id(c)?),
        (["clients", _, "disable" | "enable" | "secrets"], _) => return Err(allow("POST")),
        (["clients", c, "secrets", s], "DELETE") => {
            let secret = percent_decode(s)
                .filter(|s| !s.is_empty() && s.len() <= 64)
                .ok_or_else(|| AdminError::invalid("malformed secret id"))?;
            Route::Retire(id(c)?, secret)
        }
        (["clients", _, "secrets", _], _) => return Err(allow("DELETE")),
        _ => return Err(not_found()),
    };
    Ok(AdminRequest {
        tenant: tenant.to_owned(),
        route,
    })
}

/// `405 method_not_allowed`; the message is the `Allow` header's value.
pub fn method_not_allowed(allow: &'static str) -> AdminError {
    AdminError::new(405, "method_not_allowed", allow)
}

/// One entry of `secrets` as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredSecretEntry {
    /// `HMAC-SHA-256(pepper, secret)`, base64url.
    pub hash: String,
    /// Unix seconds from which the secret is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<u64>,
    /// Unix seconds when the admin API made it (absent for older secrets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<u64>,
    /// Members this code does not know, kept as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl StoredSecretEntry {
    /// The secret's public name: the start of its hash, in hex.
    pub fn id(&self) -> String {
        use base64ct::{Base64UrlUnpadded, Encoding};
        let bytes = Base64UrlUnpadded::decode_vec(&self.hash).unwrap_or_default();
        bytes
            .iter()
            .take(SECRET_ID_BYTES)
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    fn live(&self, now: u64) -> bool {
        self.expires_at.is_none_or(|at| now < at)
    }
}

/// A client record, schema v1 (docs/storage-schema.md), as the admin API reads and writes it:
/// every member kept, unknown ones included, so a rewrite loses nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// Schema version.
    pub v: u32,
    /// The client id.
    pub client_id: String,
    /// One or two secrets.
    pub secrets: Vec<StoredSecretEntry>,
    /// Grants the client may use.
    pub grant_types: Vec<String>,
    /// What it may be granted.
    pub scopes: Vec<String>,
    /// What it gets when it asks for nothing.
    pub default_scopes: Vec<String>,
    /// Seconds a token lives.
    pub token_ttl: u64,
    /// `aud` of its tokens.
    pub audience: Vec<String>,
    /// Refused when true.
    pub disabled: bool,
    /// Its issuance limit; absent = the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<Limit>,
    /// Members this code does not know, kept as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `POST …/clients`: a new client. Unknown members are refused (a typo must not pass).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewClient {
    /// The id; generated when absent.
    #[serde(default)]
    pub client_id: Option<String>,
    /// What it may be granted; at least one scope.
    pub scopes: Vec<String>,
    /// Granted when it asks for nothing; a subset of `scopes`.
    #[serde(default)]
    pub default_scopes: Vec<String>,
    /// `aud` of its tokens; at least one.
    pub audience: Vec<String>,
    /// Seconds a token lives; default [`DEFAULT_TOKEN_TTL`].
    #[serde(default)]
    pub token_ttl: Option<u64>,
    /// Issuance limit; default 600 per minute, burst 50.
    #[serde(default)]
    pub rate_limit: Option<Limit>,
    /// Grants; default `["client_credentials"]`.
    #[serde(default)]
    pub grant_types: Option<Vec<String>>,
}

/// `null` in JSON as `Some(None)`, absence as `None`.
fn nullable<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// `PATCH …/clients/{id}`: the members to change; absent members stay as they are.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientUpdate {
    /// New allowed scopes.
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    /// New default scopes.
    #[serde(default)]
    pub default_scopes: Option<Vec<String>>,
    /// New audience.
    #[serde(default)]
    pub audience: Option<Vec<String>>,
    /// New token lifetime.
    #[serde(default)]
    pub token_ttl: Option<u64>,
    /// New limit; `null` returns to the default.
    #[serde(default, deserialize_with = "nullable")]
    pub rate_limit: Option<Option<Limit>>,
    /// New grant types.
    #[serde(default)]
    pub grant_types: Option<Vec<String>>,
}

/// `POST …/clients/{id}/secrets`: when the current secret stops working.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rotation {
    /// Unix seconds; default now + [`DEFAULT_OVERLAP_SECONDS`].
    #[serde(default)]
    pub old_secret_expires_at: Option<u64>,
}

/// Parses a JSON body into `T`, with serde's message (it names the member, never a value
/// beyond the offending token).
pub fn parse_body<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, AdminError> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| AdminError::invalid(format!("bad JSON body: {e}")))
}

fn scope_list(what: &str, list: &[String]) -> Result<Vec<String>, AdminError> {
    let mut out: Vec<String> = Vec::new();
    for s in list {
        if ScopeToken::parse(s).is_none() {
            return Err(AdminError::invalid(format!(
                "{what}: {s:?} is not a scope token (RFC 6749 §3.3: printable ASCII except space, \" and \\)"
            )));
        }
        if !out.contains(s) {
            out.push(s.clone());
        }
    }
    if out.len() > MAX_LIST {
        return Err(AdminError::invalid(format!(
            "{what}: at most {MAX_LIST} entries"
        )));
    }
    Ok(out)
}

fn audience_list(list: &[String]) -> Result<Vec<String>, AdminError> {
    if list.is_empty() || list.len() > MAX_LIST {
        return Err(AdminError::invalid(format!(
            "audience: 1 to {MAX_LIST} values"
        )));
    }
    let mut out: Vec<String> = Vec::new();
    for a in list {
        if a.is_empty()
            || a.len() > MAX_AUDIENCE_CHARS
            || a.chars().any(|c| c.is_control() || c.is_whitespace())
        {
            return Err(AdminError::invalid(format!(
                "audience: {a:?} must be 1-{MAX_AUDIENCE_CHARS} characters without spaces"
            )));
        }
        if !out.contains(a) {
            out.push(a.clone());
        }
    }
    Ok(out)
}

fn grant_list(list: &[String]) -> Result<Vec<String>, AdminError> {
    let mut out: Vec<String> = Vec::new();
    for g in list {
        // RFC 6749 A.10: grant-name, or an absolute URI for an extension grant.
        let ok = !g.is_empty() && g.len() <= 256 && g.bytes().all(|b| (0x21..=0x7E).contains(&b));
        if !ok {
            return Err(AdminError::invalid(format!(
                "grant_types: {g:?} is not a grant type name"
            )));
        }
        if !out.contains(g) {
            out.push(g.clone());
        }
    }
    if out.len() > MAX_LIST {
        return Err(AdminError::invalid("grant_types: too many entries"));
    }
    Ok(out)
}

fn check_ttl(ttl: u64) -> Result<u64, AdminError> {
    if TOKEN_TTL_RANGE.contains(&ttl) {
        Ok(ttl)
    } else {
        Err(AdminError::invalid(format!(
            "token_ttl must be {} to {} seconds",
            TOKEN_TTL_RANGE.start(),
            TOKEN_TTL_RANGE.end()
        )))
    }
}

fn check_limit(limit: Limit) -> Result<Limit, AdminError> {
    if limit.is_valid() {
        Ok(limit)
    } else {
        Err(AdminError::invalid(format!(
            "rate_limit: per_minute and burst must each be 1 to {MAX_RATE}"
        )))
    }
}

impl Record {
    /// Reads a stored record; a record that breaks the schema is a fault, never guessed at.
    pub fn from_json(client_id: &str, json: &str) -> Result<Self, AdminError> {
        let record: Self = serde_json::from_str(json).map_err(|_| {
            AdminError::fault(format!(
                "the stored record of {client_id:?} breaks the schema; fix it by hand"
            ))
        })?;
        // The schema only: a record the token endpoint accepts is shown and changed, even if
        // it breaks a policy of new records (such as "at least one scope").
        if Client::from_json(client_id, &record.to_json()).is_err() {
            return Err(AdminError::fault(format!(
                "the stored record of {client_id:?} breaks the schema; fix it by hand"
            )));
        }
        if record.client_id != client_id {
            return Err(AdminError::fault(format!(
                "the stored record of {client_id:?} names another client id"
            )));
        }
        Ok(record)
    }

    /// A new record from an operator's input, with the first secret's hash.
    pub fn create(
        input: NewClient,
        generated_id: String,
        first_secret: &SecretHash,
        now: u64,
    ) -> Result<Self, AdminError> {
        let client_id = input.client_id.unwrap_or(generated_id);
        if !is_valid_client_id(&client_id) {
            return Err(AdminError::invalid(
                "client_id must be 1-256 printable ASCII characters",
            ));
        }
        let record = Self {
            v: SCHEMA_VERSION,
            client_id,
            secrets: vec![StoredSecretEntry {
                hash: first_secret.encode(),
                expires_at: None,
                created_at: Some(now),
                extra: Map::new(),
            }],
            grant_types: grant_list(
                &input
                    .grant_types
                    .unwrap_or_else(|| vec!["client_credentials".to_owned()]),
            )?,
            scopes: scope_list("scopes", &input.scopes)?,
            default_scopes: scope_list("default_scopes", &input.default_scopes)?,
            token_ttl: check_ttl(input.token_ttl.unwrap_or(DEFAULT_TOKEN_TTL))?,
            audience: audience_list(&input.audience)?,
            disabled: false,
            rate_limit: input.rate_limit.map(check_limit).transpose()?,
            extra: Map::new(),
        };
        record.check()?;
        Ok(record)
    }

    /// The record with `update` applied, validated as a whole; `self` is left as it was.
    pub fn updated(&self, update: ClientUpdate) -> Result<Self, AdminError> {
        let mut next = self.clone();
        if let Some(scopes) = update.scopes {
            next.scopes = scope_list("scopes", &scopes)?;
        }
        if let Some(defaults) = update.default_scopes {
            next.default_scopes = scope_list("default_scopes", &defaults)?;
        }
        if let Some(audience) = update.audience {
            next.audience = audience_list(&audience)?;
        }
        if let Some(ttl) = update.token_ttl {
            next.token_ttl = check_ttl(ttl)?;
        }
        if let Some(limit) = update.rate_limit {
            next.rate_limit = limit.map(check_limit).transpose()?;
        }
        if let Some(grants) = update.grant_types {
            next.grant_types = grant_list(&grants)?;
        }
        next.check()?;
        Ok(next)
    }

    /// The rules that span members, then the token path's own reader as the last word: a
    /// record this returns `Ok` for is one the token endpoint accepts.
    fn check(&self) -> Result<(), AdminError> {
        if self.scopes.is_empty() {
            return Err(AdminError::invalid("scopes: at least one scope"));
        }
        let outside: Vec<&str> = self
            .default_scopes
            .iter()
            .filter(|s| !self.scopes.contains(s))
            .map(String::as_str)
            .collect();
        if !outside.is_empty() {
            return Err(AdminError::invalid(format!(
                "default_scopes must be a subset of scopes; not in scopes: {}",
                outside.join(" ")
            )));
        }
        let json = self.to_json();
        Client::from_json(&self.client_id, &json)
            .map(|_| ())
            .map_err(|_| AdminError::invalid("the record would break the schema"))
    }

    /// The stored form.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The KV metadata stored beside the record, so that a list needs no read per client.
    pub fn metadata(&self) -> Value {
        serde_json::json!({ "disabled": self.disabled })
    }

    /// Adds a new secret; the current one keeps working until `old_expires_at` (or its own,
    /// earlier, expiry). Secrets already expired at `now` are dropped first.
    pub fn rotate(
        &self,
        new_secret: &SecretHash,
        rotation: Rotation,
        now: u64,
    ) -> Result<Self, AdminError> {
        let until = rotation
            .old_secret_expires_at
            .unwrap_or(now + DEFAULT_OVERLAP_SECONDS);
        if until < now || until > now + MAX_OVERLAP_SECONDS {
            return Err(AdminError::invalid(format!(
                "old_secret_expires_at must be from now to now + {MAX_OVERLAP_SECONDS} s (Unix seconds)"
            )));
        }
        let mut next = self.clone();
        next.secrets.retain(|s| s.live(now));
        if next.secrets.len() >= MAX_SECRETS {
            return Err(AdminError::conflict(
                "a rotation is already in progress (two live secrets): retire one first",
            ));
        }
        for old in &mut next.secrets {
            old.expires_at = Some(old.expires_at.map_or(until, |at| at.min(until)));
        }
        next.secrets.push(StoredSecretEntry {
            hash: new_secret.encode(),
            expires_at: None,
            created_at: Some(now),
            extra: Map::new(),
        });
        next.check()?;
        Ok(next)
    }

    /// Removes the secret named `secret_id` (its [`StoredSecretEntry::id`]); returns the new
    /// record and the removed hash, to revoke in the guard object. The last live secret cannot
    /// be retired.
    pub fn retire(&self, secret_id: &str, now: u64) -> Result<(Self, String), AdminError> {
        let position = self
            .secrets
            .iter()
            .position(|s| s.id() == secret_id)
            .ok_or_else(|| AdminError::not_found(format!("no secret {secret_id:?}")))?;
        let mut next = self.clone();
        let removed = next.secrets.remove(position);
        if !next.secrets.iter().any(|s| s.live(now)) {
            return Err(AdminError::conflict(
                "that would leave the client without a live secret: rotate first, or delete the client",
            ));
        }
        next.check()?;
        Ok((next, removed.hash))
    }

    /// What the API shows of a client: everything but hashes, with each secret's last use.
    pub fn info(&self, tenant: &str, usage: Option<&ClientUsage>, now: u64) -> Value {
        let secrets: Vec<Value> = self
            .secrets
            .iter()
            .map(|s| {
                let last_used = usage.and_then(|u| {
                    u.last_used
                        .iter()
                        .find(|(h, _)| *h == s.hash)
                        .map(|(_, ms)| ms / 1000)
                });
                let revoked = usage.is_some_and(|u| u.revoked.contains(&s.hash));
                serde_json::json!({
                    "id": s.id(),
                    "created_at": s.created_at,
                    "expires_at": s.expires_at,
                    "live": s.live(now) && !revoked,
                    "last_used_at": last_used,
                })
            })
            .collect();
        let limit = self.rate_limit.unwrap_or(DEFAULT_LIMIT);
        serde_json::json!({
            "tenant": tenant,
            "client_id": self.client_id,
            "disabled": self.disabled || usage.is_some_and(|u| u.disabled),
            "grant_types": self.grant_types,
            "scopes": self.scopes,
            "default_scopes": self.default_scopes,
            "audience": self.audience,
            "token_ttl": self.token_ttl,
            "rate_limit": limit,
            "rate_limit_is_default": self.rate_limit.is_none(),
            "secrets": secrets,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::secret::{ClientSecret, Pepper};

    const TOKEN: &str = "0123456789abcdef0123456789abcdef-admin";

    fn hash(s: &str) -> SecretHash {
        Pepper::new("pepper-pepper-pepper-pepper-pepp")
            .unwrap()
            .hash(&ClientSecret::new(s.into()))
    }

    fn input(json: &str) -> NewClient {
        serde_json::from_str(json).unwrap()
    }

    fn record() -> Record {
        Record::create(
            input(r#"{"scopes":["a","b"],"default_scopes":["a"],"audience":["https://api"]}"#),
            "gen".into(),
            &hash("s1"),
            1_000,
        )
        .unwrap()
    }

    #[test]
    fn tenant_names_follow_the_pattern() {
        for ok in ["default", "a", "acme-1", "0", &"a".repeat(32)] {
            assert!(is_tenant_name(ok), "{ok}");
        }
        for bad in ["", "-a", "A", "a_b", "a:b", "a/b", &"a".repeat(33), "é"] {
            assert!(!is_tenant_name(bad), "{bad}");
        }
    }

    #[test]
    fn the_admin_api_is_off_without_a_long_enough_token() {
        let bearer = format!("Bearer {TOKEN}");
        assert_eq!(check_admin_token(None, Some(&bearer)), AdminAccess::Off);
        assert_eq!(
            check_admin_token(Some(""), Some("Bearer ")),
            AdminAccess::Off
        );
        assert_eq!(
            check_admin_token(
                Some(&TOKEN[..31]),
                Some(&format!("Bearer {}", &TOKEN[..31]))
            ),
            AdminAccess::Off
        );
    }

    #[test]
    fn only_the_exact_bearer_token_is_allowed() {
        let t = Some(TOKEN);
        assert_eq!(
            check_admin_token(t, Some(&format!("Bearer {TOKEN}"))),
            AdminAccess::Allowed
        );
        assert_eq!(
            check_admin_token(t, Some(&format!("bearer  {TOKEN} "))),
            AdminAccess::Allowed
        );
        for wrong in [
            None,
            Some(String::new()),
            Some(format!("Basic {TOKEN}")),
            Some(format!("Bearer {TOKEN}x")),
            Some(format!("Bearer {}", &TOKEN[1..])),
            Some(TOKEN.to_owned()),
            Some("Bearer".to_owned()),
        ] {
            assert_eq!(
                check_admin_token(t, wrong.as_deref()),
                AdminAccess::Denied,
                "{wrong:?}"
            );
        }
    }

    #[test]
    fn routes_name_the_tenant_and_the_client() {
        let r = |m, p| parse_route(m, p);
        assert_eq!(
            r("GET", "/admin/v1/tenants/default/clients").unwrap(),
            AdminRequest {
                tenant: "default".into(),
                route: Route::List
            }
        );
        assert_eq!(
            r("POST", "/admin/v1/tenants/acme/clients/a%20b%2Fc/disable")
                .unwrap()
                .route,
            Route::Disable("a b/c".into())
        );
        assert_eq!(
            r("DELETE", "/admin/v1/tenants/t/clients/x/secrets/AbC")
                .unwrap()
                .route,
            Route::Retire("x".into(), "AbC".into())
        );
        assert_eq!(
            r("PATCH", "/admin/v1/tenants/t/clients/x").unwrap().route,
            Route::Update("x".into())
        );
    }

    #[test]
    fn bad_routes_get_404_405_or_400() {
        let status = |m, p| parse_route(m, p).unwrap_err().status;
        assert_eq!(status("GET", "/admin/v2/x"), 404);
        assert_eq!(status("GET", "/admin/v1/tenants/t/nope"), 404);
        assert_eq!(status("GET", "/admin/v1/tenants/t/clients/x/y/z/w"), 404);
        assert_eq!(status("PUT", "/admin/v1/tenants/t/clients"), 405);
        assert_eq!(status("GET", "/admin/v1/tenants/t/clients/x/disable"), 405);
        assert_eq!(status("GET", "/admin/v1/tenants/Bad/clients"), 400);
        assert_eq!(status("GET", "/admin/v1/tenants/t/clients/%zz"), 400);
        assert_eq!(status("GET", "/admin/v1/tenants/t/clients/%09"), 400);
        assert_eq!(
            parse_route("PUT", "/admin/v1/tenants/t/clients/x")
                .unwrap_err()
                .message,
            "GET, PATCH, DELETE"
        );
    }

    #[test]
    fn a_new_record_is_one_the_token_endpoint_accepts() {
        let r = record();
        assert_eq!(r.client_id, "gen");
        assert_eq!(r.grant_types, ["client_credentials"]);
        assert_eq!(r.token_ttl, DEFAULT_TOKEN_TTL);
        let client = Client::from_json("gen", &r.to_json()).unwrap();
        let secret = ClientSecret::new("s1".into());
        let pepper = Pepper::new("pepper-pepper-pepper-pepper-pepp").unwrap();
        assert!(client.authenticate(&pepper, &secret, 2_000).is_some());
        assert_eq!(r.secrets[0].created_at, Some(1_000));
    }

    #[test]
    fn bad_input_is_refused_with_a_message_naming_the_member() {
        let cases = [
            (
                r#"{"scopes":[],"audience":["x"]}"#,
                "scopes: at least one scope",
            ),
            (r#"{"scopes":["a b"],"audience":["x"]}"#, "scopes:"),
            (
                r#"{"scopes":["a"],"default_scopes":["b"],"audience":["x"]}"#,
                "default_scopes must be a subset",
            ),
            (r#"{"scopes":["a"],"audience":[]}"#, "audience:"),
            (r#"{"scopes":["a"],"audience":["a b"]}"#, "audience:"),
            (
                r#"{"scopes":["a"],"audience":["x"],"token_ttl":59}"#,
                "token_ttl",
            ),
            (
                r#"{"scopes":["a"],"audience":["x"],"rate_limit":{"per_minute":0,"burst":1}}"#,
                "rate_limit",
            ),
            (
                r#"{"scopes":["a"],"audience":["x"],"client_id":""}"#,
                "client_id",
            ),
            (
                r#"{"scopes":["a"],"audience":["x"],"grant_types":["a b"]}"#,
                "grant_types",
            ),
        ];
        for (json, expected) in cases {
            let error = Record::create(input(json), "g".into(), &hash("s"), 0).unwrap_err();
            assert_eq!(error.status, 400, "{json}");
            assert!(
                error.message.contains(expected),
                "{json}: {}",
                error.message
            );
        }
        let unknown = parse_body::<NewClient>(br#"{"scopes":["a"],"audience":["x"],"scope":1}"#);
        assert!(unknown
            .unwrap_err()
            .message
            .contains("unknown field `scope`"));
        assert_eq!(parse_body::<NewClient>(b"{").unwrap_err().status, 400);
    }

    #[test]
    fn an_update_changes_only_what_it_names_and_a_bad_one_changes_nothing() {
        let r = record();
        let update: ClientUpdate =
            parse_body(br#"{"token_ttl":120,"rate_limit":{"per_minute":5,"burst":2}}"#).unwrap();
        let next = r.updated(update).unwrap();
        assert_eq!(
            (next.token_ttl, next.scopes.clone()),
            (120, r.scopes.clone())
        );
        assert_eq!(
            next.rate_limit,
            Some(Limit {
                per_minute: 5,
                burst: 2
            })
        );
        let reset: ClientUpdate = parse_body(br#"{"rate_limit":null}"#).unwrap();
        assert_eq!(next.updated(reset).unwrap().rate_limit, None);
        let bad: ClientUpdate = parse_body(br#"{"scopes":["b"]}"#).unwrap();
        let error = r.updated(bad).unwrap_err();
        assert!(error.message.contains("default_scopes must be a subset"));
        assert_eq!(r, record(), "the original is untouched");
    }

    #[test]
    fn unknown_members_of_a_stored_record_survive_a_rewrite() {
        let mut json: Value = serde_json::from_str(&record().to_json()).unwrap();
        json["future"] = serde_json::json!({"x": 1});
        json["secrets"][0]["note"] = "kept".into();
        let stored = Record::from_json("gen", &json.to_string()).unwrap();
        let update: ClientUpdate = parse_body(br#"{"token_ttl":600}"#).unwrap();
        let out: Value = serde_json::from_str(&stored.updated(update).unwrap().to_json()).unwrap();
        assert_eq!(out["future"]["x"], 1);
        assert_eq!(out["secrets"][0]["note"], "kept");
        assert_eq!(out["token_ttl"], 600);
    }

    #[test]
    fn a_stored_record_without_scopes_is_shown_but_an_update_must_give_it_one() {
        let mut json: Value = serde_json::from_str(&record().to_json()).unwrap();
        json["scopes"] = serde_json::json!([]);
        json["default_scopes"] = serde_json::json!([]);
        let stored = Record::from_json("gen", &json.to_string()).unwrap();
        let ttl: ClientUpdate = parse_body(br#"{"token_ttl":600}"#).unwrap();
        assert_eq!(stored.updated(ttl).unwrap_err().status, 400);
        let scopes: ClientUpdate = parse_body(br#"{"scopes":["a"]}"#).unwrap();
        assert_eq!(stored.updated(scopes).unwrap().scopes, ["a"]);
    }

    #[test]
    fn a_broken_or_misnamed_stored_record_is_a_fault() {
        assert_eq!(Record::from_json("gen", "{").unwrap_err().status, 500);
        assert_eq!(
            Record::from_json("other", &record().to_json())
                .unwrap_err()
                .status,
            500
        );
    }

    #[test]
    fn a_rotation_keeps_the_old_secret_until_the_expiry_then_only_the_new_one_works() {
        let r = record();
        let rotation = Rotation {
            old_secret_expires_at: Some(5_000),
        };
        let next = r.rotate(&hash("s2"), rotation, 2_000).unwrap();
        assert_eq!(next.secrets.len(), 2);
        assert_eq!(next.secrets[0].expires_at, Some(5_000));
        let client = Client::from_json("gen", &next.to_json()).unwrap();
        let pepper = Pepper::new("pepper-pepper-pepper-pepper-pepp").unwrap();
        let works = |s: &str, now| {
            client
                .authenticate(&pepper, &ClientSecret::new(s.into()), now)
                .is_some()
        };
        assert!(works("s1", 4_999) && works("s2", 4_999));
        assert!(!works("s1", 5_000) && works("s2", 5_000));
        // A second rotation during the overlap is refused; after it, the expired one is dropped.
        let again = next.rotate(&hash("s3"), Rotation::default(), 3_000);
        assert_eq!(again.unwrap_err().status, 409);
        let later = next
            .rotate(&hash("s3"), Rotation::default(), 6_000)
            .unwrap();
        assert_eq!(later.secrets.len(), 2);
        assert_eq!(later.secrets[0].hash, hash("s2").encode());
    }

    #[test]
    fn a_rotation_expiry_must_be_between_now_and_a_year_ahead() {
        let r = record();
        for bad in [1_999, 2_000 + MAX_OVERLAP_SECONDS + 1] {
            let rotation = Rotation {
                old_secret_expires_at: Some(bad),
            };
            assert_eq!(
                r.rotate(&hash("x"), rotation, 2_000).unwrap_err().status,
                400
            );
        }
        let default = r.rotate(&hash("x"), Rotation::default(), 2_000).unwrap();
        assert_eq!(
            default.secrets[0].expires_at,
            Some(2_000 + DEFAULT_OVERLAP_SECONDS)
        );
    }

    #[test]
    fn retiring_removes_a_secret_but_never_the_last_live_one() {
        let r = record();
        let id = r.secrets[0].id();
        assert_eq!(id.len(), 2 * SECRET_ID_BYTES);
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(r.retire(&id, 2_000).unwrap_err().status, 409);
        assert_eq!(r.retire("nope", 2_000).unwrap_err().status, 404);
        let rotated = r.rotate(&hash("s2"), Rotation::default(), 2_000).unwrap();
        let (next, removed) = rotated.retire(&id, 2_000).unwrap();
        assert_eq!(removed, hash("s1").encode());
        assert_eq!(next.secrets.len(), 1);
        assert_eq!(next.secrets[0].hash, hash("s2").encode());
    }

    #[test]
    fn the_info_shows_no_hash_and_each_secrets_last_use() {
        let r = record()
            .rotate(&hash("s2"), Rotation::default(), 2_000)
            .unwrap();
        let usage = ClientUsage {
            disabled: true,
            revoked: vec![],
            last_used: vec![(hash("s2").encode(), 2_500_999)],
        };
        let info = r.info("default", Some(&usage), 3_000);
        let text = info.to_string();
        assert!(!text.contains(&hash("s1").encode()) && !text.contains(&hash("s2").encode()));
        assert_eq!(info["disabled"], true);
        assert_eq!(info["secrets"][1]["last_used_at"], 2_500);
        assert!(info["secrets"][0]["last_used_at"].is_null());
        assert_eq!(info["rate_limit"]["per_minute"], 600);
    }
}
