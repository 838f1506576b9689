//! Who may call the admin API: the bearer token against the configured `ADMIN_TOKEN`.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The shortest `ADMIN_TOKEN` that switches the API on: 256 bits of base64url, rounded down.
pub const MIN_ADMIN_TOKEN_BYTES: usize = 32;

/// Whether a request may use the admin API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminAccess {
    /// No usable `ADMIN_TOKEN`: the API does not exist (every admin path is a 404).
    Off,
    /// The bearer token is missing or wrong: 401.
    Denied,
    /// The bearer token is the admin token.
    Allowed,
}

/// Checks `Authorization: Bearer <token>` against the configured `ADMIN_TOKEN`. Both are
/// hashed first and the digests compared in constant time, so neither the content nor the
/// length of the configured token shows in the timing. Surrounding whitespace (a newline
/// piped into `wrangler secret put`) is not part of either. A token shorter than
/// [`MIN_ADMIN_TOKEN_BYTES`] leaves the API off.
pub fn check_admin_token(configured: Option<&str>, authorization: Option<&str>) -> AdminAccess {
    let Some(configured) = configured
        .map(str::trim)
        .filter(|t| t.len() >= MIN_ADMIN_TOKEN_BYTES)
    else {
        return AdminAccess::Off;
    };
    let presented = authorization.and_then(|h| {
        let (scheme, token) = h.trim().split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
    });
    let Some(presented) = presented else {
        return AdminAccess::Denied;
    };
    let expected = Sha256::digest(configured.as_bytes());
    let given = Sha256::digest(presented.as_bytes());
    if bool::from(expected.ct_eq(&given)) {
        AdminAccess::Allowed
    } else {
        AdminAccess::Denied
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "0123456789abcdef0123456789abcdef-admin";

    #[test]
    fn the_admin_api_is_off_without_a_long_enough_token() {
        let bearer = format!("Bearer {TOKEN}");
        assert_eq!(check_admin_token(None, Some(&bearer)), AdminAccess::Off);
        assert_eq!(
            check_admin_token(Some(""), Some("Bearer ")),
            AdminAccess::Off
        );
        assert_eq!(
            check_admin_token(
                Some(&TOKEN[..31]),
                Some(&format!("Bearer {}", &TOKEN[..31]))
            ),
            AdminAccess::Off
        );
    }

    #[test]
    fn only_the_exact_bearer_token_is_allowed() {
        let t = Some(TOKEN);
        assert_eq!(
            check_admin_token(t, Some(&format!("Bearer {TOKEN}"))),
            AdminAccess::Allowed
        );
        assert_eq!(
            check_admin_token(t, Some(&format!("bearer  {TOKEN} "))),
            AdminAccess::Allowed
        );
        for wrong in [
            None,
            Some(String::new()),
            Some(format!("Basic {TOKEN}")),
            Some(format!("Bearer {TOKEN}x")),
            Some(format!("Bearer {}", &TOKEN[1..])),
            Some(TOKEN.to_owned()),
            Some("Bearer".to_owned()),
        ] {
            assert_eq!(
                check_admin_token(t, wrong.as_deref()),
                AdminAccess::Denied,
                "{wrong:?}"
            );
        }
    }
}
