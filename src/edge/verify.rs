//! Client assertions' signatures checked by the runtime's WebCrypto (`crypto.subtle.verify`):
//! the Worker's [`Verifier`], on the same type as its signer ([`WebCryptoSigner`]).
//!
//! BoringSSL verifies EdDSA, ES256, RS256 and PS256 in native code; the wasm carries no curve
//! or RSA code. A client's public key is imported from its public JWK once per isolate and
//! kept (bounded) for its later assertions.

use std::cell::RefCell;

use wasm_bindgen::{prelude::wasm_bindgen, JsValue};
use worker::{
    js_sys::{Array, Promise, JSON},
    wasm_bindgen_futures::JsFuture,
};

use super::sign::{subtle_verify, WebCryptoSigner};
use crate::core::jwk::{Alg, PublicKey, Verifier, VerifyError};

/// Imported public keys an isolate keeps; past this, the cache starts again.
const MAX_IMPORTED: usize = 256;

#[wasm_bindgen]
extern "C" {
    /// `crypto.subtle.importKey("jwk", jwk, algorithm, extractable, usages)`.
    #[wasm_bindgen(js_namespace = ["crypto", "subtle"], js_name = importKey, catch)]
    fn import_jwk(
        format: &str,
        jwk: &JsValue,
        algorithm: &JsValue,
        extractable: bool,
        usages: &Array,
    ) -> Result<Promise, JsValue>;
}

thread_local! {
    /// Public keys imported by this isolate: (algorithm and JWK, the CryptoKey).
    static IMPORTED: RefCell<Vec<(String, JsValue)>> = const { RefCell::new(Vec::new()) };
}

/// WebCrypto's import and verify parameters of `alg`, as JSON.
fn parameters(alg: Alg) -> (&'static str, &'static str) {
    match alg {
        Alg::EdDSA => (r#""Ed25519""#, r#""Ed25519""#),
        Alg::ES256 => (
            r#"{"name":"ECDSA","namedCurve":"P-256"}"#,
            r#"{"name":"ECDSA","hash":"SHA-256"}"#,
        ),
        Alg::RS256 => (
            r#"{"name":"RSASSA-PKCS1-v1_5","hash":"SHA-256"}"#,
            r#""RSASSA-PKCS1-v1_5""#,
        ),
        Alg::PS256 => (
            r#"{"name":"RSA-PSS","hash":"SHA-256"}"#,
            r#"{"name":"RSA-PSS","saltLength":32}"#,
        ),
    }
}

impl Verifier for WebCryptoSigner {
    async fn verify(
        &self,
        key: &PublicKey,
        input: &[u8],
        signature: &[u8],
    ) -> Result<bool, VerifyError> {
        let (_, verify) = parameters(key.alg);
        let algorithm = JSON::parse(verify).map_err(|_| VerifyError)?;
        let crypto_key = imported(key).await.map_err(|_| VerifyError)?;
        let promise =
            subtle_verify(&algorithm, &crypto_key, signature, input).map_err(|_| VerifyError)?;
        // A signature of the wrong length or shape is a rejection, not a fault.
        Ok(JsFuture::from(promise).await.ok().and_then(|v| v.as_bool()) == Some(true))
    }
}

/// The CryptoKey of `key`: from the isolate's cache, else imported and kept.
async fn imported(key: &PublicKey) -> Result<JsValue, JsValue> {
    let name = format!("{}:{}", key.alg.name(), key.jwk);
    let cached = IMPORTED.with(|keys| {
        let keys = keys.borrow();
        keys.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, k)| k.clone())
    });
    if let Some(found) = cached {
        return Ok(found);
    }
    let (import, _) = parameters(key.alg);
    let promise = import_jwk(
        "jwk",
        &JSON::parse(&key.jwk)?,
        &JSON::parse(import)?,
        false,
        &Array::of1(&JsValue::from_str("verify")),
    )?;
    let crypto_key = JsFuture::from(promise).await?;
    IMPORTED.with(|keys| {
        let mut keys = keys.borrow_mut();
        if keys.len() >= MAX_IMPORTED {
            keys.clear();
        }
        keys.push((name, crypto_key.clone()));
    });
    Ok(crypto_key)
}
