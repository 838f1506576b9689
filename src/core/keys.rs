//! Signing keys: parsed once from the `SIGNING_KEYS` secret, published as a JWKS.
//!
//! The secret is a JWK Set of Ed25519 private keys. The first key signs; all are published, so
//! a key can be published before it signs (next) and after it stops (previous): rotation
//! without downtime. Each `kid` is the key's RFC 7638 thumbprint, computed, never configured.

use std::fmt;

use base64ct::{Base64UrlUnpadded, Encoding};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::sign::{self, Signer};

/// The JWS `alg` of every token we sign.
pub const ALGORITHM: &str = "EdDSA";
/// Bytes in an Ed25519 seed (`d`) and in a public key (`x`), RFC 8032.
const KEY_BYTES: usize = 32;

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
struct RawSet {
    keys: Vec<RawKey>,
}

/// One key of the set as written: the members an Ed25519 private key has (RFC 8037 §2);
/// others (a `kid`, `use`, `edge_token_added_at`) are ignored, the kid being computed. Only
/// these four members, rather than a reader of every kind of JWK: this code is compiled by
/// V8 on each isolate's first request (bench/README.md, "Startup to the first token").
#[derive(Deserialize)]
struct RawKey {
    kty: Option<String>,
    crv: Option<String>,
    x: Option<String>,
    d: Option<String>,
}

/// One Ed25519 private key (RFC 8037 `OKP`): its seed `d`, its public key `x` and its
/// thumbprint. What a [`Signer`] signs with; its `Debug` shows the kid only.
pub struct SigningKey {
    kid: String,
    seed: [u8; KEY_BYTES],
    public: [u8; KEY_BYTES],
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish()
    }
}

impl SigningKey {
    /// Reads an Ed25519 private JWK: `crv` Ed25519, a 32-byte `d` and a 32-byte `x`.
    /// Natively it also checks that `x` is `d`'s public key; in the Worker the runtime's
    /// import does (`edge::sign`), since deriving it in wasm is what signing through the
    /// runtime avoids.
    fn from_jwk(jwk: &RawKey) -> Option<Self> {
        if jwk.kty.as_deref() != Some("OKP") || jwk.crv.as_deref() != Some("Ed25519") {
            return None;
        }
        let public = decode_32(jwk.x.as_deref()?)?;
        let key = Self {
            kid: thumbprint(&public),
            seed: decode_32(jwk.d.as_deref()?)?,
            public,
        };
        #[cfg(not(target_arch = "wasm32"))]
        if !sign::is_key_pair(&key.seed, &key.public) {
            return None;
        }
        Some(key)
    }

    /// The key id: the RFC 7638 thumbprint of the public key.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key `x` (32 bytes, RFC 8032).
    pub fn public(&self) -> &[u8; KEY_BYTES] {
        &self.public
    }

    /// The private key as a PKCS #8 document (RFC 8410: the 32-byte seed in a fixed 16-byte
    /// DER prefix), the form in which WebCrypto imports Ed25519 private keys.
    pub fn pkcs8(&self) -> [u8; 48] {
        const PREFIX: [u8; 16] = [
            0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22,
            0x04, 0x20,
        ];
        let mut der = [0_u8; 48];
        der[..16].copy_from_slice(&PREFIX);
        der[16..].copy_from_slice(&self.seed);
        der
    }

    /// The seed `d` followed by the public key `x`: the 64-byte secret key of RFC 8032
    /// implementations such as ed25519-compact.
    pub fn keypair_bytes(&self) -> [u8; 2 * KEY_BYTES] {
        let mut bytes = [0_u8; 2 * KEY_BYTES];
        bytes[..KEY_BYTES].copy_from_slice(&self.seed);
        bytes[KEY_BYTES..].copy_from_slice(&self.public);
        bytes
    }
}

