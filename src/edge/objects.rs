//! The guard Worker (feature `guard-worker`, wrangler.guard.toml): it exports the guard objects'
//! classes, `ClientGuard` and `SourceGuard` ([`guard`], docs/limits.md), and has no route of its
//! own. The token and admin Workers reach the objects through bindings with `script_name`; with
//! the classes here, neither carries the objects' code (in the token Worker it was about 165 KB
//! of its wasm, 62 KB gzip: bench/README.md).

#[path = "guard.rs"]
mod guard;
#[path = "meter.rs"]
mod meter;

use worker::{event, Context, Env, Headers, Request, Response, Result};

/// Every request to the Worker itself: a plain 404 like the token Worker's, not cached. The
/// objects are reached only through their namespaces.
#[event(fetch)]
async fn fetch(_req: Request, _env: Env, _ctx: Context) -> Result<Response> {
    let headers = Headers::new();
    headers.set("Content-Type", "application/json;charset=UTF-8")?;
    headers.set("Cache-Control", "no-store")?;
    Ok(Response::from_bytes(br#"{"error":"not_found"}"#.to_vec())?
        .with_status(404)
        .with_headers(headers))
}
