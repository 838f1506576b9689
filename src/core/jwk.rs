//! A `private_key_jwt` client's public keys (RFC 7517 JWK Set, stored inline in its record),
//! the algorithm its assertions are pinned to, and the [`Verifier`] that checks a signature.
//!
//! Only public keys of the pinned algorithm's type are accepted: a set with a private member
//! (`d`, RSA's primes, a symmetric `k`) or a key of another type breaks the record. The
//! verifier is the one platform-specific part, as [`crate::core::sign::Signer`] is: the
//! runtime's WebCrypto in the Worker (`edge::sign`), ed25519-compact natively (EdDSA only).

use base64ct::{Base64UrlUnpadded, Encoding};
use serde_json::{Map, Value};

/// Keys a client's set may hold (a current one and, during a rotation, the next few).
pub const MAX_CLIENT_KEYS: usize = 8;
/// Bytes of the smallest RSA modulus accepted: 2048 bits.
pub const MIN_RSA_MODULUS_BYTES: usize = 256;
/// Bytes of the largest RSA modulus accepted: 8192 bits.
pub const MAX_RSA_MODULUS_BYTES: usize = 1024;
/// The longest `kid` accepted.
pub const MAX_KID_CHARS: usize = 128;
/// JWK members that only a private (or symmetric) key has.
pub(crate) const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// An algorithm a client's assertions may be signed with (RFC 7518 §3.1, RFC 8037). Never
/// `none`, never HMAC: a shared key would be a secret again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    /// Ed25519 (RFC 8037).
    EdDSA,
    /// ECDSA on P-256 with SHA-256.
    ES256,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PSS with SHA-256 and MGF1-SHA-256.
    PS256,
}

impl Alg {
    /// Every algorithm, in the metadata's order.
    pub const ALL: [Self; 4] = [Self::EdDSA, Self::ES256, Self::RS256, Self::PS256];

    /// The JOSE name.
    pub fn name(self) -> &'static str {
        match self {
            Self::EdDSA => "EdDSA",
            Self::ES256 => "ES256",
            Self::RS256 => "RS256",
            Self::PS256 => "PS256",
        }
    }

    /// The algorithm named `name`, if it is one we accept.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|alg| alg.name() == name)
    }
}

/// One public key, checked against its client's algorithm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    /// Its `kid`, if the set gives one.
    pub kid: Option<String>,
    /// The algorithm it verifies.
    pub alg: Alg,
    /// The key's public members only, as a JWK (what WebCrypto imports).
    pub jwk: String,
    /// For EdDSA: the 32-byte public key.
    pub ed25519: Option<[u8; 32]>,
}

/// A client's keys and the algorithm its assertions must name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientKeys {
    /// The pinned algorithm.
    pub alg: Alg,
    /// 1 to [`MAX_CLIENT_KEYS`] keys.
    pub keys: Vec<PublicKey>,
}

/// Why a key set was refused, for the admin API's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadKeySet(pub String);

fn bad<T>(message: impl Into<String>) -> Result<T, BadKeySet> {
    Err(BadKeySet(message.into()))
}

/// The base64url member `name` of `jwk`, decoded.
fn bytes(jwk: &Map<String, Value>, name: &str) -> Result<Vec<u8>, BadKeySet> {
    jwk.get(name)
        .and_then(Value::as_str)
        .and_then(|s| Base64UrlUnpadded::decode_vec(s).ok())
        .map_or_else(|| bad(format!("member {name:?} must be base64url")), Ok)
}

fn text<'a>(jwk: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    jwk.get(name).and_then(Value::as_str)
}

impl ClientKeys {
    /// Reads a JWK Set (`{"keys": [...]}`) for `alg`: every key public, of `alg`'s type, for
    /// signing, with distinct kids.
    pub fn parse(set: &Value, alg: Alg) -> Result<Self, BadKeySet> {
        let Some(keys) = set.get("keys").and_then(Value::as_array) else {
            return bad("a JWK Set is an object with a \"keys\" array");
        };
        if keys.is_empty() || keys.len() > MAX_CLIENT_KEYS {
            return bad(format!("1 to {MAX_CLIENT_KEYS} keys"));
        }
        let keys = keys
            .iter()
            .map(|key| public_key(key, alg))
            .collect::<Result<Vec<_>, _>>()?;
        let kids: Vec<&str> = keys.iter().filter_map(|k| k.kid.as_deref()).collect();
        if (1..kids.len()).any(|i| kids[..i].contains(&kids[i])) {
            return bad("two keys share a kid");
        }
        Ok(Self { alg, keys })
    }

