//! DPoP proofs at the token endpoint (RFC 9449 §4): reading the `DPoP` header, every check of
//! the proof but its signature's and its `jti`'s single use (which need the
//! [`crate::core::jwk::Verifier`] and the client's guard object), the key's RFC 7638
//! thumbprint the token is bound to, and the server's nonces (§8).
//!
//! Pure: the time is passed in. Every refusal is a [`ProofCheck`], which the log names; the
//! caller sees `invalid_dpop_proof` (or `use_dpop_nonce`), never which check failed.
//!
//! The choices RFC 9449 leaves open:
//! - algorithms: ES256 and EdDSA ([`ALGS`]), verified by the runtime like client assertions;
//! - `iat`: at most [`IAT_PAST_S`] old and [`IAT_FUTURE_S`] ahead of our clock (§11.1);
//! - `htu`: compared with the URL the request came to (a tenant has several token paths),
//!   both without query and fragment, scheme and host in lower case, the default port left out
//!   (RFC 3986 §6.2.2.1 and §6.2.3); the path is compared as it is;
//! - `jti`: 1 to [`MAX_JTI_CHARS`] characters, single use: its digest (over the key's
//!   thumbprint and the `jti`, [`Proof::jti_digest`]) is spent in the client's guard object
//!   until the proof can no longer be accepted;
//! - nonces (a tenant's `dpop_nonce`): stateless, an HMAC of the time slot under a key derived
//!   from the pepper ([`nonce`]); the current and the previous slot's are accepted.

use base64ct::{Base64UrlUnpadded, Encoding};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{
    assertion,
    binding::Binding,
    config::Tenant,
    error::Error,
    guard::{SpendRequest, Spent},
    jwk::{self, Alg, PublicKey, Verifier},
    secret::Pepper,
};

/// The JOSE `typ` of a DPoP proof (RFC 9449 §4.2).
pub const PROOF_TYP: &str = "dpop+jwt";
/// The algorithms a proof may be signed with, in the metadata's order.
pub const ALGS: [Alg; 2] = [Alg::ES256, Alg::EdDSA];
/// The longest proof read (an ES256 or EdDSA proof is well under 1 KiB).
pub const MAX_PROOF_BYTES: usize = 4 * 1024;
/// Seconds a proof's `iat` may lie in the past.
pub const IAT_PAST_S: u64 = 60;
/// Seconds a proof's `iat` may lie in the future (the client's clock ahead of ours).
pub const IAT_FUTURE_S: u64 = 5;
/// The longest `jti` accepted.
pub const MAX_JTI_CHARS: usize = 128;
/// Seconds of one nonce's time slot: a nonce is accepted for one to two of them.
pub const NONCE_SLOT_S: u64 = 300;
/// Bytes of the HMAC kept in a nonce: 128 bits, 22 base64url characters.
const NONCE_BYTES: usize = 16;
/// What a nonce's HMAC input starts with (never a secret's hash or a log tag).
const NONCE_LABEL: &[u8] = b"dpop-nonce\0";
/// What a proof `jti`'s digest starts with (never an assertion `jti`'s digest).
const JTI_LABEL: &[u8] = b"dpop-jti\0";

/// Which check refused a proof: the log's `reason`, never the caller's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProofCheck {
    /// Not one compact JWS of JSON objects (several `DPoP` headers are joined by ", "), a
    /// member of the wrong type, or too long.
    Malformed,
    /// `typ` is not [`PROOF_TYP`].
    Typ,
    /// `alg` is not one of [`ALGS`], or the header has `crit`.
    Alg,
    /// The header's `jwk` has a private member.
    PrivateKey,
    /// No `jwk`, or not a public key of `alg`'s type.
    Jwk,
    /// The signature does not verify with the header's `jwk`.
    Signature,
    /// `htm` is not `POST`.
    Htm,
    /// `htu` is not the URL the request came to.
    Htu,
    /// `iat` missing, too old or too far in the future.
    Iat,
    /// No `jti`, or one too long.
    Jti,
    /// The `jti` was used before.
    Replay,
    /// The client's record asks for DPoP-bound tokens and the request has no proof.
    Required,
    /// The tenant asks for nonces and the proof has none, or a stale one (`use_dpop_nonce`).
    Nonce,
}

