//! Signing keys: parsed once from the `SIGNING_KEYS` secret, published as a JWKS.
//!
//! The secret is a JWK Set of Ed25519 private keys. The first key signs; all are published, so
//! a key can be published before it signs (next) and after it stops (previous): rotation
//! without downtime. Each `kid` is the key's RFC 7638 thumbprint, computed, never configured.

use std::fmt;

use base64ct::{Base64UrlUnpadded, Encoding};
use jwt_compact::{alg::Ed25519, jwk::JsonWebKey, Algorithm, AlgorithmExt, Claims, Header};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

type SecretKey = <Ed25519 as Algorithm>::SigningKey;

/// The JWS `alg` of every token we sign.
pub const ALGORITHM: &str = "EdDSA";

/// Why `SIGNING_KEYS` could not be used. It never carries key material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    /// Not a JSON JWK Set.
    NotAJwkSet,
    /// The set is empty.
    Empty,
    /// Key number `n` (from 0) is not an Ed25519 private key whose `x` matches its `d`.
    BadKey(usize),
    /// Two keys are the same key.
    Duplicate(usize),
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotAJwkSet => f.write_str("not a JSON JWK Set"),
            Self::Empty => f.write_str("no keys"),
            Self::BadKey(n) => write!(f, "key {n} is not an Ed25519 private key"),
            Self::Duplicate(n) => write!(f, "key {n} repeats an earlier key"),
        }
    }
}

#[derive(Deserialize)]
struct RawSet<'a> {
    #[serde(borrow)]
    keys: Vec<JsonWebKey<'a>>,
}

/// One private key and its thumbprint.
struct Key {
    kid: String,
    secret: SecretKey,
}

/// A public key as published.
#[derive(Serialize)]
struct PublicJwk<'a> {
    #[serde(flatten)]
    jwk: JsonWebKey<'a>,
    kid: &'a str,
    alg: &'static str,
    #[serde(rename = "use")]
    usage: &'static str,
}

/// The parsed key set. Its `Debug` shows key ids only.
pub struct KeySet {
    keys: Vec<Key>,
    jwks: String,
}

impl fmt::Debug for KeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kids: Vec<&str> = self.keys.iter().map(|k| k.kid.as_str()).collect();
        f.debug_struct("KeySet").field("kids", &kids).finish()
    }
}

impl KeySet {
    /// Parses the `SIGNING_KEYS` secret and prepares the published JWKS.
    pub fn from_jwk_set(json: &str) -> Result<Self, KeyError> {
        let raw: RawSet<'_> = serde_json::from_str(json).map_err(|_| KeyError::NotAJwkSet)?;
        if raw.keys.is_empty() {
            return Err(KeyError::Empty);
        }
        let mut keys: Vec<Key> = Vec::with_capacity(raw.keys.len());
        for (n, jwk) in raw.keys.iter().enumerate() {
            let secret = SecretKey::try_from(jwk).map_err(|_| KeyError::BadKey(n))?;
            let kid = Base64UrlUnpadded::encode_string(&jwk.thumbprint::<Sha256>());
            if keys.iter().any(|k| k.kid == kid) {
                return Err(KeyError::Duplicate(n));
            }
            keys.push(Key { kid, secret });
        }
        let published: Vec<PublicJwk<'_>> = keys
            .iter()
            .zip(&raw.keys)
            .map(|(key, jwk)| PublicJwk {
                jwk: jwk.to_verifying_key(),
                kid: &key.kid,
                alg: ALGORITHM,
                usage: "sig",
            })
            .collect();
        let jwks = serde_json::json!({ "keys": published }).to_string();
        drop(published);
        Ok(Self { keys, jwks })
    }

    /// The `kid` of the key that signs.
    pub fn signing_kid(&self) -> &str {
        &self.keys[0].kid
    }

