//! Mutual TLS (RFC 8705): the client certificate of the request's connection as Cloudflare
//! reports it (`request.cf.tlsClientAuth`), the two client authentication methods that rest
//! on it, and the certificate a bound token names.
//!
//! Cloudflare terminates TLS; the Worker never sees the certificate, only what the edge says
//! of it. Only the fields below are read: `certPresented` (`"1"` when a certificate was sent),
//! `certVerified` (`"SUCCESS"` when it chains to the zone's CA, else `"NONE"` or
//! `"FAILED:…"`), `certRevoked` (`"1"` when that CA revoked it: `certVerified` stays
//! `"SUCCESS"` then), `certFingerprintSHA256` (hex) and `certSubjectDNRFC2253`. A request
//! with none of them (no mTLS on the hostname, or a local run) has no certificate at all,
//! which is never taken for a verified one (docs/sender-constrained.md).
//!
//! Pure: the edge hands the fields in as strings.

use super::{binding::Binding, error::Error};

/// The method of a client whose certificate is issued by a CA the edge trusts, and names
/// the subject DN its record holds (RFC 8705 §2.1).
pub const TLS_CLIENT_AUTH: &str = "tls_client_auth";
/// The method of a client whose self-signed certificate's SHA-256 its record holds
/// (RFC 8705 §2.2).
pub const SELF_SIGNED_TLS_CLIENT_AUTH: &str = "self_signed_tls_client_auth";
/// The longest subject DN a record may name.
pub const MAX_SUBJECT_DN_CHARS: usize = 1024;
/// The most certificate fingerprints a self-signed client may have: the current one and a
/// few during a rotation.
pub const MAX_FINGERPRINTS: usize = 4;

/// Which certificate check refused a client: the log's `reason`, never the caller's answer
/// (which is the `invalid_client` of a wrong secret).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertCheck {
    /// No certificate on the connection, or no `tlsClientAuth` at all.
    Missing,
    /// A certificate the edge did not verify against the zone's CA (`tls_client_auth`).
    Unverified,
    /// A verified certificate its CA revoked (`tls_client_auth`).
    Revoked,
    /// Not the client's certificate: another subject DN, or another fingerprint.
    Mismatch,
}

impl CertCheck {
    /// The log's name of the check.
    pub fn reason(self) -> &'static str {
        match self {
            Self::Missing => "certificate_missing",
            Self::Unverified => "certificate_unverified",
            Self::Revoked => "certificate_revoked",
            Self::Mismatch => "certificate_mismatch",
        }
    }
}

/// The client certificate of a connection, as the edge reported it; built only when one was
/// presented (`certPresented == "1"`) with a well-formed SHA-256 fingerprint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCertificate {
    /// The SHA-256 of its DER encoding.
    pub sha256: [u8; 32],
    /// `certVerified == "SUCCESS"`: it chains to a CA the zone trusts.
    pub verified: bool,
    /// `certRevoked == "1"`.
    pub revoked: bool,
    /// Its subject DN in RFC 2253 form, when the edge gave one.
    pub subject_dn: Option<String>,
}

/// `tlsClientAuth`'s fields as the edge read them (each `None` when absent).
#[derive(Debug, Clone, Copy, Default)]
pub struct TlsFields<'a> {
    /// `certPresented`.
    pub presented: Option<&'a str>,
    /// `certVerified`.
    pub verified: Option<&'a str>,
    /// `certRevoked`.
    pub revoked: Option<&'a str>,
    /// `certFingerprintSHA256`, hex.
    pub sha256: Option<&'a str>,
    /// `certSubjectDNRFC2253`.
    pub subject_dn: Option<&'a str>,
}

impl ClientCertificate {
    /// The certificate the fields describe: `None` unless one was presented with a
    /// fingerprint of 64 hex digits.
    pub fn from_fields(fields: &TlsFields<'_>) -> Option<Self> {
        if fields.presented != Some("1") {
            return None;
        }
        Some(Self {
            sha256: parse_sha256_hex(fields.sha256?)?,
            verified: fields.verified == Some("SUCCESS"),
            revoked: fields.revoked == Some("1"),
            subject_dn: fields
                .subject_dn
                .filter(|dn| !dn.is_empty() && dn.len() <= MAX_SUBJECT_DN_CHARS)
                .map(str::to_owned),
        })
    }

