//! The admin API's contract (docs/admin-api.md): the request bodies and the answers, as types
//! that the Worker and the CLI both compile, so a renamed member fails the build on both
//! sides. Members of the answers are declared in alphabetical order, the order the API has
//! always sent them in.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use super::error::AdminError;
use crate::core::{
    federation::Federation,
    guard::{Quota, QuotaUsage},
    limit::Limit,
};

/// The versioned root of the admin API: the tenant's name follows.
pub const API_ROOT: &str = "/admin/v1/tenants/";

/// `POST …/clients`: a new client. Unknown members are refused (a typo must not pass).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewClient {
    /// The id; generated when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// What it may be granted; at least one scope.
    pub scopes: Vec<String>,
    /// Granted when it asks for nothing; a subset of `scopes`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub default_scopes: Vec<String>,
    /// `aud` of its tokens; at least one.
    pub audience: Vec<String>,
    /// Seconds a token lives; default [`super::changes::DEFAULT_TOKEN_TTL`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_ttl: Option<u64>,
    /// Issuance limit; default the tenant's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<Limit>,
    /// Tokens per hour and per day; default none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<Quota>,
    /// Grants; default `["client_credentials"]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_types: Option<Vec<String>>,
    /// `private_key_jwt` for a client with keys and no secret; default: a secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_method: Option<String>,
    /// The algorithm of a `private_key_jwt` client's assertions; default `EdDSA`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_signing_alg: Option<String>,
    /// A `private_key_jwt` client's public keys, a JWK Set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<Value>,
    /// Or where they are fetched from (https; exclusive with `jwks`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// A `federated_jwt` client's trusted issuer, subject and required claims.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub federation: Option<Federation>,
    /// `aud` of a token whose request names none, a subset of `audience`; default every
    /// audience.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_audience: Option<Vec<String>>,
    /// Static claims of its tokens; default none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claims: Option<Map<String, Value>>,
    /// It may call the introspection endpoint; default false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub introspect: bool,
    /// Its tokens must be DPoP-bound (RFC 9449 §5.2); default false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dpop_bound_access_tokens: bool,
    /// A `tls_client_auth` client's certificate subject DN (RFC 8705 §2.1.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_subject_dn: Option<String>,
    /// A `self_signed_tls_client_auth` client's certificates' SHA-256 fingerprints (hex).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_certificate_sha256: Option<Vec<String>>,
    /// Its tokens are bound to its connection's client certificate (RFC 8705 §3); default
    /// false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tls_client_certificate_bound_access_tokens: bool,
}

/// `null` in JSON as `Some(None)`, absence as `None`.
fn nullable<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// `PATCH …/clients/{id}`: the members to change; absent members stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientUpdate {
    /// New allowed scopes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    /// New default scopes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_scopes: Option<Vec<String>>,
    /// New audience.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<Vec<String>>,
    /// New token lifetime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_ttl: Option<u64>,
    /// New limit; `null` returns to the tenant's default.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub rate_limit: Option<Option<Limit>>,
    /// New quota; `null` removes it.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub quota: Option<Option<Quota>>,
    /// New grant types.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_types: Option<Vec<String>>,
    /// New public keys of a `private_key_jwt` client (a key rotation); replaces a `jwks_uri`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<Value>,
    /// A new `jwks_uri` of a `private_key_jwt` client; replaces inline `jwks`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// What a `federated_jwt` client accepts, replaced as a whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub federation: Option<Federation>,
    /// New default audiences; `null` returns to every audience.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub default_audience: Option<Option<Vec<String>>>,
    /// New static claims, replacing the old ones as a whole (`{}`: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claims: Option<Map<String, Value>>,
    /// Whether it may call the introspection endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introspect: Option<bool>,
    /// Whether its tokens must be DPoP-bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_bound_access_tokens: Option<bool>,
    /// A new subject DN of a `tls_client_auth` client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_subject_dn: Option<String>,
    /// New fingerprints of a `self_signed_tls_client_auth` client, replacing the old ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_certificate_sha256: Option<Vec<String>>,
    /// Whether its tokens are bound to its connection's client certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_certificate_bound_access_tokens: Option<bool>,
}

