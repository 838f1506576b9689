//! A self-signed mutual-TLS client's certificates as the admin API wants them: the SHA-256 of
//! each one's DER (RFC 8705 §2.2), given in hex or read from a PEM file.

use std::path::PathBuf;

use base64ct::{Base64, Encoding};
use sha2::{Digest, Sha256};

use crate::failure::Failure;

/// The fingerprints `--cert-sha256 HEX` and `--cert FILE.pem` name, in hex (the admin API
/// checks their form); `None` when neither option is given.
pub fn fingerprints(hex: &[String], files: &[PathBuf]) -> Result<Option<Vec<String>>, Failure> {
    if hex.is_empty() && files.is_empty() {
        return Ok(None);
    }
    let mut all = hex.to_vec();
    for file in files {
        let text = std::fs::read_to_string(file).map_err(|e| {
            Failure::usage(format!("--cert {}: cannot read it: {e}", file.display()))
        })?;
        let der = pem_certificate(&text).ok_or_else(|| {
            Failure::usage(format!(
                "--cert {}: not a PEM file with a CERTIFICATE block",
                file.display()
            ))
        })?;
        all.push(sha256_hex(&der));
    }
    Ok(Some(all))
}

/// The DER of the first `CERTIFICATE` block of a PEM text.
fn pem_certificate(text: &str) -> Option<Vec<u8>> {
    let start = text.find("-----BEGIN CERTIFICATE-----")? + "-----BEGIN CERTIFICATE-----".len();
    let end = start + text[start..].find("-----END CERTIFICATE-----")?;
    let body: String = text[start..end]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    Base64::decode_vec(&body).ok().filter(|der| !der.is_empty())
}

/// Lowercase hex of the SHA-256 of `bytes`.
fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pem_certificate_is_hashed_over_its_der() {
        let pem = "junk\n-----BEGIN CERTIFICATE-----\nYWJj\n-----END CERTIFICATE-----\n";
        assert_eq!(pem_certificate(pem), Some(b"abc".to_vec()));
        // SHA-256("abc"), FIPS 180-2's example.
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(pem_certificate("-----BEGIN PRIVATE KEY-----\nYWJj\n"), None);
        assert_eq!(
            pem_certificate("-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----"),
            None
        );
    }
}