impl ProofCheck {
    /// The log's name of the check.
    pub fn reason(self) -> &'static str {
        match self {
            Self::Malformed => "dpop_malformed",
            Self::Typ => "dpop_typ",
            Self::Alg => "dpop_alg",
            Self::PrivateKey => "dpop_private_key",
            Self::Jwk => "dpop_jwk",
            Self::Signature => "dpop_signature",
            Self::Htm => "dpop_htm",
            Self::Htu => "dpop_htu",
            Self::Iat => "dpop_iat",
            Self::Jti => "dpop_jti",
            Self::Replay => "dpop_replay",
            Self::Required => "dpop_required",
            Self::Nonce => "use_dpop_nonce",
        }
    }
}

/// What a request brings for DPoP: the `DPoP` header's value, and the URL it came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofInput {
    /// The header, as the runtime gives it (several headers joined by ", ").
    pub header: String,
    /// The request's URL.
    pub url: String,
}

/// A proof, read and its header checked, but not its claims, signature or `jti`'s use.
#[derive(Clone, PartialEq, Eq)]
pub struct Proof {
    /// The header's public key, for `alg`.
    pub key: PublicKey,
    /// Its RFC 7638 SHA-256 thumbprint, base64url.
    pub jkt: String,
    /// `htm`.
    pub htm: String,
    /// `htu`.
    pub htu: String,
    /// `iat`.
    pub iat: u64,
    /// `jti`.
    pub jti: String,
    /// `nonce`, if any.
    pub nonce: Option<String>,
    /// `base64url(header) "." base64url(claims)`: what the signature covers.
    pub signing_input: String,
    /// The decoded signature.
    pub signature: Vec<u8>,
}

impl std::fmt::Debug for Proof {
    /// Never the proof itself.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Proof(..)")
    }
}

/// A malformed part is a malformed proof.
fn malformed(_: assertion::Check) -> ProofCheck {
    ProofCheck::Malformed
}

impl Proof {
    /// Reads a `DPoP` header's proof (RFC 9449 §4.3 steps 1–6): one compact JWS, `typ`
    /// [`PROOF_TYP`], `alg` one of [`ALGS`], no `crit`, and a public `jwk` of `alg`'s type.
    pub fn parse(header: &str) -> Result<Self, ProofCheck> {
        let jws_byte = |b: u8| b.is_ascii_alphanumeric() || b"-_.".contains(&b);
        if header.len() > MAX_PROOF_BYTES || !header.bytes().all(jws_byte) {
            return Err(ProofCheck::Malformed);
        }
        let (header_b64, claims_b64, signature) =
            assertion::compact_parts(header).ok_or(ProofCheck::Malformed)?;
        let head = assertion::object(header_b64).map_err(malformed)?;
        let claims = assertion::object(claims_b64).map_err(malformed)?;
        let signature =
            Base64UrlUnpadded::decode_vec(signature).map_err(|_| ProofCheck::Malformed)?;
        if assertion::string(&head, "typ")
            .map_err(malformed)?
            .as_deref()
            != Some(PROOF_TYP)
        {
            return Err(ProofCheck::Typ);
        }
        let alg = assertion::string(&head, "alg").map_err(malformed)?;
        let alg = (alg.as_deref().and_then(Alg::parse))
            .filter(|alg| ALGS.contains(alg) && !head.contains_key("crit"))
            .ok_or(ProofCheck::Alg)?;
        let (key, jkt) = public_key(head.get("jwk"), alg)?;
        let text = |name| assertion::string(&claims, name).map_err(malformed);
        Ok(Self {
            key,
            jkt,
            htm: text("htm")?.unwrap_or_default(),
            htu: text("htu")?.unwrap_or_default(),
            iat: assertion::date(&claims, "iat")
                .map_err(malformed)?
                .ok_or(ProofCheck::Iat)?,
            jti: text("jti")?.unwrap_or_default(),
            nonce: text("nonce")?,
            signing_input: format!("{header_b64}.{claims_b64}"),
            signature,
        })
    }

