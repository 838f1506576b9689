//! The deployment's configuration, validated once per isolate: the origin (`ISSUER`) and the
//! tenants (`TENANTS`), each with its issuer, token paths, keys and policies, and the routing
//! table from exact paths to a tenant's endpoints (docs/tenants.md).

use std::{collections::HashMap, fmt};

use serde::Deserialize;
use serde_json::{Map, Value};

use super::{
    audience::ResourceServer,
    claims,
    federation::{self, RawTrustedIssuer, TrustedIssuer, FEDERATED_JWT},
    guard::quota::{Quota, MAX_QUOTA},
    limit::{Limit, DEFAULT_LIMIT, MAX_RATE},
    scope::{OmittedScope, ScopePolicy, ScopeRules, ScopeToken, Scopes},
};

/// Where the JWKS is served: this, then the tenant's issuer path (RFC 8414 §3 style).
pub const JWKS_PATH: &str = "/.well-known/jwks.json";
/// Where the RFC 8414 metadata is served: this, then the tenant's issuer path (RFC 8414 §3).
pub const METADATA_PATH: &str = "/.well-known/oauth-authorization-server";
/// Where a tenant's introspection endpoint (RFC 7662) is served: its issuer path, then this.
pub const INTROSPECT_SUFFIX: &str = "/oauth2/introspect";
/// Where a tenant's revocation endpoint (RFC 7009) is served: its issuer path, then this.
pub const REVOKE_SUFFIX: &str = "/oauth2/revoke";
/// The client authentication methods of every endpoint that authenticates clients (and
/// `federated_jwt` at a tenant that trusts an issuer).
pub const AUTH_METHODS: [&str; 5] = [
    "client_secret_basic",
    "client_secret_post",
    "private_key_jwt",
    crate::core::mtls::TLS_CLIENT_AUTH,
    crate::core::mtls::SELF_SIGNED_TLS_CLIENT_AUTH,
];
/// The secret a tenant signs with unless it names another.
pub const DEFAULT_SIGNING_KEYS: &str = "SIGNING_KEYS";
/// The most tenants one deployment may declare.
pub const MAX_TENANTS: usize = 64;
/// The most token paths one tenant may declare.
pub const MAX_TOKEN_PATHS: usize = 16;
/// The most resource servers one tenant may declare.
pub const MAX_RESOURCE_SERVERS: usize = 64;
/// The most scopes one resource server may define.
pub const MAX_SERVER_SCOPES: usize = 256;
/// The longest resource server identifier (as the longest audience of a client).
pub const MAX_IDENTIFIER_CHARS: usize = 512;

/// A configuration value that cannot be used. Names the var and the tenant, never a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn fail<T>(message: impl Into<String>) -> Result<T, ConfigError> {
    Err(ConfigError(message.into()))
}

/// What a path leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// The token endpoint (POST).
    Token,
    /// The tenant's JWK Set (GET).
    Jwks,
    /// The tenant's RFC 8414 metadata (GET).
    Metadata,
    /// The tenant's introspection endpoint, RFC 7662 (POST; docs/introspection.md).
    Introspect,
    /// The tenant's revocation endpoint, RFC 7009 (POST; docs/introspection.md).
    Revoke,
}

/// One tenant, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    /// Its name: `[a-z0-9][a-z0-9-]{0,31}`; part of its clients' KV keys and guard names.
    pub name: String,
    /// The `iss` of its tokens: the origin followed by its issuer path.
    pub issuer: String,
    /// Where its clients ask for tokens; the first is the one the metadata names.
    pub token_paths: Vec<String>,
    /// The URL of its first token path (the metadata's `token_endpoint`).
    pub token_endpoint: String,
    /// Where its JWK Set is served.
    pub jwks_path: String,
    /// Where its metadata is served.
    pub metadata_path: String,
    /// Where its introspection endpoint is served: its issuer path + [`INTROSPECT_SUFFIX`].
    pub introspect_path: String,
    /// Where its revocation endpoint is served: its issuer path + [`REVOKE_SUFFIX`].
    pub revoke_path: String,
    /// What a request's `scope` is granted.
    pub scope: ScopeRules,
    /// The name of the Worker secret that holds its signing keys.
    pub signing_keys: String,
    /// The issuance limit of its clients whose record sets none.
    pub rate_limit: Limit,
    /// Its quota of tokens per hour and per day, all clients together (docs/limits.md).
    pub quota: Option<Quota>,
    /// The status of `invalid_client` when the client did not use HTTP Basic: 401 (default)
    /// or 400 (RFC 6749 §5.2 allows both; with Basic it is always 401).
    pub invalid_client_status: u16,
    /// Whether the response names the granted `scope` even when it equals the request
    /// (RFC 6749 §5.1 makes it optional then; some clients expect it).
    pub always_return_scope: bool,
    /// The APIs it declares, each with the scopes it defines; empty: scopes are not bound to
    /// audiences.
    pub resource_servers: Vec<ResourceServer>,
    /// Static claims of every token it issues (a client's own win over these).
    pub claims: Map<String, Value>,
    /// The issuers whose tokens its federated clients may authenticate with
    /// ([`crate::core::federation`]).
    pub trusted_issuers: Vec<TrustedIssuer>,
    /// Whether DPoP proofs must carry a nonce of ours (RFC 9449 §8; [`crate::core::dpop`]).
    pub dpop_nonce: bool,
    metadata: String,
}