/// 32 bytes from base64url without padding (RFC 7515 §2), as JWK members are written.
fn decode_32(text: &str) -> Option<[u8; KEY_BYTES]> {
    let mut bytes = [0_u8; KEY_BYTES];
    let decoded = Base64UrlUnpadded::decode(text, &mut bytes).ok()?;
    (decoded.len() == KEY_BYTES).then_some(bytes)
}

/// The RFC 7638 thumbprint of an Ed25519 public key, base64url: the SHA-256 of its required
/// members in lexicographic order, without whitespace (RFC 8037 §2, Appendix A.3).
fn thumbprint(public: &[u8; KEY_BYTES]) -> String {
    let x = Base64UrlUnpadded::encode_string(public);
    let members = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
    Base64UrlUnpadded::encode_string(&Sha256::digest(members.as_bytes()))
}

/// A public key as published, its members in lexicographic order (as a JSON object map
/// writes them).
#[derive(Serialize)]
struct PublicJwk<'a> {
    alg: &'static str,
    crv: &'static str,
    kid: &'a str,
    kty: &'static str,
    #[serde(rename = "use")]
    usage: &'static str,
    x: String,
}

/// The published JWK Set.
#[derive(Serialize)]
struct PublishedSet<'a> {
    keys: Vec<PublicJwk<'a>>,
}

/// The parsed key set. Its `Debug` shows key ids only.
pub struct KeySet {
    keys: Vec<SigningKey>,
    jwks: String,
}

impl fmt::Debug for KeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kids: Vec<&str> = self.kids().collect();
        f.debug_struct("KeySet").field("kids", &kids).finish()
    }
}

impl KeySet {
    /// Parses the `SIGNING_KEYS` secret and prepares the published JWKS.
    pub fn from_jwk_set(json: &str) -> Result<Self, KeyError> {
        let raw: RawSet =
            crate::core::json::parse(json.as_bytes()).map_err(|_| KeyError::NotAJwkSet)?;
        if raw.keys.is_empty() {
            return Err(KeyError::Empty);
        }
        let mut keys: Vec<SigningKey> = Vec::with_capacity(raw.keys.len());
        for (n, jwk) in raw.keys.iter().enumerate() {
            let key = SigningKey::from_jwk(jwk).ok_or(KeyError::BadKey(n))?;
            if keys.iter().any(|k| k.kid == key.kid) {
                return Err(KeyError::Duplicate(n));
            }
            keys.push(key);
        }
        let published: Vec<PublicJwk<'_>> = keys
            .iter()
            .map(|key| PublicJwk {
                alg: ALGORITHM,
                crv: "Ed25519",
                kid: &key.kid,
                kty: "OKP",
                usage: "sig",
                x: Base64UrlUnpadded::encode_string(&key.public),
            })
            .collect();
        let jwks = serde_json::to_string(&PublishedSet { keys: published })
            .map_err(|_| KeyError::NotAJwkSet)?;
        Ok(Self { keys, jwks })
    }

    /// The key that signs: the first of the set.
    pub fn signing_key(&self) -> &SigningKey {
        &self.keys[0]
    }

    /// The `kid` of the key that signs.
    pub fn signing_kid(&self) -> &str {
        &self.keys[0].kid
    }