    /// The claims' checks at the token endpoint (RFC 9449 §4.3 steps 7–11) at `now` (Unix
    /// seconds), for a request to `url`: `htm` POST, `htu` that URL, `iat` within the window,
    /// a `jti` of bounded length. The nonce is [`Proof::check_nonce`]'s.
    pub fn check_claims(&self, url: &str, now: u64) -> Result<(), ProofCheck> {
        if self.htm != "POST" {
            return Err(ProofCheck::Htm);
        }
        match (normalized_htu(&self.htu), normalized_htu(url)) {
            (Some(presented), Some(expected)) if presented == expected => {}
            _ => return Err(ProofCheck::Htu),
        }
        if self.iat > now + IAT_FUTURE_S || self.iat + IAT_PAST_S < now {
            return Err(ProofCheck::Iat);
        }
        if !(1..=MAX_JTI_CHARS).contains(&self.jti.len()) {
            return Err(ProofCheck::Jti);
        }
        Ok(())
    }

    /// The nonce's check when the tenant asks for nonces: one of `tenant`'s at `now` (Unix
    /// seconds), the current slot's or the previous one's.
    pub fn check_nonce(&self, pepper: &Pepper, tenant: &str, now: u64) -> Result<(), ProofCheck> {
        let slot = now / NONCE_SLOT_S;
        let presented = self.nonce.as_deref().unwrap_or_default().as_bytes();
        let fresh = [slot, slot.saturating_sub(1)]
            .iter()
            .fold(false, |fresh, slot| {
                let nonce = nonce(pepper, tenant, *slot);
                fresh | bool::from(nonce.as_bytes().ct_eq(presented))
            });
        fresh.then_some(()).ok_or(ProofCheck::Nonce)
    }

    /// What the client's guard object keeps of the `jti`: the first 96 bits of SHA-256 over a
    /// label of its own, the key's thumbprint and the `jti`, base64url (16 characters). The
    /// label keeps it apart from an assertion's `jti`; the thumbprint, from another key's.
    pub fn jti_digest(&self) -> String {
        let digest = Sha256::new()
            .chain_update(JTI_LABEL)
            .chain_update(self.jkt.as_bytes())
            .chain_update(b"\0")
            .chain_update(self.jti.as_bytes())
            .finalize();
        Base64UrlUnpadded::encode_string(&digest[..12])
    }

    /// Unix ms until which the `jti` must be remembered: past it, `iat` is too old anyway.
    pub fn remember_until_ms(&self) -> u64 {
        self.iat.saturating_add(IAT_PAST_S + 1).saturating_mul(1000)
    }

    /// The binding of a token issued with this proof: the key's thumbprint.
    pub fn binding(&self) -> Binding {
        Binding::Dpop(self.jkt.clone())
    }
}

/// The header's `jwk`: a public key of `alg`'s type (any private member refused as such),
/// and its RFC 7638 thumbprint.
fn public_key(jwk: Option<&Value>, alg: Alg) -> Result<(PublicKey, String), ProofCheck> {
    let members = jwk.and_then(Value::as_object).ok_or(ProofCheck::Jwk)?;
    if jwk::PRIVATE_MEMBERS
        .iter()
        .any(|m| members.contains_key(*m))
    {
        return Err(ProofCheck::PrivateKey);
    }
    let key = jwk::public_key(&Value::Object(members.clone()), alg).map_err(|_| ProofCheck::Jwk)?;
    let jkt = thumbprint(members).ok_or(ProofCheck::Jwk)?;
    Ok((key, jkt))
}

/// Where and when a proof is read: the tenant (its nonce option), the pepper (its nonces),
/// and the time (Unix ms).
pub struct At<'a> {
    /// The tenant.
    pub tenant: &'a Tenant,
    /// The pepper.
    pub pepper: &'a Pepper,
    /// Unix ms.
    pub now_ms: u64,
}

