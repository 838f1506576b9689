//! Signing a token in two steps, so that the token format is one code path on every target:
//!
//! 1. [`signing_input`]: jwt-compact writes the JWS header and the claims and encodes them,
//!    exactly as its `AlgorithmExt::token` does for any algorithm, and gives back
//!    `base64url(header) "." base64url(claims)` (RFC 7515 §5.1) instead of signing it;
//! 2. a [`Signer`] signs those bytes with Ed25519 (RFC 8032, deterministic), and
//!    [`with_signature`] appends `"." base64url(signature)`.
//!
//! The signer is the one platform-specific part: [`NativeSigner`] (ed25519-compact, for tests,
//! benchmarks and tools) natively, the runtime's WebCrypto in the Worker (`edge::sign`),
//! where BoringSSL signs in native code instead of wasm32 emulating ed25519-compact's 128-bit
//! products (~95 µs a signature inside workerd). Ed25519 is deterministic, so both give the
//! same bytes for the same key and input: a test below pins the native path to RFC 8037's
//! example JWS, and the black-box tests pin the Worker's signatures to Node's.

use std::borrow::Cow;

use base64ct::{Base64UrlUnpadded, Encoding};
use jwt_compact::{Algorithm, AlgorithmExt, AlgorithmSignature, Claims, Header};
use serde::Serialize;

use super::keys::{SigningKey, ALGORITHM};

/// Bytes in an Ed25519 signature.
pub const SIGNATURE_BYTES: usize = 64;

/// An Ed25519 signature.
pub type Signature = [u8; SIGNATURE_BYTES];

/// The token could not be signed: the key was refused by the signer, or the claims could not
/// be written. Carries nothing of the key or the claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignError;

impl From<jwt_compact::CreationError> for SignError {
    fn from(_: jwt_compact::CreationError) -> Self {
        Self
    }
}

/// Signs JWS signing inputs with Ed25519 (RFC 8032).
#[allow(async_fn_in_trait)] // Workers are single-threaded: no `Send` bound wanted.
pub trait Signer {
    /// The signature of `input` under `key`.
    async fn sign(&self, key: &SigningKey, input: &[u8]) -> Result<Signature, SignError>;
}

/// jwt-compact's algorithm for step 1: it names itself `EdDSA` and signs nothing, so
/// `token()` writes `header "." claims "."` and the signature is left to a [`Signer`].
struct Unsigned;

/// The empty signature of [`Unsigned`].
struct NoSignature;

impl AlgorithmSignature for NoSignature {
    fn try_from_slice(_: &[u8]) -> anyhow::Result<Self> {
        anyhow::bail!("a token is never verified with this algorithm")
    }

    fn as_bytes(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&[])
    }
}

impl Algorithm for Unsigned {
    type SigningKey = ();
    type VerifyingKey = ();
    type Signature = NoSignature;

    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed(ALGORITHM)
    }

    fn sign(&self, (): &(), _: &[u8]) -> NoSignature {
        NoSignature
    }

    fn verify_signature(&self, _: &NoSignature, (): &(), _: &[u8]) -> bool {
        false
    }
}

/// The JWS signing input of a token with header `alg: EdDSA`, `kid`, `typ` and these claims,
/// written by jwt-compact.
pub fn signing_input<T: Serialize>(
    kid: &str,
    typ: &str,
    claims: T,
) -> Result<String, jwt_compact::CreationError> {
    let header = Header::empty().with_key_id(kid).with_token_type(typ);
    let mut token = Unsigned.token(&header, &Claims::new(claims), &())?;
    token.pop(); // the "." before the (empty) signature
    Ok(token)
}

/// The compact JWS: the signing input, ".", the signature in base64url.
pub fn with_signature(input: String, signature: &Signature) -> String {
    let mut token = input;
    token.push('.');
    token.push_str(&Base64UrlUnpadded::encode_string(signature));
    token
}

