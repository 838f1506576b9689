//! The stored client record, schema v1 (docs/storage-schema.md): one serde type read by the
//! token path and read and written by the admin API, and its one conversion to the
//! [`Client`] the token path uses. A schema v2 changes this file.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{
    claims,
    client::{Client, StoredSecret},
    federation::{Federation, FEDERATED_JWT},
    guard::Quota,
    jwk::{Alg, ClientKeys, KeySource},
    jwks_cache::is_valid_jwks_uri,
    limit::Limit,
    mtls::{
        is_valid_subject_dn, parse_sha256_hex, MtlsAuth, MAX_FINGERPRINTS,
        SELF_SIGNED_TLS_CLIENT_AUTH, TLS_CLIENT_AUTH,
    },
    scope::{ScopeToken, Scopes},
    secret::SecretHash,
};

/// The record schema version this code reads.
pub const SCHEMA_VERSION: u32 = 1;
/// At most this many live secrets per client: the current one and, during a rotation, the next.
pub const MAX_SECRETS: usize = 2;
/// Token lifetimes a record may set, in seconds.
pub const TOKEN_TTL_RANGE: std::ops::RangeInclusive<u64> = 60..=86_400;
/// The most a record's KV metadata may take when written (KV allows 1 024 bytes).
pub const MAX_METADATA_BYTES: usize = 1_000;
/// Bytes of a secret's hash that name it (`secrets[].id`, in hex: never mistaken for a
/// command-line option, as a base64url `-` at the start would be): 72 bits.
pub const SECRET_ID_BYTES: usize = 9;
/// The `token_endpoint_auth_method` (RFC 7591 §2) of a client with keys instead of secrets.
pub const PRIVATE_KEY_JWT: &str = "private_key_jwt";
/// The methods of a client with secrets (either is accepted from it; absent means these).
pub const SECRET_METHODS: [&str; 2] = ["client_secret_basic", "client_secret_post"];

/// One entry of `secrets` as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretEntry {
    /// `HMAC-SHA-256(pepper, secret)`, base64url.
    pub hash: String,
    /// Unix seconds from which the secret is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<u64>,
    /// Unix seconds when the admin API made it (absent for older secrets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<u64>,
    /// The admin API generated the secret (256 random bits), so it cannot be guessed; absent
    /// (false): imported, which also guards its client as a whole (docs/limits.md).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub generated: bool,
    /// Members this code does not know, kept as they are ([`Record::extra`]: not in the token
    /// Worker).
    #[cfg_attr(
        any(not(target_arch = "wasm32"), feature = "admin-worker"),
        serde(flatten)
    )]
    #[cfg_attr(
        all(target_arch = "wasm32", not(feature = "admin-worker")),
        serde(skip)
    )]
    pub extra: Map<String, Value>,
}

impl SecretEntry {
    /// The entry of a secret the admin API generated: its hash, made at `now`, no expiry,
    /// marked generated.
    pub fn new(hash: &SecretHash, now: u64) -> Self {
        Self {
            hash: hash.encode(),
            expires_at: None,
            created_at: Some(now),
            generated: true,
            extra: Map::new(),
        }
    }

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

    /// Whether the secret is still accepted at `now` (Unix seconds).
    pub fn live(&self, now: u64) -> bool {
        self.expires_at.is_none_or(|at| now < at)
    }

    fn stored(&self) -> Option<StoredSecret> {
        Some(StoredSecret {
            hash: SecretHash::parse(&self.hash)?,
            expires_at: self.expires_at,
            generated: self.generated,
        })
    }
}

