//! The one JSON reader of the crate: every JSON text it reads (tenants, keys, client records,
//! the guard objects' answers, JWS headers and claims, fetched JWK Sets) goes through
//! [`parse`], from bytes.
//!
//! serde_json compiles its parser once per input type it is given (`from_str` and
//! `from_slice` are two: `StrRead` and `SliceRead`), and each `Deserialize` type read from
//! both once more: one reader keeps one copy of each in the Worker's wasm.

use serde::{Deserialize, Serialize};

/// `json` read as a `T` (which may borrow strings from it); serde_json's error when it is not
/// valid JSON of `T`'s shape.
pub fn parse<'a, T: Deserialize<'a>>(json: &'a [u8]) -> serde_json::Result<T> {
    serde_json::from_slice(json)
}

/// `value` as compact JSON text, as `Value::to_string` writes it: without the pretty printer
/// that serde_json's `Display` of a `Value` carries beside the compact one (3 KB of wasm).
pub fn text(value: &impl Serialize) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_reads_as_from_str_would_read_it() {
        let text = r#"{"a": ["x\u00e9", 1, 2.5, null]}"#;
        let ours: serde_json::Value = parse(text.as_bytes()).unwrap();
        assert_eq!(
            ours,
            serde_json::from_str::<serde_json::Value>(text).unwrap()
        );
    }

    #[test]
    fn text_is_what_display_writes() {
        let value = serde_json::json!({"b": [1, "é\n"], "a": {"c": null, "d": 2.5}});
        assert_eq!(text(&value), value.to_string());
    }

    #[test]
    fn invalid_json_and_invalid_utf8_are_errors() {
        assert!(parse::<serde_json::Value>(b"{\"a\":").is_err());
        assert!(parse::<String>(b"\"\xff\"").is_err());
    }

    #[test]
    fn a_string_without_escapes_can_be_borrowed() {
        let text = br#""plain""#;
        assert_eq!(parse::<&str>(text).unwrap(), "plain");
    }
}
