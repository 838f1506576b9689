//! Federated workload identity: a client authenticates with the token its platform already
//! gave it (a CI system's OIDC token, a Kubernetes service-account token, a SPIFFE JWT-SVID),
//! sent as the `client_assertion` (RFC 7521 §4.2, the jwt-bearer type) beside its `client_id`.
//!
//! A tenant declares the issuers it trusts ([`TrustedIssuer`], in `TENANTS`): each with its
//! `issuer`, its keys (inline or a `jwks_uri`, cached as `core::jwks_cache` says), the
//! algorithms it signs with and the `aud` its tokens must carry for this tenant. A client record
//! with `token_endpoint_auth_method = "federated_jwt"` names one of them and the subject it
//! accepts ([`Federation`]: the exact `sub`, and optional exact values of other claims). No
//! secret and no key is stored for such a client.
//!
//! Why a method of its own, not `private_key_jwt` with a member: RFC 7523 §2.2 asks a client's
//! assertion to have `iss` = `sub` = the client id and the client's own keys, which a platform
//! token never has; a reader of the record, the metadata or the SPIFFE client-auth draft expects
//! the different trust (a third party vouches for the workload) under a different name. Keycloak
//! 26 calls its equivalent `federated-jwt`; this spells it RFC 7591's way, `federated_jwt`.
//!
//! Pure: the time is passed in; the signature is checked by the caller's `Verifier`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{
    assertion::{Assertion, Check, MAX_JTI_CHARS},
    jwk::{remote_keys, Alg, PublicKey},
    jwks_cache::is_valid_jwks_uri,
};

/// The `token_endpoint_auth_method` of a client that authenticates with a platform token.
pub const FEDERATED_JWT: &str = "federated_jwt";
/// Trusted issuers a tenant may declare.
pub const MAX_TRUSTED_ISSUERS: usize = 16;
/// The longest a platform token may live (`exp` after `iat`/now): a day. Platforms choose
/// their own lifetimes (GitHub Actions' are minutes, Kubernetes' an hour by default).
pub const MAX_PLATFORM_TOKEN_LIFETIME_S: u64 = 86_400;
/// The longest `sub` a client may name.
pub const MAX_SUBJECT_CHARS: usize = 1_024;
/// The most bytes of JSON a client's required claims may take.
pub const MAX_REQUIRED_CLAIMS_BYTES: usize = 2_048;
/// Claims a client cannot require by value: the checks of every token already read them.
const REGISTERED: [&str; 7] = ["iss", "sub", "aud", "exp", "nbf", "iat", "jti"];

/// Where a trusted issuer's keys are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssuerKeys {
    /// In `TENANTS` (every usable key of the set, with the algorithms each verifies).
    Inline(Vec<PublicKey>),
    /// Fetched from this URL.
    Uri(String),
}

/// A tenant's trusted issuer, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedIssuer {
    /// What client records name it by: `[a-z0-9][a-z0-9_-]{0,63}`.
    pub name: String,
    /// The `iss` of its tokens, exactly.
    pub issuer: String,
    /// Its public keys.
    pub keys: IssuerKeys,
    /// The algorithms its tokens may name.
    pub algs: Vec<Alg>,
    /// The `aud` its tokens must contain (default: the tenant's issuer).
    pub audience: String,
}

/// One entry of a tenant's `trusted_issuers`, as written in `TENANTS`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTrustedIssuer {
    name: String,
    issuer: String,
    #[serde(default)]
    jwks: Option<Value>,
    #[serde(default)]
    jwks_uri: Option<String>,
    algs: Vec<String>,
    #[serde(default)]
    audience: Option<String>,
}

/// Whether `name` may name a trusted issuer.
pub fn is_issuer_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    (1..=64).contains(&bytes.len())
        && bytes[0].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-' || *b == b'_')
}

