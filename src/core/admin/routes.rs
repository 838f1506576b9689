//! What an admin path means: the tenant, the client, the operation.

use super::{contract::API_ROOT, error::AdminError};
use crate::core::{client::is_valid_client_id, config::is_tenant_name, guard::source_key};

/// Every admin path starts with this; the Worker routes it here before anything else.
pub const ADMIN_PREFIX: &str = "/admin/";
/// The longest secret id in a path.
const MAX_SECRET_ID_CHARS: usize = 64;

/// What an admin request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `GET …/clients`
    List,
    /// `POST …/clients`
    Create,
    /// `GET …/clients/{id}`
    Show(String),
    /// `PATCH …/clients/{id}`
    Update(String),
    /// `DELETE …/clients/{id}`
    Delete(String),
    /// `POST …/clients/{id}/disable`
    Disable(String),
    /// `POST …/clients/{id}/enable`
    Enable(String),
    /// `POST …/clients/{id}/secrets`: a new secret, the old one kept until an expiry.
    Rotate(String),
    /// `DELETE …/clients/{id}/secrets/{secret_id}`: the secret is refused at once.
    Retire(String, String),
    /// `GET …/clients/{id}/usage`: its quota and its tenant's, with their counts.
    Usage(String),
    /// `GET …/blocks`: the blocked source addresses (shared by every tenant).
    Blocks,
    /// `DELETE …/blocks[/{source}]`: forget one source's block and failures, or every one's.
    ClearBlocks(Option<String>),
}

impl Route {
    /// A short name for the log line.
    pub fn op(&self) -> &'static str {
        match self {
            Self::List => "list",
            Self::Create => "create",
            Self::Show(_) => "show",
            Self::Update(_) => "update",
            Self::Delete(_) => "delete",
            Self::Disable(_) => "disable",
            Self::Enable(_) => "enable",
            Self::Rotate(_) => "rotate_secret",
            Self::Retire(..) => "retire_secret",
            Self::Usage(_) => "usage",
            Self::Blocks => "blocks",
            Self::ClearBlocks(_) => "clear_blocks",
        }
    }

    /// The client the request is about, if one.
    pub fn client_id(&self) -> Option<&str> {
        match self {
            Self::List | Self::Create | Self::Blocks | Self::ClearBlocks(_) => None,
            Self::Show(id)
            | Self::Update(id)
            | Self::Delete(id)
            | Self::Disable(id)
            | Self::Enable(id)
            | Self::Rotate(id)
            | Self::Retire(id, _)
            | Self::Usage(id) => Some(id),
        }
    }
}

/// A parsed admin request line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminRequest {
    /// The tenant named in the path.
    pub tenant: String,
    /// What is asked.
    pub route: Route,
}

/// Decodes `%XX` escapes of one path segment; `None` when malformed or not UTF-8.
fn percent_decode(segment: &str) -> Option<String> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            // Two hex digits exactly: `from_str_radix` alone would also take a sign (`%+1`).
            let hex = segment
                .get(i + 1..i + 3)
                .filter(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit()))?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// A client id segment, decoded.
fn client_segment(segment: &str) -> Result<String, AdminError> {
    percent_decode(segment)
        .filter(|id| is_valid_client_id(id))
        .ok_or_else(|| {
            AdminError::invalid("the client id must be 1-256 printable ASCII characters")
        })
}

/// A secret id segment, decoded.
fn secret_segment(segment: &str) -> Result<String, AdminError> {
    percent_decode(segment)
        .filter(|s| !s.is_empty() && s.len() <= MAX_SECRET_ID_CHARS)
        .ok_or_else(|| AdminError::invalid("malformed secret id"))
}

/// A source segment: an IP address or an IPv6 `/64`, as its throttling key.
fn source_segment(segment: &str) -> Result<String, AdminError> {
    percent_decode(segment)
        .and_then(|s| source_key(s.strip_suffix("/64").unwrap_or(&s)))
        .ok_or_else(|| AdminError::invalid("the source must be an IP address (or an IPv6 /64)"))
}

