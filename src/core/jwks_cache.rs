//! `jwks_uri` (RFC 7591 §2): public keys fetched from a URL instead of stored in a record, and
//! the per-isolate cache that bounds how often, how much and how long they are fetched and kept.
//!
//! The policy, per URL:
//! - a set younger than [`REFRESH_AFTER_MS`] that has the key an assertion names is used as is;
//! - an assertion naming a `kid` the set lacks (a key rotation) fetches the URL again, but at
//!   most once per [`MIN_REFETCH_MS`]: a flood of assertions naming made-up kids costs the
//!   key's publisher one request a minute per isolate, and finds the cached set (`unknown_kid`);
//! - an older set, or none, is fetched again, at most once per [`MIN_REFETCH_MS`] whatever
//!   the outcome (a URL that is down is not asked more often);
//! - when no fetch is allowed, or the fetch fails, a set younger than [`MAX_AGE_MS`] is still
//!   used; with none, the answer is 503 with `Retry-After` (never an unchecked assertion);
//! - the cache holds at most [`MAX_ENTRIES`] URLs and [`MAX_CACHE_BYTES`] of fetched sets,
//!   forgetting the least recently fetched first; one set is at most [`MAX_JWKS_BYTES`].
//!
//! The fetch itself is the edge's ([`JwksFetcher`]: no redirect followed, the size capped, a
//! timeout). A fetch in flight counts as the minute's attempt: a concurrent request in the same
//! isolate uses the cached set, or gets the 503, rather than fetching too. Pure: the time is
//! passed in.

use std::{cell::RefCell, rc::Rc};

use super::jwk::{remote_keys, PublicKey};

/// The longest `jwks_uri` accepted.
pub const MAX_JWKS_URI_CHARS: usize = 2_048;
/// The largest JWK Set body read; a longer answer is a failed fetch.
pub const MAX_JWKS_BYTES: usize = 64 * 1024;
/// URLs an isolate's cache remembers (per tenant).
pub const MAX_ENTRIES: usize = 32;
/// Bytes of fetched sets an isolate's cache keeps (per tenant).
pub const MAX_CACHE_BYTES: usize = 512 * 1024;
/// A set younger than this is used without asking its URL again (for a known `kid`).
pub const REFRESH_AFTER_MS: u64 = 5 * 60_000;
/// A set older than this is never used: when its URL cannot be fetched, 503.
pub const MAX_AGE_MS: u64 = 60 * 60_000;
/// At most one fetch of a URL per this long, per isolate.
pub const MIN_REFETCH_MS: u64 = 60_000;
/// How long the edge waits for a fetch.
pub const FETCH_TIMEOUT_MS: u32 = 5_000;

/// Whether `uri` may be a `jwks_uri`: `https://` with a host, no user info and no fragment,
/// printable ASCII, at most [`MAX_JWKS_URI_CHARS`]. `http://` only to a loopback host
/// (`127.0.0.1`, `[::1]`, `localhost`), for tests and local development: a deployed Worker
/// cannot reach its own loopback, so such a client simply fails there.
pub fn is_valid_jwks_uri(uri: &str) -> bool {
    if uri.len() > MAX_JWKS_URI_CHARS
        || !uri.bytes().all(|b| b.is_ascii_graphic())
        || uri.contains('#')
    {
        return false;
    }
    let (secure, rest) = match (uri.strip_prefix("https://"), uri.strip_prefix("http://")) {
        (Some(rest), _) => (true, rest),
        (None, Some(rest)) => (false, rest),
        _ => return false,
    };
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    if authority.is_empty() || authority.contains('@') {
        return false;
    }
    secure || is_loopback(authority)
}

/// Whether an authority (`host[:port]`) names the loopback host.
fn is_loopback(authority: &str) -> bool {
    let host = match authority.strip_prefix("[::1]") {
        Some(port) => return port.is_empty() || is_port(port),
        None => authority.split(':').next().unwrap_or_default(),
    };
    let port = &authority[host.len()..];
    matches!(host, "127.0.0.1" | "localhost") && (port.is_empty() || is_port(port))
}

