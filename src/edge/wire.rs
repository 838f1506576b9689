//! The token route's crossings between wasm and the runtime, made few and cheap: the request
//! headers it reads, and what `request.cf` says of the source and its client certificate, come
//! back in one call, and the success answer's headers are a
//! `Headers` object built once per isolate, and the log line and the usage data point go out in
//! one call.
//!
//! Every call across the boundary costs the JS glue (string decoding, a call into wasm to
//! allocate a returned string) and a workerd API callback; reading four headers one by one was
//! twelve such steps, building the answer's headers six.

use std::cell::OnceCell;

use wasm_bindgen::{prelude::wasm_bindgen, JsValue};
use worker::{worker_sys::web_sys, Env, Headers, Request, Response, ResponseBody, Result};

use super::LogLine;
use crate::core::mtls::TlsFields;

#[wasm_bindgen(inline_js = r#"
export function tokenHeaders(r) {
  const h = r.headers;
  const v = (name) => { const s = h.get(name); return s === null ? "\0" : s; };
  const country = r.cf && typeof r.cf.country === "string" ? r.cf.country.replace(/[\n\0]/g, "") : "\0";
  const tls = r.cf && r.cf.tlsClientAuth;
  const t = (name) => {
    const s = tls ? tls[name] : undefined;
    return typeof s === "string" && !/[\n\0]/.test(s) ? s : "\0";
  };
  return v("authorization") + "\n" + v("content-type") + "\n" + v("cf-connecting-ip") + "\n" +
    v("content-length") + "\n" + v("cf-ray") + "\n" + country + "\n" + v("dpop") + "\n" +
    t("certPresented") + "\n" + t("certVerified") + "\n" + t("certRevoked") + "\n" +
    t("certFingerprintSHA256") + "\n" + t("certSubjectDNRFC2253");
}
"#)]
extern "C" {
    /// The five headers, `request.cf.country`, the `DPoP` header, then five fields of
    /// `request.cf.tlsClientAuth` (RFC 8705; `core::mtls`), each `"\0"` when absent, joined
    /// by `"\n"`: neither can occur in a header value (RFC 9110 §5.5, and the Headers API
    /// refuses both), they are taken out of the country, and a certificate field holding one
    /// counts as absent.
    #[wasm_bindgen(js_name = tokenHeaders)]
    fn token_headers(request: &web_sys::Request) -> String;
}

/// The request headers the token route reads, and the country Cloudflare located its source
/// in, fetched in one call.
pub struct TokenHeaders(String);

impl TokenHeaders {
    /// Reads them from `req`.
    pub fn read(req: &Request) -> Self {
        Self(token_headers(req.inner()))
    }

    fn field(&self, n: usize) -> Option<&str> {
        self.0.split('\n').nth(n).filter(|v| *v != "\0")
    }

    /// `Authorization`.
    pub fn authorization(&self) -> Option<&str> {
        self.field(0)
    }

    /// `Content-Type`.
    pub fn content_type(&self) -> Option<&str> {
        self.field(1)
    }

    /// `CF-Connecting-IP`: set by Cloudflare's edge and not by the caller, unlike
    /// X-Forwarded-For.
    pub fn source(&self) -> Option<&str> {
        self.field(2)
    }

    /// `Content-Length`, when it is a number.
    pub fn content_length(&self) -> Option<usize> {
        self.field(3).and_then(|n| n.parse().ok())
    }

    /// `CF-Ray`, the request's id in Cloudflare's logs, when it is a plain token of at most
    /// 64 characters (it is logged).
    pub fn ray(&self) -> Option<&str> {
        self.field(4).filter(|ray| is_log_token(ray))
    }

