//! `token verify`: decode a token and check it against a running endpoint's JWKS.

use std::{io::Read, time::Duration};

use base64ct::{Base64UrlUnpadded, Encoding};
use jwt_compact::{alg::Ed25519, jwk::JsonWebKey, AlgorithmExt, UntrustedToken};
use serde_json::{json, Value};

use crate::{output, Failure};

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The path of an issuer URL (`""` for an origin): where its tenant's documents are inserted
/// (docs/tenants.md).
fn issuer_path(iss: &str) -> &str {
    let rest = iss.split_once("://").map_or(iss, |(_, rest)| rest);
    rest.find('/')
        .map_or("", |at| rest[at..].trim_end_matches('/'))
}

/// The JWKS of the tenant that issued a token with this `iss`, from the endpoint at `url`.
fn fetch_jwks(url: &str, iss: &str) -> Result<Value, Failure> {
    let jwks_url = format!(
        "{}/.well-known/jwks.json{}",
        url.trim_end_matches('/'),
        issuer_path(iss)
    );
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let mut response = agent
        .get(&jwks_url)
        .call()
        .map_err(|e| Failure::new(format!("could not fetch {jwks_url}: {e}")))?;
    let text = response
        .body_mut()
        .read_to_string()
        .map_err(|e| Failure::new(format!("unreadable JWKS: {e}")))?;
    serde_json::from_str(&text).map_err(|_| Failure::new(format!("{jwks_url} is not JSON")))
}

/// Decodes `token` (or standard input), verifies its signature with the key its `kid` names
/// in the JWKS that `url` serves for the token's tenant (found from its `iss`), and checks `exp`, and `iss` / `aud` when asked.
pub fn verify(
    token: Option<String>,
    url: &str,
    issuer: Option<&str>,
    audience: Option<&str>,
    json_out: bool,
) -> Result<(), Failure> {
    let token = match token.filter(|t| t != "-") {
        Some(token) => token,
        None => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| Failure::new(format!("cannot read the token from stdin: {e}")))?;
            text
        }
    };
    let untrusted =
        UntrustedToken::new(token.trim()).map_err(|e| Failure::new(format!("not a JWT: {e}")))?;
    let header = untrusted.header();
    let kid = header.key_id.clone().unwrap_or_default();
    // The payload as sent (jwt-compact's claims type takes `exp` and `iat` apart).
    let claims: Value = token
        .trim()
        .split('.')
        .nth(1)
        .and_then(|p| Base64UrlUnpadded::decode_vec(p).ok())
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| Failure::new("the token's payload is not base64url JSON"))?;
    let header_json = json!({
        "alg": untrusted.algorithm(),
        "typ": header.token_type,
        "kid": header.key_id,
    });

    let mut problems: Vec<String> = Vec::new();
    let jwks = fetch_jwks(url, claims["iss"].as_str().unwrap_or_default())?;
    let key = jwks["keys"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|k| k["kid"] == kid.as_str());
    match key {
        None => problems.push(format!("no key {kid:?} in the JWKS of {url}")),
        Some(key) if untrusted.algorithm() != "EdDSA" => {
            let _ = key;
            problems.push(format!("unexpected alg {}", untrusted.algorithm()));
        }
        Some(key) => {
            let public = serde_json::from_value::<JsonWebKey<'_>>(key.clone())
                .ok()
                .and_then(|jwk| ed25519_compact::PublicKey::try_from(&jwk).ok());
            match public {
                None => problems.push(format!("key {kid:?} of the JWKS is not an Ed25519 key")),
                Some(public) => {
                    if Ed25519
                        .validator::<Value>(&public)
                        .validate(&untrusted)
                        .is_err()
                    {
                        problems.push("the signature does not verify".into());
                    }
                }
            }
        }
    }
    let exp = claims["exp"].as_u64();
    match exp {
        Some(exp) if exp <= now() => problems.push(format!("expired at {}", output::time(exp))),
        None => problems.push("no exp claim".into()),
        Some(_) => {}
    }
    if let Some(iss) = issuer.filter(|i| claims["iss"] != *i) {
        problems.push(format!("iss is not {iss:?}"));
    }
    if let Some(aud) = audience {
        let ok = claims["aud"] == aud
            || claims["aud"]
                .as_array()
                .is_some_and(|a| a.iter().any(|v| v == aud));
        if !ok {
            problems.push(format!("aud does not contain {aud:?}"));
        }
    }

    let valid = problems.is_empty();
    if json_out {
        output::value(&json!({
            "valid": valid,
            "problems": problems,
            "header": header_json,
            "claims": claims,
        }));
    } else {
        println!("header  {header_json}");
        println!(
            "claims  {}",
            serde_json::to_string_pretty(&claims).unwrap_or_default()
        );
        if valid {
            println!(
                "VALID: signed by {kid}, expires {}",
                output::time(exp.unwrap_or(0))
            );
        }
    }
    if valid {
        Ok(())
    } else {
        Err(Failure::new(format!("INVALID: {}", problems.join("; "))))
    }
}

#[cfg(test)]
mod tests {
    use super::issuer_path;

    #[test]
    fn a_tenant_is_found_from_the_issuer_path() {
        assert_eq!(issuer_path("https://auth.example.com"), "");
        assert_eq!(
            issuer_path("https://auth.example.com/acme/default"),
            "/acme/default"
        );
        assert_eq!(issuer_path("http://127.0.0.1:8787/a/"), "/a");
        assert_eq!(issuer_path(""), "");
    }
}
