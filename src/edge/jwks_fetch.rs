//! The runtime's `fetch` of a client's `jwks_uri`: the Worker's [`JwksFetcher`] (the cache and
//! its policy are the core's, `core::jwks_cache`).
//!
//! `GET`, no redirect followed (a 3xx is a failed fetch: the URL registered is the one trusted),
//! a 200 only, at most [`MAX_JWKS_BYTES`] read (a declared longer body is not read at all), and
//! [`FETCH_TIMEOUT_MS`] to answer.

use std::{future::poll_fn, pin::pin};

use futures_core::Stream;
use wasm_bindgen::prelude::wasm_bindgen;
use worker::{web_sys, AbortSignal, Fetch, Headers, Method, Request, RequestInit, RequestRedirect};

use super::sign::WebCryptoSigner;
use crate::core::jwks_cache::{FetchFailed, JwksFetcher, FETCH_TIMEOUT_MS, MAX_JWKS_BYTES};

#[wasm_bindgen]
extern "C" {
    /// `AbortSignal.timeout(ms)`: aborts the fetch after `ms`.
    #[wasm_bindgen(js_namespace = AbortSignal, js_name = timeout)]
    fn abort_after(ms: u32) -> web_sys::AbortSignal;
}

impl JwksFetcher for WebCryptoSigner {
    async fn fetch_jwks(&self, uri: &str) -> Result<Vec<u8>, FetchFailed> {
        let headers = Headers::new();
        headers
            .set("Accept", "application/jwk-set+json, application/json")
            .map_err(|_| FetchFailed)?;
        let mut init = RequestInit::new();
        init.with_method(Method::Get)
            .with_redirect(RequestRedirect::Manual)
            .with_headers(headers);
        let request = Request::new_with_init(uri, &init).map_err(|_| FetchFailed)?;
        let signal = AbortSignal::from(abort_after(FETCH_TIMEOUT_MS));
        let mut response = Fetch::Request(request)
            .send_with_signal(&signal)
            .await
            .map_err(|_| FetchFailed)?;
        if response.status_code() != 200 {
            return Err(FetchFailed);
        }
        let declared: Option<usize> = response
            .headers()
            .get("Content-Length")
            .ok()
            .flatten()
            .and_then(|n| n.parse().ok());
        if declared.is_some_and(|n| n > MAX_JWKS_BYTES) {
            return Err(FetchFailed);
        }
        let stream = response.stream().map_err(|_| FetchFailed)?;
        let mut stream = pin!(stream);
        let mut body = Vec::new();
        while let Some(chunk) = poll_fn(|cx| stream.as_mut().poll_next(cx)).await {
            body.extend_from_slice(&chunk.map_err(|_| FetchFailed)?);
            if body.len() > MAX_JWKS_BYTES {
                return Err(FetchFailed);
            }
        }
        Ok(body)
    }
}