impl Tenant {
    /// The RFC 8414 metadata document, ready to serve.
    pub fn metadata_json(&self) -> &str {
        &self.metadata
    }
}

/// `TENANTS` as written: a map from tenant name to these fields.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTenant {
    #[serde(default)]
    issuer_path: String,
    token_paths: Vec<String>,
    #[serde(default)]
    scope_policy: Option<String>,
    #[serde(default)]
    scope_wildcard: Option<String>,
    #[serde(default)]
    signing_keys: Option<String>,
    #[serde(default)]
    rate_limit: Option<Limit>,
    #[serde(default)]
    quota: Option<Quota>,
    #[serde(default)]
    invalid_client_status: Option<u16>,
    #[serde(default)]
    always_return_scope: bool,
    #[serde(default)]
    omitted_scope: Option<String>,
    #[serde(default)]
    resource_servers: Vec<RawResourceServer>,
    #[serde(default)]
    claims: Map<String, Value>,
    #[serde(default)]
    trusted_issuers: Vec<RawTrustedIssuer>,
    #[serde(default)]
    dpop_nonce: bool,
}

/// One entry of `resource_servers` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawResourceServer {
    identifier: String,
    #[serde(default)]
    scopes: Vec<String>,
}

/// Validates a tenant's `resource_servers`: distinct identifiers of 1–512 characters without
/// spaces, scope tokens, within the bounds; the message is what is wrong.
fn resource_servers(raw: Vec<RawResourceServer>) -> Result<Vec<ResourceServer>, String> {
    if raw.len() > MAX_RESOURCE_SERVERS {
        return Err(format!("may declare at most {MAX_RESOURCE_SERVERS}"));
    }
    let mut out: Vec<ResourceServer> = Vec::with_capacity(raw.len());
    for server in raw {
        let id = server.identifier;
        if id.is_empty()
            || id.chars().count() > MAX_IDENTIFIER_CHARS
            || id.chars().any(|c| c.is_control() || c.is_whitespace())
        {
            return Err(format!(
                "identifier must be 1-{MAX_IDENTIFIER_CHARS} characters without spaces"
            ));
        }
        if out.iter().any(|s| s.identifier == id) {
            return Err(format!("identifier {id:?} is declared twice"));
        }
        let tokens: Option<Vec<ScopeToken>> =
            server.scopes.iter().map(|t| ScopeToken::parse(t)).collect();
        match tokens {
            Some(tokens) if tokens.len() <= MAX_SERVER_SCOPES => out.push(ResourceServer {
                identifier: id,
                scopes: Scopes::from_tokens(tokens),
            }),
            _ => {
                return Err(format!(
                    "scopes of {id:?} must be at most {MAX_SERVER_SCOPES} scope tokens"
                ))
            }
        }
    }
    Ok(out)
}

