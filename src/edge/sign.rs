//! Ed25519 through the runtime's WebCrypto (`crypto.subtle`), the Worker's [`Signer`].
//!
//! BoringSSL signs in native code: a signature costs a few µs inside workerd, where
//! ed25519-compact compiled to wasm32 costs ~95 µs (its 64×64→128-bit products are emulated),
//! and the wasm carries no curve code or tables. Each signing key is imported once per isolate
//! (PKCS #8, from the JWK's `d`) and checked before its first use: a probe signed with it must
//! verify under the published `x`, which is what the native build checks when it parses the
//! set (`core::keys`). A key that fails is not kept, and the request is a 500.

use std::cell::RefCell;

use wasm_bindgen::{prelude::wasm_bindgen, JsCast, JsValue};
use worker::{
    js_sys::{Array, Promise, Uint8Array},
    wasm_bindgen_futures::JsFuture,
};

use crate::core::{
    keys::SigningKey,
    sign::{SignError, Signature, Signer, SIGNATURE_BYTES},
};

#[wasm_bindgen]
extern "C" {
    /// `crypto.subtle.importKey(format, keyData, algorithm, extractable, usages)`.
    #[wasm_bindgen(js_namespace = ["crypto", "subtle"], js_name = importKey, catch)]
    fn import_key(
        format: &str,
        data: &[u8],
        algorithm: &JsValue,
        extractable: bool,
        usages: &Array,
    ) -> Result<Promise, JsValue>;

    /// `crypto.subtle.sign(algorithm, key, data)`: the data is copied before it returns.
    #[wasm_bindgen(js_namespace = ["crypto", "subtle"], js_name = sign, catch)]
    fn subtle_sign(algorithm: &JsValue, key: &JsValue, data: &[u8]) -> Result<Promise, JsValue>;

    /// `crypto.subtle.verify(algorithm, key, signature, data)`: the signing keys' probe here,
    /// client assertions in `edge::verify`.
    #[wasm_bindgen(js_namespace = ["crypto", "subtle"], js_name = verify, catch)]
    pub(super) fn subtle_verify(
        algorithm: &JsValue,
        key: &JsValue,
        signature: &[u8],
        data: &[u8],
    ) -> Result<Promise, JsValue>;
}

/// An imported signing key, by kid.
struct Imported {
    kid: String,
    key: JsValue,
}

thread_local! {
    /// The algorithm argument, made once: `"Ed25519"`.
    static ED25519: JsValue = JsValue::from_str("Ed25519");
    /// The keys this isolate has imported and checked.
    static IMPORTED: RefCell<Vec<Imported>> = const { RefCell::new(Vec::new()) };
}

/// Signs with WebCrypto; holds nothing itself (the keys are the isolate's).
pub struct WebCryptoSigner;

impl Signer for WebCryptoSigner {
    async fn sign(&self, key: &SigningKey, input: &[u8]) -> Result<Signature, SignError> {
        let imported = match cached(key.kid()) {
            Some(imported) => imported,
            None => import(key).await.map_err(|_| SignError)?,
        };
        sign(&imported, input).await.map_err(|_| SignError)
    }
}

fn cached(kid: &str) -> Option<JsValue> {
    IMPORTED.with(|keys| {
        let keys = keys.borrow();
        keys.iter().find(|k| k.kid == kid).map(|k| k.key.clone())
    })
}

/// The private key, imported and checked against its public key, then kept.
async fn import(key: &SigningKey) -> Result<JsValue, JsValue> {
    let algorithm = ED25519.with(JsValue::clone);
    let private = JsFuture::from(import_key(
        "pkcs8",
        &key.pkcs8(),
        &algorithm,
        false,
        &Array::of1(&JsValue::from_str("sign")),
    )?)
    .await?;
    let public = JsFuture::from(import_key(
        "raw",
        key.public(),
        &algorithm,
        true,
        &Array::of1(&JsValue::from_str("verify")),
    )?)
    .await?;
    const PROBE: &[u8] = b"edge-token: does x belong to d?";
    let signature = sign(&private, PROBE).await?;
    let verified = JsFuture::from(subtle_verify(&algorithm, &public, &signature, PROBE)?).await?;
    if verified.as_bool() != Some(true) {
        return Err(JsValue::from_str("x is not the public key of d"));
    }
    IMPORTED.with(|keys| {
        keys.borrow_mut().push(Imported {
            kid: key.kid().to_owned(),
            key: private.clone(),
        })
    });
    Ok(private)
}

/// One signature: the promise of `crypto.subtle.sign`, its 64 bytes copied into wasm.
async fn sign(key: &JsValue, input: &[u8]) -> Result<Signature, JsValue> {
    let promise = ED25519.with(|algorithm| subtle_sign(algorithm, key, input))?;
    let buffer = JsFuture::from(promise).await?;
    let bytes = Uint8Array::new(buffer.unchecked_ref());
    let mut signature = [0_u8; SIGNATURE_BYTES];
    if bytes.length() as usize != SIGNATURE_BYTES {
        return Err(JsValue::from_str("not an Ed25519 signature"));
    }
    bytes.copy_to(&mut signature);
    Ok(signature)
}
