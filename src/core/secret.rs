//! Client secrets and their keyed hashes.
//!
//! A secret is stored only as `HMAC-SHA-256(pepper, secret)`; the pepper is a Worker secret, apart
//! from KV. Why not a slow password hash: docs/storage-schema.md.

use std::fmt;

use base64ct::{Base64UrlUnpadded, Encoding};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The smallest pepper we accept, in bytes.
pub const MIN_PEPPER_BYTES: usize = 32;

/// A client secret as presented by a caller. Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientSecret(String);

impl ClientSecret {
    /// Wraps a presented secret.
    pub fn new(secret: String) -> Self {
        Self(secret)
    }

    /// The secret itself; call sites are the hashing below and nothing else.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret([redacted])")
    }
}

/// The 32-byte keyed hash of a secret.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SecretHash([u8; 32]);

impl SecretHash {
    /// Parses the stored form: base64url without padding.
    pub fn parse(encoded: &str) -> Option<Self> {
        let mut bytes = [0_u8; 32];
        let decoded = Base64UrlUnpadded::decode(encoded, &mut bytes).ok()?;
        (decoded.len() == 32).then_some(Self(bytes))
    }

    /// The stored form: base64url without padding.
    pub fn encode(&self) -> String {
        Base64UrlUnpadded::encode_string(&self.0)
    }

    /// Compares in constant time.
    pub fn matches(&self, other: &SecretHash) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretHash([redacted])")
    }
}

/// The HMAC key under which secrets are hashed.
#[derive(Clone)]
pub struct Pepper(Hmac<Sha256>);

impl Pepper {
    /// Takes the pepper's text as bytes; `None` when shorter than [`MIN_PEPPER_BYTES`].
    pub fn new(pepper: &str) -> Option<Self> {
        if pepper.len() < MIN_PEPPER_BYTES {
            return None;
        }
        Hmac::new_from_slice(pepper.as_bytes()).ok().map(Self)
    }

    /// The keyed hash of a secret.
    pub fn hash(&self, secret: &ClientSecret) -> SecretHash {
        let mut mac = self.0.clone();
        mac.update(secret.expose().as_bytes());
        SecretHash(mac.finalize().into_bytes().into())
    }

    /// A short keyed tag of `text` for the log, in place of text that must not be logged (a
    /// secret sent where an id belongs): the first 64 bits of `HMAC-SHA-256(pepper, "log-tag\0"
    /// ‖ text)`, base64url. The same text always gets the same tag, so lines can be matched
    /// up, and an operator who has the pepper can compute the tag of a suspected value; nobody
    /// else learns anything from it. The label keeps tags apart from stored secret hashes.
    pub fn log_tag(&self, text: &str) -> String {
        let mut mac = self.0.clone();
        mac.update(LOG_TAG_LABEL);
        mac.update(text.as_bytes());
        let digest = mac.finalize().into_bytes();
        Base64UrlUnpadded::encode_string(&digest[..LOG_TAG_BYTES])
    }
}

impl Pepper {
    /// `HMAC-SHA-256(pepper, parts concatenated)`: a value derived from the pepper for another
    /// purpose, which the caller keeps apart by starting `parts` with a label of its own (as
    /// the DPoP nonces, `core::dpop`). Never the pepper itself.
    pub fn keyed(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = self.0.clone();
        for part in parts {
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }
}

/// What a log tag's HMAC input starts with.
const LOG_TAG_LABEL: &[u8] = b"log-tag\0";
/// Bytes of the HMAC kept in a log tag: 64 bits, 11 base64url characters.
pub const LOG_TAG_BYTES: usize = 8;

impl fmt::Debug for Pepper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pepper([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEPPER: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn debug_output_never_shows_a_secret() {
        let secret = ClientSecret::new("hunter2-very-secret".into());
        let pepper = Pepper::new(PEPPER).unwrap();
        let shown = format!("{secret:?} {pepper:?} {:?}", pepper.hash(&secret));
        assert!(!shown.contains("hunter2"));
        assert!(!shown.contains("0123456789"));
        assert_eq!(shown.matches("[redacted]").count(), 3);
    }

    #[test]
    fn the_hash_is_hmac_sha256_of_the_secret_under_the_pepper() {
        // Checked against an independent implementation (Python's hmac module):
        let key = "Jefe-Jefe-Jefe-Jefe-Jefe-Jefe-Je";
        let hash = Pepper::new(key)
            .unwrap()
            .hash(&ClientSecret::new("what do ya want for nothing?".into()));
        // python3 -c "import hmac,hashlib,base64;print(base64.urlsafe_b64encode(hmac.new(
        //   b'Jefe-Jefe-Jefe-Jefe-Jefe-Jefe-Je', b'what do ya want for nothing?',
        //   hashlib.sha256).digest()).rstrip(b'='))"
        assert_eq!(hash.encode(), "BVRIhoDwx1iq63KqmKqS1WFLb4YmY8aH87lyIYiMMKs");
    }

    #[test]
    fn a_log_tag_is_short_stable_keyed_and_not_a_prefix_of_the_secret_hash() {
        let pepper = Pepper::new(PEPPER).unwrap();
        let other = Pepper::new(&PEPPER.replace('0', "1")).unwrap();
        let tag = pepper.log_tag("etcs_some-secret");
        assert_eq!(tag.len(), 11);
        assert_eq!(tag, pepper.log_tag("etcs_some-secret"), "stable");
        assert_ne!(tag, pepper.log_tag("etcs_some-secreT"));
        assert_ne!(
            tag,
            other.log_tag("etcs_some-secret"),
            "keyed by the pepper"
        );
        let hash = pepper.hash(&ClientSecret::new("etcs_some-secret".into()));
        assert!(
            !hash.encode().starts_with(&tag),
            "separate from the stored hash"
        );
        // python3 -c "import hmac,hashlib,base64;print(base64.urlsafe_b64encode(hmac.new(
        //   b'0123456789abcdef0123456789abcdef', b'log-tag\x00abc', hashlib.sha256
        //   ).digest()[:8]).rstrip(b'='))"
        assert_eq!(pepper.log_tag("abc"), "WAnHjv1TWU4");
    }

    #[test]
    fn a_short_pepper_is_refused() {
        assert!(Pepper::new(&PEPPER[..31]).is_none());
    }

    #[test]
    fn hashes_round_trip_and_compare() {
        let pepper = Pepper::new(PEPPER).unwrap();
        let a = pepper.hash(&ClientSecret::new("a".into()));
        let b = pepper.hash(&ClientSecret::new("b".into()));
        assert_eq!(SecretHash::parse(&a.encode()), Some(a));
        assert!(a.matches(&a) && !a.matches(&b));
    }

    #[test]
    fn a_stored_hash_of_the_wrong_length_or_alphabet_is_refused() {
        assert!(SecretHash::parse("abc").is_none());
        assert!(SecretHash::parse(&"A".repeat(44)).is_none());
        assert!(SecretHash::parse(&format!("{}=", "A".repeat(42))).is_none());
        assert!(SecretHash::parse(&"+".repeat(43)).is_none());
    }
}
