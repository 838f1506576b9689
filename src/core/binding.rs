//! Sender-constrained tokens: the key a token is bound to, and how it says so.
//!
//! A bound token carries a confirmation claim, `cnf` (RFC 7800), naming the one key its
//! presenter must prove it holds: the client certificate of the mutual-TLS connection it was
//! requested over (`x5t#S256`, RFC 8705 §3.1), or the public key of the DPoP proof that came
//! with the request (`jkt`, RFC 9449 §6.1). A token is bound to one key at most; which one is
//! decided by [`crate::core::token::Issuer`] from the request and the client's record.

use base64ct::{Base64UrlUnpadded, Encoding};
use serde::{Deserialize, Serialize};

/// The key a token is bound to. Serialized as the `cnf` claim's object:
/// `{"x5t#S256": "…"}` or `{"jkt": "…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Binding {
    /// A client certificate: the base64url SHA-256 of its DER encoding (RFC 8705 §3.1).
    #[serde(rename = "x5t#S256")]
    Certificate(String),
    /// A DPoP key: its RFC 7638 JWK SHA-256 thumbprint, base64url (RFC 9449 §6.1).
    #[serde(rename = "jkt")]
    Dpop(String),
}

impl Binding {
    /// A certificate binding from the SHA-256 of the certificate's DER encoding.
    pub fn certificate(sha256: &[u8; 32]) -> Self {
        Self::Certificate(Base64UrlUnpadded::encode_string(sha256))
    }

    /// The `token_type` of a token bound so (RFC 9449 §5: `DPoP`; a certificate-bound token
    /// is still presented as `Bearer`, RFC 8705 §3).
    pub fn token_type(binding: Option<&Self>) -> &'static str {
        match binding {
            Some(Self::Dpop(_)) => "DPoP",
            Some(Self::Certificate(_)) | None => "Bearer",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_binding_serializes_as_the_cnf_member_its_rfc_names() {
        let cert = Binding::certificate(&[0xff; 32]);
        let json = serde_json::to_string(&cert).unwrap();
        assert_eq!(
            json,
            r#"{"x5t#S256":"__________________________________________8"}"#
        );
        let dpop = Binding::Dpop("abc".into());
        assert_eq!(serde_json::to_string(&dpop).unwrap(), r#"{"jkt":"abc"}"#);
        for binding in [cert, dpop] {
            let json = serde_json::to_string(&binding).unwrap();
            assert_eq!(serde_json::from_str::<Binding>(&json).unwrap(), binding);
        }
    }

    #[test]
    fn only_a_dpop_bound_token_changes_its_token_type() {
        assert_eq!(Binding::token_type(None), "Bearer");
        assert_eq!(
            Binding::token_type(Some(&Binding::certificate(&[0; 32]))),
            "Bearer"
        );
        assert_eq!(
            Binding::token_type(Some(&Binding::Dpop("k".into()))),
            "DPoP"
        );
    }
}