/// A client record, schema v1: every member kept, unknown ones included, so a rewrite by the
/// admin API loses nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// Schema version.
    pub v: u32,
    /// The client id.
    pub client_id: String,
    /// One or two secrets.
    pub secrets: Vec<SecretEntry>,
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
    /// Its issuance limit; absent = the tenant's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<Limit>,
    /// Its quota of tokens per hour and per day; absent = none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<Quota>,
    /// How it authenticates: absent or a [`SECRET_METHODS`] entry (secrets), or
    /// [`PRIVATE_KEY_JWT`] (no secrets; `jwks` or `jwks_uri`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_method: Option<String>,
    /// The one algorithm its assertions may use (RFC 7591 §2); absent = `EdDSA`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_signing_alg: Option<String>,
    /// Its public keys (RFC 7517 JWK Set), for `private_key_jwt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<Value>,
    /// Where its public keys are fetched from, for `private_key_jwt` instead of `jwks`
    /// ([`crate::core::jwks_cache`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// What a [`FEDERATED_JWT`] client accepts: a trusted issuer, a subject, claims.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub federation: Option<Federation>,
    /// The version the client's guard object gave the record's latest write (admin API,
    /// docs/admin-api.md); absent (0): written before versions existed. Every write of the
    /// admin API gives one (at least 1), so it is always stored from then on.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub version: u64,
    /// The `aud` of a token whose request names none: a non-empty subset of `audience`;
    /// absent = every audience.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_audience: Option<Vec<String>>,
    /// Static claims of its tokens (docs/storage-schema.md); absent = none.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub claims: Map<String, Value>,
    /// Unix seconds when it was made (by the admin API, or by `npm start` for the demo
    /// client); absent in records made before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<u64>,
    /// It may call the introspection endpoint (RFC 7662; docs/introspection.md); absent:
    /// false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub introspect: bool,
    /// Its tokens must be DPoP-bound: a request without a DPoP proof is refused (RFC 9449
    /// §5.2); absent: false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dpop_bound_access_tokens: bool,
    /// A [`TLS_CLIENT_AUTH`] client's certificate subject DN, RFC 2253 form, compared
    /// exactly (RFC 8705 §2.1.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_subject_dn: Option<String>,
    /// A [`SELF_SIGNED_TLS_CLIENT_AUTH`] client's certificates: the SHA-256 of each one's
    /// DER, 64 lowercase hex digits; 1 to [`MAX_FINGERPRINTS`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tls_client_certificate_sha256: Vec<String>,
    /// Its tokens are bound to the certificate of the connection they were requested over
    /// (RFC 8705 §3); absent: false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tls_client_certificate_bound_access_tokens: bool,
    /// Members this code does not know, kept as they are, so that a rewrite (the admin API's)
    /// loses none. The token Worker never writes a record (its build has no
    /// [`Record::to_json`]): there unknown members are ignored, and empty here, which spares it
    /// serde's `flatten`, the buffering of every member of the record and its secrets before
    /// reading them (bench/README.md, fifth session).
    #[cfg_attr(
        any(not(target_arch = "wasm32"), feature = "admin-worker"),
        serde(flatten)
    )]
    #[cfg_attr(
        all(target_arch = "wasm32", not(feature = "admin-worker")),
        serde(skip)
    )]
    pub extra: Map<String, Value>,
}

/// Whether a version is 0 (unknown): not written, so that an older record reads and writes
/// back as it was.
fn is_zero(version: &u64) -> bool {
    *version == 0
}

fn scope_list(tokens: &[String]) -> Option<Scopes> {
    let tokens: Option<Vec<ScopeToken>> = tokens.iter().map(|t| ScopeToken::parse(t)).collect();
    Some(Scopes::from_tokens(tokens?))
}

impl Record {
    /// Reads the stored JSON; `None` when it is not a record's shape.
    pub fn parse(json: &str) -> Option<Self> {
        crate::core::json::parse(json.as_bytes()).ok()
    }

