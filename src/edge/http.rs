//! The answer and the request body, each in one call across the boundary, for both Workers.
//!
//! workers-rs's `Response` costs a `Headers` object built header by header, a `ResponseInit`,
//! a `Uint8Array` copy of the body and then `new Response`, each a call into the runtime; its
//! `Request::stream` reads a body through `wasm-streams`, a call per chunk and per promise.
//! Here the answer is one call that picks a header set kept for the isolate's life (a
//! `Response` copies the headers it is given, so one object serves every answer), and the body
//! one promise.

use wasm_bindgen::{prelude::wasm_bindgen, JsCast, JsValue};
use worker::{
    js_sys::{futures::JsFuture, Promise, Uint8Array},
    web_sys,
};

#[wasm_bindgen(inline_js = r#"
const JSON_TYPE = ["content-type", "application/json;charset=UTF-8"];
const SETS = [
  [JSON_TYPE, ["cache-control", "no-store"], ["pragma", "no-cache"]],
  [JSON_TYPE, ["cache-control", "public, max-age=300"], ["access-control-allow-origin", "*"]],
];
const made = [];
export function answer(status, kind, extra, body) {
  let headers = made[kind];
  if (headers === undefined) headers = made[kind] = new Headers(SETS[kind]);
  if (extra !== "") {
    headers = new Headers(headers);
    const parts = extra.split("\n");
    for (let i = 0; i + 1 < parts.length; i += 2) headers.set(parts[i], parts[i + 1]);
  }
  return new Response(body, { status, headers });
}
export async function readBody(m, cap) {
  if (m.body === null) return new Uint8Array(0);
  if (cap < 0) return new Uint8Array(await m.arrayBuffer());
  const reader = m.body.getReader();
  const chunks = [];
  let length = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    length += value.byteLength;
    if (length > cap) {
      reader.cancel().catch(() => {});
      return null;
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0];
  const body = new Uint8Array(length);
  let at = 0;
  for (const chunk of chunks) { body.set(chunk, at); at += chunk.byteLength; }
  return body;
}
"#)]
extern "C" {
    /// `new Response(body, {status, headers})`: the headers are the set `kind` (made once per
    /// isolate), plus `extra`, names and values joined by `"\n"` (which no header holds),
    /// `""` for none.
    #[wasm_bindgen(catch)]
    fn answer(status: u16, kind: u8, extra: &str, body: &str)
        -> Result<web_sys::Response, JsValue>;

    /// The body of `message` (a `Request` or a `Response`) as a `Uint8Array`: with `cap < 0`
    /// all of it at once (its declared length was checked); else read chunk by chunk, and
    /// `null` as soon as it exceeds `cap` bytes (the rest is never read). Rejects when the
    /// stream fails.
    #[wasm_bindgen(js_name = readBody)]
    fn read_body_js(message: &JsValue, cap: f64) -> Promise;
}

/// The header sets an answer starts from.
#[derive(Clone, Copy)]
pub enum Headers {
    /// Every answer of the token, introspection and revocation endpoints, and a 404 (RFC 6749
    /// §5.1, §5.2): `Content-Type: application/json;charset=UTF-8`, `Cache-Control: no-store`,
    /// `Pragma: no-cache`.
    NoStore = 0,
    /// The public documents (JWKS, metadata), cacheable by anyone for five minutes: the JSON
    /// `Content-Type`, `Cache-Control: public, max-age=300`, `Access-Control-Allow-Origin: *`.
    #[cfg(not(feature = "admin-worker"))]
    Public = 1,
}

/// A `Response` built, or what the runtime threw instead (an `extra` header it refused): kept as
/// the bare `JsValue`, so that the token Worker never converts it into a `worker::Error`.
pub type Answer = Result<web_sys::Response, JsValue>;

/// An answer with `status`, the header set `base` and `extra` headers (set over it), and a
/// JSON `body`: one call across the boundary.
pub fn respond(status: u16, base: Headers, extra: &[(&str, String)], body: &str) -> Answer {
    let mut joined = String::new();
    for (name, value) in extra {
        for part in [*name, value.as_str()] {
            if !joined.is_empty() {
                joined.push('\n');
            }
            joined.push_str(part);
        }
    }
    answer(status, base as u8, &joined, body)
}

/// Why a body was not read.
pub enum BodyError {
    /// Longer than allowed.
    TooLarge,
    /// The stream failed.
    Unreadable,
}

/// Reads the body of `message` (a `Request` or a `Response`), never holding more than `max`
/// bytes of it: a declared length (`Content-Length`) is checked before reading, and then read
/// in one call, the runtime enforcing the length; a body without one is read chunk by chunk
/// and abandoned past `max`.
pub async fn read_body(
    message: &JsValue,
    declared: Option<usize>,
    max: usize,
) -> Result<Vec<u8>, BodyError> {
    #[allow(clippy::cast_precision_loss)] // a few KiB
    let cap = match declared {
        Some(n) if n > max => return Err(BodyError::TooLarge),
        Some(_) => -1.0,
        None => max as f64,
    };
    let body = JsFuture::from(read_body_js(message, cap))
        .await
        .map_err(|_| BodyError::Unreadable)?;
    if body.is_null() {
        return Err(BodyError::TooLarge);
    }
    Ok(body.unchecked_into::<Uint8Array>().to_vec())
}