    /// The binding of a token to this certificate (RFC 8705 §3.1).
    pub fn binding(&self) -> Binding {
        Binding::certificate(&self.sha256)
    }
}

/// The binding of a token whose client's record asks for certificate-bound tokens: the
/// connection's certificate, whichever way the client authenticated. Any presented
/// certificate will do, verified or not: the TLS handshake proved its key is the caller's,
/// which is all a binding needs (RFC 8705 §3, §4). Without one the request is refused
/// ([`Error::CertificateRequired`]), never answered with an unbound token.
pub fn bound_to(certificate: Option<&ClientCertificate>) -> Result<Binding, Error> {
    certificate
        .map(ClientCertificate::binding)
        .ok_or(Error::CertificateRequired)
}

/// A SHA-256 fingerprint from 64 hex digits, in either case; `None` for anything else.
pub fn parse_sha256_hex(hex: &str) -> Option<[u8; 32]> {
    let digits = hex.as_bytes();
    if digits.len() != 64 {
        return None;
    }
    let mut out = [0_u8; 32];
    for (byte, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        let text = std::str::from_utf8(pair).ok()?;
        if !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        *byte = u8::from_str_radix(text, 16).ok()?;
    }
    Some(out)
}

/// How a mutual-TLS client proves who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MtlsAuth {
    /// `tls_client_auth`: a verified, unrevoked certificate whose subject DN is exactly this.
    SubjectDn(String),
    /// `self_signed_tls_client_auth`: a certificate whose SHA-256 is one of these.
    SelfSigned(Vec<[u8; 32]>),
}

impl MtlsAuth {
    /// The method's `token_endpoint_auth_method` name (also the key its leases carry).
    pub fn method(&self) -> &'static str {
        match self {
            Self::SubjectDn(_) => TLS_CLIENT_AUTH,
            Self::SelfSigned(_) => SELF_SIGNED_TLS_CLIENT_AUTH,
        }
    }

    /// Whether `certificate` authenticates the client. The subject DN is compared exactly,
    /// as the edge renders it in RFC 2253 form (no case folding or reordering: a near miss
    /// is refused, never guessed at). A self-signed certificate counts by its fingerprint
    /// alone: the edge cannot verify it, and need not.
    pub fn check(&self, certificate: Option<&ClientCertificate>) -> Result<(), CertCheck> {
        let certificate = certificate.ok_or(CertCheck::Missing)?;
        match self {
            Self::SubjectDn(expected) => {
                if !certificate.verified {
                    return Err(CertCheck::Unverified);
                }
                if certificate.revoked {
                    return Err(CertCheck::Revoked);
                }
                if certificate.subject_dn.as_deref() != Some(expected.as_str()) {
                    return Err(CertCheck::Mismatch);
                }
                Ok(())
            }
            Self::SelfSigned(fingerprints) => {
                // Every stored fingerprint is compared, whatever the outcome of the others.
                let found = fingerprints.iter().fold(false, |found, stored| {
                    found | constant_time_eq(stored, &certificate.sha256)
                });
                found.then_some(()).ok_or(CertCheck::Mismatch)
            }
        }
    }
}

