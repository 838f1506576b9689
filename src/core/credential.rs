//! Generated client secrets and client ids (docs/admin-api.md, "Secret format").
//!
//! A secret is `etcs_` + 43 base62 digits of 256 random bits + 6 base62 digits of the
//! CRC-32 of everything before them: a recognisable prefix and a checksum, so that a secret
//! pasted somewhere it should not be can be found by a scanner with few false alarms, without
//! asking us. Pure: the random bytes are passed in.

use super::{
    client::is_valid_client_id,
    secret::{ClientSecret, Pepper},
};

/// What every generated secret starts with ("edge-token client secret").
pub const SECRET_PREFIX: &str = "etcs_";
/// Random bytes in a secret: 256 bits.
pub const SECRET_RANDOM_BYTES: usize = 32;
/// Base62 digits of the random part (62^43 > 2^256).
pub const SECRET_BODY_CHARS: usize = 43;
/// Base62 digits of the checksum (62^6 > 2^32).
pub const SECRET_CHECKSUM_CHARS: usize = 6;
/// The length of a generated secret.
pub const SECRET_CHARS: usize = SECRET_PREFIX.len() + SECRET_BODY_CHARS + SECRET_CHECKSUM_CHARS;
/// Random bytes in a generated client id: 128 bits.
pub const CLIENT_ID_RANDOM_BYTES: usize = 16;
/// Base62 digits of a generated client id (62^22 > 2^128).
pub const CLIENT_ID_CHARS: usize = 22;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// `bytes` as a big-endian number in exactly `digits` base62 digits (most significant first).
fn base62(bytes: &[u8], digits: usize) -> String {
    let mut number = bytes.to_vec();
    let mut out = vec![b'0'; digits];
    for slot in out.iter_mut().rev() {
        let mut remainder = 0_u32;
        for byte in number.iter_mut() {
            let value = (remainder << 8) | u32::from(*byte);
            *byte = (value / 62) as u8;
            remainder = value % 62;
        }
        *slot = BASE62[remainder as usize];
    }
    // Callers size `digits` so that the number always fits.
    debug_assert!(number.iter().all(|b| *b == 0));
    String::from_utf8(out).unwrap_or_default()
}

