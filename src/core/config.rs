//! The deployment's configuration, validated once: issuer, token path, and the RFC 8414
//! metadata derived from them.

use std::fmt;

/// Where the JWKS is served, under the issuer.
pub const JWKS_PATH: &str = "/.well-known/jwks.json";
/// Where the RFC 8414 metadata is served, under the issuer.
pub const METADATA_PATH: &str = "/.well-known/oauth-authorization-server";

/// A configuration value that cannot be used; names the var, never a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub &'static str);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// Validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    issuer: String,
    token_path: String,
    metadata: String,
}

fn is_loopback_http(issuer: &str) -> bool {
    let Some(rest) = issuer.strip_prefix("http://") else {
        return false;
    };
    let authority = rest.split('/').next().unwrap_or("");
    let host = if authority.starts_with('[') {
        authority.split_inclusive(']').next().unwrap_or("")
    } else {
        authority.split(':').next().unwrap_or("")
    };
    matches!(host, "127.0.0.1" | "localhost" | "[::1]")
}

impl Config {
    /// Validates `ISSUER` (an `https` URL, or `http` on loopback; no query, fragment or
    /// trailing slash) and `TOKEN_PATH` (an absolute path).
    pub fn new(issuer: &str, token_path: &str) -> Result<Self, ConfigError> {
        let scheme_ok = issuer.starts_with("https://") || is_loopback_http(issuer);
        let host_ok = issuer
            .split("://")
            .nth(1)
            .is_some_and(|rest| !rest.is_empty());
        if !scheme_ok || !host_ok || issuer.ends_with('/') || issuer.contains(['?', '#', ' ']) {
            return Err(ConfigError(
                "ISSUER must be an https URL (or http on loopback) without query, fragment or trailing slash",
            ));
        }
        if !token_path.starts_with('/') || token_path.contains(['?', '#', ' ']) {
            return Err(ConfigError(
                "TOKEN_PATH must be an absolute path such as /oauth2/token",
            ));
        }
        let metadata = serde_json::json!({
            "issuer": issuer,
            "token_endpoint": format!("{issuer}{token_path}"),
            "jwks_uri": format!("{issuer}{JWKS_PATH}"),
            "grant_types_supported": ["client_credentials"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            // RFC 8414 requires the member; there is no authorization endpoint, so no type.
            "response_types_supported": [],
        })
        .to_string();
        Ok(Self {
            issuer: issuer.to_owned(),
            token_path: token_path.to_owned(),
            metadata,
        })
    }

    /// The `iss` of every token.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The path of the token endpoint.
    pub fn token_path(&self) -> &str {
        &self.token_path
    }

    /// The RFC 8414 metadata document, ready to serve.
    pub fn metadata_json(&self) -> &str {
        &self.metadata
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_and_loopback_http_issuers_are_accepted() {
        for issuer in [
            "https://auth.example.com",
            "https://auth.example.com/tenant",
            "http://127.0.0.1:8787",
            "http://localhost",
            "http://[::1]:8787",
        ] {
            assert!(Config::new(issuer, "/oauth2/token").is_ok(), "{issuer}");
        }
    }

    #[test]
    fn other_issuers_are_refused() {
        for issuer in [
            "",
            "auth.example.com",
            "http://auth.example.com",
            "http://127.0.0.1.evil.com",
            "http://127.0.0.1@evil.com",
            "https://",
            "https://auth.example.com/",
            "https://auth.example.com?x=1",
            "https://auth.example.com#f",
        ] {
            assert!(Config::new(issuer, "/oauth2/token").is_err(), "{issuer}");
        }
    }

    #[test]
    fn the_token_path_must_be_absolute() {
        assert!(Config::new("https://a.example", "oauth2/token").is_err());
        assert!(Config::new("https://a.example", "/t?x").is_err());
    }

    #[test]
    fn the_metadata_follows_rfc_8414() {
        let config = Config::new("https://a.example", "/oauth2/token").unwrap();
        let m: serde_json::Value = serde_json::from_str(config.metadata_json()).unwrap();
        assert_eq!(m["issuer"], "https://a.example");
        assert_eq!(m["token_endpoint"], "https://a.example/oauth2/token");
        assert_eq!(m["jwks_uri"], "https://a.example/.well-known/jwks.json");
        assert_eq!(
            m["grant_types_supported"],
            serde_json::json!(["client_credentials"])
        );
        assert_eq!(
            m["token_endpoint_auth_methods_supported"],
            serde_json::json!(["client_secret_basic", "client_secret_post"])
        );
        assert!(m["response_types_supported"].is_array());
    }
}