/// `:` and 1-5 digits.
fn is_port(text: &str) -> bool {
    text.strip_prefix(':')
        .is_some_and(|d| (1..=5).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()))
}

/// A fetch that gave no JWK Set: unreachable, a status other than 200, a redirect, too large.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchFailed;

/// Fetches a `jwks_uri`. Only the edge implements it over the runtime's `fetch`.
#[allow(async_fn_in_trait)] // Workers are single-threaded: no `Send` bound wanted.
pub trait JwksFetcher {
    /// The body of a 200 answer to `GET uri`, at most [`MAX_JWKS_BYTES`].
    async fn fetch_jwks(&self, uri: &str) -> Result<Vec<u8>, FetchFailed>;
}

/// Natively (tests, benchmarks) nothing is fetched: a `jwks_uri` client's keys are
/// unavailable there, and its black-box tests run the Worker.
#[cfg(not(target_arch = "wasm32"))]
impl JwksFetcher for crate::core::sign::NativeSigner {
    async fn fetch_jwks(&self, _uri: &str) -> Result<Vec<u8>, FetchFailed> {
        Err(FetchFailed)
    }
}

/// The keys of a URL's set, shared by the requests that use them.
pub type Keys = Rc<Vec<PublicKey>>;

/// What to do for a request that needs a URL's keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Use these keys.
    Use(Keys),
    /// Fetch the URL (the attempt is counted), then call [`JwksCache::fetched`].
    Fetch,
    /// No keys to use: 503, retry after this many seconds.
    Unavailable {
        /// Seconds until this isolate will fetch the URL again.
        retry_after_s: u64,
    },
}

/// One URL's cached set and when it was fetched and last asked for.
#[derive(Debug)]
struct Entry {
    uri: String,
    keys: Option<Keys>,
    bytes: usize,
    fetched_ms: u64,
    attempted_ms: Option<u64>,
    unknown_kid_ms: Option<u64>,
}

impl Entry {
    /// A URL first asked for at `now_ms`: its fetch starts.
    fn new(uri: &str, now_ms: u64) -> Self {
        Self {
            uri: uri.to_owned(),
            keys: None,
            bytes: uri.len(),
            fetched_ms: 0,
            attempted_ms: Some(now_ms),
            unknown_kid_ms: None,
        }
    }

    /// The keys while not older than [`MAX_AGE_MS`], else 503 until the next allowed fetch.
    fn fallback(&self, now_ms: u64) -> Plan {
        match &self.keys {
            Some(keys) if now_ms < self.fetched_ms.saturating_add(MAX_AGE_MS) => {
                Plan::Use(keys.clone())
            }
            _ => {
                let next = self.attempted_ms.unwrap_or(now_ms) + MIN_REFETCH_MS;
                Plan::Unavailable {
                    retry_after_s: next.saturating_sub(now_ms).div_ceil(1000).max(1),
                }
            }
        }
    }

    /// Whether a fetch may start at `now_ms` after one started at `last`.
    fn minute_since(last: Option<u64>, now_ms: u64) -> bool {
        last.is_none_or(|at| now_ms >= at.saturating_add(MIN_REFETCH_MS))
    }
}

/// The fetched sets of an isolate (one cache per tenant), bounded as the module says.
#[derive(Debug, Default)]
pub struct JwksCache(RefCell<Vec<Entry>>);

