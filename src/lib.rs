//! An OAuth 2.0 client-credentials token endpoint (RFC 6749 §4.4) for Cloudflare Workers.
//!
//! # Layout
//! - [`core`]: parsing, client authentication, scope policy, minting, errors. Pure and
//!   tested natively.
//! - `edge` (wasm32 only): the Worker entry point, routing, the KV client store, secrets. Thin:
//!   it turns the runtime's `Request` into core inputs and a core result into a `Response`
//!   (the token Worker on the raw `web_sys` types, the admin Worker on workers-rs's).
//!   The guard Worker (feature `guard-worker`) has an edge of its own, `edge/objects.rs`: the
//!   guard objects' classes and nothing else.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod core;

#[cfg(all(feature = "admin-worker", feature = "guard-worker"))]
compile_error!(
    "one build is one Worker: the features admin-worker and guard-worker exclude each other"
);

#[cfg(all(target_arch = "wasm32", not(feature = "guard-worker")))]
mod edge;
#[cfg(all(target_arch = "wasm32", feature = "guard-worker"))]
#[path = "edge/objects.rs"]
mod edge;