    /// The key an assertion names by `kid`; without one, the only key of the set.
    pub fn select(&self, kid: Option<&str>) -> Option<&PublicKey> {
        match kid {
            Some(kid) => self.keys.iter().find(|k| k.kid.as_deref() == Some(kid)),
            None => match self.keys.as_slice() {
                [only] => Some(only),
                _ => None,
            },
        }
    }
}

/// Keys a fetched JWK Set may hold (a `jwks_uri` serves keys of several clients or purposes).
pub const MAX_REMOTE_KEYS: usize = 32;

/// Where a `private_key_jwt` client's keys are: in its record, or at its `jwks_uri`
/// (fetched and cached per isolate, [`crate::core::jwks_cache`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// The record's own `jwks`.
    Inline(ClientKeys),
    /// The record's `jwks_uri` and the algorithm its assertions are pinned to.
    Uri {
        /// The URL ([`crate::core::jwks_cache::is_valid_jwks_uri`]).
        uri: String,
        /// The pinned algorithm.
        alg: Alg,
    },
}

impl KeySource {
    /// The algorithm the client's assertions must name.
    pub fn alg(&self) -> Alg {
        match self {
            Self::Inline(keys) => keys.alg,
            Self::Uri { alg, .. } => *alg,
        }
    }
}

/// The usable keys of a fetched JWK Set, each with every algorithm it can verify (an RSA key
/// without `alg` both RS256 and PS256). Keys of other types or uses are skipped, as a shared
/// set may hold them; a set with private key material is refused as a whole (its publisher
/// leaks keys), as is one that is not a JWK Set or holds over [`MAX_REMOTE_KEYS`] keys.
pub fn remote_keys(body: &[u8]) -> Option<Vec<PublicKey>> {
    let set: Value = crate::core::json::parse(body).ok()?;
    let keys = set.get("keys")?.as_array()?;
    if keys.len() > MAX_REMOTE_KEYS {
        return None;
    }
    let mut usable = Vec::new();
    for key in keys {
        let jwk = key.as_object()?;
        if PRIVATE_MEMBERS.iter().any(|m| jwk.contains_key(*m)) {
            return None;
        }
        usable.extend(Alg::ALL.iter().filter_map(|alg| public_key(key, *alg).ok()));
    }
    Some(usable)
}

impl ClientKeys {
    /// The keys of a fetched set that verify `alg` (maybe none: then every `kid` is unknown).
    pub fn of_remote(keys: &[PublicKey], alg: Alg) -> Self {
        let keys = keys.iter().filter(|k| k.alg == alg).cloned().collect();
        Self { alg, keys }
    }
}

/// One JWK, checked: public, of `alg`'s type, `use` (if any) `sig`, `alg` (if any) `alg`.
pub(crate) fn public_key(key: &Value, alg: Alg) -> Result<PublicKey, BadKeySet> {
    let Some(jwk) = key.as_object() else {
        return bad("each key is a JSON object");
    };
    if let Some(member) = PRIVATE_MEMBERS.iter().find(|m| jwk.contains_key(**m)) {
        return bad(format!(
            "member {member:?} is private key material: give public keys only"
        ));
    }
    if jwk.get("use").is_some_and(|u| u != "sig") {
        return bad("a key's \"use\" must be \"sig\"");
    }
    if jwk.get("alg").is_some_and(|a| a != alg.name()) {
        return bad(format!("a key's \"alg\" must be {:?}", alg.name()));
    }
    let kid = match jwk.get("kid") {
        None => None,
        Some(Value::String(kid)) if (1..=MAX_KID_CHARS).contains(&kid.len()) => Some(kid.clone()),
        Some(_) => return bad(format!("a kid is a string of 1-{MAX_KID_CHARS} characters")),
    };
    let (public, ed25519) = public_members(jwk, alg)?;
    let mut public = Map::from_iter(public);
    if let Some(kid) = &kid {
        public.insert("kid".into(), kid.clone().into());
    }
    Ok(PublicKey {
        kid,
        alg,
        jwk: crate::core::json::text(&public),
        ed25519,
    })
}

/// The members WebCrypto needs, checked for `alg`, and Ed25519's raw key.
type Members = (Vec<(String, Value)>, Option<[u8; 32]>);