/// Byte equality without an early exit.
fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0_u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether `dn` may be stored as a `tls_client_auth` subject DN: 1 to
/// [`MAX_SUBJECT_DN_CHARS`] characters, none of them a control character, with an `=`
/// (an attribute type and value, RFC 4514 §3).
pub fn is_valid_subject_dn(dn: &str) -> bool {
    (1..=MAX_SUBJECT_DN_CHARS).contains(&dn.len())
        && dn.contains('=')
        && !dn.chars().any(char::is_control)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "af363dc85bc942a892d3cee9796190fdb36d89cd588a4f1cb17c74a943439714";
    const DN: &str = "CN=svc,O=Example,C=DE";

    fn fields(verified: &str) -> TlsFields<'_> {
        TlsFields {
            presented: Some("1"),
            verified: Some(verified),
            revoked: Some("0"),
            sha256: Some(HEX),
            subject_dn: Some(DN),
        }
    }

    fn cert(verified: &str) -> ClientCertificate {
        ClientCertificate::from_fields(&fields(verified)).unwrap()
    }

    #[test]
    fn a_certificate_counts_only_when_presented_with_a_hex_fingerprint() {
        let c = cert("SUCCESS");
        assert_eq!(c.sha256[..3], [0xaf, 0x36, 0x3d]);
        assert!(c.verified && !c.revoked);
        assert_eq!(c.subject_dn.as_deref(), Some(DN));
        let upper = HEX.to_uppercase();
        let mut f = fields("SUCCESS");
        f.sha256 = Some(&upper);
        assert_eq!(ClientCertificate::from_fields(&f).unwrap().sha256, c.sha256);
        for broken in [
            TlsFields::default(),
            TlsFields {
                presented: Some("0"),
                ..fields("NONE")
            },
            TlsFields {
                sha256: None,
                ..fields("SUCCESS")
            },
            TlsFields {
                sha256: Some(""),
                ..fields("SUCCESS")
            },
            TlsFields {
                sha256: Some(&HEX[..62]),
                ..fields("SUCCESS")
            },
            TlsFields {
                sha256: Some("zz363dc85bc942a892d3cee9796190fdb36d89cd588a4f1cb17c74a943439714"),
                ..fields("SUCCESS")
            },
            TlsFields {
                sha256: Some("+f363dc85bc942a892d3cee9796190fdb36d89cd588a4f1cb17c74a943439714"),
                ..fields("SUCCESS")
            },
        ] {
            assert_eq!(ClientCertificate::from_fields(&broken), None, "{broken:?}");
        }
    }

    #[test]
    fn tls_client_auth_needs_a_verified_unrevoked_certificate_with_the_exact_subject_dn() {
        let auth = MtlsAuth::SubjectDn(DN.into());
        assert_eq!(auth.check(Some(&cert("SUCCESS"))), Ok(()));
        assert_eq!(auth.check(None), Err(CertCheck::Missing));
        for verified in ["NONE", "FAILED:unable to get local issuer certificate", ""] {
            assert_eq!(
                auth.check(Some(&cert(verified))),
                Err(CertCheck::Unverified)
            );
        }
        let mut revoked = cert("SUCCESS");
        revoked.revoked = true;
        assert_eq!(auth.check(Some(&revoked)), Err(CertCheck::Revoked));
        for other in [
            "cn=svc,O=Example,C=DE",
            "CN=svc, O=Example, C=DE",
            "CN=svc,O=Example",
        ] {
            let auth = MtlsAuth::SubjectDn(other.into());
            assert_eq!(auth.check(Some(&cert("SUCCESS"))), Err(CertCheck::Mismatch));
        }
        let mut no_dn = cert("SUCCESS");
        no_dn.subject_dn = None;
        assert_eq!(auth.check(Some(&no_dn)), Err(CertCheck::Mismatch));
    }

    #[test]
    fn self_signed_tls_client_auth_matches_any_stored_fingerprint_verified_or_not() {
        let mine = parse_sha256_hex(HEX).unwrap();
        let other = [7_u8; 32];
        let auth = MtlsAuth::SelfSigned(vec![other, mine]);
        for verified in ["SUCCESS", "NONE", "FAILED:self signed certificate"] {
            assert_eq!(auth.check(Some(&cert(verified))), Ok(()));
        }
        assert_eq!(
            MtlsAuth::SelfSigned(vec![other]).check(Some(&cert("NONE"))),
            Err(CertCheck::Mismatch)
        );
        assert_eq!(auth.check(None), Err(CertCheck::Missing));
        assert_eq!(auth.method(), SELF_SIGNED_TLS_CLIENT_AUTH);
    }

    #[test]
    fn the_binding_is_the_base64url_of_the_fingerprint_bytes() {
        let Binding::Certificate(x5t) = cert("NONE").binding() else {
            panic!("a certificate binding expected");
        };
        // The hex fingerprint's bytes, base64url without padding.
        assert_eq!(x5t, "rzY9yFvJQqiS087peWGQ_bNtic1Yik8csXx0qUNDlxQ");
    }

    #[test]
    fn subject_dns_are_bounded_printable_and_name_an_attribute() {
        assert!(is_valid_subject_dn(DN));
        for bad in [
            String::new(),
            "no attribute".into(),
            "CN=a\nO=b".into(),
            format!("CN={}", "x".repeat(MAX_SUBJECT_DN_CHARS)),
        ] {
            assert!(!is_valid_subject_dn(&bad), "{bad:?}");
        }
    }
}