/// Maps a method and path to a [`Route`]. Unknown paths are 404; a known path with another
/// method is 405 (the `Allow` value is in the message's place: see
/// [`AdminError::method_not_allowed`]).
pub fn parse_route(method: &str, path: &str) -> Result<AdminRequest, AdminError> {
    let not_found = || AdminError::not_found("no such admin route");
    let rest = path.strip_prefix(API_ROOT).ok_or_else(not_found)?;
    let segments: Vec<&str> = rest.split('/').collect();
    let tenant = segments[0];
    if !is_tenant_name(tenant) {
        return Err(AdminError::invalid(
            "the tenant must match ^[a-z0-9][a-z0-9-]{0,31}$",
        ));
    }
    let id = client_segment;
    let allow = AdminError::method_not_allowed;
    let route = match (segments.get(1..).unwrap_or(&[]), method) {
        (["clients"], "GET") => Route::List,
        (["clients"], "POST") => Route::Create,
        (["clients"], _) => return Err(allow("GET, POST")),
        (["clients", c], "GET") => Route::Show(id(c)?),
        (["clients", c], "PATCH") => Route::Update(id(c)?),
        (["clients", c], "DELETE") => Route::Delete(id(c)?),
        (["clients", _], _) => return Err(allow("GET, PATCH, DELETE")),
        (["clients", c, "disable"], "POST") => Route::Disable(id(c)?),
        (["clients", c, "enable"], "POST") => Route::Enable(id(c)?),
        (["clients", c, "secrets"], "POST") => Route::Rotate(id(c)?),
        (["clients", _, "disable" | "enable" | "secrets"], _) => return Err(allow("POST")),
        (["clients", c, "usage"], "GET") => Route::Usage(id(c)?),
        (["clients", _, "usage"], _) => return Err(allow("GET")),
        (["clients", c, "secrets", s], "DELETE") => {
            let secret = secret_segment(s)?;
            Route::Retire(id(c)?, secret)
        }
        (["clients", _, "secrets", _], _) => return Err(allow("DELETE")),
        (["blocks"], "GET") => Route::Blocks,
        (["blocks"], "DELETE") => Route::ClearBlocks(None),
        (["blocks"], _) => return Err(allow("GET, DELETE")),
        (["blocks", s], "DELETE") => Route::ClearBlocks(Some(source_segment(s)?)),
        (["blocks", _], _) => return Err(allow("DELETE")),
        _ => return Err(not_found()),
    };
    Ok(AdminRequest {
        tenant: tenant.to_owned(),
        route,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_names_follow_the_pattern() {
        for ok in ["default", "a", "acme-1", "0", &"a".repeat(32)] {
            assert!(is_tenant_name(ok), "{ok}");
        }
        for bad in ["", "-a", "A", "a_b", "a:b", "a/b", &"a".repeat(33), "é"] {
            assert!(!is_tenant_name(bad), "{bad}");
        }
    }

    #[test]
    fn routes_name_the_tenant_and_the_client() {
        let r = |m, p| parse_route(m, p);
        assert_eq!(
            r("GET", "/admin/v1/tenants/default/clients").unwrap(),
            AdminRequest {
                tenant: "default".into(),
                route: Route::List
            }
        );
        assert_eq!(
            r("POST", "/admin/v1/tenants/acme/clients/a%20b%2Fc/disable")
                .unwrap()
                .route,
            Route::Disable("a b/c".into())
        );
        assert_eq!(
            r("DELETE", "/admin/v1/tenants/t/clients/x/secrets/AbC")
                .unwrap()
                .route,
            Route::Retire("x".into(), "AbC".into())
        );
        assert_eq!(
            r("PATCH", "/admin/v1/tenants/t/clients/x").unwrap().route,
            Route::Update("x".into())
        );
        assert_eq!(
            r("GET", "/admin/v1/tenants/t/clients/x/usage")
                .unwrap()
                .route,
            Route::Usage("x".into())
        );
        assert_eq!(
            r("POST", "/admin/v1/tenants/t/clients/x/usage")
                .unwrap_err()
                .status,
            405
        );
    }

    #[test]
    fn blocks_are_listed_and_cleared_by_address_or_ipv6_slash_64() {
        let r = |m, p| parse_route(m, p).map(|r| r.route);
        assert_eq!(r("GET", "/admin/v1/tenants/t/blocks"), Ok(Route::Blocks));
        assert_eq!(
            r("DELETE", "/admin/v1/tenants/t/blocks"),
            Ok(Route::ClearBlocks(None))
        );
        assert_eq!(
            r("DELETE", "/admin/v1/tenants/t/blocks/127.0.0.1"),
            Ok(Route::ClearBlocks(Some("127.0.0.1".into())))
        );
        let v6 = Route::ClearBlocks(Some("2001:db8:1:2::/64".into()));
        assert_eq!(
            r("DELETE", "/admin/v1/tenants/t/blocks/2001:db8:1:2::9"),
            Ok(v6.clone())
        );
        assert_eq!(
            r("DELETE", "/admin/v1/tenants/t/blocks/2001:db8:1:2::%2F64"),
            Ok(v6)
        );
        let status = |m, p| parse_route(m, p).unwrap_err().status;
        assert_eq!(
            status("DELETE", "/admin/v1/tenants/t/blocks/not-an-ip"),
            400
        );
        assert_eq!(status("POST", "/admin/v1/tenants/t/blocks"), 405);
    }

    #[test]
    fn bad_routes_get_404_405_or_400() {
        let status = |m, p| parse_route(m, p).unwrap_err().status;
        assert_eq!(status("GET", "/admin/v2/x"), 404);
        assert_eq!(status("GET", "/admin/v1/tenants/t/nope"), 404);
        assert_eq!(status("GET", "/admin/v1/tenants/t/clients/x/y/z/w"), 404);
        assert_eq!(status("PUT", "/admin/v1/tenants/t/clients"), 405);
        assert_eq!(status("GET", "/admin/v1/tenants/t/clients/x/disable"), 405);
        assert_eq!(status("GET", "/admin/v1/tenants/Bad/clients"), 400);
        assert_eq!(status("GET", "/admin/v1/tenants/t/clients/%zz"), 400);
        assert_eq!(status("GET", "/admin/v1/tenants/t/clients/%09"), 400);
        assert_eq!(
            parse_route("PUT", "/admin/v1/tenants/t/clients/x")
                .unwrap_err()
                .message,
            "GET, PATCH, DELETE"
        );
    }

    /// Found by the fuzzer (tests/fuzz): `%+1` decoded as the byte 1.
    #[test]
    fn an_escape_with_a_sign_is_malformed() {
        for path in [
            "/admin/v1/tenants/t/clients/a%+1",
            "/admin/v1/tenants/t/clients/x/secrets/6c9f89%+112b4af05b6ca",
        ] {
            assert_eq!(
                parse_route("DELETE", path).unwrap_err().status,
                400,
                "{path}"
            );
        }
        assert_eq!(percent_decode("%+1"), None);
        assert_eq!(percent_decode("%2B1").as_deref(), Some("+1"));
    }
}
