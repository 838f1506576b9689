//! DPoP proofs (RFC 9449 §4.3, §7.1) for DPoP-bound tokens: the `DPoP` header's JWT, with
//! `typ` `dpop+jwt`, `alg` ES256 or EdDSA, the public key in `jwk` (a key with private
//! members is refused), signed by that key (verified by the runtime's WebCrypto); `htm` the
//! request's method, `htu` its URL without query and fragment (both parsed, so that case of
//! scheme and host and a default port do not matter), `iat` at most [`PAST`] seconds old and
//! [`AHEAD`] ahead, `ath` the base64url SHA-256 of the access token, the key's RFC 7638
//! thumbprint the token's `cnf.jkt`, and `jti` not seen before.
//!
//! **Replays.** The `jti`s of accepted proofs are kept, per isolate, until their `iat` is too
//! old to be accepted anyway: a proof replayed to the same isolate is refused. A replay that
//! reaches another isolate (another location, or the same one scaled out) is not caught here:
//! an API that must refuse every replay keeps the `jti`s where all isolates see them, as the
//! token endpoint does with its guard objects (a Durable Object sharded by the key's
//! thumbprint, unreachable → 503), or asks for a server nonce (RFC 9449 §9) that it issues
//! and checks itself. The window bounds what a captured proof is good for either way: the
//! same method, URL and token, for [`PAST`] seconds.

use std::{cell::RefCell, collections::BTreeMap};

use base64ct::{Base64UrlUnpadded, Encoding};
use serde::{de::DeserializeOwned, Deserialize};
use serde_json::{Map, Value};
use wasm_bindgen::prelude::wasm_bindgen;
use worker::{wasm_bindgen::JsValue, Request};

use crate::{
    answer::Refusal,
    subtle::{self, Algorithm},
};

/// The proof algorithms accepted, as the `algs` challenge parameter lists them.
pub(crate) const ALGS: &str = "ES256 EdDSA";
/// Seconds a proof's `iat` may lie in the past.
const PAST: u64 = 60;
/// Seconds a proof's `iat` may lie ahead (the client's clock).
const AHEAD: u64 = 10;
/// Longest proof read (a bound against abuse: an ES256 proof is about 600 bytes).
const MAX_PROOF: usize = 4096;
/// Longest `jti` kept.
const MAX_JTI: usize = 256;
/// Most proofs kept per isolate; past it, a new proof gets 503 until old ones expire.
const MAX_SEEN: usize = 10_000;
/// JWK members that only a private or symmetric key has (RFC 7518 §6).
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

#[wasm_bindgen]
extern "C" {
    /// The runtime's WHATWG URL.
    #[wasm_bindgen(js_name = URL)]
    type JsUrl;

    /// `new URL(url)`; throws for what is not an absolute URL.
    #[wasm_bindgen(constructor, js_class = "URL", catch)]
    fn parse(url: &str) -> Result<JsUrl, JsValue>;

    /// `url.protocol`, as `https:`.
    #[wasm_bindgen(method, getter)]
    fn protocol(this: &JsUrl) -> String;

    /// `url.origin`: scheme, host and a port other than the default, normalized.
    #[wasm_bindgen(method, getter)]
    fn origin(this: &JsUrl) -> String;

    /// `url.pathname`, dot segments resolved.
    #[wasm_bindgen(method, getter)]
    fn pathname(this: &JsUrl) -> String;
}

thread_local! {
    /// The proofs accepted by this isolate: thumbprint and `jti` → until when (Unix ms).
    static SEEN: RefCell<BTreeMap<String, u64>> = const { RefCell::new(BTreeMap::new()) };
}

/// The proof's JOSE header.
#[derive(Deserialize)]
struct Header {
    /// Must be `dpop+jwt`.
    typ: String,
    /// ES256 or EdDSA.
    alg: String,
    /// The public key that signed the proof.
    jwk: Map<String, Value>,
}

/// The proof's claims.
#[derive(Deserialize)]
struct Claims {
    /// Unique per proof.
    jti: String,
    /// The request's method.
    htm: String,
    /// The request's URL, without query and fragment.
    htu: String,
    /// When the proof was made (Unix seconds).
    iat: u64,
    /// base64url SHA-256 of the access token.
    ath: Option<String>,
}

/// Ok if the request's `DPoP` header holds a valid proof, at `now_ms`, for `token`, by the key
/// whose thumbprint is `jkt`; the proof is then spent.
pub(crate) async fn check(
    req: &Request,
    token: &str,
    jkt: &str,
    now_ms: u64,
) -> Result<(), Refusal> {
    let invalid = Refusal::InvalidProof;
    let proof = req.headers().get("DPoP").ok().flatten();
    let proof = proof.ok_or(invalid("no_proof"))?;
    // Several DPoP headers arrive joined by ", ": one proof has no comma.
    if proof.len() > MAX_PROOF || proof.contains(',') {
        return Err(invalid("malformed"));
    }
    let (header, claims, signed, signature) = parse(&proof)?;
    let algorithm = algorithm(&header)?;
    let public = public_jwk(&header.jwk, algorithm)?;
    if base64url_sha256(public.as_bytes()).await? != jkt {
        return Err(invalid("other_key"));
    }
    let key = subtle::public_key(&public, algorithm)
        .await
        .map_err(|_| invalid("jwk"))?;
    if !subtle::verify(algorithm, &key, &signature, signed.as_bytes()).await {
        return Err(invalid("signature"));
    }
    let request = req.inner();
    if let Some(reason) = claims.refusal(&request.method(), &request.url(), now_ms / 1000) {
        return Err(invalid(reason));
    }
    if claims.ath.as_deref() != Some(base64url_sha256(token.as_bytes()).await?.as_str()) {
        return Err(invalid("ath"));
    }
    spend(jkt, &claims.jti, (claims.iat + PAST + 1) * 1000, now_ms)
}