    /// The stored form. Not in the token Worker, which reads records without their unknown
    /// members ([`Record::extra`]) and so must never write one.
    #[cfg(any(not(target_arch = "wasm32"), feature = "admin-worker"))]
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The client's keys when it uses `private_key_jwt` (`Some(None)` when it uses secrets),
    /// or `None` when the method, algorithm and keys (`jwks` or else `jwks_uri`, never both) do
    /// not agree with each other and with the number of secrets.
    pub fn client_keys(&self) -> Option<Option<KeySource>> {
        match self.token_endpoint_auth_method.as_deref() {
            Some(PRIVATE_KEY_JWT) => {
                let alg = self.token_endpoint_auth_signing_alg.as_deref();
                let alg = alg.map_or(Some(Alg::EdDSA), Alg::parse)?;
                let source = match (&self.jwks, &self.jwks_uri) {
                    (Some(set), None) => KeySource::Inline(ClientKeys::parse(set, alg).ok()?),
                    (None, Some(uri)) if is_valid_jwks_uri(uri) => KeySource::Uri {
                        uri: uri.clone(),
                        alg,
                    },
                    _ => return None,
                };
                (self.secrets.is_empty() && self.federation.is_none() && self.no_mtls_members())
                    .then_some(Some(source))
            }
            Some(FEDERATED_JWT) => self.federation_fits().then_some(None),
            Some(TLS_CLIENT_AUTH | SELF_SIGNED_TLS_CLIENT_AUTH) => {
                self.mtls_auth().is_some().then_some(None)
            }
            None => self.secret_method_fits().then_some(None),
            Some(method) if SECRET_METHODS.contains(&method) => {
                self.secret_method_fits().then_some(None)
            }
            Some(_) => None,
        }
    }

    /// A mutual-TLS client's check (RFC 8705 §2): the subject DN of a [`TLS_CLIENT_AUTH`]
    /// client, or the fingerprints of a [`SELF_SIGNED_TLS_CLIENT_AUTH`] one, valid and the
    /// member of the other method absent; no secret, key, algorithm or federation. `None`
    /// for a client of another method, or a record that breaks these rules.
    pub fn mtls_auth(&self) -> Option<MtlsAuth> {
        let bare = self.secrets.is_empty()
            && self.jwks.is_none()
            && self.jwks_uri.is_none()
            && self.token_endpoint_auth_signing_alg.is_none()
            && self.federation.is_none();
        let auth = match self.token_endpoint_auth_method.as_deref()? {
            TLS_CLIENT_AUTH if self.tls_client_certificate_sha256.is_empty() => {
                let dn = self.tls_client_auth_subject_dn.as_ref()?;
                is_valid_subject_dn(dn).then(|| MtlsAuth::SubjectDn(dn.clone()))?
            }
            SELF_SIGNED_TLS_CLIENT_AUTH if self.tls_client_auth_subject_dn.is_none() => {
                let hex = &self.tls_client_certificate_sha256;
                let lowercase = hex
                    .iter()
                    .all(|h| !h.bytes().any(|b| b.is_ascii_uppercase()));
                let prints: Option<Vec<[u8; 32]>> =
                    hex.iter().map(|h| parse_sha256_hex(h)).collect();
                let prints = prints.filter(|p| (1..=MAX_FINGERPRINTS).contains(&p.len()))?;
                lowercase.then_some(MtlsAuth::SelfSigned(prints))?
            }
            _ => return None,
        };
        bare.then_some(auth)
    }

    /// Whether the record asks for one kind of bound token at most: a token is bound to one
    /// key (docs/sender-constrained.md), so DPoP-bound and certificate-bound exclude each other.
    pub fn one_binding_at_most(&self) -> bool {
        !(self.dpop_bound_access_tokens && self.tls_client_certificate_bound_access_tokens)
    }

    /// Whether the record names no mutual-TLS member (a client of another method).
    fn no_mtls_members(&self) -> bool {
        self.tls_client_auth_subject_dn.is_none() && self.tls_client_certificate_sha256.is_empty()
    }

    /// A secret client: 1 or 2 secrets, and neither keys nor an assertion algorithm.
    fn secret_method_fits(&self) -> bool {
        (1..=MAX_SECRETS).contains(&self.secrets.len())
            && self.no_mtls_members()
            && self.jwks.is_none()
            && self.jwks_uri.is_none()
            && self.token_endpoint_auth_signing_alg.is_none()
            && self.federation.is_none()
    }