/// A request's proof read, and every check of it that needs neither the verifier nor the
/// client's object (RFC 9449 §4.3): claims, then the tenant's nonce.
pub fn read(input: &ProofInput, at: &At<'_>) -> Result<Proof, Error> {
    let now = at.now_ms / 1000;
    let proof = Proof::parse(&input.header).map_err(Error::Dpop)?;
    proof.check_claims(&input.url, now).map_err(Error::Dpop)?;
    if at.tenant.dpop_nonce {
        (proof.check_nonce(at.pepper, &at.tenant.name, now)).map_err(Error::Dpop)?;
    }
    Ok(proof)
}

/// A proof [`read`] when its client authenticated, whose `jti` was spent then, in the same
/// request to the client's object as the rest of the token's (`core::token`), before its
/// signature is checked: the outcome waits for [`check`]. A proof whose signature then fails
/// has spent a `jti` only its own key could use again.
#[derive(Debug, Clone)]
pub struct SpentEarly {
    /// The proof.
    pub proof: Proof,
    /// Its `jti`'s outcome.
    pub spent: Spent,
}

/// The spend of a proof's `jti` in the client's object.
pub fn spend_request(proof: &Proof) -> SpendRequest {
    SpendRequest {
        jti: proof.jti_digest(),
        until_ms: proof.remember_until_ms(),
    }
}

/// The checks of a request's proof that follow its [`read`] and its `jti`'s spend, for an
/// authenticated client (RFC 9449 §4.3): the signature, then the spend's outcome (a replay
/// refused). `early` is the proof so read and spent, or why it could not be read, answered
/// here so that a request's refusals come in the same order whatever its proof. The binding
/// of the token it may have.
pub async fn check<K: Verifier>(
    verifier: &K,
    early: Result<SpentEarly, Error>,
) -> Result<Binding, Error> {
    let SpentEarly { proof, spent } = early?;
    let input = proof.signing_input.as_bytes();
    match verifier.verify(&proof.key, input, &proof.signature).await {
        Ok(true) => {}
        // A key the runtime refuses is the caller's, not a fault of ours.
        Ok(false) | Err(_) => return Err(Error::Dpop(ProofCheck::Signature)),
    }
    spent.result(Error::Dpop(ProofCheck::Replay))?;
    Ok(proof.binding())
}

/// The RFC 7638 SHA-256 thumbprint of a public JWK: its required members (by `kty`) as JSON
/// in lexicographic order, without white space, hashed, base64url.
pub fn thumbprint(jwk: &Map<String, Value>) -> Option<String> {
    let required: &[&str] = match jwk.get("kty")?.as_str()? {
        "EC" => &["crv", "kty", "x", "y"],
        "OKP" => &["crv", "kty", "x"],
        "RSA" => &["e", "kty", "n"],
        _ => return None,
    };
    let mut json = String::from("{");
    for (i, name) in required.iter().enumerate() {
        let value = jwk.get(*name)?.as_str()?;
        if i > 0 {
            json.push(',');
        }
        json.push_str(&format!("\"{name}\":{}", super::json::text(&value)));
    }
    json.push('}');
    Some(Base64UrlUnpadded::encode_string(&Sha256::digest(
        json.as_bytes(),
    )))
}

/// `tenant`'s nonce of time slot `slot`: the first 128 bits of an HMAC under the pepper, over a
/// label of its own, the tenant and the slot, base64url. Nobody without the pepper can make one.
pub fn nonce(pepper: &Pepper, tenant: &str, slot: u64) -> String {
    let mac = pepper.keyed(&[NONCE_LABEL, tenant.as_bytes(), b"\0", &slot.to_be_bytes()]);
    Base64UrlUnpadded::encode_string(&mac[..NONCE_BYTES])
}

/// The nonce to hand out at `now` (Unix seconds): the current slot's.
pub fn current_nonce(pepper: &Pepper, tenant: &str, now: u64) -> String {
    nonce(pepper, tenant, now / NONCE_SLOT_S)
}

