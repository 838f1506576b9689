//! The runtime's `fetch` of a client's `jwks_uri`: the Worker's [`JwksFetcher`] (the cache and
//! its policy are the core's, `core::jwks_cache`).
//!
//! `GET`, no redirect followed (a 3xx is a failed fetch: the URL registered is the one trusted),
//! a 200 only, at most [`MAX_JWKS_BYTES`] read (a declared longer body is not read at all), and
//! [`FETCH_TIMEOUT_MS`] to answer. The exchange is one JavaScript function, called once, and the
//! body is read by the requests' capped reader ([`read_body`]): through workers-rs's `Request`
//! and `Fetch` it carried their conversions (serde-wasm-bindgen for the request's options, the
//! body's stream adapter) into the wasm for this one rare call.

use wasm_bindgen::{prelude::wasm_bindgen, JsValue};
use worker::{js_sys::Promise, wasm_bindgen_futures::JsFuture};

use super::{http::read_body, sign::WebCryptoSigner};
use crate::core::jwks_cache::{FetchFailed, JwksFetcher, FETCH_TIMEOUT_MS, MAX_JWKS_BYTES};

#[wasm_bindgen(inline_js = r#"
export async function fetchJwks(uri, timeoutMs, maxBytes) {
  const response = await fetch(uri, {
    method: "GET",
    redirect: "manual",
    headers: { Accept: "application/jwk-set+json, application/json" },
    signal: AbortSignal.timeout(timeoutMs),
  });
  if (response.status !== 200) return undefined;
  const declared = response.headers.get("Content-Length");
  if (declared !== null && /^\+?[0-9]+$/.test(declared) && Number(declared) > maxBytes) {
    return undefined;
  }
  return response;
}
"#)]
extern "C" {
    /// The fetch of `uri` under the rules above: the `Response` of a 200 that declares no more
    /// than `max_bytes`, or `undefined` for a refused answer; rejected when the fetch fails or
    /// times out.
    #[wasm_bindgen(js_name = fetchJwks)]
    fn fetch_jwks(uri: &str, timeout_ms: u32, max_bytes: u32) -> Promise;
}

impl JwksFetcher for WebCryptoSigner {
    async fn fetch_jwks(&self, uri: &str) -> Result<Vec<u8>, FetchFailed> {
        #[allow(clippy::cast_possible_truncation)] // 64 KiB
        let max = MAX_JWKS_BYTES as u32;
        let response: JsValue = JsFuture::from(fetch_jwks(uri, FETCH_TIMEOUT_MS, max))
            .await
            .map_err(|_| FetchFailed)?;
        if response.is_undefined() {
            return Err(FetchFailed);
        }
        read_body(&response, None, MAX_JWKS_BYTES)
            .await
            .map_err(|_| FetchFailed)
    }
}
