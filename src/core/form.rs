//! `application/x-www-form-urlencoded` decoding, strictly: a `%` must start a two-digit hex
//! escape, and the decoded bytes must be UTF-8. Used for the body (RFC 6749 §3.2, App. B) and
//! for each half of the Basic credentials (§2.3.1).

/// A decoding failure: a bad percent escape or invalid UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FormError;

/// Decodes one form-urlencoded component: `+` is a space, `%XX` a byte.
pub fn decode(input: &str) -> Result<String, FormError> {
    let bytes = input.as_bytes();
    if !bytes.iter().any(|b| matches!(b, b'%' | b'+')) {
        return Ok(input.to_owned());
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = bytes.get(i + 1).and_then(|b| hex(*b));
                let lo = bytes.get(i + 2).and_then(|b| hex(*b));
                let (Some(hi), Some(lo)) = (hi, lo) else {
                    return Err(FormError);
                };
                out.push(hi << 4 | lo);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| FormError)
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes a whole form body into `(name, value)` pairs, in order, keeping repeats.
/// Empty segments (`a=1&&b=2`) are skipped; a segment without `=` has an empty value.
pub fn parse(body: &[u8]) -> Result<Vec<(String, String)>, FormError> {
    let body = std::str::from_utf8(body).map_err(|_| FormError)?;
    body.split('&')
        .filter(|segment| !segment.is_empty())
        .map(|segment| {
            let (name, value) = segment.split_once('=').unwrap_or((segment, ""));
            Ok((decode(name)?, decode(value)?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plus_is_a_space_and_escapes_are_bytes() {
        assert_eq!(decode("a+b%2Bc%20d%3A%25").unwrap(), "a b+c d:%");
        assert_eq!(decode("%C3%A9t%C3%A9").unwrap(), "été");
    }

    #[test]
    fn a_bad_escape_is_rejected() {
        for bad in ["%", "%4", "%zz", "a%g1", "%%41"] {
            assert_eq!(decode(bad), Err(FormError), "{bad}");
        }
    }

    #[test]
    fn escapes_that_are_not_utf8_are_rejected() {
        assert_eq!(decode("%FF"), Err(FormError));
        assert_eq!(parse(b"a=\xff"), Err(FormError));
    }

    #[test]
    fn a_body_keeps_order_and_repeats_and_skips_empty_segments() {
        let pairs = parse(b"b=2&&a=1&b=&flag").unwrap();
        let expect = [("b", "2"), ("a", "1"), ("b", ""), ("flag", "")];
        assert_eq!(
            pairs,
            expect.map(|(n, v)| (n.to_owned(), v.to_owned())).to_vec()
        );
    }

    #[test]
    fn names_are_decoded_too() {
        assert_eq!(parse(b"grant%5Ftype=x").unwrap()[0].0, "grant_type");
    }
}
