//! Which audiences a token is for (RFC 8707 `resource`, and the `audience` parameter many
//! SDKs send), and which of the client's scopes go with them when a tenant declares resource
//! servers (docs/tenants.md).

use std::borrow::Cow;

use super::{
    error::Error,
    scope::{ScopeToken, Scopes},
};

/// The most audiences one request may name (the admin API's bound on a client's list).
pub const MAX_REQUESTED: usize = 256;

/// The audiences a request names: RFC 8707 `resource` values and `audience` values, each in
/// the order sent, empty values already dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Requested {
    /// `resource` parameters (each one absolute URI; the parameter may repeat).
    pub resources: Vec<String>,
    /// `audience` values (the parameter may repeat, and each may hold several, space-separated).
    pub audiences: Vec<String>,
}

impl Requested {
    /// Whether the request names no audience.
    pub fn is_empty(&self) -> bool {
        self.resources.is_empty() && self.audiences.is_empty()
    }
}

/// RFC 8707 §2: an absolute URI (RFC 3986 §4.3: a scheme, then `:`) without a fragment; no
/// spaces or control characters.
pub fn is_absolute_uri(uri: &str) -> bool {
    let Some((scheme, rest)) = uri.split_once(':') else {
        return false;
    };
    let mut scheme_chars = scheme.bytes();
    scheme_chars.next().is_some_and(|b| b.is_ascii_alphabetic())
        && scheme_chars.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
        && !rest.is_empty()
        && !uri.contains('#')
        && uri.bytes().all(|b| (0x21..=0x7E).contains(&b))
}

/// The token's audiences. Both parameters in one request name one set together (their union,
/// in the order sent); every value must be one of the client's `allowed` audiences, and every
/// `resource` an absolute URI, else `invalid_target`. A request that names none gets the
/// client's `defaults`, or every allowed audience when it has no defaults.
pub fn select<'a>(
    requested: &Requested,
    allowed: &'a [String],
    defaults: &'a [String],
) -> Result<Cow<'a, [String]>, Error> {
    if requested.is_empty() {
        return Ok(Cow::Borrowed(if defaults.is_empty() {
            allowed
        } else {
            defaults
        }));
    }
    if requested.resources.len() + requested.audiences.len() > MAX_REQUESTED
        || !requested.resources.iter().all(|r| is_absolute_uri(r))
    {
        return Err(Error::MalformedTarget);
    }
    let mut out: Vec<String> = Vec::new();
    for value in requested.resources.iter().chain(&requested.audiences) {
        if !allowed.contains(value) {
            return Err(Error::TargetNotAllowed);
        }
        if !out.contains(value) {
            out.push(value.clone());
        }
    }
    Ok(Cow::Owned(out))
}

/// An API a tenant declares: its identifier (an audience value) and the scopes it defines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceServer {
    /// The `aud` value of tokens for it.
    pub identifier: String,
    /// The scopes it defines.
    pub scopes: Scopes,
}