    /// A federated client: a valid `federation`, and no secret, key or algorithm.
    fn federation_fits(&self) -> bool {
        self.secrets.is_empty()
            && self.no_mtls_members()
            && self.jwks.is_none()
            && self.jwks_uri.is_none()
            && self.token_endpoint_auth_signing_alg.is_none()
            && self
                .federation
                .as_ref()
                .is_some_and(|f| f.problem().is_none())
    }

    /// The [`Client`] the token path uses, if the record keeps every rule of the schema and
    /// is the record of `expected_id`.
    pub fn into_client(self, expected_id: &str) -> Option<Client> {
        let keys = self.client_keys()?;
        let secrets: Option<Vec<StoredSecret>> =
            self.secrets.iter().map(SecretEntry::stored).collect();
        let secrets = secrets?;
        let scopes = scope_list(&self.scopes)?;
        let default_scopes = scope_list(&self.default_scopes)?;
        let limit = self.rate_limit;
        let default_audience_valid = self
            .default_audience
            .as_ref()
            .is_none_or(|d| !d.is_empty() && d.iter().all(|a| self.audience.contains(a)));
        let valid = self.v == SCHEMA_VERSION
            && self.client_id == expected_id
            && default_scopes.is_subset_of(&scopes)
            && TOKEN_TTL_RANGE.contains(&self.token_ttl)
            && !self.audience.is_empty()
            && self.audience.iter().all(|a| !a.is_empty())
            && limit.is_none_or(Limit::is_valid)
            && self.quota.is_none_or(Quota::is_valid)
            && default_audience_valid
            && claims::check(&self.claims).is_ok()
            && self.one_binding_at_most();
        let mtls = self.mtls_auth();
        valid.then(|| Client {
            mtls,
            certificate_bound: self.tls_client_certificate_bound_access_tokens,
            id: self.client_id,
            secrets,
            keys,
            federation: self.federation,
            client_credentials_allowed: self.grant_types.iter().any(|g| g == "client_credentials"),
            scopes,
            default_scopes,
            token_ttl: self.token_ttl,
            audience: self.audience,
            default_audience: self.default_audience.unwrap_or_default(),
            claims: self.claims,
            disabled: self.disabled,
            introspect: self.introspect,
            dpop_bound_access_tokens: self.dpop_bound_access_tokens,
            limit,
            version: self.version,
            quota: self.quota,
        })
    }

    /// Whether the token path would accept this record as the record of its own id.
    pub fn keeps_the_schema(&self) -> bool {
        self.clone().into_client(&self.client_id).is_some()
    }

