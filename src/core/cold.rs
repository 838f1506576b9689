//! Futures kept out of their caller's code, for paths that most requests never take.
//!
//! V8 compiles a Worker's wasm lazily, one whole function at a time, the first time it is
//! called; an `async fn` awaited in another is usually inlined into the caller's state
//! machine, so its code is compiled whenever the caller's is, taken or not. Behind [`cold`] a
//! path's code is its own function, compiled on its first use: the first token of a client
//! with a secret no longer compiles the assertion, DPoP or introspection code
//! (bench/README.md, "Startup to the first token"). The cost, on the cold path only, is one
//! allocation.

use std::{future::Future, pin::Pin};

/// A future behind a pointer: its `poll` is called through a vtable, never inlined.
pub type Cold<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// Boxes `future`. Never inlined itself, so that the caller cannot see which future it gets.
#[inline(never)]
pub fn cold<'a, F: Future + 'a>(future: F) -> Cold<'a, F::Output> {
    Box::pin(future)
}