/// Validates a tenant's `trusted_issuers`; `tenant_issuer` is the default `audience`. The
/// message says what is wrong.
pub fn trusted_issuers(
    raw: Vec<RawTrustedIssuer>,
    tenant_issuer: &str,
) -> Result<Vec<TrustedIssuer>, String> {
    if raw.len() > MAX_TRUSTED_ISSUERS {
        return Err(format!("may declare at most {MAX_TRUSTED_ISSUERS}"));
    }
    let mut out: Vec<TrustedIssuer> = Vec::with_capacity(raw.len());
    for entry in raw {
        let issuer = trusted_issuer(entry, tenant_issuer)?;
        if out.iter().any(|t| t.name == issuer.name) {
            return Err(format!("name {:?} is declared twice", issuer.name));
        }
        out.push(issuer);
    }
    Ok(out)
}

fn trusted_issuer(raw: RawTrustedIssuer, tenant_issuer: &str) -> Result<TrustedIssuer, String> {
    let name = raw.name;
    if !is_issuer_name(&name) {
        return Err(format!(
            "name {name:?} must be 1-64 of a-z, 0-9, '-' and '_'"
        ));
    }
    if raw.issuer.is_empty() || raw.issuer.len() > 512 {
        return Err(format!("{name}: issuer must be 1-512 characters"));
    }
    let keys = match (raw.jwks, raw.jwks_uri) {
        (Some(set), None) => {
            let bytes = serde_json::to_vec(&set).unwrap_or_default();
            let keys = remote_keys(&bytes)
                .filter(|k| !k.is_empty())
                .ok_or_else(|| {
                    format!("{name}: jwks must be a JWK Set with public signing keys only")
                })?;
            IssuerKeys::Inline(keys)
        }
        (None, Some(uri)) if is_valid_jwks_uri(&uri) => IssuerKeys::Uri(uri),
        (None, Some(_)) => return Err(format!("{name}: jwks_uri must be an https URL")),
        _ => return Err(format!("{name}: give either jwks or jwks_uri")),
    };
    let algs: Option<Vec<Alg>> = raw.algs.iter().map(|a| Alg::parse(a)).collect();
    let algs = algs
        .filter(|a| !a.is_empty())
        .ok_or_else(|| format!("{name}: algs must list some of EdDSA, ES256, RS256, PS256"))?;
    let audience = raw.audience.unwrap_or_else(|| tenant_issuer.to_owned());
    if audience.is_empty() {
        return Err(format!("{name}: audience must not be empty"));
    }
    Ok(TrustedIssuer {
        name,
        issuer: raw.issuer,
        keys,
        algs,
        audience,
    })
}

/// What a federated client's record accepts: the trusted issuer by name, the exact `sub`, and
/// claims whose values must match (an object matches a token's object holding at least its
/// members, recursively: `{"kubernetes.io": {"namespace": "ci"}}`; anything else exactly).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Federation {
    /// A tenant's [`TrustedIssuer::name`].
    pub issuer: String,
    /// The token's `sub`, exactly.
    pub subject: String,
    /// Other claims the token must carry with these values; empty = none.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub claims: Map<String, Value>,
}

impl Federation {
    /// Why the member breaks the schema, if it does.
    pub fn problem(&self) -> Option<String> {
        if !is_issuer_name(&self.issuer) {
            return Some("federation.issuer must name one of the tenant's trusted_issuers".into());
        }
        if self.subject.is_empty() || self.subject.chars().count() > MAX_SUBJECT_CHARS {
            return Some(format!(
                "federation.subject must be 1-{MAX_SUBJECT_CHARS} characters"
            ));
        }
        if let Some(name) = REGISTERED.iter().find(|n| self.claims.contains_key(**n)) {
            return Some(format!(
                "federation.claims cannot hold {name:?}: say the subject in federation.subject"
            ));
        }
        if crate::core::json::text(&self.claims).len() > MAX_REQUIRED_CLAIMS_BYTES {
            return Some(format!(
                "federation.claims must take at most {MAX_REQUIRED_CLAIMS_BYTES} bytes of JSON"
            ));
        }
        None
    }
}