    /// The KV metadata stored beside the record, so that a list needs no read per client:
    /// status, creation time, scopes and audience, the last two left out when together they
    /// would take the metadata over [`MAX_METADATA_BYTES`].
    pub fn metadata(&self) -> Value {
        let brief = serde_json::json!({ "created_at": self.created_at, "disabled": self.disabled });
        let mut full = brief.clone();
        full["scopes"] = self.scopes.clone().into();
        full["audience"] = self.audience.clone().into();
        if crate::core::json::text(&full).len() <= MAX_METADATA_BYTES {
            full
        } else {
            brief
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::core::{
        error::Error,
        secret::{ClientSecret, Pepper},
    };
    use serde_json::json;

    /// The pepper of the test records.
    pub(crate) fn pepper() -> Pepper {
        Pepper::new("pepper-pepper-pepper-pepper-pepp").unwrap()
    }

    fn hash(secret: &str) -> String {
        pepper().hash(&ClientSecret::new(secret.into())).encode()
    }

    /// A valid record of `svc`: secret `old` until 1 000, then `new`.
    pub(crate) fn record() -> serde_json::Value {
        json!({
            "v": 1, "client_id": "svc",
            "secrets": [{ "hash": hash("old"), "expires_at": 1000 }, { "hash": hash("new") }],
            "grant_types": ["client_credentials"],
            "scopes": ["a", "b"], "default_scopes": ["a"],
            "token_ttl": 600, "audience": ["https://api"], "disabled": false
        })
    }

    fn with(field: &str, value: serde_json::Value) -> String {
        let mut r = record();
        r[field] = value;
        r.to_string()
    }

    #[test]
    fn a_valid_record_parses() {
        let client = Client::from_json("svc", &record().to_string()).unwrap();
        assert_eq!(client.token_ttl, 600);
        assert!(client.client_credentials_allowed);
        assert_eq!(client.default_scopes.to_scope_string(), "a");
        assert_eq!(client.limit, None);
        let limited = Client::from_json(
            "svc",
            &with("rate_limit", json!({ "per_minute": 2, "burst": 3 })),
        );
        assert_eq!(
            limited.unwrap().limit,
            Some(Limit {
                per_minute: 2,
                burst: 3
            })
        );
    }

    #[test]
    fn records_that_break_the_schema_are_faults() {
        let bad = [
            "not json".to_owned(),
            with("v", json!(2)),
            with("client_id", json!("other")),
            with("secrets", json!([])),
            with("secrets", json!([{ "hash": "short" }])),
            with(
                "secrets",
                json!([{ "hash": hash("1") }, { "hash": hash("2") }, { "hash": hash("3") }]),
            ),
            with("scopes", json!(["a b"])),
            with("default_scopes", json!(["c"])),
            with("token_ttl", json!(59)),
            with("token_ttl", json!(86_401)),
            with("audience", json!([])),
            with("disabled", json!("no")),
            with("rate_limit", json!({ "per_minute": 0, "burst": 5 })),
            with("rate_limit", json!({ "per_minute": 5 })),
            with("default_audience", json!([])),
            with("default_audience", json!(["https://other"])),
            with("default_audience", json!("https://api")),
            with("claims", json!({ "scope": "admin" })),
            with("claims", json!({ "big": "x".repeat(4096) })),
            with("claims", json!(["not", "an", "object"])),
        ];
        for json in bad {
            assert_eq!(
                Client::from_json("svc", &json),
                Err(Error::BadClientRecord),
                "{json}"
            );
        }
    }

    /// A valid `private_key_jwt` record of `svc`: RFC 8037's public key, no secret.
    pub(crate) fn key_record() -> serde_json::Value {
        let mut r = record();
        r["secrets"] = json!([]);
        r["token_endpoint_auth_method"] = json!(PRIVATE_KEY_JWT);
        r["jwks"] = json!({ "keys": [{ "kty": "OKP", "crv": "Ed25519", "kid": "k1",
            "x": crate::core::jwk::tests::RFC8037_X }] });
        r
    }

    #[test]
    fn a_private_key_jwt_record_has_keys_and_no_secret_and_a_secret_record_the_reverse() {
        let client = Client::from_json("svc", &key_record().to_string()).unwrap();
        let Some(KeySource::Inline(keys)) = client.keys else {
            panic!("inline keys expected");
        };
        assert_eq!((keys.alg, keys.keys.len()), (Alg::EdDSA, 1));
        assert!(client.secrets.is_empty());
        assert_eq!(
            Client::from_json("svc", &record().to_string())
                .unwrap()
                .keys,
            None
        );
        let basic = with("token_endpoint_auth_method", json!("client_secret_basic"));
        assert!(Client::from_json("svc", &basic).is_ok());
        let mut bad = Vec::new();
        for (field, value) in [
            ("secrets", record()["secrets"].clone()),
            ("jwks", json!(null)),
            (
                "jwks",
                json!({ "keys": [{ "kty": "OKP", "crv": "Ed25519",
                "x": crate::core::jwk::tests::RFC8037_X, "d": "private" }] }),
            ),
            ("token_endpoint_auth_signing_alg", json!("HS256")),
            ("token_endpoint_auth_signing_alg", json!("ES256")),
            ("token_endpoint_auth_method", json!("tls_client_auth")),
        ] {
            let mut r = key_record();
            r[field] = value;
            bad.push(r.to_string());
        }
        bad.push(with("jwks", key_record()["jwks"].clone()));
        bad.push(with("token_endpoint_auth_signing_alg", json!("EdDSA")));
        for json in bad {
            assert_eq!(
                Client::from_json("svc", &json),
                Err(Error::BadClientRecord),
                "{json}"
            );
        }
    }

    #[test]
    fn a_private_key_jwt_record_names_jwks_or_an_https_jwks_uri_never_both() {
        let mut r = key_record();
        r["jwks"] = json!(null);
        r["jwks_uri"] = json!("https://keys.example/jwks.json");
        r["token_endpoint_auth_signing_alg"] = json!("PS256");
        let client = Client::from_json("svc", &r.to_string()).unwrap();
        assert_eq!(
            client.keys,
            Some(KeySource::Uri {
                uri: "https://keys.example/jwks.json".into(),
                alg: Alg::PS256
            })
        );
        let mut both = r.clone();
        both["jwks"] = key_record()["jwks"].clone();
        both["token_endpoint_auth_signing_alg"] = json!("EdDSA");
        let mut plain_http = r.clone();
        plain_http["jwks_uri"] = json!("http://keys.example/jwks.json");
        let secret_with_uri = with("jwks_uri", json!("https://keys.example/jwks.json"));
        for json in [both.to_string(), plain_http.to_string(), secret_with_uri] {
            assert_eq!(
                Client::from_json("svc", &json),
                Err(Error::BadClientRecord),
                "{json}"
            );
        }
    }

    #[test]
    fn a_federated_record_has_a_federation_and_nothing_else() {
        let mut r = record();
        r["secrets"] = json!([]);
        r["token_endpoint_auth_method"] = json!(FEDERATED_JWT);
        r["federation"] = json!({ "issuer": "github", "subject": "repo:o/r:ref:refs/heads/main",
            "claims": { "repository": "o/r" } });
        let client = Client::from_json("svc", &r.to_string()).unwrap();
        assert_eq!(client.federation.map(|f| f.issuer), Some("github".into()));
        assert_eq!(client.keys, None);
        let mut bad = Vec::new();
        for (field, value) in [
            ("secrets", record()["secrets"].clone()),
            ("federation", json!(null)),
            ("federation", json!({ "issuer": "github", "subject": "" })),
            ("jwks_uri", json!("https://keys.example/jwks")),
            ("token_endpoint_auth_signing_alg", json!("EdDSA")),
        ] {
            let mut b = r.clone();
            b[field] = value;
            bad.push(b.to_string());
        }
        bad.push(with("federation", r["federation"].clone()));
        for json in bad {
            assert_eq!(
                Client::from_json("svc", &json),
                Err(Error::BadClientRecord),
                "{json}"
            );
        }
    }

    #[test]
    fn a_mutual_tls_record_names_its_certificate_and_nothing_else() {
        let print = "af363dc85bc942a892d3cee9796190fdb36d89cd588a4f1cb17c74a943439714";
        let mut dn = record();
        dn["secrets"] = json!([]);
        dn["token_endpoint_auth_method"] = json!(TLS_CLIENT_AUTH);
        dn["tls_client_auth_subject_dn"] = json!("CN=svc");
        let client = Client::from_json("svc", &dn.to_string()).unwrap();
        assert_eq!(client.mtls, Some(MtlsAuth::SubjectDn("CN=svc".into())));
        assert!(!client.certificate_bound);
        let mut signed = dn.clone();
        signed["token_endpoint_auth_method"] = json!(SELF_SIGNED_TLS_CLIENT_AUTH);
        signed["tls_client_auth_subject_dn"] = json!(null);
        signed["tls_client_certificate_sha256"] = json!([print]);
        signed["tls_client_certificate_bound_access_tokens"] = json!(true);
        let client = Client::from_json("svc", &signed.to_string()).unwrap();
        assert!(matches!(client.mtls, Some(MtlsAuth::SelfSigned(ref p)) if p.len() == 1));
        assert!(client.certificate_bound);
        let mut bad = Vec::new();
        for (base, field, value) in [
            (&dn, "secrets", record()["secrets"].clone()),
            (&dn, "tls_client_auth_subject_dn", json!(null)),
            (&dn, "tls_client_auth_subject_dn", json!("")),
            (&dn, "tls_client_certificate_sha256", json!([print])),
            (&dn, "jwks_uri", json!("https://keys.example/jwks")),
            (&signed, "tls_client_certificate_sha256", json!([])),
            (
                &signed,
                "tls_client_certificate_sha256",
                json!([print.to_uppercase()]),
            ),
            (&signed, "tls_client_certificate_sha256", json!(["abc"])),
            (
                &signed,
                "tls_client_certificate_sha256",
                json!(vec![print; 5]),
            ),
            (&signed, "tls_client_auth_subject_dn", json!("CN=svc")),
        ] {
            let mut b = base.clone();
            b[field] = value;
            bad.push(b.to_string());
        }
        // A client of another method may not carry a certificate to check.
        bad.push(with("tls_client_auth_subject_dn", json!("CN=svc")));
        bad.push(with("tls_client_certificate_sha256", json!([print])));
        for json in bad {
            assert_eq!(
                Client::from_json("svc", &json),
                Err(Error::BadClientRecord),
                "{json}"
            );
        }
        // Any client may ask for certificate-bound tokens, but not beside DPoP-bound ones.
        let bound = with("tls_client_certificate_bound_access_tokens", json!(true));
        assert!(Client::from_json("svc", &bound).unwrap().certificate_bound);
        let mut both: serde_json::Value = serde_json::from_str(&bound).unwrap();
        both["dpop_bound_access_tokens"] = json!(true);
        assert_eq!(
            Client::from_json("svc", &both.to_string()),
            Err(Error::BadClientRecord)
        );
    }

    #[test]
    fn default_audience_and_claims_are_read_and_absent_means_every_audience_and_none() {
        let plain = Client::from_json("svc", &record().to_string()).unwrap();
        assert!(plain.default_audience.is_empty() && plain.claims.is_empty());
        let mut r = record();
        r["audience"] = json!(["https://api", "urn:b"]);
        r["default_audience"] = json!(["urn:b"]);
        r["claims"] = json!({ "tenant_id": "t1", "roles": ["a", "b"] });
        let client = Client::from_json("svc", &r.to_string()).unwrap();
        assert_eq!(client.default_audience, ["urn:b"]);
        assert_eq!(client.claims["roles"], json!(["a", "b"]));
        let again: serde_json::Value =
            serde_json::from_str(&Record::parse(&r.to_string()).unwrap().to_json()).unwrap();
        assert_eq!(again, r, "written back as read");
    }

    #[test]
    fn the_metadata_carries_what_a_list_shows_within_kvs_bound() {
        let mut record = Record::parse(&record().to_string()).unwrap();
        record.created_at = Some(7);
        let meta = record.metadata();
        assert_eq!(meta["scopes"], json!(["a", "b"]));
        assert_eq!(meta["audience"], json!(["https://api"]));
        assert_eq!(
            (meta["created_at"].clone(), meta["disabled"].clone()),
            (json!(7), json!(false))
        );
        record.audience = vec!["https://a-long-audience.example".repeat(40)];
        let meta = record.metadata();
        assert!(meta.to_string().len() <= MAX_METADATA_BYTES);
        assert_eq!(
            meta.get("audience"),
            None,
            "too long: left to `client show`"
        );
        assert_eq!(meta["disabled"], json!(false));
    }

    #[test]
    fn unknown_members_survive_a_read_and_a_write() {
        let mut stored = record();
        stored["future"] = json!({ "x": 1 });
        stored["secrets"][0]["note"] = "kept".into();
        let record = Record::parse(&stored.to_string()).unwrap();
        let written: serde_json::Value = serde_json::from_str(&record.to_json()).unwrap();
        assert_eq!(written, stored);
        assert!(record.keeps_the_schema());
    }
}