    /// Every key id, the signing one first.
    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|k| k.kid.as_str())
    }

    /// The public JWKS document (`{"keys": [...]}`), ready to serve.
    pub fn jwks_json(&self) -> &str {
        &self.jwks
    }

    /// Signs `claims` as a JWT with header `typ`, `alg` and the signing key's `kid`.
    pub fn sign<T: Serialize>(
        &self,
        typ: &str,
        claims: T,
    ) -> Result<String, jwt_compact::CreationError> {
        let key = &self.keys[0];
        let header = Header::empty()
            .with_key_id(key.kid.clone())
            .with_token_type(typ);
        Ed25519.token(&header, &Claims::new(claims), &key.secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8037 Appendix A.1: an Ed25519 private key, and (A.3) its RFC 7638 thumbprint.
    pub(crate) const RFC8037_KEY: &str = r#"{"kty":"OKP","crv":"Ed25519",
        "d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A",
        "x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;
    const RFC8037_THUMBPRINT: &str = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k";

    fn set(keys: &[&str]) -> Result<KeySet, KeyError> {
        KeySet::from_jwk_set(&format!(r#"{{"keys":[{}]}}"#, keys.join(",")))
    }

    #[test]
    fn the_kid_is_the_rfc_7638_thumbprint_of_rfc_8037() {
        let keys = set(&[RFC8037_KEY]).unwrap();
        assert_eq!(keys.signing_kid(), RFC8037_THUMBPRINT);
    }

    #[test]
    fn the_published_set_has_public_parts_only() {
        let keys = set(&[RFC8037_KEY]).unwrap();
        let jwks: serde_json::Value = serde_json::from_str(keys.jwks_json()).unwrap();
        let key = &jwks["keys"][0];
        assert_eq!(key["x"], "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo");
        assert_eq!(
            (&key["kty"], &key["crv"], &key["alg"], &key["use"]),
            (
                &"OKP".into(),
                &"Ed25519".into(),
                &"EdDSA".into(),
                &"sig".into()
            )
        );
        assert_eq!(key["kid"], RFC8037_THUMBPRINT);
        assert!(!keys.jwks_json().contains("nWGxne"));
        assert!(key.get("d").is_none());
    }

    #[test]
    fn debug_shows_kids_and_no_key_material() {
        let shown = format!("{:?}", set(&[RFC8037_KEY]).unwrap());
        assert!(shown.contains(RFC8037_THUMBPRINT) && !shown.contains("nWGxne"));
    }

    #[test]
    fn unusable_key_sets_are_refused_without_echoing_them() {
        let public_only =
            r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;
        let mismatched = RFC8037_KEY.replace("11qYAYKx", "21qYAYKx");
        assert_eq!(
            KeySet::from_jwk_set("nope").unwrap_err(),
            KeyError::NotAJwkSet
        );
        assert_eq!(set(&[]).unwrap_err(), KeyError::Empty);
        assert_eq!(set(&[public_only]).unwrap_err(), KeyError::BadKey(0));
        assert_eq!(
            set(&[RFC8037_KEY, &mismatched]).unwrap_err(),
            KeyError::BadKey(1)
        );
        assert_eq!(
            set(&[RFC8037_KEY, RFC8037_KEY]).unwrap_err(),
            KeyError::Duplicate(1)
        );
    }

    #[test]
    fn the_first_key_signs_and_the_header_names_it() {
        let other = r#"{"kty":"OKP","crv":"Ed25519",
            "d":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
            "x":"A6EHv_POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg"}"#;
        let keys = set(&[other, RFC8037_KEY]).unwrap();
        assert_eq!(keys.kids().count(), 2);
        let token = keys
            .sign("at+jwt", serde_json::json!({"sub": "x"}))
            .unwrap();
        let untrusted = jwt_compact::UntrustedToken::new(&token).unwrap();
        assert_eq!(
            untrusted.header().key_id.as_deref(),
            Some(keys.signing_kid())
        );
        assert_eq!(untrusted.header().token_type.as_deref(), Some("at+jwt"));
        assert_eq!(untrusted.algorithm(), "EdDSA");
        assert_ne!(keys.signing_kid(), RFC8037_THUMBPRINT);
    }
}