/// A URL as `htu` is compared (RFC 9449 §4.3 step 9): without query and fragment, scheme and
/// host in lower case, without the scheme's default port, an empty path as `/`. `None` when it
/// is not an absolute http(s) URL without user information.
pub fn normalized_htu(url: &str) -> Option<String> {
    let url = url.split('#').next().unwrap_or("");
    let url = url.split('?').next().unwrap_or("");
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => "443",
        "http" => "80",
        _ => return None,
    };
    let (authority, path) = rest.find('/').map_or((rest, "/"), |i| rest.split_at(i));
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    let (host, port) = match authority.rfind(':') {
        Some(i) if !authority[i..].contains(']') => (&authority[..i], &authority[i + 1..]),
        _ => (authority, ""),
    };
    if host.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let port = if port.is_empty() || port == default_port {
        String::new()
    } else {
        format!(":{port}")
    };
    Some(format!(
        "{scheme}://{}{port}{path}",
        host.to_ascii_lowercase()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::{
        jwk::tests::RFC8037_X,
        sign::{tests::ready, NativeSigner},
    };
    use ed25519_compact::{KeyPair, Seed};
    use serde_json::json;

    const NOW: u64 = 1_800_000_000;
    const URL: &str = "https://auth.example.com/oauth2/token";
    const PEPPER: &str = "0123456789abcdef0123456789abcdef";

    fn b64(bytes: &[u8]) -> String {
        Base64UrlUnpadded::encode_string(bytes)
    }

    fn pair() -> KeyPair {
        KeyPair::from_seed(Seed::new([7; 32]))
    }

    fn public_jwk(pair: &KeyPair) -> Value {
        json!({ "kty": "OKP", "crv": "Ed25519", "x": b64(pair.pk.as_ref()) })
    }

    fn claims() -> Value {
        json!({ "htm": "POST", "htu": URL, "iat": NOW, "jti": "j-1" })
    }

    /// A proof of `claims` under `header`, signed with [`pair`].
    fn sign(header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let signature = pair().sk.sign(input.as_bytes(), None);
        format!("{input}.{}", b64(signature.as_ref()))
    }

    fn header() -> Value {
        json!({ "typ": PROOF_TYP, "alg": "EdDSA", "jwk": public_jwk(&pair()) })
    }

    fn good() -> String {
        sign(&header(), &claims())
    }

    #[test]
    fn a_good_proof_passes_every_check_and_its_signature_verifies() {
        let proof = Proof::parse(&good()).unwrap();
        assert_eq!(proof.check_claims(URL, NOW), Ok(()));
        let verified =
            NativeSigner.verify(&proof.key, proof.signing_input.as_bytes(), &proof.signature);
        assert_eq!(ready(verified), Ok(true));
        let mut tampered = proof.signature.clone();
        tampered[0] ^= 1;
        let refused = NativeSigner.verify(&proof.key, proof.signing_input.as_bytes(), &tampered);
        assert_eq!(ready(refused), Ok(false));
        let jwk = public_jwk(&pair());
        let expected = thumbprint(jwk.as_object().unwrap()).unwrap();
        assert_eq!(proof.binding(), Binding::Dpop(expected));
    }

    #[test]
    fn thumbprints_match_rfc_7638_and_rfc_9449_examples() {
        // RFC 7638 §3.1.
        let rsa = json!({ "kty": "RSA", "e": "AQAB", "alg": "RS256", "kid": "2011-04-29",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw" });
        assert_eq!(
            thumbprint(rsa.as_object().unwrap()).as_deref(),
            Some("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
        );
        // RFC 9449 §4.1's proof key (the jkt computed by jose's calculateJwkThumbprint).
        let ec = json!({ "kty": "EC", "crv": "P-256",
            "x": "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs",
            "y": "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA" });
        assert_eq!(
            thumbprint(ec.as_object().unwrap()).as_deref(),
            Some("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I")
        );
        let okp = json!({ "kty": "OKP", "crv": "Ed25519", "x": RFC8037_X });
        assert_eq!(
            thumbprint(okp.as_object().unwrap()).as_deref(),
            Some("kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k")
        );
        assert_eq!(
            thumbprint(json!({ "kty": "oct" }).as_object().unwrap()),
            None
        );
    }

    #[test]
    fn each_header_check_names_its_reason() {
        let with = |change: &dyn Fn(&mut Map<String, Value>)| {
            let mut h = header();
            change(h.as_object_mut().unwrap());
            Proof::parse(&sign(&h, &claims())).err()
        };
        type Change = fn(&mut Map<String, Value>);
        let cases: [(Change, ProofCheck); 8] = [
            (|h| drop(h.remove("typ")), ProofCheck::Typ),
            (
                |h| drop(h.insert("typ".into(), json!("JWT"))),
                ProofCheck::Typ,
            ),
            (
                |h| drop(h.insert("alg".into(), json!("none"))),
                ProofCheck::Alg,
            ),
            (
                |h| drop(h.insert("alg".into(), json!("HS256"))),
                ProofCheck::Alg,
            ),
            (
                |h| drop(h.insert("alg".into(), json!("RS256"))),
                ProofCheck::Alg,
            ),
            (
                |h| drop(h.insert("crit".into(), json!(["x"]))),
                ProofCheck::Alg,
            ),
            (|h| drop(h.remove("jwk")), ProofCheck::Jwk),
            (
                |h| drop(h.insert("alg".into(), json!("ES256"))),
                ProofCheck::Jwk,
            ),
        ];
        for (change, check) in cases {
            assert_eq!(with(&change), Some(check), "{check:?}");
        }
        for member in ["d", "p", "q", "dp", "dq", "qi", "k"] {
            let refused = with(&|h: &mut Map<String, Value>| {
                h["jwk"][member] = json!(RFC8037_X);
            });
            assert_eq!(refused, Some(ProofCheck::PrivateKey), "{member}");
        }
    }

    #[test]
    fn several_headers_or_a_malformed_jws_are_malformed() {
        for text in [
            format!("{}, {}", good(), good()),
            format!("{},{}", good(), good()),
            "a.b".to_owned(),
            "a.b.c.d".to_owned(),
            format!("{}=", good()),
            "x".repeat(MAX_PROOF_BYTES + 1),
            String::new(),
        ] {
            assert_eq!(
                Proof::parse(&text).err(),
                Some(ProofCheck::Malformed),
                "{text:.40}"
            );
        }
        let typed = sign(
            &header(),
            &json!({ "htm": "POST", "htu": 1, "iat": NOW, "jti": "j" }),
        );
        assert_eq!(Proof::parse(&typed).err(), Some(ProofCheck::Malformed));
        let no_iat = sign(&header(), &json!({ "htm": "POST", "htu": URL, "jti": "j" }));
        assert_eq!(Proof::parse(&no_iat).err(), Some(ProofCheck::Iat));
    }

    #[test]
    fn each_claim_check_names_its_reason() {
        let check = |name: &str, value: Value| {
            let mut c = claims();
            c[name] = value;
            Proof::parse(&sign(&header(), &c))
                .unwrap()
                .check_claims(URL, NOW)
                .err()
        };
        let long = "j".repeat(MAX_JTI_CHARS + 1);
        let cases = [
            ("htm", json!("GET"), Some(ProofCheck::Htm)),
            ("htm", json!("post"), Some(ProofCheck::Htm)),
            (
                "htu",
                json!("https://auth.example.com/oauth2/other"),
                Some(ProofCheck::Htu),
            ),
            (
                "htu",
                json!("https://evil.example/oauth2/token"),
                Some(ProofCheck::Htu),
            ),
            (
                "htu",
                json!("http://auth.example.com/oauth2/token"),
                Some(ProofCheck::Htu),
            ),
            ("htu", json!("/oauth2/token"), Some(ProofCheck::Htu)),
            ("iat", json!(NOW - IAT_PAST_S - 1), Some(ProofCheck::Iat)),
            ("iat", json!(NOW + IAT_FUTURE_S + 1), Some(ProofCheck::Iat)),
            ("iat", json!(NOW - IAT_PAST_S), None),
            ("iat", json!(NOW + IAT_FUTURE_S), None),
            ("jti", json!(""), Some(ProofCheck::Jti)),
            ("jti", json!(long), Some(ProofCheck::Jti)),
            (
                "htu",
                json!("HTTPS://Auth.Example.COM:443/oauth2/token?x=1#f"),
                None,
            ),
        ];
        for (name, value, expected) in cases {
            assert_eq!(check(name, value.clone()), expected, "{name}: {value}");
        }
    }

    #[test]
    fn htu_is_normalized_as_rfc_3986_says_and_keeps_its_path() {
        let same = [
            ("https://a.example/t", "HTTPS://A.EXAMPLE:443/t"),
            ("http://127.0.0.1:8787/t", "http://127.0.0.1:8787/t?q#f"),
            ("http://localhost/t", "http://LOCALHOST:80/t"),
            ("https://a.example", "https://a.example/"),
            ("https://[::1]:8443/t", "https://[::1]:8443/t"),
        ];
        for (a, b) in same {
            assert_eq!(normalized_htu(a), normalized_htu(b), "{a} {b}");
            assert!(normalized_htu(a).is_some());
        }
        let different = [
            ("https://a.example/t", "https://a.example/T"),
            ("https://a.example/t", "https://a.example:8443/t"),
            ("https://a.example/t", "https://a.example/t/"),
        ];
        for (a, b) in different {
            assert_ne!(normalized_htu(a), normalized_htu(b), "{a} {b}");
        }
        for bad in [
            "ftp://a/t",
            "https:///t",
            "https://u@a/t",
            "a/t",
            "https://a:x/t",
        ] {
            assert_eq!(normalized_htu(bad), None, "{bad}");
        }
    }

    #[test]
    fn nonces_are_keyed_per_tenant_and_live_two_slots() {
        let pepper = Pepper::new(PEPPER).unwrap();
        let other = Pepper::new(&PEPPER.replace('0', "1")).unwrap();
        let current = current_nonce(&pepper, "acme", NOW);
        assert_eq!(current.len(), 22);
        assert_ne!(current, current_nonce(&pepper, "other", NOW));
        assert_ne!(current, current_nonce(&other, "acme", NOW));
        assert!(!PEPPER.contains(&current));
        let with_nonce = |nonce: Option<&str>| {
            let mut c = claims();
            if let Some(nonce) = nonce {
                c["nonce"] = json!(nonce);
            }
            Proof::parse(&sign(&header(), &c)).unwrap()
        };
        let proof = with_nonce(Some(&current));
        assert_eq!(proof.check_nonce(&pepper, "acme", NOW), Ok(()));
        let next_slot = NOW + NONCE_SLOT_S;
        assert_eq!(proof.check_nonce(&pepper, "acme", next_slot), Ok(()));
        let stale = proof.check_nonce(&pepper, "acme", next_slot + NONCE_SLOT_S);
        assert_eq!(stale, Err(ProofCheck::Nonce));
        assert_eq!(
            proof.check_nonce(&pepper, "other", NOW),
            Err(ProofCheck::Nonce)
        );
        let none = with_nonce(None).check_nonce(&pepper, "acme", NOW);
        assert_eq!(none, Err(ProofCheck::Nonce));
    }

    #[test]
    fn a_jti_digest_is_apart_from_an_assertions_and_from_another_keys() {
        let proof = Proof::parse(&good()).unwrap();
        let digest = proof.jti_digest();
        assert_eq!(digest.len(), 16);
        let assertion = Base64UrlUnpadded::encode_string(&Sha256::digest(b"j-1")[..12]);
        assert_ne!(digest, assertion);
        let mut other_key = proof.clone();
        other_key.jkt = "another".into();
        assert_ne!(digest, other_key.jti_digest());
        assert_eq!(proof.remember_until_ms(), (NOW + IAT_PAST_S + 1) * 1000);
    }
}
