//! The issuer's public keys, fetched from its JWKS and kept per isolate, and signatures
//! verified with them by the runtime's WebCrypto (`crypto.subtle`, Ed25519 in native code).
//!
//! The set is kept for the lifetime its `Cache-Control: max-age` gives (bounded to
//! [`MIN_LIFETIME`]..[`MAX_LIFETIME`] seconds; [`DEFAULT_LIFETIME`] without one), then fetched
//! again. A token whose `kid` is not in the set makes the isolate fetch it again at once, but
//! at most once per `JWKS_REFETCH_SECONDS` (default 60): a key the issuer has just started to
//! sign with is picked up, and tokens with made-up `kid`s cannot make it fetch in a loop. If a
//! fetch fails, the keys already held stay in use (and the fetch is tried again, at most once
//! a second); with none, requests get 503. Each successful fetch replaces the whole set, so a
//! key the issuer stops publishing stops being trusted.

use std::cell::RefCell;

use serde::Deserialize;
use wasm_bindgen::JsValue;
use worker::{Fetch, Headers, Method, Request, RequestInit};

use crate::{
    answer::Refusal,
    subtle::{self, Algorithm},
    Config,
};

/// Seconds a fetched set is kept when the answer names no `max-age`.
const DEFAULT_LIFETIME: u64 = 300;
/// The shortest lifetime honoured.
const MIN_LIFETIME: u64 = 60;
/// The longest lifetime honoured.
const MAX_LIFETIME: u64 = 3600;
/// Keys taken from one set; the endpoint publishes a few.
const MAX_KEYS: usize = 16;

/// What an isolate holds of the issuer's keys.
#[derive(Default)]
struct Cache {
    /// The JWKS URL the keys came from (a change of configuration starts again).
    url: String,
    /// `kid` → imported CryptoKey.
    keys: Vec<(String, JsValue)>,
    /// Until when (milliseconds since the epoch) the set is fresh.
    fresh_until: u64,
    /// When (milliseconds) the last fetch started, successful or not.
    last_fetch: Option<u64>,
}

thread_local! {
    /// This isolate's keys.
    static CACHE: RefCell<Cache> = RefCell::new(Cache::default());
}

/// One member of the JWKS, as far as it is read.
#[derive(Deserialize)]
struct Jwk {
    /// Key type: `OKP` for Ed25519.
    kty: String,
    /// Curve.
    crv: Option<String>,
    /// The public key, base64url.
    x: Option<String>,
    /// Key id.
    kid: Option<String>,
    /// Intended use, when given: `sig`.
    #[serde(rename = "use")]
    usage: Option<String>,
    /// Algorithm, when given: `EdDSA`.
    alg: Option<String>,
}

/// The JWKS document.
#[derive(Deserialize)]
struct JwkSet {
    /// Its keys.
    keys: Vec<Jwk>,
}

/// Checks `signature` over `input` with the issuer's key `kid`, fetching the set as needed.
pub(crate) async fn verify(
    config: &Config,
    now_ms: u64,
    kid: &str,
    input: &[u8],
    signature: &[u8],
) -> Result<(), Refusal> {
    let mut key = find(kid);
    if should_fetch(config, now_ms, key.is_some()) {
        // A failed fetch leaves the keys held in use.
        if refresh(config, now_ms).await.is_ok() {
            key = find(kid);
        }
    }
    let Some(key) = key else {
        let empty = CACHE.with(|c| c.borrow().keys.is_empty());
        return Err(if empty {
            Refusal::Unavailable("jwks_unavailable")
        } else {
            Refusal::InvalidToken("unknown_kid")
        });
    };
    if subtle::verify(Algorithm::Ed25519, &key, signature, input).await {
        Ok(())
    } else {
        Err(Refusal::InvalidToken("signature"))
    }
}

/// The imported key of `kid`, if the isolate holds it.
fn find(kid: &str) -> Option<JsValue> {
    CACHE.with(|c| {
        c.borrow()
            .keys
            .iter()
            .find(|(k, _)| k == kid)
            .map(|(_, key)| key.clone())
    })
}

/// Whether to fetch the set now: it is stale or lacks the `kid` (`known` false), and the last
/// fetch is old enough (1 s when stale, `refetch_seconds` for an unknown `kid` alone). Marks
/// the fetch as started, so that concurrent requests of the isolate do not fetch too.
fn should_fetch(config: &Config, now_ms: u64, known: bool) -> bool {
    CACHE.with(|c| {
        let mut cache = c.borrow_mut();
        if cache.url != config.jwks_url {
            *cache = Cache {
                url: config.jwks_url.clone(),
                ..Cache::default()
            };
        }
        let stale = now_ms >= cache.fresh_until;
        let since = cache.last_fetch.map(|t| now_ms.saturating_sub(t));
        let due = match since {
            None => true,
            Some(ms) => (stale && ms >= 1000) || (!known && ms >= config.refetch_seconds * 1000),
        };
        let fetch = (stale || !known) && due;
        if fetch {
            cache.last_fetch = Some(now_ms);
        }
        fetch
    })
}

/// Fetches the JWKS and replaces the isolate's keys with its Ed25519 signing keys.
async fn refresh(config: &Config, now_ms: u64) -> Result<(), ()> {
    let headers = Headers::new();
    headers.set("Accept", "application/json").map_err(drop)?;
    let mut init = RequestInit::new();
    init.with_method(Method::Get).with_headers(headers);
    let request = Request::new_with_init(&config.jwks_url, &init).map_err(drop)?;
    let mut response = Fetch::Request(request).send().await.map_err(drop)?;
    if response.status_code() != 200 {
        return Err(());
    }
    let lifetime = max_age(
        response
            .headers()
            .get("Cache-Control")
            .ok()
            .flatten()
            .as_deref(),
    );
    let set: JwkSet = response.json().await.map_err(drop)?;
    let mut keys = Vec::new();
    for jwk in set.keys.iter().filter(|k| usable(k)).take(MAX_KEYS) {
        if let (Some(kid), Ok(key)) = (&jwk.kid, import(jwk).await) {
            keys.push((kid.clone(), key));
        }
    }
    if keys.is_empty() {
        return Err(());
    }
    CACHE.with(|c| {
        let mut cache = c.borrow_mut();
        cache.keys = keys;
        cache.fresh_until = now_ms + lifetime * 1000;
    });
    Ok(())
}

/// Whether a JWK is an Ed25519 signing key with an id.
fn usable(jwk: &Jwk) -> bool {
    jwk.kty == "OKP"
        && jwk.crv.as_deref() == Some("Ed25519")
        && jwk.x.is_some()
        && jwk.kid.is_some()
        && jwk.usage.as_deref().is_none_or(|u| u == "sig")
        && jwk.alg.as_deref().is_none_or(|a| a == "EdDSA")
}

/// The CryptoKey of an Ed25519 public JWK (only its public members are passed on).
async fn import(jwk: &Jwk) -> Result<JsValue, JsValue> {
    let public = serde_json::json!({ "kty": "OKP", "crv": "Ed25519", "x": jwk.x });
    subtle::public_key(&public.to_string(), Algorithm::Ed25519).await
}

/// The lifetime (seconds) a `Cache-Control` value gives, bounded.
fn max_age(cache_control: Option<&str>) -> u64 {
    cache_control
        .into_iter()
        .flat_map(|v| v.split(','))
        .filter_map(|d| d.trim().strip_prefix("max-age="))
        .find_map(|n| n.parse::<u64>().ok())
        .unwrap_or(DEFAULT_LIFETIME)
        .clamp(MIN_LIFETIME, MAX_LIFETIME)
}
