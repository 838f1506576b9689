//! `private_key_jwt` client authentication (RFC 7523 §2.2 and §3, RFC 7521 §4.2): reading a
//! client assertion, and every check of it but the signature's and the `jti`'s single use
//! (which need the [`crate::core::jwk::Verifier`] and the client's guard object).
//!
//! Pure: the time is passed in. Every refusal is a [`Check`], which the log names and the
//! caller never sees: all of them are the same `invalid_client` as a wrong secret.

use std::fmt;

use base64ct::{Base64UrlUnpadded, Encoding};
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::jwk::{Alg, ClientKeys};

/// The only `client_assertion_type` (RFC 7523 §2.2).
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// The longest assertion read (the whole body is capped at the same size).
pub const MAX_ASSERTION_BYTES: usize = 8 * 1024;
/// Seconds of clock difference tolerated on `exp`, `nbf` and `iat`.
pub const CLOCK_SKEW_S: u64 = 30;
/// The longest an assertion may live: `exp` at most this long after `iat` and after now.
pub const MAX_LIFETIME_S: u64 = 300;
/// The longest `jti` accepted.
pub const MAX_JTI_CHARS: usize = 256;

/// Which check refused an assertion: the log's `reason`, never the caller's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// Not three base64url parts, not JSON objects, a claim repeated or of the wrong type.
    Malformed,
    /// `client_assertion_type` missing or not [`ASSERTION_TYPE`], or no `client_assertion`.
    TypeUnsupported,
    /// The client authenticates with a secret and sent an assertion, or the reverse.
    MethodMismatch,
    /// The header has `crit`: no extension is understood.
    Crit,
    /// `alg` is not the one the client is pinned to.
    Alg,
    /// No key of the client has the header's `kid` (or several and no `kid`).
    UnknownKid,
    /// The signature does not verify.
    Signature,
    /// `iss` is not the client id.
    Issuer,
    /// `sub` is not the client id (or not the body's `client_id`).
    Subject,
    /// `aud` names neither the tenant's issuer nor its token endpoint.
    Audience,
    /// No `exp`.
    NoExpiry,
    /// `exp` has passed.
    Expired,
    /// `exp` is more than [`MAX_LIFETIME_S`] after `iat` or now.
    TooLong,
    /// `nbf` is in the future.
    NotYetValid,
    /// `iat` is in the future.
    IssuedInFuture,
    /// No `jti`, or one too long.
    NoJti,
    /// The `jti` was used before.
    Replayed,
    /// Federated: the token's `iss` is not the trusted issuer the client names.
    IssuerNotTrusted,
    /// Federated: the token's `sub` is not the one the client accepts.
    SubjectMismatch,
    /// Federated: a claim the client requires is missing or has another value.
    ClaimMismatch,
}

impl Check {
    /// The log's name of the check.
    pub fn reason(self) -> &'static str {
        match self {
            Self::Malformed => "assertion_malformed",
            Self::TypeUnsupported => "assertion_type_unsupported",
            Self::MethodMismatch => "auth_method_mismatch",
            Self::Crit => "assertion_crit",
            Self::Alg => "assertion_alg",
            Self::UnknownKid => "unknown_kid",
            Self::Signature => "assertion_signature",
            Self::Issuer => "assertion_issuer",
            Self::Subject => "assertion_subject",
            Self::Audience => "assertion_audience",
            Self::NoExpiry => "assertion_no_exp",
            Self::Expired => "assertion_expired",
            Self::TooLong => "assertion_lifetime",
            Self::NotYetValid => "assertion_not_yet_valid",
            Self::IssuedInFuture => "assertion_issued_in_future",
            Self::NoJti => "assertion_no_jti",
            Self::Replayed => "assertion_replayed",
            Self::IssuerNotTrusted => "issuer_not_trusted",
            Self::SubjectMismatch => "subject_mismatch",
            Self::ClaimMismatch => "claim_mismatch",
        }
    }
}

/// A JSON object whose members are all distinct (RFC 7519 §4: a JWT with a repeated claim
/// name must be rejected, or read as its last one; we reject).
struct UniqueObject(Map<String, Value>);

