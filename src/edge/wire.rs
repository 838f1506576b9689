//! The token Worker's crossings between wasm and the runtime, made few and cheap: the request's
//! method, URL and the headers its routes read, and what `request.cf` says of the source and
//! its client certificate, come back in one call, and the log line and the usage data point
//! go out in one call (the answer and the body: [`super::http`]).
//!
//! Every call across the boundary costs the JS glue (string decoding, a call into wasm to
//! allocate a returned string) and a workerd API callback: workers-rs's `Request` alone reads
//! the method, the URL, the headers and `cf` on every request, and reading four headers one by
//! one was twelve such steps.

use wasm_bindgen::{prelude::wasm_bindgen, JsValue};
use worker::{web_sys, Env};

use super::LogLine;
use crate::core::{
    mtls::TlsFields,
    request::{path_of, query_of},
};

#[wasm_bindgen(inline_js = r#"
export function requestHead(r) {
  const h = r.headers;
  const v = (name) => { const s = h.get(name); return s === null ? "\0" : s; };
  const cf = r.cf;
  const country = cf && typeof cf.country === "string" ? cf.country.replace(/[\n\0]/g, "") : "\0";
  const tls = cf && cf.tlsClientAuth;
  const t = (name) => {
    const s = tls ? tls[name] : undefined;
    return typeof s === "string" && !/[\n\0]/.test(s) ? s : "\0";
  };
  return r.method + "\n" + r.url + "\n" +
    v("authorization") + "\n" + v("content-type") + "\n" + v("cf-connecting-ip") + "\n" +
    v("content-length") + "\n" + v("cf-ray") + "\n" + country + "\n" + v("dpop") + "\n" +
    t("certPresented") + "\n" + t("certVerified") + "\n" + t("certRevoked") + "\n" +
    t("certFingerprintSHA256") + "\n" + t("certSubjectDNRFC2253");
}
"#)]
extern "C" {
    /// The method, the URL, five headers, `request.cf.country`, the `DPoP` header, then five
    /// fields of `request.cf.tlsClientAuth` (RFC 8705; `core::mtls`), each `"\0"` when
    /// absent, joined by `"\n"`: neither can occur in a method, a serialized URL or a header
    /// value (RFC 9110 §5.5, and the Headers API refuses both), they are taken out of the
    /// country, and a certificate field holding one counts as absent.
    #[wasm_bindgen(js_name = requestHead)]
    fn request_head(request: &web_sys::Request) -> String;
}

/// The number of fields [`request_head`] returns.
const FIELDS: usize = 14;

/// What the token Worker's routes read of a request but its body, fetched in one call.
pub struct RequestHead {
    text: String,
    /// Where each field lies in `text`.
    fields: [(usize, usize); FIELDS],
}

impl RequestHead {
    /// Reads it from `request`.
    pub fn read(request: &web_sys::Request) -> Self {
        let text = request_head(request);
        let mut fields = [(0, 0); FIELDS];
        let mut start = 0;
        for (field, part) in fields.iter_mut().zip(text.split('\n')) {
            *field = (start, start + part.len());
            start += part.len() + 1;
        }
        Self { text, fields }
    }

    fn field(&self, n: usize) -> Option<&str> {
        let (start, end) = self.fields[n];
        Some(&self.text[start..end]).filter(|v| *v != "\0")
    }

    /// The method, as the runtime normalised it (`POST`, `GET`, …).
    pub fn method(&self) -> &str {
        self.field(0).unwrap_or("")
    }

    /// The URL, as the runtime serialized it.
    pub fn url(&self) -> &str {
        self.field(1).unwrap_or("")
    }

    /// The URL's path ([`path_of`]).
    pub fn path(&self) -> &str {
        path_of(self.url())
    }

    /// The URL's query ([`query_of`]).
    pub fn query(&self) -> Option<&str> {
        query_of(self.url())
    }

    /// `Authorization`.
    pub fn authorization(&self) -> Option<&str> {
        self.field(2)
    }

    /// `Content-Type`.
    pub fn content_type(&self) -> Option<&str> {
        self.field(3)
    }

    /// `CF-Connecting-IP`: set by Cloudflare's edge and not by the caller, unlike
    /// X-Forwarded-For.
    pub fn source(&self) -> Option<&str> {
        self.field(4)
    }

    /// `Content-Length`, when it is a number.
    pub fn content_length(&self) -> Option<usize> {
        self.field(5).and_then(|n| n.parse().ok())
    }

    /// `CF-Ray`, the request's id in Cloudflare's logs, when it is a plain token of at most
    /// 64 characters (it is logged).
    pub fn ray(&self) -> Option<&str> {
        self.field(6).filter(|ray| is_log_token(ray))
    }

    /// `request.cf.country`: the ISO 3166-1 alpha-2 code (or Cloudflare's `T1`, `XX`) of the
    /// source's location, when it is one.
    pub fn country(&self) -> Option<&str> {
        self.field(7)
            .filter(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphanumeric()))
    }

    /// `DPoP` (RFC 9449 §4.1; several are joined by ", ", which the core refuses).
    pub fn dpop(&self) -> Option<&str> {
        self.field(8)
    }

    /// What `request.cf.tlsClientAuth` says of the connection's client certificate.
    pub fn tls(&self) -> TlsFields<'_> {
        TlsFields {
            presented: self.field(9),
            verified: self.field(10),
            revoked: self.field(11),
            sha256: self.field(12),
            subject_dn: self.field(13),
        }
    }
}

/// Whether `value` may go into a log line as it is: 1 to 64 ASCII letters, digits and `-`.
fn is_log_token(value: &str) -> bool {
    (1..=64).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
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