/// The RFC 8414 metadata of a tenant; `scopes_supported` when it declares resource servers,
/// `federated_jwt` among the methods when it trusts an issuer.
fn metadata(
    issuer: &str,
    token_endpoint: &str,
    jwks_uri: &str,
    servers: &[ResourceServer],
    federated: bool,
) -> String {
    // The same client authentication at all three endpoints.
    let methods: Vec<&str> = AUTH_METHODS
        .into_iter()
        .chain(federated.then_some(FEDERATED_JWT))
        .collect();
    let mut metadata = serde_json::json!({
        "issuer": issuer,
        "token_endpoint": token_endpoint,
        "jwks_uri": jwks_uri,
        "introspection_endpoint": format!("{issuer}{INTROSPECT_SUFFIX}"),
        "revocation_endpoint": format!("{issuer}{REVOKE_SUFFIX}"),
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": methods,
        "introspection_endpoint_auth_methods_supported": methods,
        "revocation_endpoint_auth_methods_supported": methods,
        "token_endpoint_auth_signing_alg_values_supported": crate::core::jwk::Alg::ALL.map(crate::core::jwk::Alg::name),
        "dpop_signing_alg_values_supported": crate::core::dpop::ALGS.map(crate::core::jwk::Alg::name),
        // RFC 8705 §3.3: certificate-bound tokens are issued to clients that ask for them.
        "tls_client_certificate_bound_access_tokens": true,
        // RFC 8414 requires the member; there is no authorization endpoint, so no type.
        "response_types_supported": [],
    });
    if !servers.is_empty() {
        let all = Scopes::from_tokens(servers.iter().flat_map(|s| s.scopes.iter().cloned()));
        let names: Vec<&str> = all.iter().map(ScopeToken::as_str).collect();
        metadata["scopes_supported"] = names.into();
    }
    crate::core::json::text(&metadata)
}

/// Every tenant, and the exact paths that lead to them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenants {
    tenants: Vec<Tenant>,
    routes: HashMap<String, (usize, Endpoint)>,
}

/// Whether a URL's host (as written in a URL: an IPv6 address in brackets) is this machine's
/// loopback, the one place plain `http` is allowed: by `ISSUER` here and by the operator CLI,
/// which sends the admin token only over https or to such a host.
pub fn is_loopback_host(host: &str) -> bool {
    matches!(host, "127.0.0.1" | "localhost" | "[::1]")
}

fn is_loopback_http(origin: &str) -> bool {
    let Some(authority) = origin.strip_prefix("http://") else {
        return false;
    };
    let host = if authority.starts_with('[') {
        authority.split_inclusive(']').next().unwrap_or("")
    } else {
        authority.split(':').next().unwrap_or("")
    };
    is_loopback_host(host)
}

/// `ISSUER`: an `https` origin (or `http` on loopback), with no path, query or fragment.
fn check_origin(origin: &str) -> Result<(), ConfigError> {
    let authority = origin.split_once("://").map_or("", |(_, rest)| rest);
    let valid = (origin.starts_with("https://") || is_loopback_http(origin))
        && !authority.is_empty()
        && !authority.contains(['/', '?', '#', ' ', '@']);
    if valid {
        Ok(())
    } else {
        fail("ISSUER must be an https origin such as https://auth.example.com (or http on loopback), without path, query, fragment or trailing slash")
    }
}

/// An absolute path of non-empty segments of URL path characters, without query or fragment.
fn is_path(path: &str) -> bool {
    path.strip_prefix('/').is_some_and(|rest| {
        rest.split('/').all(|segment| {
            !segment.is_empty()
                && segment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@%".contains(&b))
        })
    })
}