impl<'de> Deserialize<'de> for UniqueObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Members;
        impl<'de> Visitor<'de> for Members {
            type Value = UniqueObject;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object without repeated members")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<UniqueObject, A::Error> {
                let mut map = Map::new();
                while let Some((name, value)) = access.next_entry::<String, Value>()? {
                    if map.insert(name, value).is_some() {
                        return Err(serde::de::Error::custom("a repeated member"));
                    }
                }
                Ok(UniqueObject(map))
            }
        }
        deserializer.deserialize_map(Members)
    }
}

/// The three parts of a compact JWS (RFC 7515 §7.1), still base64url: header, payload and
/// signature; `None` unless there are exactly three. Every JWS this endpoint reads starts
/// here: client assertions, DPoP proofs (`core::dpop`) and its own tokens at introspection.
pub(crate) fn compact_parts(text: &str) -> Option<(&str, &str, &str)> {
    let mut parts = text.split('.');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(header), Some(payload), Some(signature), None) => Some((header, payload, signature)),
        _ => None,
    }
}

/// A base64url part decoded and read as a JSON object without repeated members.
pub(crate) fn object(part: &str) -> Result<Map<String, Value>, Check> {
    let bytes = Base64UrlUnpadded::decode_vec(part).map_err(|_| Check::Malformed)?;
    crate::core::json::parse::<UniqueObject>(&bytes)
        .map(|o| o.0)
        .map_err(|_| Check::Malformed)
}

/// An optional string member; another type is malformed.
pub(crate) fn string(map: &Map<String, Value>, name: &str) -> Result<Option<String>, Check> {
    match map.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(Check::Malformed),
    }
}

/// An optional NumericDate (RFC 7519 §2: seconds, maybe fractional), floored.
pub(crate) fn date(map: &Map<String, Value>, name: &str) -> Result<Option<u64>, Check> {
    match map.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => match (n.as_u64(), n.as_f64()) {
            (Some(whole), _) => Ok(Some(whole)),
            (None, Some(f)) if (0.0..1e15).contains(&f) => Ok(Some(f as u64)),
            _ => Err(Check::Malformed),
        },
        Some(_) => Err(Check::Malformed),
    }
}

/// `aud`: one string or an array of strings (RFC 7519 §4.1.3).
fn audience(map: &Map<String, Value>) -> Result<Vec<String>, Check> {
    match map.get("aud") {
        None => Ok(Vec::new()),
        Some(Value::String(one)) => Ok(vec![one.clone()]),
        Some(Value::Array(many)) => many
            .iter()
            .map(|a| a.as_str().map(str::to_owned).ok_or(Check::Malformed))
            .collect(),
        Some(_) => Err(Check::Malformed),
    }
}

/// The header members read; `jku`, `x5u`, `jwk` and `x5c` are ignored, never fetched or
/// trusted: the client's keys come from its record only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// `alg`.
    pub alg: String,
    /// `kid`.
    pub kid: Option<String>,
    /// Whether `crit` is present.
    pub crit: bool,
}

/// The claims read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// `iss`.
    pub iss: Option<String>,
    /// `sub`.
    pub sub: Option<String>,
    /// `aud`, as a list.
    pub aud: Vec<String>,
    /// `exp`.
    pub exp: Option<u64>,
    /// `nbf`.
    pub nbf: Option<u64>,
    /// `iat`.
    pub iat: Option<u64>,
    /// `jti`.
    pub jti: Option<String>,
    /// Every claim, as sent (what a federated client's required claims are matched against).
    pub all: Map<String, Value>,
}

impl Claims {
    /// The time checks at `now` (Unix seconds), with [`CLOCK_SKEW_S`] of skew: `exp` present
    /// and not past, `iat` not in the future, at most `max_lifetime_s` from `iat` (or now) to
    /// `exp`, and `nbf` honoured.
    pub fn check_times(&self, now: u64, max_lifetime_s: u64) -> Result<(), Check> {
        let exp = self.exp.ok_or(Check::NoExpiry)?;
        if exp.saturating_add(CLOCK_SKEW_S) <= now {
            return Err(Check::Expired);
        }
        if self.iat.is_some_and(|iat| iat > now + CLOCK_SKEW_S) {
            return Err(Check::IssuedInFuture);
        }
        let start = self.iat.unwrap_or(now).min(now);
        if exp > start + max_lifetime_s + CLOCK_SKEW_S {
            return Err(Check::TooLong);
        }
        if self.nbf.is_some_and(|nbf| nbf > now + CLOCK_SKEW_S) {
            return Err(Check::NotYetValid);
        }
        Ok(())
    }
}