fn public_members(jwk: &Map<String, Value>, alg: Alg) -> Result<Members, BadKeySet> {
    let kty = text(jwk, "kty");
    let crv = text(jwk, "crv");
    let copy = |names: &[&str]| -> Vec<(String, Value)> {
        names
            .iter()
            .filter_map(|n| jwk.get(*n).map(|v| ((*n).to_owned(), v.clone())))
            .collect()
    };
    match alg {
        Alg::EdDSA => {
            if (kty, crv) != (Some("OKP"), Some("Ed25519")) {
                return bad("an EdDSA key has \"kty\": \"OKP\", \"crv\": \"Ed25519\"");
            }
            let x: [u8; 32] = bytes(jwk, "x")?
                .try_into()
                .or_else(|_| bad("an Ed25519 \"x\" is 32 bytes"))?;
            Ok((copy(&["kty", "crv", "x"]), Some(x)))
        }
        Alg::ES256 => {
            if (kty, crv) != (Some("EC"), Some("P-256")) {
                return bad("an ES256 key has \"kty\": \"EC\", \"crv\": \"P-256\"");
            }
            if bytes(jwk, "x")?.len() != 32 || bytes(jwk, "y")?.len() != 32 {
                return bad("a P-256 \"x\" and \"y\" are 32 bytes each");
            }
            Ok((copy(&["kty", "crv", "x", "y"]), None))
        }
        Alg::RS256 | Alg::PS256 => {
            if kty != Some("RSA") {
                return bad("an RS256 or PS256 key has \"kty\": \"RSA\"");
            }
            let n = bytes(jwk, "n")?;
            let modulus = n.iter().skip_while(|b| **b == 0).count();
            if !(MIN_RSA_MODULUS_BYTES..=MAX_RSA_MODULUS_BYTES).contains(&modulus) {
                return bad("an RSA modulus is 2048 to 8192 bits");
            }
            let e = bytes(jwk, "e")?;
            if e.is_empty() || e.len() > 8 {
                return bad("an RSA exponent \"e\" is 1 to 8 bytes");
            }
            Ok((copy(&["kty", "n", "e"]), None))
        }
    }
}

/// The signature could not be checked at all (the key was refused by the verifier): a fault
/// of the record, not of the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifyError;

/// Checks JWS signatures (RFC 7515 §5.2) of client assertions.
#[allow(async_fn_in_trait)] // Workers are single-threaded: no `Send` bound wanted.
pub trait Verifier {
    /// Whether `signature` is `key`'s signature of `input` under `key.alg`.
    async fn verify(
        &self,
        key: &PublicKey,
        input: &[u8],
        signature: &[u8],
    ) -> Result<bool, VerifyError>;
}