/// Whether `name` can name a tenant: 1–32 of `a-z`, `0-9`, `-`, not starting with `-` (it
/// prefixes KV keys and object names, so it never holds a `:`).
pub fn is_tenant_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    (1..=32).contains(&bytes.len())
        && bytes[0].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn is_binding_name(name: &str) -> bool {
    name.bytes().next().is_some_and(|b| b.is_ascii_uppercase())
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

impl Tenants {
    /// Validates `TENANTS` (JSON text of an object: tenant name → settings) under the origin
    /// `ISSUER`. Every problem is reported with the tenant and field at fault.
    pub fn new(origin: &str, tenants: &str) -> Result<Self, ConfigError> {
        check_origin(origin)?;
        let raw: std::collections::BTreeMap<String, RawTenant> =
            crate::core::json::parse(tenants.as_bytes()).map_err(|e| {
                ConfigError(format!(
                    "TENANTS must map tenant names to their settings: {e}"
                ))
            })?;
        if raw.is_empty() || raw.len() > MAX_TENANTS {
            return fail(format!("TENANTS must declare 1 to {MAX_TENANTS} tenants"));
        }
        let mut out = Self {
            tenants: Vec::with_capacity(raw.len()),
            routes: HashMap::new(),
        };
        for (name, raw) in raw {
            let tenant = Self::tenant(origin, name, raw)?;
            let index = out.tenants.len();
            let paths = tenant
                .token_paths
                .iter()
                .map(|p| (p, Endpoint::Token))
                .chain([
                    (&tenant.jwks_path, Endpoint::Jwks),
                    (&tenant.metadata_path, Endpoint::Metadata),
                    (&tenant.introspect_path, Endpoint::Introspect),
                    (&tenant.revoke_path, Endpoint::Revoke),
                ]);
            for (path, endpoint) in paths {
                if let Some((other, _)) = out.routes.insert(path.clone(), (index, endpoint)) {
                    let other = if other == index {
                        "itself".to_owned()
                    } else {
                        format!("tenant {}", out.tenants[other].name)
                    };
                    return fail(format!(
                        "TENANTS.{}: the path {path} is also used by {other}",
                        tenant.name
                    ));
                }
            }
            out.tenants.push(tenant);
        }
        Ok(out)
    }

    fn tenant(origin: &str, name: String, raw: RawTenant) -> Result<Tenant, ConfigError> {
        let at = |field: &str, rule: &str| ConfigError(format!("TENANTS.{name}.{field} {rule}"));
        if !is_tenant_name(&name) {
            return fail(format!(
                "TENANTS: the tenant name {name:?} must be 1-32 of a-z, 0-9 and '-', starting with a letter or digit"
            ));
        }
        if !(raw.issuer_path.is_empty() || is_path(&raw.issuer_path)) {
            return Err(at(
                "issuer_path",
                "must be empty or an absolute path without trailing slash, query or fragment",
            ));
        }
        if raw.token_paths.is_empty()
            || raw.token_paths.len() > MAX_TOKEN_PATHS
            || !raw.token_paths.iter().all(|p| is_path(p))
        {
            return Err(at(
                "token_paths",
                &format!("must list 1 to {MAX_TOKEN_PATHS} absolute paths such as /oauth2/token"),
            ));
        }
        let policy = match raw.scope_policy.as_deref() {
            None | Some("strict") => ScopePolicy::Strict,
            Some("subset") => ScopePolicy::Subset,
            Some(_) => return Err(at("scope_policy", "must be \"strict\" or \"subset\"")),
        };
        let wildcard = match raw.scope_wildcard.as_deref() {
            None => None,
            Some(token) => Some(
                ScopeToken::parse(token)
                    .ok_or_else(|| at("scope_wildcard", "must be one scope token such as \"*\""))?,
            ),
        };
        let signing_keys = raw
            .signing_keys
            .unwrap_or_else(|| DEFAULT_SIGNING_KEYS.to_owned());
        if !is_binding_name(&signing_keys) {
            return Err(at(
                "signing_keys",
                "must name a Worker secret, in A-Z, 0-9 and '_'",
            ));
        }
        let rate_limit = raw.rate_limit.unwrap_or(DEFAULT_LIMIT);
        if !rate_limit.is_valid() {
            return Err(at(
                "rate_limit",
                &format!("needs per_minute and burst from 1 to {MAX_RATE}"),
            ));
        }
        if !raw.quota.is_none_or(Quota::is_valid) {
            return Err(at(
                "quota",
                &format!("needs per_hour or per_day, each from 1 to {MAX_QUOTA}"),
            ));
        }
        let invalid_client_status = raw.invalid_client_status.unwrap_or(401);
        if !matches!(invalid_client_status, 400 | 401) {
            return Err(at("invalid_client_status", "must be 400 or 401"));
        }
        let omitted = match raw.omitted_scope.as_deref() {
            None | Some("defaults") => OmittedScope::Defaults,
            Some("none") => OmittedScope::None,
            Some("error") => OmittedScope::Error,
            Some(_) => {
                return Err(at(
                    "omitted_scope",
                    "must be \"defaults\", \"none\" or \"error\"",
                ))
            }
        };
        let servers =
            resource_servers(raw.resource_servers).map_err(|e| at("resource_servers", &e))?;
        claims::check(&raw.claims).map_err(|e| at("claims", &e.0))?;
        let issuer = format!("{origin}{}", raw.issuer_path);
        let jwks_path = format!("{JWKS_PATH}{}", raw.issuer_path);
        let metadata_path = format!("{METADATA_PATH}{}", raw.issuer_path);
        let token_endpoint = format!("{origin}{}", raw.token_paths[0]);
        let jwks_uri = format!("{origin}{jwks_path}");
        let trusted_issuers = federation::trusted_issuers(raw.trusted_issuers, &issuer)
            .map_err(|e| at("trusted_issuers", &e))?;
        let federated = !trusted_issuers.is_empty();
        let metadata = metadata(&issuer, &token_endpoint, &jwks_uri, &servers, federated);
        Ok(Tenant {
            name,
            issuer,
            token_paths: raw.token_paths,
            token_endpoint,
            jwks_path,
            metadata_path,
            introspect_path: format!("{}{INTROSPECT_SUFFIX}", raw.issuer_path),
            revoke_path: format!("{}{REVOKE_SUFFIX}", raw.issuer_path),
            scope: ScopeRules {
                policy,
                wildcard,
                omitted,
            },
            signing_keys,
            rate_limit,
            quota: raw.quota,
            invalid_client_status,
            always_return_scope: raw.always_return_scope,
            resource_servers: servers,
            claims: raw.claims,
            trusted_issuers,
            dpop_nonce: raw.dpop_nonce,
            metadata,
        })
    }

    /// The tenant and endpoint at exactly this path.
    #[cfg(test)]
    fn route(&self, path: &str) -> Option<(usize, Endpoint)> {
        self.routes.get(path).copied()
    }

    /// The tenants, in name order (the index [`Tenants::route`] gives).
    #[cfg(test)]
    fn tenants(&self) -> &[Tenant] {
        &self.tenants
    }

    /// Takes the tenants out, in name order.
    pub fn into_tenants(self) -> (Vec<Tenant>, HashMap<String, (usize, Endpoint)>) {
        (self.tenants, self.routes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn one(settings: serde_json::Value) -> Result<Tenants, ConfigError> {
        Tenants::new(
            "https://a.example",
            &json!({ "main": settings }).to_string(),
        )
    }

    #[test]
    fn https_and_loopback_http_origins_are_accepted() {
        for origin in [
            "https://auth.example.com",
            "https://auth.example.com:8443",
            "http://127.0.0.1:8787",
            "http://localhost",
            "http://[::1]:8787",
        ] {
            let tenants = json!({ "main": { "token_paths": ["/oauth2/token"] } });
            assert!(
                Tenants::new(origin, &tenants.to_string()).is_ok(),
                "{origin}"
            );
        }
    }

    #[test]
    fn other_origins_are_refused() {
        for origin in [
            "",
            "auth.example.com",
            "http://auth.example.com",
            "http://127.0.0.1.evil.com",
            "http://127.0.0.1@evil.com",
            "https://",
            "https://auth.example.com/",
            "https://auth.example.com/tenant",
            "https://auth.example.com?x=1",
            "https://auth.example.com#f",
        ] {
            let tenants = json!({ "main": { "token_paths": ["/oauth2/token"] } });
            assert!(
                Tenants::new(origin, &tenants.to_string()).is_err(),
                "{origin}"
            );
        }
    }

    #[test]
    fn defaults_make_a_plain_rfc_tenant() {
        let tenants = one(json!({ "token_paths": ["/oauth2/token"] })).unwrap();
        let t = &tenants.tenants()[0];
        assert_eq!(t.issuer, "https://a.example");
        assert_eq!(t.scope.policy, ScopePolicy::Strict);
        assert_eq!(t.scope.wildcard, None);
        assert_eq!(t.signing_keys, "SIGNING_KEYS");
        assert_eq!(t.rate_limit, DEFAULT_LIMIT);
        assert_eq!(t.invalid_client_status, 401);
        assert!(!t.always_return_scope);
        assert_eq!(t.scope.omitted, OmittedScope::Defaults);
        assert!(t.resource_servers.is_empty() && t.claims.is_empty());
        assert!(!t.metadata_json().contains("scopes_supported"));
        assert_eq!(tenants.route("/oauth2/token"), Some((0, Endpoint::Token)));
        assert_eq!(
            tenants.route("/.well-known/jwks.json"),
            Some((0, Endpoint::Jwks))
        );
        assert_eq!(
            tenants.route("/.well-known/oauth-authorization-server"),
            Some((0, Endpoint::Metadata))
        );
        assert_eq!(
            tenants.route("/oauth2/introspect"),
            Some((0, Endpoint::Introspect))
        );
        assert_eq!(tenants.route("/oauth2/revoke"), Some((0, Endpoint::Revoke)));
    }

    #[test]
    fn introspection_and_revocation_follow_the_issuer_not_the_token_paths() {
        let tenants = one(json!({
            "issuer_path": "/acme",
            "token_paths": ["/oauth2/token", "/acme/access_token"],
        }))
        .unwrap();
        let t = &tenants.tenants()[0];
        assert_eq!(
            tenants.route("/acme/oauth2/introspect"),
            Some((0, Endpoint::Introspect))
        );
        assert_eq!(
            tenants.route("/acme/oauth2/revoke"),
            Some((0, Endpoint::Revoke))
        );
        assert_eq!(tenants.route("/oauth2/introspect"), None);
        let m: serde_json::Value = serde_json::from_str(t.metadata_json()).unwrap();
        assert_eq!(
            m["introspection_endpoint"],
            "https://a.example/acme/oauth2/introspect"
        );
        assert_eq!(
            m["revocation_endpoint"],
            "https://a.example/acme/oauth2/revoke"
        );
        for member in [
            "introspection_endpoint_auth_methods_supported",
            "revocation_endpoint_auth_methods_supported",
        ] {
            assert_eq!(m[member], m["token_endpoint_auth_methods_supported"]);
        }
        // A token path on the derived path is a configuration error.
        let clash = one(json!({ "token_paths": ["/oauth2/token", "/oauth2/revoke"] }));
        assert!(clash.unwrap_err().0.contains("/oauth2/revoke"));
    }

    #[test]
    fn resource_servers_claims_and_the_omitted_scope_rule_are_read() {
        let tenants = one(json!({
            "token_paths": ["/t"],
            "omitted_scope": "none",
            "claims": { "tenant_id": "acme" },
            "resource_servers": [
                { "identifier": "https://a", "scopes": ["a:read", "shared"] },
                { "identifier": "urn:b", "scopes": ["b:read", "shared"] },
            ],
        }))
        .unwrap();
        let t = &tenants.tenants()[0];
        assert_eq!(t.scope.omitted, OmittedScope::None);
        assert_eq!(t.claims["tenant_id"], "acme");
        assert_eq!(t.resource_servers[1].identifier, "urn:b");
        assert_eq!(
            t.resource_servers[1].scopes.to_scope_string(),
            "b:read shared"
        );
        let m: serde_json::Value = serde_json::from_str(t.metadata_json()).unwrap();
        assert_eq!(m["scopes_supported"], json!(["a:read", "shared", "b:read"]));
        let error = one(json!({ "token_paths": ["/t"], "omitted_scope": "error" })).unwrap();
        assert_eq!(error.tenants()[0].scope.omitted, OmittedScope::Error);
    }

    #[test]
    fn routing_is_exact() {
        let tenants = one(json!({ "token_paths": ["/oAuth/rest/v2/Token"] })).unwrap();
        assert!(tenants.route("/oAuth/rest/v2/Token").is_some());
        for near in [
            "/oauth/rest/v2/token",
            "/oAuth/rest/v2/Token/",
            "/oAuth/rest/v2//Token",
            "/oAuth/rest/v2",
        ] {
            assert_eq!(tenants.route(near), None, "{near}");
        }
    }

    #[test]
    fn an_issuer_path_moves_the_issuer_and_the_documents() {
        let tenants = Tenants::new(
            "https://a.example",
            &json!({
                "acme": { "issuer_path": "/acme/default", "token_paths": ["/acme/default/oauth2/token"] },
                "root": { "token_paths": ["/oauth2/token"] },
            })
            .to_string(),
        )
        .unwrap();
        let (index, endpoint) = tenants
            .route("/.well-known/oauth-authorization-server/acme/default")
            .unwrap();
        assert_eq!(endpoint, Endpoint::Metadata);
        let acme = &tenants.tenants()[index];
        assert_eq!(acme.name, "acme");
        let m: serde_json::Value = serde_json::from_str(acme.metadata_json()).unwrap();
        assert_eq!(m["issuer"], "https://a.example/acme/default");
        assert_eq!(
            m["token_endpoint"],
            "https://a.example/acme/default/oauth2/token"
        );
        assert_eq!(
            m["jwks_uri"],
            "https://a.example/.well-known/jwks.json/acme/default"
        );
        assert_eq!(
            m["token_endpoint_auth_methods_supported"],
            json!([
                "client_secret_basic",
                "client_secret_post",
                "private_key_jwt",
                "tls_client_auth",
                "self_signed_tls_client_auth"
            ])
        );
        assert_eq!(m["tls_client_certificate_bound_access_tokens"], true);
        assert_eq!(
            m["token_endpoint_auth_signing_alg_values_supported"],
            json!(["EdDSA", "ES256", "RS256", "PS256"])
        );
        assert_eq!(m["grant_types_supported"], json!(["client_credentials"]));
        assert!(m["response_types_supported"].is_array());
    }

    #[test]
    fn a_path_used_twice_is_refused_with_both_tenants_named() {
        let error = Tenants::new(
            "https://a.example",
            &json!({
                "a": { "token_paths": ["/oauth2/token"] },
                "b": { "issuer_path": "/b", "token_paths": ["/oauth2/token"] },
            })
            .to_string(),
        )
        .unwrap_err();
        assert!(error.0.contains("TENANTS.b"), "{error}");
        assert!(error.0.contains("tenant a"), "{error}");
        // Two tenants with the same issuer path would share their documents' paths.
        let same_issuer = Tenants::new(
            "https://a.example",
            &json!({
                "a": { "token_paths": ["/a/token"] },
                "b": { "token_paths": ["/b/token"] },
            })
            .to_string(),
        );
        assert!(same_issuer.is_err());
    }

    #[test]
    fn each_bad_field_is_named() {
        let cases = [
            (json!({ "token_paths": [] }), "token_paths"),
            (json!({ "token_paths": ["oauth2/token"] }), "token_paths"),
            (json!({ "token_paths": ["/oauth2/token?x"] }), "token_paths"),
            (json!({ "token_paths": ["/oauth2/token/"] }), "token_paths"),
            (
                json!({ "token_paths": ["/t"], "issuer_path": "/x/" }),
                "issuer_path",
            ),
            (
                json!({ "token_paths": ["/t"], "scope_policy": "loose" }),
                "scope_policy",
            ),
            (
                json!({ "token_paths": ["/t"], "scope_wildcard": "a b" }),
                "scope_wildcard",
            ),
            (
                json!({ "token_paths": ["/t"], "signing_keys": "keys" }),
                "signing_keys",
            ),
            (
                json!({ "token_paths": ["/t"], "rate_limit": { "per_minute": 0, "burst": 1 } }),
                "rate_limit",
            ),
            (
                json!({ "token_paths": ["/t"], "invalid_client_status": 403 }),
                "invalid_client_status",
            ),
            (
                json!({ "token_paths": ["/t"], "omitted_scope": "all" }),
                "omitted_scope",
            ),
            (
                json!({ "token_paths": ["/t"], "claims": { "aud": "x" } }),
                "claims",
            ),
            (
                json!({ "token_paths": ["/t"], "claims": { "big": "x".repeat(4096) } }),
                "claims",
            ),
            (
                json!({ "token_paths": ["/t"], "resource_servers": [{ "identifier": "a b" }] }),
                "resource_servers",
            ),
            (
                json!({ "token_paths": ["/t"], "resource_servers": [
                    { "identifier": "https://a" }, { "identifier": "https://a" }] }),
                "resource_servers",
            ),
            (
                json!({ "token_paths": ["/t"], "resource_servers": [
                    { "identifier": "https://a", "scopes": ["a b"] }] }),
                "resource_servers",
            ),
        ];
        for (settings, field) in cases {
            let error = one(settings.clone()).unwrap_err();
            assert!(
                error.0.contains(&format!("TENANTS.main.{field}")),
                "{settings}: {error}"
            );
        }
    }

    #[test]
    fn unknown_fields_names_and_empty_sets_are_refused() {
        assert!(one(json!({ "token_paths": ["/t"], "token_path": "/t" })).is_err());
        assert!(Tenants::new("https://a.example", "{}").is_err());
        assert!(Tenants::new("https://a.example", "[]").is_err());
        assert!(Tenants::new("https://a.example", "not json").is_err());
        for name in ["", "Main", "-a", "a_b", "a:b", &"a".repeat(33)] {
            let tenants = json!({ name: { "token_paths": ["/t"] } });
            assert!(
                Tenants::new("https://a.example", &tenants.to_string()).is_err(),
                "{name}"
            );
        }
    }
}