/// A client assertion, read but not yet checked.
#[derive(Clone, PartialEq, Eq)]
pub struct Assertion {
    /// Its JOSE header.
    pub header: Header,
    /// Its claims.
    pub claims: Claims,
    /// `base64url(header) "." base64url(claims)`: what the signature covers.
    pub signing_input: String,
    /// The decoded signature.
    pub signature: Vec<u8>,
}

impl fmt::Debug for Assertion {
    /// Never the assertion itself: it may be replayed by whoever reads it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Assertion(..)")
    }
}

impl Assertion {
    /// Reads a compact JWS (RFC 7515 §7.1): three base64url parts, a header and claims that
    /// are JSON objects without repeated members, the members we read of the right types.
    pub fn parse(text: &str) -> Result<Self, Check> {
        if text.len() > MAX_ASSERTION_BYTES {
            return Err(Check::Malformed);
        }
        let (header_b64, claims_b64, signature) = compact_parts(text).ok_or(Check::Malformed)?;
        let header_map = object(header_b64)?;
        let claims_map = object(claims_b64)?;
        let signature = Base64UrlUnpadded::decode_vec(signature).map_err(|_| Check::Malformed)?;
        let header = Header {
            alg: string(&header_map, "alg")?.ok_or(Check::Malformed)?,
            kid: string(&header_map, "kid")?,
            crit: header_map.contains_key("crit"),
        };
        let claims = Claims {
            iss: string(&claims_map, "iss")?,
            sub: string(&claims_map, "sub")?,
            aud: audience(&claims_map)?,
            exp: date(&claims_map, "exp")?,
            nbf: date(&claims_map, "nbf")?,
            iat: date(&claims_map, "iat")?,
            jti: string(&claims_map, "jti")?,
            all: claims_map,
        };
        Ok(Self {
            header,
            claims,
            signing_input: format!("{header_b64}.{claims_b64}"),
            signature,
        })
    }

    /// The header's checks that need no key: no `crit`, and `alg` the pinned one (made before
    /// a `jwks_uri` is fetched, so a wrong header costs no fetch).
    pub fn check_alg(&self, alg: Alg) -> Result<(), Check> {
        if self.header.crit {
            return Err(Check::Crit);
        }
        if self.header.alg != alg.name() {
            return Err(Check::Alg);
        }
        Ok(())
    }

    /// The header's checks against the client's keys: no `crit`, the pinned `alg`, a known
    /// `kid`. Answers the key's index.
    pub fn check_header(&self, keys: &ClientKeys) -> Result<usize, Check> {
        self.check_alg(keys.alg)?;
        let key = keys
            .select(self.header.kid.as_deref())
            .ok_or(Check::UnknownKid)?;
        keys.keys
            .iter()
            .position(|k| std::ptr::eq(k, key))
            .ok_or(Check::UnknownKid)
    }

    /// The claims' checks (RFC 7523 §3) at `now` (Unix seconds), for `client_id`, whose
    /// tenant is known by the URLs in `audiences` (its issuer, its token endpoints).
    pub fn check_claims(&self, client_id: &str, audiences: &[&str], now: u64) -> Result<(), Check> {
        let c = &self.claims;
        if c.iss.as_deref() != Some(client_id) {
            return Err(Check::Issuer);
        }
        if c.sub.as_deref() != Some(client_id) {
            return Err(Check::Subject);
        }
        if !c.aud.iter().any(|a| audiences.contains(&a.as_str())) {
            return Err(Check::Audience);
        }
        c.check_times(now, MAX_LIFETIME_S)?;
        match &c.jti {
            Some(jti) if (1..=MAX_JTI_CHARS).contains(&jti.len()) => Ok(()),
            _ => Err(Check::NoJti),
        }
    }

