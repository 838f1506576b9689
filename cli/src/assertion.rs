//! `client assertion`, and the public half of a `--jwks` file: what a `private_key_jwt` client
//! (RFC 7523) needs to be tried from the command line.

use std::{
    future::Future,
    path::Path,
    pin::pin,
    task::{Context, Poll, Waker},
};

use base64ct::{Base64UrlUnpadded, Encoding};
use edge_token::core::{
    assertion::MAX_LIFETIME_S,
    keys::KeySet,
    sign::{NativeSigner, SignError},
};
use serde_json::{json, Value};

use crate::failure::{Failure, Outcome};

fn read(path: &Path) -> Result<String, Failure> {
    std::fs::read_to_string(path)
        .map_err(|e| Failure::new(format!("cannot read {}: {e}", path.display())))
}

/// The JWK Set of `path` to register: of a private Ed25519 set (`keys generate`), its public
/// keys, each with its RFC 7638 thumbprint as `kid` (what `client assertion` names); of any
/// other set, the set as it is (the admin API refuses private members).
pub fn public_jwks(path: &Path) -> Result<Value, Failure> {
    let text = read(path)?;
    if let Ok(keys) = KeySet::from_jwk_set(&text) {
        return serde_json::from_str(keys.jwks_json())
            .map_err(|_| Failure::new("the public keys could not be written"));
    }
    let set: Value = serde_json::from_str(&text)
        .map_err(|_| Failure::usage(format!("{} is not a JSON JWK Set", path.display())))?;
    Ok(set)
}

/// Whether `path` is a private Ed25519 JWK Set (`keys generate`), which `client assertion
/// --key` can sign with.
pub fn is_private_key_file(path: &Path) -> bool {
    read(path).is_ok_and(|text| KeySet::from_jwk_set(&text).is_ok())
}

/// Runs a future that never waits (the native signer).
fn ready<F: Future>(future: F) -> Option<F::Output> {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => Some(output),
        Poll::Pending => None,
    }
}

/// The claims of a test assertion for `client` to `audience`, made at `now`, living `ttl` s.
fn claims(client: &str, audience: &str, now: u64, ttl: u64, jti: &[u8]) -> Value {
    json!({
        "iss": client, "sub": client, "aud": audience,
        "iat": now, "exp": now + ttl, "jti": Base64UrlUnpadded::encode_string(jti),
    })
}

/// Prints an assertion for `client`, signed with the first key of the private JWK Set `key`.
pub fn print(key: &Path, client: &str, audience: &str, ttl: u64, now: u64, json: bool) -> Outcome {
    if !(1..=MAX_LIFETIME_S).contains(&ttl) {
        return Err(Failure::usage(format!(
            "--ttl must be 1 to {MAX_LIFETIME_S} seconds"
        )));
    }
    let keys = KeySet::from_jwk_set(&read(key)?).map_err(|_| {
        Failure::usage(format!(
            "{} must be a JWK Set of Ed25519 private keys, as `keys generate --out FILE` writes",
            key.display()
        ))
    })?;
    let mut jti = [0_u8; 16];
    getrandom::fill(&mut jti).map_err(|e| Failure::new(format!("no randomness: {e}")))?;
    let signed = ready(keys.sign(
        &NativeSigner,
        "JWT",
        claims(client, audience, now, ttl, &jti),
    ));
    let assertion = signed
        .and_then(|r: Result<String, SignError>| r.ok())
        .ok_or_else(|| Failure::new("the key could not sign"))?;
    if json {
        println!("{}", json!({ "client_assertion": assertion }));
    } else {
        println!("{assertion}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_test_assertion_carries_the_rfc_7523_claims() {
        let c = claims("svc", "https://issuer", 1_000, 60, &[0; 16]);
        assert_eq!(c["iss"], "svc");
        assert_eq!(c["sub"], "svc");
        assert_eq!(c["aud"], "https://issuer");
        assert_eq!(c["exp"], 1_060);
        assert_eq!(c["jti"].as_str().map(str::len), Some(22));
    }
}
