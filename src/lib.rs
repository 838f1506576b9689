//! An OAuth 2.0 client-credentials token endpoint (RFC 6749 §4.4) for Cloudflare Workers.
//!
//! # Layout
//! - [`core`]: parsing, client authentication, scope policy, minting, errors. Pure and
//!   tested natively.
//! - `edge` (wasm32 only): the Worker entry point, routing, the KV client store, secrets. Thin:
//!   it turns a `worker::Request` into core inputs and a core result into a `worker::Response`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod core;

#[cfg(target_arch = "wasm32")]
mod edge;