/// `GET …/blocks`: the source addresses blocked after failed authentications. They are shared
/// by every tenant: any tenant's path shows them all.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockList {
    /// The blocked sources, the soonest released first.
    pub blocks: Vec<BlockedSource>,
}

/// One blocked source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockedSource {
    /// Until when (Unix seconds) it is blocked.
    pub blocked_until: u64,
    /// Its blocks so far; each lasts twice the one before (30 s, 60 s, … up to 15 min).
    pub blocks: u32,
    /// An IPv4 address or an IPv6 /64.
    pub source: String,
}

/// `DELETE …/blocks[/{source}]`: how many sources were forgotten.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cleared {
    /// Sources forgotten (blocked or only counting failures).
    pub cleared: u64,
}

/// `POST …/clients/{id}/secrets`: when the current secret stops working.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rotation {
    /// Unix seconds; default now + [`super::changes::DEFAULT_OVERLAP_SECONDS`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_secret_expires_at: Option<u64>,
}

/// One secret of a client as shown: never its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretInfo {
    /// Unix seconds when it was made, if known.
    pub created_at: Option<u64>,
    /// Unix seconds from which it is refused, if ever.
    pub expires_at: Option<u64>,
    /// Its public name (the start of its hash, in hex).
    pub id: String,
    /// Unix seconds of its last use, if the guard object saw one.
    pub last_used_at: Option<u64>,
    /// Whether it is accepted now.
    pub live: bool,
}

/// A client as the API shows it (`GET …/clients/{id}` and the answer of every change).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientInfo {
    /// The audiences its tokens may be for.
    pub audience: Vec<String>,
    /// Static claims of its tokens.
    #[serde(default)]
    pub claims: Map<String, Value>,
    /// The client id.
    pub client_id: String,
    /// `aud` of a token whose request names none; `None`: every audience.
    #[serde(default)]
    pub default_audience: Option<Vec<String>>,
    /// Unix seconds when it was made, if its record says (records made before it was kept
    /// do not).
    #[serde(default)]
    pub created_at: Option<u64>,
    /// What it gets when it asks for nothing.
    pub default_scopes: Vec<String>,
    /// Whether it is refused (in its record or in its guard object).
    pub disabled: bool,
    /// Grants it may use.
    pub grant_types: Vec<String>,
    /// Whether it may call the introspection endpoint.
    #[serde(default)]
    pub introspect: bool,
    /// Whether its tokens must be DPoP-bound (a request without a proof is refused).
    #[serde(default)]
    pub dpop_bound_access_tokens: bool,
    /// A `private_key_jwt` client's public keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<Value>,
    /// Its quota of tokens per hour and per day, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<Quota>,
    /// The tokens counted against that quota this hour and this day (absent without a quota,
    /// or when the guard object did not answer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota_usage: Option<QuotaUsage>,
    /// Or where they are fetched from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// What a `federated_jwt` client accepts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub federation: Option<Federation>,
    /// A `tls_client_auth` client's certificate subject DN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_subject_dn: Option<String>,
    /// A `self_signed_tls_client_auth` client's certificate fingerprints.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tls_client_certificate_sha256: Vec<String>,
    /// Whether its tokens are bound to its connection's client certificate.
    #[serde(default, skip_serializing_if = "is_false")]
    pub tls_client_certificate_bound_access_tokens: bool,
    /// Its issuance limit, its own or the default.
    pub rate_limit: Limit,
    /// Whether `rate_limit` is the default.
    pub rate_limit_is_default: bool,
    /// What it may be granted.
    pub scopes: Vec<String>,
    /// Its secrets.
    pub secrets: Vec<SecretInfo>,
    /// Its tenant.
    pub tenant: String,
    /// `private_key_jwt` for a client with keys; absent for a client with secrets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_method: Option<String>,
    /// The algorithm of a `private_key_jwt` client's assertions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_signing_alg: Option<String>,
    /// Seconds a token lives.
    pub token_ttl: u64,
    /// Whether the guard object did not answer (status and last use may be incomplete).
    #[serde(default, skip_serializing_if = "is_false")]
    pub usage_unavailable: bool,
    /// The record's version (0: written before versions existed); each change gives a new
    /// one, and a change based on an older one is refused (`409`).
    #[serde(default)]
    pub version: u64,
}