/// Whether `actual` holds `expected`: objects by their members, recursively; else equal.
fn holds(actual: &Value, expected: &Value) -> bool {
    match (actual, expected) {
        (Value::Object(have), Value::Object(want)) => want
            .iter()
            .all(|(k, v)| have.get(k).is_some_and(|h| holds(h, v))),
        _ => actual == expected,
    }
}

/// The header's checks for `trusted`: no `crit`, an algorithm it signs with.
pub fn check_header(assertion: &Assertion, trusted: &TrustedIssuer) -> Result<Alg, Check> {
    if assertion.header.crit {
        return Err(Check::Crit);
    }
    Alg::parse(&assertion.header.alg)
        .filter(|alg| trusted.algs.contains(alg))
        .ok_or(Check::Alg)
}

/// The claims' checks of a platform token whose signature verified, at `now` (Unix seconds):
/// `aud`, `exp` (required), `iat`, `nbf`, a bounded lifetime, the client's `sub` and claims,
/// and a `jti`, when present, short enough to be spent.
pub fn check_claims(
    assertion: &Assertion,
    trusted: &TrustedIssuer,
    federation: &Federation,
    now: u64,
) -> Result<(), Check> {
    let c = &assertion.claims;
    if !c.aud.contains(&trusted.audience) {
        return Err(Check::Audience);
    }
    c.check_times(now, MAX_PLATFORM_TOKEN_LIFETIME_S)?;
    if c.sub.as_deref() != Some(federation.subject.as_str()) {
        return Err(Check::SubjectMismatch);
    }
    let claims_hold = federation
        .claims
        .iter()
        .all(|(name, want)| c.all.get(name).is_some_and(|have| holds(have, want)));
    if !claims_hold {
        return Err(Check::ClaimMismatch);
    }
    match &c.jti {
        Some(jti) if jti.is_empty() || jti.len() > MAX_JTI_CHARS => Err(Check::NoJti),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::assertion::CLOCK_SKEW_S;
    use crate::core::jwk::tests::RFC8037_X;
    use base64ct::{Base64UrlUnpadded, Encoding};
    use serde_json::json;

    const NOW: u64 = 1_800_000_000;
    const TENANT: &str = "https://issuer.test";
    const GITHUB: &str = "https://token.actions.githubusercontent.com";

    fn raw(value: Value) -> Result<Vec<TrustedIssuer>, String> {
        let raw: Vec<RawTrustedIssuer> =
            serde_json::from_value(value).map_err(|e| e.to_string())?;
        trusted_issuers(raw, TENANT)
    }

    fn github() -> TrustedIssuer {
        let set =
            json!({ "keys": [{ "kty": "OKP", "crv": "Ed25519", "x": RFC8037_X, "kid": "gh" }] });
        raw(json!([{ "name": "github", "issuer": GITHUB, "jwks": set, "algs": ["EdDSA"] }]))
            .unwrap()
            .remove(0)
    }

    /// A platform token (unsigned: the claims' checks only) with `claims`.
    fn token(claims: Value) -> Assertion {
        let b64 = |v: &Value| Base64UrlUnpadded::encode_string(v.to_string().as_bytes());
        let header = json!({ "alg": "EdDSA", "kid": "gh" });
        Assertion::parse(&format!("{}.{}.c2ln", b64(&header), b64(&claims))).unwrap()
    }

    fn actions(extra: Value) -> Value {
        let mut c = json!({ "iss": GITHUB, "sub": "repo:o/r:ref:refs/heads/main", "aud": TENANT,
            "iat": NOW, "exp": NOW + 300, "jti": "j", "repository": "o/r", "ref": "refs/heads/main" });
        if let (Some(c), Some(extra)) = (c.as_object_mut(), extra.as_object()) {
            c.extend(extra.clone());
        }
        c
    }

    fn accepts(claims: Value) -> Federation {
        Federation {
            issuer: "github".into(),
            subject: "repo:o/r:ref:refs/heads/main".into(),
            claims: claims.as_object().cloned().unwrap_or_default(),
        }
    }

    #[test]
    fn trusted_issuers_are_read_with_their_keys_algorithms_and_audience() {
        let github = github();
        assert_eq!(github.audience, TENANT, "the tenant's issuer by default");
        assert_eq!(github.algs, [Alg::EdDSA]);
        assert!(matches!(&github.keys, IssuerKeys::Inline(keys) if keys.len() == 1));
        let by_uri = raw(
            json!([{ "name": "k8s", "issuer": "https://k8s", "algs": ["RS256", "ES256"],
            "jwks_uri": "https://k8s.example/openid/v1/jwks", "audience": "sts" }]),
        )
        .unwrap();
        assert_eq!(
            by_uri[0].keys,
            IssuerKeys::Uri("https://k8s.example/openid/v1/jwks".into())
        );
        assert_eq!(by_uri[0].audience, "sts");
    }

    #[test]
    fn a_bad_trusted_issuer_is_refused_with_the_reason() {
        let key = json!({ "keys": [{ "kty": "OKP", "crv": "Ed25519", "x": RFC8037_X }] });
        let cases = [
            (
                json!([{ "name": "Bad Name", "issuer": "i", "jwks": key, "algs": ["EdDSA"] }]),
                "name",
            ),
            (
                json!([{ "name": "a", "issuer": "", "jwks": key, "algs": ["EdDSA"] }]),
                "issuer",
            ),
            (
                json!([{ "name": "a", "issuer": "i", "algs": ["EdDSA"] }]),
                "either",
            ),
            (
                json!([{ "name": "a", "issuer": "i", "jwks": key, "jwks_uri": "https://k", "algs": ["EdDSA"] }]),
                "either",
            ),
            (
                json!([{ "name": "a", "issuer": "i", "jwks_uri": "http://k.example/", "algs": ["EdDSA"] }]),
                "https",
            ),
            (
                json!([{ "name": "a", "issuer": "i", "jwks": key, "algs": ["HS256"] }]),
                "algs",
            ),
            (
                json!([{ "name": "a", "issuer": "i", "jwks": key, "algs": [] }]),
                "algs",
            ),
            (
                json!([{ "name": "a", "issuer": "i", "jwks": { "keys": [] }, "algs": ["EdDSA"] }]),
                "jwks",
            ),
            (
                json!([{ "name": "a", "issuer": "i", "jwks": key, "algs": ["EdDSA"] },
                    { "name": "a", "issuer": "j", "jwks": key, "algs": ["EdDSA"] }]),
                "twice",
            ),
            (
                json!([{ "name": "a", "issuer": "i", "jwks": key, "algs": ["EdDSA"], "extra": 1 }]),
                "unknown field",
            ),
        ];
        for (value, reason) in cases {
            let error = raw(value.clone()).unwrap_err();
            assert!(error.contains(reason), "{value}: {error}");
        }
    }

    #[test]
    fn a_platform_token_for_the_subject_and_claims_passes() {
        let required = json!({ "repository": "o/r", "ref": "refs/heads/main" });
        assert_eq!(
            check_claims(
                &token(actions(json!({}))),
                &github(),
                &accepts(required),
                NOW
            ),
            Ok(())
        );
    }

    #[test]
    fn each_failed_check_of_a_platform_token_names_its_reason() {
        let required = json!({ "repository": "o/r" });
        let cases = [
            (
                json!({ "sub": "repo:o/other:ref:refs/heads/main" }),
                Check::SubjectMismatch,
            ),
            (json!({ "repository": "o/other" }), Check::ClaimMismatch),
            (json!({ "aud": "https://elsewhere" }), Check::Audience),
            (json!({ "exp": NOW - CLOCK_SKEW_S }), Check::Expired),
            (
                json!({ "exp": NOW + MAX_PLATFORM_TOKEN_LIFETIME_S + CLOCK_SKEW_S + 1 }),
                Check::TooLong,
            ),
            (json!({ "nbf": NOW + CLOCK_SKEW_S + 1 }), Check::NotYetValid),
            (
                json!({ "iat": NOW + CLOCK_SKEW_S + 1 }),
                Check::IssuedInFuture,
            ),
            (json!({ "jti": "" }), Check::NoJti),
        ];
        for (change, expected) in cases {
            let t = token(actions(change.clone()));
            assert_eq!(
                check_claims(&t, &github(), &accepts(required.clone()), NOW),
                Err(expected),
                "{change}"
            );
        }
        let mut no_exp = actions(json!({}));
        no_exp.as_object_mut().unwrap().remove("exp");
        assert_eq!(
            check_claims(&token(no_exp), &github(), &accepts(json!({})), NOW),
            Err(Check::NoExpiry)
        );
    }

    #[test]
    fn required_object_claims_match_by_their_members_and_a_missing_jti_is_allowed() {
        let k8s = json!({ "kubernetes.io": { "namespace": "ci", "serviceaccount": { "name": "builder", "uid": "u1" } } });
        let mut claims = actions(k8s);
        claims.as_object_mut().unwrap().remove("jti");
        let t = token(claims);
        let subset = json!({ "kubernetes.io": { "namespace": "ci", "serviceaccount": { "name": "builder" } } });
        assert_eq!(check_claims(&t, &github(), &accepts(subset), NOW), Ok(()));
        let other = json!({ "kubernetes.io": { "namespace": "prod" } });
        assert_eq!(
            check_claims(&t, &github(), &accepts(other), NOW),
            Err(Check::ClaimMismatch)
        );
        let absent = json!({ "environment": "prod" });
        assert_eq!(
            check_claims(&t, &github(), &accepts(absent), NOW),
            Err(Check::ClaimMismatch)
        );
    }

    #[test]
    fn the_header_must_name_an_algorithm_of_the_issuer_and_no_crit() {
        let b64 = |v: Value| Base64UrlUnpadded::encode_string(v.to_string().as_bytes());
        let with = |h: Value| {
            Assertion::parse(&format!("{}.{}.c2ln", b64(h), b64(actions(json!({}))))).unwrap()
        };
        assert_eq!(
            check_header(&with(json!({ "alg": "EdDSA" })), &github()),
            Ok(Alg::EdDSA)
        );
        for bad in [
            json!({ "alg": "RS256" }),
            json!({ "alg": "none" }),
            json!({ "alg": "HS256" }),
        ] {
            assert_eq!(
                check_header(&with(bad.clone()), &github()),
                Err(Check::Alg),
                "{bad}"
            );
        }
        assert_eq!(
            check_header(&with(json!({ "alg": "EdDSA", "crit": ["x"] })), &github()),
            Err(Check::Crit)
        );
    }

    #[test]
    fn a_federation_member_keeps_its_rules() {
        assert_eq!(accepts(json!({ "repository": "o/r" })).problem(), None);
        let long = Federation {
            subject: "s".repeat(MAX_SUBJECT_CHARS + 1),
            ..accepts(json!({}))
        };
        let cases = [
            Federation {
                issuer: "Not A Name".into(),
                ..accepts(json!({}))
            },
            Federation {
                subject: String::new(),
                ..accepts(json!({}))
            },
            long,
            accepts(json!({ "sub": "x" })),
            accepts(json!({ "big": "x".repeat(MAX_REQUIRED_CLAIMS_BYTES) })),
        ];
        for f in cases {
            assert!(f.problem().is_some(), "{f:?}");
        }
        let read: Result<Federation, _> =
            serde_json::from_value(json!({ "issuer": "a", "subject": "s", "x": 1 }));
        assert!(read.is_err(), "unknown members are refused");
    }
}