/// CRC-32 (IEEE 802.3, the one of zip and PNG), bit by bit: secrets are short.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0_u32;
    for byte in data {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn checksum(text: &str) -> String {
    base62(&crc32(text.as_bytes()).to_be_bytes(), SECRET_CHECKSUM_CHARS)
}

/// A new client secret from 32 random bytes.
pub fn generate_secret(random: [u8; SECRET_RANDOM_BYTES]) -> ClientSecret {
    let body = format!("{SECRET_PREFIX}{}", base62(&random, SECRET_BODY_CHARS));
    let sum = checksum(&body);
    ClientSecret::new(format!("{body}{sum}"))
}

/// Whether `text` has the form of a generated secret and its checksum matches (what a secret
/// scanner would check). Secrets made before this format (any string) still authenticate.
#[cfg(test)]
fn is_well_formed_secret(text: &str) -> bool {
    if text.len() != SECRET_CHARS
        || !text.starts_with(SECRET_PREFIX)
        || !text[SECRET_PREFIX.len()..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric())
    {
        return false;
    }
    let (body, sum) = text.split_at(SECRET_CHARS - SECRET_CHECKSUM_CHARS);
    checksum(body) == sum
}

/// A new client id from 16 random bytes: 22 base62 digits.
pub fn generate_client_id(random: [u8; CLIENT_ID_RANDOM_BYTES]) -> String {
    base62(&random, CLIENT_ID_CHARS)
}

/// The longest presented client id the log shows as it is.
pub const MAX_LOGGED_ID_CHARS: usize = 64;

/// How the log names the client id a caller presented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoggedId<'a> {
    /// A valid id, at most [`MAX_LOGGED_ID_CHARS`] long, that does not look like a secret:
    /// shown as it is.
    Plain(&'a str),
    /// Anything else: its keyed tag ([`Pepper::log_tag`]). A caller who swaps id and secret
    /// (`curl -u SECRET:id`) puts the secret here, so it must never be logged.
    Tag(String),
}

/// Whether `text` is or carries a generated secret: it contains the secret prefix anywhere
/// (a mangled or wrapped secret still gives most of itself away).
pub fn looks_like_secret(text: &str) -> bool {
    text.contains(SECRET_PREFIX)
}

/// How the log shows the presented client id `id`.
pub fn logged_client_id<'a>(id: &'a str, pepper: &Pepper) -> LoggedId<'a> {
    if is_valid_client_id(id) && id.len() <= MAX_LOGGED_ID_CHARS && !looks_like_secret(id) {
        LoggedId::Plain(id)
    } else {
        LoggedId::Tag(pepper.log_tag(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_standard_check_value() {
        // The "check" value of CRC-32/ISO-HDLC in the CRC catalogue.
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn base62_is_big_endian_and_fixed_width() {
        assert_eq!(base62(&[0, 0], 3), "000");
        assert_eq!(base62(&[0, 61], 3), "00z");
        assert_eq!(base62(&[0, 62], 3), "010");
        assert_eq!(base62(&[0xFF; 32], 43).len(), 43);
        assert_eq!(base62(&[0xFF; 4], 6), "4gfFC3"); // 2^32 - 1 = 4·62^5 + …
    }

    #[test]
    fn a_generated_secret_has_the_prefix_the_length_and_a_valid_checksum() {
        let secret = generate_secret([7; 32]);
        let text = secret.expose();
        assert!(text.starts_with("etcs_"));
        assert_eq!(text.len(), 54);
        assert!(is_well_formed_secret(text));
        assert_ne!(
            generate_secret([8; 32]).expose(),
            text,
            "different randomness, different secret"
        );
    }

    #[test]
    fn a_changed_character_breaks_the_checksum() {
        let text = generate_secret([42; 32]).expose().to_owned();
        for at in SECRET_PREFIX.len()..text.len() {
            let mut bytes = text.clone().into_bytes();
            bytes[at] = if bytes[at] == b'a' { b'b' } else { b'a' };
            let changed = String::from_utf8(bytes).unwrap();
            assert!(!is_well_formed_secret(&changed), "position {at}");
        }
        assert!(!is_well_formed_secret(&text[1..]));
        assert!(!is_well_formed_secret(&text.replacen("etcs_", "etcx_", 1)));
        assert!(!is_well_formed_secret(""));
    }

    #[test]
    fn client_ids_are_22_base62_digits() {
        let id = generate_client_id([0xAB; 16]);
        assert_eq!(id.len(), 22);
        assert!(id.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_eq!(generate_client_id([0; 16]), "0".repeat(22));
    }

    #[test]
    fn a_secret_in_the_id_position_is_logged_only_as_a_keyed_tag() {
        let pepper = Pepper::new("0123456789abcdef0123456789abcdef").unwrap();
        let secret = generate_secret([9; 32]);
        let secret = secret.expose();
        for id in [
            secret.to_owned(),
            format!("x{secret}"),
            secret[..20].to_owned(),
            "a".repeat(65),
            "bad\u{7f}id".to_owned(),
            String::new(),
        ] {
            match logged_client_id(&id, &pepper) {
                LoggedId::Tag(tag) => {
                    assert_eq!(tag, pepper.log_tag(&id));
                    assert!(!tag.contains("etcs_"));
                }
                LoggedId::Plain(_) => panic!("{} chars logged as is", id.len()),
            }
        }
        for id in [
            "svc",
            "svc:a+b %x",
            &generate_client_id([3; 16]),
            &"a".repeat(64),
        ] {
            assert_eq!(logged_client_id(id, &pepper), LoggedId::Plain(id));
        }
    }
}