impl Claims {
    /// Which claim, `ath` apart, does not fit a request of `method` to `url` at `now`
    /// (seconds), if any.
    fn refusal(&self, method: &str, url: &str, now: u64) -> Option<&'static str> {
        if self.htm != method {
            Some("htm")
        } else if !same_target(&self.htu, url) {
            Some("htu")
        } else if self.iat > now + AHEAD || self.iat.saturating_add(PAST) < now {
            Some("iat")
        } else {
            None
        }
    }
}

/// The header, the claims, the signed part and the signature of a compact JWS.
fn parse(proof: &str) -> Result<(Header, Claims, &str, Vec<u8>), Refusal> {
    let malformed = || Refusal::InvalidProof("malformed");
    let (signed, signature) = proof.rsplit_once('.').ok_or_else(malformed)?;
    let (header, claims) = signed.split_once('.').ok_or_else(malformed)?;
    let signature = Base64UrlUnpadded::decode_vec(signature).map_err(|_| malformed())?;
    Ok((json(header)?, json(claims)?, signed, signature))
}

/// A base64url JSON part of a JWS.
fn json<T: DeserializeOwned>(part: &str) -> Result<T, Refusal> {
    Base64UrlUnpadded::decode_vec(part)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or(Refusal::InvalidProof("malformed"))
}

/// The signature algorithm the header names, if it is a DPoP proof's and accepted.
fn algorithm(header: &Header) -> Result<Algorithm, Refusal> {
    if !header.typ.eq_ignore_ascii_case("dpop+jwt") {
        return Err(Refusal::InvalidProof("typ"));
    }
    match header.alg.as_str() {
        "ES256" => Ok(Algorithm::Es256),
        "EdDSA" => Ok(Algorithm::Ed25519),
        _ => Err(Refusal::InvalidProof("alg")),
    }
}

/// The RFC 7638 form of the proof's public key for `algorithm`: its required members only,
/// in lexicographic order, without white space. This is what is hashed into the thumbprint,
/// and what is imported: no member that was not hashed reaches WebCrypto. A key with private
/// members, or not of the algorithm's type and curve, is refused.
fn public_jwk(jwk: &Map<String, Value>, algorithm: Algorithm) -> Result<String, Refusal> {
    if PRIVATE_MEMBERS.iter().any(|m| jwk.contains_key(*m)) {
        return Err(Refusal::InvalidProof("private_key"));
    }
    let text = |name: &str| match jwk.get(name) {
        Some(Value::String(s)) => Ok(s.as_str()),
        _ => Err(Refusal::InvalidProof("jwk")),
    };
    // Quoted and escaped as JSON (base64url needs no escape; anything else stays harmless,
    // and fails the import).
    let quoted = |name: &str| text(name).map(|s| Value::from(s).to_string());
    let (kty, crv) = match algorithm {
        Algorithm::Es256 => ("EC", "P-256"),
        Algorithm::Ed25519 => ("OKP", "Ed25519"),
    };
    if text("kty")? != kty || text("crv")? != crv {
        return Err(Refusal::InvalidProof("jwk"));
    }
    let x = quoted("x")?;
    Ok(match algorithm {
        Algorithm::Es256 => format!(
            r#"{{"crv":"{crv}","kty":"{kty}","x":{x},"y":{}}}"#,
            quoted("y")?
        ),
        Algorithm::Ed25519 => format!(r#"{{"crv":"{crv}","kty":"{kty}","x":{x}}}"#),
    })
}

/// Whether the proof's `htu` and the request's URL name the same resource: both parsed by the
/// runtime's URL parser (which normalizes the case of scheme and host, a default port and dot
/// segments), http(s) only, compared without query and fragment (RFC 9449 §4.3).
fn same_target(htu: &str, url: &str) -> bool {
    let target = |s: &str| {
        JsUrl::parse(s)
            .ok()
            .filter(|u| matches!(u.protocol().as_str(), "http:" | "https:"))
            .map(|u| u.origin() + &u.pathname())
    };
    matches!((target(htu), target(url)), (Some(a), Some(b)) if a == b)
}

/// base64url (unpadded) of the SHA-256 of `data`.
async fn base64url_sha256(data: &[u8]) -> Result<String, Refusal> {
    let digest = subtle::sha256(data)
        .await
        .map_err(|_| Refusal::Unavailable("digest"))?;
    Ok(Base64UrlUnpadded::encode_string(&digest))
}

/// Records the proof `jti` of key `jkt` until `until_ms`; refused if this isolate has seen it.
fn spend(jkt: &str, jti: &str, until_ms: u64, now_ms: u64) -> Result<(), Refusal> {
    if jti.is_empty() || jti.len() > MAX_JTI {
        return Err(Refusal::InvalidProof("jti"));
    }
    let entry = format!("{jkt} {jti}");
    SEEN.with(|seen| {
        let mut seen = seen.borrow_mut();
        if seen.contains_key(&entry) {
            return Err(Refusal::InvalidProof("replay"));
        }
        if seen.len() >= MAX_SEEN {
            seen.retain(|_, until| *until > now_ms);
        }
        if seen.len() >= MAX_SEEN {
            return Err(Refusal::Unavailable("proofs_full"));
        }
        seen.insert(entry, until_ms);
        Ok(())
    })
}