    /// Every key id, the signing one first.
    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|k| k.kid.as_str())
    }

    /// The published key `kid` as a verifying key, if the set has it (a retired key is no
    /// longer in the set: its tokens no longer verify).
    pub fn public_key(&self, kid: &str) -> Option<crate::core::jwk::PublicKey> {
        let key = self.keys.iter().find(|k| k.kid == kid)?;
        let x = Base64UrlUnpadded::encode_string(key.public());
        Some(crate::core::jwk::PublicKey {
            kid: Some(key.kid.clone()),
            alg: crate::core::jwk::Alg::EdDSA,
            jwk: format!(r#"{{"kty":"OKP","crv":"Ed25519","x":"{x}"}}"#),
            ed25519: Some(*key.public()),
        })
    }

    /// The public JWKS document (`{"keys": [...]}`), ready to serve.
    pub fn jwks_json(&self) -> &str {
        &self.jwks
    }

    /// Signs `claims` as a JWT with header `typ`, `alg` and the signing key's `kid`: the
    /// signing input as jwt-compact writes it, signed by `signer` ([`sign`]).
    pub async fn sign<T: Serialize, S: Signer>(
        &self,
        signer: &S,
        typ: &str,
        claims: T,
    ) -> Result<String, sign::SignError> {
        let key = self.signing_key();
        let input = sign::signing_input(&key.kid, typ, claims)?;
        let signature = signer.sign(key, input.as_bytes()).await?;
        Ok(sign::with_signature(input, &signature))
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
    fn the_published_set_is_byte_for_byte_what_jwt_compact_wrote() {
        // As the generic JWK reader and a JSON map wrote it before keys were read by hand.
        let other = r#"{"kty":"OKP","crv":"Ed25519","kid":"ignored","edge_token_added_at":5,
            "d":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
            "x":"A6EHv_POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg"}"#;
        let keys = set(&[RFC8037_KEY, other]).unwrap();
        assert_eq!(
            keys.jwks_json(),
            concat!(
                r#"{"keys":[{"alg":"EdDSA","crv":"Ed25519","kid":"kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k","#,
                r#""kty":"OKP","use":"sig","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},"#,
                r#"{"alg":"EdDSA","crv":"Ed25519","kid":"1IG2tMH7J2wbJZnOf8LJzQitKf7LMvoAElsuDMVM54Y","#,
                r#""kty":"OKP","use":"sig","x":"A6EHv_POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg"}]}"#
            )
        );
    }

    #[test]
    fn keys_of_another_kind_or_length_are_refused_by_position() {
        let x = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
        let d = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
        let refused = [
            format!(r#"{{"kty":"EC","crv":"Ed25519","d":"{d}","x":"{x}"}}"#),
            format!(r#"{{"kty":"OKP","crv":"X25519","d":"{d}","x":"{x}"}}"#),
            format!(r#"{{"kty":"OKP","crv":"Ed25519","d":"{d}AA","x":"{x}"}}"#),
            format!(r#"{{"kty":"OKP","crv":"Ed25519","d":"{d}=","x":"{x}"}}"#),
            format!(
                r#"{{"kty":"OKP","crv":"Ed25519","d":"{d}","x":"{}"}}"#,
                &x[..40]
            ),
            r#"{"kty":"RSA","n":"AQAB","e":"AQAB"}"#.to_owned(),
        ];
        for key in &refused {
            assert_eq!(
                set(&[RFC8037_KEY, key]).unwrap_err(),
                KeyError::BadKey(1),
                "{key}"
            );
        }
        let not_text = format!(r#"{{"kty":"OKP","crv":"Ed25519","d":7,"x":"{x}"}}"#);
        assert_eq!(set(&[&not_text]).unwrap_err(), KeyError::NotAJwkSet);
    }

    #[test]
    fn debug_shows_kids_and_no_key_material() {
        let keys = set(&[RFC8037_KEY]).unwrap();
        for shown in [format!("{keys:?}"), format!("{:?}", keys.signing_key())] {
            assert!(shown.contains(RFC8037_THUMBPRINT) && !shown.contains("nWGxne"));
            assert!(!shown.contains("157, 97") && !shown.contains("9d61b1"));
        }
    }

    #[test]
    fn the_private_key_is_exported_as_rfc_8410_pkcs8() {
        // The same key written by Python's `cryptography` (OpenSSL) as PKCS #8 DER.
        let expected = "302e020100300506032b6570042204209d61b19deffd5a60ba844af492ec2cc4\
                        4449c5697b326919703bac031cae7f60";
        let der = set(&[RFC8037_KEY]).unwrap().signing_key().pkcs8();
        let hex: String = der.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, expected);
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
        let token = crate::core::sign::tests::ready(keys.sign(
            &crate::core::sign::NativeSigner,
            "at+jwt",
            serde_json::json!({"sub": "x"}),
        ))
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
