//! The runtime's WebCrypto (`crypto.subtle`), which does the curve arithmetic and hashing in
//! native code, so that the wasm carries none: key import, signature verification, SHA-256.

use wasm_bindgen::{prelude::wasm_bindgen, JsValue};
use worker::{
    js_sys::{Array, Promise, Uint8Array, JSON},
    wasm_bindgen_futures::JsFuture,
};

#[wasm_bindgen]
extern "C" {
    /// `crypto.subtle.importKey("jwk", jwk, algorithm, extractable, usages)`.
    #[wasm_bindgen(js_namespace = ["crypto", "subtle"], js_name = importKey, catch)]
    fn import_key(
        format: &str,
        jwk: &JsValue,
        algorithm: &JsValue,
        extractable: bool,
        usages: &Array,
    ) -> Result<Promise, JsValue>;

    /// `crypto.subtle.verify(algorithm, key, signature, data)`.
    #[wasm_bindgen(js_namespace = ["crypto", "subtle"], js_name = verify, catch)]
    fn subtle_verify(
        algorithm: &JsValue,
        key: &JsValue,
        signature: &[u8],
        data: &[u8],
    ) -> Result<Promise, JsValue>;

    /// `crypto.subtle.digest(algorithm, data)`.
    #[wasm_bindgen(js_namespace = ["crypto", "subtle"], js_name = digest, catch)]
    fn subtle_digest(algorithm: &str, data: &[u8]) -> Result<Promise, JsValue>;
}

/// A signature algorithm as WebCrypto names it for import and for verification.
#[derive(Clone, Copy)]
pub(crate) enum Algorithm {
    /// Ed25519 (JOSE `EdDSA`).
    Ed25519,
    /// ECDSA on P-256 with SHA-256 (JOSE `ES256`; the signature is r ‖ s, as JOSE has it).
    Es256,
}

impl Algorithm {
    /// The algorithm object for `importKey`.
    fn for_import(self) -> Result<JsValue, JsValue> {
        match self {
            Algorithm::Ed25519 => Ok(JsValue::from_str("Ed25519")),
            Algorithm::Es256 => JSON::parse(r#"{"name":"ECDSA","namedCurve":"P-256"}"#),
        }
    }

    /// The algorithm object for `verify`.
    fn for_verify(self) -> Result<JsValue, JsValue> {
        match self {
            Algorithm::Ed25519 => Ok(JsValue::from_str("Ed25519")),
            Algorithm::Es256 => JSON::parse(r#"{"name":"ECDSA","hash":"SHA-256"}"#),
        }
    }
}

/// The CryptoKey, for verification, of a public JWK given as JSON text.
pub(crate) async fn public_key(jwk: &str, algorithm: Algorithm) -> Result<JsValue, JsValue> {
    let promise = import_key(
        "jwk",
        &JSON::parse(jwk)?,
        &algorithm.for_import()?,
        false,
        &Array::of1(&JsValue::from_str("verify")),
    )?;
    JsFuture::from(promise).await
}

/// Whether `signature` over `data` is good under `key`. A signature of the wrong length is a
/// rejection (the promise rejects), not a fault.
pub(crate) async fn verify(
    algorithm: Algorithm,
    key: &JsValue,
    signature: &[u8],
    data: &[u8],
) -> bool {
    let Ok(promise) = algorithm
        .for_verify()
        .and_then(|a| subtle_verify(&a, key, signature, data))
    else {
        return false;
    };
    JsFuture::from(promise).await.ok().and_then(|v| v.as_bool()) == Some(true)
}

/// SHA-256 of `data`.
pub(crate) async fn sha256(data: &[u8]) -> Result<Vec<u8>, JsValue> {
    let digest = JsFuture::from(subtle_digest("SHA-256", data)?).await?;
    Ok(Uint8Array::new(&digest).to_vec())
}