impl JwksCache {
    /// Decides for a request at `now_ms` that needs `uri`'s keys; `has_key` tells whether a set
    /// has the key the request names. [`Plan::Fetch`] counts as the URL's attempt.
    pub fn plan(&self, uri: &str, has_key: impl Fn(&[PublicKey]) -> bool, now_ms: u64) -> Plan {
        let mut entries = self.0.borrow_mut();
        let Some(entry) = entries.iter_mut().find(|e| e.uri == uri) else {
            entries.push(Entry::new(uri, now_ms));
            evict(&mut entries, uri);
            return Plan::Fetch;
        };
        let fresh = entry
            .keys
            .as_ref()
            .filter(|_| now_ms < entry.fetched_ms.saturating_add(REFRESH_AFTER_MS));
        match fresh {
            Some(keys) if has_key(keys) => Plan::Use(keys.clone()),
            Some(_) if Entry::minute_since(entry.unknown_kid_ms, now_ms) => {
                entry.unknown_kid_ms = Some(now_ms);
                entry.attempted_ms = Some(now_ms);
                Plan::Fetch
            }
            None if Entry::minute_since(entry.attempted_ms, now_ms) => {
                entry.attempted_ms = Some(now_ms);
                Plan::Fetch
            }
            _ => entry.fallback(now_ms),
        }
    }

    /// Records the outcome of the fetch [`Self::plan`] asked for: a JWK Set replaces the
    /// cached one; anything else leaves it, and the answer is [`Entry::fallback`]'s.
    pub fn fetched(&self, uri: &str, body: Result<&[u8], FetchFailed>, now_ms: u64) -> Plan {
        let keys = body.ok().and_then(|b| Some((remote_keys(b)?, b.len())));
        let mut entries = self.0.borrow_mut();
        let index = match entries.iter().position(|e| e.uri == uri) {
            Some(index) => index,
            None => {
                entries.push(Entry::new(uri, now_ms));
                entries.len() - 1
            }
        };
        let entry = &mut entries[index];
        let Some((keys, bytes)) = keys else {
            return entry.fallback(now_ms);
        };
        let keys = Rc::new(keys);
        entry.keys = Some(keys.clone());
        entry.bytes = uri.len() + bytes;
        entry.fetched_ms = now_ms;
        evict(&mut entries, uri);
        Plan::Use(keys)
    }

    /// URLs cached and the bytes they hold (for tests and the log).
    pub fn size(&self) -> (usize, usize) {
        let entries = self.0.borrow();
        (entries.len(), entries.iter().map(|e| e.bytes).sum())
    }
}

/// Forgets the least recently fetched URLs but `keep` until the bounds hold.
fn evict(entries: &mut Vec<Entry>, keep: &str) {
    let over = |entries: &Vec<Entry>| {
        entries.len() > MAX_ENTRIES
            || entries.iter().map(|e| e.bytes).sum::<usize>() > MAX_CACHE_BYTES
    };
    while over(entries) {
        let oldest = entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.uri != keep)
            .min_by_key(|(_, e)| (e.keys.is_some(), e.fetched_ms))
            .map(|(i, _)| i);
        match oldest {
            Some(i) => entries.swap_remove(i),
            None => break,
        };
    }
}