    /// What the client's guard object keeps of the `jti`: the first 96 bits of its SHA-256,
    /// base64url (16 characters), so the state stays small whatever the client sends.
    pub fn jti_digest(&self) -> String {
        let jti = self.claims.jti.as_deref().unwrap_or_default();
        let digest = Sha256::digest(jti.as_bytes());
        Base64UrlUnpadded::encode_string(&digest[..12])
    }

    /// Unix ms until which the `jti` must be remembered: the latest instant its assertion
    /// could still be accepted.
    pub fn remember_until_ms(&self) -> u64 {
        let exp = self.claims.exp.unwrap_or_default();
        exp.saturating_add(CLOCK_SKEW_S).saturating_mul(1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::jwk::tests::RFC8037_X;
    use serde_json::json;

    const NOW: u64 = 1_800_000_000;
    const ISSUER: &str = "https://issuer.test";
    const ENDPOINT: &str = "https://issuer.test/oauth2/token";

    fn b64(value: &str) -> String {
        Base64UrlUnpadded::encode_string(value.as_bytes())
    }

    fn jws(header: &str, claims: &str) -> String {
        format!("{}.{}.{}", b64(header), b64(claims), b64("sig"))
    }

    fn claims() -> Value {
        json!({ "iss": "svc", "sub": "svc", "aud": ISSUER, "iat": NOW, "exp": NOW + 60, "jti": "j1" })
    }

    fn with(change: impl FnOnce(&mut Map<String, Value>)) -> Assertion {
        let mut c = claims();
        if let Some(map) = c.as_object_mut() {
            change(map);
        }
        Assertion::parse(&jws(r#"{"alg":"EdDSA"}"#, &c.to_string())).unwrap()
    }

    fn check(assertion: &Assertion) -> Result<(), Check> {
        assertion.check_claims("svc", &[ISSUER, ENDPOINT], NOW)
    }

    #[test]
    fn a_good_assertion_passes_every_claim_check() {
        let good = with(|_| {});
        assert_eq!(check(&good), Ok(()));
        assert_eq!(good.signature, b"sig");
        assert!(good.signing_input.ends_with(&b64(&claims().to_string())));
        let to_endpoint = with(|c| {
            c.insert("aud".into(), json!(["https://other", ENDPOINT]));
        });
        assert_eq!(check(&to_endpoint), Ok(()));
    }

    #[test]
    fn each_claim_check_names_its_reason() {
        let cases: [(&str, Value, Check); 10] = [
            ("iss", json!("other"), Check::Issuer),
            ("sub", json!("other"), Check::Subject),
            ("aud", json!("https://issuer.test/"), Check::Audience),
            ("aud", json!([]), Check::Audience),
            ("exp", json!(NOW - CLOCK_SKEW_S), Check::Expired),
            (
                "exp",
                json!(NOW + MAX_LIFETIME_S + CLOCK_SKEW_S + 1),
                Check::TooLong,
            ),
            ("iat", json!(NOW + CLOCK_SKEW_S + 1), Check::IssuedInFuture),
            ("nbf", json!(NOW + CLOCK_SKEW_S + 1), Check::NotYetValid),
            ("jti", json!(""), Check::NoJti),
            ("jti", json!("x".repeat(MAX_JTI_CHARS + 1)), Check::NoJti),
        ];
        for (name, value, expected) in cases {
            let a = with(|c| {
                c.insert(name.into(), value.clone());
            });
            assert_eq!(check(&a), Err(expected), "{name} = {value}");
        }
        for (name, expected) in [
            ("exp", Check::NoExpiry),
            ("jti", Check::NoJti),
            ("iss", Check::Issuer),
        ] {
            let a = with(|c| {
                c.remove(name);
            });
            assert_eq!(check(&a), Err(expected), "without {name}");
        }
    }

    #[test]
    fn the_lifetime_counts_from_iat_and_from_now() {
        // Issued long ago with a long lifetime: refused even though exp is near.
        let old = with(|c| {
            c.insert("iat".into(), json!(NOW - 3_600));
        });
        assert_eq!(check(&old), Err(Check::TooLong));
        let no_iat = with(|c| {
            c.remove("iat");
            c.insert("exp".into(), json!(NOW + MAX_LIFETIME_S));
        });
        assert_eq!(check(&no_iat), Ok(()));
        let fractional = with(|c| {
            c.insert("exp".into(), json!(NOW as f64 + 10.5));
        });
        assert_eq!(fractional.claims.exp, Some(NOW + 10));
    }

    #[test]
    fn malformed_assertions_are_refused_before_any_check() {
        let good_claims = claims().to_string();
        let bad = [
            "a.b".to_owned(),
            "a.b.c.d".to_owned(),
            format!("{}.{}.!!", b64(r#"{"alg":"EdDSA"}"#), b64(&good_claims)),
            format!("{}.{}.{}", b64("not json"), b64(&good_claims), b64("s")),
            jws(r#"["alg"]"#, &good_claims),
            jws(r#"{"alg":"EdDSA"}"#, r#"{"sub":"svc","sub":"evil"}"#),
            jws(r#"{"alg":"EdDSA","alg":"none"}"#, &good_claims),
            jws(r#"{"alg":7}"#, &good_claims),
            jws(r#"{"kid":"k"}"#, &good_claims),
            jws(r#"{"alg":"EdDSA"}"#, r#"{"exp":"soon"}"#),
            jws(r#"{"alg":"EdDSA"}"#, r#"{"aud":[1]}"#),
            format!(
                "{}.{}=.{}",
                b64(r#"{"alg":"EdDSA"}"#),
                b64(&good_claims),
                b64("s")
            ),
            jws(
                r#"{"alg":"EdDSA"}"#,
                &format!("{{\"pad\":\"{}\"}}", "x".repeat(MAX_ASSERTION_BYTES)),
            ),
        ];
        for text in bad {
            assert_eq!(Assertion::parse(&text), Err(Check::Malformed), "{text:.60}");
        }
    }

    #[test]
    fn the_header_must_name_the_pinned_alg_a_known_kid_and_no_crit() {
        let set = json!({ "keys": [
            { "kty": "OKP", "crv": "Ed25519", "x": RFC8037_X, "kid": "a" },
            { "kty": "OKP", "crv": "Ed25519", "x": RFC8037_X, "kid": "b" },
        ] });
        let keys = ClientKeys::parse(&set, Alg::EdDSA).unwrap();
        let c = claims().to_string();
        let header = |h: &str| Assertion::parse(&jws(h, &c)).unwrap().check_header(&keys);
        assert_eq!(header(r#"{"alg":"EdDSA","kid":"b"}"#), Ok(1));
        assert_eq!(
            header(r#"{"alg":"EdDSA","kid":"b","jku":"https://x","x5u":"https://y"}"#),
            Ok(1)
        );
        assert_eq!(
            header(r#"{"alg":"EdDSA","kid":"c"}"#),
            Err(Check::UnknownKid)
        );
        assert_eq!(header(r#"{"alg":"EdDSA"}"#), Err(Check::UnknownKid));
        for alg in ["none", "HS256", "RS256", "eddsa"] {
            let h = format!(r#"{{"alg":"{alg}","kid":"a"}}"#);
            assert_eq!(header(&h), Err(Check::Alg), "{alg}");
        }
        assert_eq!(
            header(r#"{"alg":"EdDSA","kid":"a","crit":["exp"]}"#),
            Err(Check::Crit)
        );
    }

    #[test]
    fn the_jti_is_kept_as_a_short_digest_until_exp_and_the_skew() {
        let a = with(|_| {});
        assert_eq!(a.jti_digest().len(), 16);
        assert_ne!(
            a.jti_digest(),
            with(|c| {
                c.insert("jti".into(), json!("j2"));
            })
            .jti_digest()
        );
        assert_eq!(a.remember_until_ms(), (NOW + 60 + CLOCK_SKEW_S) * 1000);
        assert_eq!(format!("{a:?}"), "Assertion(..)");
    }
}