/// EdDSA in Rust (ed25519-compact), for the native builds; other algorithms are the
/// Worker's (WebCrypto), and natively a [`VerifyError`].
#[cfg(not(target_arch = "wasm32"))]
impl Verifier for crate::core::sign::NativeSigner {
    async fn verify(
        &self,
        key: &PublicKey,
        input: &[u8],
        signature: &[u8],
    ) -> Result<bool, VerifyError> {
        let Some(public) = key.ed25519 else {
            return Err(VerifyError);
        };
        let public = ed25519_compact::PublicKey::new(public);
        let Ok(signature) = ed25519_compact::Signature::from_slice(signature) else {
            return Ok(false);
        };
        Ok(public.verify(input, &signature).is_ok())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    /// RFC 8037 A.2's public key.
    pub(crate) const RFC8037_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";

    fn okp(extra: Value) -> Value {
        let mut key = json!({ "kty": "OKP", "crv": "Ed25519", "x": RFC8037_X });
        if let (Some(key), Some(extra)) = (key.as_object_mut(), extra.as_object()) {
            key.extend(extra.clone());
        }
        key
    }

    #[test]
    fn a_public_ed25519_set_is_read_with_its_kid_and_public_members_only() {
        let set = json!({ "keys": [okp(json!({ "kid": "k1", "use": "sig", "alg": "EdDSA" }))] });
        let keys = ClientKeys::parse(&set, Alg::EdDSA).unwrap();
        let key = keys.select(Some("k1")).unwrap();
        assert_eq!(key.ed25519.map(|x| x[0]), Some(0xd7));
        let jwk: Value = serde_json::from_str(&key.jwk).unwrap();
        assert_eq!(
            jwk,
            json!({ "kty": "OKP", "crv": "Ed25519", "x": RFC8037_X, "kid": "k1" })
        );
        assert!(keys.select(Some("k2")).is_none());
        assert_eq!(keys.select(None), Some(key), "the only key needs no kid");
    }

    #[test]
    fn private_members_wrong_types_and_repeated_kids_are_refused() {
        let rsa_n = Base64UrlUnpadded::encode_string(&[0xC5; 256]);
        let bad_sets = [
            (
                json!({ "keys": [okp(json!({ "d": "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A" }))] }),
                Alg::EdDSA,
            ),
            (
                json!({ "keys": [{ "kty": "oct", "k": "c2VjcmV0" }] }),
                Alg::EdDSA,
            ),
            (
                json!({ "keys": [okp(json!({ "use": "enc" }))] }),
                Alg::EdDSA,
            ),
            (
                json!({ "keys": [okp(json!({ "alg": "ES256" }))] }),
                Alg::EdDSA,
            ),
            (json!({ "keys": [okp(json!({}))] }), Alg::ES256),
            (json!({ "keys": [okp(json!({ "x": "AAAA" }))] }), Alg::EdDSA),
            (
                json!({ "keys": [okp(json!({ "kid": "a" })), okp(json!({ "kid": "a" }))] }),
                Alg::EdDSA,
            ),
            (json!({ "keys": [] }), Alg::EdDSA),
            (json!([okp(json!({}))]), Alg::EdDSA),
            (
                json!({ "keys": [{ "kty": "RSA", "n": "AQAB", "e": "AQAB" }] }),
                Alg::RS256,
            ),
            (
                json!({ "keys": [{ "kty": "RSA", "n": rsa_n, "e": "AQAB", "p": "AQAB" }] }),
                Alg::RS256,
            ),
        ];
        for (set, alg) in bad_sets {
            assert!(ClientKeys::parse(&set, alg).is_err(), "{set}");
        }
        let rsa = json!({ "keys": [{ "kty": "RSA", "n": rsa_n, "e": "AQAB" }] });
        assert!(ClientKeys::parse(&rsa, Alg::PS256).is_ok());
    }

    #[test]
    fn without_a_kid_a_set_of_several_keys_names_none() {
        let set = json!({ "keys": [okp(json!({ "kid": "a" })), okp(json!({ "kid": "b" }))] });
        let keys = ClientKeys::parse(&set, Alg::EdDSA).unwrap();
        assert!(keys.select(None).is_none());
        assert!(keys.select(Some("b")).is_some());
    }

    #[test]
    fn a_fetched_set_keeps_its_usable_keys_and_skips_the_others() {
        let rsa_n = Base64UrlUnpadded::encode_string(&[0xC5; 256]);
        let set = json!({ "keys": [
            okp(json!({ "kid": "ed" })),
            { "kty": "RSA", "n": rsa_n, "e": "AQAB", "kid": "rsa" },
            { "kty": "RSA", "n": rsa_n, "e": "AQAB", "kid": "enc", "use": "enc" },
            { "kty": "EC", "crv": "P-384", "x": "AAAA", "y": "AAAA", "kid": "p384" },
        ] });
        let keys = remote_keys(set.to_string().as_bytes()).unwrap();
        let named: Vec<_> = keys
            .iter()
            .map(|k| (k.kid.as_deref().unwrap(), k.alg))
            .collect();
        assert_eq!(
            named,
            [("ed", Alg::EdDSA), ("rsa", Alg::RS256), ("rsa", Alg::PS256)]
        );
        let ps = ClientKeys::of_remote(&keys, Alg::PS256);
        assert!(ps.select(Some("rsa")).is_some() && ps.select(Some("ed")).is_none());
        assert!(ClientKeys::of_remote(&keys, Alg::ES256).keys.is_empty());
    }

    #[test]
    fn a_fetched_set_with_a_private_key_or_not_a_set_is_refused() {
        let private = json!({ "keys": [okp(json!({ "d": RFC8037_X }))] });
        let many = json!({ "keys": vec![okp(json!({})); MAX_REMOTE_KEYS + 1] });
        for body in [
            private.to_string(),
            many.to_string(),
            "[]".into(),
            "{\"keys\":{}}".into(),
            "not json".into(),
        ] {
            assert_eq!(remote_keys(body.as_bytes()), None, "{body:.40}");
        }
        assert_eq!(remote_keys(br#"{"keys":[]}"#), Some(Vec::new()));
    }

    #[test]
    fn only_the_four_asymmetric_algorithms_are_known() {
        for name in ["EdDSA", "ES256", "RS256", "PS256"] {
            assert_eq!(Alg::parse(name).map(Alg::name), Some(name));
        }
        for name in ["none", "HS256", "eddsa", "RS512", ""] {
            assert_eq!(Alg::parse(name), None, "{name}");
        }
    }
}
