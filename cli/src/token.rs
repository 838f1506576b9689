//! `token verify`: decode a token and check it against a running endpoint's JWKS. The JWKS is
//! fetched only over https or from loopback (the same [`Endpoint`] rules as the admin API).

use std::io::Read;

use base64ct::{Base64UrlUnpadded, Encoding};
use jwt_compact::{alg::Ed25519, jwk::JsonWebKey, AlgorithmExt, UntrustedToken};
use serde_json::{json, Value};

use crate::{
    args::Verify,
    endpoint::Endpoint,
    failure::{Failure, Outcome},
    output,
    text::time,
};

/// The token: the argument, or standard input when it is absent or `-`; never empty.
fn read_token(argument: Option<String>, stdin: impl Read) -> Result<String, Failure> {
    let text = match argument.filter(|t| t != "-") {
        Some(token) => token,
        None => {
            let mut text = String::new();
            stdin
                .take(64 * 1024)
                .read_to_string(&mut text)
                .map_err(|e| Failure::new(format!("cannot read the token from stdin: {e}")))?;
            text
        }
    };
    let token = text.trim().to_owned();
    if token.is_empty() {
        return Err(Failure::usage(
            "no token given: pass it as an argument, or on standard input (token verify < token.txt)",
        ));
    }
    Ok(token)
}

/// The path of an issuer URL (`""` for an origin): where its tenant's documents are inserted
/// (docs/tenants.md).
fn issuer_path(iss: &str) -> &str {
    let rest = iss.split_once("://").map_or(iss, |(_, rest)| rest);
    rest.find('/')
        .map_or("", |at| rest[at..].trim_end_matches('/'))
}

/// The payload as sent (jwt-compact's claims type takes `exp` and `iat` apart).
fn claims_of(token: &str) -> Result<Value, Failure> {
    token
        .split('.')
        .nth(1)
        .and_then(|p| Base64UrlUnpadded::decode_vec(p).ok())
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| Failure::coded("invalid_token", "the token's payload is not base64url JSON"))
}

/// The JWKS of the tenant that issued a token with this `iss`.
fn fetch_jwks(endpoint: &Endpoint, iss: &str) -> Result<Value, Failure> {
    let path = format!("/.well-known/jwks.json{}", issuer_path(iss));
    let answer = endpoint.send("GET", &path, &[], None)?;
    if (300..400).contains(&answer.status) {
        return Err(endpoint.redirected(&answer));
    }
    serde_json::from_str(&answer.text).map_err(|_| {
        Failure::new(format!(
            "{}{path} answered {} without a JSON JWKS",
            endpoint.origin(),
            answer.status
        ))
    })
}

/// What is wrong with the signature: the key `kid` names in `jwks` must be Ed25519 and verify it.
fn signature_problem(
    untrusted: &UntrustedToken<'_>,
    kid: &str,
    jwks: &Value,
    origin: &str,
) -> Option<String> {
    let key = jwks["keys"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|k| k["kid"] == kid);
    let Some(key) = key else {
        return Some(format!("no key {kid:?} in the JWKS of {origin}"));
    };
    if untrusted.algorithm() != "EdDSA" {
        return Some(format!("unexpected alg {}", untrusted.algorithm()));
    }
    let public = serde_json::from_value::<JsonWebKey<'_>>(key.clone())
        .ok()
        .and_then(|jwk| ed25519_compact::PublicKey::try_from(&jwk).ok());
    let Some(public) = public else {
        return Some(format!("key {kid:?} of the JWKS is not an Ed25519 key"));
    };
    let verified = Ed25519.validator::<Value>(&public).validate(untrusted);
    verified
        .is_err()
        .then(|| "the signature does not verify".to_owned())
}

/// What is wrong with the claims at `now`: `exp` missing or past, and `iss` / `aud` when asked.
fn claim_problems(
    claims: &Value,
    now: u64,
    issuer: Option<&str>,
    audience: Option<&str>,
) -> Vec<String> {
    let mut problems = Vec::new();
    match claims["exp"].as_u64() {
        Some(exp) if exp <= now => problems.push(format!("expired at {}", time(exp))),
        None => problems.push("no exp claim".into()),
        Some(_) => {}
    }
    if let Some(iss) = issuer.filter(|i| claims["iss"] != *i) {
        problems.push(format!("iss is not {iss:?}"));
    }
    if let Some(aud) = audience {
        let found = claims["aud"] == aud
            || claims["aud"]
                .as_array()
                .is_some_and(|a| a.iter().any(|v| v == aud));
        if !found {
            problems.push(format!("aud does not contain {aud:?}"));
        }
    }
    problems
}

/// Decodes the token, verifies its signature with the key its `kid` names in the JWKS that
/// `--url` serves for the token's tenant (found from its `iss`), and checks its claims.
pub fn verify(args: Verify, json: bool, now: u64) -> Outcome {
    let endpoint = Endpoint::parse(&args.url)?;
    let token = read_token(args.token, std::io::stdin())?;
    let untrusted = UntrustedToken::new(&token)
        .map_err(|e| Failure::coded("invalid_token", format!("not a JWT: {e}")))?;
    let claims = claims_of(&token)?;
    let header = untrusted.header();
    let kid = header.key_id.clone().unwrap_or_default();
    let header_json =
        json!({ "alg": untrusted.algorithm(), "typ": header.token_type, "kid": header.key_id });
    let jwks = fetch_jwks(&endpoint, claims["iss"].as_str().unwrap_or_default())?;
    let mut problems: Vec<String> = signature_problem(&untrusted, &kid, &jwks, endpoint.origin())
        .into_iter()
        .collect();
    problems.extend(claim_problems(
        &claims,
        now,
        args.issuer.as_deref(),
        args.audience.as_deref(),
    ));
    output::verified(&header_json, &claims, &problems, &kid, json);
    if problems.is_empty() {
        Ok(())
    } else {
        let message = format!("INVALID: {}", problems.join("; "));
        Err(Failure::coded("invalid_token", message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn empty_input_is_no_token_given() {
        for input in ["", "  \n"] {
            let failure = read_token(None, input.as_bytes()).unwrap_err();
            assert!(failure.message.starts_with("no token given"), "{input:?}");
            assert_eq!(failure.code, 2);
        }
        assert_eq!(
            read_token(Some("-".into()), " a.b.c\n".as_bytes()).unwrap(),
            "a.b.c"
        );
        assert_eq!(
            read_token(Some("x.y.z".into()), "".as_bytes()).unwrap(),
            "x.y.z"
        );
    }

    #[test]
    fn claims_are_checked_for_expiry_issuer_and_audience() {
        let claims = json!({ "exp": 100, "iss": "https://a", "aud": ["x", "y"] });
        assert!(claim_problems(&claims, 99, Some("https://a"), Some("y")).is_empty());
        let late = claim_problems(&claims, 100, Some("https://b"), Some("z"));
        assert_eq!(late.len(), 3, "{late:?}");
        assert!(late[0].starts_with("expired at 1970-01-01 00:01:40 UTC"));
        assert_eq!(claim_problems(&json!({}), 0, None, None), ["no exp claim"]);
        assert!(claim_problems(&json!({ "exp": 9, "aud": "z" }), 0, None, Some("z")).is_empty());
    }
}
