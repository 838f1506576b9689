//! Static custom claims of a tenant and of a client (docs/tenants.md, docs/storage-schema.md):
//! the names the token sets itself are refused when written, never overwritten, and each set
//! is bounded in size.

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

/// Claim names the token sets itself: a tenant or a client may not set them.
pub const RESERVED_CLAIMS: [&str; 10] = [
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "nbf",
    "jti",
    "client_id",
    "scope",
    "cnf",
];
/// The most bytes one set of claims (a tenant's or a client's) takes as compact JSON.
pub const MAX_CLAIMS_BYTES: usize = 2_048;
/// The longest claim name.
pub const MAX_CLAIM_NAME_CHARS: usize = 64;

/// Why a set of claims is refused, for the operator (names the claim, never a value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimsError(pub String);

/// Checks a set of claims: names 1–[`MAX_CLAIM_NAME_CHARS`] characters, none of
/// [`RESERVED_CLAIMS`], and at most [`MAX_CLAIMS_BYTES`] of compact JSON in all.
pub fn check(claims: &Map<String, Value>) -> Result<(), ClaimsError> {
    for name in claims.keys() {
        if RESERVED_CLAIMS.contains(&name.as_str()) {
            return Err(ClaimsError(format!(
                "the claim {name:?} is set by the token itself and cannot be configured (reserved: {})",
                RESERVED_CLAIMS.join(", ")
            )));
        }
        if name.is_empty() || name.chars().count() > MAX_CLAIM_NAME_CHARS {
            return Err(ClaimsError(format!(
                "a claim name must be 1-{MAX_CLAIM_NAME_CHARS} characters"
            )));
        }
    }
    let size = serde_json::to_string(claims).map_or(usize::MAX, |json| json.len());
    if size > MAX_CLAIMS_BYTES {
        return Err(ClaimsError(format!(
            "the claims take {size} bytes of JSON; at most {MAX_CLAIMS_BYTES}"
        )));
    }
    Ok(())
}

/// A tenant's and a client's claims as one set, the client's value winning where both name a
/// claim; serialized into the token's claims without a merged copy. Reserved names are
/// skipped again here, so that no path can overwrite a claim the token sets.
#[derive(Debug, Clone, Copy)]
pub struct Extra<'a> {
    /// The tenant's claims.
    pub tenant: &'a Map<String, Value>,
    /// The client's claims.
    pub client: &'a Map<String, Value>,
}

impl Extra<'_> {
    fn entries(&self) -> impl Iterator<Item = (&String, &Value)> {
        let client = self.client;
        self.tenant
            .iter()
            .filter(move |(name, _)| !client.contains_key(*name))
            .chain(client.iter())
            .filter(|(name, _)| !RESERVED_CLAIMS.contains(&name.as_str()))
    }
}

impl Serialize for Extra<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        for (name, value) in self.entries() {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap()
    }

    #[test]
    fn every_name_the_token_sets_is_refused_and_named() {
        for name in RESERVED_CLAIMS {
            let error = check(&map(json!({ name: "x" }))).unwrap_err();
            assert!(error.0.contains(&format!("{name:?}")), "{}", error.0);
        }
        assert!(check(&map(json!({ "tenant_id": "t", "roles": ["a"] }))).is_ok());
        assert!(check(&Map::new()).is_ok());
    }

    #[test]
    fn claims_are_bounded_in_size_and_name_length() {
        let big = "x".repeat(MAX_CLAIMS_BYTES);
        assert!(check(&map(json!({ "big": big }))).is_err());
        let fits = "x".repeat(MAX_CLAIMS_BYTES - r#"{"a":""}"#.len());
        assert!(check(&map(json!({ "a": fits }))).is_ok());
        assert!(check(&map(json!({ "": 1 }))).is_err());
        let long = "n".repeat(MAX_CLAIM_NAME_CHARS + 1);
        assert!(check(&map(json!({ long: 1 }))).is_err());
    }

    #[test]
    fn the_clients_value_wins_and_reserved_names_never_get_through() {
        let tenant = map(json!({ "tenant_id": "acme", "tier": "gold", "iss": "evil" }));
        let client = map(json!({ "tier": "silver", "roles": ["r"], "sub": "evil" }));
        let out = serde_json::to_value(Extra {
            tenant: &tenant,
            client: &client,
        })
        .unwrap();
        assert_eq!(
            out,
            json!({ "tenant_id": "acme", "tier": "silver", "roles": ["r"] })
        );
    }
}