/// `GET …/clients/{id}/usage`: a client's quota and its tenant's, with the tokens counted
/// against each this hour and this day (docs/limits.md, "Quotas").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaReport {
    /// The client id.
    pub client_id: String,
    /// The client's quota, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<Quota>,
    /// Its counts (absent without a quota, or when its object did not answer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota_usage: Option<QuotaUsage>,
    /// Its tenant.
    pub tenant: String,
    /// The tenant's quota, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_quota: Option<Quota>,
    /// The tenant's counts, all clients together: blocks handed to clients' objects (absent
    /// without a quota, or when the tenant's object did not answer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_usage: Option<QuotaUsage>,
    /// Whether an object that keeps counts did not answer.
    #[serde(default, skip_serializing_if = "is_false")]
    pub usage_unavailable: bool,
}

fn is_false(value: &bool) -> bool {
    !value
}

/// The answer of a create (`201`) or a rotation (`201`): the new secret, shown once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewSecret {
    /// The client after the change.
    pub client: ClientInfo,
    /// The new secret, in clear: shown this once; absent for a `private_key_jwt` client,
    /// which has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// The new secret's id (a rotation's answer only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_id: Option<String>,
    /// The tenant's first token path.
    pub token_path: String,
    /// The URL of that path at the token Worker (`ISSUER` + path): where to try the client.
    /// The admin Worker is elsewhere, so its own URL is no base for it.
    pub token_endpoint: String,
    /// The `scope` a first request must name to get a token (the tenant's `omitted_scope`
    /// refuses one without it); absent: none needed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub try_scope: Option<String>,
}

/// One client of a list page, from its KV metadata (no read per client): each member `None`
/// when the metadata does not have it (records written before it was kept, or scopes and
/// audience too long for the metadata; `client show` has them all).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListEntry {
    /// `aud` of its tokens.
    #[serde(default)]
    pub audience: Option<Vec<String>>,
    /// The client id.
    pub client_id: String,
    /// Unix seconds when it was made.
    #[serde(default)]
    pub created_at: Option<u64>,
    /// Whether it is refused (as its record says; `client show` asks its guard object too).
    pub disabled: Option<bool>,
    /// What it may be granted.
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
}

/// `GET …/clients`: one page of the tenant's clients.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListPage {
    /// The clients of this page.
    pub clients: Vec<ListEntry>,
    /// Where the next page starts; `None` on the last page.
    pub cursor: Option<String>,
    /// The tenant.
    pub tenant: String,
}

/// `DELETE …/clients/{id}`: what was deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deleted {
    /// The client id.
    pub client_id: String,
    /// Always true.
    pub deleted: bool,
    /// The tenant.
    pub tenant: String,
}

/// The body of every refusal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The stable code (`invalid_request`, `not_found`, …).
    pub error: String,
    /// What was wrong, for a human.
    #[serde(default)]
    pub message: String,
}

/// Parses a JSON body into `T`, with serde's message (it names the member, never a value
/// beyond the offending token). An empty body is `{}`.
pub fn parse_body<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, AdminError> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| AdminError::invalid(format!("bad JSON body: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_bodies_carry_only_what_they_name() {
        let update = ClientUpdate {
            token_ttl: Some(120),
            rate_limit: Some(None),
            ..ClientUpdate::default()
        };
        let json = serde_json::to_string(&update).unwrap();
        assert_eq!(json, r#"{"token_ttl":120,"rate_limit":null}"#);
        assert_eq!(parse_body::<ClientUpdate>(json.as_bytes()).unwrap(), update);
        assert_eq!(serde_json::to_string(&Rotation::default()).unwrap(), "{}");
        let new = NewClient {
            scopes: vec!["a".into()],
            audience: vec!["x".into()],
            ..NewClient::default()
        };
        let json = serde_json::to_string(&new).unwrap();
        assert_eq!(json, r#"{"scopes":["a"],"audience":["x"]}"#);
    }

    #[test]
    fn an_error_body_without_a_message_reads_as_an_empty_one() {
        let body: ErrorBody = serde_json::from_str(r#"{"error":"not_found"}"#).unwrap();
        assert_eq!(body.message, "");
        let refusal = AdminError::conflict("taken").body();
        let json = serde_json::to_string(&refusal).unwrap();
        assert_eq!(json, r#"{"error":"conflict","message":"taken"}"#);
    }
}