/// The part of `scopes` a token for `audiences` may carry: a scope that some declared resource
/// server defines only with one of those servers among the audiences; a scope that none
/// defines with any. Without declared servers, every scope.
pub fn scopes_for<'a>(
    servers: &[ResourceServer],
    audiences: &[String],
    scopes: &'a Scopes,
) -> Cow<'a, Scopes> {
    if servers.is_empty() {
        return Cow::Borrowed(scopes);
    }
    let fits = |token: &ScopeToken| {
        let mut owners = servers
            .iter()
            .filter(|s| s.scopes.contains(token))
            .peekable();
        owners.peek().is_none() || owners.any(|s| audiences.contains(&s.identifier))
    };
    if scopes.iter().all(fits) {
        return Cow::Borrowed(scopes);
    }
    Cow::Owned(Scopes::from_tokens(
        scopes.iter().filter(|t| fits(t)).cloned(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(values: &[&str]) -> Vec<String> {
        values.iter().map(|v| (*v).to_owned()).collect()
    }

    fn asked(resources: &[&str], audiences: &[&str]) -> Requested {
        Requested {
            resources: list(resources),
            audiences: list(audiences),
        }
    }

    const A: &str = "https://a.example/api";
    const B: &str = "https://b.example";

    #[test]
    fn a_request_without_audience_gets_the_defaults_or_else_every_allowed_one() {
        let allowed = list(&[A, B, "urn:c"]);
        let none = Requested::default();
        assert_eq!(select(&none, &allowed, &[]).unwrap().as_ref(), allowed);
        let defaults = list(&[B]);
        assert_eq!(select(&none, &allowed, &defaults).unwrap().as_ref(), [B]);
    }

    #[test]
    fn resource_and_audience_select_from_the_allowed_list_and_both_make_a_union() {
        let allowed = list(&[A, B, "urn:c"]);
        let pick =
            |r: &[&str], a: &[&str]| select(&asked(r, a), &allowed, &[]).map(Cow::into_owned);
        assert_eq!(pick(&[B], &[]).unwrap(), [B]);
        assert_eq!(pick(&[], &["urn:c", A]).unwrap(), ["urn:c", A]);
        assert_eq!(pick(&[B, A], &[A, "urn:c"]).unwrap(), [B, A, "urn:c"]);
        assert_eq!(pick(&[B, B], &[B]).unwrap(), [B]);
        assert_eq!(pick(&["https://z"], &[]), Err(Error::TargetNotAllowed));
        assert_eq!(pick(&[], &[A, "z"]), Err(Error::TargetNotAllowed));
    }

    #[test]
    fn a_resource_must_be_an_absolute_uri_without_fragment() {
        for good in [A, "urn:example:api", "https://a.example/x?y=1"] {
            assert!(is_absolute_uri(good), "{good}");
        }
        for bad in [
            "",
            "api",
            "/relative",
            ":x",
            "1http://a",
            "https://a#f",
            "https:",
            "http://a b",
        ] {
            assert!(!is_absolute_uri(bad), "{bad:?}");
        }
        let allowed = list(&["api"]);
        // `audience` takes any value; `resource` only an absolute URI (RFC 8707 §2).
        assert!(select(&asked(&[], &["api"]), &allowed, &[]).is_ok());
        assert_eq!(
            select(&asked(&["api"], &[]), &allowed, &[]),
            Err(Error::MalformedTarget)
        );
        let many = vec![A; MAX_REQUESTED + 1];
        assert_eq!(
            select(&asked(&many, &[]), &list(&[A]), &[]),
            Err(Error::MalformedTarget)
        );
    }

    fn scopes(s: &str) -> Scopes {
        Scopes::parse(s).unwrap()
    }

    #[test]
    fn a_token_carries_only_the_scopes_of_its_audiences_and_the_unbound_ones() {
        let servers = [
            ResourceServer {
                identifier: A.into(),
                scopes: scopes("a:read a:write shared"),
            },
            ResourceServer {
                identifier: B.into(),
                scopes: scopes("b:read shared"),
            },
        ];
        let client = scopes("a:read b:read shared openid");
        let for_a = scopes_for(&servers, &list(&[A]), &client);
        assert_eq!(for_a.to_scope_string(), "a:read shared openid");
        let for_b = scopes_for(&servers, &list(&[B]), &client);
        assert_eq!(for_b.to_scope_string(), "b:read shared openid");
        let both = scopes_for(&servers, &list(&[A, B]), &client);
        assert!(matches!(both, Cow::Borrowed(_)));
        let other = scopes_for(&servers, &list(&["urn:x"]), &client);
        assert_eq!(other.to_scope_string(), "openid");
        let undeclared = scopes_for(&[], &list(&[A]), &client);
        assert_eq!(undeclared.as_ref(), &client);
    }
}
