//! The access token's checks (RFC 9068 §4): the `Authorization` header (`Bearer`, or `DPoP`
//! for RFC 9449), the JOSE header (`alg` `EdDSA`, `typ` `at+jwt`, a `kid`), the signature
//! under the issuer's key of that `kid`, then `iss`, `aud`, `exp`, `nbf` and `iat` against the
//! clock, with [`SKEW`] seconds of tolerance. The token's binding (`cnf`) is checked by
//! [`crate::binding`].

use base64ct::{Base64UrlUnpadded, Encoding};
use jwt_compact::UntrustedToken;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::{
    answer::{Refusal, Scheme},
    jwks, Config,
};

/// Seconds of clock difference tolerated between the issuer and this Worker.
pub(crate) const SKEW: u64 = 30;

/// Longest token read; the endpoint's are far shorter (a bound against abuse, not a rule).
const MAX_TOKEN: usize = 8 * 1024;

/// The claims this API reads, once the token is verified.
#[derive(Deserialize)]
pub(crate) struct Claims {
    /// The issuer.
    iss: String,
    /// The audiences: one string or an array of them (RFC 7519 §4.1.3).
    aud: Audience,
    /// Expiry, seconds since the epoch.
    exp: u64,
    /// Not before, when present.
    nbf: Option<u64>,
    /// Issued at (required by RFC 9068).
    iat: u64,
    /// The client the token was issued to.
    pub client_id: String,
    /// The granted scopes, space-separated; absent when none were granted.
    scope: Option<String>,
    /// The key the token is bound to (RFC 7800), when it is: `x5t#S256` or `jkt`.
    pub cnf: Option<Map<String, Value>>,
}

/// `aud` as RFC 7519 allows it.
#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    /// One audience.
    One(String),
    /// Several.
    Many(Vec<String>),
}

impl Claims {
    /// Whether the token grants `scope`.
    pub(crate) fn has_scope(&self, scope: &str) -> bool {
        self.scope
            .as_deref()
            .unwrap_or("")
            .split(' ')
            .any(|s| s == scope)
    }

    /// Whether the token is for `audience`.
    fn is_for(&self, audience: &str) -> bool {
        match &self.aud {
            Audience::One(a) => a == audience,
            Audience::Many(all) => all.iter().any(|a| a == audience),
        }
    }

    /// Which time or identity check fails at `now` (seconds), if any.
    fn refusal(&self, config: &Config, now: u64) -> Option<&'static str> {
        if self.iss != config.issuer {
            Some("issuer")
        } else if !self.is_for(&config.audience) {
            Some("audience")
        } else if now >= self.exp.saturating_add(SKEW) {
            Some("expired")
        } else if self.nbf.is_some_and(|nbf| nbf > now + SKEW) || self.iat > now + SKEW {
            Some("not_yet_valid")
        } else {
            None
        }
    }
}

/// The scheme of an `Authorization` header: `DPoP` (any case), else `Bearer`; the scheme a
/// refusal answers in.
pub(crate) fn scheme(header: Option<&str>) -> Scheme {
    match header.and_then(|h| h.split_once(' ')) {
        Some((scheme, _)) if scheme.eq_ignore_ascii_case("dpop") => Scheme::Dpop,
        _ => Scheme::Bearer,
    }
}

/// The scheme and token of an `Authorization: Bearer` (RFC 6750 §2.1) or `DPoP` (RFC 9449
/// §7.1) header, the scheme in any case.
pub(crate) fn credentials(header: Option<&str>) -> Result<(Scheme, &str), Refusal> {
    let (name, token) = header
        .and_then(|h| h.split_once(' '))
        .ok_or(Refusal::NoToken)?;
    if !name.eq_ignore_ascii_case("bearer") && !name.eq_ignore_ascii_case("dpop") {
        return Err(Refusal::NoToken);
    }
    let token = token.trim_start_matches(' ');
    if token.is_empty() || token.len() > MAX_TOKEN {
        return Err(Refusal::InvalidToken("malformed"));
    }
    Ok((scheme(header), token))
}

/// The token's claims if its header, signature and claims are all acceptable at `now_ms`.
pub(crate) async fn verify(token: &str, config: &Config, now_ms: u64) -> Result<Claims, Refusal> {
    let malformed = Refusal::InvalidToken("malformed");
    let untrusted = UntrustedToken::new(token).map_err(|_| Refusal::InvalidToken("malformed"))?;
    let header = untrusted.header();
    if untrusted.algorithm() != "EdDSA" {
        return Err(Refusal::InvalidToken("algorithm"));
    }
    // RFC 9068 §4: "at+jwt", or the same media type in full; media types ignore case.
    let typ = header.token_type.as_deref().unwrap_or("");
    if !typ.eq_ignore_ascii_case("at+jwt") && !typ.eq_ignore_ascii_case("application/at+jwt") {
        return Err(Refusal::InvalidToken("type"));
    }
    let kid = header
        .key_id
        .as_deref()
        .ok_or(Refusal::InvalidToken("no_kid"))?;
    let (signed, _) = token.rsplit_once('.').ok_or(malformed)?;
    jwks::verify(
        config,
        now_ms,
        kid,
        signed.as_bytes(),
        untrusted.signature_bytes(),
    )
    .await?;
    // The payload read directly: jwt-compact's own claims type would take `exp`, `nbf` and
    // `iat` for itself (as chrono times).
    let payload = signed.split_once('.').map(|(_, p)| p).unwrap_or_default();
    let claims: Claims = Base64UrlUnpadded::decode_vec(payload)
        .ok()
        .and_then(|json| serde_json::from_slice(&json).ok())
        .ok_or(Refusal::InvalidToken("claims"))?;
    match claims.refusal(config, now_ms / 1000) {
        Some(reason) => Err(Refusal::InvalidToken(reason)),
        None => Ok(claims),
    }
}