    /// What `request.cf.tlsClientAuth` says of the connection's client certificate.
    pub fn tls(&self) -> TlsFields<'_> {
        TlsFields {
            presented: self.field(7),
            verified: self.field(8),
            revoked: self.field(9),
            sha256: self.field(10),
            subject_dn: self.field(11),
        }
    }

    /// `request.cf.country`: the ISO 3166-1 alpha-2 code (or Cloudflare's `T1`, `XX`) of the
    /// source's location, when it is one.
    pub fn country(&self) -> Option<&str> {
        self.field(5)
            .filter(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphanumeric()))
    }

    /// `DPoP` (RFC 9449 §4.1; several are joined by ", ", which the core refuses).
    pub fn dpop(&self) -> Option<&str> {
        self.field(6)
    }
}

/// Whether `value` may go into a log line as it is: 1 to 64 ASCII letters, digits and `-`.
fn is_log_token(value: &str) -> bool {
    (1..=64).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

thread_local! {
    /// The headers of a token (RFC 6749 §5.1), made on the first token: a Response copies the
    /// headers it is given, so one object serves every answer.
    static ISSUED: OnceCell<web_sys::Headers> = const { OnceCell::new() };
}

/// The 200 answer carrying a token response's JSON; with a `DPoP-Nonce` header when the
/// tenant asks for DPoP nonces (then its headers are its own, not the shared ones).
pub fn issued(json: String, nonce: Option<String>) -> Result<Response> {
    if let Some(nonce) = nonce {
        let headers = Headers::new();
        for (name, value) in super::NO_STORE {
            headers.set(name, value)?;
        }
        headers.set(super::DPOP_NONCE, &nonce)?;
        let body = ResponseBody::Body(json.into_bytes());
        return Ok(Response::from_body(body)?.with_headers(headers));
    }
    let headers = match ISSUED.with(|cell| cell.get().cloned()) {
        Some(headers) => Headers(headers),
        None => {
            let headers = Headers::new();
            for (name, value) in super::NO_STORE {
                headers.set(name, value)?;
            }
            ISSUED.with(|cell| cell.get_or_init(|| headers.0.clone()).clone());
            headers
        }
    };
    Ok(Response::from_body(ResponseBody::Body(json.into_bytes()))?.with_headers(headers))
}

#[wasm_bindgen(inline_js = r#"
export function logAndCount(line, env, blobs, index, status, ms) {
  console.log(line);
  const usage = env.USAGE;
  if (usage === undefined || typeof usage.writeDataPoint !== "function") return;
  try {
    usage.writeDataPoint({ blobs: blobs.split("\n"), doubles: [1, ms, status], indexes: index === "" ? [] : [index] });
  } catch (_) {
    // A refused point (a limit of the dataset) must not cost the request its answer.
  }
}
"#)]
extern "C" {
    /// `console.log(line)`, then one data point into the `USAGE` Analytics Engine dataset
    /// when the Worker has that binding: `blobs` joined by `"\n"`. `writeDataPoint` returns at
    /// once (the runtime sends the point after the answer), so nothing is awaited.
    #[wasm_bindgen(js_name = logAndCount)]
    fn log_and_count(line: &str, env: &JsValue, blobs: &str, index: &str, status: u16, ms: f64);
}

/// Writes the request's one log line and its usage data point, in one call across the
/// boundary: the dataset's schema is in docs/operating.md ("Usage data points").
pub(super) fn record(line: &LogLine, env: &Env) {
    let client = line.client_id.or(line.client_tag).unwrap_or("");
    let kind = match (line.client_id, line.client_tag) {
        (Some(_), _) => "id",
        (None, Some(_)) => "tag",
        (None, None) => "",
    };
    // No field holds a "\n": tenant names, logged ids and tags, codes and countries are
    // checked tokens.
    let blobs = [
        line.tenant.unwrap_or(""),
        client,
        line.outcome,
        line.reason.unwrap_or(""),
        line.error.unwrap_or(""),
        kind,
        line.country.unwrap_or(""),
    ]
    .join("\n");
    #[allow(clippy::cast_precision_loss)] // milliseconds of one request: far below 2^53
    let ms = line.ms as f64;
    log_and_count(&line.json(), env, &blobs, client, line.status, ms);
}