/// Whether `public` is the Ed25519 public key of `seed` (native only: see
/// [`SigningKey`]).
#[cfg(not(target_arch = "wasm32"))]
pub fn is_key_pair(seed: &[u8; 32], public: &[u8; 32]) -> bool {
    use ed25519_compact::{KeyPair, Seed};
    KeyPair::from_seed(Seed::new(*seed)).pk.as_ref() == public
}

/// Ed25519 in Rust (ed25519-compact), deterministic as RFC 8032 specifies: the signer of the
/// native builds (tests, benchmarks, tools). Not in the Worker, which signs through WebCrypto.
#[cfg(not(target_arch = "wasm32"))]
#[derive(Debug, Clone, Copy, Default)]
pub struct NativeSigner;

#[cfg(not(target_arch = "wasm32"))]
impl Signer for NativeSigner {
    async fn sign(&self, key: &SigningKey, input: &[u8]) -> Result<Signature, SignError> {
        let secret =
            ed25519_compact::SecretKey::from_slice(&key.keypair_bytes()).map_err(|_| SignError)?;
        Ok(*secret.sign(input, None))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::{
        future::Future,
        pin::pin,
        task::{Context, Poll, Waker},
    };

    use jwt_compact::alg::Ed25519;

    use super::*;
    use crate::core::keys::KeySet;

    /// RFC 8037 Appendix A.1's key.
    const RFC8037_KEY: &str = r#"{"keys":[{"kty":"OKP","crv":"Ed25519",
        "d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A",
        "x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;

    /// Runs a future that never waits.
    pub(crate) fn ready<F: Future>(future: F) -> F::Output {
        match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(output) => output,
            Poll::Pending => panic!("the native signer never waits"),
        }
    }

    #[test]
    fn the_native_signer_gives_rfc_8037_s_example_signature() {
        // RFC 8037 Appendix A.4: the JWS of "Example of Ed25519 signing" under A.1's key.
        let input = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc";
        let keys = KeySet::from_jwk_set(RFC8037_KEY).unwrap();
        let signature = ready(NativeSigner.sign(keys.signing_key(), input.as_bytes())).unwrap();
        assert_eq!(
            with_signature(input.to_owned(), &signature),
            "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLW\
             G1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
        );
    }

    #[test]
    fn the_signing_input_is_the_header_and_claims_jwt_compact_signs() {
        let keys = KeySet::from_jwk_set(RFC8037_KEY).unwrap();
        let claims = serde_json::json!({"sub": "svc", "aud": ["a", "b"], "iat": 1, "exp": 2});
        let token = ready(keys.sign(&NativeSigner, "at+jwt", &claims)).unwrap();

        let secret = ed25519_compact::SecretKey::from_slice(&keys.signing_key().keypair_bytes());
        let header = Header::empty()
            .with_key_id(keys.signing_kid())
            .with_token_type("at+jwt");
        let theirs = Ed25519
            .token(&header, &Claims::new(&claims), &secret.unwrap())
            .unwrap();
        // jwt-compact's own Ed25519 adds random noise to the nonce (hedged signatures), so only
        // the signed part can be compared; the signature is checked by verifying it.
        let (input, _) = theirs.rsplit_once('.').unwrap();
        let (ours, signature) = token.rsplit_once('.').unwrap();
        assert_eq!(ours, input);
        let public = ed25519_compact::PublicKey::new(*keys.signing_key().public());
        let signature = Base64UrlUnpadded::decode_vec(signature).unwrap();
        let signature = ed25519_compact::Signature::from_slice(&signature).unwrap();
        assert!(public.verify(ours, &signature).is_ok());
        assert!(public.verify(format!("{ours}x"), &signature).is_err());
    }

    #[test]
    fn the_same_input_gets_the_same_signature() {
        let keys = KeySet::from_jwk_set(RFC8037_KEY).unwrap();
        let sign = || ready(keys.sign(&NativeSigner, "at+jwt", serde_json::json!({"a": 1})));
        assert_eq!(sign(), sign());
    }
}