/// The keys of `uri` for a request at `now_ms`: cached, or fetched by `fetcher` as the policy
/// allows. `Err` carries the `Retry-After` seconds of a 503.
pub async fn keys_for<F: JwksFetcher>(
    cache: &JwksCache,
    fetcher: &F,
    uri: &str,
    has_key: impl Fn(&[PublicKey]) -> bool,
    now_ms: u64,
) -> Result<Keys, u64> {
    let plan = match cache.plan(uri, has_key, now_ms) {
        Plan::Fetch => {
            let body = fetcher.fetch_jwks(uri).await;
            cache.fetched(uri, body.as_deref().map_err(|e| *e), now_ms)
        }
        other => other,
    };
    match plan {
        Plan::Use(keys) => Ok(keys),
        Plan::Unavailable { retry_after_s } => Err(retry_after_s),
        Plan::Fetch => Err(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::jwk::tests::RFC8037_X;

    const URI: &str = "https://keys.example/jwks.json";
    const T: u64 = 1_800_000_000_000;

    fn set(kids: &[&str]) -> Vec<u8> {
        let keys: Vec<_> = kids
            .iter()
            .map(|kid| serde_json::json!({ "kty": "OKP", "crv": "Ed25519", "x": RFC8037_X, "kid": kid }))
            .collect();
        serde_json::json!({ "keys": keys }).to_string().into_bytes()
    }

    fn has(kid: &'static str) -> impl Fn(&[PublicKey]) -> bool {
        move |keys| keys.iter().any(|k| k.kid.as_deref() == Some(kid))
    }

    fn kids(plan: &Plan) -> Vec<String> {
        match plan {
            Plan::Use(keys) => keys.iter().filter_map(|k| k.kid.clone()).collect(),
            other => panic!("expected keys, got {other:?}"),
        }
    }

    /// A cache that fetched `kids` at `T`.
    fn cached(kids: &[&str]) -> JwksCache {
        let cache = JwksCache::default();
        assert_eq!(cache.plan(URI, has("a"), T), Plan::Fetch);
        cache.fetched(URI, Ok(&set(kids)), T);
        cache
    }

    #[test]
    fn only_https_or_loopback_http_urls_are_jwks_uris() {
        for good in [
            "https://keys.example/jwks.json",
            "https://keys.example:8443/a?b=c",
            "http://127.0.0.1:8080/jwks",
            "http://localhost/jwks",
            "http://[::1]:9/jwks",
        ] {
            assert!(is_valid_jwks_uri(good), "{good}");
        }
        for bad in [
            "http://keys.example/jwks",
            "http://127.0.0.1.evil.example/jwks",
            "http://localhost.evil.example/",
            "http://127.0.0.1:80x/",
            "https://user@keys.example/",
            "https://keys.example/#frag",
            "https:///path",
            "https://keys.example/a b",
            "ftp://keys.example/",
            "keys.example/jwks",
            "",
        ] {
            assert!(!is_valid_jwks_uri(bad), "{bad}");
        }
        let long = format!("https://k.example/{}", "a".repeat(MAX_JWKS_URI_CHARS));
        assert!(!is_valid_jwks_uri(&long));
    }

    #[test]
    fn a_fresh_set_with_the_kid_is_used_without_a_fetch() {
        let cache = cached(&["a"]);
        let plan = cache.plan(URI, has("a"), T + REFRESH_AFTER_MS - 1);
        assert_eq!(kids(&plan), ["a"]);
    }

    #[test]
    fn an_unknown_kid_refetches_at_most_once_a_minute() {
        let cache = cached(&["a"]);
        // A rotation: b is new, fetched at once.
        assert_eq!(cache.plan(URI, has("b"), T + 1_000), Plan::Fetch);
        let after = cache.fetched(URI, Ok(&set(&["a", "b"])), T + 1_000);
        assert_eq!(kids(&after), ["a", "b"]);
        // Made-up kids: no fetch for a minute, the cached set answers (unknown_kid).
        assert_eq!(kids(&cache.plan(URI, has("zz"), T + 2_000)), ["a", "b"]);
        assert_eq!(kids(&cache.plan(URI, has("b"), T + 2_000)), ["a", "b"]);
        assert_eq!(kids(&cache.plan(URI, has("zz"), T + 60_999)), ["a", "b"]);
        assert_eq!(cache.plan(URI, has("zz"), T + 61_000), Plan::Fetch);
        // While it is down, an unknown kid finds the cached set, not a 503.
        assert_eq!(
            kids(&cache.fetched(URI, Err(FetchFailed), T + 61_000)),
            ["a", "b"]
        );
    }

    #[test]
    fn a_failed_fetch_answers_from_a_set_until_its_max_age_then_503() {
        let cache = cached(&["a"]);
        let stale = T + REFRESH_AFTER_MS;
        assert_eq!(cache.plan(URI, has("a"), stale), Plan::Fetch);
        assert_eq!(kids(&cache.fetched(URI, Err(FetchFailed), stale)), ["a"]);
        // Within the minute: no new attempt, the old set still answers.
        assert_eq!(kids(&cache.plan(URI, has("a"), stale + 1_000)), ["a"]);
        let old = T + MAX_AGE_MS;
        assert_eq!(cache.plan(URI, has("a"), old), Plan::Fetch);
        assert_eq!(
            cache.fetched(URI, Err(FetchFailed), old),
            Plan::Unavailable { retry_after_s: 60 }
        );
        assert_eq!(
            cache.plan(URI, has("a"), old + 30_500),
            Plan::Unavailable { retry_after_s: 30 }
        );
    }

    #[test]
    fn a_url_never_fetched_is_unavailable_until_its_next_attempt() {
        let cache = JwksCache::default();
        assert_eq!(cache.plan(URI, has("a"), T), Plan::Fetch);
        // A concurrent request while the fetch is in flight does not fetch again.
        assert_eq!(
            cache.plan(URI, has("a"), T + 10),
            Plan::Unavailable { retry_after_s: 60 }
        );
        assert_eq!(
            cache.fetched(URI, Err(FetchFailed), T + 2_000),
            Plan::Unavailable { retry_after_s: 58 }
        );
        assert_eq!(
            cache.fetched(URI, Ok(b"{\"not\":\"a set\"}"), T + 2_000),
            Plan::Unavailable { retry_after_s: 58 },
            "a body that is no JWK Set is a failed fetch"
        );
        assert_eq!(cache.plan(URI, has("a"), T + MIN_REFETCH_MS), Plan::Fetch);
    }

    #[test]
    fn the_cache_is_bounded_in_urls_and_bytes() {
        let cache = JwksCache::default();
        for i in 0..MAX_ENTRIES + 5 {
            let uri = format!("https://k{i}.example/jwks");
            assert_eq!(cache.plan(&uri, has("a"), T + i as u64), Plan::Fetch);
            cache.fetched(&uri, Ok(&set(&["a"])), T + i as u64);
        }
        assert_eq!(cache.size().0, MAX_ENTRIES);
        // The oldest went first: k0 must be fetched again.
        assert_eq!(
            cache.plan("https://k0.example/jwks", has("a"), T + 100),
            Plan::Fetch
        );
        let big = format!(
            "{{\"keys\":[],\"pad\":\"{}\"}}",
            "x".repeat(MAX_JWKS_BYTES - 100)
        );
        for i in 0..20 {
            let uri = format!("https://big{i}.example/jwks");
            cache.plan(&uri, has("a"), T + 200);
            cache.fetched(&uri, Ok(big.as_bytes()), T + 200);
        }
        let (entries, bytes) = cache.size();
        assert!(bytes <= MAX_CACHE_BYTES, "{bytes} bytes");
        assert!(entries <= MAX_ENTRIES);
    }

    /// A fetcher that counts its calls and answers `body`.
    struct Fake {
        calls: RefCell<u32>,
        body: Result<Vec<u8>, FetchFailed>,
    }

    impl JwksFetcher for Fake {
        async fn fetch_jwks(&self, _: &str) -> Result<Vec<u8>, FetchFailed> {
            *self.calls.borrow_mut() += 1;
            self.body.clone()
        }
    }

    #[test]
    fn keys_for_fetches_once_and_then_answers_from_the_cache() {
        let cache = JwksCache::default();
        let fake = Fake {
            calls: RefCell::new(0),
            body: Ok(set(&["a"])),
        };
        let run = |now| {
            futures_lite_block_on(keys_for(&cache, &fake, URI, has("a"), now)).map(|k| k.len())
        };
        assert_eq!(run(T), Ok(1));
        assert_eq!(run(T + 1), Ok(1));
        assert_eq!(*fake.calls.borrow(), 1);
        let down = Fake {
            calls: RefCell::new(0),
            body: Err(FetchFailed),
        };
        let never = JwksCache::default();
        let result = futures_lite_block_on(keys_for(&never, &down, URI, has("a"), T));
        assert_eq!(result, Err(60));
    }

    /// Runs a future that never waits (the fakes answer at once).
    fn futures_lite_block_on<F: std::future::Future>(future: F) -> F::Output {
        use std::task::{Context, Poll, Waker};
        let mut future = std::pin::pin!(future);
        let mut cx = Context::from_waker(Waker::noop());
        match future.as_mut().poll(&mut cx) {
            Poll::Ready(out) => out,
            Poll::Pending => panic!("the fake fetcher never waits"),
        }
    }
}
