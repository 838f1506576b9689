//! Sender-constrained tokens: a valid token whose `cnf` claim (RFC 7800) binds it to a key is
//! served only to the holder of that key.
//!
//! - `x5t#S256` (RFC 8705 §3): the request must come with a client certificate, as Cloudflare
//!   reports it in `request.cf.tlsClientAuth` (`certPresented` `"1"`), whose SHA-256
//!   fingerprint (`certFingerprintSHA256`, hex) is the claim's (base64url), and which the edge
//!   does not report revoked (`certRevoked` `"1"`). `certVerified` is not required: the TLS handshake has proved that the client holds the certificate's
//!   key whatever a CA says of it, which is all the binding asks, and a
//!   `self_signed_tls_client_auth` client's certificate never verifies against a CA. An API
//!   that wants CA-verified certificates too adds that to [`client_certificate`].
//! - `jkt` (RFC 9449 §7): the request must use the `DPoP` scheme with a proof signed by the
//!   key of that thumbprint ([`crate::dpop`]).
//!
//! A bound token presented as it must not be is refused: a DPoP-bound token as `Bearer`
//! (§7.2, no downgrade), an unbound or certificate-bound token with the `DPoP` scheme, a `cnf`
//! this API cannot check.

use base64ct::{Base64UrlUnpadded, Encoding};
use serde_json::{Map, Value};
use worker::{js_sys::Reflect, wasm_bindgen::JsValue, Request};

use crate::{
    answer::{Mismatch, Refusal, Scheme},
    dpop,
};

/// The key a token is bound to.
#[derive(Debug, PartialEq, Eq)]
enum Binding {
    /// Not bound: a bearer token.
    None,
    /// A client certificate: base64url of the SHA-256 of its DER (`x5t#S256`).
    Certificate(String),
    /// A DPoP key: its RFC 7638 SHA-256 thumbprint, base64url (`jkt`).
    Dpop(String),
}

/// The binding a `cnf` claim names: one member, `x5t#S256` or `jkt`, a string. Anything else
/// (both, neither, another confirmation method) is a binding this API cannot check.
fn binding(cnf: Option<&Map<String, Value>>) -> Result<Binding, Refusal> {
    let Some(cnf) = cnf else {
        return Ok(Binding::None);
    };
    let unknown = Refusal::Unbound(Mismatch::UnknownBinding);
    let mut members = cnf.iter();
    let (Some((name, Value::String(key))), None) = (members.next(), members.next()) else {
        return Err(unknown);
    };
    match name.as_str() {
        "x5t#S256" => Ok(Binding::Certificate(key.clone())),
        "jkt" => Ok(Binding::Dpop(key.clone())),
        _ => Err(unknown),
    }
}

/// Ok if the request satisfies the binding of a valid token presented in `scheme`.
pub(crate) async fn check(
    req: &Request,
    scheme: Scheme,
    token: &str,
    cnf: Option<&Map<String, Value>>,
    now_ms: u64,
) -> Result<(), Refusal> {
    match (binding(cnf)?, scheme) {
        (Binding::None, Scheme::Bearer) => Ok(()),
        (Binding::Certificate(x5t), Scheme::Bearer) => {
            certificate_matches(&x5t, client_certificate(req))
        }
        (Binding::Dpop(_), Scheme::Bearer) => Err(Refusal::Unbound(Mismatch::DpopRequired)),
        (Binding::Dpop(jkt), Scheme::Dpop) => dpop::check(req, token, &jkt, now_ms).await,
        (Binding::None | Binding::Certificate(_), Scheme::Dpop) => {
            Err(Refusal::Unbound(Mismatch::NotDpopBound))
        }
    }
}

/// What Cloudflare reports of the request's client certificate.
struct Presented {
    /// Its SHA-256 fingerprint, hex.
    fingerprint: String,
    /// Whether the edge says it is revoked (`certRevoked` `"1"`).
    revoked: bool,
}

/// The client certificate Cloudflare reports for this request, if one was presented. Read as
/// plain properties: no `cf` object, no `tlsClientAuth` (an edge without mTLS configured) or
/// fields of another type are no certificate, never a fault.
fn client_certificate(req: &Request) -> Option<Presented> {
    let cf = Reflect::get(req.inner(), &JsValue::from_str("cf")).ok()?;
    let auth = Reflect::get(&cf, &JsValue::from_str("tlsClientAuth")).ok()?;
    let field = |name: &str| {
        Reflect::get(&auth, &JsValue::from_str(name))
            .ok()
            .and_then(|v| v.as_string())
    };
    if field("certPresented").as_deref() != Some("1") {
        return None;
    }
    Some(Presented {
        fingerprint: field("certFingerprintSHA256").filter(|f| !f.is_empty())?,
        revoked: field("certRevoked").as_deref() == Some("1"),
    })
}

/// Ok if the request's certificate, if any, is the one of `x5t` and not revoked.
fn certificate_matches(x5t: &str, presented: Option<Presented>) -> Result<(), Refusal> {
    let presented = presented.ok_or(Refusal::Unbound(Mismatch::NoCertificate))?;
    match thumbprint_of_hex(&presented.fingerprint) {
        Some(thumbprint) if thumbprint != x5t => Err(Refusal::Unbound(Mismatch::OtherCertificate)),
        None => Err(Refusal::Unbound(Mismatch::OtherCertificate)),
        Some(_) if presented.revoked => Err(Refusal::Unbound(Mismatch::RevokedCertificate)),
        Some(_) => Ok(()),
    }
}

/// The `x5t#S256` form (base64url, unpadded) of a SHA-256 fingerprint in hex (either case),
/// or None if it is not 32 bytes of hex.
fn thumbprint_of_hex(hex: &str) -> Option<String> {
    if hex.len() != 64 {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16);
    let bytes = hex
        .as_bytes()
        .chunks(2)
        .map(|pair| Some((digit(pair[0])? * 16 + digit(pair[1])?) as u8))
        .collect::<Option<Vec<u8>>>()?;
    Some(Base64UrlUnpadded::encode_string(&bytes))
}
